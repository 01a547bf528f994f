"""Write a MIDI corpus from the same composer in EMOPIA 2.2's on-disk layout.

```
<root>/midis/Q<q>_<11-char YouTube-like id>_<n>.mid    one piano track per clip (n = clip index)
<root>/label.csv                                        ID,4Q,annotator (ID = file stem)
<root>/metadata_by_song.csv                             songID,num_Q1,num_Q2,num_Q3,num_Q4,DominantQ
<root>/synth_cues.csv                                   per clip: planted cues, noiseless V/A, 4Q
```
As in EMOPIA, a song contributes several clips (1–5 here) whose quadrants may differ, so splits
must be song-disjoint. Clip cues are the song's cues plus small per-clip variation (and an
occasional change of mode). Brightness has no MIDI equivalent and is held at its neutral value;
loudness becomes note velocity. The quadrant is the sign pattern of the clip's noiseless valence
and arousal around the scale midpoint 5 (Q1 +V+A, Q2 −V+A, Q3 −V−A, Q4 +V−A).
"""

from __future__ import annotations

import string
from pathlib import Path

import mido
import numpy as np
import pandas as pd

from emofx.datasets.synth.compose import Score, compose
from emofx.datasets.synth.cues import (
    CUE_BY_NAME,
    CUES,
    LABEL_CENTRE,
    TRAJECTORY_CUES,
    sample_cues,
    true_emotion,
)

MIDI_DIR = "midis"
YOUTUBE_ID_ALPHABET = np.array(list(string.ascii_letters + string.digits + "_-"))
YOUTUBE_ID_LENGTH = 11
CLIPS_PER_SONG = (1, 5)
ANNOTATORS = ("annotator_1", "annotator_2", "annotator_3", "annotator_4")
"""EMOPIA had four annotators; their names here are placeholders."""
CLIP_JITTER = {
    "tempo_bpm": 6.0,
    "register": 2.0,
    "loudness_db": 1.5,
    "articulation": 0.08,
    "dissonance": 0.08,
    "density": 0.08,
}
"""Standard deviation of each cue's clip-to-clip variation within a song."""
MODE_CHANGE_P = 0.15
TICKS_PER_BEAT = 480
PIANO_PARTS = ("melody", "chords", "bass")
VELOCITY_AT_LOW, VELOCITY_AT_HIGH = 40.0, 110.0
"""MIDI velocity of a full-strength note at the quietest / loudest end of the loudness range."""


def write_emopia_layout(
    root: Path, *, n_clips: int, seed: int, clip_seconds: float = 30.0
) -> pd.DataFrame:
    """Compose ``n_clips`` MIDI clips in EMOPIA's layout under ``root``; returns the clip table."""
    if n_clips < 1:
        raise ValueError(f"n_clips must be >= 1, got {n_clips}")
    if not 1.0 <= clip_seconds <= 600.0:
        raise ValueError(f"clip_seconds must be in [1, 600], got {clip_seconds}")
    root = Path(root)
    if (root / MIDI_DIR).exists() and any((root / MIDI_DIR).iterdir()):
        raise FileExistsError(f"{root / MIDI_DIR}: MIDI folder is not empty")
    plan_seq, music_seq = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(plan_seq)
    clips = _plan_clips(n_clips, rng)

    (root / MIDI_DIR).mkdir(parents=True, exist_ok=True)
    for (_, clip), clip_seq in zip(clips.iterrows(), music_seq.spawn(n_clips), strict=True):
        cues = {name: float(clip[name]) for name in CUE_BY_NAME}
        score = compose(cues, int(clip.key), clip_seconds, np.random.default_rng(clip_seq))
        score_to_midi(score, cues).save(root / MIDI_DIR / f"{clip.ID}.mid")

    tables = {
        "label.csv": clips[["ID", "4Q", "annotator"]],
        "metadata_by_song.csv": _song_metadata(clips),
        "synth_cues.csv": clips,
    }
    for name, table in tables.items():
        table.to_csv(root / name, index=False, lineterminator="\n")
    return clips


def quadrant(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    """Russell quadrant 1–4 around the 1–9 scale midpoint (ties count as positive)."""
    positive_v = np.asarray(valence) >= LABEL_CENTRE
    positive_a = np.asarray(arousal) >= LABEL_CENTRE
    return np.select([positive_v & positive_a, positive_a, ~positive_v], [1, 2, 3], 4)


def score_to_midi(score: Score, cues: dict[str, float]) -> mido.MidiFile:
    """A type-1 MIDI file: a tempo track and one piano track (drums are left out, as in EMOPIA)."""
    tempo = mido.bpm2tempo(score.tempo_bpm)
    meta = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=tempo, time=0),
            mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
        ]
    )
    events: list[tuple[int, int, mido.Message]] = []
    for name in PIANO_PARTS:
        part = score.parts[name]
        for onset, duration, pitch, velocity in zip(
            part.onset_s, part.duration_s, part.pitch, part.velocity, strict=True
        ):
            start = _ticks(onset, tempo)
            end = max(_ticks(onset + duration, tempo), start + 1)
            note = int(np.clip(round(pitch), 0, 127))
            vel = _velocity(velocity, onset, score.clip_seconds, cues)
            events.append((start, 1, mido.Message("note_on", note=note, velocity=vel)))
            events.append((end, 0, mido.Message("note_off", note=note, velocity=0)))
    piano = mido.MidiTrack([mido.Message("program_change", program=0, time=0)])
    now = 0
    for tick, _, message in sorted(events, key=lambda e: (e[0], e[1])):
        piano.append(message.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.extend([meta, piano])
    return midi


def _ticks(seconds: float, tempo: int) -> int:
    return int(round(mido.second2tick(seconds, TICKS_PER_BEAT, tempo)))


def _velocity(strength: float, onset: float, clip_seconds: float, cues: dict[str, float]) -> int:
    """Loudness cue (dB, ramping over the clip) mapped linearly onto the MIDI velocity range."""
    low, high = CUE_BY_NAME["loudness_db"].low, CUE_BY_NAME["loudness_db"].high
    level_db = cues["loudness_db"] + cues["loudness_slope_db"] * (onset / clip_seconds - 0.5)
    level = VELOCITY_AT_LOW + (level_db - low) / (high - low) * (VELOCITY_AT_HIGH - VELOCITY_AT_LOW)
    return int(np.clip(round(strength * level), 1, 127))


def _plan_clips(n_clips: int, rng: np.random.Generator) -> pd.DataFrame:
    counts: list[int] = []
    while sum(counts) < n_clips:
        counts.append(
            min(int(rng.integers(CLIPS_PER_SONG[0], CLIPS_PER_SONG[1] + 1)), n_clips - sum(counts))
        )
    songs = sample_cues(len(counts), rng)
    song_ids = _youtube_ids(len(counts), rng)
    rows = []
    for song, (count, song_id) in enumerate(zip(counts, song_ids, strict=True)):
        key = int(rng.integers(0, 12))
        annotator = ANNOTATORS[rng.integers(len(ANNOTATORS))]
        for n in range(count):
            rows.append(
                {
                    "songID": song_id,
                    "clip": n,
                    "key": key,
                    "annotator": annotator,
                    **_clip_cues(songs.iloc[song], rng),
                }
            )
    clips = pd.DataFrame(rows)
    clips = pd.concat([clips, true_emotion(clips)], axis=1)
    clips["4Q"] = quadrant(clips["valence_true"], clips["arousal_true"])
    clips.insert(
        0,
        "ID",
        [
            f"Q{q}_{s}_{n}"
            for q, s, n in zip(clips["4Q"], clips["songID"], clips["clip"], strict=True)
        ],
    )
    return clips


def _clip_cues(song: pd.Series, rng: np.random.Generator) -> dict[str, float]:
    """The song's cues with clip-to-clip variation; brightness neutral (MIDI has no timbre)."""
    cues = {c.name: float(song[c.name]) for c in CUES + TRAJECTORY_CUES}
    for name, sd in CLIP_JITTER.items():
        cue = CUE_BY_NAME[name]
        cues[name] = float(np.clip(cues[name] + rng.normal(0.0, sd), cue.low, cue.high))
    if rng.random() < MODE_CHANGE_P:
        cues["major"] = 1 - cues["major"]
    cues["major"] = int(cues["major"])
    cues["brightness"] = CUE_BY_NAME["brightness"].mean
    return cues


def _youtube_ids(n: int, rng: np.random.Generator) -> list[str]:
    ids: list[str] = []
    while len(ids) < n:
        candidate = "".join(rng.choice(YOUTUBE_ID_ALPHABET, YOUTUBE_ID_LENGTH))
        if candidate not in ids:
            ids.append(candidate)
    return ids


def _song_metadata(clips: pd.DataFrame) -> pd.DataFrame:
    counts = pd.crosstab(clips["songID"], clips["4Q"]).reindex(columns=[1, 2, 3, 4], fill_value=0)
    counts.columns = [f"num_Q{q}" for q in counts.columns]
    counts["DominantQ"] = counts.to_numpy().argmax(axis=1) + 1
    order = clips["songID"].drop_duplicates()
    return counts.loc[order].rename_axis("songID").reset_index()
