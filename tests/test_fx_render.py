"""Rendering: sample-rate correctness, determinism across threads, chains, loudness, tails."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import csd, welch

from emofx.audio import audio_info, load_audio, write_audio
from emofx.fx.conditions import Condition, PluginRef, Step, resolve_condition
from emofx.fx.config import parse_fx_params
from emofx.fx.effects import EFFECTS
from emofx.fx.render import RenderError, check_renderable, render, render_file

MUSIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "music-cc"
SAMPLE_RATES = [16000, 22050, 24000, 44100, 48000]
RAW = parse_fx_params({"input_level": "none"})
"""No gain staging: the effect sees the audio as given."""


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    """10 s of a real recording (Brahms, Hungarian Dance 5) at 22.05 kHz."""
    path = MUSIC / "brahms_hungarian_dance_5.ogg"
    if not path.is_file():
        pytest.skip(f"real music not available at {path} (shared data folder absent)")
    return load_audio(path, 22050, offset_s=5, duration_s=10)


def reference_lufs(audio: np.ndarray, sample_rate: int) -> float:
    return pyloudnorm.Meter(sample_rate).integrated_loudness(np.atleast_2d(audio).T.astype(float))


def test_clean_renders_to_the_input_unchanged(music):
    rendered = render(resolve_condition("clean", RAW), music, 22050)
    assert rendered.audio is music
    assert (
        rendered.loudness_in_lufs
        == rendered.loudness_out_lufs
        == pytest.approx(reference_lufs(music, 22050), abs=0.01)
    )


@pytest.mark.parametrize("name", list(EFFECTS))
def test_every_effect_keeps_shape_length_and_dtype(music, name):
    stereo = np.stack([music[:44100], music[22050:66150]])
    for level in (1, 10):
        for audio in (music[:44100], stereo):
            out = render(resolve_condition(f"{name}@{level}"), audio, 22050).audio
            assert out.shape == audio.shape and out.dtype == np.float32
            assert np.isfinite(out).all()
            assert level == 1 or not np.allclose(out, audio, atol=1e-3)


@pytest.mark.parametrize("level", [1, 5, 10])
def test_delay_echo_lag_is_the_same_in_seconds_at_every_sample_rate(level):
    expected = 0.05 + 0.027 * level
    for sample_rate in SAMPLE_RATES:
        impulse = np.zeros(sample_rate, np.float32)
        impulse[0] = 1.0
        out = render(resolve_condition(f"delay@{level}"), impulse, sample_rate).audio
        lag_s = (10 + int(np.argmax(np.abs(out[10:]) > 0.05))) / sample_rate
        # pedalboard delays by whole samples (truncating), so within one sample period:
        assert expected - 1 / sample_rate - 1e-9 <= lag_s <= expected + 1e-9, sample_rate


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
def test_band_pass_cutoffs_scale_with_the_real_nyquist(sample_rate):
    """−3 dB points measured on noise: high-pass at 100 + 400·L, low-pass at sr/2 − 600·L."""
    noise = np.random.default_rng(1).uniform(-0.5, 0.5, 4 * sample_rate).astype(np.float32)
    level = 3
    wide_low = parse_fx_params(
        {
            "input_level": "none",
            "chains": [
                {
                    "name": "lp",
                    "steps": [
                        {
                            "effect": "eq",
                            "level": level,
                            "params": {"highpass_hz": 1, "normalise_peak": 0},
                        }
                    ],
                },
                {
                    "name": "hp",
                    "steps": [
                        {
                            "effect": "eq",
                            "level": level,
                            "params": {"lowpass_below_nyquist_hz": 1, "normalise_peak": 0},
                        }
                    ],
                },
            ],
        }
    )
    for chain, cutoff in [("lp", sample_rate / 2 - 600 * level), ("hp", 100 + 400 * level)]:
        out = render(resolve_condition(f"chain:{chain}", wide_low), noise, sample_rate).audio
        freqs, cross = csd(noise, out, fs=sample_rate, nperseg=8192)
        _, power = welch(noise, fs=sample_rate, nperseg=8192)
        gain_db = 20 * np.log10(np.abs(cross / power))
        assert np.interp(cutoff, freqs, gain_db) == pytest.approx(-3.01, abs=0.3), chain


def test_output_is_bit_identical_across_runs_and_worker_counts(music):
    clips = [music[i * 22050 : (i + 3) * 22050] for i in range(3)]
    conditions = [
        resolve_condition(c)
        for c in ["chain:u2", "chorus@8", "phaser@6", "pitch_shift@3", "mp3@5", "reverb@9+lufs"]
    ]
    jobs = [(c, clip) for c in conditions for clip in clips]

    def run(workers: int) -> list[bytes]:
        with ThreadPoolExecutor(workers) as pool:
            return [r.audio.tobytes() for r in pool.map(lambda j: render(*j, 22050), jobs)]

    serial = run(1)
    assert run(1) == serial
    assert run(4) == serial


def test_chain_applies_its_steps_in_order(music):
    clip = music[: 2 * 22050]
    chain = resolve_condition("chain:u2", RAW)
    by_hand = clip
    for step in chain.steps:
        by_hand = render(
            resolve_condition(f"{step.effect}@{step.level}", RAW), by_hand, 22050
        ).audio
    np.testing.assert_array_equal(render(chain, clip, 22050).audio, by_hand)
    reversed_chain = Condition(id="chain:reversed", kind="chain", steps=chain.steps[::-1])
    assert not np.allclose(render(reversed_chain, clip, 22050).audio, by_hand, atol=1e-3)


@pytest.mark.parametrize("condition", ["distortion@10", "gain@10", "reverb@8", "chain:u2", "eq@7"])
def test_loudness_matched_twin_is_within_half_a_lu_of_clean(music, condition):
    clean_lufs = reference_lufs(music, 22050)
    plain = render(resolve_condition(condition, RAW), music, 22050)
    matched = render(resolve_condition(condition + "+lufs", RAW), music, 22050)
    assert abs(reference_lufs(plain.audio, 22050) - clean_lufs) > 1.0  # the effect did change it
    assert reference_lufs(matched.audio, 22050) == pytest.approx(clean_lufs, abs=0.5)
    assert matched.loudness_out_lufs == pytest.approx(matched.loudness_in_lufs, abs=1e-9)
    assert plain.loudness_out_lufs == pytest.approx(reference_lufs(plain.audio, 22050), abs=0.01)


@pytest.mark.parametrize("level", [2, 7])
def test_recorded_loudness_change_of_gain_is_its_decibels(music, level):
    rendered = render(resolve_condition(f"gain@{level}"), music, 22050)
    assert rendered.loudness_change_lu == pytest.approx(1.5 * level, abs=0.01)


def test_given_input_loudness_is_used_not_remeasured(music):
    rendered = render(resolve_condition("gain@2+lufs", RAW), music, 22050, loudness_in_lufs=-30.0)
    assert rendered.loudness_in_lufs == rendered.loudness_out_lufs == -30.0
    assert reference_lufs(rendered.audio, 22050) == pytest.approx(-30.0, abs=0.05)


def test_keep_tails_appends_the_reverb_tail(music):
    clip = music[:22050]
    params = parse_fx_params({"keep_tails": True, "tail_s": 1.5})
    tailed = render(resolve_condition("reverb@9", params), clip, 22050).audio
    assert tailed.shape == (int(2.5 * 22050),)
    assert np.sqrt(np.mean(tailed[22050:] ** 2)) > 0.01  # the tail rings on after the input ends
    plain = render(resolve_condition("reverb@9"), clip, 22050).audio
    np.testing.assert_array_equal(tailed[:22050], plain)


def test_render_errors_name_the_condition_and_the_cause():
    audio = np.zeros(16000, np.float32)
    with pytest.raises(RenderError, match=r"eq@10 at 16000 Hz: eq: empty pass band"):
        render(resolve_condition("eq@10"), audio, 16000)
    plugin = Condition(
        id="plugin:tal@hall",
        kind="plugin",
        steps=(Step(effect="plugin", params={"size": 0.8}, plugin=PluginRef(path="/no/tal.vst3")),),
    )
    with pytest.raises(RenderError, match=r"plugin:tal@hall at 16000 Hz: plugin file not found"):
        render(plugin, audio, 16000)
    with pytest.raises(RenderError, match=r"reverb@3: expected non-empty .* shape \(1, 2, 3\)"):
        render(resolve_condition("reverb@3"), np.zeros((1, 2, 3)), 16000)


def test_check_renderable_lists_every_failing_condition():
    conditions = [resolve_condition(c) for c in ["clean", "eq@10", "eq@5", "mp3@2", "eq@9"]]
    with pytest.raises(RenderError) as info:
        check_renderable(conditions, 16000)
    assert [line.split(" ")[0] for line in str(info.value).splitlines()] == ["eq@10", "eq@9"]
    check_renderable(conditions, 44100)


def test_render_file_keeps_channels_and_the_files_rate(tmp_path):
    rng = np.random.default_rng(0)
    write_audio(tmp_path / "in.wav", rng.uniform(-0.3, 0.3, (2, 24000)), 24000)
    rendered = render_file("distortion@7", tmp_path / "in.wav", tmp_path / "o.wav")
    info = audio_info(tmp_path / "o.wav")
    assert (info.sample_rate, info.channels, info.frames) == (24000, 2, 24000)
    assert rendered.audio.shape == (2, 24000)
    expected = render(
        resolve_condition("distortion@7"), load_audio(tmp_path / "in.wav", 24000, mono=False), 24000
    ).audio
    np.testing.assert_allclose(
        load_audio(tmp_path / "o.wav", 24000, mono=False), expected, atol=1e-4
    )
    params = parse_fx_params(
        {"chains": [{"name": "mine", "steps": [{"effect": "gain", "level": 1}]}]}
    )
    render_file("chain:mine", tmp_path / "in.wav", tmp_path / "m.flac", params=params)
    assert audio_info(tmp_path / "m.flac").frames == 24000


def test_unloadable_plugin_is_a_render_error_naming_the_condition(tmp_path):
    plugin_file = tmp_path / "broken.vst3"
    plugin_file.write_bytes(b"not really a plugin")
    params = parse_fx_params(
        {"plugins": [{"name": "broken", "path": str(plugin_file), "presets": {"a": {}}}]}
    )
    with pytest.raises(RenderError, match=r"^plugin:broken@a at 16000 Hz: "):
        render(resolve_condition("plugin:broken@a", params), np.zeros(16000, np.float32), 16000)
