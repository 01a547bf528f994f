"""Cost of the frame-level (2-Hz) store relative to the time-pooled one, per encoder.

    EMOFX_WEIGHTS_DIR=../shared/weights .venv/bin/python benchmarks/bench_frames.py

Each row embeds the same real 45-s DEAM clips twice, pooled (``Encoder.embed``) and as 3-s frames
every 0.5 s (``Encoder.embed_frames``), and prints the time ratio frames / pooled. For the
handcrafted encoder it also times the generic path (every frame encoded on its own), which its
one-pass override replaces: the printed speed-up is that override's gain. Encoders whose weights
are not found locally are skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from emofx.audio import load_audio
from emofx.encoders.base import Encoder, frame_starts
from emofx.encoders.handcrafted import HandcraftedEncoder
from emofx.encoders.logmel import LogMelEncoder
from emofx.encoders.musicnn import MusicnnEncoder
from emofx.encoders.weights import WeightsNotFoundError

DEAM_AUDIO = Path(__file__).resolve().parents[2] / "shared" / "data" / "deam-mini" / "MEMD_audio"
CLIPS = ("2", "3", "4", "5")
WINDOW_S, HOP_S = 3.0, 0.5

ENCODERS: dict[str, Callable[[], Encoder]] = {
    "handcrafted": HandcraftedEncoder,
    "logmel": LogMelEncoder,
    "musicnn (mtg_jamendo)": lambda: MusicnnEncoder("mtg_jamendo", allow_download=False),
}


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench(name: str, encoder: Encoder, clips: list[torch.Tensor]) -> None:
    encoder.embed(clips[:1])  # warm-up (librosa caches, torch kernels)
    pooled = timed(lambda: encoder.embed(clips))
    frames = timed(lambda: [encoder.embed_frames(c, WINDOW_S, HOP_S) for c in clips])
    print(f"{name:24} {pooled:9.2f} {frames:9.2f} {frames / pooled:14.2f}")
    if isinstance(encoder, HandcraftedEncoder):
        window = int(WINDOW_S * encoder.sample_rate)
        hop = HOP_S * encoder.sample_rate
        generic = timed(
            lambda: [
                Encoder.encode_frames(encoder, c, frame_starts(len(c), window, hop), window)
                for c in clips
            ]
        )
        print(f"{'  generic per-frame path':24} {'':9} {generic:9.2f} {generic / pooled:14.2f}")
        print(f"{'  one-pass speed-up':24} {generic / frames:.1f}x")


def main() -> None:
    torch.set_num_threads(1)
    print(f"{'encoder':24} {'pooled s':>9} {'frames s':>9} {'frames/pooled':>14}")
    for name, build in ENCODERS.items():
        try:
            encoder = build().eval()
        except WeightsNotFoundError as exc:
            print(f"{name:24} skipped: {exc}")
            continue
        clips = [
            torch.from_numpy(load_audio(DEAM_AUDIO / f"{c}.mp3", encoder.sample_rate))
            for c in CLIPS
        ]
        bench(name, encoder, clips)


if __name__ == "__main__":
    main()
