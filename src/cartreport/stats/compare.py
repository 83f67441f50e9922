"""Tests comparing groups: the log-rank test for survival and Gray's test for cumulative incidence.

* :func:`logrank_test` — Mantel–Haenszel log-rank test with the hypergeometric variance, computed by lifelines'
  ``multivariate_logrank_test``; equal to R ``survival::survdiff(Surv(time, event) ~ group)``.
* :func:`gray_test` — Gray's (1988) K-sample test of cumulative incidence functions (weight ``rho = 0``,
  unstratified), a port of subroutine ``crst`` of cmprsk 2.2-11 (``src/crstm.f``); equal to R
  ``cmprsk::cuminc(time, status, group)$Tests``.

Both are checked to 1e-6 against R in ``tests/test_compare.py`` (``tests/reference/compare.R``).

References
----------
Mantel N. Cancer Chemother Rep 1966;50:163–170. Peto R, Peto J. J R Stat Soc A 1972;135:185–207.
Gray RJ. A class of K-sample tests for comparing the cumulative incidence of a competing risk.
Ann Stat 1988;16:1141–1154.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartreport.stats.stepcurve import competing_risks_input, survival_input

__all__ = ["TestResult", "logrank_test", "gray_test"]


@dataclass(frozen=True)
class TestResult:
    """A chi-square test between groups."""

    __test__ = False  # not a pytest test class

    method: str
    statistic: float
    df: int
    p_value: float


def _groups(group, n: int) -> tuple[np.ndarray, np.ndarray]:
    group = np.asarray(group)
    if group.shape != (n,):
        raise ValueError("group must have one value per patient")
    if group.size and np.asarray(group == group).sum() != n:  # NaN is not equal to itself
        raise ValueError("group must not be missing")
    labels, codes = np.unique(group, return_inverse=True)
    if len(labels) < 2:
        raise ValueError("a test needs at least two groups")
    return labels, codes


def logrank_test(time, event, group) -> TestResult:
    """Log-rank test of equal survival between groups.

    Parameters
    ----------
    time : follow-up times.
    event : 1 for the event, 0 for censoring.
    group : group label of each patient (two or more groups).

    Returns
    -------
    TestResult
        Chi-square statistic with ``groups - 1`` degrees of freedom, as R
        ``survival::survdiff(Surv(time, event) ~ group)`` (``rho = 0``); computed by lifelines'
        ``multivariate_logrank_test``.

    References
    ----------
    Mantel N. Cancer Chemother Rep 1966;50:163–170. Peto R, Peto J. J R Stat Soc A 1972;135:185–207.

    Examples
    --------
    >>> result = logrank_test([1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 0], ["a", "b", "a", "b", "a", "b"])
    >>> result.df, round(result.statistic, 4)
    (1, 0.0739)
    """
    time, event = survival_input(time, event)
    _, codes = _groups(group, len(time))
    # imported on first use: a report kernel renders a shared analysis and never needs lifelines/scipy.stats
    from lifelines.statistics import multivariate_logrank_test

    result = multivariate_logrank_test(time, codes, event)
    return TestResult(
        method="log-rank test",
        statistic=float(result.test_statistic),
        df=int(result.degrees_of_freedom),
        p_value=float(result.p_value),
    )


def gray_test(time, status, group, cause: int = 1) -> TestResult:
    """Gray's test of equal cumulative incidence of one cause between groups.

    Parameters
    ----------
    time : follow-up times.
    status : 0 for censored, 1, 2, ... for the cause of the event.
    group : group label of each patient (two or more groups).
    cause : the cause whose cumulative incidence is compared; other causes compete.

    Returns
    -------
    TestResult
        Chi-square statistic with ``groups - 1`` degrees of freedom, equal to the row for ``cause`` of R
        ``cmprsk::cuminc(time, status, group)$Tests`` (``rho = 0``, no strata). The statistic is ``nan`` where
        cmprsk reports -1 (singular variance matrix).

    References
    ----------
    Gray RJ. Ann Stat 1988;16:1141–1154. Gray RJ, R package cmprsk (``cuminc``, subroutine ``crstm``).

    Examples
    --------
    >>> result = gray_test([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 1, 0, 1, 2, 1, 0], list("abababab"))
    >>> result.df, round(result.statistic, 4)
    (1, 5.4111)
    """
    time, status = competing_risks_input(time, status, cause)
    labels, codes = _groups(group, len(time))
    kind = np.where(status == 0, 0, np.where(status == cause, 1, 2))
    statistic_score, variance = _gray_score(time, kind, codes, len(labels))
    df = len(labels) - 1
    if np.linalg.matrix_rank(variance) < df:
        statistic = float("nan")
    else:
        statistic = float(statistic_score @ np.linalg.solve(variance, statistic_score))
    from scipy.stats import chi2  # imported on first use, as in logrank_test

    return TestResult(method="Gray's test", statistic=statistic, df=df, p_value=float(chi2.sf(statistic, df)))


def _gray_score(
    time: np.ndarray, kind: np.ndarray, codes: np.ndarray, ng: int
) -> tuple[np.ndarray, np.ndarray]:
    """Score and variance of Gray's test (``rho = 0``): subroutine ``crst`` of cmprsk's ``src/crstm.f``, looping
    over distinct times and vectorised over groups. ``kind``: 0 censored, 1 cause of interest, 2 competing."""
    uniq, inverse = np.unique(time, return_inverse=True)
    counts = np.zeros((len(uniq), 3, ng))
    np.add.at(counts, (inverse, kind, codes), 1)
    m = ng - 1
    rs = np.bincount(codes, minlength=ng).astype(float)
    f1m, f1 = np.zeros(ng), np.zeros(ng)
    skmm, skm = np.ones(ng), np.ones(ng)
    v3, v2 = np.zeros(ng), np.zeros((m, ng))
    c = np.zeros((ng, ng))
    score, var = np.zeros(m), np.zeros((m, m))
    fm = f = 0.0
    for d in counts:
        d1, d2 = d[1], d[2]
        nd1, nd2 = d1.sum(), d2.sum()
        if nd1 > 0 or nd2 > 0:
            active = rs > 0
            safe_rs = np.where(active, rs, 1.0)
            skm = np.where(active, skmm * (rs - d1 - d2) / safe_rs, skm)
            f1 = np.where(active, f1m + skmm * d1 / safe_rs, f1)
            with np.errstate(divide="ignore", invalid="ignore"):  # skmm = 0 only in groups no longer at risk
                t1 = np.where(active, rs / skmm, 0.0)
                tq = np.sum(np.where(active, rs * (1 - f1m) / skmm, 0.0))
            tr = t1.sum()
            f = fm + nd1 / tr
            a = np.diag(t1) - np.outer(t1, t1) / tr
            with np.errstate(divide="ignore", invalid="ignore"):
                c += np.where(a != 0, a * nd1 / (tr * (1 - fm)), 0.0)
            score += np.where(active, d1 - nd1 * t1 * (1 - f1m) / tq, 0.0)[:m]
            if nd1 > 0:
                with np.errstate(divide="ignore", invalid="ignore"):
                    t4 = np.where(skm > 0, 1 - (1 - f) / skm, 1.0)
                    t5 = 1 - (nd1 - 1) / (tr * skmm - 1) if nd1 > 1 else np.ones(ng)
                    t3 = np.where(active, t5 * skmm * nd1 / (tr * safe_rs), 0.0)
                v3 += t4**2 * t3
                lead = a[:m] - c[:m] * t4
                v2 += lead * t4 * t3
                var += (lead * t3) @ lead.T
            if nd2 > 0:
                hit = (skm > 0) & (d2 > 0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    t4 = np.where(hit, (1 - f) / skm, 0.0)
                    t5 = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
                    t3 = np.where(hit, t5 * skmm**2 * d2 / safe_rs**2, 0.0)
                v3 += t4**2 * t3
                lead = c[:m] * t4
                v2 -= lead * t4 * t3
                var += (lead * t3) @ lead.T
        rs -= d.sum(axis=0)
        fm, f1m, skmm = f, f1.copy(), skm.copy()
    var += (c[:m] * v3) @ c[:m].T + c[:m] @ v2.T + v2 @ c[:m].T
    return score, var
