"""The probe section of params.yaml and the MLP's LightningCLI config: errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from emofx.lightning_fit import spec_callbacks
from emofx.probes.config import MlpParams, ProbeParams
from emofx.probes.mlp import MlpConfig, ProbeMLP

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "lightning_configs" / "probe.mlp.yaml"


def error_locations(exc: ValidationError) -> list[str]:
    return [".".join(str(p) for p in err["loc"]) for err in exc.errors()]


def test_defaults_are_valid_and_fast():
    params = ProbeParams()
    assert params.probes == ["xgboost"] and params.tasks == ["regression"]
    assert params.tune.probes == [] and params.tune.storage == "optuna/journal.log"


@pytest.mark.parametrize(
    ("raw", "location"),
    [
        ({"xgboost": {"max_dept": 3}}, "xgboost.max_dept"),
        ({"mlp": {"lr": -1}}, "mlp.lr"),
        ({"mlp": {"hidden_sizes": [64, 0]}}, "mlp.hidden_sizes"),
        ({"probes": ["xgboost", "catboost"]}, "probes.1"),
        ({"tasks": ["regression", "regression"]}, "tasks"),
        ({"tune": {"pruner": "asha"}}, "tune.pruner"),
        ({"tune": {"n_trials": 0}}, "tune.n_trials"),
    ],
)
def test_bad_values_name_their_key(raw, location):
    with pytest.raises(ValidationError) as exc:
        ProbeParams.model_validate(raw)
    assert location in error_locations(exc.value)


def test_tuned_probe_must_be_run():
    with pytest.raises(ValidationError, match=r"tune.probes: \['mlp'\] not in probe.probes"):
        ProbeParams.model_validate({"probes": ["xgboost"], "tune": {"probes": ["mlp"]}})


def test_mlp_config_layers_params_over_the_lightning_yaml():
    config = MlpConfig.load(MlpParams(config=CONFIG, lr=0.05, max_epochs=7, batch_size=8))
    init = config.model["init_args"]
    assert init["lr"] == 0.05 and init["preset"] == "emotion_mlp"  # override + YAML value
    assert config.trainer["max_epochs"] == 7 and config.batch_size == 8
    assert [type(c).__name__ for c in spec_callbacks(config.trainer)] == ["EarlyStopping"]
    tuned = MlpConfig.load(MlpParams(config=CONFIG, lr=0.05), {"lr": 0.2, "preset": "marble"})
    model = tuned.build([6], 2, "regression", ["valence_norm", "arousal_norm"])
    assert isinstance(model, ProbeMLP) and model.hparams.lr == 0.2
    linears = [m for m in model.head if hasattr(m, "out_features")]
    assert [m.out_features for m in linears] == [512, 2]  # MARBLE: one 512 hidden layer


def test_emotion_mlp_preset_matches_the_seed_report():
    model = MlpConfig.load(MlpParams(config=CONFIG)).build([386], 2, "regression", ["v", "a"])
    linears = [m for m in model.head if hasattr(m, "out_features")]
    assert [(m.in_features, m.out_features) for m in linears] == [(386, 512), (512, 128), (128, 2)]
    assert {m.p for m in model.head if hasattr(m, "p")} == {0.3}


def test_mlp_config_errors_name_the_file_and_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="probe.mlp.config"):
        MlpConfig.load(MlpParams(config=tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  class_path: emofx.probes.mlp.ProbeMLP\ndata:\n  batch: 3\n")
    with pytest.raises(ValueError, match=r"bad.yaml: unknown data keys \['batch'\]"):
        MlpConfig.load(MlpParams(config=bad))
    bad.write_text("model:\n  class_path: torch.nn.Identity\n")
    with pytest.raises(ValueError, match="bad.yaml: model.class_path must name a ProbeMLP"):
        MlpConfig.load(MlpParams(config=bad)).build([4], 2, "regression", ["a", "b"])
    bad.write_text("model:\n  class_path: emofx.probes.mlp.ProbeMLP\n  init_args: {lrate: 1}\n")
    with pytest.raises(ValueError, match="bad.yaml: model:.*lrate"):
        MlpConfig.load(MlpParams(config=bad)).build([4], 2, "regression", ["a", "b"])
