"""run_analysis as a whole: which inputs it reads, and byte-identical outputs for equal inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emofx.analysis.config import AnalysisParams
from tests.analysis_stores import Paths, analyse, write_stores

PARAMS = AnalysisParams(
    n_bootstrap=100, projection={"max_tracks": 8, "n_epochs": 20, "n_neighbors": 5}
)


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Paths:
    return write_stores(
        tmp_path_factory.mktemp("run"),
        n_tracks=48,
        tasks=("regression", "classification"),
        effects={"reverb": [3, 8], "gain": [8]},
        chains=(),
        encoders={"enc_a": [("head", 6)], "dropped": [("only", 4)]},
    )


def _analyse(paths: Paths, out: Path, encoders: list[str]) -> dict:
    return analyse(paths, out, PARAMS, 3, encoders)


def test_only_the_listed_encoders_are_analysed(stores, tmp_path):
    """An encoder dropped from embed.encoders keeps its (persisted) store and predictions on
    disk; none of its numbers may reach the report."""
    result = _analyse(stores, tmp_path, ["enc_a"])
    assert "dropped" not in (tmp_path / "index.html").read_text()
    for csv in [tmp_path / "fx_impact.csv", *(tmp_path / "tables").glob("*.csv")]:
        assert "dropped" not in csv.read_text(), csv.name
    assert "dropped" not in json.dumps(result["metrics"])


def test_same_inputs_give_byte_identical_outputs(stores, tmp_path):
    _analyse(stores, tmp_path / "one", ["enc_a", "dropped"])
    _analyse(stores, tmp_path / "two", ["enc_a", "dropped"])
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*"))
    two = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*"))
    assert one == two and any(p.suffix == ".png" for p in one)
    differ = [
        p.as_posix()
        for p in one
        if (tmp_path / "one" / p).is_file()
        and (tmp_path / "one" / p).read_bytes() != (tmp_path / "two" / p).read_bytes()
    ]
    assert differ == []
