"""A real PostgreSQL cluster on 127.0.0.1 for the team-scale tests (one per test session).

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` user (the
Debian package creates it) and lives in a world-readable temp folder, not under pytest's
root-only tmp dir. Where the server binaries are missing the tests skip with the reason, except
under CI (``CI`` set) or as root, where ``scripts/install_system_deps.sh`` must have installed
them: there a missing PostgreSQL fails the test instead of hiding it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.mlflow_server import free_port


def server_bindir() -> Path | None:
    """The folder of ``initdb``/``pg_ctl``: on PATH, else Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    return Path(versions[-1]).parent if versions else None


def _version(path: str) -> int:
    return int(Path(path).parents[1].name.split(".")[0])


def must_not_skip() -> bool:
    return bool(os.environ.get("CI")) or os.geteuid() == 0


def missing(reason: str) -> None:
    if must_not_skip():
        pytest.fail(f"{reason} (CI / root: scripts/install_system_deps.sh installs PostgreSQL)")
    pytest.skip(reason)


@dataclass
class Postgres:
    """A running cluster; :meth:`database` creates one database and returns its URL."""

    port: int
    created: set[str] = field(default_factory=set)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database(self, name: str) -> str:
        """A fresh (empty) database ``name``, as an SQLAlchemy URL for MLflow and Optuna."""
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            if name in self.created:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.add(name)
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *cmd] if owner else cmd


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The session's cluster (skipped, or failed under CI / as root, where it cannot run)."""
    if server_bindir() is None:
        missing("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing("running as root and no `postgres` user to own the test cluster")
    with cluster() as running:
        yield running


@contextmanager
def cluster() -> Iterator[Postgres]:
    """initdb (trust auth, loopback only) + pg_ctl start in a temp folder; stopped at the end."""
    bindir = server_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    owner = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="emofx-pg-"))
    root.chmod(0o755)
    if owner:
        shutil.chown(root, owner, owner)
    data, port = root / "data", free_port()

    def run(*cmd: str) -> None:
        proc = subprocess.run(
            _as_owner([str(bindir / cmd[0]), *cmd[1:]], owner), capture_output=True, text=True
        )
        if proc.returncode != 0:
            log = root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{cmd[0]} failed:\n{proc.stdout}{proc.stderr}{tail}")

    run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
    try:
        yield Postgres(port)
    finally:
        run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
