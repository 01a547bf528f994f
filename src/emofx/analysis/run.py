"""The analyze stage: predictions + embeddings + manifest → tables, figures, metrics, report page.

Output layout under ``out_dir``::

    metrics.json       flat key figures (DVC metrics)
    fx_impact.csv      long table: performance, shifts, variability, shift size, displacement
    dynamic_impact.csv per-song metrics of dynamic (2 Hz) predictions per condition (or empty)
    tables/*.csv       detail tables (dose-response, quadrant-share tests, loudness control, …)
    figures/*.png      static figures, each with an interactive self-contained figures/*.html
    index.html         the report page
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import mlflow
import pandas as pd

from emofx.analysis import dynamic_figures, embedding_figures, headline, report, shift_figures
from emofx.analysis.config import AnalysisParams
from emofx.analysis.displacement import displacement_table, trajectory_table
from emofx.analysis.dynamic import DynamicSet, dynamic_metrics, dynamic_table, load_dynamic_sets
from emofx.analysis.evaluation_runs import log_evaluation_runs
from emofx.analysis.figure_io import FigurePair, save_figure, write_plotly_js
from emofx.analysis.findings import paper_findings
from emofx.analysis.gain_staging import gain_staging_table
from emofx.analysis.headline import findings_table
from emofx.analysis.loading import (
    CLEAN,
    AnalysisInputError,
    ConditionInfo,
    condition_files,
    find_prediction_files,
    load_conditions,
    load_embedding_stores,
    load_manifest,
    load_prediction_set,
)
from emofx.analysis.loudness_control import loudness_changes, loudness_control_table
from emofx.analysis.performance import fold_table, performance_table
from emofx.analysis.projection import project_store
from emofx.analysis.selection import select_probes, validation_scores
from emofx.analysis.shifts import (
    MAIN_QUANTITIES,
    chain_tests,
    correct_chain_tests,
    correct_share_tests,
    correct_shifts,
    dose_response_table,
    magnitude_table,
    share_tests,
    shift_table,
)
from emofx.analysis.summary import flat_numbers, fx_impact_table, headline_metrics
from emofx.evaluation.config import EvaluationParams
from emofx.tracking import log_artifact_once


@dataclass
class Tables:
    """Every detail table of a run (each written to ``tables/<field>.csv``)."""

    performance: pd.DataFrame
    shifts: pd.DataFrame
    dose_response: pd.DataFrame
    quadrant_share_tests: pd.DataFrame
    shift_size: pd.DataFrame
    chains_vs_single: pd.DataFrame
    loudness_control: pd.DataFrame
    gain_staging: pd.DataFrame
    displacement: pd.DataFrame
    trajectories: pd.DataFrame
    projection: pd.DataFrame
    validation: pd.DataFrame
    selected_probes: pd.DataFrame
    folds: pd.DataFrame  # clean score per fold (cross-validation only)


def run_analysis(
    *,
    manifest_path: str | Path,
    conditions_path: str | Path,
    predictions_root: str | Path | Sequence[str | Path],
    embeddings_root: str | Path,
    out_dir: str | Path,
    params: AnalysisParams,
    seed: int,
    encoders: Sequence[str],
    evaluation: EvaluationParams | None = None,
) -> dict:
    """Run every analysis and write the report; returns ``{"metrics", "artifacts", "findings"}``.

    ``predictions_root``/``embeddings_root`` are one dataset's folders
    (``data/predictions/<ds>``, ``data/embeddings/<ds>``); several prediction roots (probes and
    the seed report's systems) are analysed together, and so are their dynamic (2 Hz)
    predictions (``<encoder>/<probe>/dynamic/``) when there are any. Only ``encoders``
    (``embed.encoders``) are read from the embeddings and the first prediction root: both are
    persisted, so a dropped encoder's files stay there. ``evaluation`` resolves like the probe
    stage's; under ``cv`` every track is scored on its out-of-fold predictions.
    """
    out_dir = Path(out_dir)
    conditions = load_conditions(conditions_path)
    manifest = load_manifest(manifest_path)
    roots = [predictions_root] if isinstance(predictions_root, str | Path) else predictions_root
    files = find_prediction_files(roots, encoders)
    systems = set(condition_files(roots[1:], "*.parquet"))
    psets = [
        load_prediction_set(encoder, probe, pair_files, manifest, conditions, params.split)
        for (encoder, probe), pair_files in files.items()
    ]
    dsets = load_dynamic_sets(roots, manifest, conditions, params.split, encoders)
    stores = load_embedding_stores(embeddings_root, conditions, encoders)
    protocol = (evaluation or EvaluationParams(protocol="split")).resolve(len(manifest))
    scored = manifest.index[manifest["split"] == params.split]
    if protocol == "cv":
        scored = manifest.index
        stale = [f"{p.encoder}/{p.probe}" for p in psets if "fold" not in p.frames[CLEAN]]
        if stale:
            raise AnalysisInputError(
                f"evaluation.protocol resolves to cv but {stale[0]} has no out-of-fold "
                "predictions (no 'fold' column): rerun the probe and systems stages"
            )
    store_tracks = {s.encoder: scored.intersection(s.track_ids, sort=False) for s in stores}
    for encoder, ids in store_tracks.items():
        if len(ids) < 2:
            raise AnalysisInputError(
                f"{Path(embeddings_root) / encoder}: fewer than 2 {params.split} tracks stored"
            )

    performance = _concat(performance_table(p, manifest, params, seed) for p in psets)
    # each table is one multiple-testing family: BH again over the concatenated table
    shifts = correct_shifts(_concat(shift_table(p, params, seed) for p in psets))
    shares = correct_share_tests(_concat(share_tests(p, conditions) for p in psets))
    chains = correct_chain_tests(_concat(chain_tests(p, conditions) for p in psets))
    magnitudes = _concat(magnitude_table(p, conditions, params, seed) for p in psets)
    displacement = _concat(
        displacement_table(s, store_tracks[s.encoder], params, seed) for s in stores
    )
    probe_files = {pair: f for pair, f in files.items() if pair not in systems}
    scores = validation_scores(probe_files, manifest, conditions, params)
    pairs = pd.MultiIndex.from_frame(performance[["encoder", "probe"]])
    candidates = performance[~pairs.isin(list(systems))]
    selected = select_probes(candidates, scores)
    tables = Tables(
        performance=performance,
        shifts=shifts,
        dose_response=_concat(dose_response_table(p, conditions, params, seed) for p in psets),
        quadrant_share_tests=shares,
        shift_size=magnitudes,
        chains_vs_single=chains,
        loudness_control=loudness_control_table(
            shifts, conditions, loudness_changes(stores, scored), params
        ),
        gain_staging=gain_staging_table(stores, scored, list(conditions)),
        displacement=displacement,
        trajectories=_concat(
            trajectory_table(s, conditions, store_tracks[s.encoder], params, seed) for s in stores
        ),
        projection=_concat(
            project_store(s, store_tracks[s.encoder], params.projection, seed) for s in stores
        ),
        validation=scores,
        selected_probes=selected,
        folds=_concat(fold_table(p, manifest, params) for p in psets),
    )
    findings = paper_findings(shifts, shares, chains, conditions, params)

    artifacts = [
        _write_csv(getattr(tables, f.name), out_dir / "tables" / f"{f.name}.csv")
        for f in fields(tables)
    ]
    impact = fx_impact_table(
        performance, shifts, magnitudes, displacement, tables.gain_staging, conditions
    )
    artifacts.append(_write_csv(impact, out_dir / "fx_impact.csv"))
    artifacts.append(write_plotly_js(out_dir))
    dynamic = _concat(dynamic_table(d, params, seed) for d in dsets)
    headline_entries, detail_entries = [], []
    pairs = headline_pairs(tables, dynamic, list(conditions), params.fdr_alpha)
    for name, pair in pairs.items():
        saved, entry = _save(pair, out_dir, name)
        artifacts += saved
        headline_entries.append(entry)
    for name, pair in figure_pairs(tables, conditions, params.projection.method).items():
        saved, entry = _save(pair, out_dir, name)
        artifacts += saved
        detail_entries.append(entry)
    dynamic_files, dynamic_part = dynamic_outputs(dsets, dynamic, out_dir, params)
    artifacts += dynamic_files
    n_tracks = len(psets[0].track_ids)
    metrics = headline_metrics(performance, shifts, selected, findings, systems, n_tracks)
    if len(dynamic):
        metrics["dynamic"] = dynamic_metrics(dynamic)
    metrics["evaluation"] = {"protocol": protocol} | (
        {"folds": evaluation.folds, "repeats": evaluation.repeats} if protocol == "cv" else {}
    )
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    artifacts.append(metrics_path)

    sections = report_sections(tables, selected, systems, params)
    if dynamic_part:
        sections.append(dynamic_part)
    if detail_entries:
        note = "Every figure of the run beyond the headline; each has an interactive version."
        sections.append(report.Section("Detail figures", "", note, tuple(detail_entries)))
    summary = report.RunSummary(
        dataset=_dataset_name(manifest, Path(manifest_path)),
        split="out-of-fold" if protocol == "cv" else params.split,
        n_tracks=n_tracks,
        protocol=report.protocol_line(protocol, evaluation, tables.folds, selected),
        encoders=sorted(
            {p.encoder for p in [*psets, *dsets] if (p.encoder, p.probe) not in systems}
            | {s.encoder for s in stores}
        ),  # fmt: skip
        probes=sorted({p.probe for p in [*psets, *dsets] if (p.encoder, p.probe) not in systems}),
        shown=[f"{r.task}: {r.encoder} / {r.probe}" for r in selected.itertuples()],
        conditions=list(conditions),
    )
    page = report.render_report(
        out_dir / "index.html",
        summary=summary,
        headline=headline_entries,
        findings=findings_table(findings, performance, shifts, selected, params.fdr_alpha),
        sections=sections,
        files=[p.relative_to(out_dir).as_posix() for p in artifacts],
        params=params,
    )
    evaluated = _without_systems(performance, systems), _without_systems(shifts, systems)
    return {
        "metrics": metrics,
        "artifacts": [*artifacts, page],
        "findings": findings,
        "evaluation": EvaluationInputs(*evaluated, conditions, params.split),
    }


@dataclass(frozen=True)
class EvaluationInputs:
    """What :func:`log_to_mlflow` turns into nested evaluation runs (probes, not systems)."""

    performance: pd.DataFrame
    shifts: pd.DataFrame
    conditions: dict[str, ConditionInfo]
    split: str


def _without_systems(table: pd.DataFrame, systems: set[tuple[str, str]]) -> pd.DataFrame:
    if table.empty:
        return table
    return table[~pd.MultiIndex.from_frame(table[["encoder", "probe"]]).isin(list(systems))]


def _save(pair: FigurePair, out_dir: Path, name: str) -> tuple[list[Path], report.FigureEntry]:
    """Write a figure pair under ``out_dir/figures``; its files and its report entry."""
    files = save_figure(pair, out_dir / "figures", name)
    entry = report.FigureEntry(
        name, pair.title, pair.caption, f"figures/{name}.png", f"figures/{name}.html"
    )
    return files, entry


def dynamic_outputs(
    dsets: list[DynamicSet], dynamic: pd.DataFrame, out_dir: Path, params: AnalysisParams
) -> tuple[list[Path], report.Section | None]:
    """``dynamic_impact.csv`` (a DVC output: written empty without dynamic predictions), the
    dynamic figures and the report section."""
    artifacts = [_write_csv(dynamic, out_dir / "dynamic_impact.csv")]
    if dynamic.empty:
        return artifacts, None
    pairs = {
        f"dynamic_curves_{d.encoder}_{d.probe}": dynamic_figures.dynamic_curves_figure(d, dynamic)
        for d in dsets
    }
    pairs["dynamic_song_r_delta"] = dynamic_figures.dynamic_delta_figure(dynamic)
    entries = []
    for name, pair in pairs.items():
        if pair is not None:
            files, entry = _save(pair, out_dir, name)
            artifacts += files
            entries.append(entry)
    return artifacts, report.dynamic_section(dynamic, params.fdr_alpha, entries)


def figure_pairs(
    tables: Tables, conditions: dict[str, ConditionInfo], method: str
) -> dict[str, FigurePair]:
    """Every figure the run has data for, by file name. The per-probe detail figures show the
    probes of the report's body (val-selected per encoder and task): with every probe and the 24
    seed-report systems they grew to 16 000-pixel strips; all probes stay in ``tables/``."""
    shown = {(r.encoder, r.probe) for r in tables.selected_probes.itertuples()}

    def body(table: pd.DataFrame) -> pd.DataFrame:
        if table.empty or not {"encoder", "probe"} <= set(table.columns):
            return table
        keep = [pair in shown for pair in zip(table["encoder"], table["probe"], strict=True)]
        return table[keep]

    performance, shifts = body(tables.performance), body(tables.shifts)
    metrics = list(performance["metric"].unique()) if len(performance) else []
    pairs = {
        "performance_dose": shift_figures.dose_figure(
            performance,
            conditions,
            metrics,
            "metric",
            "delta",
            "Performance under FX: Δ vs clean per level",
            "Metric under each level minus clean (y = 0), 95% paired bootstrap CI.",
        ),
        "shift_dose": shift_figures.dose_figure(
            shifts,
            conditions,
            list(MAIN_QUANTITIES),
            "quantity",
            "shift",
            "Prediction shifts per level",
            "Mean paired shift of the prediction vs clean per level, 95% bootstrap CI.",
        ),
        "quadrant_radar": shift_figures.radar_figure(shifts, conditions),
        "shift_size": shift_figures.magnitude_figure(body(tables.shift_size)),
        "loudness_control": shift_figures.loudness_figure(body(tables.loudness_control)),
        "label_rates": shift_figures.label_figure(shifts),
        "displacement": embedding_figures.displacement_figure(tables.displacement, conditions),
        f"{method}_trajectories": embedding_figures.trajectory_figure(
            tables.projection, conditions, method
        ),
        f"{method}_chains": embedding_figures.chain_figure(tables.projection, conditions, method),
    }
    return {name: pair for name, pair in pairs.items() if pair is not None}


def headline_pairs(
    tables: Tables, dynamic: pd.DataFrame, conditions: list[str], alpha: float
) -> dict[str, FigurePair]:
    """The first-screen figures (a)–(d) the run has data for, by file name."""
    pairs = {
        "headline_scores": headline.score_figure(
            tables.performance, tables.selected_probes, conditions
        ),
        "headline_shifts": headline.shift_figure(
            tables.shifts, tables.selected_probes, conditions, alpha
        ),
        "headline_loudness": headline.loudness_figure(
            tables.loudness_control, tables.selected_probes, alpha
        ),
        "headline_dynamic": headline.dynamic_figure(dynamic, conditions),
    }
    return {name: pair for name, pair in pairs.items() if pair is not None}


def report_sections(
    tables: Tables, selected: pd.DataFrame, systems: set[tuple[str, str]], params: AnalysisParams
) -> list[report.Section]:
    """The collapsed detail sections: the shown probes' tables, every probe and system, then
    the analyses across probes."""
    keys = ["encoder", "probe", "task"]
    shown_perf, other_perf = _split_by(tables.performance, selected, keys)
    shown_shift, other_shift = _split_by(tables.shifts, selected, keys)
    parts = (
        report.performance_delta_section(shown_perf, "Performance under FX (shown probes)"),
        report.shift_section(shown_shift, params.fdr_alpha, "Prediction shifts (shown probes)"),
        report.comparison_section(
            tables.performance,
            tables.validation,
            selected,
            systems,
            report.per_probe_sections(other_perf, other_shift, params.fdr_alpha),
        ),
        report.share_section(tables.shifts, tables.quadrant_share_tests),
        report.effect_test_section(tables.dose_response, tables.quadrant_share_tests),
        report.loudness_section(tables.loudness_control),
        report.gain_staging_section(tables.gain_staging),
        report.displacement_section(tables.trajectories),
    )
    return [s for s in parts if s is not None]


def _split_by(
    table: pd.DataFrame, selected: pd.DataFrame, keys: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of ``table`` whose ``keys`` are in ``selected``, and the others."""
    if table.empty:
        return table, table
    inside = table.merge(selected[keys], on=keys, how="left", indicator=True)["_merge"] == "both"
    return table[inside.to_numpy()], table[~inside.to_numpy()]


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


def mlflow_metric_name(key: str) -> str:
    """MLflow allows ``[A-Za-z0-9_-. :/]`` in metric names: other characters (``@``, ``+``) → _."""
    return re.sub(r"[^\w\-. :/]", "_", key)


def log_to_mlflow(result: dict, out_dir: str | Path | None = None) -> None:
    """Log the run to the active MLflow run (the analyze stage's parent run): the headline
    metrics, one tag per finding, every file (figures and the shared plotly.js only when no
    earlier run holds the same content), and one nested evaluation run per (encoder, probe,
    task, condition).

    Artifacts keep their folder below ``out_dir`` (default: the folder of ``index.html``).
    """
    if mlflow.active_run() is None:
        raise RuntimeError("log_to_mlflow needs an active MLflow run (start the stage run first)")
    numbers = flat_numbers(result["metrics"])
    mlflow.log_metrics({mlflow_metric_name(k): v for k, v in numbers.items()})
    for finding in result["findings"]:
        mlflow.set_tag(f"emofx.finding.{finding.key}", finding.verdict)
    paths = [Path(p) for p in result["artifacts"]]
    root = Path(out_dir) if out_dir else next(p.parent for p in paths if p.name == "index.html")
    for path in paths:
        parent = path.parent.relative_to(root).as_posix()
        folder = None if parent == "." else parent
        if folder in ("figures", "assets"):
            log_artifact_once(path, folder, f"{folder}/{path.name}")
        else:
            mlflow.log_artifact(str(path), artifact_path=folder)
    evaluation: EvaluationInputs = result["evaluation"]
    log_evaluation_runs(
        evaluation.performance, evaluation.shifts, evaluation.conditions, evaluation.split
    )
