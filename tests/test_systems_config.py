"""The ``systems:`` params section and the seed-report results table."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from emofx.systems.config import DEFAULT_GRIDS, SystemsParams
from emofx.systems.run import results_table
from tests.pipeline_repo import REPO


def test_defaults_run_phase1_only_with_small_grids():
    params = SystemsParams()
    assert params.phase1.enabled and params.phase1.top_k == 15 and params.phase1.cv_folds == 5
    assert not params.spectrogram.enabled and not params.panns_mlp.enabled
    assert params.phase1.grid("ridge") == DEFAULT_GRIDS["ridge"]
    custom = SystemsParams.model_validate({"phase1": {"grids": {"svr": {"C": [5.0]}}}})
    assert custom.phase1.grid("svr") == {"C": [5.0]}


@pytest.mark.parametrize(
    "raw, where",
    [
        ({"phase1": {"top_kk": 3}}, "phase1.top_kk"),
        ({"phase1": {"models": ["ridge", "ridge"]}}, "phase1.models"),
        ({"phase1": {"models": ["catboost"]}}, "phase1.models.0"),
        ({"phase1": {"pca": 1.5}}, "phase1.pca"),
        ({"spectrogram": {"models": ["resnet"]}}, "spectrogram.models.0"),
        ({"spectrogram": {"targets": "both"}}, "spectrogram.targets"),
        ({"targets": ["valence"]}, "targets.0"),
    ],
)
def test_bad_values_name_their_key(raw, where):
    with pytest.raises(ValidationError, match=where.replace(".", r"\.")):
        SystemsParams.model_validate(raw)


def test_results_table_layout_and_val_selection():
    def metrics(val, r2v, r2a):
        return {
            "val/r2_mean": val,
            "test/r2_valence": r2v,
            "test/rmse_valence": 0.3,
            "test/mae_valence": 0.2,
            "test/r2_arousal": r2a,
            "test/rmse_arousal": 0.25,
            "test/mae_arousal": 0.15,
        }

    table = results_table(
        {
            "phase1/ridge_full": metrics(0.2, 0.1, 0.5),
            "phase1/svr_pearson": metrics(0.4, 0.2, 0.6),
            "spectrogram/cnn": metrics(0.1, 0.0, 0.3),
        }
    )
    assert list(table.columns) == [
        "system", "model", "R2_valence", "RMSE_valence", "MAE_valence",
        "R2_arousal", "RMSE_arousal", "MAE_arousal", "selected_on_val",
    ]  # fmt: skip
    assert table["selected_on_val"].tolist() == [False, True, True]
    assert table.loc[1, "R2_arousal"] == 0.6
    empty = results_table({})
    assert isinstance(empty, pd.DataFrame) and empty.empty


def test_no_enabled_system_writes_empty_valid_outputs(tmp_path, monkeypatch, mlflow_uri):
    """A labels-only dataset: the stage still writes the results header and its predictions dir."""
    import yaml

    from emofx.cli import main
    from tests.pipeline_repo import tiny_params

    root = tmp_path / "emotify"
    root.mkdir()
    params = tiny_params(
        **{"dataset.name": "emo", "dataset.format": "emotify", "dataset.root": str(root)}
    )
    params["embed"]["config_dir"] = str(REPO / "lightning_configs")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    prepared = tmp_path / "data/prepared/emo"
    prepared.mkdir(parents=True)
    pd.DataFrame({"track_id": ["1"], "split": ["test"]}).to_parquet(prepared / "manifest.parquet")
    monkeypatch.chdir(tmp_path)
    assert main(["systems"]) == 0
    table = pd.read_csv(tmp_path / "reports/emo/systems/results.csv")
    assert table.empty and list(table.columns[:3]) == ["system", "model", "R2_valence"]
    assert "selected_on_val" in table.columns
    assert (tmp_path / "data/systems/emo").is_dir()
