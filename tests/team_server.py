"""The team's MLflow server (scripts/team_server.sh) on the test PostgreSQL cluster, 127.0.0.1.

PostgreSQL backend store and user store, artifacts proxied into a temp folder, basic-auth with
an admin, an ``editor`` and a ``reader`` (the server's default permission is READ).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.mlflow_server import free_port, wait_healthy
from tests.pipeline_repo import BIN, REPO
from tests.postgres import Postgres

ADMIN = ("admin", "admin-password-0")
EDITOR = ("editor", "editor-password-0")
READER = ("reader", "reader-password-0")


@dataclass(frozen=True)
class TeamServer:
    uri: str
    artifacts: Path


@contextmanager
def credentials(user: tuple[str, str]) -> Iterator[None]:
    """``MLFLOW_TRACKING_USERNAME/PASSWORD`` set to ``user`` inside the block."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = user
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def team_server(root: Path, postgres: Postgres, db: str = "team") -> Iterator[TeamServer]:
    """Start scripts/team_server.sh; the admin creates ``editor`` and ``reader``; stop it."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "EMOFX_TEAM_DB": postgres.database(db),
        "EMOFX_TEAM_ARTIFACTS": str(root / "artifacts"),
        "EMOFX_TEAM_PORT": str(port),
        "EMOFX_TEAM_WORKERS": "1",
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
    }
    log = open(root / "team-server.log", "w+b")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        ["bash", str(REPO / "scripts" / "team_server.sh")],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(uri, proc, log)
        from mlflow.server.auth.client import AuthServiceClient

        with credentials(ADMIN):
            users = AuthServiceClient(uri)
            for name, password in (EDITOR, READER):
                users.create_user(name, password)
        yield TeamServer(uri, root / "artifacts")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
