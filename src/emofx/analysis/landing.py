"""``reports/index.html``: the landing page linking every dataset's report.

Each dataset analysed in the project keeps its own folder (``reports/<dataset>/``), so a second
dataset never overwrites the first one's report, tables and metrics; this page lists them all with
their headline numbers (read from each ``metrics.json``). Deterministic: only what is on disk.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>emofx reports</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; }}
table {{ border-collapse: collapse; }}
td, th {{ padding: 0.3em 1em; border-bottom: 1px solid #ddd; text-align: left; }}
</style>
</head>
<body>
<h1>emofx reports</h1>
<p>One report per dataset analysed in this project (<code>reports/&lt;dataset&gt;/</code>).</p>
<table>
<tr><th>dataset</th><th>report</th><th>headline figures</th></tr>
{rows}
</table>
</body>
</html>
"""


def _headline(metrics_path: Path) -> str:
    """Test tracks and encoders × probes of a dataset's ``metrics.json`` (or why not)."""
    if not metrics_path.is_file():
        return "no metrics.json"
    try:
        metrics = json.loads(metrics_path.read_text())
    except json.JSONDecodeError:
        return "metrics.json unreadable"
    clean = metrics.get("clean", {})
    models = ", ".join(f"{e}/{p}" for e in sorted(clean) for p in sorted(clean[e]))
    protocol = metrics.get("evaluation", {}).get("protocol")
    scored = "out-of-fold" if protocol == "cv" else "test"
    return f"{metrics.get('n_tracks', '?')} {scored} tracks; {models or 'no probe scores'}"


def write_landing(reports_root: Path) -> Path:
    """Write ``reports_root/index.html`` linking ``reports_root/<dataset>/index.html``."""
    reports = sorted(p.parent for p in reports_root.glob("*/index.html"))
    rows = "\n".join(
        f'<tr><td>{html.escape(d.name)}</td><td><a href="{html.escape(d.name)}/index.html">'
        f"{html.escape(d.name)}/index.html</a></td>"
        f"<td>{html.escape(_headline(d / 'metrics.json'))}</td></tr>"
        for d in reports
    )
    path = reports_root / "index.html"
    path.write_text(PAGE.format(rows=rows or '<tr><td colspan="3">no report yet</td></tr>'))
    return path
