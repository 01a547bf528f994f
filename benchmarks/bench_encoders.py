"""CPU throughput of the log-mel, Musicnn and PANNs encoders, in audio-seconds per second.

    EMOFX_WEIGHTS_DIR=../shared/weights .venv/bin/python benchmarks/bench_encoders.py [--threads 1]

Encoders whose weights are not found locally are skipped (never downloaded). The audio is a real
recording when ``--audio`` is given, otherwise a synthetic mix of tones and noise.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from emofx.audio import load_audio
from emofx.encoders.base import Encoder
from emofx.encoders.logmel import LogMelEncoder
from emofx.encoders.musicnn import MusicnnEncoder
from emofx.encoders.panns import PannsEncoder
from emofx.encoders.weights import WeightsNotFoundError, load_checkpoint


def keep_denormals(encoder: MusicnnEncoder) -> MusicnnEncoder:
    """The same Musicnn with its checkpoint's denormal weights restored and CPU flushing off."""
    encoder.model.load_state_dict(load_checkpoint(encoder.weights_file))
    torch.set_flush_denormal(False)
    return encoder


# The denormal row turns flushing off for the process, so it comes last.
ENCODERS: dict[str, Callable[[], Encoder]] = {
    "logmel": LogMelEncoder,
    "musicnn (mtg_jamendo)": lambda: MusicnnEncoder("mtg_jamendo", allow_download=False),
    "musicnn (mtat)": lambda: MusicnnEncoder("mtat", allow_download=False),
    "panns cnn14": PannsEncoder,
    "musicnn (mtg_jamendo, denormals)": lambda: keep_denormals(
        MusicnnEncoder("mtg_jamendo", allow_download=False)
    ),
}


def synthetic_audio(seconds: float, sample_rate: int) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tones = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 440.0, 1320.0)) / 6
    noise = np.random.default_rng(0).normal(0, 0.05, t.shape)
    return (tones + noise).astype(np.float32)


def measure(encoder: Encoder, audio: np.ndarray) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to embed ``audio`` once, after a short warm-up."""
    clip = torch.from_numpy(audio)
    encoder.embed([clip[: encoder.sample_rate * 3]])
    wall, cpu = time.perf_counter(), time.process_time()
    encoder.embed([clip])
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length to embed")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--audio", type=Path, help="a real recording to embed instead of tones")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"{args.seconds:.0f} s of audio, {args.threads} thread(s)")
    print(f"{'encoder':<32}{'wall s':>8}{'CPU s':>8}{'audio-s/s':>11}")
    for name, build in ENCODERS.items():
        try:
            encoder = build()
        except WeightsNotFoundError as exc:
            print(f"{name:<32}skipped: {str(exc).split(' (looked in')[0]}")
            continue
        sr = encoder.sample_rate
        audio = (
            load_audio(args.audio, sr, duration_s=args.seconds)
            if args.audio
            else synthetic_audio(args.seconds, sr)
        )
        wall, cpu = measure(encoder, audio)
        print(f"{name:<32}{wall:>8.2f}{cpu:>8.2f}{len(audio) / sr / wall:>11.1f}")


if __name__ == "__main__":
    main()
