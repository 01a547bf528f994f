"""FX rendering speed: emofx's render path against bare pedalboard, one thread and all cores.

Renders a six-effect paper chain (default ``chain:u2``) on real music clips and prints, from one
run:

- overhead = t(emofx render, 1 thread) / t(bare pedalboard, 1 thread) − 1          (target ≤ 0.20)
- parallel efficiency = t(bare pedalboard, 1 thread) / (cores × t(emofx render, all cores))
                                                                                   (target ≥ 0.90)

emofx's path includes what the pipeline pays per rendered item: building the plugins from the
condition, the eq peak normalisation and the BS.1770 loudness of the output (and of the input,
unless the caller passes it once per track). Bare pedalboard is the same chain written by hand
(two boards around the eq's peak normalisation), with no loudness measurement.

    .venv/bin/python benchmarks/bench_fx.py [--clips 32] [--seconds 15] [--sample-rate 16000]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pedalboard

from emofx.audio import load_audio
from emofx.fx.conditions import resolve_condition
from emofx.fx.loudness import integrated_loudness
from emofx.fx.render import render

MUSIC = Path(__file__).resolve().parents[2] / "shared" / "data" / "music-cc"


def load_clips(n: int, seconds: float, sample_rate: int) -> list[np.ndarray]:
    """``n`` clips cut from the real recordings (noise when the shared data is absent)."""
    files = sorted(MUSIC.glob("*.ogg"))
    if not files:
        print(f"(no music at {MUSIC}: using noise)")
        rng = np.random.default_rng(0)
        return [rng.uniform(-0.3, 0.3, int(seconds * sample_rate)).astype(np.float32)] * n
    music = [load_audio(f, sample_rate) for f in files]
    music = [m for m in music if len(m) >= seconds * sample_rate] or music
    length = int(seconds * sample_rate)
    clips = []
    for i in range(n):
        track = music[i % len(music)]
        start = (i // len(music)) * length % max(len(track) - length, 1)
        clips.append(np.ascontiguousarray(track[start : start + length]))
    return clips


def bare_u2(audio: np.ndarray, sample_rate: float) -> np.ndarray:
    """The U2 chain (dist 4, eq 7, reverb 8, delay 10, chorus 2, phaser 3) in plain pedalboard."""
    first = pedalboard.Pedalboard(
        [
            pedalboard.Distortion(drive_db=12.2),
            pedalboard.HighpassFilter(cutoff_frequency_hz=2900),
            pedalboard.LowpassFilter(cutoff_frequency_hz=sample_rate / 2 - 4200),
        ]
    )
    out = first(audio, sample_rate)
    out = out / np.max(np.abs(out))
    second = pedalboard.Pedalboard(
        [
            pedalboard.Reverb(room_size=0.74, wet_level=1.0),
            pedalboard.Delay(delay_seconds=0.32, feedback=0.6, mix=0.5),
            pedalboard.Chorus(rate_hz=0.9, depth=0.28, feedback=0.14, mix=0.5),
            pedalboard.Phaser(rate_hz=0.5, depth=0.62, feedback=0.19, mix=1.0),
        ]
    )
    return second(out, sample_rate)


def run_all(jobs: dict[str, tuple[Callable, int]], clips: list, repeats: int) -> dict:
    """Best (wall, CPU) seconds per job of rendering every clip on a pool of its thread count.

    Jobs take turns within each repeat, so a burst of load from other processes hits them alike.
    """
    pools = {name: ThreadPoolExecutor(workers) for name, (_, workers) in jobs.items()}
    best = {name: (float("inf"), float("inf")) for name in jobs}
    for name, (job, workers) in jobs.items():
        list(pools[name].map(job, clips[:workers]))  # warm-up
    for _ in range(repeats):
        for name, (job, _) in jobs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            list(pools[name].map(job, clips))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    for pool in pools.values():
        pool.shutdown()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=None, help="default: 16 per core")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    n = len(os.sched_getaffinity(0))
    sr = args.sample_rate
    clips = load_clips(args.clips or 16 * n, args.seconds, sr)
    condition = resolve_condition("chain:u2")
    loudness = {id(c): integrated_loudness(c, sr) for c in clips}

    difference = np.max(np.abs(render(condition, clips[0], sr).audio - bare_u2(clips[0], sr)))
    assert difference < 1e-4, f"emofx and bare pedalboard disagree by {difference}"

    def bare(clip: np.ndarray) -> np.ndarray:
        return bare_u2(clip, sr)

    def emofx(clip: np.ndarray) -> object:
        return render(condition, clip, sr)

    def emofx_given_loudness(clip: np.ndarray) -> object:
        return render(condition, clip, sr, loudness_in_lufs=loudness[id(clip)])

    jobs = {
        "bare pedalboard, 1 thread": (bare, 1),
        "emofx render, 1 thread": (emofx, 1),
        "emofx render, input loudness given, 1 thread": (emofx_given_loudness, 1),
        f"bare pedalboard, {n} threads": (bare, n),
        f"emofx render, {n} threads": (emofx, n),
        f"emofx render, input loudness given, {n} threads": (emofx_given_loudness, n),
    }
    t = run_all(jobs, clips, args.repeats)
    audio_s = len(clips) * args.seconds
    print(
        f"chain:u2 on {len(clips)} clips × {args.seconds:g} s at {sr} Hz, {n} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name, (wall, cpu) in t.items():
        print(
            f"  {name:<50} wall {wall:6.3f} s  cpu {cpu:6.3f} s  {audio_s / wall:5.0f}× real time"
        )
    base, base_cpu = t["bare pedalboard, 1 thread"]
    for label, name in [
        ("", "emofx render"),
        (", input loudness given", "emofx render, input loudness given"),
    ]:
        wall, cpu = t[f"{name}, 1 thread"]
        parallel = t[f"{name}, {n} threads"][0]
        print(
            f"emofx{label}: overhead over bare pedalboard {wall / base - 1:+.3f} wall, "
            f"{cpu / base_cpu - 1:+.3f} cpu (target ≤ 0.20); parallel efficiency vs one bare "
            f"thread {base / (n * parallel):.3f} (target ≥ 0.90)"
        )
    bare_parallel = t[f"bare pedalboard, {n} threads"][0]
    print(f"bare pedalboard's own parallel efficiency: {base / (n * bare_parallel):.3f}")


if __name__ == "__main__":
    main()
