"""Kaplan–Meier and cumulative-incidence curves with numbers at risk, and the stacked state plot.

The numbers at risk are drawn on an axis that shares the x axis of the curves, one count per tick at exactly the
tick's time (``curve.at_risk_at``); :func:`risk_table_data` returns the same counts as a frame for the report.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D

from cartreport import formatting as fmt
from cartreport.analysis.endpoints import month_ticks, tick_step_months
from cartreport.report.captions import p_value_note, subgroup_title
from cartreport.report.figures.style import (
    DAYS_PER_MONTH,
    PALETTE,
    SINGLE_COLUMN,
    SMALL,
    STATE_COLOURS,
    _fitted,
    _new_axes,
    _number,
    _text_width,
    data_label,
    data_labels,
)
from cartreport.stats.stepcurve import StepCurve

if TYPE_CHECKING:
    from cartreport.analysis.results import Analysis

__all__ = ["StepCurve", "plot_cif", "plot_km", "plot_state_stack", "risk_table_data", "subgroup_figure"]

#: curves with more points than this are thinned for drawing (:func:`_thin_steps`)
THIN_ABOVE = 2000
#: above this many censored times the censor marks would merge into a band and are left out
MAX_CENSOR_MARKS = 500
#: where several bands are drawn, each gets its own hatch angle (no fill), so that overlaps stay readable
BAND_HATCHES = ("////", "\\\\\\\\", "||||", "----", "++", "xx")
#: the legend of the curves is drawn above the plot, never on the data
LEGEND_OUTSIDE = "outside upper left"


def _as_curves(curves: Mapping[str, StepCurve] | StepCurve) -> dict[str, StepCurve]:
    out = dict(curves) if isinstance(curves, Mapping) else {"All patients": curves}
    if not out:
        raise ValueError("no curves to plot")
    return out


def _colours(names: Sequence[str], colours: Mapping[str, str] | None) -> dict[str, str]:
    given = dict(colours or {})
    return {name: given.get(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(names)}


def _month_ticks(
    data_max: float, max_months: float | None, xticks_months: Sequence[float] | None
) -> tuple[np.ndarray, float]:
    """Tick positions (months) and the right end of the axis; ticks at whole steps of 1–120 months."""
    if xticks_months is not None:
        ticks = np.array(sorted(float(t) for t in xticks_months))
        if max_months is not None:
            ticks = ticks[ticks <= max_months + 1e-9]
        right = float(max_months) if max_months is not None else float(ticks.max(initial=data_max))
        return ticks, max(right, 1e-9)
    if max_months is None:
        return month_ticks(data_max)  # the rule results.json's risk tables use too
    right = float(max_months)
    step = tick_step_months(right)
    return np.arange(0.0, right + 1e-9, step), right


def _step_arrays(curve: StepCurve, start: float, time_unit_days: float):
    """x (months) and estimate/band with the curve's start value prepended; NaN band → the estimate
    (R's NA where the log-log band is undefined, at S = 1 or S = 0: a band of zero width there)."""
    est = np.asarray(curve.estimate, dtype=float)
    low = np.asarray(curve.ci_low, dtype=float)
    high = np.asarray(curve.ci_high, dtype=float)
    low, high = np.where(np.isnan(low), est, low), np.where(np.isnan(high), est, high)
    x = np.concatenate(([0.0], np.asarray(curve.time, dtype=float) / time_unit_days))
    return x, *(np.concatenate(([start], a)) for a in (est, low, high))


def _thin_steps(x: np.ndarray, *series: np.ndarray, tol: float = 1e-3) -> tuple[np.ndarray, ...]:
    """Drop steps that move no series by ``tol`` (0.1 percentage point) since the last kept step — for drawing
    only, and only above :data:`THIN_ABOVE` points, so that a 100,000-patient curve stays a small SVG. Drawn
    post-steps then differ from the exact ones by less than ``tol`` everywhere; the first and last points stay."""
    if len(x) <= THIN_ABOVE:
        return (x, *series)
    keep = np.zeros(len(x), dtype=bool)
    keep[[0, -1]] = True
    last = 0
    for i in range(1, len(x) - 1):
        if any(abs(s[i] - s[last]) >= tol for s in series):
            keep[i] = True
            last = i
    return (x[keep], *(s[keep] for s in series))


def _step_values(curve: StepCurve, days: np.ndarray, start: float) -> np.ndarray:
    """The right-continuous step function of ``curve.estimate`` at ``days`` (``start`` before the first time)."""
    time = np.asarray(curve.time, dtype=float)
    est = np.asarray(curve.estimate, dtype=float)
    idx = np.searchsorted(time, days, side="right") - 1
    return np.where(idx >= 0, est[np.clip(idx, 0, None)], start) if time.size else np.full(len(days), start)


def _finish_time_axis(ax: Axes, ticks: np.ndarray, right: float, xlabel: str, cut: bool = False) -> None:
    """Ticks and limits in months; ``cut`` ends the axis exactly at ``right`` (curves are cut there)."""
    pad = 0.02 * right
    ax.set_xlim(-pad, right if cut else right + pad)
    ax.set_xticks(ticks, labels=[_number(t) for t in ticks])
    if ticks.size:
        ax.spines["bottom"].set_bounds(min(ticks[0], 0), max(ticks[-1], right))
    ax.set_xlabel(xlabel)


def _percent_axis(ax: Axes, ylabel: str, top: float = 100.0) -> None:
    ax.set_ylim(-0.02 * top, 1.02 * top)
    ax.set_yticks(np.linspace(0, top, 5), labels=[_number(v) for v in np.linspace(0, top, 5)])
    ax.spines["left"].set_bounds(0, top)
    ax.set_ylabel(ylabel)


# ----------------------------------------------------------------------------------------- curves with risk table
def risk_table_data(curves: Mapping[str, StepCurve] | StepCurve, ticks_days: Sequence[float]) -> pd.DataFrame:
    """Numbers at risk just before each tick time, one row per curve (``curve.at_risk_at``; as R's risk tables).

    Returns
    -------
    pandas.DataFrame
        Index ``curve`` (the curve names), columns ``time_days`` (the ticks, in days), integer counts.
    """
    curves = _as_curves(curves)
    ticks = np.asarray(ticks_days, dtype=float)
    rows = [np.asarray(curve.at_risk_at(ticks), dtype=int) for curve in curves.values()]
    frame = pd.DataFrame(
        rows, index=pd.Index(list(curves), name="curve"), columns=pd.Index(ticks, name="time_days")
    )
    return frame


#: risk-table row labels longer than this many characters are wrapped onto more lines
RISK_LABEL_CHARS = 22


def _draw_risk_table(ax: Axes, table: pd.DataFrame, ticks: np.ndarray, colour_of: Mapping[str, str]) -> None:
    ax.set_ylim(len(table) - 0.5, -0.5)
    for row, (name, counts) in enumerate(table.iterrows()):
        colour = colour_of.get(name, "black")
        for x, count in zip(ticks, counts.to_numpy(), strict=True):
            ax.text(
                x, row, _number(count), ha="center", va="center", color=colour, fontsize=SMALL, gid="at-risk"
            )
    # a long row label is wrapped (a curve's name can be "Moderate–severe chronic GVHD"): on one line it narrowed
    # the curves' axes until constrained layout gave up and the legend ran off the figure
    ax.set_yticks(
        range(len(table)), labels=[textwrap.fill(name, RISK_LABEL_CHARS) for name in data_labels(table.index)]
    )
    for label, name in zip(ax.get_yticklabels(), table.index, strict=True):
        label.set_color(colour_of.get(name, "black"))
        label.set_fontsize(SMALL)
    # row labels clear of the counts centred on the first tick (they reach left of the axis at tick 0)
    first = max((_text_width(_number(c)) for c in table.iloc[:, 0]), default=0.0) if len(ticks) else 0.0
    ax.tick_params(axis="both", length=0, labelbottom=False)
    ax.tick_params(axis="y", pad=3 + first / 2)
    ax.spines[:].set_visible(False)
    ax.set_title("Number at risk", loc="left", fontsize=SMALL, fontweight="bold", pad=2)
    ax.set_label("risk_table")


def count_noun(n: float, one: str, many: str) -> str:
    """``"1 event"``, ``"5 events"``, ``"no events"``: the count with the right noun, as the prose and the
    legends write it (:func:`cartreport.formatting.counted`)."""
    return fmt.counted(int(n), one, many, zero="no")


def _plot_curves(
    curves: Mapping[str, StepCurve] | StepCurve,
    *,
    start: float,
    legend_label: Callable[[str, Any], str],
    xlabel: str,
    ylabel: str,
    time_unit_days: float,
    xticks_months: Sequence[float] | None,
    max_months: float | None,
    show_ci: bool,
    show_censored: bool,
    risk_table: bool,
    landmarks_months: Sequence[float] | None,
    legend_loc: str,
    colours: Mapping[str, str] | None,
    title: str | None,
    fig: Figure | SubFigure | None,
    merge_equal_rows: bool = False,
    legend_title: str | None = None,
    note: str | None = None,
) -> Figure | SubFigure:
    curves = _as_curves(curves)
    colour_of = _colours(list(curves), colours)
    data_max = max(
        (float(np.max(c.time)) / time_unit_days for c in curves.values() if len(c.time)), default=12.0
    )
    ticks, right = _month_ticks(data_max, max_months, xticks_months)
    table = risk_table_data(curves, ticks * time_unit_days) if risk_table else None
    if table is not None and merge_equal_rows and len(table) > 1 and (table.nunique() == 1).all():
        table = pd.DataFrame(
            [table.iloc[0].to_numpy()], index=pd.Index(["Event-free"]), columns=table.columns
        )
    table_height = 0.25 + 0.13 * len(table) if table is not None else 0.0
    legend_height = 0.14 * (len(curves) + 1 + (legend_title is not None)) + 0.1
    if fig is None:
        fig = plt.figure(figsize=(SINGLE_COLUMN, 2.3 + legend_height + table_height), layout="constrained")
    if table is not None:
        grid = fig.add_gridspec(2, 1, height_ratios=[2.3, table_height])
        ax = fig.add_subplot(grid[0])
        ax_table = fig.add_subplot(grid[1], sharex=ax)
    else:
        ax = fig.add_subplot()
    ax.set_label("curves")

    handles: list[Any] = []
    any_censored = False
    # a legend entry wraps rather than runs off the figure (the handle and the gaps take about 30 pt)
    room = fig.bbox.width / fig.get_figure(root=True).dpi * 72 - 30
    drawn = dict(zip(curves, data_labels(curves), strict=True))
    for i, (name, curve) in enumerate(curves.items()):
        colour = colour_of[name]
        x_all, est_all, low, high = _step_arrays(curve, start, time_unit_days)
        x, est, low, high = _thin_steps(x_all, est_all, low, high)
        label = _fitted(legend_label(drawn[name], curve), room)
        (line,) = ax.step(x, 100 * est, where="post", color=colour, label=label, zorder=3)
        handles.append(line)
        if show_ci and len(curves) == 1:
            ax.fill_between(x, 100 * low, 100 * high, step="post", color=colour, alpha=0.15, lw=0, zorder=2)
        elif show_ci:
            # several bands: no fill (translucent fills mix into grey where they overlap) but each its own
            # hatch angle in its curve's colour, crossing where bands overlap, and thin dashed edges
            ax.fill_between(
                x,
                100 * low,
                100 * high,
                step="post",
                facecolor="none",
                edgecolor=colour,
                hatch=BAND_HATCHES[i % len(BAND_HATCHES)],
                lw=0,
                alpha=0.35,
                zorder=2,
                gid="ci-band",
            )
            for bound in (low, high):
                ax.step(
                    x, 100 * bound, where="post", color=colour, lw=0.6, ls=(0, (3, 2)), alpha=0.8, zorder=2
                )
        censored = np.asarray(getattr(curve, "censored", np.zeros(len(x_all) - 1)), dtype=float) > 0
        if show_censored and 0 < censored.sum() <= MAX_CENSOR_MARKS:
            any_censored = True
            ax.plot(
                x_all[1:][censored],
                100 * est_all[1:][censored],
                ls="none",
                marker="|",
                ms=6,
                mew=1.1,
                color=colour,
                zorder=4,
                gid="censor-marks",
            )
    for months in landmarks_months or ():
        ax.axvline(months, ls=":", lw=0.8, color="0.45", zorder=1)
    if any_censored:
        handles.append(Line2D([], [], ls="none", marker="|", ms=6, mew=1.1, color="0.3", label="Censored"))
    if legend_loc == LEGEND_OUTSIDE:
        fig.legend(handles=handles, loc=legend_loc, title=legend_title, alignment="left", ncols=1)
    else:
        ax.legend(handles=handles, loc=legend_loc, title=legend_title)
    if note:
        ax.set_title(note, loc="right", fontsize=SMALL, fontweight="normal", pad=3)
    _percent_axis(ax, ylabel)
    _finish_time_axis(ax, ticks, right, xlabel, cut=max_months is not None)
    if title:
        ax.set_title(title)
    if table is not None:
        _draw_risk_table(ax_table, table, ticks, colour_of)
    return fig


def plot_km(
    curves: Mapping[str, StepCurve] | StepCurve,
    *,
    xlabel: str,
    ylabel: str,
    time_unit_days: float = DAYS_PER_MONTH,
    xticks_months: Sequence[float] | None = None,
    max_months: float | None = None,
    show_ci: bool = True,
    show_censored: bool = True,
    risk_table: bool = True,
    landmarks_months: Sequence[float] | None = None,
    legend_loc: str = LEGEND_OUTSIDE,
    colours: Mapping[str, str] | None = None,
    title: str | None = None,
    fig: Figure | SubFigure | None = None,
    legend_title: str | None = None,
    note: str | None = None,
) -> Figure | SubFigure:
    """Kaplan–Meier curves in percent with step confidence bands, censor marks and numbers at risk.

    Parameters
    ----------
    curves : ``{name: KMResult}`` (a single result is drawn as "All patients"); times in days.
    xlabel, ylabel : axis labels with units, e.g. "Months since second HSCT", "Overall survival (%)".
    time_unit_days : days per axis unit (months: 30.4375).
    xticks_months : tick positions; default whole steps (1, 2, 3, 6, 12… months) up to the last time.
    max_months : right end of the axis (curves are cut there; ticks beyond are dropped).
    show_ci : shade the pointwise band (``ci_low``/``ci_high``; NaN is drawn as the estimate, e.g. 1 at S = 1).
    show_censored : a "|" at each time with a censoring, on the curve (left out above
        :data:`MAX_CENSOR_MARKS` censored times). Curves of more than :data:`THIN_ABOVE` steps are drawn thinned
        to 0.1 percentage point (:func:`_thin_steps`); the numbers at risk are always exact.
    risk_table : numbers at risk under the curve, on an axis sharing its x axis, at exactly the tick times
        (the counts of :func:`risk_table_data`).
    landmarks_months : dotted vertical lines, e.g. ``[12, 24]``.
    legend_loc : where the legend goes: by default above the plot (``"outside upper left"``, never on the data);
        any location matplotlib knows puts it inside the axes.
    legend_title : e.g. the grouping variable, ``"diagnosis"``.
    note : a short text right-aligned above the plot, e.g. the test between the curves, ``"Log-rank p = 0.41"``.
    fig : draw into this Figure or SubFigure (e.g. one of ``plt.figure().subfigures(1, 2)``); default a new one.

    Returns
    -------
    Figure or SubFigure
        Its axes are labelled ``"curves"`` and ``"risk_table"`` (``ax.get_label()``).
    """

    def label(name: str, curve: Any) -> str:
        n = getattr(curve, "n", int(curve.at_risk[0]) if len(curve.at_risk) else 0)
        return f"{name} (n = {_number(n)}; {count_noun(np.sum(curve.events), 'event', 'events')})"

    return _plot_curves(
        curves,
        start=1.0,
        legend_label=label,
        xlabel=xlabel,
        ylabel=ylabel,
        time_unit_days=time_unit_days,
        xticks_months=xticks_months,
        max_months=max_months,
        show_ci=show_ci,
        show_censored=show_censored,
        risk_table=risk_table,
        landmarks_months=landmarks_months,
        legend_loc=legend_loc,
        colours=colours,
        title=title,
        fig=fig,
        legend_title=legend_title,
        note=note,
    )


def plot_cif(
    curves: Mapping[str, StepCurve] | StepCurve,
    *,
    xlabel: str,
    ylabel: str = "Cumulative incidence (%)",
    time_unit_days: float = DAYS_PER_MONTH,
    xticks_months: Sequence[float] | None = None,
    max_months: float | None = None,
    show_ci: bool = True,
    show_censored: bool = False,
    risk_table: bool = True,
    landmarks_months: Sequence[float] | None = None,
    legend_loc: str = LEGEND_OUTSIDE,
    colours: Mapping[str, str] | None = None,
    title: str | None = None,
    fig: Figure | SubFigure | None = None,
    legend_title: str | None = None,
    note: str | None = None,
) -> Figure | SubFigure:
    """Cumulative incidence curves (e.g. ``{"Relapse": cif_relapse, "Non-relapse mortality": cif_nrm}``) in
    percent with step confidence bands and numbers at risk (event-free of any cause) under the curves.

    Options as :func:`plot_km`. When every curve has the same numbers at risk — relapse and NRM of one cohort
    do — the table shows them once, as "Event-free"; :func:`risk_table_data` still returns one row per curve.
    """

    def label(name: str, curve: Any) -> str:
        return f"{name} ({count_noun(np.sum(curve.events), 'event', 'events')})"

    return _plot_curves(
        curves,
        start=0.0,
        legend_label=label,
        xlabel=xlabel,
        ylabel=ylabel,
        time_unit_days=time_unit_days,
        xticks_months=xticks_months,
        max_months=max_months,
        show_ci=show_ci,
        show_censored=show_censored,
        risk_table=risk_table,
        landmarks_months=landmarks_months,
        legend_loc=legend_loc,
        colours=colours,
        title=title,
        fig=fig,
        merge_equal_rows=True,
        legend_title=legend_title,
        note=note,
    )


def plot_state_stack(
    relapse: StepCurve,
    nrm: StepCurve,
    *,
    xlabel: str = "Months since second HSCT",
    time_unit_days: float = DAYS_PER_MONTH,
    xticks_months: Sequence[float] | None = None,
    max_months: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Stacked states over time from the two cumulative incidences: alive without relapse
    (1 − CIF relapse − CIF NRM, i.e. leukaemia-free survival), relapsed (relapse has occurred, whatever happened
    after it) and died without relapse. Drawn up to the shorter of the two curves' last times."""
    ax = _new_axes(ax, (SINGLE_COLUMN, 2.9))
    end = min(float(np.max(c.time, initial=0.0)) for c in (relapse, nrm))
    days = np.unique(np.concatenate(([0.0], relapse.time, nrm.time)))
    days = days[days <= end]
    cum_relapse = _step_values(relapse, days, 0.0)
    cum_nrm = _step_values(nrm, days, 0.0)
    remission = np.clip(1.0 - cum_relapse - cum_nrm, 0.0, 1.0)
    days, remission, cum_relapse, cum_nrm = _thin_steps(days, remission, cum_relapse, cum_nrm)
    ax.stackplot(
        days / time_unit_days,
        100 * remission,
        100 * cum_relapse,
        100 * cum_nrm,
        step="post",
        lw=0,
        colors=[STATE_COLOURS["remission"], STATE_COLOURS["relapsed"], STATE_COLOURS["nrm"]],
        labels=["Alive without relapse", "Relapsed (alive or dead after relapse)", "Died without relapse"],
    )
    ticks, right = _month_ticks(end / time_unit_days, max_months, xticks_months)
    _percent_axis(ax, "Patients (%)")
    _finish_time_axis(ax, ticks, right, xlabel, cut=max_months is not None)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.02), ncols=1, borderaxespad=0, handlelength=1.2)
    return ax


def subgroup_figure(analysis: Analysis, endpoint: str = "os") -> Figure | None:
    """Curves of one endpoint by the ``subgroup_by`` groups, with the test's p-value in a note
    (:func:`~cartreport.report.captions.p_value_note`); ``None`` when no subgroup was asked for.

    ``endpoint``: ``"os"`` or ``"lfs"`` (Kaplan–Meier) or ``"relapse"`` or ``"nrm"`` (cumulative incidence).
    """
    if not analysis.by_group:
        return None
    results = analysis.results
    column = data_label(subgroup_title(results["subgroups"]["column"]))  # may be a column of the user's file
    curves = {value: fits[endpoint] for value, fits in analysis.by_group.items()}
    xlabel = f"Months since {results['time_origin_label']}"
    ylabel = f"{results['endpoints'][endpoint]['label']} (%)"
    note = p_value_note(results["subgroups"].get("tests", {}).get(endpoint))
    if endpoint in ("relapse", "nrm"):
        return plot_cif(curves, xlabel=xlabel, ylabel=ylabel, legend_title=column, note=note)
    return plot_km(
        curves,
        xlabel=xlabel,
        ylabel=ylabel,
        landmarks_months=results["parameters"]["landmarks_months"],
        legend_title=column,
        note=note,
    )
