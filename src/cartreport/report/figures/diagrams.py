"""Diagrams drawn from counts: the CONSORT-style patient flow and the treatment sequence (matplotlib only)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Polygon

from cartreport.analysis.baseline import left_out
from cartreport.report.captions import FLOW_STEPS, flow_steps, without_cr
from cartreport.report.figures.style import DOUBLE_COLUMN, PALETTE, SMALL, _number

__all__ = ["FLOW_DROPS", "FLOW_STEPS", "SEQUENCE_STEPS", "plot_flow", "plot_treatment_sequence"]


def _diagram_axes(width: float, height: float) -> tuple[Figure, Axes]:
    """A figure whose single axes spans it in inches (x right, y up), without spines."""
    fig = plt.figure(figsize=(width, height))
    fig.set_layout_engine("none")  # (layout="none" at creation is overridden by rcParams at the first draw)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return fig, ax


def _box(ax: Axes, x: float, top: float, width: float, lines: list[str], *, bold_first: bool = True) -> float:
    """A rounded box of fixed width with wrapped text, hanging from ``top``; returns its height (inches)."""
    line_h = 0.16
    height = 0.14 + line_h * len(lines)
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, top - height),
            width,
            height,
            boxstyle="round,pad=0,rounding_size=0.05",
            fc="white",
            ec="0.25",
            lw=0.8,
        )
    )
    for i, line in enumerate(lines):
        ax.text(
            x,
            top - 0.07 - line_h * (i + 0.5),
            line,
            ha="center",
            va="center",
            fontsize=SMALL + 0.5,
            fontweight="bold" if (bold_first and i == 0) else "normal",
        )
    return height


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "lw": 0.8, "color": "0.25", "shrinkA": 0, "shrinkB": 0},
    )


#: side boxes for the drop between two consecutive main boxes (previous − next), the drop being its own reason
FLOW_DROPS = {"bm_evaluable": "Not evaluable", "bm_cr": "No bone-marrow CR", "transplanted": "No second HSCT"}


def _reasons(title: str, excluded: list[Mapping[str, Any]]) -> list[str]:
    """A side box listing why patients left: ``"Excluded (n = 14)"``, then ``"• outside the selected subgroup: n =
    11"`` and so on, wrapped."""
    total = sum(int(e["n"]) for e in excluded)
    return [f"{title} (n = {_number(total)})"] + [
        line
        for e in excluded
        for line in textwrap.wrap(f"• {e['reason']}: n = {_number(e['n'])}", 30, break_on_hyphens=False)
    ]


def plot_flow(flow: Mapping[str, Any], *, steps: Sequence[tuple[str, str]] = FLOW_STEPS) -> Figure:
    """CONSORT-style patient flow from ``results["flow"]``: one box per step with "n = …", arrows between them,
    and a side box on the arrow where patients leave, for the drop between the two steps: the patients left out
    of the report (outside the selected subgroup, infused after the data cut-off; :func:`~cartreport.analysis.
    baseline.left_out`) between "Enrolled" and the next step, the drops of :data:`FLOW_DROPS` (not evaluable, no
    CR, no second HSCT), and any other reason on the arrow into "Analysed". The side boxes add up to the enrolled
    patients not analysed. Steps whose key is missing or None are left out. Only numbers from ``flow`` are drawn.
    """
    width = DOUBLE_COLUMN
    main_x, main_w, side_x, side_w = 2.35, 3.7, 5.5, 2.3
    if steps is FLOW_STEPS:  # the titles the caption's alternative text repeats
        steps = flow_steps(flow)
    present = [(key, title) for key, title in steps if flow.get(key) is not None]
    side: dict[str, list[str]] = {}
    excluded = [e for e in flow.get("excluded") or [] if int(e.get("n", 0)) > 0]
    before = left_out(flow)
    if before and len(present) > 1:  # they leave before any step after enrolment
        side[present[1][0]] = _reasons("Excluded", before)
    not_in_cr = int(flow.get("transplanted_without_cr") or 0)  # they reach the HSCT from outside the CR box
    for (prev, _), (key, _) in zip(present, present[1:], strict=False):
        drop = (
            int(flow[prev]) - int(flow[key]) + (not_in_cr if (prev, key) == ("bm_cr", "transplanted") else 0)
        )
        if key in FLOW_DROPS and drop > 0:
            side[key] = [FLOW_DROPS[key], f"n = {_number(drop)}"]
    if len(present) > 1 and present[-1][0] == "analysed" and "analysed" not in side:
        others = [e for e in excluded if e not in before]  # e.g. no second HSCT, when that step is not drawn
        if int(flow[present[-2][0]]) > int(flow["analysed"]) and others:
            side["analysed"] = _reasons("Not analysed", others)
    if not side:  # no side boxes: the column of boxes in the middle of the figure
        main_x = width / 2
    boxes: list[tuple[str, list[str]]] = []
    for key, title in present:
        lines = textwrap.wrap(title, 40) + [f"n = {_number(flow[key])}"]
        if key == "bm_cr" and flow.get("bm_mrd_negative_cr") is not None:
            lines[-1] += f" (MRD-negative n = {_number(flow['bm_mrd_negative_cr'])})"
        if key == "transplanted":
            lines[-1] += without_cr(flow)
        boxes.append((key, lines))
    gaps = [max(0.35, 0.2 + 0.16 * len(side.get(key, [])) + 0.14 * (key in side)) for key, _ in boxes[1:]]
    heights = [0.14 + 0.16 * len(lines) for _, lines in boxes]
    total = sum(heights) + sum(gaps) + 0.2
    fig, ax = _diagram_axes(width, max(total, 1.0))
    top = total - 0.1
    for i, (key, lines) in enumerate(boxes):
        if i:
            gap = gaps[i - 1]
            _arrow(ax, (main_x, top + gap), (main_x, top))
            if key in side:
                mid = top + gap / 2
                side_h = 0.14 + 0.16 * len(side[key])
                ax.plot([main_x, side_x - side_w / 2], [mid, mid], color="0.25", lw=0.8)
                _box(ax, side_x, mid + side_h / 2, side_w, side[key])
        top -= _box(ax, main_x, top, main_w, lines)
        if i + 1 < len(boxes):
            top -= gaps[i]
    return fig


#: the treatment sequence, in order: (key used in interval names "<from>_to_<to>", label)
SEQUENCE_STEPS: tuple[tuple[str, str], ...] = (
    ("first_hsct", "First HSCT"),
    ("relapse", "Relapse"),
    ("cart", "CD7 CAR-T"),
    ("response", "Response\nassessment"),
    ("second_hsct", "Second HSCT"),
    ("follow_up", "Follow-up"),
)


def _interval_text(item: Mapping[str, Any]) -> str | None:
    if item.get("median_days") is None:
        return None
    text = f"{_number(item['median_days'])} d"
    if item.get("min_days") is not None and item.get("max_days") is not None:
        text += f" ({_number(item['min_days'])}–{_number(item['max_days'])})"
    return text + (f"\nn = {_number(item['n'])}" if item.get("n") is not None else "")


def plot_treatment_sequence(
    intervals: Sequence[Mapping[str, Any]], *, steps: Sequence[tuple[str, str]] = SEQUENCE_STEPS
) -> Figure:
    """The treatment sequence as chevrons, with the median (range) days between steps under them.

    ``intervals`` is ``results["intervals"]``: items ``{"name", "label", "n", "median_days", "min_days",
    "max_days"}``. An item named ``"<from>_to_<to>"`` (keys of :data:`SEQUENCE_STEPS`, e.g.
    ``"cart_to_second_hsct"``) is drawn as a bracket from the centre of one step to the other; items without
    numbers are left out and items whose steps are unknown are listed in a footnote.
    """
    keys = [key for key, _ in steps]
    placed: list[tuple[int, int, str]] = []
    unknown: list[str] = []
    for item in intervals:
        text = _interval_text(item)
        if text is None:
            continue
        start, _, end = str(item.get("name", "")).partition("_to_")
        if start in keys and end in keys and keys.index(start) < keys.index(end):
            placed.append((keys.index(start), keys.index(end), text))
        else:
            unknown.append(f"{item.get('label', item.get('name'))}: {text.replace(chr(10), ', ')}")
    rows: list[
        list[tuple[int, int, str]]
    ] = []  # greedy: an interval goes in the first row it does not overlap
    for span in sorted(placed):
        row = next((r for r in rows if all(span[0] >= b or span[1] <= a for a, b, _ in r)), None)
        if row is None:
            rows.append(row := [])
        row.append(span)
    width, tip, chevron_h, row_h = DOUBLE_COLUMN, 0.14, 0.55, 0.42
    pitch = (width - 0.1 - tip) / len(steps)
    notes = (["Median (range) days between steps; n = patients with both dates."] if placed else []) + unknown
    height = 0.1 + chevron_h + 0.12 + row_h * len(rows) + 0.17 * len(notes) + 0.08
    fig, ax = _diagram_axes(width, height)
    top = height - 0.1
    for i, (_, label) in enumerate(steps):
        left, right = 0.05 + i * pitch, 0.05 + (i + 1) * pitch - 0.03
        notch = tip if i else 0.0
        points = [
            (left, top),
            (right, top),
            (right + tip, top - chevron_h / 2),
            (right, top - chevron_h),
            (left, top - chevron_h),
            (left + notch, top - chevron_h / 2),
        ]
        ax.add_patch(Polygon(points, closed=True, fc=PALETTE[0], ec="none"))
        ax.text(
            (left + right + notch) / 2,
            top - chevron_h / 2,
            label,
            ha="center",
            va="center",
            color="white",
            fontsize=SMALL + 0.5,
            fontweight="bold",
            linespacing=1.0,
        )
    y = top - chevron_h - 0.12
    for row in rows:
        for a, b, text in row:
            xa, xb = 0.05 + (a + 0.5) * pitch + tip / 2, 0.05 + (b + 0.5) * pitch + tip / 2
            ax.plot([xa, xa, xb, xb], [y + 0.05, y, y, y + 0.05], color="0.3", lw=0.8)
            ax.text((xa + xb) / 2, y - 0.04, text, ha="center", va="top", fontsize=SMALL, linespacing=1.1)
        y -= row_h
    for line in notes:
        ax.text(0.05, y, line, ha="left", va="top", fontsize=SMALL, color="0.3")
        y -= 0.17
    return fig
