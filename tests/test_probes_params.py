"""Every probe knob is in params.yaml, so `dvc exp run -S probe.<knob>=…` can set it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient
from pydantic import BaseModel

from emofx.probes.config import ProbeParams
from tests.pipeline_repo import make_project, run, tiny_params

REPO = Path(__file__).resolve().parents[1]


def missing_keys(model: type[BaseModel], section: object, prefix: str) -> list[str]:
    """Dotted names of the fields of ``model`` (recursively) that ``section`` lacks."""
    if not isinstance(section, dict):
        return [f"{prefix}.{name}" for name in model.model_fields]
    missing = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{name}"
        if name not in section:
            missing.append(key)
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            missing += missing_keys(field.annotation, section[name], key)
    return missing


def test_every_probe_knob_is_in_params_yaml():
    section = yaml.safe_load((REPO / "params.yaml").read_text())["probe"]
    assert missing_keys(ProbeParams, section, "probe") == []


def test_missing_keys_recurses_into_sub_models():
    assert "probe.classical.ridge_alpha" in missing_keys(ProbeParams, {"classical": {}}, "probe")


@pytest.mark.slow
def test_dvc_exp_run_sets_the_ridge_alpha(tmp_path):
    """Regression: `-S probe.classical.ridge_alpha=30` failed: Key 'classical' is not in struct."""
    params = tiny_params(
        **{
            "synth.n_tracks": 24,
            "synth.clip_seconds": 3.0,
            "dataset.clip_seconds": 3.0,
            "dataset.min_seconds": 1.0,
            "fx.effects": ["gain"],
            "fx.loudness_match": [],
            "fx.audition": {"clips": 0, "excerpt_s": 1.0, "materialise": False},
            "embed.encoders": ["handcrafted"],
            "embed.frames.enabled": False,
            "probe.probes": ["ridge"],
            "probe.tasks": ["regression"],
            "probe.register_models": False,
        }
    )
    root = make_project(tmp_path / "proj", params)
    # the probe stage and the stages it depends on (systems and analyze are not needed here)
    proc = run(["dvc", "exp", "run", "-S", "probe.classical.ridge_alpha=30", "probe"], root)
    assert "Ran experiment" in proc.stdout + proc.stderr
    client = MlflowClient(f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
    (experiment,) = [e for e in client.search_experiments() if e.name.startswith("emofx-")]
    # 24 tracks: cross-validated, one fit per fold (run handcrafted/ridge/regression/<fold>)
    fits = client.search_runs(
        [experiment.experiment_id], "attributes.run_name LIKE 'handcrafted/ridge/regression/%'"
    )
    assert len(fits) == 5
    for fit in fits:
        assert float(fit.data.params["ridge_alpha"]) == 30.0
        assert fit.data.tags["dvc.exp_name"]
