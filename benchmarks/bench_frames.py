"""Cost of the frame-level (2-Hz) store next to the time-pooled one, per encoder.

    EMOFX_WEIGHTS_DIR=../shared/weights .venv/bin/python benchmarks/bench_frames.py [--stage-only]

1. Encoder level, on real 45-s DEAM clips: the pooled rows alone, the 3-s frames every 0.5 s
   alone, and both from one pass (``Encoder.embed_clips``: every distinct window encoded once).
   For the handcrafted encoder also the generic path (every span cut and encoded on its own),
   which its one-feature-pass override replaces.
2. Stage level, through ``embed_dataset`` with rendering (synthetic 30-s clips, 3 conditions): the
   embed wall time with frames on ÷ frames off (target ≤ 1.15 for handcrafted), and frames on ÷
   the frame store alone (target ≤ 1.0 for Musicnn: the pooled store costs no extra encoder call),
   medians of ``--repeats`` interleaved runs, and the windows the encoder saw in each.
Encoders whose weights are not found locally are skipped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_scaling

from bench_scaling import write_prepared  # noqa: E402

from emofx.audio import load_audio  # noqa: E402
from emofx.embed.frames import FrameSpec  # noqa: E402
from emofx.embed.runner import EncoderConfig, FrameJob, embed_dataset  # noqa: E402
from emofx.encoders.base import Encoder, FrameGrid, frame_starts  # noqa: E402
from emofx.encoders.handcrafted import HandcraftedEncoder  # noqa: E402
from emofx.encoders.logmel import LogMelEncoder  # noqa: E402
from emofx.encoders.musicnn import MusicnnEncoder  # noqa: E402
from emofx.encoders.weights import WeightsNotFoundError  # noqa: E402
from emofx.fx.conditions import resolve_condition  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEAM_AUDIO = REPO.parent / "shared" / "data" / "deam-mini" / "MEMD_audio"
CLIPS = ("2", "3", "4", "5")
WINDOW_S, HOP_S = 3.0, 0.5
CONDITIONS = ("clean", "reverb@5", "distortion@5")

ENCODERS: dict[str, Callable[[], Encoder]] = {
    "handcrafted": HandcraftedEncoder,
    "logmel": LogMelEncoder,
    "musicnn (mtg_jamendo)": lambda: MusicnnEncoder("mtg_jamendo", allow_download=False),
}
STAGE_CONFIGS = {"handcrafted": "embed.handcrafted.yaml", "musicnn": "embed.musicnn.yaml"}


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def cpu_seconds(fn: Callable[[], object]) -> float:
    """CPU time of this process and its finished children (DataLoader workers) during ``fn``:
    steadier than wall time on a machine other jobs share."""
    before = os.times()
    fn()
    after = os.times()
    return sum(after[i] - before[i] for i in range(4))


def windows_encoded(encoder: Encoder, fn: Callable[[], object]) -> int:
    """How many windows ``fn`` hands to ``encoder.encode_windows``."""
    count, encode = 0, encoder.encode_windows

    def counting(windows):
        nonlocal count
        count += len(windows)
        return encode(windows)

    encoder.encode_windows = counting
    try:
        fn()
    finally:
        del encoder.encode_windows
    return count


def bench(name: str, encoder: Encoder, clips: list[torch.Tensor]) -> None:
    encoder.embed(clips[:1])  # warm-up (librosa caches, torch kernels)
    grid, lengths = FrameGrid(WINDOW_S, HOP_S), [len(c) for c in clips]
    pooled = timed(lambda: encoder.embed(clips))
    frames = timed(lambda: encoder.embed_clips(clips, grid, lengths, pooled=False))
    both = timed(lambda: encoder.embed_clips(clips, grid, lengths))
    counts = [
        windows_encoded(encoder, lambda p=p: encoder.embed_clips(clips, grid, lengths, pooled=p))
        for p in (False, True)
    ]
    print(
        f"{name:24} {pooled:9.2f} {frames:9.2f} {both:9.2f} "
        f"{both / pooled:12.2f} {both / frames:12.2f}  windows {counts[0]} / {counts[1]}"
    )
    if isinstance(encoder, HandcraftedEncoder):
        window = int(WINDOW_S * encoder.sample_rate)
        hop = HOP_S * encoder.sample_rate
        spans = [[(s, s + window) for s in frame_starts(len(c), window, hop)] for c in clips]
        generic = timed(lambda: Encoder.encode_clips(encoder, list(zip(clips, spans, strict=True))))
        print(f"{'  generic per-span path':24} {'':9} {generic:9.2f}")
        print(f"{'  one-feature-pass gain':24} {generic / frames:.1f}x")


def stage(config_name: str, tmp: Path, repeats: int) -> None:
    """Embed time of 6 tracks × 3 conditions × 30 s: pooled only, frames only, both; each kind
    run ``repeats`` times, interleaved, median reported (one run of each moves ±2 %). The windows
    (spans) the encoder sees per kind are counted: "both" must encode none the frames do not."""
    config = yaml.safe_load((REPO / "lightning_configs" / config_name).read_text())
    if "allow_download" in config["model"]["init_args"]:
        config["model"]["init_args"]["allow_download"] = False
    path = tmp / config_name
    path.write_text(yaml.safe_dump(config))
    encoder = EncoderConfig.from_yaml(path)
    try:
        built = encoder.build_encoder()
    except WeightsNotFoundError as exc:
        print(f"{config_name}: skipped ({exc})")
        return
    conditions = [resolve_condition(c) for c in CONDITIONS]
    spec = FrameSpec(WINDOW_S, HOP_S)
    encoder_class = type(built)

    def run(kind: str) -> tuple[float, float, int]:
        root = tmp / kind
        shutil.rmtree(root, ignore_errors=True)
        manifest = write_prepared(root / "prepared", 6, encoder.sample_rate(), 30.0)
        job = FrameJob(spec, manifest, conditions, root / "store" / "frames")
        extra = {"pooled": {}, "frames": {"frames": spec}, "both": {"with_frames": job}}[kind]
        wall, windows = [], []

        def embed() -> None:
            result = embed_dataset(
                encoder, manifest, root / "prepared", conditions, root / "store", seed=0,
                data_hash="bench", progress=False, **extra,
            )  # fmt: skip
            wall.append(result.seconds)

        original = encoder_class.encode_clips

        def counting(self, clips):
            windows.append(sum(len(spans) for _, spans in clips))
            return original(self, clips)

        encoder_class.encode_clips = counting
        try:
            cpu = cpu_seconds(embed)
        finally:
            encoder_class.encode_clips = original
        return wall[0], cpu, sum(windows)

    run("pooled")  # warm-up
    kinds = ("pooled", "frames", "both")
    runs = {k: [] for k in kinds}
    for _ in range(repeats):
        for kind in kinds:
            runs[kind].append(run(kind))
    wall, cpu = ({k: statistics.median(r[i] for r in runs[k]) for k in kinds} for i in (0, 1))
    windows = {k: runs[k][0][2] for k in kinds}
    for label, t in (("wall", wall), ("cpu ", cpu)):
        print(
            f"{config_name if label == 'wall' else '':24} {label}: pooled {t['pooled']:6.1f} s  "
            f"frames {t['frames']:6.1f} s  both {t['both']:6.1f} s  "
            f"on/off {t['both'] / t['pooled']:5.2f}  on/frame-only {t['both'] / t['frames']:5.3f}"
        )
    print(
        f"{'':24} windows encoded: pooled {windows['pooled']}  frames {windows['frames']}  "
        f"both {windows['both']}  (both/frame-only {windows['both'] / windows['frames']:.3f}; "
        f"median of {repeats})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage-only", action="store_true", help="skip the encoder-level rows")
    parser.add_argument("--stage", choices=sorted(STAGE_CONFIGS), nargs="*", help="default: all")
    parser.add_argument("--repeats", type=int, default=3, help="stage runs per kind (median)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.stage_only:
        print(
            f"{'encoder':24} {'pooled s':>9} {'frames s':>9} {'both s':>9} "
            f"{'both/pooled':>12} {'both/frames':>12}  windows encoded (frames / both)"
        )
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
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.stage or STAGE_CONFIGS:
            stage(STAGE_CONFIGS[name], Path(tmp), args.repeats)


if __name__ == "__main__":
    main()
