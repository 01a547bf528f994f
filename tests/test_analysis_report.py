"""The analyze stage end to end on planted stores: files, key figures, report page, MLflow."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.metrics import r2_score

from emofx.analysis.config import AnalysisParams
from emofx.analysis.figure_grid import panel_grid
from emofx.analysis.heatmap import colour_limit
from emofx.analysis.loading import AnalysisInputError
from emofx.analysis.run import log_to_mlflow, mlflow_metric_name, run_analysis
from emofx.analysis.summary import FX_IMPACT_COLUMNS
from tests.analysis_stores import AROUSAL_PER_DB, GAIN_DB_AT_8, analyse, write_stores

PARAMS = AnalysisParams(
    n_bootstrap=200, projection={"max_tracks": 10, "n_epochs": 30, "n_neighbors": 8}
)
EXTERNAL = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)


@pytest.fixture(scope="module")
def analysis(tmp_path_factory):
    root = tmp_path_factory.mktemp("analyze")
    paths = write_stores(
        root,
        n_tracks=80,
        tasks=("regression", "classification", "multilabel"),
        effects={"reverb": [3, 8], "distortion": [3, 8], "chorus": [8], "gain": [8]},
        encoders={"enc_a": [("frontend", 12), ("head", 8)], "enc_b": [("only", 6)]},
    )
    result = analyse(paths, root / "reports", PARAMS, 7, ["enc_a", "enc_b"])
    return paths, root / "reports", result


def test_every_artifact_is_written_and_returned(analysis):
    _, out, result = analysis
    for name in ("metrics.json", "fx_impact.csv", "index.html"):
        assert (out / name).is_file() and out / name in result["artifacts"]
    pngs = sorted(p.stem for p in (out / "figures").glob("*.png"))
    htmls = sorted(p.stem for p in (out / "figures").glob("*.html"))
    assert pngs == htmls
    assert {
        "performance_dose",
        "shift_dose",
        "quadrant_radar",
        "shift_size",
        "loudness_control",
        "label_rates",
        "displacement",
        "umap_trajectories",
        "umap_chains",
    } <= set(pngs)
    for png in (out / "figures").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    assert all(Path(p).is_file() for p in result["artifacts"])


def _flat(metrics: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in metrics.items():
        out |= _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value}
    return out


def test_headline_metrics_match_an_independent_computation(analysis):
    paths, out, result = analysis
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == result["metrics"]
    manifest = pd.read_parquet(paths.manifest).set_index("track_id")
    preds = pd.read_parquet(paths.predictions / "enc_a/ridge/clean.parquet").set_index("track_id")
    test = manifest.index[manifest["split"] == "test"]
    expected = r2_score(manifest.loc[test, "arousal_norm"], preds.loc[test, "pred_arousal_norm"])
    assert metrics["clean"]["enc_a"]["ridge"]["r2_arousal"] == pytest.approx(expected, abs=1e-4)
    assert metrics["n_tracks"] == len(test)
    assert set(metrics["clean"]["enc_a"]["clf"]) == {"accuracy_quadrant", "f1_macro_quadrant"}
    assert "f1_micro_labels" in metrics["clean"]["enc_a"]["tagger"]
    largest = metrics["largest_shift"]["enc_a"]["ridge"]["arousal"]
    assert largest["condition"] == "distortion@8" and largest["shift"] > 0.3 and largest["q"] < 0.05
    assert metrics["findings"]["chorus_delay_variability"] == 1.0
    assert len(_flat(metrics)) <= 100
    # the full numbers stay in the tables
    shifts = pd.read_csv(out / "tables" / "shifts.csv")
    gain = shifts.set_index(["encoder", "probe", "condition", "quantity"])["shift"]
    assert gain["enc_b", "ridge", "gain@8", "arousal"] == pytest.approx(
        AROUSAL_PER_DB * GAIN_DB_AT_8, abs=0.03
    )
    assert abs(gain["enc_b", "ridge", "gain@8+lufs", "arousal"]) < 0.03


def test_multilabel_outputs_are_scored_per_emotion(analysis):
    _, out, _ = analysis
    performance = pd.read_csv(out / "tables" / "performance.csv")
    tagger = performance[(performance["probe"] == "tagger") & (performance["encoder"] == "enc_a")]
    assert set(tagger["task"]) == {"labels"}
    # per emotion R² and r of the probability vs the annotated proportion; "tension" is a
    # constant 0.2 in every track, so it has neither
    assert {"r2_calmness", "r_calmness", "r2_power", "r_power", "f1_micro_labels"} <= set(
        tagger["metric"]
    )
    assert not tagger["metric"].str.endswith("tension").any()
    clean = tagger[tagger["condition"] == "clean"].set_index("metric")["value"]
    assert -1 <= clean["r_power"] <= 1 and clean["r_power"] > 0.3


def test_fx_impact_table_carries_the_condition_structure(analysis):
    _, out, _ = analysis
    table = pd.read_csv(out / "fx_impact.csv")
    assert list(table.columns) == FX_IMPACT_COLUMNS
    assert {"performance", "shift", "variability", "shift_size", "displacement"} == set(
        table["analysis"]
    )
    row = table[
        (table["analysis"] == "shift")
        & (table["probe"] == "ridge")
        & (table["condition"] == "gain@8+lufs")
        & (table["quantity"] == "arousal")
    ]
    assert len(row) == 2  # one per encoder
    assert set(row["effect"]) == {"gain"} and set(row["level"]) == {8.0}
    assert set(row["loudness"]) == {"match"}
    chains = table[table["kind"] == "chain"]
    assert set(chains["effect"]) == {"chain"} and chains["level"].isna().all()
    assert not (table["condition"] == "clean").any() or set(
        table.loc[table["condition"] == "clean", "analysis"]
    ) == {"performance"}
    assert (out / "tables" / "loudness_control.csv").is_file()


def test_report_page_is_offline_and_every_reference_exists(analysis):
    _, out, _ = analysis
    page = (out / "index.html").read_text()
    assert not EXTERNAL.search(page), EXTERNAL.search(page).group(0)
    references = re.findall(r"""(?:src|href)="([^"]+)\"""", page)
    assert any(r.endswith(".png") for r in references)
    for ref in references:
        assert (out / ref).is_file(), ref
    for claim in ("Distortion raises anger", "Chorus and Delay", "Real-world effect chains"):
        assert claim in page
    assert "supported" in page and "Loudness control" in page and "System comparison" in page
    plotly_js = (out / "assets" / "plotly.min.js").read_text()
    assert len(plotly_js) > 1_000_000  # the full bundle, once
    for html in (out / "figures").glob("*.html"):
        text = html.read_text()
        assert re.findall(r'<script[^>]* src="([^"]+)"', text) == ["../assets/plotly.min.js"], (
            html.name
        )
        assert "<link " not in text and len(text) < 200_000, html.name  # not inlined
        assert "Plotly.newPlot" in text
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    assert size < 10_000_000


def test_page_leads_with_the_headline_and_collapses_the_details(analysis):
    _, out, _ = analysis
    page = (out / "index.html").read_text()
    order = [page.index(f'src="figures/{n}.png"') for n in
             ("headline_scores", "headline_shifts", "headline_loudness")]  # fmt: skip
    assert order == sorted(order) and order[0] < page.index("<h2>Findings</h2>")
    assert page.index("<h2>Findings</h2>") < page.index("<details")
    assert page.count("<h2>") == 2  # Findings, Details: everything else is collapsed
    # one section per table, not one per probe: the per-probe tables nest in the comparison
    top = re.findall(r'<details class="level0">\s*<summary>([^<]+)</summary>', page)
    assert "System comparison: every probe and system on clean test audio" in top and len(top) <= 12
    assert not any(t.startswith(("Performance under FX: ", "Prediction shifts: ")) for t in top)
    # the val-selected probe per (encoder, task) is named at the top
    assert "regression: enc_a / ridge" in page and "labels: enc_b / tagger" in page
    assert "fewer than 30" not in page  # 40 test tracks


def test_log_to_mlflow_logs_key_figures_and_artifacts(analysis, mlflow_uri):
    _, out, result = analysis
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_uri)
    try:
        with pytest.raises(RuntimeError, match="active MLflow run"):
            log_to_mlflow(result)
        # an explicit experiment: the process-wide active one may belong to an earlier test's store
        with mlflow.start_run(experiment_id=mlflow.create_experiment("report-log")) as run:
            log_to_mlflow(result)
    finally:
        mlflow.set_tracking_uri(previous)
    client = MlflowClient(mlflow_uri)
    logged = client.get_run(run.info.run_id)
    assert mlflow_metric_name("enc_a.ridge.gain@8+lufs.shift") == "enc_a.ridge.gain_8_lufs.shift"
    assert logged.data.metrics["clean.enc_a.ridge.r2_arousal"] == pytest.approx(
        result["metrics"]["clean"]["enc_a"]["ridge"]["r2_arousal"]
    )
    assert set(logged.data.metrics) == set(_flat(result["metrics"])) - {
        k for k, v in _flat(result["metrics"]).items() if isinstance(v, str)
    }
    assert logged.data.tags["emofx.finding.chorus_delay_variability"] == "supported"
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"index.html", "metrics.json", "fx_impact.csv", "figures", "tables"} <= top
    figures = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
    assert "figures/umap_trajectories.html" in figures


def test_missing_inputs_are_named(analysis, tmp_path):
    paths, _, _ = analysis
    with pytest.raises(AnalysisInputError, match="predictions directory not found"):
        run_analysis(
            manifest_path=paths.manifest,
            conditions_path=paths.conditions,
            predictions_root=tmp_path / "nope",
            embeddings_root=paths.embeddings,
            out_dir=tmp_path / "out",
            params=PARAMS,
            seed=0,
            encoders=["enc_a", "enc_b"],
        )


def test_panel_grid_wraps_long_blocks_and_hides_unused_cells():
    grid = panel_grid({"enc_a": [f"fx{i}" for i in range(8)], "enc_b": ["fx0"]}, "{}: {}".format)
    assert len(grid.fig.axes) == 3 * 6  # enc_a: 2 rows of 6, enc_b: 1 row
    assert grid.cells[("enc_a", "fx7")][1:] == (2, 2) and grid.cells[("enc_b", "fx0")][1:] == (3, 1)
    assert sum(ax.axison for ax in grid.fig.axes) == 9
    assert grid.cells[("enc_a", "fx6")][0].get_title() == "enc_a: fx6"


def test_heat_map_colour_scale_is_not_washed_out_by_one_extreme_cell():
    values = np.array([0.1, -0.2, np.nan, -4.6, *[0.05] * 30])
    finite = np.abs(values[~np.isnan(values)])
    assert colour_limit(values) == pytest.approx(np.percentile(finite, 95))
    assert colour_limit(values) < 0.2  # the -4.6 (and -0.2) cells saturate instead
    assert colour_limit(np.array([np.nan])) == 1.0 and colour_limit(np.zeros(3)) == 1.0
    assert colour_limit(np.array([*[0.0] * 30, 0.3])) == 0.3  # mostly zeros: the largest value
