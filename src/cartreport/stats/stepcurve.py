"""What a Kaplan–Meier curve and a cumulative incidence curve share: the counting process, the numbers at risk,
the input checks, and a fitted step curve read at a time or as a table.

``km.py`` and ``cif.py`` each add their estimator, variance and confidence band on top of :class:`StepCurve`;
this module holds no statistics of its own.

Examples
--------
>>> uniq, at_risk, exits, (events,) = count_by_time(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1, 1, 0, 1]))
>>> uniq.tolist(), at_risk.tolist(), exits.tolist(), events.tolist()
([1.0, 2.0, 3.0], [4, 3, 1], [1, 2, 1], [1, 1, 1])
>>> at_risk_at(uniq, at_risk, [0, 2.5, 4]).tolist()
[4, 1, 0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

__all__ = [
    "Estimate",
    "StepCurve",
    "at_risk_at",
    "competing_risks_input",
    "count_by_time",
    "none_if_nan",
    "survival_input",
]


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval; ``None`` where a value does not exist."""

    estimate: float | None
    ci_low: float | None
    ci_high: float | None


def none_if_nan(x: float | None) -> float | None:
    """``x`` as a float, or ``None`` where it is missing or not finite (R's ``NA``)."""
    return None if x is None or not np.isfinite(x) else float(x)


def _times(time) -> np.ndarray:
    time = np.asarray(time, dtype=float)
    if np.isnan(time).any() or (time < 0).any():
        raise ValueError("times must be non-negative numbers")
    return time


def survival_input(time, event) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(time, event)`` arrays of a survival outcome: non-negative times, events 0/1.

    Raises ``ValueError`` on arrays of different shapes, negative or missing times, or other event codes.
    """
    time, event = np.asarray(time, dtype=float), np.asarray(event)
    if time.shape != event.shape or time.ndim != 1:
        raise ValueError("time and event must be one-dimensional and of the same length")
    time = _times(time)
    if not np.isin(event, (0, 1, True, False)).all():
        raise ValueError("event must be 0/1")
    return time, event.astype(int)


def competing_risks_input(time, status, cause) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(time, status)`` arrays of competing risks: non-negative times, status 0 (censored) or a
    positive integer cause code, and a positive integer ``cause`` of interest.

    Raises ``ValueError`` otherwise.
    """
    time, status = np.asarray(time, dtype=float), np.asarray(status)
    if time.shape != status.shape or time.ndim != 1:
        raise ValueError("time and status must be one-dimensional and of the same length")
    time = _times(time)
    if status.size and (
        not np.issubdtype(status.dtype, np.number)
        or np.isnan(status.astype(float)).any()
        or (status < 0).any()
        or (status != np.round(status)).any()
    ):
        raise ValueError("status must be 0 (censored) or a positive integer cause code")
    if int(cause) != cause or cause < 1:
        raise ValueError("cause must be a positive integer")
    return time, status.astype(int)


def count_by_time(time: np.ndarray, *indicators: np.ndarray) -> tuple[np.ndarray, ...]:
    """The counting process at each distinct time: ``(times, at_risk, exits, (count of each indicator, ...))``.

    ``at_risk`` counts subjects with time >= t (left-continuous, as R's ``n.risk``), ``exits`` all subjects
    leaving at t; each indicator (0/1 or boolean per subject) is summed per time. Shared by the Kaplan–Meier and
    Aalen–Johansen estimators; empty input gives empty arrays.
    """
    uniq, inverse = _distinct(np.asarray(time))
    exits = np.bincount(inverse, minlength=len(uniq)).astype(int)
    at_risk = len(time) - np.concatenate(([0], np.cumsum(exits)[:-1]))[: len(uniq)]
    sums = tuple(np.bincount(inverse, weights=ind, minlength=len(uniq)).astype(int) for ind in indicators)
    return uniq, at_risk.astype(int), exits, sums


def _distinct(time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(time, return_inverse=True)``: by hashing (then sorting the few distinct times) rather than by
    sorting every time; numpy's own for a NaN (pandas would leave it out) or a time with its sign bit set (-0.0
    equals 0.0: which one np.unique keeps is its own affair)."""
    if time.dtype.kind != "f" or np.isnan(time).any() or np.signbit(time).any():
        return np.unique(time, return_inverse=True)
    codes, uniq = pd.factorize(time, sort=True)
    return uniq, codes


def at_risk_at(time: np.ndarray, at_risk: np.ndarray, times) -> np.ndarray:
    """Numbers at risk just before each of ``times`` from a curve's distinct ``time`` and its ``at_risk`` counts.

    ``at_risk[j]`` counts subjects with time >= ``time[j]``; between jumps the count is the one at the next jump
    time, and 0 after the last. The one rule for every risk table (KM and cumulative incidence alike).
    """
    idx = np.searchsorted(time, np.asarray(times, dtype=float), side="left")
    return np.append(at_risk, 0)[idx].astype(int)


@dataclass(frozen=True)
class StepCurve:
    """A fitted right-continuous step curve: one row per distinct time with an event or a censoring.

    The base of ``km.KMResult`` and ``cif.CIFResult``; a subclass adds its variance and says what the curve is
    before its first time (:meth:`_at_origin`), whether it is known after its last (:meth:`_known_after_last`)
    and what its standard error is (``std_err``). ``count_columns`` names further per-time counts that
    :meth:`to_frame` shows between ``events`` and ``censored``.
    """

    count_columns: ClassVar[tuple[str, ...]] = ()

    time: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    censored: np.ndarray
    estimate: np.ndarray
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
        raise NotImplementedError

    def _at_origin(self) -> Estimate:
        """The estimate with its CI before the first time."""
        raise NotImplementedError

    def _known_after_last(self) -> bool:
        """Whether the curve is still known after its last time (else ``at`` gives ``None`` there)."""
        return False

    def at(self, t: float) -> Estimate:
        """The estimate with its CI at time ``t``; ``None`` where it is not known (no data, or after the last
        time unless the subclass says the curve is known there)."""
        if self.n == 0:
            return Estimate(None, None, None)
        i = np.searchsorted(self.time, t, side="right") - 1
        if i < 0:
            return self._at_origin()
        if t > self.time[-1] and not self._known_after_last():
            return Estimate(None, None, None)
        return Estimate(float(self.estimate[i]), none_if_nan(self.ci_low[i]), none_if_nan(self.ci_high[i]))

    def at_risk_at(self, times) -> np.ndarray:
        """Numbers at risk just before each of ``times`` (subjects with time >= t), as R's risk tables."""
        return at_risk_at(self.time, self.at_risk, times)

    def to_records(self, fields: tuple[str, ...]) -> list[dict]:
        """One dict per distinct time: ``time_days`` (the fit's time; cartreport fits in days), then ``fields``
        (columns of :meth:`to_frame`) — the curve rows of ``results.json``."""
        frame = self.to_frame().rename(columns={"time": "time_days"})
        return frame[["time_days", *fields]].to_dict("records")

    def to_frame(self) -> pd.DataFrame:
        """The curve as a table: one row per distinct time, with its counts, estimate, ``std_err`` and band."""
        import pandas as pd

        counts = {name: getattr(self, name) for name in ("time", "at_risk", "events", *self.count_columns)}
        return pd.DataFrame(
            {
                **counts,
                "censored": self.censored,
                "estimate": self.estimate,
                "std_err": self.std_err,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
            }
        )
