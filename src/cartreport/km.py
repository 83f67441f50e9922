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
* Median and quantiles: R ``quantile.survfit`` — the first time the curve falls to or below ``1 - p``; when the
  curve sits exactly on the target over a flat stretch, the midpoint of that stretch. The confidence interval
  inverts the pointwise band the same way (Brookmeyer & Crowley 1982, with the band's transformation).
  ``None`` means "not reached".

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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

__all__ = ["CI_METHODS", "KMResult", "Estimate", "kaplan_meier", "confidence_band", "survival_quantile"]

CI_METHODS = ("log-log", "log", "plain")
#: R quantile.survfit's tolerance for "the curve equals the target"
_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval; ``None`` where a value does not exist."""

    estimate: float | None
    ci_low: float | None
    ci_high: float | None


def _none_if_nan(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def confidence_band(
    estimate: np.ndarray, var_log: np.ndarray, ci_level: float, ci_method: str
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise band for a survival curve from ``Var[log S]`` (R ``survfit_confint``)."""
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, not {ci_method!r}")
    z = norm.ppf(1 - (1 - ci_level) / 2)
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


def survival_quantile(time: np.ndarray, curve: np.ndarray, target: float) -> float | None:
    """First time a right-continuous step curve reaches ``target`` or below (R ``quantile.survfit``).

    ``time`` are the curve's jump times in increasing order and ``curve`` its values there. When the curve
    equals the target (within R's tolerance) on a flat stretch, the midpoint between that time and the
    next time the curve changes is returned. ``None`` when the curve never gets there.
    """
    curve = np.asarray(curve, dtype=float)
    time = np.asarray(time, dtype=float)
    finite = np.isfinite(curve)
    below = np.nonzero(finite & (curve <= target + _TOLERANCE))[0]
    if below.size == 0:
        return None
    i = below[0]
    if abs(curve[i] - target) < _TOLERANCE:
        # flat at the target: midpoint to where the curve next drops below it
        later = np.nonzero(finite & (curve < target - _TOLERANCE))[0]
        later = later[later > i]
        if later.size == 0:
            return None
        return float((time[i] + time[later[0]]) / 2)
    return float(time[i])


@dataclass(frozen=True)
class KMResult:
    """A fitted Kaplan–Meier curve: one row per distinct time with an event or a censoring.

    Times are in the unit of the input (cartreport uses days). ``std_err`` is the Greenwood standard error of
    ``S`` (R reports the standard error of ``log S``; ``std_err / estimate`` recovers it).
    """

    time: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    estimate: np.ndarray
    var_log: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n: int
    ci_level: float
    ci_method: str

    @property
    def n_events(self) -> int:
        return int(self.events.sum())

    @property
    def std_err(self) -> np.ndarray:
        return self.estimate * np.sqrt(self.var_log)

    def at(self, t: float) -> Estimate:
        """``S(t)`` with its CI (R ``summary(fit, times=t)``).

        ``None`` beyond the last observed time unless the curve has already reached 0.
        """
        if self.n == 0:
            return Estimate(None, None, None)
        i = np.searchsorted(self.time, t, side="right") - 1
        if i < 0:
            return Estimate(1.0, 1.0, 1.0)
        if t > self.time[-1] and self.estimate[-1] > 0:
            return Estimate(None, None, None)
        return Estimate(
            float(self.estimate[i]), _none_if_nan(self.ci_low[i]), _none_if_nan(self.ci_high[i])
        )

    def quantile(self, p: float) -> Estimate:
        """Time by which a fraction ``p`` has had the event, with its CI; ``None`` = not reached."""
        target = 1 - p
        # the band's bounds are NaN where S = 1 (log-log): the curve is above target there anyway
        upper = np.where(np.isnan(self.ci_high) & (self.estimate >= 1), 1.0, self.ci_high)
        lower = np.where(np.isnan(self.ci_low) & (self.estimate >= 1), 1.0, self.ci_low)
        return Estimate(
            survival_quantile(self.time, self.estimate, target),
            survival_quantile(self.time, upper, target),
            survival_quantile(self.time, lower, target),
        )

    def median(self) -> Estimate:
        """Median time with its Brookmeyer–Crowley CI (R ``print(survfit)``); ``None`` = not reached."""
        return self.quantile(0.5)

    def at_risk_at(self, times) -> np.ndarray:
        """Numbers at risk just before each of ``times`` (subjects with time >= t), as R's risk tables."""
        times = np.asarray(times, dtype=float)
        # at_risk[j] counts time >= time[j]; for t between jumps it is the count at the next jump time
        idx = np.searchsorted(self.time, times, side="left")
        padded = np.append(self.at_risk, 0)
        return padded[idx].astype(int)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "time": self.time,
                "at_risk": self.at_risk,
                "events": self.events,
                "censored": self.censored,
                "estimate": self.estimate,
                "std_err": self.std_err,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
            }
        )


def _validate_input(time, event) -> tuple[np.ndarray, np.ndarray]:
    time = np.asarray(time, dtype=float)
    event = np.asarray(event)
    if time.shape != event.shape or time.ndim != 1:
        raise ValueError("time and event must be one-dimensional and of the same length")
    if np.isnan(time).any() or (time < 0).any():
        raise ValueError("times must be non-negative numbers")
    if not np.isin(event, (0, 1, True, False)).all():
        raise ValueError("event must be 0/1")
    return time, event.astype(int)


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
        Equivalent to R ``survfit(Surv(time, event) ~ 1, conf.type=ci_method, conf.int=ci_level)``.
    """
    if not 0 < ci_level < 1:
        raise ValueError("ci_level must be between 0 and 1")
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, not {ci_method!r}")
    time, event = _validate_input(time, event)
    n = len(time)
    uniq, inverse = np.unique(time, return_inverse=True)
    events = np.bincount(inverse, weights=event, minlength=len(uniq)).astype(int)
    counts = np.bincount(inverse, minlength=len(uniq)).astype(int)
    censored = counts - events
    at_risk = n - np.concatenate(([0], np.cumsum(counts)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1.0 - events / at_risk
        estimate = np.cumprod(factor)
        increment = np.where(events > 0, events / (at_risk * (at_risk - events)), 0.0)
    var_log = np.cumsum(increment)
    low, high = confidence_band(estimate, var_log, ci_level, ci_method)
    return KMResult(
        time=uniq,
        at_risk=at_risk.astype(int),
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
