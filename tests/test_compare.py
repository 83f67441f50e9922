"""Log-rank and Gray's tests against R ``survival::survdiff`` and ``cmprsk::cuminc(...)$Tests`` (values recorded by
``tests/reference/compare.R``)."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from cartreport.stats.compare import gray_test, logrank_test

REFERENCE = json.loads((Path(__file__).parent / "data" / "reference" / "compare.json").read_text())
ATOL = 1e-6


@pytest.mark.parametrize("name", list(REFERENCE["logrank"]))
def test_logrank_matches_survdiff(name):
    ref = REFERENCE["logrank"][name]
    got = logrank_test(ref["time"], ref["event"], ref["group"])
    assert got.method == "log-rank test"
    assert got.df == ref["df"]
    assert_allclose([got.statistic, got.p_value], [ref["statistic"], ref["p_value"]], rtol=0, atol=ATOL)


@pytest.mark.parametrize(
    ("name", "cause"), [(name, cause) for name, ref in REFERENCE["gray"].items() for cause in ref["cause"]]
)
def test_gray_matches_cuminc_tests(name, cause):
    ref = REFERENCE["gray"][name]
    row = ref["cause"].index(cause)
    got = gray_test(ref["time"], ref["status"], ref["group"], cause=int(cause))
    assert got.method == "Gray's test"
    assert got.df == ref["df"][row]
    assert_allclose(
        [got.statistic, got.p_value], [ref["statistic"][row], ref["p_value"][row]], rtol=0, atol=ATOL
    )


def test_group_labels_do_not_change_the_test():
    ref = REFERENCE["gray"]["simulated"]
    relabelled = np.array([{"A": "z", "B": "y", "C": "x"}[g] for g in ref["group"]])
    a = gray_test(ref["time"], ref["status"], ref["group"])
    b = gray_test(ref["time"], ref["status"], relabelled)
    assert_allclose(a.statistic, b.statistic, rtol=1e-10)


@pytest.mark.parametrize("test", [logrank_test, gray_test])
def test_needs_two_groups(test):
    with pytest.raises(ValueError):
        test([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    with pytest.raises(ValueError):
        test([1, 2, 3], [1, 0, 1], ["a", "b"])


def test_docstring_examples_run():
    import cartreport.stats.compare as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
