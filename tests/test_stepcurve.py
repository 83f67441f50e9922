"""Tests for cartreport.stats.stepcurve: what the Kaplan–Meier and cumulative incidence curves share."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from cartreport.stats.cif import CIFResult, aalen_johansen
from cartreport.stats.km import KMResult, kaplan_meier
from cartreport.stats.stepcurve import (
    Estimate,
    StepCurve,
    at_risk_at,
    competing_risks_input,
    count_by_time,
    none_if_nan,
    survival_input,
)


def test_doctests() -> None:
    import cartreport.stats.stepcurve as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_both_curves_are_step_curves() -> None:
    assert issubclass(KMResult, StepCurve) and issubclass(CIFResult, StepCurve)


def test_counting_process_by_hand() -> None:
    # times 1, 2, 2, 2, 4 with events at 1 and one of the 2s: 5, 4, 1 at risk; exits 1, 3, 1
    time = np.array([2.0, 1.0, 2.0, 4.0, 2.0])
    uniq, at_risk, exits, (events, other) = count_by_time(time, np.array([0, 1, 1, 0, 0]), time == 4.0)
    assert_array_equal(uniq, [1.0, 2.0, 4.0])
    assert_array_equal(at_risk, [5, 4, 1])
    assert_array_equal(exits, [1, 3, 1])
    assert_array_equal(events, [1, 1, 0])
    assert_array_equal(other, [0, 0, 1])
    # just before 0, 1, 1.5, 2, 3, 4 and after the last time
    assert_array_equal(at_risk_at(uniq, at_risk, [0, 1, 1.5, 2, 3, 4, 5]), [5, 5, 4, 4, 1, 1, 0])


def test_none_if_nan() -> None:
    assert none_if_nan(float("nan")) is None and none_if_nan(None) is None and none_if_nan(np.inf) is None
    assert none_if_nan(np.float64(0.25)) == 0.25 and type(none_if_nan(np.float64(0.25))) is float


@pytest.mark.parametrize(
    ("time", "event"),
    [([1, 2], [1]), ([1, -2], [1, 0]), ([1, np.nan], [1, 0]), ([1, 2], [1, 2]), ([[1, 2]], [[1, 0]])],
)
def test_survival_input_rejects(time, event) -> None:
    with pytest.raises(ValueError):
        survival_input(time, event)


@pytest.mark.parametrize(
    ("time", "status", "cause"),
    [
        ([1, 2], [1], 1),
        ([1, -2], [1, 0], 1),
        ([1, 2], [1, -1], 1),
        ([1, 2], [1, 1.5], 1),
        ([1, 2], [1, 2], 0),
    ],
)
def test_competing_risks_input_rejects(time, status, cause) -> None:
    with pytest.raises(ValueError):
        competing_risks_input(time, status, cause)


def test_inputs_are_returned_as_arrays() -> None:
    time, event = survival_input([3, 1], [True, False])
    assert time.dtype == float and event.tolist() == [1, 0]
    time, status = competing_risks_input([3, 1], [2.0, 0.0], 1)
    assert time.dtype == float and status.tolist() == [2, 0]


def test_at_before_first_and_after_last_time() -> None:
    km = kaplan_meier([1, 2, 3], [1, 0, 1])  # ends at 0: known after its last time
    assert km.at(0.5) == Estimate(1.0, 1.0, 1.0)
    assert km.at(10).estimate == 0.0
    assert kaplan_meier([1, 2, 3], [1, 1, 0]).at(10) == Estimate(None, None, None)
    cif = aalen_johansen([1, 2, 3], [1, 2, 0], ci_method="plain")
    assert cif.at(0.5) == Estimate(0.0, 0.0, 0.0)
    assert cif.at(10) == Estimate(None, None, None)  # the last patient censored: unknown after its last time
    ended = aalen_johansen([1, 2, 3], [1, 2, 1], ci_method="plain")  # every patient had an event: known
    assert ended.at(10) == ended.at(3) and ended.at(10).estimate == pytest.approx(2 / 3)


def test_to_frame_columns() -> None:
    assert list(kaplan_meier([1, 2], [1, 0]).to_frame().columns) == [
        "time",
        "at_risk",
        "events",
        "censored",
        "estimate",
        "std_err",
        "ci_low",
        "ci_high",
    ]
    assert list(aalen_johansen([1, 2], [1, 2]).to_frame().columns) == [
        "time",
        "at_risk",
        "events",
        "competing",
        "censored",
        "estimate",
        "std_err",
        "ci_low",
        "ci_high",
    ]


def test_to_records_are_the_frame_rows_with_time_in_days() -> None:
    km = kaplan_meier([5, 10, 10], [1, 0, 1])
    assert km.to_records(("at_risk", "estimate")) == [
        {"time_days": 5.0, "at_risk": 3, "estimate": 1 - 1 / 3},  # product-limit: 1 - d/n
        {"time_days": 10.0, "at_risk": 2, "estimate": (1 - 1 / 3) * (1 - 1 / 2)},
    ]


@pytest.mark.parametrize(
    "time",
    [
        np.array([5.0, 1.0, 5.0, 3.0, 1.0, 8.0]),
        np.random.default_rng(3).integers(0, 400, 5_000).astype(float),
        np.array([0.0, -0.0, 2.0]),
        np.array([2.0, np.nan, 2.0]),
        np.array([], dtype=float),
    ],
)
def test_count_by_time_distinct_times_are_np_unique(time):
    """The distinct times and each subject's position among them are those of np.unique(time, return_inverse)."""
    from cartreport.stats.stepcurve import _distinct

    expected = np.unique(time, return_inverse=True)
    got = _distinct(time)
    assert got[0].dtype == expected[0].dtype and got[0].tobytes() == expected[0].tobytes()
    assert np.array_equal(got[1], expected[1].ravel())
