"""Writing figures: a PNG for the page and an interactive HTML per figure, byte-reproducible.

Every HTML figure loads plotly.js from one shared local file (``assets/plotly.min.js`` under the
report folder), so the report opens offline without inlining 4.7 MB of JavaScript per figure.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
from matplotlib.figure import Figure
from PIL import Image
from plotly.offline import get_plotlyjs

PLOTLY_JS = "assets/plotly.min.js"  # relative to the report folder
PNG_DPI = 110
PNG_COLOURS = 256


@dataclass
class FigurePair:
    title: str
    caption: str
    png: Figure
    html: go.Figure


def write_plotly_js(report_dir: Path) -> Path:
    """The shared plotly.js of every interactive figure (the installed plotly's bundle)."""
    path = report_dir / PLOTLY_JS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(get_plotlyjs(), encoding="utf-8")
    return path


def save_figure(pair: FigurePair, out_dir: Path, name: str) -> list[Path]:
    """Write ``<name>.png`` and ``<name>.html`` under ``out_dir`` (a folder directly below the
    report folder, next to ``assets/``); return both paths.

    Same figure → same bytes: the PNG carries no metadata and the plotly div is named after the
    figure instead of a random UUID.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    png, html = out_dir / f"{name}.png", out_dir / f"{name}.html"
    _write_png(pair.png, png)
    pair.html.update_layout(title=pair.title, template="plotly_white")
    pair.html.write_html(
        html,
        include_plotlyjs=f"../{PLOTLY_JS}",
        full_html=True,
        div_id=name,
        config={"displaylogo": False},
    )
    return [png, html]


def _write_png(figure: Figure, path: Path) -> None:
    """The figure as a 256-colour palette PNG (about a third of the RGBA size; plots have few
    colours) without metadata."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PNG_DPI, metadata={"Software": None})
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(PNG_COLOURS, method=Image.Quantize.MEDIANCUT)
    palette.save(path, format="png", optimize=True)
