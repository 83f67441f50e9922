"""Response rates with exact (Clopper–Pearson) confidence intervals.

Method: the interval inverts two one-sided binomial tests; its limits are beta quantiles, the lower
``Beta(x, n - x + 1)`` quantile at alpha/2 and the upper ``Beta(x + 1, n - x)`` quantile at 1 - alpha/2, computed as R
``binom.test(x, n)$conf.int`` computes them (``qbeta``) with ``scipy.special.betaincinv`` / ``betainccinv``
(the upper one from its upper tail, for accuracy). Equal to R's to 1e-15 in ``tests/test_proportions.py``
(``tests/reference/proportions.R``). ``scipy.stats.binomtest(...).proportion_ci("exact")`` finds the same limits by
root-finding, within 5e-13 of R's, and its import costs the report 0.5 s; hence scipy.special.

References
----------
Clopper CJ, Pearson ES. Biometrika 1934;26:404–413.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Proportion", "clopper_pearson"]


@dataclass(frozen=True)
class Proportion:
    """A response rate with its exact confidence interval; rate and CI are ``None`` when nobody is evaluable."""

    responders: int
    evaluable: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    method: str = "Clopper–Pearson exact"

    def to_dict(self) -> dict:
        """``responders``, ``evaluable``, ``rate``, ``ci_low``, ``ci_high``, ``method``: a rate in results.json."""
        return asdict(self)


def clopper_pearson(responders: int, evaluable: int, ci_level: float = 0.95) -> Proportion:
    """Response rate with its exact Clopper–Pearson confidence interval.

    Parameters
    ----------
    responders : number of patients with the response.
    evaluable : number of patients evaluable for it (0 gives rate and CI ``None``).
    ci_level : confidence level, e.g. 0.95.

    Returns
    -------
    Proportion
        Rate ``responders / evaluable`` and the interval of R ``binom.test(responders, evaluable,
        conf.level = ci_level)$conf.int`` (beta quantiles, ``scipy.special.betaincinv``).

    References
    ----------
    Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the case of the binomial.
    Biometrika 1934;26:404–413.

    Examples
    --------
    >>> p = clopper_pearson(16, 16)
    >>> p.rate, round(p.ci_low, 4), p.ci_high
    (1.0, 0.7941, 1.0)
    >>> clopper_pearson(0, 0).rate is None
    True
    """
    if int(responders) != responders or int(evaluable) != evaluable:
        raise ValueError("responders and evaluable must be whole numbers")
    responders, evaluable = int(responders), int(evaluable)
    if evaluable < 0 or not 0 <= responders <= max(evaluable, 0):
        raise ValueError(f"need 0 <= responders <= evaluable, got {responders} of {evaluable}")
    if not 0 < ci_level < 1:
        raise ValueError("ci_level must be between 0 and 1")
    if evaluable == 0:
        return Proportion(responders, evaluable, None, None, None)
    from scipy.special import (
        betainccinv,
        betaincinv,
    )  # imported on first use: a report kernel never estimates

    alpha = (1 - ci_level) / 2
    low = 0.0 if responders == 0 else float(betaincinv(responders, evaluable - responders + 1, alpha))
    high = (
        1.0 if responders == evaluable else float(betainccinv(responders + 1, evaluable - responders, alpha))
    )
    return Proportion(responders, evaluable, responders / evaluable, low, high)
