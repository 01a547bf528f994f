"""``emofx tune --worker``: join the open Optuna studies of a shared (RDB) storage.

The probe stage leads each study and publishes it (:func:`emofx.probes.tune.publish`): the trial
inputs are artifacts of its MLflow tuning run, whose id is a study attribute. A worker on any
machine with the study storage and the tracking server in reach downloads those inputs, runs
trials until the study has its ``n_trials`` and nests every trial run under the leader's run. It
needs neither the embeddings nor the DVC outputs, only a checkout (for the MLP's Lightning config).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import optuna

from emofx.probes.config import ProbeParams
from emofx.probes.tasks import TaskData
from emofx.probes.tune import (
    CLOSED_ATTR,
    FINISHED,
    INPUTS_ARTIFACT,
    N_TRIALS_ATTR,
    PARENT_RUN_ATTR,
    open_storage,
    optimize,
)


@dataclass(frozen=True)
class OpenStudy:
    name: str
    parent_run_id: str


def open_studies(storage: optuna.storages.BaseStorage) -> list[OpenStudy]:
    """Published studies with fewer finished trials than their budget, by name."""
    found = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        attrs = summary.user_attrs
        if PARENT_RUN_ATTR not in attrs or attrs.get(CLOSED_ATTR):
            continue
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        if len(study.get_trials(deepcopy=False, states=FINISHED)) < attrs[N_TRIALS_ATTR]:
            found.append(OpenStudy(summary.study_name, attrs[PARENT_RUN_ATTR]))
    return sorted(found, key=lambda s: s.name)


def join_study(storage_spec: str, study: OpenStudy) -> optuna.Study:
    """Run trials of ``study`` with the inputs its leader published, until it is finished."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(
            mlflow.artifacts.download_artifacts(
                run_id=study.parent_run_id, artifact_path=INPUTS_ARTIFACT, dst_path=tmp
            )
        )
        spec = json.loads((folder / "spec.json").read_text())
        with np.load(folder / "inputs.npz") as arrays:
            inputs = {k: arrays[k] for k in arrays.files}
    raw = spec["params"]
    params = ProbeParams.model_validate(raw | {"tune": raw["tune"] | {"storage": storage_spec}})
    data = TaskData(
        spec["task"],
        spec["outputs"],
        inputs["rows"],
        inputs["y"],
        inputs["split"],
        inputs.get("groups"),
    )
    return optimize(
        spec["probe"],
        data,
        inputs["x"],
        params,
        spec["seed"],
        study.name,
        spec["tags"],
        parent_run_id=study.parent_run_id,
    )


def work_on_studies(
    storage_spec: str,
    *,
    heartbeat_s: int = 10,
    wait_s: float = 60.0,
    poll_s: float = 1.0,
    say: Callable[[str], None] = print,
) -> int:
    """Join every open study until the probe stages that opened them are over (or, before any
    study was joined or after a stage died silently, until none was open for ``wait_s``).

    Returns the number of trials this process finished.
    """
    storage = open_storage(storage_spec, heartbeat_s)
    idle_since, mine, stages = time.monotonic(), set(), set()
    say(f"tune worker {os.getpid()}: waiting for open studies (up to {wait_s:.0f} s idle)")
    while True:
        todo = open_studies(storage)
        if not todo:
            client = mlflow.MlflowClient()
            over = stages and all(client.get_run(r).info.status != "RUNNING" for r in stages)
            if over or time.monotonic() - idle_since > wait_s:
                return len(mine)
            time.sleep(poll_s)
            continue
        for study in todo:
            say(f"tune worker {os.getpid()}: joining {study.name}")
            stages.add(root_run(mlflow.MlflowClient(), study.parent_run_id))
            for t in join_study(storage_spec, study).get_trials(deepcopy=False, states=FINISHED):
                if t.user_attrs.get("worker_pid") == os.getpid():
                    mine.add((study.name, t.number))
        idle_since = time.monotonic()


def root_run(client: mlflow.MlflowClient, run_id: str) -> str:
    """The stage run above a (tuning) run: the top of its ``mlflow.parentRunId`` chain."""
    while parent := client.get_run(run_id).data.tags.get("mlflow.parentRunId"):
        run_id = parent
    return run_id
