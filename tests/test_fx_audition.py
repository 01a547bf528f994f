"""Audition excerpts, spectrogram images, FLAC materialisation and the ``fx list`` text."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from emofx.audio import audio_info, load_audio
from emofx.fx.audition import materialise, middle_excerpt, write_audition
from emofx.fx.conditions import resolve_condition
from emofx.fx.listing import effects_table

SR = 16000


def tone(seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_middle_excerpt():
    audio = np.arange(10.0)
    np.testing.assert_array_equal(middle_excerpt(audio, 1, 4), [3, 4, 5, 6])
    np.testing.assert_array_equal(middle_excerpt(audio, 1, 20), audio)


def test_write_audition_files_per_condition_and_clip(tmp_path):
    conditions = [resolve_condition(c) for c in ["gain@4", "chain:u2"]]
    clips = {"deam/2": tone(3.0), "b": tone(3.0, 880)}
    paths = write_audition(conditions, clips, SR, tmp_path, excerpt_s=1.0)
    assert len(paths) == 2 * 2 * 2 + 1
    assert (tmp_path / "chain-u2" / "deam_2.flac") in paths
    info = audio_info(tmp_path / "gain@4" / "b.flac")
    assert (info.sample_rate, info.frames) == (SR, SR)
    image = Image.open(tmp_path / "chain-u2" / "b.png")
    assert image.size[0] > 300 and len(image.getcolors(maxcolors=1 << 20)) > 50  # a real picture
    table = pd.read_csv(tmp_path / "loudness.csv")
    assert list(table["condition"]) == [
        "gain@4",
        "gain@4",
        "chain:u2",
        "chain:u2",
    ]
    gain = table[table["condition"] == "gain@4"]["loudness_change_lu"]
    assert gain.to_numpy() == pytest.approx([6.0, 6.0], abs=0.01)


def test_materialise_writes_every_track_condition_pair(tmp_path):
    conditions = [resolve_condition(c) for c in ["clean", "reverb@5", "distortion@2+lufs"]]
    tracks = [("t1", tone(1.0)), ("t2", tone(1.0, 220))]
    paths = materialise(conditions, iter(tracks), SR, tmp_path, workers=2)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == sorted(
        f"{c}/{t}.flac" for c in ["clean", "reverb@5", "distortion@2+lufs"] for t in ["t1", "t2"]
    )
    clean = load_audio(tmp_path / "clean" / "t2.flac", SR)
    np.testing.assert_allclose(clean, tracks[1][1], atol=1e-6)  # 24-bit FLAC


def test_fx_listing_shows_every_effect_level_table_and_chain():
    text = effects_table(sample_rate=16000)
    for name in [
        "reverb",
        "delay",
        "distortion",
        "eq",
        "chorus",
        "phaser",
        "compressor",
        "bitcrush",
        "pitch_shift",
        "gain",
        "clipping",
        "mp3",
    ]:
        assert f"\n{name} — " in f"\n{text}"
    assert "room_size = 0.1 + 0.08·L" in text
    assert "empty band (cannot render) at 16000 Hz for levels [8, 9, 10]" in text
    assert "u2: distortion@4 → eq@7 → reverb@8 → delay@10 → chorus@2 → phaser@3" in text
    drive = [line.split() for line in text.splitlines() if line.strip().startswith("10 ")]
    assert ["10", "23.0"] in drive
