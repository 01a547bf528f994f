"""Reading the analysis inputs: parsing from structured fields, and clear errors on bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from emofx.analysis.loading import (
    AnalysisInputError,
    find_prediction_files,
    load_conditions,
    load_embedding_stores,
    load_manifest,
    load_prediction_set,
    loudness_twins,
)
from tests.analysis_stores import write_stores


def _write(tmp_path, conditions) -> object:
    path = tmp_path / "conditions.json"
    path.write_text(json.dumps(conditions))
    return path


def test_effect_and_level_come_from_the_fields_not_the_id(tmp_path):
    path = _write(
        tmp_path,
        [
            {"id": "clean", "kind": "clean", "effects": [], "loudness": "none"},
            {"id": "x1", "kind": "effect", "loudness": "none",
             "effects": [{"name": "reverb", "level": 7, "params": {"room_size": 0.7}}]},
            {"id": "x1-matched", "kind": "effect", "loudness": "match",
             "effects": [{"name": "reverb", "level": 7, "params": {"room_size": 0.7}}]},
            {"id": "chain:u2", "kind": "chain", "loudness": "none",
             "effects": [{"name": "distortion", "level": 4, "params": {}},
                         {"name": "reverb", "level": 8, "params": {}}]},
            {"id": "plugin:vst@warm", "kind": "plugin", "loudness": "none",
             "effects": [{"name": "vst", "level": "warm", "params": {}}]},
        ],
    )  # fmt: skip
    conditions = load_conditions(path)
    assert list(conditions) == ["clean", "x1", "x1-matched", "chain:u2", "plugin:vst@warm"]
    assert (conditions["x1"].effect, conditions["x1"].level) == ("reverb", 7.0)
    assert conditions["x1-matched"].group == "reverb+lufs"
    assert (conditions["chain:u2"].effect, conditions["chain:u2"].level) == ("chain", None)
    assert (conditions["plugin:vst@warm"].effect, conditions["plugin:vst@warm"].level) == (
        "vst",
        None,
    )
    assert loudness_twins(conditions) == [("x1", "x1-matched")]


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ([{"id": "a", "kind": "effect", "effects": [], "loudness": "none"}], "no 'clean'"),
        ([{"id": "clean", "kind": "clean", "effects": []}], "missing key(s) ['loudness']"),
        ([{"id": "clean", "kind": "dry", "effects": [], "loudness": "none"}], "kind 'dry'"),
        ([{"id": "clean", "kind": "clean", "effects": [], "loudness": "loud"}], "loudness 'loud'"),
        ([{"id": "clean", "kind": "clean", "effects": [{"level": 2}], "loudness": "none"}],
         "'effects' must be a list"),
        ([{"id": "clean", "kind": "clean", "effects": [], "loudness": "none"}] * 2, "duplicate"),
        ({"clean": {}}, "expected a JSON list"),
    ],
)  # fmt: skip
def test_bad_conditions_name_the_file_and_the_problem(tmp_path, conditions, message):
    path = _write(tmp_path, conditions)
    with pytest.raises(AnalysisInputError, match="conditions.json") as err:
        load_conditions(path)
    assert message in str(err.value)


def test_manifest_labels_are_parsed_and_bad_labels_named(tmp_path):
    path = tmp_path / "manifest.parquet"
    pd.DataFrame(
        {"track_id": [1, 2], "split": ["test", "test"], "labels": ['{"calm": 0.5}', None]}
    ).to_parquet(path)
    manifest = load_manifest(path)
    assert list(manifest.index) == ["1", "2"]
    assert manifest.loc["1", "labels"] == {"calm": 0.5} and manifest.loc["2", "labels"] is None
    pd.DataFrame({"track_id": ["a"], "split": ["test"], "labels": ["{oops"]}).to_parquet(path)
    with pytest.raises(AnalysisInputError, match="bad 'labels' value '{oops'"):
        load_manifest(path)
    pd.DataFrame({"track_id": ["a"]}).to_parquet(path)
    with pytest.raises(AnalysisInputError, match=r"lacks column\(s\) \['split'\]"):
        load_manifest(path)


@pytest.fixture()
def stores(tmp_path):
    return write_stores(tmp_path, n_tracks=24, effects={"gain": [8]}, chains=())


def _load(stores, encoder="enc_a", probe="ridge"):
    conditions = load_conditions(stores.conditions)
    manifest = load_manifest(stores.manifest)
    files = find_prediction_files(stores.predictions)[(encoder, probe)]
    return load_prediction_set(encoder, probe, files, manifest, conditions, "test")


def test_prediction_set_keeps_the_scored_split_aligned_across_conditions(stores):
    pset = _load(stores)
    manifest = load_manifest(stores.manifest)
    assert list(pset.frames) == ["clean", "gain@8", "gain@8+lufs"]
    assert set(pset.track_ids) == set(manifest.index[manifest["split"] == "test"])
    for frame in pset.frames.values():
        assert frame.index.equals(pset.track_ids)
    assert pset.has_regression and not pset.has_classification and pset.label_names == []


def test_a_condition_file_missing_tracks_is_named(stores):
    path = stores.predictions / "enc_a/ridge/gain@8.parquet"
    frame = pd.read_parquet(path)
    frame.drop(index=frame.index[frame["split"] == "test"][0]).to_parquet(path)
    with pytest.raises(AnalysisInputError, match=r"gain@8\.parquet: test tracks differ from clean"):
        _load(stores)


def test_a_prediction_for_an_unknown_condition_is_named(stores):
    src = stores.predictions / "enc_a/ridge/gain@8.parquet"
    pd.read_parquet(src).assign(condition="reverb@9").to_parquet(src.with_name("reverb@9.parquet"))
    with pytest.raises(AnalysisInputError, match="'reverb@9' is not in conditions.json"):
        _load(stores)


def test_a_split_disagreeing_with_the_manifest_is_named(stores):
    path = stores.predictions / "enc_a/ridge/clean.parquet"
    frame = pd.read_parquet(path)
    frame.loc[0, "split"] = "train" if frame.loc[0, "split"] != "train" else "test"
    frame.to_parquet(path)
    with pytest.raises(AnalysisInputError, match=f"track '{frame.loc[0, 'track_id']}' has split"):
        _load(stores)


def test_embedding_stores_are_checked_against_meta_and_index(stores):
    conditions = load_conditions(stores.conditions)
    (store,) = load_embedding_stores(stores.embeddings, conditions)
    assert store.conditions == ["clean", "gain@8", "gain@8+lufs"]
    ids = store.track_ids[:3]
    assert store.layer("clean", 1, ids).shape == (3, 8)  # padding (to 12) removed
    assert store.layer_index("head") == 1 and store.layer_index(-1) == 1
    with pytest.raises(AnalysisInputError, match="layer 'tags' not in"):
        store.layer_index("tags")
    np.save(stores.embeddings / "enc_a/gain@8.npy", np.zeros((5, 2, 12), np.float32))
    with pytest.raises(AnalysisInputError, match=r"gain@8\.npy: shape \(5, 2, 12\) does not fit"):
        load_embedding_stores(stores.embeddings, conditions)
