"""Bar charts as inline SVG, drawn with matplotlib off-screen (no display, no pyplot).

The SVG draws its text as paths (DejaVu Sans, which has every Vietnamese letter), so it
looks the same in any browser without fonts; its element ids are prefixed per chart, so
several charts can share one page. Labels are plain text: a ``$`` in a name is drawn as
itself, never read as mathtext.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # before anything draws: never look for a display

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

PALETTE = ("#1d4ed8", "#15803d", "#b91c1c", "#a16207", "#6b7280")


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    color: str | None = None  # default: the palette, in order


def bars(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    horizontal: bool = False,
    stacked: bool = False,
    chart_id: str = "c",
) -> str:
    """A grouped (or stacked) bar chart of ``series`` over ``categories``, as SVG text."""
    with matplotlib.rc_context(
        {
            "font.family": "DejaVu Sans",
            "font.size": 10,
            "svg.fonttype": "path",
            "svg.hashsalt": "bientap",  # the same figures draw the same file
            "text.parse_math": False,  # an agency's name "Quỹ $5…$" is text, not TeX
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        height = max(3.0, 0.45 * len(categories) + 1.5) if horizontal else 3.6
        fig = Figure(figsize=(8, height), layout="constrained")
        ax = fig.subplots()
        _draw(ax, categories, series, horizontal, stacked)
        ax.set_title(title, loc="left", fontsize=12, fontweight="bold")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.grid(axis="x" if horizontal else "y", color="#e5e7eb")
        ax.set_axisbelow(True)
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    return _inline(out.getvalue(), chart_id, title)


def _draw(
    ax: Axes,
    categories: Sequence[str],
    series: Sequence[Series],
    horizontal: bool,
    stacked: bool,
) -> None:
    n = len(series)
    width = 0.8 if stacked else 0.8 / max(n, 1)
    base = [0.0] * len(categories)
    for i, s in enumerate(series):
        offset = 0.0 if stacked else (i - (n - 1) / 2) * width
        where = [k + offset for k in range(len(categories))]
        values, color = list(s.values), s.color or PALETTE[i % len(PALETTE)]
        under = base if stacked else None
        if horizontal:
            ax.barh(where, values, width, left=under, label=s.label, color=color)
        else:
            ax.bar(where, values, width, bottom=under, label=s.label, color=color)
        if stacked:
            base = [b + v for b, v in zip(base, values, strict=True)]
    ticks = list(range(len(categories)))
    if horizontal:
        ax.set_yticks(ticks, list(categories))
        ax.invert_yaxis()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.set_xticks(ticks, list(categories))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))


# An id, and a reference to one, in matplotlib's SVG: id="…", xlink:href="#…", url(#…).
_ID_OR_REF = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


def _inline(svg: str, prefix: str, title: str) -> str:
    """The ``<svg>`` element alone, scalable, with its ids made unique to this chart (in
    one pass: a chart of hundreds of agencies has thousands of ids)."""
    svg = svg[svg.index("<svg") :]
    svg = _ID_OR_REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    svg = re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r"\1", svg, count=1)
    label = html.escape(title, quote=True)
    return svg.replace(
        "<svg", f'<svg role="img" aria-label="{label}" class="chart" id="{prefix}"', 1
    )
