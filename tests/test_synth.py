"""The synthetic corpus: determinism, DEAM/EMOPIA layout fidelity, recoverable planted cues."""

from __future__ import annotations

import re
from pathlib import Path

import librosa
import mido
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.model_selection import LeaveOneOut, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from emofx.audio import audio_info, load_audio
from emofx.datasets.synth import generate_corpus, write_emopia_layout
from emofx.datasets.synth.cues import (
    AROUSAL_WEIGHTS,
    CUES,
    LABEL_SPREAD,
    VALENCE_WEIGHTS,
    cue_trajectories,
    listener_ratings,
    sample_cues,
    standardise,
    true_emotion,
)
from emofx.datasets.synth.deam_layout import DYNAMIC_DIR, STATIC_EXTRA_PATH, STATIC_PATH

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEAM_MINI = SHARED / "data" / "deam-mini"
N_TRACKS, CLIP_S, SEED = 24, 5.0, 7
FEATURE_SR = 22050


def _needs_deam_mini() -> Path:
    if not DEAM_MINI.is_dir():
        pytest.skip(f"real DEAM sample not found at {DEAM_MINI} (../shared next to the repo)")
    return DEAM_MINI


def _first_line(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.readline()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("synth") / "corpus"
    table = generate_corpus(root, n_tracks=N_TRACKS, clip_seconds=CLIP_S, seed=SEED, workers=2)
    return root, table


@pytest.fixture(scope="module")
def static_labels(corpus) -> pd.DataFrame:
    root, _ = corpus
    return pd.read_csv(root / STATIC_PATH, skipinitialspace=True).set_index("song_id")


@pytest.fixture(scope="module")
def audio_features(corpus) -> pd.DataFrame:
    """Measured from the decoded MP3s: RMS level, spectral centroid, tempo, onset strength."""
    root, table = corpus
    rows = []
    for song_id in table["song_id"]:
        y = load_audio(root / "MEMD_audio" / f"{song_id}.mp3", FEATURE_SR)
        onset_env = librosa.onset.onset_strength(y=y, sr=FEATURE_SR)
        rows.append(
            {
                "song_id": song_id,
                "rms_db": 20 * np.log10(np.sqrt(np.mean(y**2))),
                "centroid_hz": librosa.feature.spectral_centroid(y=y, sr=FEATURE_SR).mean(),
                "tempo_est": librosa.feature.tempo(onset_envelope=onset_env, sr=FEATURE_SR)[0],
                "onset_strength": onset_env.mean(),
            }
        )
    return pd.DataFrame(rows).set_index("song_id")


def _corpus_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix == ".csv"
    }


def _decoded(root: Path) -> dict[str, np.ndarray]:
    return {
        p.name: load_audio(p, 44100, mono=False) for p in sorted((root / "MEMD_audio").glob("*"))
    }


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_identical_corpus_whatever_the_worker_count(tmp_path):
    a = generate_corpus(tmp_path / "a", n_tracks=3, clip_seconds=2.0, seed=11, workers=1)
    b = generate_corpus(tmp_path / "b", n_tracks=3, clip_seconds=2.0, seed=11, workers=2)
    pd.testing.assert_frame_equal(a, b)
    assert _corpus_files(tmp_path / "a") == _corpus_files(tmp_path / "b")
    audio_a, audio_b = _decoded(tmp_path / "a"), _decoded(tmp_path / "b")
    assert audio_a.keys() == audio_b.keys() == {"1.mp3", "2.mp3", "3.mp3"}
    for name in audio_a:
        np.testing.assert_array_equal(audio_a[name], audio_b[name])


def test_different_seed_gives_different_corpus(tmp_path):
    a = generate_corpus(tmp_path / "a", n_tracks=3, clip_seconds=2.0, seed=11)
    b = generate_corpus(tmp_path / "b", n_tracks=3, clip_seconds=2.0, seed=12)
    assert not np.allclose(a["tempo_bpm"], b["tempo_bpm"])
    files_a, files_b = _corpus_files(tmp_path / "a"), _corpus_files(tmp_path / "b")
    assert files_a.keys() == files_b.keys()
    assert all(files_a[k] != files_b[k] for k in files_a if "2000_2058" not in k)
    audio_a, audio_b = _decoded(tmp_path / "a"), _decoded(tmp_path / "b")
    assert all(
        audio_a[k].shape != audio_b[k].shape or not np.array_equal(audio_a[k], audio_b[k])
        for k in audio_a
    )


# --- DEAM layout ------------------------------------------------------------------------------


def test_layout_mirrors_deam(corpus, static_labels):
    root, table = corpus
    audio = sorted((root / "MEMD_audio").iterdir())
    assert [p.name for p in audio] == sorted(f"{i}.mp3" for i in range(1, N_TRACKS + 1))
    infos = {p.stem: audio_info(p) for p in audio}
    assert {i.sample_rate for i in infos.values()} == {44100}
    channels = {int(k): i.channels for k, i in infos.items()}
    assert channels == dict(zip(table["song_id"], table["channels"], strict=True))
    assert 1 in channels.values() and list(channels.values()).count(2) > N_TRACKS / 2
    assert all(abs(i.duration_s - CLIP_S) < 0.1 for i in infos.values())

    static_bytes = (root / STATIC_PATH).read_bytes()
    lines = static_bytes.split(b"\r\n")
    assert lines[0] == b"song_id, valence_mean, valence_std, arousal_mean, arousal_std"
    assert lines[-1] == b"" and len(lines) == N_TRACKS + 2  # CRLF after every row
    assert all(re.fullmatch(rb"\d+(,\d+(\.\d{1,2})?){4}", line) for line in lines[1:-1])
    assert static_labels.index.tolist() == list(range(1, N_TRACKS + 1))
    assert static_labels.to_numpy().min() >= 0 and static_labels.to_numpy().max() <= 9
    assert static_labels[["valence_mean", "arousal_mean"]].to_numpy().min() >= 1

    for name in ("valence", "arousal"):
        path = root / DYNAMIC_DIR / f"{name}.csv"
        header = _first_line(path).decode().rstrip("\n").split(",")
        assert header == ["song_id"] + [f"sample_{ms}ms" for ms in range(500, 5001, 500)]
        dynamic = pd.read_csv(path, index_col="song_id")
        assert dynamic.index.tolist() == list(range(1, N_TRACKS + 1))
        assert dynamic.notna().all().all()
        assert dynamic.abs().to_numpy().max() <= 1.0

    cues = pd.read_csv(root / "synth_cues.csv")
    pd.testing.assert_frame_equal(cues, table, check_dtype=False)


def test_headers_match_the_real_deam_files(tmp_path):
    real = _needs_deam_mini()
    table = generate_corpus(tmp_path / "long", n_tracks=1, clip_seconds=45.0, seed=3)
    assert len(table) == 1
    for rel in (STATIC_PATH, STATIC_EXTRA_PATH):
        assert _first_line(tmp_path / "long" / rel) == _first_line(real / rel)
    for name in ("valence", "arousal"):
        ours = _first_line(tmp_path / "long" / DYNAMIC_DIR / f"{name}.csv")
        assert ours == _first_line(real / DYNAMIC_DIR / f"{name}.csv")  # 15 000 … 45 000 ms
    real_row = (real / STATIC_PATH).read_bytes().split(b"\r\n")[1]
    ours_row = (tmp_path / "long" / STATIC_PATH).read_bytes().split(b"\r\n")[1]
    assert b" " not in real_row and b" " not in ours_row  # values carry no spaces


def test_the_deam_loader_reads_the_corpus(corpus, static_labels):
    deam = pytest.importorskip("emofx.datasets.deam", reason="DEAM loader not in this checkout")
    root, table = corpus
    result = deam.load(root)
    assert result.rejected == []
    manifest = result.manifest.set_index("track_id")
    assert sorted(manifest.index, key=int) == [str(i) for i in range(1, N_TRACKS + 1)]
    np.testing.assert_allclose(
        manifest.loc[[str(i) for i in static_labels.index], "arousal"],
        static_labels["arousal_mean"],
    )
    assert (
        manifest.loc[table["song_id"].astype(str), "channels"].to_numpy() == table["channels"]
    ).all()
    dynamic = deam.load_dynamic(root)
    assert len(dynamic.manifest) == N_TRACKS and dynamic.rejected == []


# --- the emotion model --------------------------------------------------------------------------


def test_emotion_model_is_the_documented_linear_model():
    cues = sample_cues(200, np.random.default_rng(0))
    z, emotion = standardise(cues), true_emotion(cues)
    assert np.abs(np.corrcoef(z.to_numpy().T) - np.eye(len(CUES))).max() < 0.08  # independent
    for column, weights in (("arousal_true", AROUSAL_WEIGHTS), ("valence_true", VALENCE_WEIGHTS)):
        fit = LinearRegression().fit(z, emotion[column])
        norm = np.sqrt(sum(w * w for w in weights.values()))
        expected = [LABEL_SPREAD * weights.get(c.name, 0.0) / norm for c in CUES]
        np.testing.assert_allclose(fit.coef_, expected, atol=0.02)
        assert abs(fit.intercept_ - 5.0) < 0.02
        assert 0.9 * LABEL_SPREAD < emotion[column].std() < 1.1 * LABEL_SPREAD


def test_listener_noise_is_unbiased_and_deam_sized():
    rng = np.random.default_rng(1)
    ratings = [listener_ratings(5.3, rng) for _ in range(3000)]
    means = np.array([r.mean() for r in ratings])
    assert all(5 <= len(r) <= 10 and set(np.unique(r)) <= set(range(1, 10)) for r in ratings)
    assert abs(means.mean() - 5.3) < 0.05
    assert 0.4 < means.std() < 0.7
    assert 1.2 < np.mean([r.std() for r in ratings]) < 1.8  # DEAM's static stds: mean 1.5


# --- planted cues are recoverable ------------------------------------------------------------


def test_faster_tempo_means_higher_arousal_label_and_is_heard(
    corpus, static_labels, audio_features
):
    _, table = corpus
    tempo = table.set_index("song_id")["tempo_bpm"]
    arousal = static_labels.loc[tempo.index, "arousal_mean"]
    assert spearmanr(tempo, arousal).statistic > 0.45
    fit = LinearRegression().fit(standardise(table), arousal.to_numpy())
    effects = dict(zip(standardise(table).columns, fit.coef_, strict=True))
    assert all(effects[cue] > 0.1 for cue in AROUSAL_WEIGHTS if AROUSAL_WEIGHTS[cue] >= 0.2)
    # librosa's estimate matches up to octave errors (half/double time), within 5 %
    octaves = np.log2(audio_features.loc[tempo.index, "tempo_est"] / tempo)
    assert np.mean(np.abs(octaves - np.round(octaves)) < np.log2(1.05)) >= 0.9


def test_level_and_brightness_are_measurable_in_the_decoded_audio(corpus, audio_features):
    _, table = corpus
    cues = table.set_index("song_id")
    features = audio_features.loc[cues.index]
    assert spearmanr(cues["loudness_db"], features["rms_db"]).statistic > 0.95
    np.testing.assert_allclose(features["rms_db"], cues["loudness_db"], atol=2.0)
    assert spearmanr(cues["brightness"], features["centroid_hz"]).statistic > 0.75


def test_major_mode_has_higher_valence_labels(corpus, static_labels):
    _, table = corpus
    valence = static_labels.loc[table["song_id"], "valence_mean"].to_numpy()
    major = table["major"].to_numpy() == 1
    assert 0 < major.sum() < N_TRACKS
    assert valence[major].mean() - valence[~major].mean() > 1.0


def test_arousal_predicted_from_audio_features_follows_labels_and_tempo(
    corpus, static_labels, audio_features
):
    _, table = corpus
    ids = table["song_id"]
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 2, 9)))
    x = audio_features.loc[ids].to_numpy()
    y = static_labels.loc[ids, "arousal_mean"].to_numpy()
    predicted = cross_val_predict(model, x, y, cv=LeaveOneOut())
    assert spearmanr(predicted, y).statistic > 0.5
    # other cues held fixed, a faster tempo raises the predicted arousal
    fit = LinearRegression().fit(standardise(table), predicted)
    assert fit.coef_[list(standardise(table).columns).index("tempo_bpm")] > 0.1


def test_dynamic_arousal_follows_crescendo_and_build_up(corpus):
    root, table = corpus
    dynamic = pd.read_csv(root / DYNAMIC_DIR / "arousal.csv", index_col="song_id")
    times = np.array([int(c[len("sample_") : -len("ms")]) / 1000 for c in dynamic.columns])
    annotated_slope = [np.polyfit(times, dynamic.loc[i].to_numpy(), 1)[0] for i in table.song_id]
    planted_change = [
        np.diff(true_emotion(cue_trajectories(row, times[[0, -1]], CLIP_S))["arousal_true"])[0]
        for _, row in table.iterrows()
    ]
    assert spearmanr(planted_change, annotated_slope).statistic > 0.6
    crescendo = table["loudness_slope_db"].to_numpy() > 4
    assert crescendo.any() and np.mean(np.array(annotated_slope)[crescendo]) > 0


# --- EMOPIA layout ----------------------------------------------------------------------------

EMOPIA_NAME = re.compile(r"Q([1-4])_([A-Za-z0-9_-]{11})_(\d+)\.mid")


@pytest.fixture(scope="module")
def emopia(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("emopia")
    return root, write_emopia_layout(root, n_clips=30, seed=5, clip_seconds=8.0)


def test_emopia_file_names_labels_and_song_metadata_agree(emopia):
    root, clips = emopia
    names = sorted(p.name for p in (root / "midis").iterdir())
    assert len(names) == 30
    parsed = [EMOPIA_NAME.fullmatch(n) for n in names]
    assert all(parsed)
    labels = pd.read_csv(root / "label.csv")
    assert list(labels.columns) == ["ID", "4Q", "annotator"]
    assert sorted(labels["ID"] + ".mid") == names
    by_id = labels.set_index("ID")
    assert all(by_id.at[Path(m.string).stem, "4Q"] == int(m.group(1)) for m in parsed)

    songs = pd.read_csv(root / "metadata_by_song.csv")
    expected = ["songID", "num_Q1", "num_Q2", "num_Q3", "num_Q4", "DominantQ"]
    assert list(songs.columns) == expected
    assert songs[expected[1:5]].to_numpy().sum() == 30
    assert len(songs) < 30 and songs[expected[1:5]].sum(axis=1).max() > 1  # several clips/song
    counts = songs.set_index("songID")[expected[1:5]]
    assert (songs["DominantQ"].to_numpy() == counts.to_numpy().argmax(axis=1) + 1).all()
    clip_song = {Path(m.string).stem: m.group(2) for m in parsed}
    assert set(clip_song.values()) == set(songs["songID"])
    emopia_loader = pytest.importorskip("emofx.datasets.emopia")
    assert all(emopia_loader.song_id(clip) == song for clip, song in clip_song.items())


def test_emopia_quadrants_follow_the_planted_emotion(emopia):
    root, clips = emopia
    cues = pd.read_csv(root / "synth_cues.csv").set_index("ID")
    positive_v, positive_a = cues["valence_true"] >= 5, cues["arousal_true"] >= 5
    expected = np.where(positive_a, np.where(positive_v, 1, 2), np.where(positive_v, 4, 3))
    assert (cues["4Q"].to_numpy() == expected).all()
    assert cues["4Q"].nunique() == 4
    assert (cues.loc[cues["major"] == 1, "valence_true"].mean()) > cues.loc[
        cues["major"] == 0, "valence_true"
    ].mean()


def test_emopia_midi_carries_tempo_and_loudness(emopia):
    root, clips = emopia
    velocities = []
    for _, clip in clips.iterrows():
        midi = mido.MidiFile(root / "midis" / f"{clip.ID}.mid")
        tempos = [m.tempo for m in midi.tracks[0] if m.type == "set_tempo"]
        assert tempos and mido.tempo2bpm(tempos[0]) == pytest.approx(clip.tempo_bpm, abs=0.01)
        notes = [m for m in midi.tracks[1] if m.type == "note_on"]
        assert notes and abs(midi.length - 8.0) < 0.5
        velocities.append(np.mean([m.velocity for m in notes]))
    assert spearmanr(clips["loudness_db"], velocities).statistic > 0.8


def test_emopia_layout_is_deterministic(tmp_path, emopia):
    root, clips = emopia
    again = write_emopia_layout(tmp_path, n_clips=30, seed=5, clip_seconds=8.0)
    pd.testing.assert_frame_equal(clips, again)
    for name in ("label.csv", "metadata_by_song.csv"):
        assert (root / name).read_bytes() == (tmp_path / name).read_bytes()
    first = clips.ID.iloc[0]
    assert (root / "midis" / f"{first}.mid").read_bytes() == (
        tmp_path / "midis" / f"{first}.mid"
    ).read_bytes()


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_tracks": 0}, "n_tracks"),
        ({"n_tracks": 2001}, "n_tracks"),
        ({"clip_seconds": 0.5}, "clip_seconds"),
        ({"sample_rate": 12345}, "sample_rate 12345"),
        ({"workers": 0}, "workers"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    arguments = {"n_tracks": 2, "clip_seconds": 2.0, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=message):
        generate_corpus(tmp_path / "c", **arguments)
    with pytest.raises(ValueError, match="n_clips"):
        write_emopia_layout(tmp_path / "e", n_clips=0, seed=0)


def test_existing_corpus_is_kept_unless_overwrite(tmp_path):
    generate_corpus(tmp_path, n_tracks=2, clip_seconds=1.0, seed=0)
    with pytest.raises(FileExistsError, match=str(tmp_path)):
        generate_corpus(tmp_path, n_tracks=1, clip_seconds=1.0, seed=0)
    generate_corpus(tmp_path, n_tracks=1, clip_seconds=1.0, seed=0, overwrite=True)
    assert [p.name for p in (tmp_path / "MEMD_audio").iterdir()] == ["1.mp3"]


def test_synth_stage_writes_only_a_note_when_the_dataset_is_not_the_corpus(tmp_path, monkeypatch):
    """Own data (dataset.root ≠ synth.out): `emofx synth` generates nothing; writes one note."""
    import yaml

    from emofx.cli import main
    from emofx.datasets.synth import PLACEHOLDER_FILE
    from tests.pipeline_repo import tiny_params

    (tmp_path / "mine").mkdir()
    params = tiny_params(**{"synth.n_tracks": 2, "dataset.root": "mine"})
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    assert main(["synth"]) == 0
    out = tmp_path / params["synth"]["out"]
    assert [p.name for p in out.iterdir()] == [PLACEHOLDER_FILE]
    assert "dataset.root is mine" in (out / PLACEHOLDER_FILE).read_text()
    params["dataset"]["root"] = params["synth"]["out"]  # back to the corpus: generated, no note
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert main(["synth"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["MEMD_audio", "annotations", "synth_cues.csv"]
