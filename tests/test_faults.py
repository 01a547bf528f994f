"""Faults: an unreachable or lost tracking server, killed stages, a killed ``dvc repro``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import psutil
import pytest
from mlflow.tracking import MlflowClient

from emofx.cli import main
from emofx.lifetime import DVC_STAGE_ENV, die_with_dvc
from emofx.probes.config import ProbeParams
from emofx.probes.registry import CHAMPION
from emofx.probes.run import run_probes
from emofx.tracking import TrackingError, stage_run
from tests.embed_fixtures import make_prepared, write_encoder_config
from tests.mlflow_server import copy_store, free_port, migrated_store, serve  # noqa: F401
from tests.pipeline_repo import REPO, env, run
from tests.probe_data import write_store

pytestmark = pytest.mark.slow

PROBES = {"probes": ["ridge", "xgboost"], "xgboost": {"n_estimators": 40, "n_jobs": 1}}


def probe_stage(root: Path, seed: int, probes: tuple[str, ...] = ("ridge", "xgboost")) -> None:
    """The probe stage (parent run, fits, registry, predictions in ``root/pred``) on a tiny
    store; another ``seed`` is other data, so its versions would replace the champions."""
    _, manifest = write_store(root / f"emb{seed}", seed=seed)
    raw = {**PROBES, "probes": list(probes)}
    params = ProbeParams.model_validate(raw)
    with stage_run("probe", "tiny", {"probe": raw}, artifact_root=str(root / "art")):
        run_probes(
            params, manifest, root / f"emb{seed}", ["tiny"], root / "pred", 0, dataset="tiny"
        )


PROBE_PROCESS = """
import sys
from pathlib import Path
from emofx.errors import EmofxError
from tests.test_faults import probe_stage
try:
    probe_stage(Path(sys.argv[1]), int(sys.argv[2]))
except EmofxError as exc:
    sys.exit(f"emofx: error: {exc}")
"""


def start_probe(root: Path, seed: int, uri: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PROBE_PROCESS, str(root), str(seed)],
        cwd=root,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture()
def project(tmp_path, monkeypatch):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(REPO / "lightning_configs", tmp_path / "lightning_configs")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_an_unreachable_server_fails_check_and_stage_in_seconds_with_one_line(
    project, monkeypatch, capsys
):
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        started = time.perf_counter()
        assert main(["check"]) == 1
        assert time.perf_counter() - started <= 10
    assert capsys.readouterr().err == (
        f"emofx: error: MLflow tracking server {uri} is unreachable (no answer within 5 s): "
        "start it, or unset MLFLOW_TRACKING_URI to use params.yaml's mlflow.tracking_uri\n"
    )
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens: refused
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    started = time.perf_counter()
    with pytest.raises(TrackingError, match=r"unreachable \(ConnectionError: connection failed\)"):
        with stage_run("probe", "tiny", {}):
            pass
    assert time.perf_counter() - started <= 10


def test_a_server_lost_mid_probe_ends_the_stage_in_seconds_without_partial_outputs(
    tmp_path,
    migrated_store,  # noqa: F811
):
    server_root = tmp_path / "server"
    server_root.mkdir()
    with serve(server_root, migrated_store) as uri:
        proc = start_probe(tmp_path, 0, uri)
        # ridge's predictions are written: xgboost is still to fit, log and register
        wait_for(lambda: list(tmp_path.glob("pred/tiny/ridge/*.parquet")), what="ridge")
        server = next(p for p in psutil.Process().children() if "server" in p.cmdline())
        os.killpg(server.pid, signal.SIGKILL)
        lost = time.perf_counter()
        _, err = proc.communicate(timeout=120)
        seconds = time.perf_counter() - lost
    assert proc.returncode == 1
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(f"emofx: error: lost the MLflow tracking server {uri} during the probe stage (")
    )
    assert seconds <= 30
    assert "Traceback" not in err
    assert not (tmp_path / "pred").exists()  # absent, not 2 of 4 prediction files


def test_a_killed_probe_leaves_no_process_no_running_run_and_the_champion(
    tmp_path,
    migrated_store,  # noqa: F811
    monkeypatch,
):
    uri = copy_store(migrated_store, tmp_path / "mlruns")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    probe_stage(tmp_path, 0, probes=("ridge",))
    client = MlflowClient(uri)
    name = "emofx-tiny-tiny-ridge"
    assert client.get_model_version_by_alias(name, CHAMPION).version == 1
    shutil.rmtree(tmp_path / "pred")

    proc = start_probe(tmp_path, 1, uri)  # other data: its ridge would become champion
    wait_for(
        lambda: any(v.version == 2 for v in client.search_model_versions(f"name = '{name}'")),
        what="ridge version 2",
    )
    family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert alive == []

    experiment = client.get_experiment_by_name("emofx-tiny").experiment_id
    running = client.search_runs([experiment], "attributes.status = 'RUNNING'")
    assert {r.data.tags["emofx.pid"] for r in running} == {str(proc.pid)}
    with stage_run("probe", "tiny", {}, artifact_root=str(tmp_path / "art")) as current:
        pass
    statuses = {r.info.run_id: r.info.status for r in client.search_runs([experiment])}
    assert {statuses[r.info.run_id] for r in running} == {"KILLED"}
    assert statuses[current.info.run_id] == "FINISHED"
    assert "RUNNING" not in statuses.values()
    assert client.get_model_version_by_alias(name, CHAMPION).version == 1
    assert mlflow.active_run() is None


def test_a_killed_embed_leaves_no_process_behind(tmp_path):
    manifest = make_prepared(tmp_path / "prepared", n_tracks=6, seconds=0.5)
    manifest.to_parquet(tmp_path / "manifest.parquet")
    write_encoder_config(tmp_path / "enc.yaml", num_workers=1)
    out = tmp_path / "store"
    args = [str(tmp_path / n) for n in ("enc.yaml", "prepared", "manifest.parquet", "store")]
    proc = subprocess.Popen([sys.executable, "-m", "tests.embed_job", *args, "--slow"], cwd=REPO)
    wait_for(lambda: list(out.glob(".partial/shard_*.npz")), what="a first shard")
    family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    assert len(family) > 1  # the loader's worker process
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs(family, timeout=15)
    assert alive == []


STAGE_CMD = (
    'python -c "import os, time; from emofx.lifetime import die_with_dvc; die_with_dvc(); '
    "open('stage.pid', 'w').write(str(os.getpid())); time.sleep(120)\""
)


@pytest.mark.parametrize("shell", [None, "/bin/bash"], ids=["no-SHELL-dash", "bash"])
def test_killing_dvc_repro_ends_its_stage(tmp_path, shell):
    """Without ``$SHELL`` (CI) DVC runs the stage through ``/bin/sh``; dash stays the stage's
    parent and outlives a killed DVC, so the kernel's parent-death signal alone is not enough."""
    run(["git", "init", "-q"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    (tmp_path / "dvc.yaml").write_text(f"stages:\n  sleepy:\n    cmd: {STAGE_CMD}\n")
    stage_env = {k: v for k, v in env().items() if k != "SHELL"}
    if shell:
        stage_env["SHELL"] = shell
    dvc = subprocess.Popen(["dvc", "repro"], cwd=tmp_path, env=stage_env, stdout=subprocess.DEVNULL)
    wait_for(lambda: (tmp_path / "stage.pid").is_file() and (tmp_path / "stage.pid").read_text())
    stage = psutil.Process(int((tmp_path / "stage.pid").read_text()))
    dvc.send_signal(signal.SIGKILL)
    dvc.wait()
    gone, alive = psutil.wait_procs([stage], timeout=10)
    assert alive == []


def test_a_run_the_user_started_is_never_tied_to_its_parent(monkeypatch):
    monkeypatch.delenv(DVC_STAGE_ENV, raising=False)
    assert die_with_dvc() is False
