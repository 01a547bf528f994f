#!/usr/bin/env bash
# The team's shared MLflow tracking server (docs/team.md): runs, params, metrics and the model
# registry in PostgreSQL, artifacts proxied by the server (clients need no storage credentials),
# users and permissions by MLflow's basic-auth app. `make team-server` runs it.
#
# Settings (environment):
#   EMOFX_TEAM_DB            backend store, required: postgresql+psycopg://USER:PASS@HOST:5432/DB
#   EMOFX_TEAM_AUTH_DB       users and permissions (default: EMOFX_TEAM_DB; own version table)
#   EMOFX_TEAM_ARTIFACTS     artifacts destination (default: ./mlartifacts; s3://bucket/prefix …)
#   EMOFX_TEAM_HOST          bind address (default 127.0.0.1: expose it through a TLS proxy)
#   EMOFX_TEAM_PORT          port (default 5000)
#   EMOFX_TEAM_WORKERS       server worker processes (default 2)
#   EMOFX_TEAM_DEFAULT_PERMISSION  what a user may do on others' experiments: READ (default),
#                            EDIT, MANAGE or NO_PERMISSIONS
#   EMOFX_TEAM_AUTH_CACHE_S  seconds a checked password stays valid per server worker (default
#                            60: PBKDF2 once a minute, not per request; 0: check every request)
#   MLFLOW_AUTH_ADMIN_PASSWORD     the admin user's password, needed on the first start only
#   MLFLOW_AUTH_ADMIN_USERNAME     (default admin)
#   MLFLOW_FLASK_SERVER_SECRET_KEY CSRF key of the auth app's forms (default: a random one per
#                            start; set one to share it between several server hosts)
# Extra arguments go to `mlflow server` (e.g. --allowed-hosts mlflow.lab.example).
set -euo pipefail

: "${EMOFX_TEAM_DB:?set EMOFX_TEAM_DB to the PostgreSQL URL of the backend store (docs/team.md)}"
auth_db="${EMOFX_TEAM_AUTH_DB:-$EMOFX_TEAM_DB}"
case "$EMOFX_TEAM_DB" in
  postgresql://* | postgresql+*://*) ;;
  *) echo "team_server: EMOFX_TEAM_DB must be a postgresql:// URL, not ${EMOFX_TEAM_DB%%://*}" >&2
     exit 2 ;;
esac
mlflow_bin="$(command -v mlflow || true)"
if [ -z "$mlflow_bin" ]; then
  here="$(cd "$(dirname "$0")/.." && pwd)"
  mlflow_bin="$here/.venv/bin/mlflow"
fi

# basic-auth reads its settings from an ini file; it holds the database URL, so only we read it
config_dir="$(mktemp -d "${TMPDIR:-/tmp}/emofx-team-XXXXXX")"
trap 'rm -rf "$config_dir"' EXIT
umask 077
cat >"$config_dir/basic_auth.ini" <<EOF
[mlflow]
default_permission = ${EMOFX_TEAM_DEFAULT_PERMISSION:-READ}
database_uri = ${auth_db}
admin_username = ${MLFLOW_AUTH_ADMIN_USERNAME:-admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
auth_cache_ttl_seconds = ${EMOFX_TEAM_AUTH_CACHE_S:-60}
EOF
export MLFLOW_AUTH_CONFIG_PATH="$config_dir/basic_auth.ini"
if [ -z "${MLFLOW_FLASK_SERVER_SECRET_KEY:-}" ]; then
  MLFLOW_FLASK_SERVER_SECRET_KEY="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
  export MLFLOW_FLASK_SERVER_SECRET_KEY
fi

# not exec: the trap removes the config when the server stops (SIGTERM/SIGINT reach the group)
"$mlflow_bin" server \
  --app-name basic-auth \
  --backend-store-uri "$EMOFX_TEAM_DB" \
  --serve-artifacts \
  --artifacts-destination "${EMOFX_TEAM_ARTIFACTS:-./mlartifacts}" \
  --host "${EMOFX_TEAM_HOST:-127.0.0.1}" \
  --port "${EMOFX_TEAM_PORT:-5000}" \
  --workers "${EMOFX_TEAM_WORKERS:-2}" \
  "$@" &
server=$!
trap 'kill -TERM "$server" 2>/dev/null; wait "$server"; rm -rf "$config_dir"' TERM INT
wait "$server"
