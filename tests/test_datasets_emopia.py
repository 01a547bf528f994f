"""EMOPIA loader: clip/song ids, crawled audio, official splits, FluidSynth rendering."""

from __future__ import annotations

import shutil
from pathlib import Path

import mido
import numpy as np
import pandas as pd
import pytest

from emofx.audio import write_audio
from emofx.datasets import emopia_render, load_dataset
from emofx.datasets.config import DatasetParams
from emofx.datasets.emopia import song_id
from emofx.datasets.emopia_render import DEFAULT_SOUNDFONTS, RendererMissingError
from emofx.datasets.files import DatasetLayoutError
from emofx.prepare import prepare

CLIPS = {  # real EMOPIA id shapes: ids with '_' and '-', multi-digit clip index, one song in 2 Q
    "Q1__8v0MFBZoco_0": 1,
    "Q1__8v0MFBZoco_1": 1,
    "Q4_xgtwQGeB6_0_0": 4,
    "Q2_Ie5koh4qvJc_31": 2,
    "Q3_Ie5koh4qvJc_4": 3,
    "Q3_wxXpvnmq_-E_0": 3,
}
has_fluidsynth = shutil.which("fluidsynth") is not None and any(
    p.is_file() for p in DEFAULT_SOUNDFONTS
)


def write_midi(path: Path, pitch: int) -> None:
    """A 1-s, four-note piano MIDI file."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for step in range(4):
        track.append(mido.Message("note_on", note=pitch + 2 * step, velocity=80, time=0))
        track.append(mido.Message("note_off", note=pitch + 2 * step, velocity=0, time=240))
    mid.save(path)


def write_emopia(root: Path, clips: dict[str, int] = CLIPS, extra_midis=()) -> Path:
    (root / "midis").mkdir(parents=True)
    lines = ["ID,4Q,annotator"] + [f"{clip},{q},a1" for clip, q in clips.items()]
    (root / "label.csv").write_text("\n".join(lines) + "\n")
    for i, clip in enumerate([*clips, *extra_midis]):
        write_midi(root / "midis" / f"{clip}.mid", 48 + 3 * i)
    return root


def write_crawled(folder: Path, clips) -> None:
    folder.mkdir(parents=True)
    for clip in clips:
        write_audio(folder / f"{clip}.wav", np.full(4000, 0.1, np.float32), 8000)


def write_splits(folder: Path, splits: dict[str, list[str]]) -> None:
    folder.mkdir(parents=True)
    for split, clips in splits.items():
        rows = ["fname,label"] + [f"{c},Q{CLIPS[c]}" for c in clips]
        (folder / f"{split}.csv").write_text("\n".join(rows) + "\n")


def test_song_id_strips_only_quadrant_prefix_and_clip_index():
    assert song_id("Q1__8v0MFBZoco_0") == "_8v0MFBZoco"
    assert song_id("Q4_xgtwQGeB6_0_0") == "xgtwQGeB6_0"
    assert song_id("Q2_Ie5koh4qvJc_31") == "Ie5koh4qvJc"
    with pytest.raises(ValueError, match="Q5_abc_0"):
        song_id("Q5_abc_0")


def test_crawled_audio_gives_quadrants_and_song_groups(tmp_path):
    root = write_emopia(tmp_path / "emopia", extra_midis=["Q1_unlabelled1_0"])
    crawled = list(CLIPS)[:-1]  # the last clip was not crawled
    write_crawled(root / "audio", crawled)
    result = load_dataset("emopia", root, audio_dir="audio")
    m = result.manifest.set_index("track_id")
    assert list(m.index) == crawled
    assert m["quadrant"].tolist() == [1, 1, 4, 2, 3]
    assert m.loc["Q3_Ie5koh4qvJc_4", "group_id"] == m.loc["Q2_Ie5koh4qvJc_31", "group_id"]
    assert m["valence"].isna().all() and m["split"].isna().all()
    assert m.loc["Q4_xgtwQGeB6_0_0", "audio_path"] == "audio/Q4_xgtwQGeB6_0_0.wav"
    reasons = {r.item_id: r.reason for r in result.rejected}
    assert reasons == {"Q1_unlabelled1_0": "no annotation", "Q3_wxXpvnmq_-E_0": "missing audio"}


def test_official_splits_are_used_and_unlisted_clips_reported(tmp_path):
    root = write_emopia(tmp_path / "emopia")
    write_crawled(root / "audio", CLIPS)
    split_files = {
        "train": ["Q1__8v0MFBZoco_0", "Q1__8v0MFBZoco_1", "Q3_wxXpvnmq_-E_0"],
        "val": ["Q4_xgtwQGeB6_0_0"],
        "test": ["Q2_Ie5koh4qvJc_31"],
    }
    write_splits(root / "split", split_files)
    result = load_dataset("emopia", root, audio_dir="audio", split_dir="split")
    splits = result.manifest.set_index("track_id")["split"]
    assert splits.to_dict() == {c: s for s, clips in split_files.items() for c in clips}
    assert [(r.item_id, r.reason) for r in result.rejected] == [
        ("Q3_Ie5koh4qvJc_4", "not listed in the split files")
    ]


def test_split_files_that_leak_a_song_fail_in_prepare(tmp_path):
    root = write_emopia(tmp_path / "emopia")
    write_crawled(root / "audio", CLIPS)
    write_splits(
        root / "split",
        {
            "train": ["Q1__8v0MFBZoco_0", "Q2_Ie5koh4qvJc_31", "Q3_wxXpvnmq_-E_0"],
            "val": ["Q4_xgtwQGeB6_0_0", "Q1__8v0MFBZoco_1"],
            "test": ["Q3_Ie5koh4qvJc_4"],
        },
    )
    params = DatasetParams(
        name="emopia",
        format="emopia",
        root=root,
        options={"audio_dir": "audio", "split_dir": "split"},
        workers=1,
    )
    with pytest.raises(ValueError, match=r"leak group '(_8v0MFBZoco|Ie5koh4qvJc)'"):
        prepare(params, tmp_path / "out", [8000], seed=0)


def test_bad_split_and_label_files_name_file_and_line(tmp_path):
    root = write_emopia(tmp_path / "emopia")
    write_crawled(root / "audio", CLIPS)
    write_splits(
        root / "s1", {"train": ["Q1__8v0MFBZoco_0"], "val": ["Q1__8v0MFBZoco_0"], "test": []}
    )
    with pytest.raises(DatasetLayoutError, match=r"val.csv: line 2: .* already in the train"):
        load_dataset("emopia", root, audio_dir="audio", split_dir="s1")
    labels = root / "label.csv"
    labels.write_text(labels.read_text().replace("Q4_xgtwQGeB6_0_0,4", "Q4_xgtwQGeB6_0_0,2"))
    result = load_dataset("emopia", root, audio_dir="audio")  # the bad line rejects its clip
    assert "Q4_xgtwQGeB6_0_0" not in set(result.manifest["track_id"])
    assert len(result.manifest) == len(CLIPS) - 1
    assert [(r.item_id, r.reason) for r in result.rejected] == [
        (
            "Q4_xgtwQGeB6_0_0",
            "bad label: 4Q '2' does not match clip 'Q4_xgtwQGeB6_0_0' (label.csv line 4)",
        )
    ]


def test_missing_renderer_or_soundfont_is_named(tmp_path, monkeypatch):
    root = write_emopia(tmp_path / "emopia")
    with pytest.raises(RendererMissingError, match=r"soundfont not found: .*nope\.sf2"):
        load_dataset("emopia", root, soundfont=str(tmp_path / "nope.sf2"))
    font = tmp_path / "font.sf2"
    font.write_bytes(b"RIFF")
    monkeypatch.setattr(emopia_render.shutil, "which", lambda name: None)
    with pytest.raises(RendererMissingError, match=r"'fluidsynth' not found.*install_system_deps"):
        load_dataset("emopia", root, soundfont=str(font))
    monkeypatch.setattr(emopia_render, "DEFAULT_SOUNDFONTS", (tmp_path / "none.sf2",))
    with pytest.raises(RendererMissingError, match="no General-MIDI soundfont found"):
        load_dataset("emopia", root)


@pytest.mark.skipif(not has_fluidsynth, reason="fluidsynth or a GM soundfont is not installed")
def test_fluidsynth_renders_into_the_cache_and_reuses_renders(tmp_path):
    clips = {c: CLIPS[c] for c in ("Q1__8v0MFBZoco_0", "Q4_xgtwQGeB6_0_0", "Q2_Ie5koh4qvJc_31")}
    root = write_emopia(tmp_path / "emopia", clips)
    (root / "midis" / "Q2_brokenmidi1_0.mid").write_bytes(b"not a midi file")
    (root / "label.csv").write_text((root / "label.csv").read_text() + "Q2_brokenmidi1_0,2,a1\n")
    cache = tmp_path / "cache"
    result = load_dataset("emopia", root, cache_dir=cache, sample_rate=16000)
    m = result.manifest.set_index("track_id")
    assert list(m.index) == list(clips)
    assert (m["sample_rate"] == 16000).all() and m["duration_s"].between(0.9, 4.0).all()
    assert m["audio_path"].tolist() == [f"midis/{c}.mid" for c in clips]  # the source, in root
    assert all(path.is_relative_to(cache) for path in result.sources.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "emopia"]  # nothing beside
    [broken] = result.rejected
    assert broken.item_id == "Q2_brokenmidi1_0" and "MIDI render failed" in broken.reason
    wav = result.sources["Q1__8v0MFBZoco_0"]
    first_mtime = wav.stat().st_mtime_ns
    again = load_dataset("emopia", root, cache_dir=cache, sample_rate=16000)
    assert again.sources["Q1__8v0MFBZoco_0"] == wav
    assert wav.stat().st_mtime_ns == first_mtime  # reused, not re-rendered
    with pytest.raises(DatasetLayoutError, match="needs a cache folder"):
        load_dataset("emopia", root, sample_rate=16000)
    params = DatasetParams(
        name="emopia",
        format="emopia",
        root=root,
        workers=1,
        options={"sample_rate": 16000},
        max_rejected_fraction=0.3,
        split={"train": 0.34, "val": 0.33, "test": 0.33},
    )
    manifest = prepare(params, tmp_path / "out", [16000], seed=0)
    assert len(manifest) == 3
    assert pd.read_parquet(tmp_path / "out" / "manifest.parquet")["quadrant"].tolist() == [1, 4, 2]


@pytest.mark.slow
@pytest.mark.skipif(not has_fluidsynth, reason="fluidsynth or a GM soundfont is not installed")
def test_synthetic_emopia_corpus_renders_and_prepares_end_to_end(tmp_path):
    from emofx.datasets.synth.emopia_layout import write_emopia_layout

    clips = write_emopia_layout(tmp_path / "emopia", n_clips=16, seed=1, clip_seconds=2.0)
    params = DatasetParams(
        name="emopia-synth",
        format="emopia",
        root=tmp_path / "emopia",
        options={"sample_rate": 16000},
        split={"train": 0.5, "val": 0.25, "test": 0.25},
    )
    manifest = prepare(params, tmp_path / "out", [16000], seed=0)
    expected = clips.set_index("ID")["4Q"]
    assert sorted(manifest["track_id"]) == sorted(expected.index)
    assert (manifest.set_index("track_id")["quadrant"] == expected).all()
    assert manifest["group_id"].tolist() == [song_id(c) for c in manifest["track_id"]]
    assert (manifest.groupby("group_id")["split"].nunique() == 1).all()
    assert set(manifest["split"]) == {"train", "val", "test"}


def test_the_release_split_files_are_read(tmp_path):
    """EMOPIA 1.0's own ``split/{train,val,test}_clip.csv`` (``,clip_name`` with ``.mid`` names)."""
    from tests.conftest import shared_path

    release = shared_path("data", "emopia-mini", "EMOPIA_1.0")
    root = tmp_path / "EMOPIA_1.0"
    shutil.copytree(release, root)
    write_crawled(root / "audio", pd.read_csv(release / "label.csv")["ID"])
    result = load_dataset("emopia", root, audio_dir="audio", split_dir="split")
    splits = result.manifest.set_index("track_id")["split"]
    for split in ("train", "val", "test"):
        listed = pd.read_csv(release / "split" / f"{split}_clip.csv")["clip_name"]
        assert sorted(splits[splits == split].index) == sorted(c[:-4] for c in listed)
    assert splits.notna().all()


def test_a_dataset_reached_through_a_symlink_renders_and_prepares(tmp_path):
    """`..` in a render path relative to a symlinked root climbs the link's *target*: the loader
    and the decoder work on the resolved root, so the rendered audio is found."""
    clips = {c: CLIPS[c] for c in ("Q1__8v0MFBZoco_0", "Q4_xgtwQGeB6_0_0", "Q2_Ie5koh4qvJc_31")}
    real = write_emopia(tmp_path / "disk" / "deep" / "emopia", clips)
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "emopia").symlink_to(real)
    options = {"sample_rate": 16000, "render_dir": str(tmp_path / "renders")}
    result = load_dataset("emopia", tmp_path / "datasets" / "emopia", **options)
    assert all(path.is_relative_to(tmp_path / "renders") for path in result.sources.values())
    assert not result.rejected and len(result.manifest) == 3
    params = DatasetParams(
        name="emopia",
        format="emopia",
        root=tmp_path / "datasets" / "emopia",
        workers=1,
        options=options,
        split={"train": 0.34, "val": 0.33, "test": 0.33},
    )
    assert len(prepare(params, tmp_path / "out", [16000], seed=0)) == 3
