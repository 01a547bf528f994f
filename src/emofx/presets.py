"""Protocol presets: a params file of overrides (``params/<name>.yaml``) merged into params.yaml.

``emofx preset paper`` writes the merged result to params.yaml itself, so DVC sees the change
(`git diff params.yaml` shows it; `dvc repro` reruns what it touches) and nothing depends on a
second params file DVC does not track. The merge keeps params.yaml's comments (ruamel round
trip); keys in the preset win, mappings merge recursively, lists are replaced whole. The merged
file is validated before it is written, so a preset can never leave an invalid params.yaml.
"""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML

from emofx.config import ParamsError, load_params

PRESET_DIR = Path("params")


def preset_path(name: str, preset_dir: Path = PRESET_DIR) -> Path:
    """``name`` as a file path, or a preset under ``params/`` (``paper`` → params/paper.yaml)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    path = preset_dir / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in preset_dir.glob("*.yaml")) if preset_dir.is_dir() else []
        raise ParamsError(f"preset {name!r} not found (presets in {preset_dir}/: {known})")
    return path


def _merge(base: dict, overrides: dict) -> None:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def apply_preset(name: str, params_path: Path = Path("params.yaml")) -> list[str]:
    """Merge preset ``name`` into ``params_path``; return the dotted keys it set."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    params = yaml.load(params_path.read_text())
    preset = yaml.load(preset_path(name).read_text()) or {}
    _merge(params, preset)
    buffer = io.StringIO()
    yaml.dump(params, buffer)
    staged = params_path.with_name(f".{params_path.name}.preset.tmp")
    staged.write_text(buffer.getvalue())
    try:
        load_params(staged)
    except ParamsError as exc:
        raise ParamsError(f"preset {name!r} would make an invalid params file:\n{exc}") from None
    finally:
        staged.unlink(missing_ok=True)
    params_path.write_text(buffer.getvalue())
    return _dotted(preset)


def _dotted(tree: dict, prefix: str = "") -> list[str]:
    keys = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            keys += _dotted(value, f"{prefix}{key}.")
        else:
            keys.append(f"{prefix}{key}")
    return keys
