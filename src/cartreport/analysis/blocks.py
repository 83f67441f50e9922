"""What a results.json endpoint block holds beyond its head: one rule for every Kaplan–Meier and every
cumulative-incidence endpoint (OS, LFS, relapse, NRM and the transplant outcomes alike). The ``method`` label is
the fit's own (:attr:`KMResult.method`, :attr:`CIFResult.method`), as a test's and a rate's are."""

from __future__ import annotations

from cartreport.analysis.endpoints import DAYS_PER_MONTH
from cartreport.stats.cif import CIFResult
from cartreport.stats.km import KMResult

__all__ = ["cif_body", "km_body", "months_or_none"]


def months_or_none(days: float | None) -> float | None:
    return None if days is None else days / DAYS_PER_MONTH


def km_body(fit: KMResult) -> dict:
    """Median with its CI (months), the curve's rows and the estimator's label."""
    med = fit.median()
    return {
        "median_months": months_or_none(med.estimate),
        "median_ci_low": months_or_none(med.ci_low),
        "median_ci_high": months_or_none(med.ci_high),
        "km": fit.to_records(("at_risk", "events", "censored", "estimate", "ci_low", "ci_high")),
        "method": fit.method,
    }


def cif_body(fit: CIFResult) -> dict:
    """Competing events, the curve's rows and the estimator's label."""
    return {
        "competing_events": fit.n_competing,
        "cif": fit.to_records(("at_risk", "events", "estimate", "ci_low", "ci_high")),
        "method": fit.method,
    }
