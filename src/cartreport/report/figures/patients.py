"""Patient-level and summary figures: the swimmer plot, response rates and a forest plot of estimates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from cartreport.analysis.endpoints import month_ticks
from cartreport.formatting import round_half_up
from cartreport.report.figures.style import (
    DOUBLE_COLUMN,
    PALETTE,
    SMALL,
    _new_axes,
    _number,
    _text_width,
    data_labels,
)

__all__ = ["plot_forest", "plot_responses", "plot_swimmer"]

_RESPONSE_SHORT = {"MRD-negative CR": "MRD− CR", "MRD-positive CR": "MRD+ CR"}
_SWIMMER_MARKERS = {  # column: (legend label, marker style)
    "second_hsct_months": ("Second HSCT", {"marker": "^", "color": "black", "ms": 5.5}),
    "relapse_months": ("Relapse", {"marker": "X", "color": "#D55E00", "mec": "black", "mew": 0.4, "ms": 6.5}),
    "death_months": ("Death", {"marker": "s", "color": "black", "ms": 4.5}),
}
#: markers of one patient closer than this (fraction of the time axis) are spread vertically on the bar
_MARKER_CLEARANCE = 0.018
#: the swimmer's bar colours, one per diagnosis: :data:`PALETTE` without black (the event markers are black), light
#: colours first and vermilion (the relapse marker's colour) last
_DIAGNOSIS_COLOURS = ("#56B4E9", "#CC79A7", "#009E73", "#E69F00", "#0072B2", "#F0E442", "#D55E00")
#: the bars of the diagnoses beyond the palette's colours, drawn together as "Other diagnoses (k)"
_OTHER_COLOUR = "#B0B0B0"


def _diagnosis_colours(diagnoses: pd.Series) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The colour of each diagnosis drawn, and the legend's (label, colour) entries, in name order, "Other" last
    (a list: two long diagnoses may be clipped to one label, and keep an entry each).

    Up to :data:`_DIAGNOSIS_COLOURS` diagnoses get a colour each; with more, the most frequent (then first by name)
    keep one less than that and the others share a grey, counted in the legend: a colour used twice would make two
    diagnoses one in the figure.
    """
    counts = diagnoses.value_counts()
    names = sorted(counts.index)
    if len(names) > len(_DIAGNOSIS_COLOURS):
        ranked = sorted(names, key=lambda d: (-counts[d], d))
        names = sorted(ranked[: len(_DIAGNOSIS_COLOURS) - 1])
    colour_of = {d: _DIAGNOSIS_COLOURS[i] for i, d in enumerate(names)}
    legend = list(zip(data_labels(names), (colour_of[d] for d in names), strict=True))
    others = len(counts) - len(names)
    if others:
        legend.append((f"Other diagnoses ({others:,})", _OTHER_COLOUR))
    return {d: colour_of.get(d, _OTHER_COLOUR) for d in counts.index}, legend


def _dodge(x: np.ndarray, clearance: float, spread: float = 0.2) -> np.ndarray:
    """Vertical offsets (rows) for one patient's markers at times ``x``: 0 for a marker that stands alone;
    markers in a run closer than ``clearance`` apart get offsets spread evenly over ±``spread``, in time order."""
    offsets = np.zeros(len(x))
    order = np.argsort(x, kind="mergesort")
    runs: list[list[int]] = []
    for i in order:
        if not np.isfinite(x[i]):
            continue
        if runs and x[i] - x[runs[-1][-1]] < clearance:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        if len(run) > 1:
            offsets[run] = np.linspace(-spread, spread, len(run))
    return offsets


def _descending_key(values: np.ndarray) -> np.ndarray:
    """int64 keys ordering floats as ``sort_values(ascending=False)`` does: largest first, missing (NaN) last,
    ``-0.0`` equal to ``0.0``. Negated, a float's bits order as integers once a negative one's lower 63 are flipped.

    >>> _descending_key(np.array([1.0, np.nan, -np.inf, 2.5, -0.0, 0.0])).argsort(kind="stable").tolist()
    [3, 0, 4, 5, 2, 1]
    """
    bits = (-values + 0.0).view(np.int64)  # + 0.0 turns -0.0 into 0.0
    key = np.where(bits < 0, bits ^ np.int64(0x7FFF_FFFF_FFFF_FFFF), bits)
    key[np.isnan(values)] = np.iinfo(np.int64).max
    return key


def _systematic_sample(timeline: pd.DataFrame, max_patients: int) -> pd.DataFrame:
    """Longest follow-up first; beyond ``max_patients``, evenly spaced rows of that order (deterministic).

    The order is ``sort_values(["end_months", id as text], ascending=[False, True], kind="mergesort")``: missing
    follow-up last, ids compared as Python compares text (pyarrow's stable sort of UTF-8 bytes). A large cohort is
    not sorted whole, as only the rows at the drawn positions are needed: :func:`numpy.partition` finds the
    follow-up at each of them, the rows sharing one of those follow-up times are sorted, and the others counted.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    key = _descending_key(timeline["end_months"].to_numpy(dtype=float))
    n = len(key)
    if n <= max_patients:
        positions = np.arange(n)
    else:
        positions = np.unique(np.round(np.linspace(0, n - 1, max_patients)).astype(int))
    drawn = np.partition(key, positions)[positions] if n else key  # the key at each drawn position
    values = np.unique(drawn)
    # the rows holding one of those keys, in the table's order
    candidates = np.flatnonzero(np.isin(key, values))
    ids = timeline["patient_id"].iloc[candidates].astype(str).to_numpy(dtype=object)
    by = pa.table({"key": key[candidates], "id": pa.array(ids, type=pa.string())})
    ranked = candidates[pc.sort_indices(by, sort_keys=[("key", "ascending"), ("id", "ascending")]).to_numpy()]
    # the row at position p, holding key v, is the (p - #rows of a smaller key)-th of the ranked rows of key v
    # (smaller[j]: the rows whose key is below values[j])
    smaller = np.cumsum(np.bincount(np.searchsorted(values, key, side="right"), minlength=len(values) + 1))
    which = np.searchsorted(values, drawn)
    first = np.searchsorted(key[ranked], values, side="left")  # where each key's rows start among the ranked
    rows = ranked[first[which] + positions - smaller[which]]
    return timeline.iloc[rows].reset_index(drop=True)


def plot_swimmer(
    timeline: pd.DataFrame,
    *,
    max_patients: int = 60,
    xlabel: str = "Months since CD7 CAR-T infusion",
    show_ids: bool | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """One bar per patient from the CAR-T infusion (0) to death or last contact, coloured by diagnosis, with
    second HSCT, relapse and death marked and an open arrow for patients alive at last contact.

    ``timeline`` is :func:`cartreport.analysis.endpoints.patient_timeline` (columns ``patient_id``, ``diagnosis``,
    ``end_months``, ``second_hsct_months``, ``relapse_months``, ``death_months``, ``censored``, ``bm_response``,
    ``emd_response``; missing event columns count as "did not happen"). Patients are sorted by follow-up, longest
    on top. Above ``max_patients`` an evenly spaced (systematic, deterministic) sample of that order is drawn and
    the title says so. Patient IDs and best responses are written when at most 40 rows are drawn
    (``show_ids``).
    """
    if max_patients < 1:
        raise ValueError("max_patients must be at least 1")
    n_total = len(timeline)
    rows = _systematic_sample(timeline, max_patients)
    n = len(rows)
    show_ids = n <= 40 if show_ids is None else show_ids
    own_figure = ax is None
    ax = _new_axes(ax, (DOUBLE_COLUMN, 1.2 + n * (0.17 if show_ids else 0.09)))
    y = np.arange(n)
    diagnosis = rows["diagnosis"].astype(str)
    colour_of, legend = _diagnosis_colours(diagnosis)
    ends = rows["end_months"].to_numpy(dtype=float)
    ax.barh(y, ends, height=0.62, color=[colour_of[d] for d in diagnosis], zorder=2)
    ticks, right = month_ticks(float(np.nanmax(ends, initial=1.0)))  # the report's one time-axis rule
    ax.plot(np.zeros(n), y, ls="none", marker="D", ms=3.5, color="black", zorder=3, clip_on=False)
    handles: list[Any] = [Patch(color=colour, label=label) for label, colour in legend]
    handles.append(Line2D([], [], ls="none", marker="D", ms=3.5, color="black", label="CD7 CAR-T infusion"))
    events = {
        column: rows[column].to_numpy(dtype=float) if column in rows else np.full(n, np.nan)
        for column in _SWIMMER_MARKERS
    }
    alive = (
        rows["censored"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        if "censored" in rows
        else np.zeros(n, bool)
    )
    arrow_x = np.where(alive, ends + 0.012 * right, np.nan)
    stacked = np.column_stack([*events.values(), arrow_x]) if n else np.zeros((0, len(events) + 1))
    offsets = np.array([_dodge(row, _MARKER_CLEARANCE * right) for row in stacked]).reshape(stacked.shape)
    for k, (column, (label, style)) in enumerate(_SWIMMER_MARKERS.items()):
        values = events[column]
        if np.isfinite(values).any():
            ax.plot(values, y + offsets[:, k], ls="none", zorder=4, clip_on=False, **style)
            handles.append(Line2D([], [], ls="none", label=label, **style))
    if alive.any():
        arrow = {"marker": ">", "mfc": "white", "mec": "black", "mew": 0.9, "ms": 5.5, "color": "black"}
        ax.plot(arrow_x[alive], (y + offsets[:, -1])[alive], ls="none", zorder=4, clip_on=False, **arrow)
        handles.append(Line2D([], [], ls="none", label="Alive at last contact", **arrow))
    ax.set_ylim(n - 0.4, -0.6)
    if show_ids:
        ax.set_yticks(y, labels=data_labels(rows["patient_id"].astype(str)), fontsize=SMALL)
        ax.set_ylabel("Patient")
        if {"bm_response", "emd_response"} & set(rows.columns):
            _response_column(ax, rows)
    else:
        ax.set_yticks([])
        ax.set_ylabel("Patients (sorted by follow-up)")
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.set_xlim(-0.02 * right, right * 1.03)
    ax.set_xticks(ticks, labels=[_number(t) for t in ticks])
    ax.spines["bottom"].set_bounds(0, right)
    ax.set_xlabel(xlabel)
    # above the bars, never on them, across the figure (long ids leave the bars less than its width); as many
    # columns as the longest label leaves room for
    widest = max(_text_width(h.get_label()) for h in handles) / 72 + 0.45  # inches: text, handle and gaps
    columns = int(min(4, max(1, DOUBLE_COLUMN // widest)))
    if own_figure:
        ax.figure.legend(handles=handles, loc="outside upper left", ncols=columns)
    else:  # drawn on the caller's axes: the legend stays with them
        ax.legend(
            handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncols=columns, borderaxespad=0
        )
    if title is None and n < n_total:
        title = f"Systematic sample of {n:,} of {n_total:,} patients (evenly spaced by follow-up)"
    if title:
        ax.set_title(title, fontsize=SMALL + 1, pad=6 if own_figure else 30)  # clear of an axes legend
    return ax


def _response_column(ax: Axes, rows: pd.DataFrame) -> None:
    """Best bone-marrow / extramedullary response as a text column right of the axes."""
    transform = ax.get_yaxis_transform()  # x in axes fraction, y in data

    def short(value: Any) -> str:
        return "–" if pd.isna(value) else _RESPONSE_SHORT.get(str(value), str(value))

    ax.text(1.02, -0.9, "BM / EMD", transform=transform, fontsize=SMALL, fontweight="bold", va="bottom")
    for i, (bm, emd) in enumerate(
        zip(
            rows.get("bm_response", [np.nan] * len(rows)),
            rows.get("emd_response", [np.nan] * len(rows)),
            strict=True,
        )
    ):
        ax.text(1.02, i, f"{short(bm)} / {short(emd)}", transform=transform, fontsize=SMALL, va="center")


def plot_responses(
    responses: Mapping[str, Mapping[str, Any]],
    *,
    xlabel: str = "Patients responding (%)",
    ax: Axes | None = None,
) -> Axes:
    """Response rates as horizontal bars with exact CI whiskers and "x/n" to the right.

    ``responses`` is ``results["responses"]``: ``{key: {"label", "responders", "evaluable", "rate", "ci_low",
    "ci_high", "method"}}`` with fractions 0–1; a rate of None (nothing evaluable) is written "not evaluable".
    Rows are drawn top to bottom in the order given. The CI method, when all rows share it, is noted under the axis.
    """
    items = list(responses.values())
    ax = _new_axes(ax, (DOUBLE_COLUMN, 0.8 + 0.3 * len(items)))
    transform = ax.get_yaxis_transform()
    labels = [str(item.get("label", key)) for key, item in responses.items()]
    rates = [
        100 * item["rate"] if item.get("rate") is not None and item.get("evaluable") else np.nan
        for item in items
    ]
    # a categorical bar chart: seaborn's barplot, drawing the rates as given (the exact CIs are drawn below)
    sns.barplot(
        x=rates,
        y=labels,
        orient="h",
        order=labels,
        color=PALETTE[0],
        alpha=0.85,
        width=0.55,
        errorbar=None,
        ax=ax,
    )
    for bar in ax.patches:
        bar.set_zorder(2)
    for i, item in enumerate(items):
        rate = item.get("rate")
        if rate is None or not item.get("evaluable"):
            ax.text(
                1, i, "not evaluable", va="center", ha="left", fontsize=SMALL, color="0.35", style="italic"
            )
            ax.text(
                1.02,
                i,
                f"0/{int(item.get('evaluable') or 0)}",
                transform=transform,
                va="center",
                fontsize=SMALL,
            )
            continue
        if item.get("ci_low") is not None and item.get("ci_high") is not None:
            lo, hi = 100 * item["ci_low"], 100 * item["ci_high"]
            ax.errorbar(
                100 * rate,
                i,
                xerr=[[100 * rate - lo], [hi - 100 * rate]],
                fmt="none",
                ecolor="black",
                elinewidth=0.9,
                capsize=3,
                zorder=3,
            )
        ax.text(
            1.02,
            i,
            f"{int(item['responders'])}/{int(item['evaluable'])}",
            transform=transform,
            va="center",
            fontsize=SMALL,
        )
    ax.set_yticks(range(len(items)), labels=labels)
    ax.set_ylabel("")
    ax.set_ylim(len(items) - 0.4, -0.6)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.set_xlim(0, 100)
    ax.set_xticks(range(0, 101, 20))
    ax.set_xlabel(xlabel)
    methods = {item.get("method") for item in items if item.get("method")}
    if len(methods) == 1:
        ax.set_title(f"Whiskers: {methods.pop()}", fontsize=SMALL, color="0.3", fontweight="normal")
    return ax


def plot_forest(
    rows: pd.DataFrame,
    *,
    estimate: str = "estimate",
    low: str = "ci_low",
    high: str = "ci_high",
    label: str = "name",
    xlabel: str = "Estimate (%)",
    percent: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Point estimates with CI whiskers, one row per report run (top to bottom in frame order), and the values
    written on the right; fractions are drawn as percent unless ``percent=False``. Missing estimates read
    "not estimable"; a missing CI bound draws no whisker."""
    ax = _new_axes(ax, (DOUBLE_COLUMN, 0.9 + 0.25 * len(rows)))
    scale = 100.0 if percent else 1.0
    transform = ax.get_yaxis_transform()
    for i, (_, row) in enumerate(rows.iterrows()):
        value, lo, hi = (pd.to_numeric(row[c], errors="coerce") * scale for c in (estimate, low, high))
        if pd.isna(value):
            ax.text(1.02, i, "not estimable", transform=transform, va="center", fontsize=SMALL, color="0.35")
            continue
        if pd.notna(lo) and pd.notna(hi):
            ax.plot([lo, hi], [i, i], color="0.2", lw=1.0, solid_capstyle="butt", zorder=2)
        ax.plot([value], [i], marker="s", ms=5, color=PALETTE[0], zorder=3)
        ci = f" ({_fmt1(lo)}–{_fmt1(hi)})" if pd.notna(lo) and pd.notna(hi) else ""
        ax.text(1.02, i, f"{_fmt1(value)}{ci}", transform=transform, va="center", fontsize=SMALL)
    ax.set_yticks(range(len(rows)), labels=data_labels(rows[label].astype(str)))
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    if percent:
        ax.set_xlim(0, 100)
    ax.set_xlabel(xlabel)
    return ax


def _fmt1(value: float) -> str:
    """A percentage value with one decimal, by the report's rounding rule (:mod:`cartreport.formatting`)."""
    return f"{round_half_up(value, 1):f}"
