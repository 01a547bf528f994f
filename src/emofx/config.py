"""Typed, validated view of params.yaml.

Each sub-package owns the model of its own section (``datasets.config``, ``fx.config``,
``probes.config``, ``analysis.config``); this module composes them and turns pydantic's errors into
one line per problem that names the key, e.g. ``params.yaml: fx.effects.2: unknown effect …``.
Validation happens in :func:`load_params`, before any stage does work.
"""

from __future__ import annotations

import math
import re
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from emofx.analysis.config import AnalysisParams
from emofx.datasets.config import DatasetParams, dataset_annotations
from emofx.errors import EmofxError
from emofx.evaluation.config import EvaluationParams
from emofx.fx.conditions import condition_ids
from emofx.fx.config import FxParams
from emofx.probes.config import ProbeParams, TaskName
from emofx.systems.config import SYSTEM_PHASES, SystemsParams
from emofx.tracking import DEFAULT_ARTIFACT_ROOT, DEFAULT_TRACKING_URI

NESTED_KEY = re.compile(r"^[A-Za-z_]\w*(\[\d+\])*(\.\w+(\[\d+\])*)*: ")
AUTO = "auto"
TASK_ORDER: tuple[TaskName, ...] = ("regression", "quadrant", "labels", "dynamic")
SEED_LIMIT = 2**32
"""numpy seeds must be 0 ≤ seed < 2**32."""
#: tracking-URI schemes MLflow 3 opens without plugins (``""``: a plain path)
MLFLOW_SCHEMES = frozenset(
    {"", "file", "sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks"}
    | {"databricks-uc", "uc"}
)
#: the annotations each probe task needs (any one of the alternatives), and how to say it
TASK_NEEDS: dict[str, tuple[tuple[frozenset[str], ...], str]] = {
    "regression": ((frozenset({"valence", "arousal"}),), "valence and arousal annotations"),
    "quadrant": (
        (frozenset({"valence", "arousal"}), frozenset({"quadrant"})),
        "valence and arousal (or quadrant) annotations",
    ),
    "labels": ((frozenset({"labels"}),), "per-track labels"),
    "dynamic": ((frozenset({"dynamic"}),), "dynamic (2-Hz) annotations"),
}


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SynthEmopiaParams(StrictModel):
    """The EMOPIA-layout MIDI corpus (``emofx synth --emopia``)."""

    out: Path = Path("data/raw/synth-emopia")
    n_clips: int = Field(60, gt=0)
    clip_seconds: float = Field(30.0, gt=0)


class SynthParams(StrictModel):
    """The embedded synthetic corpus (``emofx synth``)."""

    out: Path = Path("data/raw/synth")
    n_tracks: int = Field(120, gt=0)
    clip_seconds: float = Field(10.0, gt=0)
    sample_rate: int = Field(44_100, gt=0)
    workers: int = Field(2, gt=0)
    emopia: SynthEmopiaParams = Field(default_factory=SynthEmopiaParams)


class FrameParams(StrictModel):
    """Frame-level embeddings for tracks with dynamic (2-Hz) annotations (probe task ``dynamic``).

    Frames are ``window_s`` long every ``hop_s``; a frame's time is its end. ``conditions``:
    ``null`` for every FX condition, or a list of condition ids (``clean`` is always added).
    """

    enabled: bool = False
    window_s: float = Field(3.0, gt=0)
    hop_s: float = Field(0.5, gt=0)
    conditions: list[str] | None = None
    dtype: Literal["float16", "float32"] = "float32"
    layers: Literal["all", "probe"] | list[int | str] = Field(
        "probe", description="probe: the layer probe.layer names (all for 'best'); or a list"
    )


class EmbedParams(StrictModel):
    """Which encoders run; each is configured by ``<config_dir>/embed.<name>.yaml``."""

    encoders: list[str] = Field(default_factory=lambda: ["handcrafted"], min_length=1)
    config_dir: Path = Path("lightning_configs")
    dtype: Literal["float16", "float32"] = "float32"
    layers: Literal["all"] | list[int | str] = "all"
    frames: FrameParams = Field(default_factory=FrameParams)

    @field_validator("encoders")
    @classmethod
    def _unique(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate encoder names in {names}")
        return names

    def config_path(self, encoder: str) -> Path:
        return self.config_dir / f"embed.{encoder}.yaml"


class MlflowParams(StrictModel):
    tracking_uri: str = DEFAULT_TRACKING_URI
    artifact_root: str = DEFAULT_ARTIFACT_ROOT

    @field_validator("tracking_uri")
    @classmethod
    def _known_scheme(cls, uri: str) -> str:
        """A scheme MLflow can open (its own or a plugin's ``mlflow.tracking_store``)."""
        scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
        plugins = {e.name for e in entry_points(group="mlflow.tracking_store")}
        if scheme not in MLFLOW_SCHEMES | plugins:
            known = ", ".join(sorted((MLFLOW_SCHEMES | plugins) - {""}))
            raise ValueError(f"unsupported scheme {scheme!r} in {uri!r} (MLflow opens: {known})")
        return uri


class Params(StrictModel):
    seed: int = 42
    synth: SynthParams = Field(default_factory=SynthParams)
    dataset: DatasetParams
    fx: FxParams = Field(default_factory=FxParams)
    embed: EmbedParams = Field(default_factory=EmbedParams)
    probe: ProbeParams = Field(default_factory=ProbeParams)
    systems: SystemsParams = Field(default_factory=SystemsParams)
    evaluation: EvaluationParams = Field(default_factory=EvaluationParams)
    analysis: AnalysisParams = Field(default_factory=AnalysisParams)
    mlflow: MlflowParams = Field(default_factory=MlflowParams)

    @field_validator("seed")
    @classmethod
    def _numpy_seed(cls, seed: int) -> int:
        if not 0 <= seed < SEED_LIMIT:
            raise ValueError(f"{seed} is outside 0 ≤ seed < 2**32 (numpy's seed range)")
        return seed

    @model_validator(mode="before")
    @classmethod
    def _resolve_auto(cls, raw: Any) -> Any:
        """``probe.tasks: auto`` and ``systems.<phase>.enabled: auto`` → what the dataset feeds.

        ``auto`` tasks: every task the dataset's annotations support (``dynamic`` only with
        ``embed.frames.enabled``); ``auto`` systems: on when the dataset annotates the systems'
        targets and the embedding store a system reads (``encoder``) is in ``embed.encoders``.
        With a dataset section that does not validate, ``auto`` takes the model default so that
        only the dataset's own error is reported.
        """
        if not isinstance(raw, dict):
            return raw
        try:
            have = dataset_annotations(DatasetParams.model_validate(raw.get("dataset")))
        except ValidationError:
            have = None
        raw = dict(raw)
        probe = raw.get("probe")
        if have is None:
            return _drop_auto(raw)
        if isinstance(probe, dict) and probe.get("tasks") == AUTO:
            frames = ((raw.get("embed") or {}).get("frames") or {}).get("enabled", False)
            tasks = [t for t in supported_tasks(have) if t != "dynamic" or frames is True]
            if not tasks:
                raise ValueError(
                    f"probe.tasks: auto: dataset.format {raw['dataset']['format']!r} at "
                    f"{raw['dataset']['root']} annotates nothing a probe task can use"
                )
            raw["probe"] = {**probe, "tasks": tasks}
        systems = raw.get("systems")
        if isinstance(systems, dict):
            defaults = SystemsParams()
            feeds = all(
                t.removesuffix("_norm") in have for t in systems.get("targets") or defaults.targets
            )
            encoders = (raw.get("embed") or {}).get("encoders") or EmbedParams().encoders
            raw["systems"] = dict(systems)
            for phase in SYSTEM_PHASES:
                section = systems.get(phase)
                if isinstance(section, dict) and section.get("enabled") == AUTO:
                    store = section.get(
                        "encoder", getattr(getattr(defaults, phase), "encoder", None)
                    )
                    enabled = feeds and (store is None or store in encoders)
                    raw["systems"][phase] = {**section, "enabled": enabled}
        return raw

    @model_validator(mode="after")
    def _dataset_feeds_tasks_and_systems(self) -> Params:
        """Tasks, systems and frame settings the dataset cannot feed → one line per key."""
        have = dataset_annotations(self.dataset)
        where = f"dataset.format {self.dataset.format!r}"
        auto = ", ".join(supported_tasks(have))
        problems = [
            f"probe.tasks: {task!r} needs {TASK_NEEDS[task][1]}, which {where} does not have; "
            f"set probe.tasks: auto (here: [{auto}])"
            for task in self.probe.tasks
            if task not in supported_tasks(have)
        ]
        if "dynamic" in self.probe.tasks and not self.embed.frames.enabled:
            problems.append("probe.tasks: 'dynamic' needs embed.frames.enabled: true")
        for key, layers in (
            ("embed.layers", self.embed.layers),
            ("embed.frames.layers", self.embed.frames.layers),
        ):
            if isinstance(layers, list) and self.probe.layer not in ("best", *layers):
                problems.append(
                    f"{key}: {layers} does not keep probe.layer {self.probe.layer!r}; add it, "
                    "or set probe.layer: best (it then chooses among the kept layers)"
                )
            elif isinstance(layers, list) and isinstance(self.probe.layer, int):
                problems.append(
                    f"probe.layer: {self.probe.layer} is an index, ambiguous when {key} keeps "
                    "only some layers; name the layer (e.g. layer_12)"
                )
        missing = [t for t in self.systems.targets if t.removesuffix("_norm") not in have]
        for phase in SYSTEM_PHASES:
            section = getattr(self.systems, phase)
            if not section.enabled:
                continue
            if missing:
                problems.append(
                    f"systems.{phase}.enabled: the systems predict {', '.join(missing)}, which "
                    f"{where} does not annotate; set systems.{phase}.enabled: auto (or false)"
                )
            store = getattr(section, "encoder", None)
            if store is not None and store not in self.embed.encoders:
                problems.append(
                    f"systems.{phase}.encoder: {store!r} is not in embed.encoders "
                    f"[{', '.join(self.embed.encoders)}]; add it there or set "
                    f"systems.{phase}.enabled: auto (or false)"
                )
        problems += self._fx_and_frame_problems()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _fx_and_frame_problems(self) -> list[str]:
        """An fx section that renders no FX condition; frame conditions outside the grid."""
        fx, problems = self.fx, []
        if fx.effects and not fx.levels:
            problems.append(
                "fx.levels: empty, no FX condition would be rendered; give at least one level "
                "1-10 (or set fx.effects: [] to use chains and plugins only)"
            )
        elif not (fx.effects or fx.chains or fx.plugins):
            problems.append(
                "fx: no FX condition would be rendered; give fx.effects with fx.levels, "
                "fx.chains or fx.plugins"
            )
        ids = condition_ids(fx)
        problems += [
            f"embed.frames.conditions: {wanted!r} is not a condition of the fx section "
            f"(have: {', '.join(ids)})"
            for wanted in self.embed.frames.conditions or []
            if wanted not in ids
        ]
        return problems

    def section(self, name: str) -> dict[str, Any]:
        """A section as plain JSON-able data (for hashes and MLflow params)."""
        return getattr(self, name).model_dump(mode="json")


def _drop_auto(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` without its ``auto`` values (each key falls back to its model default)."""
    probe, systems = raw.get("probe"), raw.get("systems")
    if isinstance(probe, dict) and probe.get("tasks") == AUTO:
        raw["probe"] = {k: v for k, v in probe.items() if k != "tasks"}
    if isinstance(systems, dict):
        raw["systems"] = {
            k: (
                {kk: vv for kk, vv in v.items() if not (kk == "enabled" and vv == AUTO)}
                if k in SYSTEM_PHASES and isinstance(v, dict)
                else v
            )
            for k, v in systems.items()
        }
    return raw


def supported_tasks(have: frozenset[str]) -> list[TaskName]:
    """The probe tasks that annotations ``have`` can feed, in :data:`TASK_ORDER`."""
    return [t for t in TASK_ORDER if any(need <= have for need in TASK_NEEDS[t][0])]


class ParamsError(EmofxError, ValueError):
    """params.yaml is invalid; the message has one line per problem, each naming its key."""


def load_params(path: str | Path = "params.yaml", check_paths: bool = False) -> Params:
    """Read and validate params.yaml; with ``check_paths`` also check the inputs exist."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: not found (run from the project root)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ParamsError(f"{path}: not a UTF-8 text file ({exc})") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({exc})") from exc
    if problems := [f"{path}: {key}" for key in non_finite(raw)]:
        raise ParamsError("\n".join(problems))
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ParamsError(format_validation_error(path, exc)) from None
    if check_paths:
        check_input_paths(path, params)
    return params


def non_finite(node: Any, key: str = "") -> list[str]:
    """``key: value is not a finite number`` for every inf or NaN in the raw YAML."""
    if isinstance(node, float) and not math.isfinite(node):
        return [f"{key}: {node} is not a finite number"]
    if isinstance(node, dict):
        items = [(f"{key}.{k}" if key else str(k), v) for k, v in node.items()]
    elif isinstance(node, list):
        items = [(f"{key}[{i}]", v) for i, v in enumerate(node)]
    else:
        return []
    return [line for child, value in items for line in non_finite(value, child)]


def format_validation_error(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "<root>"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        if NESTED_KEY.match(msg) and not err["loc"]:  # cross-section checks naming their keys
            lines += [f"{path}: {line}" for line in msg.splitlines()]
        elif NESTED_KEY.match(msg):  # a section-level check that names its own sub-key
            lines.append(f"{path}: {key}.{msg}")
        else:
            lines.append(f"{path}: {key}: {msg}")
    return "\n".join(lines)


def check_input_paths(path: Path, params: Params) -> None:
    """Missing inputs that no stage will create → one error naming the key."""
    problems = []
    synth_out = params.synth.out.resolve()
    root = Path(params.dataset.root).resolve()
    if not root.exists() and root != synth_out:
        problems.append(f"{path}: dataset.root: {params.dataset.root} does not exist")
    for name in params.embed.encoders:
        cfg = params.embed.config_path(name)
        if not cfg.is_file():
            problems.append(f"{path}: embed.encoders: no config {cfg} for encoder {name!r}")
    if problems:
        raise ParamsError("\n".join(problems))
