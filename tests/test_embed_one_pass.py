"""One render and one encoder pass per (track, condition) feed the pooled and the frame store."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from emofx.embed.frames import FrameSpec
from emofx.embed.runner import EncoderConfig, FrameJob, embed_dataset
from emofx.embed.store import EmbeddingStore
from emofx.encoders.base import FrameGrid
from emofx.encoders.handcrafted import HandcraftedEncoder
from emofx.fx.conditions import resolve_condition
from tests.embed_fixtures import CONDITION_IDS, SR, make_prepared, write_encoder_config
from tests.test_encoder_base import WindowStats


class CountingWindows(WindowStats):
    """WindowStats that records the length of every window it encodes."""

    def encode_windows(self, windows) -> list[torch.Tensor]:
        self.encoded = getattr(self, "encoded", []) + [w.shape[-1] for w in windows]
        return super().encode_windows(windows)


class CountingHandcrafted(HandcraftedEncoder):
    """The handcrafted encoder, recording a fingerprint of every clip it is handed."""

    clips: list[str] = []

    def encode_clips(self, clips):
        CountingHandcrafted.clips += [
            hashlib.sha256(audio.cpu().numpy().tobytes()).hexdigest() for audio, _ in clips
        ]
        return super().encode_clips(clips)


def test_pooled_windows_that_are_frames_are_encoded_once_and_give_the_same_rows():
    audio = torch.arange(60, dtype=torch.float32)  # 6 s at 10 Hz; 2-s windows every 2 s
    encoder = CountingWindows(window_s=2.0, hop_s=2.0)
    out = encoder.embed_clips([audio, audio], FrameGrid(2.0, 0.5), [60, 50])
    # clip 0: the 3 pooled windows are frames 0, 4, 8 → 9 windows; clip 1 (dry 50 of 60, an FX
    # tail): 7 frames over the dry part + the pooled window (40, 60) reaching into the tail
    assert encoder.encoded == [20] * (9 + 8)
    alone = CountingWindows(window_s=2.0, hop_s=2.0)
    torch.testing.assert_close(out.pooled, alone.embed([audio, audio]), rtol=0, atol=0)
    for frames, n_dry in zip(out.frames, (60, 50), strict=True):
        times, emb = alone.embed_frames(audio[:n_dry], 2.0, 0.5)
        torch.testing.assert_close(frames[0], times, rtol=0, atol=0)
        torch.testing.assert_close(frames[1], emb, rtol=0, atol=0)
    assert encoder.embed_clips([audio], FrameGrid(2.0, 0.5), [None]).frames == [None]


def test_handcrafted_pools_the_whole_clip_and_its_frames_from_one_feature_pass():
    rng = np.random.default_rng(0)
    audio = torch.from_numpy((0.1 * rng.standard_normal(2 * SR)).astype(np.float32))
    encoder = HandcraftedEncoder(sample_rate=SR)
    out = encoder.embed_clips([audio], FrameGrid(1.0, 0.5), [2 * SR])
    assert torch.equal(out.pooled, encoder.embed([audio]))  # exactly the pooled encoder
    times, emb = encoder.embed_frames(audio, 1.0, 0.5)
    assert torch.equal(out.frames[0][1], emb) and torch.equal(out.frames[0][0], times)


@pytest.fixture()
def prepared(tmp_path):
    manifest = make_prepared(tmp_path / "prepared", n_tracks=5, seconds=1.5)
    config = write_encoder_config(tmp_path / "enc.yaml", num_workers=0)
    counting = "tests.test_embed_one_pass.CountingHandcrafted"
    config.write_text(
        config.read_text()
        .replace(f"{HandcraftedEncoder.__module__}.", "")
        .replace("class_path: HandcraftedEncoder", f"class_path: {counting}")
    )
    return tmp_path, manifest, EncoderConfig.from_yaml(config)


SPEC = FrameSpec(window_s=0.5, hop_s=0.25, offset_s=10.0)


def run(tmp_path, manifest, config, conditions, out, **kwargs):
    return embed_dataset(
        config,
        manifest,
        tmp_path / "prepared",
        conditions,
        tmp_path / out,
        seed=7,
        data_hash="fixture",
        progress=False,
        **kwargs,
    )


def test_each_pair_is_encoded_once_for_both_stores_and_equals_the_separate_passes(prepared):
    tmp_path, manifest, config = prepared
    conditions = [resolve_condition(c) for c in CONDITION_IDS]
    dynamic = manifest.iloc[[1, 3, 4]].reset_index(drop=True)  # tracks with a 2-Hz curve
    frame_conds = [c for c in conditions if c.id in ("clean", "distortion@5")]
    job = FrameJob(SPEC, dynamic, frame_conds, tmp_path / "joint" / "frames")
    CountingHandcrafted.clips = []
    result = run(tmp_path, manifest, config, conditions, "joint", with_frames=job)
    n_pairs = len(manifest) * len(conditions)
    assert len(CountingHandcrafted.clips) == len(set(CountingHandcrafted.clips)) == n_pairs
    assert not result.skipped and not result.frames.skipped
    assert result.frames.n_pairs == 3 * 2

    # the same rows, bit for bit, as the pooled store and the frame store embedded separately
    pooled = run(tmp_path, manifest, config, conditions, "pooled").store
    frames = run(tmp_path, dynamic, config, frame_conds, "frames", frames=SPEC).store
    joint, joint_frames = result.store, result.frames.store
    assert joint.conditions() == pooled.conditions()
    assert joint_frames.conditions() == ["clean", "distortion@5"]
    for cid in pooled.conditions():
        assert np.array_equal(joint.load(cid), pooled.load(cid))
    for cid in frames.conditions():
        assert np.array_equal(joint_frames.load(cid), frames.load(cid))
    assert joint.index().equals(pooled.index())
    assert joint_frames.index().equals(frames.index())
    assert joint.loudness().equals(pooled.loudness())

    # unchanged: nothing encoded; a new frame grid: only the frame pairs are encoded again
    CountingHandcrafted.clips = []
    assert run(tmp_path, manifest, config, conditions, "joint", with_frames=job).skipped
    assert CountingHandcrafted.clips == []
    regrid = FrameJob(FrameSpec(0.5, 0.5, 10.0), dynamic, frame_conds, job.out_dir)
    again = run(tmp_path, manifest, config, conditions, "joint", with_frames=regrid)
    assert again.skipped and not again.frames.skipped
    assert len(CountingHandcrafted.clips) == 3 * 2
    assert EmbeddingStore(job.out_dir).meta()["frames"]["hop_s"] == 0.5
