"""Team scale: MLflow run-tree logging on PostgreSQL vs sqlite; Optuna trials/min, 1 vs 2 workers.

Starts a throw-away PostgreSQL cluster (tests/postgres.py; as root it runs as ``postgres``) and
prints, from one run:

- run tree: seconds to log a probe-stage-shaped tree (a stage run, ``--runs`` nested runs with
  8 params, 12 metrics and 6 tags each) into a local sqlite store, into PostgreSQL directly and
  through the team server (scripts/team_server.sh: HTTP + basic-auth, PostgreSQL behind);
  ratio = t(store) / t(sqlite)
- tuning: finished trials per minute of one xgboost study on PostgreSQL with the probe stage's
  process alone, and with one `emofx tune --worker` process joining it (worker start-up not
  counted: the worker polls before the study opens); ratio = 2 workers / 1

    .venv/bin/python benchmarks/bench_team.py [--runs 40] [--trials 16]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlflow
import yaml
from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emofx.embed.store import EmbeddingStore  # noqa: E402
from emofx.probes.fit import load_features  # noqa: E402
from emofx.probes.tasks import build_task  # noqa: E402
from emofx.probes.tune import open_storage, optimize  # noqa: E402
from emofx.tracking import stage_run  # noqa: E402
from tests.postgres import cluster  # noqa: E402
from tests.probe_data import write_store  # noqa: E402
from tests.team_server import EDITOR, credentials, team_server  # noqa: E402
from tests.test_probes_tune import TARGETS, tune_params  # noqa: E402


def log_tree(uri: str, runs: int, tag: str) -> float:
    """Seconds to log the tree into ``uri`` (store set up and experiment created beforehand)."""
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    MlflowClient(uri).search_experiments()  # create the tables before the clock starts
    started = time.perf_counter()
    with stage_run("probe", f"bench-{tag}", {"probe": {"n": runs}}):
        for i in range(runs):
            with mlflow.start_run(run_name=f"enc/probe-{i}/regression", nested=True):
                mlflow.log_params({f"p{k}": k * i for k in range(8)})
                mlflow.log_metrics({f"split/m{k}": k / (i + 1) for k in range(12)})
                mlflow.set_tags({f"emofx.t{k}": str(k) for k in range(6)})
    return time.perf_counter() - started


def trials_per_minute(storage: str, tracking: str, tmp: Path, workers: int, n: int) -> float:
    """One study of ``n`` xgboost trials led by this process, ``workers - 1`` joining it."""
    os.environ["MLFLOW_TRACKING_URI"] = tracking
    mlflow.set_tracking_uri(tracking)
    root, manifest = write_store(tmp / f"emb-{workers}")
    store = EmbeddingStore(root)
    data = build_task("regression", store.index(), manifest, TARGETS)
    x = load_features(store, "clean", 1)[data.rows]
    params = tune_params("xgboost", storage, n_trials=n)
    project = yaml.safe_load((REPO / "params.yaml").read_text())
    project["probe"]["tune"]["storage"] = storage
    (tmp / "params.yaml").write_text(yaml.safe_dump(project))
    cmd = [
        sys.executable,
        "-m",
        "emofx.cli",
        "tune",
        "--worker",
        "--params",
        str(tmp / "params.yaml"),
    ]
    procs = [
        subprocess.Popen(
            [*cmd, "--wait-s", "120"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env={**os.environ},
        )
        for _ in range(workers - 1)
    ]  # fmt: skip
    for proc in procs:
        proc.stdout.readline()  # polling now
    started = time.perf_counter()
    with stage_run("probe", f"tune-{workers}", {}):
        with mlflow.start_run(run_name="tune", nested=True):
            optimize("xgboost", data, x, params, 0, f"bench-{workers}")
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.communicate(timeout=300)
    return n / elapsed * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="nested runs in the logged tree")
    parser.add_argument("--trials", type=int, default=16, help="trials per study")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, cluster() as pg:
        tmp = Path(folder)
        os.chdir(tmp)
        times = {
            "sqlite": log_tree(f"sqlite:///{tmp / 'mlflow.db'}", args.runs, "sqlite"),
            "postgresql": log_tree(pg.database("tree"), args.runs, "pg"),
        }
        (tmp / "team").mkdir()
        with team_server(tmp / "team", pg) as server, credentials(EDITOR):
            times["team server (http, auth, pg)"] = log_tree(server.uri, args.runs, "server")
        print(f"run tree: stage run + {args.runs} nested runs (8 params, 12 metrics, 6 tags)")
        for name, seconds in times.items():
            ratio = seconds / times["sqlite"]
            print(f"  {name:30s} {seconds:6.2f} s   ratio to sqlite {ratio:5.2f}")
        tracking = pg.database("tuning-mlflow")
        rates = {}
        for workers in (1, 2):
            storage = pg.database(f"optuna-{workers}")
            open_storage(storage)  # the schema, before a worker polls it
            rates[workers] = trials_per_minute(storage, tracking, tmp, workers, args.trials)
        print(f"tuning: {args.trials} xgboost trials on PostgreSQL, {os.cpu_count()} cores")
        for workers, rate in rates.items():
            print(f"  {workers} process(es)  {rate:6.1f} trials/min")
        print(f"  ratio 2 / 1 workers: {rates[2] / rates[1]:.2f}")


if __name__ == "__main__":
    main()
