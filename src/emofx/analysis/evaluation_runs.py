"""One nested MLflow evaluation run per (encoder, probe, task, condition) under the analyze run.

Params ``fx.*`` make conditions searchable in the MLflow UI
(``params.`fx.effect` = 'reverb'``); metrics are named like the probe runs' (``test/r2_arousal``)
plus ``test/delta_<metric>`` (vs clean, with ``_ci_low``/``_ci_high``) and ``test/shift_<output>``
(with ``_q``). Runs are created and filled with batched client calls (three per run).
"""

from __future__ import annotations

import math
import time

import mlflow
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from emofx.analysis.loading import CLEAN, ConditionInfo

LAYER_UNKNOWN = "unknown"


def fx_params(info: ConditionInfo) -> dict[str, str]:
    """The condition as MLflow params: effect (``none`` for clean, ``chain`` for chains), level,
    chain name, loudness matching."""
    effect = "none" if info.id == CLEAN else info.effect
    return {
        "fx.condition": info.id,
        "fx.kind": info.kind,
        "fx.effect": effect,
        "fx.level": "none" if info.level is None else f"{info.level:g}",
        "fx.chain": info.id.removeprefix("chain:") if info.kind == "chain" else "none",
        "fx.loudness_matched": str(info.loudness == "match").lower(),
    }


def probe_layers(experiment_id: str) -> dict[tuple[str, str, str], str]:
    """Layer of each (encoder, probe, task) from the latest probe runs' ``emofx.layer`` tags."""
    runs = mlflow.MlflowClient().search_runs(
        [experiment_id],
        filter_string="tags.`emofx.stage` = 'probe'",
        order_by=["attributes.start_time DESC"],
        max_results=5000,
    )
    layers: dict[tuple[str, str, str], str] = {}
    for run in runs:
        tags = run.data.tags
        key = (tags.get("emofx.encoder"), tags.get("emofx.probe"), tags.get("emofx.task"))
        if None not in key and "emofx.layer" in tags:
            layers.setdefault(key, tags["emofx.layer"])
    return layers


def evaluation_records(
    performance: pd.DataFrame, shifts: pd.DataFrame, split: str
) -> dict[tuple[str, str, str, str], dict[str, float]]:
    """``{(encoder, probe, task, condition): {metric name: value}}`` (finite values only)."""
    records: dict[tuple[str, str, str, str], dict[str, float]] = {}
    for r in performance.itertuples() if len(performance) else []:
        values = {f"{split}/{r.metric}": r.value}
        if r.condition != CLEAN:
            values |= {
                f"{split}/delta_{r.metric}": r.delta,
                f"{split}/delta_{r.metric}_ci_low": r.ci_low,
                f"{split}/delta_{r.metric}_ci_high": r.ci_high,
            }
        records.setdefault((r.encoder, r.probe, r.task, r.condition), {}).update(values)
    for r in shifts.itertuples() if len(shifts) else []:
        key = f"{split}/shift_{r.quantity}"
        values = {key: r.shift, f"{key}_q": r.q_value}
        records.setdefault((r.encoder, r.probe, r.task, r.condition), {}).update(values)
    return {k: {n: float(v) for n, v in m.items() if math.isfinite(v)} for k, m in records.items()}


def log_evaluation_runs(
    performance: pd.DataFrame,
    shifts: pd.DataFrame,
    conditions: dict[str, ConditionInfo],
    split: str,
) -> list[str]:
    """Create the evaluation runs under the active (analyze) run; returns their ids."""
    parent = mlflow.active_run()
    if parent is None:
        raise RuntimeError("log_evaluation_runs needs the active analyze run")
    client = mlflow.MlflowClient()
    experiment = parent.info.experiment_id
    inherited = {
        k: v
        for k, v in client.get_run(parent.info.run_id).data.tags.items()
        if (k.startswith(("emofx.", "dvc.")) and not k.startswith("emofx.artifact."))
        or k == "mlflow.source.git.commit"
    }
    layers = probe_layers(experiment)
    now = int(time.time() * 1000)
    ids = []
    records = evaluation_records(performance, shifts, split)
    for (encoder, probe, task, condition), values in sorted(records.items()):
        name = f"{encoder}/{probe}/{task}/{condition}"
        tags = inherited | {MLFLOW_PARENT_RUN_ID: parent.info.run_id, "emofx.evaluation": "true"}
        run = client.create_run(experiment, tags=tags, run_name=name)
        params = fx_params(conditions[condition]) | {
            "encoder": encoder,
            "probe": probe,
            "task": task,
            "layer": layers.get((encoder, probe, task), LAYER_UNKNOWN),
        }
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, now, 0) for k, v in sorted(values.items())],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(MLFLOW_RUN_NAME, name)],
        )
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    return ids
