"""Prediction shifts, loudness control and the paper findings on a world with planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emofx.analysis.config import AnalysisParams
from emofx.analysis.findings import paper_findings
from emofx.analysis.loading import (
    find_prediction_files,
    load_conditions,
    load_embedding_stores,
    load_manifest,
    load_prediction_set,
)
from emofx.analysis.loudness_control import loudness_changes, loudness_control_table
from emofx.analysis.shifts import (
    chain_tests,
    correct_chain_tests,
    dose_response_table,
    magnitude_table,
    predicted_quadrants,
    share_tests,
    shift_table,
)
from tests.analysis_stores import AROUSAL_PER_DB, EFFECT_MODEL, GAIN_DB_AT_8, write_stores

PARAMS = AnalysisParams(n_bootstrap=300)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    paths = write_stores(
        tmp_path_factory.mktemp("world"),
        n_tracks=160,
        tasks=("regression", "classification", "multilabel"),
        effects={"reverb": [2, 5, 8], "distortion": [2, 5, 8], "chorus": [8], "gain": [8]},
    )
    conditions = load_conditions(paths.conditions)
    manifest = load_manifest(paths.manifest)
    psets = {
        probe: load_prediction_set(enc, probe, files, manifest, conditions, "test")
        for (enc, probe), files in find_prediction_files(paths.predictions).items()
    }
    shifts = pd.concat([shift_table(p, PARAMS, 0) for p in psets.values()], ignore_index=True)
    return {
        "paths": paths,
        "conditions": conditions,
        "manifest": manifest,
        "psets": psets,
        "shifts": shifts.set_index(["probe", "condition", "quantity"]),
        "shift_rows": shifts,
    }


def test_gain_shifts_arousal_and_its_loudness_matched_twin_removes_most_of_it(world):
    shifts = world["shifts"]
    raw, matched = (
        shifts.loc[("ridge", "gain@8", "arousal")],
        shifts.loc[("ridge", "gain@8+lufs", "arousal")],
    )
    assert raw["shift"] == pytest.approx(AROUSAL_PER_DB * GAIN_DB_AT_8, abs=0.02)
    assert raw["q_value"] < 1e-6 and raw["effect_size"] > 0.9
    assert abs(matched["shift"]) < 0.2 * raw["shift"]
    assert abs(shifts.loc[("ridge", "gain@8", "valence"), "shift"]) < 0.02
    (store,) = load_embedding_stores(world["paths"].embeddings, world["conditions"])
    scored = world["psets"]["ridge"].track_ids
    changes = loudness_changes([store], scored).set_index("condition")["lufs_change"]
    assert changes["gain@8"] == pytest.approx(GAIN_DB_AT_8) and changes["gain@8+lufs"] == 0.0
    control = loudness_control_table(
        world["shift_rows"], world["conditions"], loudness_changes([store], scored), PARAMS
    ).set_index(["probe", "quantity"])
    row = control.loc[("ridge", "arousal")]
    assert (row["raw"], row["matched"], row["verdict"]) == ("gain@8", "gain@8+lufs", "removed")
    assert row["remaining"] < 0.2 and row["lufs_change_raw"] == pytest.approx(GAIN_DB_AT_8)
    assert control.loc[("ridge", "valence"), "verdict"] == "no shift"


def test_shifts_follow_the_planted_directions_and_null_conditions_stay_unflagged(world):
    shifts = world["shifts"]
    dv, da = (8 * s for s in EFFECT_MODEL["distortion"][0])
    dist_v = shifts.loc[("ridge", "distortion@8", "valence")]
    dist_a = shifts.loc[("ridge", "distortion@8", "arousal")]
    assert dist_v["shift"] == pytest.approx(dv, abs=0.02) and dist_v["q_value"] < 1e-6
    assert dist_a["shift"] == pytest.approx(da, abs=0.02)
    assert dist_v["ci_low"] < dv < dist_v["ci_high"]
    # classifier: anger probability up, calmness down under distortion
    assert shifts.loc[("clf", "distortion@8", "prob_q2"), "shift"] > 0
    assert shifts.loc[("clf", "distortion@8", "prob_q4"), "shift"] < 0
    # chorus widens the spread only; reverb does not
    chorus = shifts.loc[("ridge", "chorus@8", "valence")]
    assert chorus["sd_ratio"] == pytest.approx(1 + 8 * EFFECT_MODEL["chorus"][1], abs=0.05)
    assert chorus["sd_q_value"] < 1e-6
    assert shifts.loc[("ridge", "reverb@8", "valence"), "sd_q_value"] > 0.05
    # matched gain changes nothing planted: no quantity significant after BH
    assert (shifts.xs("gain@8+lufs", level="condition")["q_value"] > 0.05).all()
    # multi-label: rates and probabilities are analysed
    assert {"rate_power", "prob_power"} <= set(shifts.xs("tagger", level="probe").index.unique(1))


def test_dose_response_slopes_and_share_tests(world):
    pset = world["psets"]["ridge"]
    dose = dose_response_table(pset, world["conditions"], PARAMS, 0).set_index(
        ["group", "quantity"]
    )
    assert set(dose.index.unique("group")) == {"reverb", "distortion"}  # ≥ 2 levels only
    arousal = dose.loc[("distortion", "arousal")]
    assert arousal["ci_low"] < EFFECT_MODEL["distortion"][0][1] < arousal["ci_high"]
    assert dose.loc[("reverb", "arousal"), "slope"] < 0
    tests = share_tests(pset, world["conditions"]).set_index(["scope", "name"])
    assert {"reverb", "distortion"} == set(tests.loc["effect"].index)
    assert tests.loc[("condition", "distortion@8"), "p_value"] < 0.05
    assert tests.loc[("condition", "gain@8+lufs"), "p_value"] > 0.5


def test_predicted_quadrants_from_signs_follow_the_quadrant_convention():
    frame = pd.DataFrame(
        {"pred_valence_norm": [0.5, -0.5, -0.5, 0.5], "pred_arousal_norm": [0.5, 0.5, -0.5, -0.5]}
    )
    assert list(predicted_quadrants(frame)) == [1, 2, 3, 4]


def test_paper_findings_on_the_planted_world(world):
    shifts = world["shift_rows"]
    shares = pd.concat([share_tests(p, world["conditions"]) for p in world["psets"].values()])
    magnitudes = pd.concat(
        [magnitude_table(p, world["conditions"], PARAMS, 0) for p in world["psets"].values()]
    )
    chains = correct_chain_tests(
        pd.concat([chain_tests(p, world["conditions"]) for p in world["psets"].values()])
    )
    findings = {
        f.key: f for f in paper_findings(shifts, shares, chains, world["conditions"], PARAMS)
    }
    distortion = findings["distortion_anger_calmness"]
    assert distortion.verdict == "supported", distortion.evidence
    assert any("ridge distortion@8: anger share" in e for e in distortion.evidence)
    variability = findings["chorus_delay_variability"]
    assert variability.verdict == "supported" and "delay: not in this run" in variability.evidence
    # regression outputs: chains clearly move more; bounded probabilities saturate, so the
    # classifier/tagger may or may not agree
    chains = findings["chains_vs_single"]
    ridge_lines = [e for e in chains.evidence if e.startswith("enc_a/ridge")]
    assert len(ridge_lines) == 3 and all(e.endswith("(holds)") for e in ridge_lines), ridge_lines
    assert (
        "(reverb@2 reverb@5 reverb@8 distortion@2 distortion@5 distortion@8 chorus@8)"
        in (ridge_lines[0])
    )  # its single effects, not gain
    assert chains.evidence[0].split("over ")[-1].startswith("chains vs single effects")
    assert chains.verdict in ("supported", "partly supported")
    ridge = magnitudes[magnitudes["probe"] == "ridge"].set_index("condition")["magnitude"]
    assert ridge["gain@8"] == pytest.approx(AROUSAL_PER_DB * GAIN_DB_AT_8, abs=0.02)
    assert ridge["gain@8+lufs"] < 0.2 * ridge["gain@8"]  # only the 0.02 planted noise left


def test_findings_say_not_supported_when_the_world_disagrees(world):
    """Swap the roles: call reverb the distortion and gain the variability effect (a constant
    arousal offset: the regression outputs' spread does not change)."""
    params = AnalysisParams(
        n_bootstrap=300,
        findings={"distortion_effects": ["reverb"], "variability_effects": ["gain"]},
    )
    shares = pd.concat([share_tests(p, world["conditions"]) for p in world["psets"].values()])
    magnitudes = pd.concat(
        [magnitude_table(p, world["conditions"], params, 0) for p in world["psets"].values()]
    )
    ridge = world["shift_rows"][world["shift_rows"]["probe"] == "ridge"]
    findings = paper_findings(ridge, shares, pd.DataFrame(), world["conditions"], params)
    verdicts = {f.key: f.verdict for f in findings}
    assert verdicts["distortion_anger_calmness"] == "not supported"
    assert verdicts["chorus_delay_variability"] == "not supported"
    empty = paper_findings(
        pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), world["conditions"], params
    )
    assert {f.verdict for f in empty} == {"not tested"}
    assert np.isfinite(magnitudes["magnitude"]).all()
