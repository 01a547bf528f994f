"""Typed, validated view of params.yaml.

Each sub-package owns the model of its own section (``datasets.config``, ``fx.config``,
``probes.config``, ``analysis.config``); this module composes them and turns pydantic's errors into
one line per problem that names the key, e.g. ``params.yaml: fx.effects.2: unknown effect …``.
Validation happens in :func:`load_params`, before any stage does work.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
from emofx.datasets.config import DatasetParams
from emofx.fx.config import FxParams
from emofx.probes.config import ProbeParams
from emofx.systems.config import SystemsParams
from emofx.tracking import DEFAULT_ARTIFACT_ROOT, DEFAULT_TRACKING_URI

NESTED_KEY = re.compile(r"^[A-Za-z_]\w*(\[\d+\])*(\.\w+(\[\d+\])*)*: ")


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


class EmbedParams(StrictModel):
    """Which encoders run; each is configured by ``<config_dir>/embed.<name>.yaml``."""

    encoders: list[str] = Field(default_factory=lambda: ["handcrafted"], min_length=1)
    config_dir: Path = Path("lightning_configs")
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


class Params(StrictModel):
    seed: int = 42
    synth: SynthParams = Field(default_factory=SynthParams)
    dataset: DatasetParams
    fx: FxParams = Field(default_factory=FxParams)
    embed: EmbedParams = Field(default_factory=EmbedParams)
    probe: ProbeParams = Field(default_factory=ProbeParams)
    systems: SystemsParams = Field(default_factory=SystemsParams)
    analysis: AnalysisParams = Field(default_factory=AnalysisParams)
    mlflow: MlflowParams = Field(default_factory=MlflowParams)

    @model_validator(mode="after")
    def _dynamic_needs_frames(self) -> Params:
        if "dynamic" in self.probe.tasks and not self.embed.frames.enabled:
            raise ValueError("probe.tasks: 'dynamic' needs embed.frames.enabled: true")
        return self

    def section(self, name: str) -> dict[str, Any]:
        """A section as plain JSON-able data (for hashes and MLflow params)."""
        return getattr(self, name).model_dump(mode="json")


class ParamsError(ValueError):
    """params.yaml is invalid; the message has one line per problem, each naming its key."""


def load_params(path: str | Path = "params.yaml", check_paths: bool = False) -> Params:
    """Read and validate params.yaml; with ``check_paths`` also check the inputs exist."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: not found (run from the project root)")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({exc})") from exc
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ParamsError(format_validation_error(path, exc)) from None
    if check_paths:
        check_input_paths(path, params)
    return params


def format_validation_error(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "<root>"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        if NESTED_KEY.match(msg) and not err["loc"]:  # a cross-section check naming its keys
            lines.append(f"{path}: {msg}")
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
