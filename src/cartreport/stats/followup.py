"""Median follow-up by the reverse Kaplan–Meier method.

Method: the Kaplan–Meier estimate of the censoring distribution — the censoring indicator taken as the event, so
that a death ends follow-up for the observation of censoring (Schemper & Smith 1996) — and its median with the
Brookmeyer–Crowley CI, exactly as :func:`cartreport.stats.km.kaplan_meier` computes them. Reference implementation:
R ``survfit(Surv(time, 1 - event) ~ 1, conf.type=...)``, the median and CI that ``print`` shows (checked to 1e-6
in ``tests/test_followup.py``; ``tests/reference/followup.R``).

References
----------
Schemper M, Smith TL. A note on quantifying follow-up in studies of failure time. Control Clin Trials
1996;17:343–346.
"""

from __future__ import annotations

import numpy as np

from cartreport.stats.km import kaplan_meier
from cartreport.stats.stepcurve import Estimate

__all__ = ["median_follow_up"]


def median_follow_up(time, event, ci_level: float = 0.95, ci_method: str = "log-log") -> Estimate:
    """Median follow-up by reverse Kaplan–Meier, in the unit of ``time``.

    Parameters
    ----------
    time : follow-up times (days in cartreport).
    event : 1 for the event (death, relapse...), 0 for censoring — as for :func:`cartreport.stats.km.kaplan_meier`.
    ci_level : confidence level of the CI.
    ci_method : band for the Brookmeyer–Crowley CI, ``"log-log"`` (default), ``"log"`` or ``"plain"``.

    Returns
    -------
    Estimate
        Median follow-up and its CI, as R ``print(survfit(Surv(time, 1 - event) ~ 1, conf.type = ci_method))``;
        ``None`` where not reached (fewer than half of the patients censored).

    References
    ----------
    Schemper M, Smith TL. Control Clin Trials 1996;17:343–346.

    Examples
    --------
    >>> median_follow_up([5, 8, 12, 20, 24, 30], [1, 0, 0, 1, 0, 0]).estimate
    24.0
    """
    event = np.asarray(event)
    if not np.isin(event, (0, 1, True, False)).all():
        raise ValueError("event must be 0/1")
    reverse = kaplan_meier(time, 1 - event.astype(int), ci_level=ci_level, ci_method=ci_method)
    return reverse.median()
