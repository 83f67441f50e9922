"""Median follow-up by reverse Kaplan–Meier against R ``survfit(Surv(time, 1 - event) ~ 1)`` (values recorded by
``tests/reference/followup.R``)."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from cartreport.stats.followup import median_follow_up

CASES = json.loads((Path(__file__).parent / "data" / "reference" / "followup.json").read_text())["cases"]
FITS = [
    pytest.param(name, fit, id=f"{name}-{fit['conf_type']}")
    for name, case in CASES.items()
    for fit in case["fits"]
]


def optional(x: float | None) -> float:
    return np.nan if x is None else x


@pytest.mark.parametrize(("name", "fit"), FITS)
def test_matches_reverse_survfit(name, fit):
    case = CASES[name]
    got = median_follow_up(case["time"], case["event"], ci_method=fit["conf_type"])
    assert_allclose(
        [optional(got.estimate), optional(got.ci_low), optional(got.ci_high)],
        [optional(fit["median"]), optional(fit["lcl"]), optional(fit["ucl"])],
        rtol=0,
        atol=1e-6,
    )


def test_gehan_6mp_follow_up():
    """6-MP arm (Klein & Moeschberger 2003, Table 4.1A data): 12 of 21 censored."""
    case = CASES["gehan_6mp"]
    ref = next(f for f in case["fits"] if f["conf_type"] == "log-log")
    assert median_follow_up(case["time"], case["event"]).estimate == ref["median"]


def test_rejects_non_binary_event():
    with pytest.raises(ValueError):
        median_follow_up([1, 2], [1, 2])


def test_docstring_examples_run():
    import cartreport.stats.followup as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
