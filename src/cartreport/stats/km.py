"""Kaplan–Meier estimator with Greenwood variance, R-compatible confidence intervals and medians.

Method
------
* Estimate: product-limit, ``S(t) = prod_{t_j <= t} (1 - d_j / n_j)`` over distinct times ``t_j`` with
  ``n_j`` at risk (time >= t_j) and ``d_j`` events; events at a tied time precede censorings (the usual
  convention, as R ``survival::survfit``).
* Variance: Greenwood, ``Var[log S(t)] = sum_{t_j <= t} d_j / (n_j (n_j - d_j))``.
* Confidence intervals (``ci_method``), as R ``survfit(..., conf.type=)``:
  ``"log-log"`` (default; R ``conf.type="log-log"``, lifelines' "exponential Greenwood"),
  ``"log"`` (R's default) and ``"plain"`` (linear, clipped to [0, 1]).
  Where R reports ``NA`` (log-log at S = 1 or S = 0, log at S = 0) the bound is ``nan``.
* Quantiles: ``quantile(p)`` is R ``quantile.survfit`` (a port of ``survival:::findq``): the first time the
  curve falls to or below ``1 - p``; when the curve sits exactly on the target over a flat stretch, the midpoint of
  that stretch (up to the last time when the curve ends on it). The confidence interval is where the lower and
  upper limits of the pointwise band reach the target (Brookmeyer & Crowley 1982, with the band's transformation).
* Median: ``median()`` is what R ``print(fit)`` / ``summary(fit)$table`` show (``survival:::survmean``). It equals
  ``quantile(0.5)`` except in two corner cases where R's two functions disagree — see ``KMResult.median``.
  ``None`` means "not reached".
* Landmarks: ``at(t)`` is R ``summary(fit, times=t)``: ``S = 1`` with limits ``1`` before the first time, ``None``
  (R ``NA``) for limits that are not defined, and ``None`` beyond the last observation unless the curve is 0.
* Every value is checked against R survival 3.5-3 to 1e-6 in ``tests/test_km.py``
  (``tests/reference/km.R``, ``tests/data/reference/km.json``).

Written on numpy rather than through lifelines' ``KaplanMeierFitter`` because lifelines offers only the log-log
band, and its median CI is computed differently from R (lifelines issue #861); the point estimates are the same
(``tests/test_km.py`` compares them with lifelines as well as with R).

References
----------
Kaplan EL, Meier P. JASA 1958;53:457–481. Greenwood M. 1926. Kalbfleisch JD, Prentice RL, 2002, §1.4.
Brookmeyer R, Crowley J. Biometrics 1982;38:29–41. Therneau T. survival package for R, ``survfit.formula``.

Examples
--------
>>> km = kaplan_meier([1, 2, 2, 3, 5], [1, 1, 0, 1, 0])
>>> round(km.at(2.5).estimate, 4)
0.6
>>> km.median().estimate
3.0
>>> km.quantile(0.25).estimate
2.0
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from cartreport.stats.stepcurve import Estimate, StepCurve, count_by_time, survival_input

__all__ = [
    "CI_METHODS",
    "KMResult",
    "kaplan_meier",
    "confidence_band",
    "survival_quantile",
]

CI_METHODS = ("log-log", "log", "plain")
#: R quantile.survfit's tolerance for "the curve equals the target"
_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def confidence_band(
    estimate: np.ndarray, var_log: np.ndarray, ci_level: float, ci_method: str
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise confidence band for a survival curve from the Greenwood variance of ``log S``.

    Parameters
    ----------
    estimate : survival estimates ``S(t)``.
    var_log : ``Var[log S(t)]`` (Greenwood).
    ci_level : confidence level, e.g. 0.95.
    ci_method : ``"log-log"`` — ``exp(-exp(log(-log S) ± z se / log S))`` (Kalbfleisch & Prentice 2002, §1.4;
        lifelines' "exponential Greenwood"); ``"log"`` — ``S exp(± z se)``, upper limit capped at 1; ``"plain"`` —
        ``S ± z S se`` clipped to [0, 1]; ``se = sqrt(var_log)``.

    Returns
    -------
    (low, high) : the limits, ``nan`` where R gives ``NA``/``NaN``: log-log at ``S = 1`` or ``S = 0``, log at
        ``S = 0``, plain where the variance is infinite (``S = 0`` after everyone at risk had the event).
        Identical to R ``survival:::survfit_confint`` (survival 3.5-3) as used by ``survfit(conf.type=)``.

    Examples
    --------
    >>> low, high = confidence_band(np.array([1.0, 0.8]), np.array([0.0, 0.05]), 0.95, "log-log")
    >>> np.isnan(low[0]), round(float(low[1]), 4), round(float(high[1]), 4)
    (np.True_, 0.2038, 0.9692)
    """
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, not {ci_method!r}")
    z = NormalDist().inv_cdf(1 - (1 - ci_level) / 2)  # as scipy.stats.norm.ppf / R qnorm, to 1 ulp
    s = np.asarray(estimate, dtype=float)
    se_log = np.sqrt(np.asarray(var_log, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        if ci_method == "plain":
            se = s * se_log
            low = np.clip(s - z * se, 0, 1)
            high = np.clip(s + z * se, 0, 1)
            bad = ~np.isfinite(se)
            low[bad] = np.nan
            high[bad] = np.nan
        elif ci_method == "log":
            ok = s > 0
            low = np.where(ok, np.exp(np.log(s) - z * se_log), np.nan)
            high = np.where(ok, np.minimum(np.exp(np.log(s) + z * se_log), 1.0), np.nan)
        else:
            ok = (s > 0) & (s < 1)
            loglog = np.log(-np.log(np.where(ok, s, 0.5)))
            width = z * se_log / np.log(np.where(ok, s, 0.5))
            low = np.where(ok, np.exp(-np.exp(loglog - width)), np.nan)
            high = np.where(ok, np.exp(-np.exp(loglog + width)), np.nan)
    return low, high


def _first_at_or_above(values: np.ndarray, target: float) -> int | None:
    """Index of the smallest of ``values`` that is >= ``target``, as R ``approx(values, seq_along(values),
    target, method="constant", f=1)`` (NaN dropped; ``None`` outside the range of ``values``)."""
    ok = np.nonzero(~np.isnan(values))[0]
    if ok.size == 0:
        return None
    order = ok[np.argsort(values[ok], kind="stable")]
    ordered = values[order]
    if target < ordered[0] or target > ordered[-1]:
        return None
    return int(order[np.searchsorted(ordered, target, side="left")])


def survival_quantile(
    time: np.ndarray, curve: np.ndarray, target: float, first_time: float = 0.0
) -> float | None:
    """Time at which a right-continuous step curve falls to ``target`` (R ``survival:::findq``).

    A line-by-line port of the helper behind R ``quantile.survfit`` (survival 3.5-3): the curve is prefixed by
    the value 1 at ``first_time``; repeated values keep their first time; the quantile is the midpoint of the first
    time the curve is at or below ``target`` (within R's tolerance ``sqrt(.Machine$double.eps)``) and the first time
    it is strictly below it — the same time unless the curve sits exactly on ``target`` over a flat stretch. When
    the curve ends on that flat stretch, the midpoint runs to the last time of the curve. ``NaN`` values of the
    curve (undefined band limits) are skipped. ``None`` when the curve never gets to ``target``.

    Reference: Therneau T, R package survival 3.5-3, ``quantile.survfit``; Brookmeyer R, Crowley J.
    Biometrics 1982;38:29–41 (applied to the band limits, this gives the quantile's confidence interval).

    Examples
    --------
    >>> survival_quantile(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.75, 0.5, 0.5, 0.0]), 0.5)
    3.0
    >>> survival_quantile(np.array([1.0, 2.0]), np.array([0.9, 0.8]), 0.5) is None
    True
    """
    x = np.concatenate(([first_time], np.asarray(time, dtype=float)))
    y = np.concatenate(([0.0], 1.0 - np.asarray(curve, dtype=float)))
    p = 1.0 - target
    if not np.any(y[~np.isnan(y)] >= p):
        return None
    x_max = x[-1]
    keep = np.zeros(y.size, dtype=bool)  # first occurrence of each value (R's !duplicated(y); NaNs as one)
    keep[np.unique(y, return_index=True, equal_nan=True)[1]] = True
    x, y = x[keep], y[keep]
    i1 = _first_at_or_above(y + _TOLERANCE, p)
    i2 = _first_at_or_above(y - _TOLERANCE, p)
    quantile = None if i1 is None or i2 is None else float((x[i1] + x[i2]) / 2)
    if p == 0:
        quantile = float(x[0])
    if not np.isnan(y[-1]) and abs(p - y[-1]) < _TOLERANCE:
        quantile = None if i1 is None else float((x[i1] + x_max) / 2)
    return quantile


def _median_as_printed(time: np.ndarray, curve: np.ndarray) -> float | None:
    """First time a step curve is at or below 0.5, as R ``print(survfit)`` (``survival:::survmean``'s
    ``minmin``): if it sits exactly on 0.5 (within R's tolerance), the midpoint to the first time it goes lower;
    if it never goes lower, the first time it reached 0.5. ``NaN`` values are skipped."""
    curve = np.asarray(curve, dtype=float)
    kept = np.nonzero(~np.isnan(curve) & (curve < 0.5 + _TOLERANCE))[0]
    if kept.size == 0:
        return None
    first = kept[0]
    if abs(curve[first] - 0.5) < _TOLERANCE:
        lower = kept[curve[kept] < curve[first]]
        if lower.size:
            return float((time[first] + time[lower[0]]) / 2)
    return float(time[first])


@dataclass(frozen=True)
class KMResult(StepCurve):
    """A fitted Kaplan–Meier curve: one row per distinct time with an event or a censoring.

    Times are in the unit of the input (cartreport uses days). ``std_err`` is the Greenwood standard error of
    ``S`` (R reports the standard error of ``log S``; ``std_err / estimate`` recovers it). ``at_risk_at`` and
    ``to_frame`` come from :class:`cartreport.stats.stepcurve.StepCurve`.
    """

    var_log: np.ndarray

    @property
    def method(self) -> str:
        """The estimator and its interval, as results.json labels it (like ``TestResult.method``)."""
        return f"Kaplan–Meier; Greenwood variance; {self.ci_method} confidence intervals"

    @property
    def std_err(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):  # 0 * inf where the curve reached 0: NaN, as R's NA
            return self.estimate * np.sqrt(self.var_log)

    def at(self, t: float) -> Estimate:
        """``S(t)`` with its CI (R ``summary(fit, times=t)``).

        ``None`` beyond the last observed time unless the curve has already reached 0.
        """
        return super().at(t)

    def _at_origin(self) -> Estimate:
        return Estimate(1.0, 1.0, 1.0)

    def _known_after_last(self) -> bool:
        return not self.estimate[-1] > 0

    def quantile(self, p: float) -> Estimate:
        """Time by which a fraction ``p`` has had the event, with its CI; ``None`` = not reached.

        R ``quantile(fit, probs=p)``: the CI is where the lower and upper limits of the pointwise band reach
        ``1 - p`` (Brookmeyer & Crowley 1982, with the band's transformation).
        """
        if not 0 <= p <= 1:
            raise ValueError("p must be between 0 and 1")
        if self.n == 0:
            return Estimate(None, None, None)
        target = 1 - p
        return Estimate(
            survival_quantile(self.time, self.estimate, target),
            survival_quantile(self.time, self.ci_low, target),
            survival_quantile(self.time, self.ci_high, target),
        )

    def median(self) -> Estimate:
        """Median time with its Brookmeyer–Crowley CI as R ``print(fit)`` / ``summary(fit)$table`` show it.

        ``None`` = not reached. The same as ``quantile(0.5)`` (R ``quantile(fit, 0.5)``) except in two corner
        cases where R's two functions disagree and this follows ``print``: a curve that ends flat exactly at 0.5
        (``print`` takes the time it reached 0.5, ``quantile`` the midpoint to the last time) and a band limit
        that rises back over 0.5 after first crossing it (``print`` takes the first crossing).
        """
        if self.n == 0:
            return Estimate(None, None, None)
        return Estimate(
            _median_as_printed(self.time, self.estimate),
            _median_as_printed(self.time, self.ci_low),
            _median_as_printed(self.time, self.ci_high),
        )


def kaplan_meier(time, event, ci_level: float = 0.95, ci_method: str = "log-log") -> KMResult:
    """Kaplan–Meier estimate of ``S(t)`` with Greenwood variance.

    Parameters
    ----------
    time : follow-up times (days in cartreport), non-negative.
    event : 1 for the event, 0 for censoring.
    ci_level : confidence level of the pointwise band and the median CI.
    ci_method : ``"log-log"`` (default), ``"log"`` or ``"plain"`` — R ``survfit(conf.type=)``.

    Returns
    -------
    KMResult
        Equivalent to R ``survfit(Surv(time, event) ~ 1, conf.type=ci_method, conf.int=ci_level)`` (survival
        3.5-3): same rows, numbers at risk, estimate, ``std.err`` (``sqrt(var_log)``) and band; ``summary(fit,
        times=)`` via :meth:`KMResult.at`, ``quantile(fit)`` via :meth:`KMResult.quantile`, ``print(fit)`` via
        :meth:`KMResult.median`.

    References
    ----------
    Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. JASA 1958;53:457–481.
    Greenwood M. The natural duration of cancer. Reports on Public Health and Medical Subjects 1926;33.
    Kalbfleisch JD, Prentice RL. The Statistical Analysis of Failure Time Data, 2nd ed. Wiley 2002, §1.4.

    Examples
    --------
    6-MP arm of the Freireich et al. (1963) leukaemia trial, weeks (Klein & Moeschberger 2003, Table 4.1A):

    >>> weeks = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    >>> relapse = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    >>> km = kaplan_meier(weeks, relapse)
    >>> km.to_frame().loc[km.events > 0, ["time", "at_risk", "events", "estimate", "std_err"]].round(4)
        time  at_risk  events  estimate  std_err
    0    6.0       21       3    0.8571   0.0764
    1    7.0       17       1    0.8067   0.0869
    3   10.0       15       1    0.7529   0.0963
    5   13.0       12       1    0.6902   0.1068
    6   16.0       11       1    0.6275   0.1141
    10  22.0        7       1    0.5378   0.1282
    11  23.0        6       1    0.4482   0.1346
    >>> km.median()
    Estimate(estimate=23.0, ci_low=13.0, ci_high=None)
    """
    if not 0 < ci_level < 1:
        raise ValueError("ci_level must be between 0 and 1")
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, not {ci_method!r}")
    time, event = survival_input(time, event)
    n = len(time)
    uniq, at_risk, counts, (events,) = count_by_time(time, event)
    censored = counts - events
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1.0 - events / at_risk
        estimate = np.cumprod(factor)
        increment = np.where(events > 0, events / (at_risk * (at_risk - events)), 0.0)
    var_log = np.cumsum(increment)
    low, high = confidence_band(estimate, var_log, ci_level, ci_method)
    return KMResult(
        time=uniq,
        at_risk=at_risk,
        events=events,
        censored=censored,
        estimate=estimate,
        var_log=var_log,
        ci_low=low,
        ci_high=high,
        n=n,
        ci_level=ci_level,
        ci_method=ci_method,
    )
