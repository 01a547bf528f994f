"""Distributed tuning: `emofx tune --worker` processes join the probe stage's PostgreSQL study.

The leader (this process, as the probe stage would) opens the study under its MLflow tuning run;
two worker processes started beforehand join it. One worker is SIGKILLed in the middle of a
trial: its heartbeat stops, the trial is failed and re-queued, and the study still finishes with
exactly ``n_trials`` trials, every one an MLflow child of the one tuning run (MLflow and Optuna
both on the PostgreSQL cluster, as on a team's server).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import mlflow
import optuna
import pytest
import yaml
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from emofx.embed.store import EmbeddingStore
from emofx.probes.fit import load_features
from emofx.probes.tasks import build_task
from emofx.probes.tune import open_storage, tune_probe
from emofx.tracking import stage_run
from tests.pipeline_repo import REPO
from tests.postgres import postgres  # noqa: F401 - the session fixture
from tests.probe_data import write_store
from tests.test_probes_tune import TARGETS, tune_params

pytestmark = pytest.mark.slow
N_TRIALS = 8


def start_workers(params_path, env, n: int) -> list[subprocess.Popen]:
    """``n`` workers, returned once each polls the storage (their imports take seconds)."""
    cmd = [sys.executable, "-m", "emofx.cli", "tune", "--worker", "--params", str(params_path)]
    procs = [
        subprocess.Popen(
            [*cmd, "--wait-s", "120"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(n)
    ]
    for proc in procs:
        first = proc.stdout.readline()
        assert "waiting for open studies" in first, first + proc.stdout.read()
    return procs


def kill_mid_trial(storage, name: str, pids: list[int], killed: list[tuple[int, int]]) -> None:
    """SIGKILL the first of ``pids`` seen running a trial; record (pid, trial number)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            trials = optuna.load_study(study_name=name, storage=storage).trials
        except KeyError:  # the leader has not created it yet
            time.sleep(0.05)
            continue
        for t in trials:
            if t.state == TrialState.RUNNING and t.user_attrs.get("worker_pid") in pids:
                os.kill(t.user_attrs["worker_pid"], signal.SIGKILL)
                killed.append((t.user_attrs["worker_pid"], t.number))
                return
        time.sleep(0.02)


def test_workers_share_one_postgres_study_and_survive_a_killed_worker(tmp_path, postgres):  # noqa: F811
    storage_url = postgres.database("optuna_workers")
    tracking_url = postgres.database("mlflow_workers")
    params = tune_params("mlp", storage_url, n_trials=N_TRIALS)  # seconds a trial: time to kill
    params = params.model_copy(update={"tune": params.tune.model_copy(update={"heartbeat_s": 2})})
    project = yaml.safe_load((REPO / "params.yaml").read_text())
    project["probe"]["tune"] |= {"storage": storage_url, "heartbeat_s": 2}  # dead: re-queued in 6 s
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(project))
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_url}
    os.environ["MLFLOW_TRACKING_URI"] = tracking_url  # restored by conftest's autouse fixture

    root, manifest = write_store(tmp_path / "emb")
    store = EmbeddingStore(root)
    data = build_task("regression", store.index(), manifest, TARGETS)
    x = load_features(store, "clean", 1)[data.rows]
    name = "emofx-tiny-tiny-mlp-regression@team"
    open_storage(storage_url)  # Optuna's and MLflow's tables, before two workers race for them
    MlflowClient(tracking_url).search_experiments()
    doomed, helper = start_workers(tmp_path / "params.yaml", env, 2)
    killed: list[tuple[int, int]] = []
    pids = [doomed.pid, helper.pid]
    watcher = threading.Thread(
        target=kill_mid_trial, args=(open_storage(storage_url), name, pids, killed)
    )
    watcher.start()
    try:
        with stage_run("probe", "tiny", {}, artifact_root=str(tmp_path / "art")):
            with mlflow.start_run(run_name="tune", nested=True) as parent:
                result = tune_probe("mlp", data, x, params, 0, name, {"emofx.probe": "x"})
    finally:
        watcher.join(timeout=120)
    assert len(killed) == 1, "no worker ran a trial"
    if killed[0][0] == helper.pid:  # whichever worker was killed is the doomed one
        doomed, helper = helper, doomed
    try:
        out, _ = helper.communicate(timeout=120)
    finally:
        for proc in (doomed, helper):
            if proc.poll() is None:
                proc.kill()
    assert helper.returncode == 0, out
    assert doomed.wait() == -signal.SIGKILL
    killed = [number for _, number in killed]

    trials = optuna.load_study(study_name=name, storage=open_storage(storage_url)).trials
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == N_TRIALS == result.n_complete + result.n_pruned
    assert [t.number for t in trials if t.state == TrialState.FAIL] == killed
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == killed[0]]
    assert len(retry) == 1 and retry[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retry[0].params == trials[killed[0]].params  # re-run with the same parameters
    # nothing lost, nothing run twice: besides, at most a queued slot that two workers asked
    # for at the same instant (the one with the higher number stands back, never run)
    done = {t.number for t in finished} | {killed[0]}
    rest = [t for t in trials if t.number not in done]
    assert all(t.state == TrialState.WAITING and not t.params for t in rest), rest
    workers = {t.user_attrs["worker_pid"] for t in finished}
    assert os.getpid() in workers
    assert f"finished {sum(t.user_attrs['worker_pid'] == helper.pid for t in finished)}" in out

    client = MlflowClient(tracking_url)
    runs = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    states = {int(r.data.tags["optuna.trial"]): r.data.tags.get("optuna.state") for r in runs}
    assert all(r.info.run_name == f"trial-{int(r.data.tags['optuna.trial']):03d}" for r in runs)
    assert all(r.data.tags["emofx.probe"] == "x" for r in runs)
    # every finished trial has its run; the killed one has one if it died after opening it
    assert {t.number: t.state.name for t in finished} == {
        n: s for n, s in states.items() if n != killed[0]
    }
    assert states.get(killed[0]) is None


def test_a_worker_needs_a_database_storage(tmp_path, capsys):
    from emofx.cli import main

    project = yaml.safe_load((REPO / "params.yaml").read_text())
    project["probe"]["tune"]["storage"] = "optuna/journal.log"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(project))
    assert main(["tune", "--worker", "--params", str(tmp_path / "params.yaml")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "emofx: error: tune --worker needs an RDB storage URL "
        "(probe.tune.storage is optuna/journal.log)"
    ]
