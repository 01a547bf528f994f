"""The 386-d handcrafted features measure what their names say."""

from __future__ import annotations

import numpy as np
import torch

from emofx.encoders.handcrafted import HandcraftedEncoder, feature_names, handcrafted_features

SR = 22_050


def tone(freq: float, seconds: float = 2.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_layout_is_386_named_dimensions():
    names = feature_names()
    assert len(names) == 386 == len(set(names))
    assert names[0] == "mfcc_00_mean" and names[-1] == "tonnetz_05_std"
    assert handcrafted_features(tone(440), SR).shape == (386,)


def test_chroma_of_an_a4_tone_peaks_at_pitch_class_a():
    feats = dict(zip(feature_names(), handcrafted_features(tone(440.0), SR), strict=True))
    chroma = [feats[f"chroma_{i:02d}_mean"] for i in range(12)]
    assert int(np.argmax(chroma)) == 9  # C=0 … A=9


def test_louder_audio_raises_mel_energy_and_brighter_audio_moves_energy_up():
    names = feature_names()
    quiet, loud = (
        handcrafted_features(tone(440, amp=0.05), SR),
        handcrafted_features(tone(440, amp=0.5), SR),
    )
    mel = [i for i, n in enumerate(names) if n.startswith("mel_") and n.endswith("_mean")]
    assert loud[mel].mean() > quiet[mel].mean() + 10  # dB: x10 amplitude = +20 dB
    low, high = handcrafted_features(tone(200), SR), handcrafted_features(tone(4000), SR)
    assert np.argmax(high[mel]) > np.argmax(low[mel])


def test_encoder_wraps_the_features_as_one_layer():
    enc = HandcraftedEncoder()
    out = enc.embed([torch.from_numpy(tone(440)), torch.from_numpy(tone(880, seconds=1.0))])
    assert out.shape == (2, 1, 386)
    np.testing.assert_allclose(out[0, 0].numpy(), handcrafted_features(tone(440), SR), rtol=1e-5)
