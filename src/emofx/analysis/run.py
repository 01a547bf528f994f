"""The analyze stage: predictions + embeddings + manifest → tables, figures, metrics, report page.

Output layout under ``out_dir``::

    metrics.json       flat key figures (DVC metrics)
    fx_impact.csv      long table: performance, shifts, variability, shift size, displacement
    tables/*.csv       detail tables (dose-response, quadrant-share tests, loudness control, …)
    figures/*.png      static figures, each with an interactive self-contained figures/*.html
    index.html         the report page
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from emofx.analysis import figures as fig
from emofx.analysis import report
from emofx.analysis.config import AnalysisParams
from emofx.analysis.displacement import displacement_table, trajectory_table
from emofx.analysis.findings import VERDICT_SCORES, Finding, paper_findings
from emofx.analysis.loading import (
    ConditionInfo,
    find_prediction_files,
    load_conditions,
    load_embedding_stores,
    load_manifest,
    load_prediction_set,
)
from emofx.analysis.loudness_control import loudness_changes, loudness_control_table
from emofx.analysis.performance import performance_table
from emofx.analysis.projection import project_store
from emofx.analysis.shifts import (
    MAIN_QUANTITIES,
    dose_response_table,
    magnitude_table,
    share_tests,
    shift_table,
)

FX_IMPACT_COLUMNS = [
    "analysis", "encoder", "probe", "layer", "condition", "kind", "effect", "level", "loudness",
    "quantity", "clean_value", "value", "delta", "ci_low", "ci_high", "p_value", "q_value",
    "effect_size", "n",
]  # fmt: skip


def run_analysis(
    *,
    manifest_path: str | Path,
    conditions_path: str | Path,
    predictions_root: str | Path,
    embeddings_root: str | Path,
    out_dir: str | Path,
    params: AnalysisParams,
    seed: int,
) -> dict:
    """Run every analysis and write the report; returns ``{"metrics", "artifacts", "findings"}``.

    ``predictions_root``/``embeddings_root`` are one dataset's folders
    (``data/predictions/<ds>``, ``data/embeddings/<ds>``).
    """
    out_dir = Path(out_dir)
    conditions = load_conditions(conditions_path)
    manifest = load_manifest(manifest_path)
    dataset = _dataset_name(manifest, Path(manifest_path))
    psets = [
        load_prediction_set(encoder, probe, files, manifest, conditions, params.split)
        for (encoder, probe), files in find_prediction_files(predictions_root).items()
    ]
    stores = load_embedding_stores(embeddings_root, conditions)
    scored = manifest.index[manifest["split"] == params.split]

    performance = _concat(performance_table(p, manifest, params, seed) for p in psets)
    shifts = _concat(shift_table(p, params, seed) for p in psets)
    dose = _concat(dose_response_table(p, conditions, params, seed) for p in psets)
    shares = _concat(share_tests(p, conditions, params) for p in psets)
    magnitudes = _concat(magnitude_table(p, conditions, params, seed) for p in psets)
    store_tracks = {s.encoder: scored.intersection(s.track_ids, sort=False) for s in stores}
    displacement = _concat(
        displacement_table(s, store_tracks[s.encoder], params, seed) for s in stores
    )
    trajectories = _concat(
        trajectory_table(s, conditions, store_tracks[s.encoder], params, seed) for s in stores
    )
    coords = _concat(
        project_store(s, store_tracks[s.encoder], params.projection, seed) for s in stores
    )
    control = loudness_control_table(shifts, conditions, loudness_changes(stores, scored), params)
    findings = paper_findings(shifts, shares, magnitudes, conditions, params)

    tables = {
        "performance": performance,
        "shifts": shifts,
        "dose_response": dose,
        "quadrant_share_tests": shares,
        "shift_size": magnitudes,
        "loudness_control": control,
        "displacement": displacement,
        "trajectories": trajectories,
        "projection": coords,
    }
    artifacts = [_write_csv(t, out_dir / "tables" / f"{name}.csv") for name, t in tables.items()]
    impact = fx_impact_table(performance, shifts, magnitudes, displacement, conditions)
    artifacts.append(_write_csv(impact, out_dir / "fx_impact.csv"))

    method = params.projection.method
    pairs = {
        "performance_dose": fig.dose_figure(
            performance,
            conditions,
            list(performance["metric"].unique()) if len(performance) else [],
            "metric",
            "delta",
            "Performance under FX: Δ vs clean per level",
            "Metric under each level minus clean (y = 0), 95% paired bootstrap CI.",
        ),
        "shift_dose": fig.dose_figure(
            shifts,
            conditions,
            list(MAIN_QUANTITIES),
            "quantity",
            "shift",
            "Prediction shifts per level",
            "Mean paired shift of the prediction vs clean per level, 95% bootstrap CI.",
        ),
        "quadrant_radar": fig.radar_figure(shifts, conditions),
        "shift_size": fig.magnitude_figure(magnitudes),
        "loudness_control": fig.loudness_figure(control),
        "label_rates": fig.label_figure(shifts),
        "displacement": fig.displacement_figure(displacement, conditions),
        f"{method}_trajectories": fig.trajectory_figure(coords, conditions, method),
        f"{method}_chains": fig.chain_figure(coords, conditions, method),
    }
    entries = []
    for name, pair in pairs.items():
        if pair is None:
            continue
        artifacts += fig.save_figure(pair, out_dir / "figures", name)
        entries.append(
            report.FigureEntry(
                name, pair.title, pair.caption, f"figures/{name}.png", f"figures/{name}.html"
            )
        )

    metrics = key_metrics(performance, shifts, displacement, findings, params.split)
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    artifacts.append(metrics_path)

    page = out_dir / "index.html"
    report.render_report(
        page,
        dataset=dataset,
        split=params.split,
        n_tracks=len(psets[0].track_ids),
        encoders=sorted({p.encoder for p in psets} | {s.encoder for s in stores}),
        probes=sorted({p.probe for p in psets}),
        conditions=list(conditions),
        findings=findings,
        sections=[
            *report.clean_performance_sections(performance),
            *report.performance_delta_sections(performance),
            *report.shift_sections(shifts, params.fdr_alpha),
            *(
                s
                for s in (
                    report.share_section(shifts, shares),
                    report.effect_test_section(dose, shares),
                    report.loudness_section(control),
                    report.displacement_section(trajectories),
                )
                if s is not None
            ),
        ],
        figures=entries,
        files=[p.relative_to(out_dir).as_posix() for p in artifacts],
        params=params,
    )
    artifacts.append(page)
    return {"metrics": metrics, "artifacts": artifacts, "findings": findings}


def _dataset_name(manifest: pd.DataFrame, path: Path) -> str:
    """The manifest's ``dataset`` value, else its folder name (``data/prepared/<ds>/``)."""
    if "dataset" in manifest and manifest["dataset"].nunique() == 1:
        return str(manifest["dataset"].iloc[0])
    return path.parent.name


def _concat(tables) -> pd.DataFrame:
    tables = [t for t in tables if not t.empty]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _write_csv(table: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path


def fx_impact_table(
    performance: pd.DataFrame,
    shifts: pd.DataFrame,
    magnitudes: pd.DataFrame,
    displacement: pd.DataFrame,
    conditions: dict[str, ConditionInfo],
) -> pd.DataFrame:
    """One long table of every per-condition number, with the condition's effect/level/loudness."""
    parts = []
    if len(performance):
        parts.append(
            performance.rename(columns={"metric": "quantity"}).assign(analysis="performance")
        )
    if len(shifts):
        parts.append(
            shifts.rename(columns={"clean_mean": "clean_value", "mean": "value", "shift": "delta"})
            .drop(columns=["sd_ratio", "sd_p_value", "sd_q_value", "abs_shift"])
            .assign(analysis="shift")
        )
        spread = shifts[shifts["sd_ratio"].notna()]
        parts.append(
            spread[["encoder", "probe", "condition", "quantity", "n"]].assign(
                analysis="variability",
                value=spread["sd_ratio"],
                p_value=spread["sd_p_value"],
                q_value=spread["sd_q_value"],
            )
        )
    if len(magnitudes):
        parts.append(
            magnitudes.drop(columns=["kind", "loudness"]).assign(
                analysis="shift_size", quantity="magnitude", value=magnitudes["magnitude"]
            )
        )
    if len(displacement):
        parts.append(
            displacement.assign(
                analysis="displacement",
                quantity="cosine_distance",
                value=displacement["cosine_distance"],
            )
        )
    if not parts:
        return pd.DataFrame(columns=FX_IMPACT_COLUMNS)
    table = pd.concat(parts, ignore_index=True)
    info = table["condition"].map(conditions)
    table["kind"] = [c.kind for c in info]
    table["effect"] = [c.effect for c in info]
    table["level"] = [c.level for c in info]
    table["loudness"] = [c.loudness for c in info]
    return table.reindex(columns=FX_IMPACT_COLUMNS)


def key_metrics(
    performance: pd.DataFrame,
    shifts: pd.DataFrame,
    displacement: pd.DataFrame,
    findings: list[Finding],
    split: str,
) -> dict[str, float]:
    """Flat key figures: ``<encoder>.<probe>.<condition>.<split>_<metric>``, ``….shift_<q>``,
    ``<encoder>.<condition>.cosine_distance`` (mean over layers), ``findings.<claim>`` (1 / 0.5 /
    0 = supported / partly / not; absent when not tested)."""
    metrics: dict[str, float] = {}
    for r in performance.itertuples() if len(performance) else []:
        metrics[f"{r.encoder}.{r.probe}.{r.condition}.{split}_{r.metric}"] = r.value
    main = shifts[shifts["quantity"].isin(MAIN_QUANTITIES)] if len(shifts) else shifts
    for r in main.itertuples():
        metrics[f"{r.encoder}.{r.probe}.{r.condition}.shift_{r.quantity}"] = r.shift
    if len(displacement):
        mean = displacement.groupby(["encoder", "condition"])["cosine_distance"].mean()
        for (encoder, cond), value in mean.items():
            metrics[f"{encoder}.{cond}.cosine_distance"] = value
    for finding in findings:
        if finding.verdict in VERDICT_SCORES:
            metrics[f"findings.{finding.key}"] = VERDICT_SCORES[finding.verdict]
    return {k: float(v) for k, v in metrics.items() if np.isfinite(v)}


def mlflow_metric_name(key: str) -> str:
    """MLflow allows ``[A-Za-z0-9_-. :/]`` in metric names: other characters (``@``, ``+``) → _."""
    return re.sub(r"[^\w\-. :/]", "_", key)


def log_to_mlflow(result: dict, out_dir: str | Path | None = None) -> None:
    """Log the key figures and every artifact to the active MLflow run (the stage's parent run).

    Artifacts keep their folder below ``out_dir`` (default: the folder of ``index.html``).
    """
    if mlflow.active_run() is None:
        raise RuntimeError("log_to_mlflow needs an active MLflow run (start the stage run first)")
    mlflow.log_metrics({mlflow_metric_name(k): v for k, v in result["metrics"].items()})
    for finding in result["findings"]:
        mlflow.set_tag(f"emofx.finding.{finding.key}", finding.verdict)
    paths = [Path(p) for p in result["artifacts"]]
    root = Path(out_dir) if out_dir else next(p.parent for p in paths if p.name == "index.html")
    for path in paths:
        parent = path.parent.relative_to(root).as_posix()
        mlflow.log_artifact(str(path), artifact_path=None if parent == "." else parent)
