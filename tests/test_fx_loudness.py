"""BS.1770 integrated loudness: agrees with pyloudnorm, defined edge cases."""

from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from emofx.audio import load_audio
from emofx.fx.loudness import integrated_loudness

MUSIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "music-cc"


@pytest.fixture(scope="module")
def brahms() -> Path:
    path = MUSIC / "brahms_hungarian_dance_5.ogg"
    if not path.is_file():
        pytest.skip(f"real music not available at {path} (shared data folder absent)")
    return path


@pytest.mark.parametrize("sample_rate", [16000, 22050, 44100, 48000])
def test_agrees_with_pyloudnorm_on_real_music(brahms, sample_rate):
    mono = load_audio(brahms, sample_rate, duration_s=8)
    stereo = np.stack([mono, 0.3 * np.roll(mono, 2000)])
    meter = pyloudnorm.Meter(sample_rate)
    assert integrated_loudness(mono, sample_rate) == pytest.approx(
        meter.integrated_loudness(mono.astype(np.float64)), abs=0.01
    )
    assert integrated_loudness(stereo, sample_rate) == pytest.approx(
        meter.integrated_loudness(stereo.T.astype(np.float64)), abs=0.01
    )


def test_full_scale_sine_at_1khz_reads_minus_3_lufs():
    # BS.1770: a 0 dBFS 997 Hz sine in one channel reads −3.01 LKFS.
    t = np.arange(48000 * 3) / 48000
    assert integrated_loudness(np.sin(2 * np.pi * 997 * t), 48000) == pytest.approx(-3.01, abs=0.05)


def test_silence_and_too_short_audio():
    assert integrated_loudness(np.zeros(16000, np.float32), 16000) == float("-inf")
    assert np.isnan(integrated_loudness(np.ones(6000, np.float32), 16000))


def test_more_than_five_channels_is_an_error():
    with pytest.raises(ValueError, match=r"got shape \(6, 16000\)"):
        integrated_loudness(np.zeros((6, 16000), np.float32), 16000)
