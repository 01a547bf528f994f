"""Throughput of the Hugging Face encoders (MERT-v1, CLAP, Qwen2-Audio) in audio-seconds/second.

    .venv/bin/python benchmarks/bench_hf_encoders.py [--seconds 30] [--threads 2] [--json out.json]

Each row gives audio-s/s, the model FLOPs per audio second (counted by
``torch.utils.flop_counter``), the achieved FLOP/s as a fraction of the device's dense matmul peak
(measured here with a large matmul in the row's dtype: bf16 on a GPU, float32 on CPU; the
nominal bf16 peak of known GPUs is printed beside it) and the batch shape (windows × samples).
Rows, each through the same loading code users hit:

- tiny random checkpoints of all three (tests/tiny_models.py): loading + glue overhead;
- MERT-v1-95M's real architecture with random weights (throughput does not depend on the values),
  on CPU in float32 and, when a CUDA device is present, in bf16 (autocast and bf16 weights);
- the real checkpoints when they are already in the local Hugging Face cache (never downloaded).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.tiny_models
os.environ["HF_HUB_OFFLINE"] = "1"  # real checkpoints only from the local cache; read at import

from emofx.encoders.base import Encoder  # noqa: E402
from emofx.encoders.clap import ClapEncoder  # noqa: E402
from emofx.encoders.hf_loading import ModelNotAvailableError  # noqa: E402
from emofx.encoders.mert import MertEncoder  # noqa: E402
from emofx.encoders.qwen2_audio import Qwen2AudioEncoder  # noqa: E402
from tests.tiny_models import MERT_V1_95M, write_clap, write_mert, write_qwen2_audio  # noqa: E402

REAL_CHECKPOINTS: dict[str, Callable[[], Encoder]] = {
    "MERT-v1-95M (real)": lambda: MertEncoder("m-a-p/MERT-v1-95M"),
    "MERT-v1-330M (real)": lambda: MertEncoder("m-a-p/MERT-v1-330M"),
    "CLAP larger_clap_music (real)": lambda: ClapEncoder("laion/larger_clap_music"),
    "Qwen2-Audio-7B encoder (real)": lambda: Qwen2AudioEncoder("Qwen/Qwen2-Audio-7B"),
}


def synthetic_audio(seconds: float, sample_rate: int) -> torch.Tensor:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tones = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 440.0, 1320.0)) / 6
    noise = np.random.default_rng(0).normal(0, 0.05, t.shape)
    return torch.from_numpy((tones + noise).astype(np.float32))


NOMINAL_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L4": 121.0, "A10": 125.0}


@dataclass(frozen=True)
class Row:
    audio_s_per_s: float
    gflops_per_audio_s: float
    peak_fraction: float
    batch_shape: tuple[int, int]

    def line(self, label: str) -> str:
        n, samples = self.batch_shape
        return (
            f"{label:45s} {self.audio_s_per_s:10.1f} audio-s/s {self.gflops_per_audio_s:9.3g} "
            f"GFLOP/audio-s {100 * self.peak_fraction:7.2f} % of peak  batch {n}×{samples}"
        )


@cache
def matmul_peak_flops(device: torch.device, dtype: torch.dtype) -> float:
    """Dense matmul FLOP/s of this device in ``dtype`` (the best of a few runs)."""
    n = 8192 if device.type == "cuda" else 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(5):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(4):
            a @ a
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - start) / 4)
    return 2 * n**3 / best


def throughput(encoder: Encoder, seconds: float, autocast: bool = False) -> Row:
    """Audio seconds embedded per wall second (after a one-window warm-up), FLOPs and batch."""
    clip = synthetic_audio(seconds, encoder.sample_rate)
    warmup = clip[: int((encoder.window_s or 1.0) * encoder.sample_rate)]
    context = torch.autocast("cuda", dtype=torch.bfloat16) if autocast else nullcontext()
    with context:
        encoder.embed([warmup])
        if encoder.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        encoder.embed([clip])
        if encoder.device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        with FlopCounterMode(display=False) as counter:
            encoder.embed([clip])
    flops = counter.get_total_flops()
    low = autocast or next(encoder.parameters()).dtype == torch.bfloat16
    peak = matmul_peak_flops(encoder.device, torch.bfloat16 if low else torch.float32)
    window = int((encoder.window_s or seconds) * encoder.sample_rate)
    n_windows = len(encoder.pooled_spans(clip.shape[-1]))
    return Row(
        seconds / elapsed,
        flops / seconds / 1e9,
        flops / elapsed / peak,
        (min(n_windows, encoder.window_batch_size), window),
    )


def tiny_rows(workdir: Path, seconds: float) -> dict[str, Row]:
    write_mert(workdir / "mert")
    write_clap(workdir / "clap")
    write_qwen2_audio(workdir / "qwen2_audio")
    return {
        "MERT tiny (cpu)": throughput(MertEncoder(str(workdir / "mert")), seconds),
        "CLAP tiny (cpu)": throughput(ClapEncoder(str(workdir / "clap")), seconds),
        "Qwen2-Audio tiny (cpu)": throughput(
            Qwen2AudioEncoder(str(workdir / "qwen2_audio"), window_s=1.0), seconds
        ),
    }


def mert_95m_rows(workdir: Path, seconds: float, cpu: bool) -> dict[str, Row]:
    write_mert(workdir / "mert95m", MERT_V1_95M)
    rows = {}
    if cpu:
        rows["MERT-v1-95M arch (cpu, fp32)"] = throughput(
            MertEncoder(str(workdir / "mert95m")), seconds
        )
    if torch.cuda.is_available():
        encoder = MertEncoder(str(workdir / "mert95m"), window_batch_size=64).to("cuda")
        rows["MERT-v1-95M arch (cuda, bf16 autocast)"] = throughput(encoder, 20 * seconds, True)
        rows["MERT-v1-95M arch (cuda, bf16 weights)"] = throughput(
            encoder.to(torch.bfloat16), 20 * seconds
        )
    else:
        print("no CUDA device: MERT-v1-95M bf16 rows skipped")
    return rows


def real_rows(seconds: float) -> dict[str, Row]:
    rows = {}
    for label, build in REAL_CHECKPOINTS.items():
        try:
            encoder = build()
        except ModelNotAvailableError:
            print(f"{label}: not in the local Hugging Face cache, skipped")
            continue
        if torch.cuda.is_available():
            encoder = encoder.to("cuda")
        rows[label] = throughput(encoder, seconds, autocast=torch.cuda.is_available())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="audio length per row")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-cpu-95m", action="store_true", help="skip the slow CPU 95M row")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        rows = tiny_rows(Path(tmp), args.seconds)
        rows |= mert_95m_rows(Path(tmp), args.seconds, cpu=not args.no_cpu_95m)
    rows |= real_rows(args.seconds)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu only"
    print(f"threads={args.threads} device={device} audio={args.seconds:g} s per row")
    nominal = next((v for k, v in NOMINAL_BF16_TFLOPS.items() if k in device), None)
    if torch.cuda.is_available():
        measured = matmul_peak_flops(torch.device("cuda"), torch.bfloat16) / 1e12
        print(f"bf16 matmul peak measured {measured:.0f} TFLOP/s (nominal dense: {nominal})")
    for label, row in rows.items():
        print(row.line(label))
    if args.json:
        table = {label: asdict(row) for label, row in rows.items()}
        args.json.write_text(json.dumps({"device": device, "threads": args.threads, **table}))


if __name__ == "__main__":
    main()
