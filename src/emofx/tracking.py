"""MLflow run hierarchy and lineage tags.

One experiment per dataset (``emofx-<dataset>``); one parent run per stage invocation, tagged with
the git commit, the params hash, the data hashes and the DVC experiment name (so ``dvc exp show``
and the MLflow UI link); nested runs per encoder / probe / Optuna trial below it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import psutil
from mlflow.exceptions import MlflowException

from emofx.errors import EmofxError

DEFAULT_TRACKING_URI = "sqlite:///mlruns/mlflow.db"
DEFAULT_ARTIFACT_ROOT = "mlruns/artifacts"

#: MLflow retries a failed request 7 times with a doubling backoff (about 4 min before a stage
#: learns that its server is gone); emofx stages give up within seconds. The user's env wins.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}
REACH_TIMEOUT_S = 5.0


class TrackingError(EmofxError, RuntimeError):
    """The MLflow tracking store cannot be used (server unreachable, store half-migrated)."""


def tracking_uri_in_use(tracking_uri: str = DEFAULT_TRACKING_URI) -> str:
    """``MLFLOW_TRACKING_URI`` from the environment, else params' ``mlflow.tracking_uri``."""
    return os.environ.get("MLFLOW_TRACKING_URI", tracking_uri)


def check_tracking(tracking_uri: str = DEFAULT_TRACKING_URI) -> str:
    """The URI in use, after making sure a tracking server answers (``emofx check``, stage start).

    Also sets emofx's HTTP retry defaults, so a server lost mid-run fails the stage in seconds.
    """
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    uri = tracking_uri_in_use(tracking_uri)
    reason = unreachable(uri)
    if reason is not None:
        raise TrackingError(
            f"MLflow tracking server {uri} is unreachable ({reason}): start it, or unset "
            "MLFLOW_TRACKING_URI to use params.yaml's mlflow.tracking_uri"
        )
    return uri


def unreachable(uri: str, timeout: float = REACH_TIMEOUT_S) -> str | None:
    """Why an http(s) tracking URI does not answer within ``timeout`` (``None``: it does, or it
    is not a server). Any HTTP answer counts: a server behind auth still answers."""
    if not uri.startswith(("http://", "https://")):
        return None
    import requests

    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=timeout)
    except requests.Timeout:
        return f"no answer within {timeout:g} s"
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: connection failed"
    return None


def configure(tracking_uri: str = DEFAULT_TRACKING_URI) -> str:
    """Point MLflow at the project store; ``MLFLOW_TRACKING_URI`` in the environment wins.

    A server must answer (:func:`check_tracking`); a sqlite store is created or migrated by one
    process at a time (:func:`init_sqlite_store`).
    """
    uri = check_tracking(tracking_uri)
    if uri.startswith("sqlite:///"):
        init_sqlite_store(uri)
    mlflow.set_tracking_uri(uri)
    return uri


def init_sqlite_store(uri: str) -> None:
    """Create or verify the sqlite store under a lock: MLflow migrates a new store in the first
    process that opens it, and two stages starting together on it (``dvc repro`` runs
    independent stages in parallel) break it for good ("duplicate column name", a leftover
    ``_alembic_tmp_*`` table). A store broken that way fails with one line saying what to do."""
    import sqlalchemy.exc
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from emofx.locks import exclusive

    path = Path(uri.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(path, "MLflow store setup", wait=True):
        try:
            SqlAlchemyStore(uri, DEFAULT_ARTIFACT_ROOT).engine.dispose()
        except MlflowException as exc:
            if "out-of-date database schema" not in exc.message:
                raise
            raise TrackingError(
                f"MLflow store {path} was written by an older MLflow: back it up, then run "
                f"`mlflow db upgrade {uri}`"
            ) from exc
        except sqlalchemy.exc.SQLAlchemyError as exc:
            cause = str(getattr(exc, "orig", exc)).splitlines()[0]
            raise TrackingError(
                f"MLflow store {path} is half-migrated ({cause}; two processes migrated it at "
                f"once): it cannot be repaired in place; move it away (mv {path} {path}.broken) "
                "and rerun to start a new store"
            ) from exc


EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
"""The experiment's kind for MLflow versions that read it. MLflow 3.17's UI instead follows its
global GenAI / Model training switch (GenAI by default: an experiment opens on an empty traces
overview), so ``make ui`` prints a URL with ``workflowType=machine_learning``."""


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
    try:
        return mlflow.create_experiment(
            name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND}
        )
    except MlflowException:  # another stage created it meanwhile
        found = mlflow.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


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
    """The tags every emofx run carries; host and pid tell a killed run (see
    :func:`end_stale_runs`)."""
    tags = {
        "emofx.stage": stage,
        "emofx.host": socket.gethostname(),
        "emofx.pid": str(os.getpid()),
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
    ranks = ("LOCAL_RANK", "NODE_RANK", "RANK", "SLURM_PROCID")  # RANK: torchrun, other nodes
    return all(os.environ.get(name, "0") == "0" for name in ranks)


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

    Yields ``None`` (and records nothing) in DDP worker processes other than rank 0. Runs that
    killed stages on this host left RUNNING are marked KILLED first. A tracking server lost during
    the stage ends it with one line (MLflow's own error is the cause, shown with ``--debug``).
    """
    if not is_rank_zero():
        yield None
        return
    uri = configure(tracking_uri)
    exp = experiment_id(dataset, artifact_root)
    end_stale_runs(mlflow.MlflowClient())
    mlflow.set_experiment(
        experiment_id=exp
    )  # so library callbacks (optuna, lightning) log here too
    try:
        with mlflow.start_run(
            experiment_id=exp, run_name=stage, tags=lineage_tags(stage, params, data_hashes)
        ) as run:
            mlflow.log_params(flatten(params))
            yield run
    except Exception as exc:
        reason = unreachable(uri)
        if reason is None:
            raise
        raise TrackingError(
            f"lost the MLflow tracking server {uri} during the {stage} stage ({reason}): "
            "rerun the stage when it is back"
        ) from exc


def end_stale_runs(client: mlflow.MlflowClient) -> list[str]:
    """Mark RUNNING runs of dead emofx processes on this host KILLED; returns their ids.

    A ``kill -9`` (or a lost machine) leaves a stage's runs RUNNING for ever. A run is stale when
    its ``emofx.host`` is this host and its ``emofx.pid`` is gone or now another process (one
    started after the run).
    """
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return []
    host = socket.gethostname().replace("'", "")
    running = client.search_runs(
        experiments,
        filter_string=f"attributes.status = 'RUNNING' and tags.`emofx.host` = '{host}'",
        max_results=10_000,
    )
    stale = [r.info.run_id for r in running if not process_alive(r)]
    for run_id in stale:
        client.set_terminated(run_id, "KILLED")
    return stale


def process_alive(run: mlflow.entities.Run) -> bool:
    """Whether the process that opened ``run`` (tag ``emofx.pid``) still runs."""
    try:
        process = psutil.Process(int(run.data.tags["emofx.pid"]))
        started = process.create_time()
        zombie = process.status() == psutil.STATUS_ZOMBIE
    except (KeyError, ValueError, psutil.Error):
        return False
    return not zombie and started <= run.info.start_time / 1000 + 1.0


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
