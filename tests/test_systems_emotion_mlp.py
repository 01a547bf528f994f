"""Phase 3: a tiny random CNN14 checkpoint (official format) → the real embed runner's store →
EmotionMLP predictions for every condition, metrics and the t-SNE figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from emofx.embed.runner import EncoderConfig, embed_dataset
from emofx.fx.conditions import resolve_condition, save_conditions
from emofx.prepare import prepared_audio_path
from emofx.systems.config import SystemsParams
from emofx.systems.run import results_table, run_systems
from tests.test_encoders_panns import tiny_state_dict

SR = 32_000


@pytest.fixture()
def panns_store(tmp_path):
    rng = np.random.default_rng(0)
    n = 12
    ids = [f"t{i:02d}" for i in range(n)]
    t = np.arange(SR) / SR
    for i, track in enumerate(ids):
        audio = (0.05 + 0.05 * i) * np.sin(2 * np.pi * (200 + 50 * i) * t)
        path = prepared_audio_path(tmp_path / "prepared", SR, track)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, (audio + 0.01 * rng.standard_normal(SR)).astype(np.float32))
    manifest = pd.DataFrame(
        {
            "track_id": ids,
            "split": (["train"] * 2 + ["val", "test"]) * 3,
            "valence_norm": rng.uniform(-1, 1, n),
            "arousal_norm": np.linspace(-0.9, 0.9, n),  # follows the level: learnable
        }
    )
    checkpoint = tmp_path / "Cnn14_mAP=0.431.pth"
    torch.save({"model": tiny_state_dict()}, checkpoint)
    config = tmp_path / "embed.panns.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": {
                    "class_path": "emofx.encoders.panns.PannsEncoder",
                    "init_args": {"weights_path": str(checkpoint), "window_s": 1.0},
                },
                "trainer": {"accelerator": "cpu", "devices": 1},
                "data": {"batch_size": 4, "shard_tracks": 6, "render_threads": 1},
            }
        )
    )
    conditions = [resolve_condition(c) for c in ("clean", "gain@8")]
    save_conditions(conditions, tmp_path / "conditions.json")
    embed_dataset(
        EncoderConfig.from_yaml(config),
        manifest,
        tmp_path / "prepared",
        conditions,
        tmp_path / "emb" / "panns",
        seed=0,
        data_hash="test",
        progress=False,
    )
    return manifest


@pytest.mark.slow
def test_emotion_mlp_on_panns_embeddings(panns_store, tmp_path, mlflow_uri):
    params = SystemsParams.model_validate(
        {
            "phase1": {"enabled": False},
            "panns_mlp": {"enabled": True, "max_epochs": 5, "tsne_perplexity": 3.0},
        }
    )
    kwargs = dict(
        manifest=panns_store,
        prepared_dir=tmp_path / "prepared",
        conditions_path=tmp_path / "conditions.json",
        embeddings_root=tmp_path / "emb",
        figures_dir=tmp_path / "fig",
        seed=0,
    )
    metrics = run_systems(params, predictions_root=tmp_path / "a", **kwargs)
    assert set(metrics) == {"panns_mlp/emotion_mlp"}
    m = metrics["panns_mlp/emotion_mlp"]
    assert {"test/r2_valence", "test/rmse_arousal", "test/mae_valence"} <= set(m)
    clean = pd.read_parquet(tmp_path / "a" / "panns_mlp" / "emotion_mlp" / "clean.parquet")
    loud = pd.read_parquet(tmp_path / "a" / "panns_mlp" / "emotion_mlp" / "gain@8.parquet")
    assert len(clean) == len(loud) == 12
    assert not np.allclose(clean["pred_arousal_norm"], loud["pred_arousal_norm"])
    assert (tmp_path / "fig" / "tsne_panns.png").stat().st_size > 10_000
    again = run_systems(params, predictions_root=tmp_path / "b", **kwargs)
    assert again == metrics
    table = results_table(metrics)
    assert table.iloc[0][["system", "model"]].tolist() == ["panns_mlp", "emotion_mlp"]
    assert table.iloc[0]["RMSE_arousal"] == pytest.approx(m["test/rmse_arousal"])


def test_missing_layer_or_store_is_named(panns_store, tmp_path, mlflow_uri):
    kwargs = dict(
        manifest=panns_store,
        prepared_dir=tmp_path / "prepared",
        conditions_path=tmp_path / "conditions.json",
        predictions_root=tmp_path / "p",
        figures_dir=tmp_path / "fig",
        seed=0,
    )
    bad = SystemsParams.model_validate(
        {"phase1": {"enabled": False}, "panns_mlp": {"enabled": True, "layer": "fc9"}}
    )
    with pytest.raises(ValueError, match="systems.panns_mlp.layer: 'fc9' not in"):
        run_systems(bad, embeddings_root=tmp_path / "emb", **kwargs)
    with pytest.raises(FileNotFoundError, match="systems.panns_mlp: no embedding store"):
        run_systems(bad, embeddings_root=tmp_path / "none", **kwargs)
