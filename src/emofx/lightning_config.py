"""LightningCLI-layout YAML (``model`` / ``trainer`` / ``data``), read the same way everywhere.

Encoders (``embed.<name>.yaml``), the MLP probe (``probe.mlp.yaml``) and the spectrogram networks
(``train.<name>.yaml``) share this layout; the stage that uses a file decides its ``data`` keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SECTIONS = frozenset({"model", "trainer", "data"})


@dataclass(frozen=True)
class LightningConfig:
    source: Path
    model: dict[str, Any]  # {"class_path": …, "init_args": {…}}
    trainer: dict[str, Any]  # L.Trainer keyword arguments
    data: dict[str, Any]  # the using stage's data knobs, defaults filled in


def read_lightning_config(
    path: str | Path, data_defaults: Mapping[str, Any], key: str
) -> LightningConfig:
    """Read and check ``path``; ``key`` names the params.yaml entry that points at it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{key}: {path} not found")
    raw = yaml.safe_load(path.read_text()) or {}
    unknown = set(raw) - SECTIONS
    if unknown:
        raise ValueError(
            f"{path}: unknown top-level keys {sorted(unknown)} (known: model, trainer, data)"
        )
    model = raw.get("model") or {}
    if "class_path" not in model:
        raise ValueError(f"{path}: needs 'model: {{class_path: …, init_args: …}}'")
    data = raw.get("data") or {}
    extra = set(data) - set(data_defaults)
    if extra:
        raise ValueError(
            f"{path}: unknown data keys {sorted(extra)} (known: {sorted(data_defaults)})"
        )
    return LightningConfig(
        path,
        {"class_path": model["class_path"], "init_args": dict(model.get("init_args") or {})},
        dict(raw.get("trainer") or {}),
        {**data_defaults, **data},
    )
