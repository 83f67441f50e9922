"""Aalen–Johansen cumulative incidence for competing risks, with exact ties and Gray's variance.

Method
------
At each distinct time ``t_j`` with ``n_j`` at risk (time >= t_j), ``d_j`` events of the cause of interest,
``e_j`` competing events and ``S(t_j-)`` the all-cause Kaplan–Meier survival just before ``t_j``:

* Estimate (Aalen–Johansen): ``F(t) = sum_{t_j <= t} S(t_j-) d_j / n_j``. All events at one time are handled
  together — no jitter — so tied times give exactly R's numbers.
* Variance: Gray's (1988) delta-method variance as computed by R ``cmprsk::cuminc`` (subroutine ``cinc`` of
  cmprsk 2.2-11, ``src/cincsub.f``). With ``S_j = S(t_j)`` after the time, ``F_j = F(t_j)`` and, for ``m`` events
  of one kind at ``t_j``, ``w(m) = S(t_j-)^2 (1 - (m - 1)/(n_j - 1)) m / n_j^2`` (the factor in brackets only when
  ``m > 1``), three running sums take one term per kind of event::

      competing (when S_j > 0):  v1 += (F_j/S_j)^2 w(e_j),     v2 += F_j/S_j^2 w(e_j),       v3 += w(e_j)/S_j^2
      cause of interest:         v1 += (1 + F_j/S_j)^2 w(d_j), v2 += (1 + F_j/S_j)/S_j w(d_j), v3 += w(d_j)/S_j^2

  (``1/S_j`` read as 0 once ``S_j = 0``), and ``Var F(t_j) = v1 + F_j^2 v3 - 2 F_j v2``. As in ``cuminc``, the
  variance is updated only at times with an event of the cause of interest and carried forward in between.
* Confidence interval (``ci_method``):

  - ``"log-log"`` (default), tidycmprsk's ``tidy.tidycuminc`` / ggsurvfit's interval (Pintilie 2006):
    ``F^exp(±z se / (F log F))`` with ``se = sqrt(Var F)``, i.e. symmetric on ``log(-log F)``; undefined
    (``nan``) where ``F = 0`` or ``F >= 1`` (there tidycmprsk gives ``NA``, or 1 and ``Inf``).
  - ``"plain"``: ``F ± z se``, clipped to [0, 1].

Every value is checked against R cmprsk 2.2-11 and survival 3.5-3 to 1e-6 in ``tests/test_cif.py``
(``tests/reference/cif.R``, ``tests/data/reference/cif.json``).

lifelines' ``AalenJohansenFitter`` is not used: it breaks tied times with random jitter, which moves the estimate
(``tests/test_cif.py`` shows by how much).

References
----------
Aalen OO, Johansen S. Scand J Stat 1978;5:141–150. Gray RJ. Ann Stat 1988;16:1141–1154.
Pintilie M. Competing Risks: A Practical Perspective. Wiley 2006. Gray RJ, R package cmprsk, ``cuminc``.

Examples
--------
>>> cif = aalen_johansen([1, 2, 2, 3, 4, 5], [1, 2, 0, 1, 0, 2])
>>> cif.n_events, cif.n_competing
(2, 2)
>>> round(cif.at(3).estimate, 4)
0.3889
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from cartreport.stats.stepcurve import Estimate, StepCurve, competing_risks_input, count_by_time, none_if_nan

__all__ = ["CI_METHODS", "CIFResult", "aalen_johansen", "cif_confidence_band"]

CI_METHODS = ("log-log", "plain")


def cif_confidence_band(
    estimate: np.ndarray, variance: np.ndarray, ci_level: float, ci_method: str
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise confidence band for a cumulative incidence curve.

    Parameters
    ----------
    estimate : cumulative incidence ``F(t)``.
    variance : its variance (Gray's, as ``cmprsk::cuminc``).
    ci_level : confidence level, e.g. 0.95.
    ci_method : ``"log-log"`` — ``F^exp(±z se / (F log F))``, the interval of R ``tidycmprsk::tidy.tidycuminc``
        and ggsurvfit (Pintilie 2006); ``nan`` where ``F = 0`` or ``F >= 1`` — or ``"plain"`` — ``F ± z se`` clipped
        to [0, 1].

    Returns
    -------
    (low, high) : arrays of the lower and upper limits.

    Examples
    --------
    >>> low, high = cif_confidence_band(np.array([0.2]), np.array([0.01]), 0.95, "log-log")
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.0519, 0.4167)
    """
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, not {ci_method!r}")
    z = NormalDist().inv_cdf(1 - (1 - ci_level) / 2)  # as scipy.stats.norm.ppf / R qnorm, to 1 ulp
    f = np.asarray(estimate, dtype=float)
    se = np.sqrt(np.asarray(variance, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if ci_method == "plain":
            return np.clip(f - z * se, 0, 1), np.clip(f + z * se, 0, 1)
        scale = se / (f * np.log(f))
        low, high = np.power(f, np.exp(-z * scale)), np.power(f, np.exp(z * scale))
    undefined = ~((f > 0) & (f < 1))
    low[undefined] = np.nan
    high[undefined] = np.nan
    return low, high


@dataclass(frozen=True)
class CIFResult(StepCurve):
    """A fitted cumulative incidence curve: one row per distinct time with any event or censoring.

    ``events`` counts the cause of interest, ``competing`` every other cause. Times are in the unit of the input
    (cartreport uses days). ``variance`` is Gray's variance of the estimate, as ``cmprsk::cuminc``; ``std_err``
    its square root. ``at_risk_at`` and ``to_frame`` come from :class:`cartreport.stats.stepcurve.StepCurve`.
    """

    count_columns = ("competing",)

    competing: np.ndarray
    variance: np.ndarray
    cause: int

    @property
    def method(self) -> str:
        """The estimator, its variance and its interval, as results.json labels it (like ``TestResult.method``)."""
        return (
            "Aalen–Johansen (ties handled exactly); Gray's variance as cmprsk::cuminc; "
            f"{self.ci_method} confidence intervals"
        )

    @property
    def n_competing(self) -> int:
        return int(self.competing.sum())

    @property
    def std_err(self) -> np.ndarray:
        return np.sqrt(self.variance)

    def at(self, t: float) -> Estimate:
        """``F(t)`` with its CI (R ``cmprsk::timepoints``); ``None`` beyond the last observed time unless every
        patient still at risk then had an event (of any cause): the curve can no longer change, and keeps its
        last value and CI (R ``summary(survfit(...), times, extend = TRUE)``)."""
        return super().at(t)

    def _known_after_last(self) -> bool:
        return bool(self.at_risk[-1] == self.events[-1] + self.competing[-1])

    def _at_origin(self) -> Estimate:
        low, high = cif_confidence_band(np.zeros(1), np.zeros(1), self.ci_level, self.ci_method)
        return Estimate(0.0, none_if_nan(low[0]), none_if_nan(high[0]))


def _tie_factor(m: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.where(m > 1, 1.0 - (m - 1.0) / (n - 1.0), 1.0)


def _gray_variance(
    at_risk: np.ndarray, events: np.ndarray, competing: np.ndarray, before: np.ndarray, estimate: np.ndarray
) -> np.ndarray:
    """Gray's variance, vectorised from ``cinc`` in cmprsk's ``src/cincsub.f`` (see the module docstring)."""
    n = at_risk.astype(float)
    after = before * (n - events - competing) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_after = np.where(after > 0, 1.0 / after, 0.0)
        # m tied events of one kind among n at risk weigh S(t-)^2 (1 - (m - 1)/(n - 1)) m / n^2
        w_competing = np.where(
            (competing > 0) & (after > 0), before**2 * _tie_factor(competing, n) * competing / n**2, 0.0
        )
        w_cause = np.where(events > 0, before**2 * _tie_factor(events, n) * events / n**2, 0.0)
    ratio = estimate * inv_after
    lead = 1.0 + ratio
    v1 = np.cumsum(ratio**2 * w_competing + lead**2 * w_cause)
    v2 = np.cumsum(inv_after * ratio * w_competing + inv_after * lead * w_cause)
    v3 = np.cumsum(inv_after**2 * w_competing + inv_after**2 * w_cause)
    at_event = np.where(events > 0, v1 + estimate**2 * v3 - 2 * estimate * v2, np.nan)
    # cuminc records the variance only where the cause of interest occurs; carry it forward in between
    last = np.maximum.accumulate(np.where(events > 0, np.arange(len(events)), -1))
    return np.where(last >= 0, at_event[np.maximum(last, 0)], 0.0)


def aalen_johansen(
    time, status, cause: int = 1, ci_level: float = 0.95, ci_method: str = "log-log"
) -> CIFResult:
    """Aalen–Johansen cumulative incidence of one cause in the presence of competing risks.

    Parameters
    ----------
    time : follow-up times (days in cartreport), non-negative.
    status : 0 for censored, 1, 2, ... for the cause of the event.
    cause : the cause of interest; every other positive code is a competing event.
    ci_level : confidence level of the pointwise band.
    ci_method : ``"log-log"`` (default; tidycmprsk/ggsurvfit) or ``"plain"`` — see :func:`cif_confidence_band`.

    Returns
    -------
    CIFResult
        Estimate and variance equal to R ``cmprsk::cuminc(time, status, cencode = 0)`` (Gray's variance) at every
        distinct time; the estimate also equals ``survival::survfit(Surv(time, factor(status)) ~ 1)``.

    References
    ----------
    Aalen OO, Johansen S. Scand J Stat 1978;5:141–150. Gray RJ. Ann Stat 1988;16:1141–1154.
    Pintilie M. Competing Risks: A Practical Perspective. Wiley 2006.

    Examples
    --------
    >>> cif = aalen_johansen([1, 1, 2, 3, 3, 4], [1, 2, 0, 1, 0, 1])
    >>> cif.to_frame()[["time", "at_risk", "events", "competing", "estimate"]]
       time  at_risk  events  competing  estimate
    0   1.0        6       1          1  0.166667
    1   2.0        4       0          0  0.166667
    2   3.0        3       1          0  0.388889
    3   4.0        1       1          0  0.833333
    """
    if not 0 < ci_level < 1:
        raise ValueError("ci_level must be between 0 and 1")
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, not {ci_method!r}")
    time, status = competing_risks_input(time, status, cause)
    n = len(time)
    uniq, at_risk, counts, (events, competing) = count_by_time(
        time, status == cause, (status > 0) & (status != cause)
    )
    censored = counts - events - competing
    survival_after = np.cumprod(1.0 - (events + competing) / at_risk)
    before = np.concatenate(([1.0], survival_after[:-1]))
    estimate = np.cumsum(before * events / at_risk)
    variance = _gray_variance(at_risk, events, competing, before, estimate)
    low, high = cif_confidence_band(estimate, variance, ci_level, ci_method)
    return CIFResult(
        time=uniq,
        at_risk=at_risk,
        events=events,
        competing=competing,
        censored=censored.astype(int),
        estimate=estimate,
        variance=variance,
        ci_low=low,
        ci_high=high,
        n=n,
        cause=int(cause),
        ci_level=ci_level,
        ci_method=ci_method,
    )
