"""Gain staging before the effects (``fx.input_level``) and the non-linear share of a render."""

from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from emofx.audio import load_audio
from emofx.fx.conditions import resolve_condition
from emofx.fx.config import FxConfigError, parse_fx_params
from emofx.fx.levels import nonlinear_share, parse_input_level
from emofx.fx.render import RenderError, render

MUSIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "music-cc"
SR = 22050


@pytest.fixture(scope="module")
def quiet() -> np.ndarray:
    """4 s of a real recording scaled to peak at 0.096, the median peak of EMOPIA's renders."""
    path = MUSIC / "brahms_hungarian_dance_5.ogg"
    if not path.is_file():
        pytest.skip(f"real music not available at {path} (shared data folder absent)")
    audio = load_audio(path, SR, offset_s=5, duration_s=4)
    return (audio * (0.096 / np.abs(audio).max())).astype(np.float32)


def condition(cid: str, input_level: str):
    return resolve_condition(cid, parse_fx_params({"input_level": input_level}))


def test_clean_is_brought_to_the_peak_or_loudness_asked_for(quiet):
    peak = render(condition("clean", "peak:-1dBFS"), quiet, SR)
    assert 20 * np.log10(np.abs(peak.audio).max()) == pytest.approx(-1.0, abs=1e-4)
    louder = render(condition("clean", "lufs:-14"), quiet, SR)
    measured = pyloudnorm.Meter(SR).integrated_loudness(louder.audio.astype(float))
    assert measured == pytest.approx(-14.0, abs=0.05)
    assert louder.loudness_in_lufs == louder.loudness_out_lufs == pytest.approx(-14.0, abs=1e-9)
    assert render(condition("clean", "none"), quiet, SR).audio is quiet


def test_every_condition_sees_the_staged_input_and_twins_match_the_staged_clean(quiet):
    staged = render(condition("clean", "peak:-1dBFS"), quiet, SR)
    gain = render(condition("gain@4", "peak:-1dBFS"), quiet, SR)
    np.testing.assert_allclose(gain.audio, staged.audio * 10 ** (6 / 20), rtol=1e-5)
    twin = render(condition("distortion@8+lufs", "peak:-1dBFS"), quiet, SR)
    assert twin.loudness_in_lufs == pytest.approx(staged.loudness_out_lufs, abs=1e-9)
    assert twin.loudness_out_lufs == pytest.approx(staged.loudness_out_lufs, abs=1e-9)


def test_distortion_is_more_than_gain_only_once_the_input_is_normalised(quiet):
    raw = render(condition("distortion@8", "none"), quiet, SR)
    staged = render(condition("distortion@8", "peak:-1dBFS"), quiet, SR)
    assert raw.nonlinear_share < 0.01  # a quiet clip: drive 19.4 dB acts as a gain
    assert staged.nonlinear_share > 0.1
    matched = render(condition("distortion@8+lufs", "peak:-1dBFS"), quiet, SR)
    assert matched.nonlinear_share == pytest.approx(staged.nonlinear_share, abs=1e-6)


def test_pure_gain_has_no_nonlinear_share_and_reverb_has_much(quiet):
    assert render(condition("gain@10", "none"), quiet, SR).nonlinear_share < 1e-6
    assert render(condition("clean", "lufs:-14"), quiet, SR).nonlinear_share == 0.0
    assert render(condition("reverb@8", "peak:-1dBFS"), quiet, SR).nonlinear_share > 0.3
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 1000))
    assert nonlinear_share(x, -3 * x) == pytest.approx(0.0, abs=1e-12)
    assert nonlinear_share(x, x + x[::-1]) == pytest.approx(0.5, abs=0.05)  # half is new
    assert nonlinear_share(x[:, :500], x) == pytest.approx(0.5, abs=0.05)  # a tail: no gain
    assert np.isnan(nonlinear_share(x, np.zeros_like(x)))


def test_input_level_is_validated_and_part_of_the_content_hash():
    assert parse_input_level("peak:-1dBFS") == ("peak", -1.0)
    assert parse_input_level("lufs:-14") == ("lufs", -14.0)
    with pytest.raises(FxConfigError, match=r"^fx\.input_level: .*'lufs:14'"):
        parse_fx_params({"input_level": "lufs:14"})
    with pytest.raises(FxConfigError, match=r"fx\.input_level: .*above 0 dBFS"):
        parse_fx_params({"input_level": "peak:3dBFS"})
    hashes = {condition("clean", s).content_hash for s in ("none", "peak:-1dBFS", "lufs:-14")}
    assert len(hashes) == 3
    assert parse_fx_params({}).input_level == "none"


def test_silence_is_left_alone_and_too_short_audio_has_no_loudness_target():
    silence = np.zeros(SR, np.float32)
    for spec in ("peak:-1dBFS", "lufs:-14"):
        assert not render(condition("reverb@3", spec), silence, SR).audio.any()
    with pytest.raises(RenderError, match=r"clean: cannot bring the input to lufs:-14"):
        render(condition("clean", "lufs:-14"), np.ones(SR // 10, np.float32) * 0.1, SR)
