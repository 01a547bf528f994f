"""Extraction is streamed and done once: encoder calls per (track, condition) and peak memory.

    .venv/bin/python benchmarks/bench_embed_streaming.py [--tracks 30] [--factor 10]

1. Counts the clips the encoder embeds: exactly one per (track, condition), and none more when the
   stage reruns unchanged or when several probes are fitted on the store afterwards.
2. Runs the same extraction on N and factor·N tracks in fresh processes and prints the ratio of
   their peak resident memory (target ≤ 1.1: shards are written as they finish, nothing is held).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from emofx.embed.runner import EncoderConfig, embed_dataset
from emofx.encoders.base import Encoder
from emofx.fx.conditions import resolve_condition
from emofx.prepare import prepared_audio_path

SR = 22_050
CONDITIONS = ["clean", "reverb@5", "distortion@5", "gain@8+lufs"]
CONFIG = {
    "model": {"class_path": "emofx.encoders.logmel.LogMelEncoder", "init_args": {}},
    "trainer": {"accelerator": "cpu", "devices": 1},
    "data": {"batch_size": 8, "shard_tracks": 8, "render_threads": 2, "num_workers": 0},
}


def make_dataset(root: Path, n_tracks: int, seconds: float = 4.0) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ids = [f"t{i:05d}" for i in range(n_tracks)]
    for track in ids:
        path = prepared_audio_path(root / "prepared", SR, track)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, (0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float32))
    manifest = pd.DataFrame(
        {
            "track_id": ids,
            "split": ["train", "val", "test", "train"] * (n_tracks // 4)
            + ["train"] * (n_tracks % 4),
        }
    )
    (root / "enc.yaml").write_text(yaml.safe_dump(CONFIG))
    return manifest


def extract(root: Path, manifest: pd.DataFrame) -> bool:
    result = embed_dataset(
        EncoderConfig.from_yaml(root / "enc.yaml"),
        manifest,
        root / "prepared",
        [resolve_condition(c) for c in CONDITIONS],
        root / "store",
        seed=0,
        data_hash="bench",
        progress=False,
    )
    return result.skipped


def peak_rss_child(n_tracks: int) -> None:
    """Entry point of the memory subprocess: prints its own peak RSS in MiB."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = make_dataset(root, n_tracks)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        extract(root, manifest)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"tracks": n_tracks, "peak_mib": peak / 1024, "before_mib": base / 1024}))


def count_calls(n_tracks: int) -> None:
    calls = {"clips": 0}
    embed = Encoder.embed

    def counting(self, audios):
        calls["clips"] += len(audios)
        return embed(self, audios)

    Encoder.embed = counting
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = make_dataset(root, n_tracks)
        extract(root, manifest)
        first = calls["clips"]
        skipped = extract(root, manifest)
        from emofx.embed.store import EmbeddingStore

        store = EmbeddingStore(root / "store")
        for _ in range(5):  # stand-in for probes/epochs: they read the store, never the encoder
            for condition in store.conditions():
                store.load(condition, 0).mean()
    expected = n_tracks * len(CONDITIONS)
    print(
        f"encoder calls: {first} clips for {expected} (track, condition) pairs "
        f"(ratio {first / expected:.2f}); rerun skipped={skipped}, clips after reruns and "
        f"5 passes over the store: {calls['clips']} (ratio {calls['clips'] / expected:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=30)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        peak_rss_child(args.child)
        return
    count_calls(args.tracks)
    peaks = []
    for n in (args.tracks, args.tracks * args.factor):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        peaks.append(json.loads(out.strip().splitlines()[-1]))
    small, large = peaks
    print(
        f"peak RSS: {small['peak_mib']:.0f} MiB for {small['tracks']} tracks, "
        f"{large['peak_mib']:.0f} MiB for {large['tracks']} tracks: "
        f"ratio {large['peak_mib'] / small['peak_mib']:.3f} (target ≤ 1.1)"
    )


if __name__ == "__main__":
    main()
