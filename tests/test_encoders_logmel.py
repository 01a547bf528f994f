"""Log-mel baseline: 128×128 dB chunks (vs librosa) and the band-statistics embedding."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest
import torch

from emofx.encoders.logmel import LogMelEncoder, logmel_chunks
from tests.test_encoders_musicnn import instantiate_model_config

REPO = Path(__file__).resolve().parents[1]
SR = 22_050
CHUNK = 3 * SR


def librosa_chunk(chunk: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(
        y=chunk, sr=SR, n_fft=2048, hop_length=512, n_mels=128, pad_mode="reflect"
    )
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)[:, :128]


def sine(freq: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_chunks_are_128_by_128_db_images_matching_librosa():
    audio = np.random.default_rng(0).normal(0, 0.1, 7 * SR).astype(np.float32)
    chunks = logmel_chunks(torch.from_numpy(audio))
    assert chunks.shape == (3, 128, 128)  # starts 0 s, 3 s and 4 s (last aligned to the end)
    for chunk, start in zip(chunks, (0, 3 * SR, 4 * SR), strict=True):
        expected = librosa_chunk(audio[start : start + CHUNK])
        np.testing.assert_allclose(chunk.numpy(), expected, atol=1e-2)
    assert logmel_chunks(torch.from_numpy(audio), hop_s=1.0).shape == (5, 128, 128)


def test_chunks_feed_trainable_models():
    chunks = logmel_chunks(torch.from_numpy(sine(440, 3.5)))
    weight = torch.ones(1, 1, 3, 3, requires_grad=True)
    torch.nn.functional.conv2d(chunks[:, None], weight).mean().backward()
    assert weight.grad is not None and not chunks.requires_grad


def test_chunks_reject_multichannel_audio():
    with pytest.raises(ValueError, match=r"mono audio \[samples\], got shape \(2, 100\)"):
        logmel_chunks(torch.zeros(2, 100))


def test_band_stats_locate_a_tone_and_keep_gain_changes():
    encoder = LogMelEncoder()
    assert encoder.layer_names() == ["band_stats"] and encoder.layer_dims() == [256]
    quiet, loud = sine(1000, 6.0, 0.1), sine(1000, 6.0, 0.2)
    emb = encoder.embed([torch.from_numpy(quiet), torch.from_numpy(loud)])
    assert emb.shape == (2, 1, 256)
    means, stds = emb[:, 0, :128], emb[:, 0, 128:]
    band = int(np.argmin(np.abs(librosa.mel_frequencies(130, fmax=SR / 2)[1:-1] - 1000)))
    assert abs(int(means[0].argmax()) - band) <= 1
    # absolute dB: doubling the amplitude adds 20·log10(2) dB to every band with energy
    torch.testing.assert_close(
        means[1, band] - means[0, band], torch.tensor(6.0206), atol=1e-3, rtol=0
    )
    torch.testing.assert_close(stds[1, band], stds[0, band], atol=1e-3, rtol=0)


def test_short_clip_statistics_cover_only_its_own_frames():
    encoder = LogMelEncoder()
    short = sine(1000, 1.0, 0.3)  # 44 frames of a 128-frame chunk
    emb = encoder.embed([torch.from_numpy(short)])[0, 0]
    mel = librosa.feature.melspectrogram(
        y=np.pad(short, (0, CHUNK - short.size)), sr=SR, n_fft=2048, hop_length=512,
        n_mels=128, pad_mode="reflect",
    )  # fmt: skip
    frames = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)[:, : 1 + short.size // 512]
    expected = np.concatenate([frames.mean(-1), frames.std(-1)])
    np.testing.assert_allclose(emb.numpy(), expected, atol=2e-3, rtol=1e-3)  # float32 vs 64
    zero_padded = encoder.embed([torch.from_numpy(np.pad(short, (0, CHUNK - short.size)))])[0]
    assert not torch.allclose(emb, zero_padded[0], atol=1e-2)


def test_embedding_is_the_window_mean_of_chunk_statistics():
    audio = np.random.default_rng(1).normal(0, 0.1, 7 * SR).astype(np.float32)
    encoder = LogMelEncoder(pooling="meanstd")
    emb = encoder.embed([torch.from_numpy(audio)])
    assert emb.shape == (1, 1, 512)
    chunks = logmel_chunks(torch.from_numpy(audio))
    stats = torch.cat([chunks.mean(-1), chunks.std(-1, unbiased=False)], dim=1)  # [3, 256]
    torch.testing.assert_close(emb[0, 0, :256], stats.mean(0), atol=1e-3, rtol=1e-5)
    torch.testing.assert_close(emb[0, 0, 256:], stats.std(0, unbiased=False), atol=1e-3, rtol=1e-4)
    meta = encoder.describe()
    assert (meta["sample_rate"], meta["window_s"], meta["hop_s"]) == (SR, 3.0, 3.0)


def test_lightning_config_instantiates_the_encoder():
    encoder = instantiate_model_config(REPO / "lightning_configs" / "embed.logmel.yaml")
    assert isinstance(encoder, LogMelEncoder)
    assert (encoder.window_s, encoder.hop_s, encoder.pooling) == (3.0, 3.0, "mean")
