"""Phase 2: the four networks' shapes, chunk aggregation, and a fast end-to-end stage run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from emofx.fx.conditions import resolve_condition, save_conditions
from emofx.systems.chunks import condition_chunks
from emofx.systems.config import SystemsParams
from emofx.systems.run import run_systems
from emofx.systems.spectrogram import NETWORKS, CNNSEGRUAttention
from emofx.systems.training import TrainConfig, predict_songs
from tests.embed_fixtures import make_prepared

REPO = Path(__file__).resolve().parents[1]
FAST = {
    "max_epochs": 1,
    "limit_train_batches": 1,
    "batch_size": 4,
    "config_dir": str(REPO / "lightning_configs"),
}


@pytest.fixture()
def prepared(tmp_path):
    manifest = make_prepared(tmp_path / "prepared", n_tracks=6, seconds=4.0)
    rng = np.random.default_rng(0)
    manifest["valence_norm"] = rng.uniform(-1, 1, len(manifest))
    manifest["arousal_norm"] = rng.uniform(-1, 1, len(manifest))
    conditions = tmp_path / "conditions.json"
    save_conditions([resolve_condition(c) for c in ("clean", "gain@8")], conditions)
    return manifest, tmp_path / "prepared", conditions


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_networks_map_chunks_to_targets(name):
    torch.manual_seed(0)
    model = NETWORKS[name](n_outputs=2).eval()
    images = torch.randn(3, 128, 128) * 10 - 40
    model.fit_scaling(images)
    out = model(images)
    assert out.shape == (3, 2) and torch.isfinite(out).all()
    assert (model.input_mean, model.input_std) == (images.mean(), images.std())
    config = TrainConfig.load(REPO / "lightning_configs" / f"train.{name}.yaml", FAST_PARAMS)
    assert isinstance(config.build(2, ["valence_norm", "arousal_norm"]), NETWORKS[name])


FAST_PARAMS = SystemsParams.model_validate({"spectrogram": FAST}).spectrogram


def test_attention_weights_sum_to_one_over_time():
    model = CNNSEGRUAttention(n_outputs=1).eval()
    out, _ = model.steps(torch.randn(2, 1, 128, 128))
    weights = model.attention_weights(out)
    assert weights.shape == (2, 16)
    torch.testing.assert_close(weights.sum(1), torch.ones(2))


def test_chunks_render_the_condition_and_aggregate_per_song(prepared):
    manifest, root, _ = prepared
    ids = manifest["track_id"].tolist()[:2]
    clean = condition_chunks(root, ids, resolve_condition("clean"))
    loud = condition_chunks(root, ids, resolve_condition("gain@8"))
    assert clean.images.shape == (4, 128, 128)  # 4-s clips: chunks at 0 s and 1 s (end-aligned)
    assert clean.group.tolist() == [0, 0, 1, 1]
    assert (loud.images.mean() - clean.images.mean()).item() > 4  # louder by several dB

    class ChunkMean(torch.nn.Module):
        def forward(self, images):
            return images.mean(dim=(1, 2))[:, None]

    song = predict_songs(ChunkMean(), clean)
    expected = clean.images.mean(dim=(1, 2)).reshape(2, 2).mean(1).double().numpy()
    np.testing.assert_allclose(song[:, 0], expected, rtol=1e-6)


@pytest.mark.slow
def test_stage_trains_all_four_and_predicts_every_condition(prepared, tmp_path, mlflow_uri):
    manifest, root, conditions = prepared
    params = SystemsParams.model_validate(
        {"phase1": {"enabled": False}, "spectrogram": {"enabled": True, **FAST}}
    )
    kwargs = dict(
        manifest=manifest,
        prepared_dir=root,
        conditions_path=conditions,
        embeddings_root=tmp_path / "emb",
        figures_dir=tmp_path / "fig",
        seed=0,
    )
    metrics = run_systems(params, predictions_root=tmp_path / "a", **kwargs)
    assert set(metrics) == {f"spectrogram/{n}" for n in NETWORKS}
    for name in NETWORKS:
        for condition in ("clean", "gain@8"):
            frame = pd.read_parquet(tmp_path / "a" / "spectrogram" / name / f"{condition}.parquet")
            assert len(frame) == 6 and frame["pred_arousal_norm"].notna().all()
        assert np.isfinite(metrics[f"spectrogram/{name}"]["test/rmse_valence"])
    one = {
        "phase1": {"enabled": False},
        "spectrogram": {"enabled": True, "models": ["cnn_se_gru"], **FAST},
    }
    again = run_systems(
        SystemsParams.model_validate(one), predictions_root=tmp_path / "b", **kwargs
    )
    assert again["spectrogram/cnn_se_gru"] == metrics["spectrogram/cnn_se_gru"]  # one seed
    separate = SystemsParams.model_validate(
        {
            "phase1": {"enabled": False},
            "spectrogram": {"enabled": True, "models": ["cnn_se"], "targets": "separate", **FAST},
        }
    )
    out = run_systems(separate, predictions_root=tmp_path / "c", **kwargs)
    assert set(out) == {"spectrogram/cnn_se"}


def test_bad_config_is_named(tmp_path):
    bad = tmp_path / "train.cnn.yaml"
    bad.write_text("model:\n  init_args: {}\n")
    with pytest.raises(ValueError, match=r"train.cnn.yaml: needs 'model: \{class_path"):
        TrainConfig.load(bad, FAST_PARAMS)
    with pytest.raises(FileNotFoundError, match=r"systems.spectrogram: .*missing.yaml not found"):
        TrainConfig.load(tmp_path / "missing.yaml", FAST_PARAMS)
