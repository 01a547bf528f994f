"""A throw-away emofx project (git + DVC) in a temp folder, and the real `dvc repro` in it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROJECT_FILES = ("dvc.yaml", "params.yaml", "params", "lightning_configs", "src")


def tiny_params(**overrides) -> dict:
    """params.yaml of the repo with a small corpus and FX grid; ``overrides`` are dotted keys."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    small = {
        "synth.n_tracks": 160,
        "synth.clip_seconds": 5.0,
        "dataset.clip_seconds": 5.0,
        "fx.chains": [],
        "fx.audition": {"clips": 1, "excerpt_s": 2.0, "materialise": False},
        "probe.probes": ["xgboost"],
        "systems.phase1.models": ["ridge", "xgboost"],
        "systems.phase1.feature_sets": ["full", "shap_or_pearson"],
        "dataset.split": {"train": 0.6, "val": 0.2, "test": 0.2},
        "fx.effects": ["gain", "distortion"],
        "fx.levels": [8],
        "fx.loudness_match": ["gain"],
    }
    for key, value in {**small, **overrides}.items():
        set_dotted(params, key, value)
    return params


def set_dotted(params: dict, key: str, value) -> None:
    node = params
    *parents, leaf = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def env() -> dict[str, str]:
    """The venv first on PATH (DVC runs `emofx …`), no inherited MLflow URI, quiet DVC."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    e["PATH"] = f"{BIN}{os.pathsep}{e['PATH']}"
    e["DVC_NO_ANALYTICS"] = "1"
    e["MPLBACKEND"] = "Agg"
    return e


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def make_project(root: Path, params: dict) -> Path:
    """A git repo with the pipeline files, DVC initialised (analytics off), ``params`` written."""
    root.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(
                src, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy2(src, root / name)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / ".gitignore").write_text((REPO / ".gitignore").read_text())
    run(["git", "init", "-q"], root)
    run(["git", "config", "user.email", "test@emofx"], root)
    run(["git", "config", "user.name", "emofx test"], root)
    run(["dvc", "init", "-q"], root)
    run(["dvc", "config", "core.analytics", "false"], root)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "project"], root)
    return root


def repro(root: Path, *args: str) -> tuple[list[str], str]:
    """Run `dvc repro`; returns the names of the stages that actually ran, and the output."""
    proc = run(["dvc", "repro", *args], root)
    out = proc.stdout + proc.stderr
    return re.findall(r"Running stage '([\w@.-]+)'", out), out
