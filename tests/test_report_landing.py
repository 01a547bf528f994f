"""reports/index.html links every dataset's report; a second dataset never overwrites the first."""

from __future__ import annotations

import json

from emofx.analysis.landing import write_landing


def test_landing_links_each_dataset_with_its_headline(tmp_path):
    for name, n in (("deam", 270), ("emotify", 60)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text("<html></html>")
        metrics = {"n_tracks": n, "clean": {"musicnn": {"xgboost": {"r2_arousal": 0.5}}}}
        (tmp_path / name / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "half").mkdir()  # a folder without a report is not listed
    page = write_landing(tmp_path).read_text()
    assert page.index('href="deam/index.html"') < page.index('href="emotify/index.html"')
    assert "270 test tracks; musicnn/xgboost" in page and "60 test tracks" in page
    assert "half" not in page
    assert write_landing(tmp_path).read_text() == page  # deterministic


def test_landing_without_reports_says_so(tmp_path):
    assert "no report yet" in write_landing(tmp_path).read_text()
