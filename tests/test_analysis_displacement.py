"""Embedding displacement, trajectories and the deterministic 2-D projections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cosine

from emofx.analysis.config import AnalysisParams, ProjectionParams
from emofx.analysis.displacement import displacement_table, trajectory_table
from emofx.analysis.loading import load_conditions, load_embedding_stores, load_manifest
from emofx.analysis.projection import embed_2d, project_store, sample_tracks
from tests.analysis_stores import write_stores

PARAMS = AnalysisParams(n_bootstrap=200)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    paths = write_stores(
        tmp_path_factory.mktemp("emb"),
        n_tracks=40,
        effects={"reverb": [2, 5, 8], "gain": [8]},
        chains=("heavy",),
    )
    conditions = load_conditions(paths.conditions)
    (store,) = load_embedding_stores(paths.embeddings, conditions)
    manifest = load_manifest(paths.manifest)
    scored = manifest.index[manifest["split"] == "test"]
    return conditions, store, scored


def test_displacement_is_the_mean_cosine_distance_per_layer(world):
    conditions, store, scored = world
    table = displacement_table(store, scored, PARAMS, 0).set_index(["layer", "condition"])
    assert set(table.index.unique("condition")) == set(conditions) - {"clean"}
    for layer, name in enumerate(store.layer_names):
        clean, fx = store.layer("clean", layer, scored), store.layer("reverb@5", layer, scored)
        expected = np.mean([cosine(a, b) for a, b in zip(clean, fx, strict=True)])
        row = table.loc[(name, "reverb@5")]
        assert row["cosine_distance"] == pytest.approx(expected)
        assert row["ci_low"] <= expected <= row["ci_high"] and row["n"] == len(scored)
    # planted: stronger levels and deeper layers move further
    reverb = table.xs("frontend")["cosine_distance"]
    assert reverb["reverb@2"] < reverb["reverb@5"] < reverb["reverb@8"]
    depth = table.xs("reverb@8", level="condition")["cosine_distance"]
    assert depth["head"] > depth["frontend"]


def test_trajectory_length_sums_consecutive_distances(world):
    conditions, store, scored = world
    table = trajectory_table(store, conditions, scored, PARAMS, 0).set_index(["group", "layer"])
    assert list(table.index.unique("group")) == ["reverb"]  # gain has one level
    path = ["clean", "reverb@2", "reverb@5", "reverb@8"]
    points = [store.layer(c, 0, scored) for c in path]
    expected = np.mean(
        [sum(cosine(points[k][i], points[k + 1][i]) for k in range(3)) for i in range(len(scored))]
    )
    row = table.loc[("reverb", "frontend")]
    assert row["length"] == pytest.approx(expected)
    assert row["levels"] == 3 and row["variance"] > 0


def test_trajectory_variance_is_zero_when_levels_do_not_move(tmp_path):
    paths = write_stores(tmp_path, n_tracks=12, effects={"gain": [3, 8]}, matched=(), chains=())
    conditions = load_conditions(paths.conditions)
    (store,) = load_embedding_stores(paths.embeddings, conditions)
    clean = np.load(paths.embeddings / "enc_a/clean.npy")
    for cid in ("gain@3", "gain@8"):
        np.save(paths.embeddings / f"enc_a/{cid}.npy", clean)
    table = trajectory_table(store, conditions, store.track_ids, PARAMS, 0)
    assert np.allclose(table["length"], 0, atol=1e-12)
    assert np.allclose(table["variance"], 0, atol=1e-12)


def test_sample_tracks_is_seeded_and_keeps_order():
    ids = pd.Index([f"t{i}" for i in range(50)])
    a, b = sample_tracks(ids, 10, 3), sample_tracks(ids, 10, 3)
    assert a.equals(b) and len(a) == 10 and list(a) == sorted(a, key=list(ids).index)
    assert sample_tracks(ids, 60, 3).equals(ids)


def test_tsne_projection_is_deterministic_and_covers_every_condition(world):
    conditions, store, scored = world
    params = ProjectionParams(method="tsne", max_tracks=8, perplexity=5)
    first = project_store(store, scored, params, 0)
    second = project_store(store, scored, params, 0)
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 8 * len(store.conditions)
    assert set(first["condition"]) == set(store.conditions)
    assert (first["layer"] == "head").all()  # default: the last layer


def test_umap_is_deterministic_single_threaded():
    points = np.random.default_rng(0).normal(size=(60, 5))
    params = ProjectionParams(n_neighbors=5, n_epochs=30)
    np.testing.assert_array_equal(embed_2d(points, params, 1), embed_2d(points, params, 1))
