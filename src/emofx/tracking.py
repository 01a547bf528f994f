"""MLflow run hierarchy and lineage tags.

One experiment per dataset (``emofx-<dataset>``); one parent run per stage invocation, tagged with
the git commit, the params hash, the data hashes and the DVC experiment name (so ``dvc exp show``
and the MLflow UI link); nested runs per encoder / probe / Optuna trial below it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
DEFAULT_ARTIFACT_ROOT = "mlruns/artifacts"


def configure(tracking_uri: str = DEFAULT_TRACKING_URI) -> str:
    """Point MLflow at the project store; ``MLFLOW_TRACKING_URI`` in the environment wins."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", tracking_uri)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    return uri


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
"""MLflow 3 opens an experiment on the GenAI overview unless it is tagged as model development;
this kind opens it on the runs table."""


def experiment_id(dataset: str, artifact_root: str = DEFAULT_ARTIFACT_ROOT) -> str:
    """Id of the dataset's experiment, created with artifacts under ``artifact_root`` if new;
    tagged with the experiment kind (also when an older emofx created it without)."""
    name = f"emofx-{dataset}"
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        if EXPERIMENT_KIND_TAG not in found.tags:
            mlflow.MlflowClient().set_experiment_tag(
                found.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
            )
        return found.experiment_id
    location = None
    if not mlflow.get_tracking_uri().startswith("http"):  # a server decides its own artifact store
        location = (Path(artifact_root).resolve() / name).as_uri()
    return mlflow.create_experiment(
        name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
    )


def stable_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of ``obj`` (params sections, condition specs, …)."""
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def git_commit(cwd: str | Path = ".") -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def lineage_tags(
    stage: str, params: Mapping[str, Any], data_hashes: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The tags every emofx run carries."""
    tags = {
        "emofx.stage": stage,
        "mlflow.source.git.commit": git_commit(),
        "emofx.params_hash": stable_hash(params),
    }
    for key, value in (data_hashes or {}).items():
        tags[f"emofx.data_hash.{key}"] = value
    exp_name = os.environ.get("DVC_EXP_NAME")
    if exp_name:
        tags["dvc.exp_name"] = exp_name
    return tags


def is_rank_zero() -> bool:
    """False in the extra processes that Lightning's DDP launcher starts (they re-run the command;
    only rank 0 may open runs, or every stage would be recorded once per process)."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


@contextmanager
def stage_run(
    stage: str,
    dataset: str,
    params: Mapping[str, Any],
    *,
    data_hashes: Mapping[str, str] | None = None,
    tracking_uri: str = DEFAULT_TRACKING_URI,
    artifact_root: str = DEFAULT_ARTIFACT_ROOT,
) -> Iterator[mlflow.ActiveRun | None]:
    """The parent run of one stage invocation; params are logged flattened (``a.b.c``).

    Yields ``None`` (and records nothing) in DDP worker processes other than rank 0.
    """
    if not is_rank_zero():
        yield None
        return
    configure(tracking_uri)
    exp = experiment_id(dataset, artifact_root)
    mlflow.set_experiment(
        experiment_id=exp
    )  # so library callbacks (optuna, lightning) log here too
    with mlflow.start_run(
        experiment_id=exp, run_name=stage, tags=lineage_tags(stage, params, data_hashes)
    ) as run:
        mlflow.log_params(flatten(params))
        yield run


@contextmanager
def nested_run(
    name: str, tags: Mapping[str, str] | None = None
) -> Iterator[mlflow.ActiveRun | None]:
    """A child of the active run, inheriting its lineage tags (``None`` off rank 0)."""
    if not is_rank_zero():
        yield None
        return
    parent = mlflow.active_run()
    inherited, experiment = {}, None
    if parent is not None:
        experiment = parent.info.experiment_id
        current = mlflow.MlflowClient().get_run(parent.info.run_id)  # tags set since it started
        inherited = {
            k: v
            for k, v in current.data.tags.items()
            if k.startswith(("emofx.", "dvc.")) or k == "mlflow.source.git.commit"
        }
    with mlflow.start_run(
        run_name=name, nested=True, experiment_id=experiment, tags={**inherited, **(tags or {})}
    ) as run:
        yield run


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}}`` → ``{"a.b": "1"}`` with values cut to MLflow's 6000-char limit."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:6000]
    return flat


def file_digest12(path: str | Path) -> str:
    """First 12 hex digits of a file's sha256 (artifact content keys)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def log_artifact_once(path: str | Path, artifact_path: str | None, key: str) -> bool:
    """Log ``path`` to the active run unless a run of the same experiment already holds the same
    content under ``key`` (tag ``emofx.artifact.<key>`` = content hash); True when logged.

    Either way the active run gets the tag, so ``tags.`emofx.artifact.<key>` = '<hash>'`` finds
    the run that holds the file. For figures that do not change between runs of a stage.
    """
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("log_artifact_once needs an active MLflow run")
    tag, digest = f"emofx.artifact.{key}", file_digest12(path)
    held = mlflow.MlflowClient().search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.`{tag}` = '{digest}' and tags.`{tag}.logged` = 'true'",
        max_results=1,
    )
    mlflow.set_tag(tag, digest)
    if held:
        return False
    mlflow.log_artifact(str(path), artifact_path=artifact_path)
    mlflow.set_tag(f"{tag}.logged", "true")
    return True
