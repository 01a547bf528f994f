"""Offline means offline: no MLflow telemetry from the CLI, no download unless it is allowed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emofx.encoders import weights
from tests.mlflow_server import copy_store, migrated_store  # noqa: F401 - the fixture
from tests.pipeline_repo import REPO

#: variables that make MLflow turn telemetry off by itself (CI, tests) or that the test sets
TELEMETRY_VARS = (
    "MLFLOW_DISABLE_TELEMETRY",
    "DO_NOT_TRACK",
    "PYTEST_CURRENT_TEST",
    "CI",
    "GITHUB_ACTIONS",
    "HF_HUB_OFFLINE",
    "EMOFX_OFFLINE",
)
REPORT = """
import os, sys
from emofx.cli import main
code = main(sys.argv[1:])
from mlflow.telemetry.client import get_telemetry_client
from mlflow.telemetry.utils import is_telemetry_disabled
print(code, os.environ.get("MLFLOW_DISABLE_TELEMETRY"), is_telemetry_disabled(),
      get_telemetry_client() is None)
"""


def no_network() -> list[str]:
    """A command prefix without outbound network: a fresh network namespace when allowed."""
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return ["unshare", "-n"] if probe.returncode == 0 else []


def offline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TELEMETRY_VARS}
    dead = "http://127.0.0.1:9"  # also with unshare: nothing listens there
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead)
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"), **extra)
    env["HF_HOME"] = str(tmp_path / "hf")
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    return env


def run_python(tmp_path: Path, code: str, *args: str, **extra: str) -> tuple[str, float]:
    started = time.perf_counter()
    proc = subprocess.run(
        [*no_network(), sys.executable, "-c", code, *args],
        cwd=tmp_path,
        env=offline_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1], time.perf_counter() - started


@pytest.fixture()
def project(tmp_path):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(REPO / "lightning_configs", tmp_path / "lightning_configs")
    return tmp_path


@pytest.mark.parametrize("command", ["conditions", "check"])
def test_the_cli_runs_offline_with_mlflow_telemetry_off(project, command):
    line, seconds = run_python(project, REPORT, command)
    assert line == "0 true True True"  # exit 0, variable set, telemetry off, no client
    assert seconds < 20


def test_the_users_telemetry_choice_wins(project):
    line, _ = run_python(project, REPORT, "check", MLFLOW_DISABLE_TELEMETRY="false")
    assert line.startswith("0 false False")


def test_weights_are_not_downloaded_when_offline(tmp_path, monkeypatch):
    source = tmp_path / "upstream.pth"
    source.write_bytes(b"checkpoint bytes")
    spec = weights.WeightsSpec("demo", "demo.pth", url=source.as_uri(), sha256="0" * 64)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(weights.WEIGHTS_DIR_ENV, raising=False)
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    with pytest.raises(weights.WeightsNotFoundError, match=r"disabled \(\$EMOFX_OFFLINE is set"):
        weights.resolve_weights(spec)
    assert not (weights.user_cache_dir() / "demo.pth").exists()


def test_the_hub_is_not_contacted_when_offline(tmp_path):
    code = """
from emofx.encoders.hf_loading import ModelNotAvailableError, resolve_file
try:
    resolve_file("emofx-test/no-such-model", "config.json")
except ModelNotAvailableError as exc:
    print(exc)
"""
    line, seconds = run_python(tmp_path, code, EMOFX_OFFLINE="1")
    assert "'emofx-test/no-such-model': config.json is not in the Hugging Face cache" in line
    assert "EMOFX_OFFLINE is set" in line
    assert seconds < 20


STAGE = """
import time
from emofx.cli import offline_defaults
offline_defaults()  # as `emofx <stage>` starts
started = time.perf_counter()
import mlflow
from emofx.tracking import nested_run, stage_run
with stage_run("probe", "tiny", {"probe": {"a": 1}}, artifact_root="art"):
    with nested_run("tiny/ridge/regression"):
        mlflow.log_metric("val/r2_mean", 0.5)
print(f"{time.perf_counter() - started:.2f}")
"""


def test_a_stage_makes_no_connection_and_waits_for_none(
    tmp_path,
    migrated_store,  # noqa: F811
):
    """Every HTTP(S) request would go through the proxy, a socket here that records callers
    (no ``unshare -n``: in a namespace of its own the stage could not even reach the recorder)."""
    copy_store(migrated_store, tmp_path / "mlruns")  # offline_env's MLFLOW_TRACKING_URI
    with socket.socket() as recorder:
        recorder.bind(("127.0.0.1", 0))
        recorder.listen()
        recorder.setblocking(False)
        proxy = f"http://127.0.0.1:{recorder.getsockname()[1]}"
        env = offline_env(tmp_path, HTTP_PROXY=proxy, HTTPS_PROXY=proxy)
        env.update(http_proxy=proxy, https_proxy=proxy, NO_PROXY="", no_proxy="")
        env["PYTHONPATH"] = str(REPO / "src")
        proc = subprocess.run(
            [sys.executable, "-c", STAGE], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        with pytest.raises(BlockingIOError):  # nobody called
            recorder.accept()
    assert float(proc.stdout.strip().splitlines()[-1]) < 10  # no timeout waited out
