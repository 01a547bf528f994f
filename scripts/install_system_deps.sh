#!/usr/bin/env bash
# System packages emofx uses beyond its Python dependencies (idempotent; `make setup` calls it).
#   fluidsynth          renders EMOPIA MIDI to audio (the `fluidsynth` command line)
#   fluid-soundfont-gm  the default General-MIDI soundfont (/usr/share/sounds/sf2/FluidR3_GM.sf2)
#   chromium            headless browser of tests/test_report_browser.py (the report page)
#   postgresql          the team-scale tests' database (tests/postgres.py starts a throw-away
#                       cluster as the `postgres` user; docs/team.md: the shared MLflow server)
# Only EMOPIA-from-MIDI and some tests need them, so a machine where they cannot be installed
# gets a warning, not a failed setup; the EMOPIA loader then names what is missing and those
# tests are skipped (except under CI or as root, where a missing PostgreSQL fails its tests).
set -uo pipefail

packages=(fluidsynth fluid-soundfont-gm chromium postgresql)
warn() { echo "install_system_deps: $*" >&2; exit 0; }

if command -v fluidsynth >/dev/null && [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] \
  && command -v chromium >/dev/null && compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "install_system_deps: fluidsynth, FluidR3_GM.sf2, chromium and postgresql already installed"
  exit 0
fi
command -v apt-get >/dev/null || warn "no apt-get here; install ${packages[*]} yourself (EMOPIA MIDI, browser test)"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || warn "not root and no sudo; install ${packages[*]} yourself"
  sudo="sudo"
fi
$sudo apt-get update -qq || warn "apt-get update failed; ${packages[*]} not installed"
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" \
  || warn "apt-get install ${packages[*]} failed"
echo "install_system_deps: installed ${packages[*]}"
