"""Manifest schema, normalisation, quadrants and group-disjoint seeded splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emofx.datasets.manifest import (
    MANIFEST_COLUMNS,
    assign_splits,
    labels_json,
    manifest_frame,
    normalise,
    quadrant,
)

FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}


def test_normalise_maps_scale_ends_and_midpoint():
    assert np.allclose(normalise(np.array([1.0, 5.0, 9.0]), 1, 9), [-1.0, 0.0, 1.0])
    assert normalise(0.25, 0, 1) == -0.5
    with pytest.raises(ValueError, match="high > low"):
        normalise(1.0, 9, 1)


def test_quadrant_follows_russell_and_leaves_neutral_null():
    v = pd.Series([0.5, -0.5, -0.5, 0.5, 0.0, 0.3, np.nan])
    a = pd.Series([0.5, 0.5, -0.5, -0.5, 0.4, 0.0, 0.2])
    got = quadrant(v, a)
    assert got.iloc[:4].tolist() == [1, 2, 3, 4]
    assert got.iloc[4:].isna().all()
    assert str(got.dtype) == "Int64"


def test_manifest_frame_applies_schema_and_rejects_unknown_columns():
    frame = manifest_frame([{"track_id": "a", "valence": 3.0}])
    assert tuple(frame.columns) == MANIFEST_COLUMNS
    assert frame.loc[0, "track_id"] == "a" and pd.isna(frame.loc[0, "arousal"])
    with pytest.raises(KeyError, match="genre"):
        manifest_frame([{"track_id": "a", "genre": "rock"}])


def test_labels_json_round_trips_proportions():
    assert labels_json({"calmness": 0.25, "power": 1}) == '{"calmness": 0.25, "power": 1.0}'


def _groups(n_groups: int, per_group: int) -> pd.Series:
    return pd.Series([f"g{i}" for i in range(n_groups) for _ in range(per_group)])


def test_splits_are_group_disjoint_sized_and_seeded():
    groups = _groups(200, 3)
    splits = assign_splits(groups, FRACTIONS, seed=0)
    assert (pd.DataFrame({"g": groups, "s": splits}).groupby("g")["s"].nunique() == 1).all()
    shares = splits.value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.7, abs=0.03)
    assert shares["val"] == pytest.approx(0.15, abs=0.03)
    assert shares["test"] == pytest.approx(0.15, abs=0.03)
    assert splits.equals(assign_splits(groups, FRACTIONS, seed=0))
    assert not splits.equals(assign_splits(groups, FRACTIONS, seed=1))


def test_stratified_splits_keep_every_quadrant_in_every_split():
    rng = np.random.default_rng(0)
    groups = _groups(120, 2)
    # one quadrant per group, unbalanced (Q2 rare): a plain shuffle could miss it in val/test
    per_group = rng.choice([1, 2, 3, 4], size=120, p=[0.4, 0.1, 0.25, 0.25])
    strata = pd.Series(np.repeat(per_group, 2))
    splits = assign_splits(groups, FRACTIONS, seed=3, strata=strata)
    table = pd.crosstab(strata, splits, normalize="columns")
    assert (table > 0).all().all()
    overall = strata.value_counts(normalize=True).sort_index()
    assert np.allclose(table["test"].sort_index(), overall, atol=0.06)


def test_zero_val_fraction_gives_no_val_split():
    splits = assign_splits(_groups(20, 1), {"train": 0.8, "val": 0.0, "test": 0.2}, seed=0)
    assert set(splits) == {"train", "test"}
    assert (splits == "test").sum() == 4


def test_split_errors_name_the_problem():
    with pytest.raises(ValueError, match="no group_id"):
        assign_splits(pd.Series(["a", None]), FRACTIONS, seed=0)
    with pytest.raises(ValueError, match="test split from 1 group"):
        assign_splits(pd.Series(["a", "a"]), FRACTIONS, seed=0)
