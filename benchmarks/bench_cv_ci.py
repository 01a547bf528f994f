"""Clean-score CI width under ``evaluation.protocol: cv`` vs ``split`` on the default synthetic run.

Builds the default synthetic corpus (params.yaml's ``synth``: 100 tracks × 10 s) in a temp
project with a one-effect FX grid (the clean score is all this measures), runs the probe stage
(default probes, regression) under each protocol, timing it, and prints per probe and target the
95 % bootstrap CI width of the clean R² and Pearson r over the scored tracks (split: the test
split; cv: every track, out of fold) and their ratio. The track counts alone give about
√(1 / 0.15) ≈ 2.6; R² on 15 tracks is also skewed, so its interval is wider still. ``--keep DIR``
reuses a project built before.

    .venv/bin/python benchmarks/bench_cv_ci.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from emofx.analysis.config import AnalysisParams
from emofx.analysis.performance import pearson, r2
from emofx.analysis.statistics import bootstrap_ci

REPO = Path(__file__).resolve().parents[1]
STAGES = ("synth", "rates", "prepare", "conditions", "embed")


def emofx(root: Path, *args: str) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "emofx"), *args], cwd=root, env=env, check=True)


def widths(root: Path, manifest: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """CI width of the clean R² and Pearson r per (probe, target) from the clean files."""
    rows = []
    for path in sorted((root / "data/predictions/synth/handcrafted").glob("*/clean.parquet")):
        frame = pd.read_parquet(path).set_index("track_id")
        if protocol == "split":
            frame = frame[frame["split"] == "test"]
        for target in ("valence_norm", "arousal_norm"):
            y = manifest.loc[frame.index, target].to_numpy()
            p = frame[f"pred_{target}"].to_numpy()
            for name, metric in (("r2", r2), ("r", pearson)):
                ci = bootstrap_ci(lambda i, m=metric, y=y, p=p: m(y[i], p[i]), len(y),
                                  AnalysisParams(), 0)  # fmt: skip
                rows.append((path.parent.name, f"{name} {target}", protocol, len(y),
                             float(metric(y, p)), ci.high - ci.low))  # fmt: skip
    return pd.DataFrame(rows, columns=["probe", "metric", "protocol", "n", "value", "ci_width"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="project folder to use and keep")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_cv_ci_"))
    root.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["fx"] |= {"effects": ["gain"], "levels": [8], "chains": [], "loudness_match": []}
    params["fx"]["audition"]["clips"] = 0
    params["embed"]["frames"]["enabled"] = False
    params["probe"] |= {"tasks": ["regression"], "register_models": False}
    (root / "lightning_configs").mkdir(exist_ok=True)
    for file in (REPO / "lightning_configs").iterdir():
        (root / "lightning_configs" / file.name).write_bytes(file.read_bytes())
    tables = []
    for protocol in ("split", "cv"):
        params["evaluation"] = {"protocol": protocol}
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        done = (root / "data/embeddings/synth/handcrafted/meta.json").is_file()
        for stage in () if protocol == "cv" or done else STAGES:
            emofx(root, stage)
        start = time.perf_counter()
        emofx(root, "probe")
        print(f"probe stage ({protocol}): {time.perf_counter() - start:.0f} s")
        manifest = pd.read_parquet(root / "data/prepared/synth/manifest.parquet")
        tables.append(widths(root, manifest.set_index(manifest["track_id"].astype(str)), protocol))
    table = pd.concat(tables).pivot_table(
        index=["probe", "metric"], columns="protocol", values=["n", "value", "ci_width"]
    )
    table["ratio", ""] = table["ci_width", "split"] / table["ci_width", "cv"]
    print(table.round(3).to_string())
    ratio = table["ratio", ""]
    print(f"median ratio split/cv CI width: {np.median(ratio):.2f} (r only: "
          f"{np.median(ratio[ratio.index.get_level_values(1).str.startswith('r ')]):.2f}; "
          f"expected from n alone ≈ {np.sqrt(1 / 0.15):.2f}; project: {root})")  # fmt: skip


if __name__ == "__main__":
    main()
