"""Clopper–Pearson intervals against R ``binom.test`` (values recorded by ``tests/reference/proportions.R``)."""

from __future__ import annotations

import dataclasses
import doctest
import json
from pathlib import Path

import pytest
from numpy.testing import assert_allclose

from cartreport.stats.proportions import Proportion, clopper_pearson

CASES = json.loads((Path(__file__).parent / "data" / "reference" / "proportions.json").read_text())["cases"]


@pytest.mark.parametrize(
    "case", CASES, ids=lambda c: f"{c['responders']}of{c['evaluable']}-{c['conf_level']}"
)
def test_matches_binom_test(case):
    p = clopper_pearson(case["responders"], case["evaluable"], ci_level=case["conf_level"])
    assert p.rate == case["responders"] / case["evaluable"]
    # R computes the limits as beta quantiles (qbeta); so do we (scipy.special.betaincinv): equal to rounding.
    # scipy.stats.binomtest finds them by root-finding, within 5e-13 of R's (issue #12: it was also 0.5 s of import).
    assert_allclose([p.ci_low, p.ci_high], [case["low"], case["high"]], rtol=0, atol=1e-15)
    assert p.method == "Clopper–Pearson exact"


def test_sixteen_of_sixteen_as_published():
    p = clopper_pearson(16, 16)
    assert (round(p.ci_low, 4), p.ci_high) == (0.7941, 1.0)


def test_nobody_evaluable_gives_no_rate():
    assert clopper_pearson(0, 0) == Proportion(0, 0, None, None, None)


def test_result_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        clopper_pearson(1, 2).rate = 0.4


@pytest.mark.parametrize(
    ("x", "n", "level"), [(3, 2, 0.95), (-1, 2, 0.95), (1, -1, 0.95), (1, 2, 1.0), (1.5, 2, 0.95)]
)
def test_invalid_input_is_rejected(x, n, level):
    with pytest.raises(ValueError):
        clopper_pearson(x, n, ci_level=level)


def test_docstring_examples_run():
    import cartreport.stats.proportions as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_to_dict_is_the_results_json_block():
    assert clopper_pearson(0, 0).to_dict() == {
        "responders": 0,
        "evaluable": 0,
        "rate": None,
        "ci_low": None,
        "ci_high": None,
        "method": "Clopper–Pearson exact",
    }
    assert list(clopper_pearson(3, 4).to_dict()) == [
        "responders",
        "evaluable",
        "rate",
        "ci_low",
        "ci_high",
        "method",
    ]
