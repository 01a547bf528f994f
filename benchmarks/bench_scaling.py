"""How embed and analyze scale with tracks and conditions; analyze/embed at the paper grid.

    EMOFX_WEIGHTS_DIR=../shared/weights .venv/bin/python benchmarks/bench_scaling.py [--json out]

1. embed: the handcrafted encoder through ``embed_dataset`` (pooled and frame store from one pass)
   on synthetic 5-s clips; 6 tracks × 4 conditions, then ×2 and ×4 tracks, ×2 and ×4 conditions.
2. analyze: ``run_analysis`` on synthetic predictions and embeddings (tests/analysis_stores.py);
   300 tracks × 2 encoders × 13 conditions, then ×2 and ×4 tracks, ≈×2 and ≈×4 conditions.
   Each prints the fitted exponent k of time ∝ size^k (target ≈ 1: nothing quadratic).
3. the paper grid: analyze on 1,802 tracks × 7 encoders × 64 conditions × 4 probes, against the
   embed time of that grid (45-s clips) at Musicnn's render + encode speed measured here through
   ``embed_dataset`` (frames on; the logmel encoder stands in when the weights are not found).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.analysis_stores

from emofx.analysis.config import AnalysisParams  # noqa: E402
from emofx.embed.frames import FrameSpec  # noqa: E402
from emofx.embed.runner import EncoderConfig, FrameJob, embed_dataset  # noqa: E402
from emofx.encoders.weights import WeightsNotFoundError  # noqa: E402
from emofx.fx.conditions import resolve_condition  # noqa: E402
from emofx.prepare import prepared_audio_path, to_pcm16  # noqa: E402
from tests.analysis_stores import analyse, write_stores  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONDITIONS = [
    "clean",
    *(f"{fx}@{level}" for level in (2, 5, 8) for fx in ("gain", "distortion", "reverb", "chorus")),
    *(f"{fx}@{level}" for level in (3, 9) for fx in ("delay",)),
    "gain@5+lufs",
]
PAPER = {"tracks": 1802, "clip_s": 45.0, "encoders": 7, "conditions": 64, "probes": 4}
PROBES = ("ridge", "xgboost", "mlp", "svr")
# levels per effect (5 effects + gain's loudness-matched twin): 13, 25 and 49 conditions
LEVELS = {1: [5, 8], 2: [2, 4, 6, 8], 4: [1, 2, 3, 4, 5, 6, 7, 8]}


def exponent(sizes: list[int], seconds: list[float]) -> float:
    """k in seconds ∝ size^k (least squares on the logs)."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def write_prepared(root: Path, n_tracks: int, rate: int, seconds: float) -> pd.DataFrame:
    """Tones with noise in the prepare cache (16-bit PCM); every track has a 2-Hz curve."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    ids = [f"t{i:04d}" for i in range(n_tracks)]
    for i, track in enumerate(ids):
        audio = 0.3 * np.sin(2 * np.pi * (110 + 7 * i) * t) + 0.03 * rng.standard_normal(t.size)
        path = prepared_audio_path(root, rate, track)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, to_pcm16(audio))
    return pd.DataFrame(
        {"track_id": ids, "split": (["train", "val", "test"] * n_tracks)[:n_tracks]}
    )


def embed_seconds(config: Path, root: Path, n_tracks: int, n_conditions: int, seconds: float):
    """Wall time and audio seconds of one fresh embed run (pooled + frames of every pair)."""
    encoder = EncoderConfig.from_yaml(config)
    rate = encoder.sample_rate()
    shutil.rmtree(root, ignore_errors=True)
    manifest = write_prepared(root / "prepared", n_tracks, rate, seconds)
    conditions = [resolve_condition(c) for c in CONDITIONS[:n_conditions]]
    job = FrameJob(FrameSpec(3.0, 0.5), manifest, conditions, root / "store" / "frames")
    result = embed_dataset(
        encoder,
        manifest,
        root / "prepared",
        conditions,
        root / "store",
        seed=0,
        data_hash="bench",
        progress=False,
        with_frames=job,
    )
    return result.seconds, n_tracks * n_conditions * seconds


def analyze_seconds(root: Path, n_tracks: int, levels: list[int], encoders: int, probes: int):
    """Wall time of ``run_analysis`` on synthetic stores; returns (seconds, n_conditions)."""
    shutil.rmtree(root, ignore_errors=True)
    effects = {fx: levels for fx in ("reverb", "distortion", "chorus", "delay", "gain")}
    paths = write_stores(
        root,
        n_tracks=n_tracks,
        effects=effects,
        chains=("heavy", "heavier", "heaviest") if len(levels) == 10 else (),
        encoders={f"enc_{i}": [("frontend", 64), ("head", 32)] for i in range(encoders)},
    )
    for encoder in paths.predictions.iterdir():  # the same predictions under more probe names
        for probe in PROBES[1:probes]:
            shutil.copytree(encoder / "ridge", encoder / probe)
    n_conditions = len(json.loads(paths.conditions.read_text())["conditions"])
    names = [f"enc_{i}" for i in range(encoders)]
    params = AnalysisParams()
    seconds = timed(lambda: analyse(paths, root / "report", params, 0, names))
    return seconds, n_conditions


def musicnn_config(tmp: Path) -> tuple[Path, str]:
    """Musicnn's embed config with local weights only; else the logmel encoder's."""
    config = yaml.safe_load((REPO / "lightning_configs/embed.musicnn.yaml").read_text())
    config["model"]["init_args"]["allow_download"] = False
    path = tmp / "embed.musicnn.yaml"
    path.write_text(yaml.safe_dump(config))
    try:
        EncoderConfig.from_yaml(path).build_encoder()
        return path, "musicnn"
    except WeightsNotFoundError:
        return REPO / "lightning_configs/embed.logmel.yaml", "logmel (no Musicnn weights)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    handcrafted = REPO / "lightning_configs/embed.handcrafted.yaml"
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        embed_seconds(handcrafted, tmp / "warm", 2, 2, 5.0)  # imports, librosa caches
        rows = {"tracks": [], "conditions": []}
        for k in (1, 2, 4):
            rows["tracks"].append((6 * k, embed_seconds(handcrafted, tmp / "e", 6 * k, 4, 5.0)[0]))
            rows["conditions"].append(
                (4 * k, embed_seconds(handcrafted, tmp / "e", 6, 4 * k, 5.0)[0])
            )
        for axis, points in rows.items():
            k = exponent(*map(list, zip(*points, strict=True)))
            out[f"embed_exponent_{axis}"] = k
            print(f"embed   vs {axis:10} {points}  exponent {k:.2f}")
        analyze_seconds(tmp / "a", 60, [5], 1, 1)  # imports, numba/UMAP compilation
        rows = {"tracks": [], "conditions": []}
        for k in (1, 2, 4):
            seconds, _ = analyze_seconds(tmp / "a", 300 * k, LEVELS[1], 2, 1)
            rows["tracks"].append((300 * k, seconds))
            seconds, n = analyze_seconds(tmp / "a", 300, LEVELS[k], 2, 1)
            rows["conditions"].append((n, seconds))
        for axis, points in rows.items():
            k = exponent(*map(list, zip(*points, strict=True)))
            out[f"analyze_exponent_{axis}"] = k
            print(f"analyze vs {axis:10} {[(n, round(s, 1)) for n, s in points]}  exponent {k:.2f}")

        config, label = musicnn_config(tmp)
        seconds, audio = embed_seconds(config, tmp / "m", 4, 2, 30.0)
        speed = audio / seconds
        grid_audio = PAPER["tracks"] * PAPER["conditions"] * PAPER["clip_s"]
        embed_grid = grid_audio / speed
        analyze_grid, n = analyze_seconds(
            tmp / "p", PAPER["tracks"], list(range(1, 11)), PAPER["encoders"], PAPER["probes"]
        )
        out |= {
            "embed_encoder": label,
            "embed_audio_s_per_s": speed,
            "embed_paper_grid_s_per_encoder": embed_grid,
            "analyze_paper_grid_s": analyze_grid,
            "analyze_paper_grid_conditions": n,
            "analyze_over_embed": analyze_grid / (PAPER["encoders"] * embed_grid),
        }
        print(
            f"embed {label}: {speed:.1f} audio-s/s (render + encode, frames on) → paper grid "
            f"{embed_grid / 3600:.1f} h per encoder, {PAPER['encoders'] * embed_grid / 3600:.1f} h "
            f"for {PAPER['encoders']} encoders at that speed"
        )
        print(
            f"analyze paper grid ({PAPER['tracks']} tracks × {PAPER['encoders']} encoders × {n} "
            f"conditions × {PAPER['probes']} probes): {analyze_grid:.0f} s → analyze/embed "
            f"{out['analyze_over_embed']:.4f} (target ≤ 0.10)"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
