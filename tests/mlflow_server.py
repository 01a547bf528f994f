"""A real ``mlflow server`` on 127.0.0.1 for integration tests (sqlite backend in a tmp folder).

Use the ``mlflow_server`` fixture (import it into the test module); it points
``MLFLOW_TRACKING_URI`` at the server and stops it after the test. ``migrated_store`` is a sqlite
store migrated once per session (a migration costs 5-10 s): copy it with :func:`copy_store`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

START_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_templates: dict[str, Path] = {}


@pytest.fixture()
def migrated_store(tmp_path_factory) -> Path:
    """An empty sqlite store at MLflow's current schema, migrated once per test process (the
    modules that import this fixture share it); copy it, never write to it."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    if "db" not in _templates:
        db = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
        SqlAlchemyStore(f"sqlite:///{db}", str(db.parent / "artifacts")).engine.dispose()
        _templates["db"] = db
    return _templates["db"]


def copy_store(template: Path, folder: Path) -> str:
    """A copy of ``template`` as ``folder/mlflow.db``; returns its URI."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, folder / "mlflow.db")
    return f"sqlite:///{folder / 'mlflow.db'}"


@contextmanager
def serve(root: Path, template: Path | None = None) -> Iterator[str]:
    """Start a server with its stores under ``root`` (its database a copy of ``template`` when
    given: no migration at start); yield its URI; stop it (process group)."""
    if template is not None:
        copy_store(template, root)
    port = free_port()
    log = open(root / "mlflow-server.log", "w+b")  # noqa: SIM115 - closed below
    cmd = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(uri, proc, log)
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)  # uvicorn waits for idle keep-alive clients; no need here
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def wait_healthy(uri: str, proc: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"mlflow server exited ({proc.returncode}):\n{log.read().decode()}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"mlflow server at {uri} not healthy after {START_TIMEOUT_S} s")


@pytest.fixture()
def mlflow_server(tmp_path, monkeypatch) -> Iterator[str]:
    root = tmp_path / "mlflow-server"
    root.mkdir()
    with serve(root) as uri:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        yield uri
