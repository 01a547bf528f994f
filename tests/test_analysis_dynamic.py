"""Dynamic (2 Hz) predictions: per-song metrics on hand-written curves with known answers, input
errors, and the analyze stage's dynamic outputs (csv, figures, metrics, report section, MLflow)."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from scipy import stats
from sklearn.metrics import r2_score

from emofx.analysis.config import AnalysisParams
from emofx.analysis.dynamic import (
    dynamic_metrics,
    dynamic_table,
    find_dynamic_files,
    load_dynamic_set,
    load_dynamic_sets,
)
from emofx.analysis.loading import (
    AnalysisInputError,
    find_prediction_files,
    load_conditions,
    load_manifest,
)
from emofx.analysis.report import dynamic_section
from emofx.analysis.run import log_to_mlflow, run_analysis
from emofx.analysis.statistics import song_pearson
from emofx.fx.conditions import save_conditions
from tests.analysis_stores import build_conditions, write_stores

PARAMS = AnalysisParams(
    n_bootstrap=200, projection={"max_tracks": 8, "n_epochs": 20, "n_neighbors": 5}
)
N_FRAMES = 20
TEST_SONGS = [f"s{i}" for i in range(8)]
CONSTANT_SONG = "s7"  # constant valence annotation: no song r
FLAT_SONG = "s1"  # distortion@8 predicts a constant valence for it
SHIFT = 0.3  # reverb@8 adds this to every prediction; gain@8 equals clean


# --- a hand-written world ----------------------------------------------------------------------
def _curves(rng: np.random.Generator) -> pd.DataFrame:
    """Clean frames of 8 test songs and 1 train song: annotation + clean prediction (small noise).

    Arousal has no annotation on the first 3 frames of every song.
    """
    rows = []
    for i, song in enumerate([*TEST_SONGS, "s8"]):
        k = np.arange(N_FRAMES)
        valence = 0.5 * np.sin(2 * np.pi * k / N_FRAMES + i)
        if song == CONSTANT_SONG:
            valence = np.full(N_FRAMES, 0.2)
        arousal = np.where(k < 3, np.nan, -0.5 + 0.05 * k + 0.02 * i)
        rows.append(
            pd.DataFrame(
                {
                    "track_id": song,
                    "split": "train" if song == "s8" else "test",
                    "time_s": 10.0 + 0.5 * k,
                    "valence_norm": valence,
                    "arousal_norm": arousal,
                    "pred_valence_norm": valence + rng.normal(0, 0.05, N_FRAMES),
                    "pred_arousal_norm": np.nan_to_num(arousal) + rng.normal(0, 0.05, N_FRAMES),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _condition_frames(clean: pd.DataFrame) -> dict[str, pd.DataFrame]:
    preds = ["pred_valence_norm", "pred_arousal_norm"]
    reverb = clean.copy()
    reverb[preds] += SHIFT
    distortion = clean.copy()
    distortion.loc[distortion["track_id"] == FLAT_SONG, "pred_valence_norm"] = 0.0
    frames = {
        "clean": clean,
        "reverb@8": reverb,
        "gain@8": clean.copy(),
        "distortion@8": distortion,
    }
    return {c: f.assign(condition=c) for c, f in frames.items()}


def _write_frames(root: Path, frames: dict[str, pd.DataFrame], encoder: str, probe: str) -> None:
    folder = root / encoder / probe / "dynamic"
    folder.mkdir(parents=True, exist_ok=True)
    for cond, frame in frames.items():
        frame.to_parquet(folder / f"{cond}.parquet")


@pytest.fixture()
def world(tmp_path):
    frames = _condition_frames(_curves(np.random.default_rng(0)))
    conditions = build_conditions({"reverb": [8], "gain": [8], "distortion": [8]}, (), ())
    save_conditions(conditions, tmp_path / "conditions.json")
    songs = frames["clean"].drop_duplicates("track_id")[["track_id", "split"]]
    songs.to_parquet(tmp_path / "manifest.parquet")
    root = tmp_path / "predictions"
    _write_frames(root, frames, "enc", "ridge")
    return {
        "root": root,
        "frames": frames,
        "conditions": load_conditions(tmp_path / "conditions.json"),
        "manifest": load_manifest(tmp_path / "manifest.parquet"),
    }


def _load(world, probe: str = "ridge"):
    files = find_dynamic_files(world["root"])[("enc", probe)]
    return load_dynamic_set("enc", probe, files, world["manifest"], world["conditions"], "test")


def _scored(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    return frame[(frame["split"] == "test") & frame[f"{target}_norm"].notna()]


def _per_song(frame: pd.DataFrame, target: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per test song: (annotation, prediction) on its annotated frames."""
    rows = _scored(frame, target)
    return {
        song: (g[f"{target}_norm"].to_numpy(), g[f"pred_{target}_norm"].to_numpy())
        for song, g in rows.groupby("track_id")
    }


# --- metrics -----------------------------------------------------------------------------------
def test_clean_song_metrics_match_scipy_and_constant_songs_are_excluded_and_counted(world):
    table = dynamic_table(_load(world), PARAMS, 0).set_index(["condition", "target"])
    clean = world["frames"]["clean"]
    for target in ("valence", "arousal"):
        songs = _per_song(clean, target)
        rs = [stats.pearsonr(y, p).statistic for s, (y, p) in songs.items() if s != CONSTANT_SONG]
        if target == "arousal":
            rs.append(stats.pearsonr(*songs[CONSTANT_SONG]).statistic)
        rmses = [np.sqrt(np.mean((y - p) ** 2)) for y, p in songs.values()]
        row = table.loc[("clean", target)]
        assert row["song_pearson"] == pytest.approx(np.mean(rs), rel=1e-12)
        assert row["song_pearson"] > 0.9
        assert row["song_rmse"] == pytest.approx(np.mean(rmses), rel=1e-12)
        scored = _scored(clean, target)
        assert row["frame_r2"] == pytest.approx(
            r2_score(scored[f"{target}_norm"], scored[f"pred_{target}_norm"])
        )
        assert row["n_songs"] == 8  # the train song is not scored
        assert (row["delta_song_pearson"], row["shift"]) == (0.0, 0.0)
        assert np.isnan(row["shift_p_value"])
    assert table.loc[("clean", "valence"), "n_songs_excluded"] == 1
    assert table.loc[("clean", "arousal"), "n_songs_excluded"] == 0
    assert table.loc[("clean", "valence"), "n_frames"] == 8 * N_FRAMES
    assert table.loc[("clean", "arousal"), "n_frames"] == 8 * (N_FRAMES - 3)  # unannotated out


def test_an_offset_condition_shifts_predictions_and_raises_rmse_but_keeps_song_r(world):
    table = dynamic_table(_load(world), PARAMS, 0).set_index(["condition", "target"])
    frames = world["frames"]
    for target in ("valence", "arousal"):
        row = table.loc[("reverb@8", target)]
        clean, reverb = _per_song(frames["clean"], target), _per_song(frames["reverb@8"], target)
        shifts = np.array([reverb[s][1].mean() - clean[s][1].mean() for s in clean])
        delta_rmse = np.array(
            [
                np.sqrt(np.mean((reverb[s][0] - reverb[s][1]) ** 2))
                - np.sqrt(np.mean((clean[s][0] - clean[s][1]) ** 2))
                for s in clean
            ]
        )
        assert row["shift"] == pytest.approx(SHIFT, abs=1e-12)
        assert 0 < row["shift_ci_low"] <= SHIFT + 1e-9 and row["shift_ci_high"] >= SHIFT - 1e-9
        assert row["shift_p_value"] == pytest.approx(stats.wilcoxon(shifts).pvalue)
        assert row["shift_p_value"] < 0.05 and row["shift_effect_size"] == 1.0
        assert row["delta_song_pearson"] == pytest.approx(0.0, abs=1e-12)  # r ignores an offset
        assert row["delta_song_rmse"] == pytest.approx(delta_rmse.mean(), rel=1e-12)
        assert row["delta_song_rmse"] > 0.2 and row["delta_song_rmse_ci_low"] > 0
        family = table.xs(target, level="target").drop(index="clean")
        assert family["shift_q_value"].to_numpy() == pytest.approx(
            stats.false_discovery_control(family["shift_p_value"].to_numpy(), method="bh")
        )


def test_a_condition_equal_to_clean_changes_nothing(world):
    table = dynamic_table(_load(world), PARAMS, 0).set_index(["condition", "target"])
    for target in ("valence", "arousal"):
        row = table.loc[("gain@8", target)]
        for column in ("delta_song_pearson", "delta_song_rmse", "shift"):
            assert row[column] == 0.0
            assert (row[f"{column}_ci_low"], row[f"{column}_ci_high"]) == (0.0, 0.0)
        assert row["shift_p_value"] == 1.0
        assert row["song_pearson"] == table.loc[("clean", target), "song_pearson"]


def test_deltas_are_paired_over_songs_with_r_in_both_conditions(world):
    """distortion@8 flattens one song's valence prediction: that song has no r under it, so the
    paired Δ song r uses the 6 songs with r in both conditions (all unchanged: Δ = 0), while the
    condition's own mean r averages over its 6 songs."""
    table = dynamic_table(_load(world), PARAMS, 0).set_index(["condition", "target"])
    row = table.loc[("distortion@8", "valence")]
    songs = _per_song(world["frames"]["clean"], "valence")
    kept = [s for s in songs if s not in (CONSTANT_SONG, FLAT_SONG)]
    assert (row["n_songs_excluded"], row["n_songs_paired"]) == (2, 6)
    assert row["song_pearson"] == pytest.approx(
        np.mean([stats.pearsonr(*songs[s]).statistic for s in kept]), rel=1e-12
    )
    assert row["song_pearson"] != table.loc[("clean", "valence"), "song_pearson"]
    assert row["delta_song_pearson"] == 0.0
    assert table.loc[("distortion@8", "arousal"), "n_songs_paired"] == 8


def test_song_pearson_matches_scipy_for_songs_of_any_length_and_skips_constant_ones():
    rng = np.random.default_rng(2)
    truth = [rng.normal(size=n) for n in (20, 7, 20, 33, 5)]
    prediction = [y + rng.normal(0, 0.5, len(y)) for y in truth]
    truth[3] = np.full(33, 0.4)  # constant annotation
    prediction[4] = np.zeros(5)  # constant prediction
    r = song_pearson(truth, prediction)
    expected = [stats.pearsonr(truth[i], prediction[i]).statistic for i in range(3)]
    assert r[:3] == pytest.approx(expected, rel=1e-12)
    assert np.isnan(r[3:]).all()


def test_a_set_with_only_arousal_columns_scores_arousal_only(world):
    valence = ["valence_norm", "pred_valence_norm"]
    frames = {c: f.drop(columns=valence) for c, f in world["frames"].items()}
    _write_frames(world["root"], frames, "enc", "arousal_only")
    dset = _load(world, "arousal_only")
    assert dset.targets == ["arousal"]
    table = dynamic_table(dset, PARAMS, 0)
    assert set(table["target"]) == {"arousal"} and len(table) == 4
    metrics = dynamic_metrics(table)
    clean = table[table["condition"] == "clean"]
    assert metrics == {
        "enc": {
            "arousal_only": {
                "arousal": {
                    "clean_song_pearson": pytest.approx(clean["song_pearson"].item(), abs=1e-4),
                    "clean_song_rmse": pytest.approx(clean["song_rmse"].item(), abs=1e-4),
                }
            }
        }
    }


def test_the_report_section_lists_every_row_and_is_absent_without_predictions(world):
    table = dynamic_table(_load(world), PARAMS, 0)
    section = dynamic_section(table, 0.05, [])
    assert section.title == "Dynamic (2 Hz) predictions"
    assert section.table.count("<tr") == 1 + len(table)  # header + 4 conditions × 2 targets
    assert "+0.300 [+0.300, +0.300]*" in section.table  # reverb@8 shift, significant after BH
    assert dynamic_section(pd.DataFrame(), 0.05, []) is None


# --- input errors ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cond", "drop"),
    [
        ("clean", ["time_s"]),
        ("clean", ["pred_arousal_norm"]),
        ("reverb@8", ["pred_valence_norm"]),
        ("gain@8", ["split", "arousal_norm"]),
    ],
)
def test_missing_columns_are_named_with_the_file(world, cond, drop):
    path = world["root"] / "enc/ridge/dynamic" / f"{cond}.parquet"
    world["frames"][cond].drop(columns=drop).to_parquet(path)
    with pytest.raises(AnalysisInputError) as err:
        _load(world)
    assert str(err.value) == f"{path}: missing column(s) {drop}"


def test_a_file_without_any_target_column_is_named(world):
    path = world["root"] / "enc/ridge/dynamic/clean.parquet"
    world["frames"]["clean"][["track_id", "split", "condition", "time_s"]].to_parquet(path)
    with pytest.raises(AnalysisInputError, match="missing target column"):
        _load(world)


@pytest.mark.parametrize("change", ["drop a frame", "move a frame"])
def test_frames_that_differ_from_clean_are_an_error(world, change):
    path = world["root"] / "enc/ridge/dynamic/reverb@8.parquet"
    frame = world["frames"]["reverb@8"]
    if change == "drop a frame":
        frame = frame.drop(index=5)
    else:
        frame = frame.copy()
        frame.loc[5, "time_s"] += 0.25
    frame.to_parquet(path)
    with pytest.raises(AnalysisInputError, match="differ from clean") as err:
        _load(world)
    assert str(path) in str(err.value) and "1 missing" in str(err.value)


def test_out_of_fold_files_score_every_song_averaged_over_repeats(world):
    """cv files (``fold``, ``repeat``): every annotated frame counts, whatever its manifest split,
    and each frame's prediction is the mean over the repeats."""
    frames = {}
    for cond, frame in world["frames"].items():
        repeats = [frame.assign(fold=0, repeat=r) for r in (0, 1)]
        repeats[1]["pred_valence_norm"] += 0.2  # repeat 1 predicts 0.2 higher
        frames[cond] = pd.concat(repeats, ignore_index=True)
    _write_frames(world["root"], frames, "enc", "cv")
    dset = _load(world, "cv")
    clean = world["frames"]["clean"]
    annotated = clean[clean[["valence_norm", "arousal_norm"]].notna().any(axis=1)]
    assert len(dset.frames["clean"]) == len(annotated)  # train and val songs too
    assert set(dset.frames["clean"].index.get_level_values("track_id")) > set(
        clean.loc[clean["split"] == "test", "track_id"]
    )
    expected = annotated.set_index(["track_id", "time_s"])["pred_valence_norm"] + 0.1
    got = dset.frames["clean"]["pred_valence_norm"]
    np.testing.assert_allclose(got.to_numpy(), expected.reindex(got.index).to_numpy())


def test_no_dynamic_folders_means_no_sets(tmp_path, world):
    assert (
        load_dynamic_sets(
            [tmp_path / "absent", tmp_path], world["manifest"], world["conditions"], "test"
        )
        == []
    )


# --- the analyze stage -------------------------------------------------------------------------
def _add_dynamic_predictions(paths) -> None:
    """2 Hz curves for every manifest track of the stage world; reverb@8 lowers arousal by 0.2."""
    rng = np.random.default_rng(1)
    manifest = pd.read_parquet(paths.manifest)
    k = np.arange(N_FRAMES)
    clean = pd.concat(
        [
            pd.DataFrame(
                {
                    "track_id": r.track_id,
                    "split": r.split,
                    "time_s": 15.0 + 0.5 * k,
                    "valence_norm": r.valence_norm + 0.3 * np.sin(k / 3 + i),
                    "arousal_norm": r.arousal_norm + 0.3 * np.cos(k / 4 + i),
                }
            )
            for i, r in enumerate(manifest.itertuples())
        ],
        ignore_index=True,
    )
    for t in ("valence", "arousal"):
        clean[f"pred_{t}_norm"] = clean[f"{t}_norm"] + rng.normal(0, 0.1, len(clean))
    for cond in json.loads(paths.conditions.read_text())["conditions"]:
        frame = clean.assign(condition=cond["id"])
        if cond["id"] == "reverb@8":
            frame["pred_arousal_norm"] -= 0.2
        _write_frames(paths.predictions, {cond["id"]: frame}, "enc_a", "ridge")


def _run(paths, out: Path) -> dict:
    return run_analysis(
        manifest_path=paths.manifest,
        conditions_path=paths.conditions,
        predictions_root=[paths.predictions, paths.predictions.parent / "systems"],
        embeddings_root=paths.embeddings,
        out_dir=out,
        params=PARAMS,
        seed=3,
        encoders=["enc_a"],
    )


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    root = tmp_path_factory.mktemp("stage")
    paths = write_stores(root, n_tracks=32, effects={"reverb": [8], "gain": [8]}, chains=("heavy",))
    without = _run(paths, root / "without")
    _add_dynamic_predictions(paths)
    return paths, root, without, _run(paths, root / "with")


def test_the_stage_writes_the_dynamic_csv_figures_metrics_and_section(stage):
    paths, root, _, result = stage
    out = root / "with"
    table = pd.read_csv(out / "dynamic_impact.csv")
    assert len(table) == 5 * 2  # conditions × targets of enc_a/ridge
    assert set(table["condition"]) == {"clean", "reverb@8", "gain@8", "gain@8+lufs", "chain:heavy"}
    reverb = table.set_index(["condition", "target"]).loc[("reverb@8", "arousal")]
    assert reverb["shift"] == pytest.approx(-0.2) and reverb["shift_q_value"] < 0.05
    assert reverb["delta_song_rmse"] > 0.05 and reverb["delta_song_rmse_ci_low"] > 0
    clean = table.set_index(["condition", "target"]).loc[("clean", "valence")]
    metrics = json.loads((out / "metrics.json").read_text())
    valence = metrics["dynamic"]["enc_a"]["ridge"]["valence"]
    assert valence["clean_song_pearson"] == pytest.approx(clean["song_pearson"], abs=1e-4)
    assert valence["clean_song_rmse"] == pytest.approx(clean["song_rmse"], abs=1e-4)
    for name in ("dynamic_curves_enc_a_ridge", "dynamic_song_r_delta"):
        for suffix in (".png", ".html"):
            path = out / "figures" / f"{name}{suffix}"
            assert path.is_file() and path in result["artifacts"]
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "index.html").read_text()
    assert "Dynamic (2 Hz) predictions" in page
    assert 'src="figures/dynamic_curves_enc_a_ridge.png"' in page
    # the dynamic task is in the headline too: Δ song r per target × condition
    assert page.index('src="figures/headline_dynamic.png"') < page.index("<h2>Findings</h2>")
    assert 'href="dynamic_impact.csv"' in page
    # the static loader does not see the dynamic/ folders
    assert set(find_prediction_files(paths.predictions)[("enc_a", "ridge")]) == set(
        table["condition"]
    )


def test_without_dynamic_predictions_the_stage_is_unchanged(stage):
    _, root, without, result = stage
    out = root / "without"
    assert (out / "dynamic_impact.csv").read_text().strip() == ""  # a DVC output: always there
    assert not list((out / "figures").glob("*dynamic*"))
    assert "Dynamic (2 Hz)" not in (out / "index.html").read_text()
    static = {k: v for k, v in result["metrics"].items() if k != "dynamic"}
    assert without["metrics"] == static and "dynamic" not in without["metrics"]


def test_dynamic_outputs_are_logged_to_mlflow(stage, mlflow_uri):
    *_, result = stage
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_uri)
    try:
        # an explicit experiment: the process-wide active one may belong to an earlier test's store
        with mlflow.start_run(experiment_id=mlflow.create_experiment("dynamic-log")) as run:
            log_to_mlflow(result)
    finally:
        mlflow.set_tracking_uri(previous)
    client = MlflowClient(mlflow_uri)
    logged = client.get_run(run.info.run_id).data.metrics
    assert logged["dynamic.enc_a.ridge.arousal.clean_song_rmse"] == pytest.approx(
        result["metrics"]["dynamic"]["enc_a"]["ridge"]["arousal"]["clean_song_rmse"]
    )
    top = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "dynamic_impact.csv" in top
    figures = {a.path for a in client.list_artifacts(run.info.run_id, "figures")}
    assert "figures/dynamic_song_r_delta.png" in figures
