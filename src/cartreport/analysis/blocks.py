"""What a results.json endpoint block holds beyond its head: one rule for every Kaplan–Meier and every
cumulative-incidence endpoint (OS, LFS, relapse, NRM and the transplant outcomes alike)."""

from __future__ import annotations

from cartreport.analysis.endpoints import DAYS_PER_MONTH
from cartreport.stats.cif import CIFResult
from cartreport.stats.km import KMResult

__all__ = ["cif_body", "km_body", "months_or_none"]


def months_or_none(days: float | None) -> float | None:
    return None if days is None else days / DAYS_PER_MONTH


def km_body(fit: KMResult, ci_method: str) -> dict:
    """Median with its CI (months), the curve's rows and the method sentence."""
    med = fit.median()
    return {
        "median_months": months_or_none(med.estimate),
        "median_ci_low": months_or_none(med.ci_low),
        "median_ci_high": months_or_none(med.ci_high),
        "km": fit.to_records(("at_risk", "events", "censored", "estimate", "ci_low", "ci_high")),
        "method": f"Kaplan–Meier; Greenwood variance; {ci_method} confidence intervals",
    }


def cif_body(fit: CIFResult) -> dict:
    """Competing events, the curve's rows and the method sentence."""
    return {
        "competing_events": fit.n_competing,
        "cif": fit.to_records(("at_risk", "events", "estimate", "ci_low", "ci_high")),
        "method": "Aalen–Johansen (ties handled exactly); Gray's variance as cmprsk::cuminc; "
        f"{fit.ci_method} confidence intervals",
    }
