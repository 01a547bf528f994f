"""Frame-level embeddings (dynamic annotations): the frame grid, the store, FX tails, selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from emofx.datasets.config import DatasetParams
from emofx.embed.frames import FrameSpec, dynamic_tracks, frame_conditions
from emofx.embed.runner import EncoderConfig, embed_dataset
from emofx.embed.store import EmbeddingStore
from emofx.encoders.base import frame_starts
from emofx.encoders.handcrafted import HandcraftedEncoder, frame_features, handcrafted_features
from emofx.fx.conditions import resolve_condition
from emofx.fx.config import FxParams
from emofx.fx.render import render
from emofx.prepare import load_prepared_audio, prepare
from emofx.probes.tasks import build_dynamic_task
from tests.conftest import shared_path
from tests.embed_fixtures import CONDITION_IDS, SR, make_prepared, write_encoder_config
from tests.test_encoder_base import WindowStats


def test_frame_grid_is_regular_and_never_aligns_an_extra_window_to_the_end():
    assert frame_starts(100, 30, 10) == [0, 10, 20, 30, 40, 50, 60, 70]
    assert frame_starts(95, 30, 10) == [0, 10, 20, 30, 40, 50, 60]  # 65 would break the grid
    assert frame_starts(20, 30, 10) == [0]


def test_each_frame_is_its_window_encoded_and_timed_by_its_end():
    encoder = WindowStats(window_s=3.0)  # 10 Hz: a 2-s frame is 20 samples, the hop 5
    audio = torch.arange(60, dtype=torch.float32)
    times, emb = encoder.embed_frames(audio, window_s=2.0, hop_s=0.5)
    assert times.tolist() == [2.0 + 0.5 * k for k in range(9)]
    for k in range(9):
        window = audio[5 * k : 5 * k + 20]
        assert emb[k, 0, 0] == pytest.approx(float(window.mean()))
        assert emb[k, 1].tolist() == pytest.approx(
            [float(window.mean()), float(window.max()), float(window.min())]
        )
    short_times, short = encoder.embed_frames(audio[:7], window_s=2.0, hop_s=0.5)
    assert short_times.tolist() == [0.7] and short.shape == (1, 2, 3)  # padded, timed at its end
    assert short[0, 1, 1] == 6


def test_handcrafted_frames_pool_the_stft_frames_centred_in_each_window():
    rng = np.random.default_rng(3)
    audio = (0.1 * rng.standard_normal(4 * SR)).astype(np.float32)
    encoder = HandcraftedEncoder(sample_rate=SR)
    times, emb = encoder.embed_frames(torch.from_numpy(audio), window_s=1.0, hop_s=0.5)
    assert times.tolist() == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    frames = frame_features(audio, SR)
    window, hop = SR, SR // 2
    for k in range(7):
        a, b = -(-k * hop // 512), -(-(k * hop + window) // 512)  # STFT frame j sits at j·512
        expected = np.concatenate([frames[:, a:b].mean(1), frames[:, a:b].std(1)])
        np.testing.assert_allclose(emb[k, 0].numpy(), expected, rtol=1e-4, atol=1e-3)
    # …and agree with computing the features on the cut window itself, up to its STFT edges
    direct = handcrafted_features(audio[3 * hop : 3 * hop + window], SR)
    assert np.corrcoef(direct, emb[3, 0].numpy())[0, 1] > 0.99


@pytest.fixture()
def prepared(tmp_path):
    manifest = make_prepared(tmp_path / "prepared", n_tracks=4, seconds=1.5)
    return tmp_path, manifest


SPEC = FrameSpec(window_s=0.5, hop_s=0.25, offset_s=10.0)


def embed_frames(tmp_path, manifest, conditions, spec=SPEC):
    config = EncoderConfig.from_yaml(write_encoder_config(tmp_path / "enc.yaml"))
    return embed_dataset(
        config,
        manifest,
        tmp_path / "prepared",
        conditions,
        tmp_path / "frames",
        seed=7,
        data_hash="fixture",
        progress=False,
        frames=spec,
    )


def test_frame_store_has_one_row_per_frame_aligned_across_conditions(prepared):
    tmp_path, manifest = prepared
    result = embed_frames(tmp_path, manifest, [resolve_condition(c) for c in CONDITION_IDS])
    store = EmbeddingStore(result.store.root)
    index = store.index()
    assert list(index.columns) == ["track_id", "split", "time_s"]
    # 1.5-s clips, 0.5-s frames every 0.25 s → ends 0.5 … 1.5 (5 frames), shifted by offset_s 10
    assert index.groupby("track_id").size().tolist() == [5] * 4
    expected_times = [10.5, 10.75, 11.0, 11.25, 11.5]  # 0.25 s is 5512.5 samples: ±½ sample
    assert index["time_s"].iloc[:5].tolist() == pytest.approx(expected_times, abs=0.5 / SR)
    assert index.groupby("track_id")["split"].nunique().max() == 1
    meta = store.meta()
    assert meta["pooling"] == "none" and meta["layer_dims"] == [386]
    assert meta["frames"] == {"window_s": 0.5, "hop_s": 0.25, "offset_s": 10.0}
    for cid in ("clean", "distortion@5"):
        rendered = render(
            resolve_condition(cid), load_prepared_audio(tmp_path / "prepared", SR, "t02"), SR
        )
        _, expected = HandcraftedEncoder(sample_rate=SR).embed_frames(
            torch.from_numpy(rendered.audio), 0.5, 0.25
        )
        rows = (index["track_id"] == "t02").to_numpy()
        np.testing.assert_allclose(store.load(cid)[rows], expected.numpy(), rtol=1e-5, atol=1e-4)
    assert not np.allclose(store.load("clean"), store.load("distortion@5"))
    assert embed_frames(tmp_path, manifest, [resolve_condition(c) for c in CONDITION_IDS]).skipped


def test_fx_tails_are_cut_so_every_condition_has_the_clean_frames(prepared):
    tmp_path, manifest = prepared
    tails = FxParams(chains=[], loudness_match=False, keep_tails=True, tail_s=1.0)
    reverb = resolve_condition("reverb@8", tails)
    assert render(reverb, np.zeros(SR, np.float32), SR).audio.shape[-1] == 2 * SR  # has a tail
    store = embed_frames(tmp_path, manifest, [resolve_condition("clean"), reverb]).store
    assert store.load("reverb@8").shape == store.load("clean").shape == (20, 1, 386)


def test_frame_conditions_default_to_all_and_always_keep_clean():
    conditions = [resolve_condition(c) for c in CONDITION_IDS]
    assert frame_conditions(conditions, None) == conditions
    assert [c.id for c in frame_conditions(conditions, ["gain@8"])] == ["clean", "gain@8"]
    with pytest.raises(ValueError, match=r"embed.frames.conditions: \['reverb@9'\] not in"):
        frame_conditions(conditions, ["reverb@9"])


def test_dynamic_tracks_are_those_with_a_dynamic_reference():
    manifest = pd.DataFrame({"track_id": ["a", "b", "c"], "dynamic_ref": ['{"x": 1}', None, "{}"]})
    assert dynamic_tracks(manifest)["track_id"].tolist() == ["a", "c"]
    assert dynamic_tracks(manifest.drop(columns="dynamic_ref")).empty


def test_real_deam_frames_line_up_with_the_2hz_annotations(tmp_path):
    """deam-mini: audio 10–40 s of each song; frames must sit on the annotations' clock."""
    root = shared_path("data", "deam-mini")
    params = DatasetParams(
        name="deam-mini", format="deam", root=root, clip_seconds=30.0, offset_s=10.0,
        max_rejected_fraction=1.0, workers=2,
    )  # fmt: skip
    manifest = prepare(params, tmp_path / "prepared", [SR], seed=0)
    curves = pd.read_parquet(tmp_path / "prepared" / "dynamic.parquet")
    config = EncoderConfig.from_yaml(write_encoder_config(tmp_path / "enc.yaml"))
    store = embed_dataset(
        config,
        dynamic_tracks(manifest),
        tmp_path / "prepared",
        [resolve_condition("clean")],
        tmp_path / "frames",
        seed=0,
        data_hash="deam-mini",
        progress=False,
        frames=FrameSpec(window_s=3.0, hop_s=0.5, offset_s=params.offset_s),
    ).store
    index = store.index()
    assert index["track_id"].nunique() == len(manifest) == 10
    # frames end at 13.0 … 40.0 s of the song; DEAM annotates 15.0 … 45.0 s
    assert (
        index.groupby("track_id")["time_s"]
        .agg(["min", "max", "size"])
        .round(6)
        .eq([13.0, 40.0, 55])
        .all()
        .all()
    )
    data = build_dynamic_task(index, curves, ["valence_norm", "arousal_norm"], hop_s=0.5)
    assert len(data.rows) == 10 * 51  # every annotation from 15 s to 40 s has its frame
    matched = index.iloc[data.rows].assign(arousal=data.y[:, 1])
    expected = curves[curves["time_s"] <= 40.0].set_index(["track_id", "time_s"])["arousal_norm"]
    got = matched.set_index(["track_id", "time_s"])["arousal"]
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )
