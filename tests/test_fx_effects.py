"""Effect registry: the paper's level table, the added effects, and parameter validation."""

import numpy as np
import pedalboard
import pytest

from emofx.fx.effects import EFFECTS, get_effect

# The table (seed paper), evaluated at levels 1 and 10.
PAPER_TABLE = {
    "reverb": ({"room_size": 0.18, "wet_level": 1.0}, {"room_size": 0.9, "wet_level": 1.0}),
    "delay": (
        {"delay_seconds": 0.077, "feedback": 0.15, "mix": 0.5},
        {"delay_seconds": 0.32, "feedback": 0.6, "mix": 0.5},
    ),
    "distortion": ({"drive_db": 6.8}, {"drive_db": 23.0}),
    "eq": (
        {"highpass_hz": 500.0, "lowpass_below_nyquist_hz": 600.0, "normalise_peak": 1.0},
        {"highpass_hz": 4100.0, "lowpass_below_nyquist_hz": 6000.0, "normalise_peak": 1.0},
    ),
    "chorus": (
        {"rate_hz": 0.7, "depth": 0.19, "feedback": 0.12, "mix": 0.5},
        {"rate_hz": 2.5, "depth": 1.0, "feedback": 0.3, "mix": 0.5},
    ),
    "phaser": (
        {"rate_hz": 0.3, "depth": 0.34, "feedback": 0.13, "mix": 1.0},
        {"rate_hz": 1.2, "depth": 1.6, "feedback": 0.4, "mix": 1.0},
    ),
}
# emofx's documented mappings for the added effects (docs/fx.md).
ADDED_TABLE = {
    "compressor": ({"threshold_db": -4.0, "ratio": 1.9}, {"threshold_db": -40.0, "ratio": 10.0}),
    "bitcrush": ({"bit_depth": 14.8}, {"bit_depth": 4.0}),
    "pitch_shift": ({"semitones": 1.0}, {"semitones": 10.0}),
    "gain": ({"gain_db": 1.5}, {"gain_db": 15.0}),
    "clipping": ({"threshold_db": -2.4}, {"threshold_db": -24.0}),
    "mp3": ({"vbr_quality": 0.9}, {"vbr_quality": 9.0}),
}


@pytest.mark.parametrize("name", [*PAPER_TABLE, *ADDED_TABLE])
def test_parameters_at_levels_1_and_10_equal_the_table(name):
    at_1, at_10 = {**PAPER_TABLE, **ADDED_TABLE}[name]
    effect = get_effect(name)
    for level, expected in [(1, at_1), (10, at_10)]:
        resolved = effect.resolve(level)
        assert {k: resolved[k] for k in expected} == expected


def test_other_parameters_are_recorded_at_pedalboard_defaults():
    assert get_effect("reverb").resolve(5) == {
        "room_size": 0.5,
        "damping": 0.5,
        "wet_level": 1.0,
        "dry_level": 0.4,
        "width": 1.0,
        "freeze_mode": 0.0,
    }
    assert get_effect("chorus").resolve(1)["centre_delay_ms"] == 7.0
    assert get_effect("phaser").resolve(1)["centre_frequency_hz"] == 1300.0
    assert get_effect("compressor").resolve(1)["release_ms"] == 100.0


@pytest.mark.parametrize("name", [n for n in EFFECTS if n != "eq"])
def test_resolved_parameters_rebuild_the_same_pedalboard_plugin(name):
    effect = get_effect(name)
    params = effect.resolve(7)
    (plugin,) = effect.build(params, 44100)
    for key, value in params.items():
        assert getattr(plugin, key) == pytest.approx(value, rel=1e-6)


@pytest.mark.parametrize("level", [0, 11, -3])
def test_level_outside_1_to_10_is_rejected_by_name(level):
    with pytest.raises(ValueError, match=rf"level {level} outside 1-10"):
        get_effect("reverb").resolve(level)


def test_unknown_effect_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown effect 'reverbb' \(known: reverb, delay"):
        get_effect("reverbb")


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("reverb", {"roomsize": 0.5}, r"unknown parameter 'roomsize' for effect 'reverb'"),
        ("reverb", {"room_size": 1.5}, r"reverb.room_size=1.5: Room Size value must be between"),
        ("delay", {"feedback": 2.0}, r"delay.feedback=2.0: Feedback must be between"),
        ("mp3", {"vbr_quality": 11}, r"mp3.vbr_quality=11: VBR quality"),
        ("eq", {"highpass_hz": -10}, r"eq.highpass_hz=-10: expected a positive number of Hz"),
        ("gain", {"gain_db": float("nan")}, r"gain.gain_db=nan: expected a finite number"),
    ],
)
def test_bad_parameter_is_named(name, overrides, message):
    with pytest.raises(ValueError, match=message):
        get_effect(name).resolve(5, overrides)


def test_explicit_parameters_override_the_level_mapping():
    params = get_effect("delay").resolve(5, {"mix": 0.25})
    assert params == {"delay_seconds": 0.185, "feedback": 0.35, "mix": 0.25}


@pytest.mark.parametrize("sample_rate", [16000, 22050, 24000, 44100, 48000])
def test_band_pass_cutoffs_follow_the_real_nyquist(sample_rate):
    eq = get_effect("eq")
    for level in (1, 5):
        highpass, lowpass = eq.build(eq.resolve(level), sample_rate)
        assert isinstance(highpass, pedalboard.HighpassFilter)
        assert highpass.cutoff_frequency_hz == pytest.approx(100 + 400 * level)
        assert lowpass.cutoff_frequency_hz == pytest.approx(sample_rate / 2 - 600 * level)


def test_band_pass_that_closes_below_nyquist_is_an_error():
    eq = get_effect("eq")
    with pytest.raises(ValueError, match=r"empty pass band at 16000 Hz: high-pass 4100 Hz"):
        eq.build(eq.resolve(10), 16000)
    assert len(eq.build(eq.resolve(10), 22050)) == 2


def test_band_pass_normalises_the_peak_to_the_configured_value():
    eq = get_effect("eq")
    audio = np.array([0.1, -0.4, 0.2], dtype=np.float32)
    np.testing.assert_allclose(eq.finish(audio, eq.resolve(1)), [0.25, -1.0, 0.5])
    off = eq.resolve(1, {"normalise_peak": 0})
    assert eq.finish(audio, off) is audio
