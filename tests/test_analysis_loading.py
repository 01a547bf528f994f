"""Reading the analysis inputs: parsing from structured fields, and clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emofx.analysis.loading import (
    AnalysisInputError,
    condition_info,
    find_prediction_files,
    load_conditions,
    load_embedding_stores,
    load_manifest,
    load_prediction_set,
    loudness_twins,
)
from emofx.fx.conditions import (
    Condition,
    PluginRef,
    Step,
    build_conditions,
    save_conditions,
)
from emofx.fx.config import FxParams
from tests.analysis_stores import write_stores


def test_effect_level_and_loudness_come_from_the_condition_fields(tmp_path):
    params = FxParams(
        effects=["reverb"],
        levels=[7],
        chains=[{"name": "mine", "steps": [{"effect": "distortion", "level": 4}]}],
        loudness_match=["reverb"],
    )
    path = tmp_path / "conditions.json"
    save_conditions(build_conditions(params), path)
    conditions = load_conditions(path)
    assert list(conditions) == ["clean", "reverb@7", "reverb@7+lufs", "chain:mine"]
    reverb = conditions["reverb@7"]
    assert (reverb.kind, reverb.effect, reverb.level, reverb.loudness) == (
        "effect",
        "reverb",
        7.0,
        "none",
    )
    assert conditions["reverb@7+lufs"].group == "reverb+lufs"
    chain = conditions["chain:mine"]
    assert (chain.kind, chain.effect, chain.level) == ("chain", "chain", None)
    assert conditions["clean"].effect == "clean"
    assert loudness_twins(conditions) == [("reverb@7", "reverb@7+lufs")]


def test_a_plugin_step_is_grouped_by_its_plugin_name():
    condition = Condition(
        id="plugin:warmth@soft",
        kind="plugin",
        steps=[Step(effect="plugin", params={"drive": 0.3}, plugin=PluginRef(path="/x/Warm.vst3"))],
    )
    info = condition_info(condition)
    assert (info.effect, info.level, info.group) == ("Warm", None, "Warm")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("[1, 2]", "not a conditions file"),
        ('{"conditions": [{"id": "reverb@3", "kind": "clean"}]}', "conditions"),
    ],
)
def test_bad_conditions_files_are_named(tmp_path, content, message):
    path = tmp_path / "conditions.json"
    if content is not None:
        path.write_text(content)
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


def test_a_quadrant_outside_1_to_4_is_named(tmp_path):
    stores = write_stores(tmp_path, n_tracks=16, effects={}, chains=(), tasks=("classification",))
    path = stores.predictions / "enc_a/clf/clean.parquet"
    pd.read_parquet(path).assign(pred_quadrant=0).to_parquet(path)
    with pytest.raises(AnalysisInputError, match=r"clean\.parquet: pred_quadrant 0 is not one"):
        _load(stores, probe="clf")
