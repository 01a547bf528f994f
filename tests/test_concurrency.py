"""Stages started together: one MLflow store migrated once, one writer per output store."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from emofx.embed.runner import EncoderConfig, embed_dataset
from emofx.fx.conditions import resolve_condition
from emofx.locks import AlreadyRunningError, exclusive
from emofx.tracking import TrackingError, stage_run
from tests.embed_fixtures import make_prepared, write_encoder_config
from tests.mlflow_server import copy_store, migrated_store  # noqa: F401 - the fixture

STAGES = ("prepare", "embed", "probe", "systems")


def open_stage(stage: str, uri: str, artifacts: str, barrier) -> None:
    """A stage's start as the CLI does it (stage_run), once every stage is ready to open."""
    os.environ["MLFLOW_TRACKING_URI"] = uri
    barrier.wait(timeout=60)
    with stage_run(stage, "tiny", {"stage": stage}, artifact_root=artifacts):
        mlflow.log_metric("started", 1.0)


def test_four_stages_starting_together_on_a_new_store_all_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    fork = multiprocessing.get_context("fork")  # processes with MLflow already imported
    barrier = fork.Barrier(len(STAGES))
    procs = [
        fork.Process(target=open_stage, args=(s, uri, str(tmp_path / "art"), barrier))
        for s in STAGES
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * len(STAGES)
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("emofx-tiny").experiment_id])
    assert sorted(r.info.run_name for r in runs) == sorted(STAGES)
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert {r.data.metrics["started"] for r in runs} == {1.0}


def half_migrated(db: Path) -> None:
    """A store as two concurrent migrations leave it: some tables, no recorded revision (the
    next migration then adds ``metrics.step`` a second time)."""
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM alembic_version")
        con.execute("DROP TABLE latest_metrics")


def test_a_half_migrated_store_fails_with_one_line_saying_what_to_do(tmp_path, migrated_store):  # noqa: F811
    uri = copy_store(migrated_store, tmp_path / "mlruns")
    db = Path(uri.removeprefix("sqlite:///"))
    half_migrated(db)
    os.environ["MLFLOW_TRACKING_URI"] = uri  # restored by conftest
    with pytest.raises(TrackingError) as caught:
        with stage_run("probe", "tiny", {}, artifact_root=str(tmp_path / "art")):
            pass
    message = str(caught.value)
    assert "\n" not in message
    assert f"MLflow store {db} is half-migrated (duplicate column name: step;" in message
    assert f"mv {db} {db}.broken" in message


def test_a_second_embed_on_one_store_fails_at_once_naming_the_first(tmp_path):
    manifest = make_prepared(tmp_path / "prepared", n_tracks=2, seconds=0.5)
    config = EncoderConfig.from_yaml(write_encoder_config(tmp_path / "enc.yaml"))
    out = tmp_path / "embeddings" / "handcrafted"
    holder = subprocess.Popen(  # the first embed: holds the store's lock as embed_dataset does
        [
            sys.executable,
            "-c",
            "import sys, time; from emofx.locks import exclusive\n"
            "with exclusive(sys.argv[1], 'embed'):\n"
            "    print('holding', flush=True); time.sleep(60)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        started = time.perf_counter()
        with pytest.raises(AlreadyRunningError) as caught:
            embed_dataset(
                config,
                manifest,
                tmp_path / "prepared",
                [resolve_condition("clean")],
                out,
                seed=0,
                data_hash="d",
            )
        assert time.perf_counter() - started < 1.0
        assert str(caught.value) == (
            f"emofx embed is already running on {out} (pid {holder.pid}): wait for it to "
            "finish or stop it, then rerun"
        )
        assert not out.exists()  # the second writer touched nothing
    finally:
        holder.kill()
        holder.wait()
    with exclusive(out, "embed"):  # the kernel released the killed holder's lock
        pass
