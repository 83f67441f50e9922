"""Figures of the safety and transplant-outcome section: CRS / ICANS by grade, and the engraftment, acute GVHD,
chronic GVHD and GRFS curves with numbers at risk (drawn by :func:`~cartreport.report.figures.curves.plot_cif` /
:func:`~cartreport.report.figures.curves.plot_km` at the ticks of
:data:`cartreport.analysis.transplant_results.FIGURE_GROUPS`, so the counts under a curve are those in ``results.json``).
Nothing here computes a statistic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from cartreport.analysis.transplant_endpoints import LANDMARK_DAYS, TRANSPLANT_DEFINITIONS
from cartreport.analysis.transplant_results import FIGURE_GROUPS, figure_ticks
from cartreport.report.figures.curves import plot_cif, plot_km
from cartreport.report.figures.style import SMALL

if TYPE_CHECKING:
    from cartreport.analysis.results import Analysis

__all__ = ["GRADE_COLOURS", "grades_figure", "plot_grades", "plot_transplant_curves", "transplant_figure"]

#: grade 0 (none) to 5 (fatal): light grey, then a sequential scale
GRADE_COLOURS: tuple[str, ...] = ("#d9d9d9", "#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#7f0000")
_SHORT = {"crs": "CRS", "icans": "ICANS"}


def plot_grades(safety: Mapping[str, dict], ax=None):
    """Patients by ASTCT grade, one stacked horizontal bar per syndrome (percent of the assessed patients).

    Parameters
    ----------
    safety : ``results["safety"]`` (``{"crs": {"counts", "evaluable", ...}, "icans": ...}``).
    ax : draw on this Axes; default a new figure.

    Returns
    -------
    Axes, or ``None`` when ``safety`` is empty.
    """
    keys = [k for k in ("crs", "icans") if k in safety]
    if not keys:
        return None
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.9 + 0.55 * len(keys)), layout="constrained")
    labels = [f"{_SHORT[k]} (n = {safety[k]['evaluable']})" for k in keys]
    left = np.zeros(len(keys))
    for grade, colour in enumerate(GRADE_COLOURS):
        counts = np.array([safety[k]["counts"][str(grade)] for k in keys], dtype=float)
        evaluable = np.array([max(safety[k]["evaluable"], 1) for k in keys], dtype=float)
        width = 100 * counts / evaluable
        ax.barh(labels, width, left=left, color=colour, edgecolor="white", lw=0.6, label=f"Grade {grade}")
        for y, (w, n, x) in enumerate(zip(width, counts, left, strict=True)):
            if n and w >= 6:
                ax.text(x + w / 2, y, f"{int(n)}", ha="center", va="center", fontsize=SMALL)
        left += width
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("Patients assessed (%)")
    ax.legend(ncols=6, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=SMALL)
    return ax


def grades_figure(safety: Mapping[str, dict]) -> Figure | None:
    """:func:`plot_grades` on a new figure, or ``None`` when the cohort has no grades (for ``nb.show_figure``)."""
    ax = plot_grades(safety)
    return None if ax is None else ax.figure


def plot_transplant_curves(fits: Mapping, group: str, survival: Mapping | None = None) -> Figure | None:
    """The curves of one :data:`~cartreport.analysis.transplant_results.FIGURE_GROUPS` group with numbers at risk.

    Parameters
    ----------
    fits : the transplant fits (``analysis.transplant.fits``), keyed by endpoint.
    group : ``"engraftment"``, ``"agvhd"``, ``"cgvhd"`` or ``"grfs"``.
    survival : for ``"grfs"``: OS and LFS from the second HSCT, drawn beside it (``None``: GRFS alone).

    Returns
    -------
    Figure, or ``None`` when the cohort has none of the group's endpoints.
    """
    keys, unit, fixed = FIGURE_GROUPS[group]
    curves = {TRANSPLANT_DEFINITIONS[k][0]: fits[k] for k in keys if k in fits}
    if not curves:
        return None
    first = next(k for k in keys if k in fits)
    unit_name = "Days" if unit == 1 else "Months"
    landmarks = [d / unit for d in LANDMARK_DAYS[first]]
    if group == "grfs":
        if survival:
            curves = {"GRFS": fits["grfs"], **survival}
        ticks = figure_ticks(list(curves.values()), unit, fixed)
        return plot_km(
            curves,
            xlabel=f"{unit_name} since second allogeneic HSCT",
            ylabel="Probability (%)",
            landmarks_months=landmarks,
            xticks_months=ticks,
        )
    ticks = figure_ticks(list(curves.values()), unit, fixed)
    return plot_cif(
        curves,
        xlabel=f"{unit_name} since second allogeneic HSCT",
        time_unit_days=unit,
        xticks_months=ticks,
        max_months=float(ticks[-1]) if fixed is not None else None,
        landmarks_months=landmarks,
    )


def transplant_figure(analysis: Analysis, group: str) -> Figure | None:
    """Engraftment (``"engraftment"``), acute / chronic GVHD (``"agvhd"``, ``"cgvhd"``) or GRFS (``"grfs"``, beside
    OS and LFS when the report's time origin is the second HSCT) curves; ``None`` without the group's columns."""
    if analysis.transplant is None:
        return None
    survival = None
    if group == "grfs" and analysis.results["parameters"]["time_origin"] == "second_hsct":
        labels = {key: analysis.results["endpoints"][key]["label"] for key in ("os", "lfs")}
        survival = {labels[key]: fit for key, fit in analysis.survival.items()}
    return plot_transplant_curves(analysis.transplant.fits, group, survival)
