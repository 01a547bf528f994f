"""``emofx tag AUDIO``: the top Musicnn tags of a file, a quick check that the encoder hears music.

Tag probabilities are averaged over the file's 3-s windows (the embed stage's ``tags`` layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from emofx.audio import load_audio
from emofx.encoders.musicnn import CheckpointName, MusicnnEncoder


@dataclass(frozen=True)
class TagScore:
    tag: str
    probability: float


def tag_audio(path: str | Path, encoder: MusicnnEncoder, top_k: int = 10) -> list[TagScore]:
    """The ``top_k`` most probable tags of an audio file, highest first."""
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    audio = torch.from_numpy(load_audio(path, encoder.sample_rate))
    tags_layer = encoder.layer_names().index("tags")
    probabilities = encoder.embed([audio])[0, tags_layer, : len(encoder.tag_names)]
    order = probabilities.argsort(descending=True)[:top_k]
    return [TagScore(encoder.tag_names[i], float(probabilities[i])) for i in order]


def format_tags(scores: list[TagScore]) -> str:
    """One line per tag: name, probability and a bar."""
    width = max(len(s.tag) for s in scores)
    return "\n".join(
        f"{s.tag:<{width}}  {s.probability:.3f}  {'#' * round(s.probability * 40)}" for s in scores
    )


def tag_command(
    audio: str | Path,
    checkpoint: CheckpointName = "mtg_jamendo",
    weights_path: str | None = None,
    top_k: int = 10,
) -> str:
    """What ``emofx tag AUDIO`` prints: a header naming file and checkpoint, then the top tags."""
    encoder = MusicnnEncoder(checkpoint=checkpoint, weights_path=weights_path)
    scores = tag_audio(audio, encoder, top_k)
    return f"{audio} — Musicnn ({checkpoint}) top {len(scores)} tags:\n{format_tags(scores)}"
