"""Report charts drawn on the server with matplotlib: SVG with every glyph turned into a path,
in the bundled Noto Sans SC, so a report looks the same in any browser or PDF reader and needs
no font of the reader's machine and no browser to draw it.

Plain data in (numbers and labels already translated), SVG text out. matplotlib's settings are
process-wide, so drawing is serialised with a lock.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from im2 import fonts

_LOCK = threading.Lock()
INK = "#1d2330"
MUTED = "#5d6678"
GRID = "#dde1e8"
ACCENT = "#c8102e"
PALETTE = ("#c8102e", "#1d5fb8", "#1f7a4d", "#a35c00", "#6b3fa0", "#0f7c8c", "#5d6678")
WIDTH_IN = 6.8  # fits A4's text width at 96 dpi with margins


@lru_cache(maxsize=1)
def _setup() -> Any:  # matplotlib types rc keys as a Literal of every name
    """Register the bundled font with matplotlib once; the style every chart is drawn in."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(fonts.REGULAR))
    font_manager.fontManager.addfont(str(fonts.BOLD))
    return {
        "svg.fonttype": "path",
        "svg.hashsalt": "im2-report",  # stable ids: the same data gives the same SVG
        "font.family": [fonts.FAMILY],
        "font.size": 9,
        "axes.edgecolor": GRID,
        "axes.labelcolor": MUTED,
        "axes.titlesize": 10,
        "axes.titleweight": "bold",
        "axes.titlecolor": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "axes.unicode_minus": False,
        "figure.dpi": 96,
        "savefig.transparent": False,
    }


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(
        buffer,
        format="svg",
        bbox_inches="tight",
        facecolor="white",
        metadata={"Date": None},  # no timestamp: the same data gives the same bytes
    )
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: the SVG is embedded


def _figure(height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH_IN, height), layout="constrained")


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def horizontal_bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    annotations: Sequence[str] | None = None,
    reference: float | None = None,
    reference_label: str | None = None,
    color: str = ACCENT,
) -> str:
    """One bar per label, top to bottom, each with its figure written beside it; an optional
    dashed reference line (e.g. 100 % of a target)."""
    import matplotlib

    with _LOCK, matplotlib.rc_context(_setup()):
        fig = _figure(0.45 * len(labels) + 0.8)
        ax = fig.add_subplot()
        positions = list(range(len(labels)))[::-1]
        ax.barh(positions, values, color=color, height=0.6)
        ax.set_yticks(positions, labels)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", color=GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        top = max([*values, reference or 0.0, 1.0])
        ax.set_xlim(0, top * 1.18)
        notes = annotations or [_fmt(v) for v in values]
        for y, value, note in zip(positions, values, notes, strict=True):
            ax.text(value + top * 0.01, y, note, va="center", color=INK, fontsize=8.5)
        if reference is not None:
            ax.axvline(reference, color=INK, linestyle="--", linewidth=0.8)
            if reference_label:
                ax.text(
                    reference,
                    len(labels) - 0.45,
                    reference_label,
                    color=INK,
                    fontsize=8,
                    ha="center",
                )
        return _svg(fig)


def lines(
    x: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    stacked: bool = False,
    colors: Sequence[str] = PALETTE,
) -> str:
    """Daily lines (or stacked areas) with a legend; x labels thinned to about eight."""
    import matplotlib
    from matplotlib.ticker import MaxNLocator

    with _LOCK, matplotlib.rc_context(_setup()):
        fig = _figure(2.6)
        ax = fig.add_subplot()
        positions = list(range(len(x)))
        if stacked:
            ax.stackplot(
                positions,
                *[values for _name, values in series],
                labels=[name for name, _values in series],
                colors=list(colors[: len(series)]),
                alpha=0.85,
            )
        else:
            for (name, values), color in zip(series, colors, strict=False):
                ax.plot(
                    positions,
                    values,
                    label=name,
                    color=color,
                    linewidth=1.6,
                    marker="o" if len(positions) <= 14 else None,  # a lone day still shows
                    markersize=3,
                )
        step = max(1, len(x) // 8)
        ax.set_xticks(positions[::step], [x[i] for i in positions[::step]])
        ax.grid(axis="y", color=GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        if len(positions) == 1:
            ax.set_xlim(-0.5, 0.5)
        ax.legend(
            frameon=False,
            ncol=min(len(series), 4),
            loc="lower left",
            bbox_to_anchor=(0, 1.0),
            fontsize=8,
        )
        return _svg(fig)
