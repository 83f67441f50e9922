"""Safety and transplant outcomes of one analysis: the fitted curves and their ``results.json`` blocks.

Called by :func:`cartreport.analysis.results.analyse`; a cohort without the optional columns gets no block at all.
Cumulative incidence by :func:`cartreport.stats.cif.aalen_johansen` (ties exact, Gray's variance, log-log interval at the
report's level, as relapse and NRM); GRFS by :func:`cartreport.stats.km.kaplan_meier` with the report's CI method and
level; CRS / ICANS by :mod:`cartreport.analysis.safety`. Landmarks are fixed days per endpoint
(:data:`~cartreport.analysis.transplant_endpoints.LANDMARK_DAYS`); numbers at risk are given at the figures' tick times
(:data:`FIGURE_GROUPS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cartreport.analysis.blocks import cif_body, km_body
from cartreport.analysis.endpoints import DAYS_PER_MONTH, month_ticks
from cartreport.analysis.safety import safety_results
from cartreport.analysis.transplant_endpoints import (
    LANDMARK_DAYS,
    TRANSPLANT_DEFINITIONS,
    TransplantEndpoints,
    derive_transplant_endpoints,
)
from cartreport.stats.cif import CIFResult, aalen_johansen
from cartreport.stats.km import KMResult, kaplan_meier

__all__ = ["FIGURE_GROUPS", "TransplantAnalysis", "analyse_transplant", "figure_ticks"]

#: curves drawn together → (endpoints, days per axis unit, fixed ticks in axis units or None for month ticks)
FIGURE_GROUPS: dict[str, tuple[tuple[str, ...], float, tuple[float, ...] | None]] = {
    "engraftment": (("neutrophil_engraftment", "platelet_engraftment"), 1.0, tuple(range(0, 101, 10))),
    "agvhd": (("agvhd_2_4", "agvhd_3_4"), 1.0, tuple(range(0, 181, 30))),
    "cgvhd": (("cgvhd", "cgvhd_moderate_severe"), DAYS_PER_MONTH, None),
    "grfs": (("grfs",), DAYS_PER_MONTH, None),
}


@dataclass(frozen=True)
class TransplantAnalysis:
    """Fitted transplant curves (``fits``), their results blocks and ``results["safety"]``."""

    endpoints: TransplantEndpoints
    fits: dict[str, KMResult | CIFResult] = field(default_factory=dict)
    blocks: dict[str, dict] = field(default_factory=dict)
    safety: dict = field(default_factory=dict)
    flow: dict | None = None


def figure_ticks(fits, unit_days: float, fixed: tuple[float, ...] | None) -> np.ndarray:
    """Tick positions in axis units: ``fixed``, or month ticks over the longest of ``fits`` (as the figures)."""
    if fixed is not None:
        return np.asarray(fixed, dtype=float)
    longest = max((float(fit.time[-1]) for fit in fits if fit.n), default=0.0)
    return month_ticks(longest / unit_days)[0]


def _landmarks(fit: KMResult | CIFResult, days: tuple[int, ...]) -> list[dict]:
    at_risk = fit.at_risk_at(list(days)) if fit.n else [0] * len(days)
    rows = []
    for d, n in zip(days, at_risk, strict=True):
        e = fit.at(d)
        rows.append(
            {
                "days": int(d),
                "months": d / DAYS_PER_MONTH,
                "estimate": e.estimate,
                "ci_low": e.ci_low,
                "ci_high": e.ci_high,
                "at_risk": int(n),
            }
        )
    return rows


def _block(key: str, fit: KMResult | CIFResult, params: dict) -> dict:
    label, definition = TRANSPLANT_DEFINITIONS[key]
    head = {
        "label": label,
        "definition": definition,
        "origin": "second_hsct",
        "n": fit.n,
        "events": fit.n_events,
        "landmarks": _landmarks(fit, LANDMARK_DAYS[key]),
    }
    if isinstance(fit, CIFResult):
        return {**head, **cif_body(fit)}
    return {**head, **km_body(fit)}


def analyse_transplant(
    table: pd.DataFrame, params: dict, survival: dict[str, KMResult] | None = None
) -> TransplantAnalysis:
    """Fit every available transplant endpoint of a coerced (subgroup-selected) table.

    ``survival`` (OS and LFS of the main analysis) is used only for the GRFS figure's ticks when the report's
    time origin is the second HSCT, so that ``risk_table`` holds the counts printed under that figure.
    """
    level, method = params["ci_level"], params["ci_method"]
    derived = derive_transplant_endpoints(table, params.get("data_cutoff") or None)
    safety = safety_results(table, level)
    if not derived.endpoints:
        return TransplantAnalysis(endpoints=derived, safety=safety)
    patients = derived.analysed
    flow = {"transplanted": int(len(patients)), "excluded": derived.exclusions()}
    if patients.empty:  # the columns are there but nobody had a second HSCT (e.g. time_origin cart_infusion)
        return TransplantAnalysis(endpoints=derived, safety=safety, flow=flow)
    fits: dict[str, KMResult | CIFResult] = {}
    for key in derived.endpoints:
        time = patients[f"{key}_time_days"]
        if key == "grfs":
            fits[key] = kaplan_meier(time, patients["grfs_event"], level, method)
        else:
            fits[key] = aalen_johansen(time, patients[f"{key}_status"], cause=1, ci_level=level)
    blocks = {key: _block(key, fit, params) for key, fit in fits.items()}
    for group, (keys, unit, fixed) in FIGURE_GROUPS.items():
        drawn = [fits[k] for k in keys if k in fits]
        if not drawn:
            continue
        if group == "grfs" and survival and params["time_origin"] == "second_hsct":
            drawn += list(survival.values())
        ticks = figure_ticks(drawn, unit, fixed)
        for key in (k for k in keys if k in fits):
            blocks[key]["risk_table"] = [
                {"days": float(t * unit), "months": float(t * unit / DAYS_PER_MONTH), "at_risk": int(n)}
                for t, n in zip(ticks, fits[key].at_risk_at(ticks * unit), strict=True)
            ]
    return TransplantAnalysis(endpoints=derived, fits=fits, blocks=blocks, safety=safety, flow=flow)
