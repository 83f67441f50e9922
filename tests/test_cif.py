"""Aalen–Johansen cumulative incidence against R cmprsk 2.2-11 ``cuminc`` (estimate, Gray's variance), the
tidycmprsk log(-log) interval and survival 3.5-3 ``survfit`` (values recorded by ``tests/reference/cif.R``)."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cartreport.stats.cif import aalen_johansen

REFERENCE = Path(__file__).parent / "data" / "reference"
ATOL = 1e-6
CASES = json.loads((REFERENCE / "cif.json").read_text())["cases"]
RESULTS = [
    pytest.param(name, result, id=f"{name}-cause{result['cause']}")
    for name, case in CASES.items()
    for result in case["results"]
]
WITH_CUMINC = [r for r in RESULTS if "cuminc" in r.values[1]]


def values(xs) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in xs], dtype=float)


def optional(x: float | None) -> float:
    return np.nan if x is None else x


def loglog_reference(est, low, high) -> tuple[np.ndarray, np.ndarray]:
    """tidycmprsk's limits, except where F = 1 (or 1 + 2e-16 from rounding, in R as in numpy): there tidycmprsk
    gives 1 and 1 (or Inf); we call the log(-log) interval undefined, as R's survfit does at S = 0 or 1."""
    low, high = values(low), values(high)
    at_one = values(est) >= 1
    low[at_one] = high[at_one] = np.nan
    return low, high


def fitted(name: str, cause: int, **options):
    case = CASES[name]
    return aalen_johansen(case["time"], case["status"], cause=cause, **options)


@pytest.mark.parametrize(("name", "result"), WITH_CUMINC)
def test_estimate_and_variance_match_cuminc(name, result):
    cif = fitted(name, result["cause"])
    ref = result["cuminc"]
    assert_array_equal(cif.time, values(ref["time"]))
    assert_allclose(cif.estimate, values(ref["est"]), rtol=0, atol=ATOL)
    assert_allclose(cif.variance, values(ref["var"]), rtol=0, atol=ATOL)


@pytest.mark.parametrize(("name", "result"), WITH_CUMINC)
@pytest.mark.parametrize("level", [0.95, 0.90])
def test_loglog_interval_matches_tidycmprsk(name, result, level):
    cif = fitted(name, result["cause"], ci_level=level)
    ref = result["cuminc"]
    suffix = f"{round(level * 100)}"
    low, high = loglog_reference(ref["est"], ref[f"loglog_low_{suffix}"], ref[f"loglog_high_{suffix}"])
    assert_allclose(cif.ci_low, low, rtol=0, atol=ATOL)
    assert_allclose(cif.ci_high, high, rtol=0, atol=ATOL)


@pytest.mark.parametrize(("name", "result"), WITH_CUMINC)
def test_plain_interval_is_clipped_normal_interval_on_cuminc_variance(name, result):
    cif = fitted(name, result["cause"], ci_method="plain")
    ref = result["cuminc"]
    se = np.sqrt(values(ref["var"]))
    est = values(ref["est"])
    assert_allclose(cif.ci_low, np.clip(est - 1.959963984540054 * se, 0, 1), rtol=0, atol=ATOL)
    assert_allclose(cif.ci_high, np.clip(est + 1.959963984540054 * se, 0, 1), rtol=0, atol=ATOL)


def known_after_last(case: dict) -> bool:
    """Every patient at risk at the last time had an event there (none was censored then): the cumulative
    incidence can no longer change, and cartreport keeps its last value after that time where
    ``cmprsk::timepoints`` gives NA."""
    last = max(case["time"])
    return all(status != 0 for time, status in zip(case["time"], case["status"], strict=True) if time == last)


@pytest.mark.parametrize(("name", "result"), WITH_CUMINC)
def test_landmarks_match_timepoints(name, result):
    """``cmprsk::timepoints``; after the last time, where it gives NA, ``cuminc``'s own estimate and interval at the
    last time when every patient then at risk had an event (:func:`known_after_last`), else nothing."""
    cif = fitted(name, result["cause"])
    ref = dict(result["timepoints"])
    curve = result["cuminc"]
    if known_after_last(CASES[name]):
        beyond = [t > max(CASES[name]["time"]) for t in ref["time"]]
        for key in ("est", "loglog_low_95", "loglog_high_95"):
            ref[key] = [curve[key][-1] if b else v for b, v in zip(beyond, ref[key], strict=True)]
    low, high = loglog_reference(ref["est"], ref["loglog_low_95"], ref["loglog_high_95"])
    for i, t in enumerate(ref["time"]):
        got = cif.at(t)
        if ref["est"][i] is None:
            assert got.estimate is None, f"t = {t}"
            continue
        assert_allclose(
            [got.estimate, optional(got.ci_low), optional(got.ci_high)],
            [ref["est"][i], low[i], high[i]],
            rtol=0,
            atol=ATOL,
            err_msg=f"t = {t}",
        )


@pytest.mark.parametrize(("name", "result"), [r for r in RESULTS if "survfit" in r.values[1]])
def test_estimate_matches_survfit_aalen_johansen(name, result):
    cif = fitted(name, result["cause"])
    ref = result["survfit"]
    assert_array_equal(cif.time, values(ref["time"]))
    assert_array_equal(cif.at_risk, values(ref["n_risk"]))
    assert_allclose(cif.estimate, values(ref["pstate"]), rtol=0, atol=ATOL)
    assert_array_equal(cif.at_risk_at(cif.time), cif.at_risk)


def test_cause_without_events_has_zero_incidence():
    """cuminc gives no curve for a cause that never occurs; survfit gives 0 (checked above)."""
    cif = fitted("no_cause_events", 1)
    assert cif.n_events == 0 and cif.n_competing == 2
    assert_array_equal(cif.estimate, 0.0)
    assert_array_equal(cif.variance, 0.0)
    assert cif.at(2).ci_low is None  # log(-log) is undefined at 0


def test_counts_add_up():
    case = CASES["ties_all_kinds"]
    cif = aalen_johansen(case["time"], case["status"], cause=1)
    assert_array_equal(
        cif.events + cif.competing + cif.censored,
        np.bincount(np.unique(case["time"], return_inverse=True)[1]),
    )
    assert cif.n == len(case["time"])
    assert list(cif.to_frame().columns) == [
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


def test_at_before_first_time_and_beyond_last():
    case = CASES["first_censored"]
    cif = fitted("first_censored", 1)
    last = max(case["time"])
    assert cif.at(0).estimate == 0.0
    assert cif.at(last).estimate is not None
    assert (cif.at(last + 0.01).estimate is None) is not known_after_last(case)


def test_beyond_the_last_time_the_incidence_is_known_when_every_patient_had_an_event():
    """Every patient engrafted (or died first) by day 40: the 100-day incidence was "not estimable (no patient
    followed that long)" though nothing about it is unknown. Without censoring the Aalen–Johansen estimate is the
    empirical proportion (Pintilie 2006, section 4.2), here 3 of 4 by any later day, with the CI of the last
    time (R: summary(survfit(...), times = 100, extend = TRUE)). A curve whose last patient was censored stays
    unknown after that time."""
    cif = aalen_johansen([10, 20, 30, 40], [1, 2, 1, 1])
    assert cif.at(100).estimate == pytest.approx(3 / 4, abs=1e-15)
    assert (cif.at(100).ci_low, cif.at(100).ci_high) == (cif.at(40).ci_low, cif.at(40).ci_high)
    assert aalen_johansen([10, 20, 30, 40], [1, 2, 1, 2], cause=2).at(1e6).estimate == pytest.approx(2 / 4)
    censored_last = aalen_johansen([10, 20, 30, 40], [1, 2, 1, 0])
    assert censored_last.at(40).estimate == pytest.approx(2 / 4) and censored_last.at(41).estimate is None
    # two patients left at the last time, one censored there: not everyone's outcome is known
    assert aalen_johansen([10, 20, 40, 40], [1, 2, 1, 0]).at(41).estimate is None


@pytest.mark.parametrize("name", ["mgus2", "ties_all_kinds"])
def test_tied_times_are_exact_not_jittered(name):
    """Ties of events (and censorings) at one time are counted together, as cmprsk does, with no random jitter.

    lifelines' AalenJohansenFitter breaks such ties by random jitter (observed with lifelines 0.30.3, seeds 1-3:
    off R by 3e-4 to 7e-4 on mgus2 midway between times, by 0.027 read exactly at a tied time); ours reads R's
    exact value at the tied time itself and does not depend on the order of the rows."""
    case = CASES[name]
    ref = next(r for r in case["results"] if r["cause"] == 1)["cuminc"]
    tied = [t for t in np.unique(case["time"]) if np.sum(np.asarray(case["time"]) == t) > 1]
    cif = fitted(name, 1)
    got = [cif.at(t).estimate for t in tied]
    want = values(ref["est"])[np.searchsorted(values(ref["time"]), tied)]
    assert len(tied) > 0
    assert_allclose(got, want, rtol=0, atol=ATOL)
    order = np.random.default_rng(1).permutation(len(case["time"]))
    shuffled = aalen_johansen(np.asarray(case["time"])[order], np.asarray(case["status"])[order], cause=1)
    assert_array_equal(shuffled.estimate, cif.estimate)
    assert_array_equal(shuffled.variance, cif.variance)


def test_hundred_thousand_patients():
    """Registry size works (its speed is measured in benchmarks/, never asserted here)."""
    rng = np.random.default_rng(2)
    t = np.round(rng.exponential(400, 100_000))
    status = rng.integers(0, 3, 100_000)
    cif = aalen_johansen(t, status)
    assert np.all(np.diff(cif.estimate) >= 0)
    # the states add up: relapse + NRM + event-free (Kaplan–Meier of either event) = 1 at every time
    from cartreport.stats.km import kaplan_meier

    free = kaplan_meier(t, status > 0)
    for day in (30, 365, 1500):
        parts = [aalen_johansen(t, status, cause=c).at(day).estimate for c in (1, 2)] + [
            free.at(day).estimate
        ]
        assert sum(parts) == pytest.approx(1, abs=1e-9)
        assert 0 < parts[0] < 1 and 0 < parts[1] < 1


def test_empty_input():
    cif = aalen_johansen([], [])
    assert cif.n == 0 and cif.at(1).estimate is None


@pytest.mark.parametrize(
    ("time", "status", "options"),
    [
        ([1, -1], [1, 0], {}),
        ([1, 2], [1, -1], {}),
        ([1, 2], [1.5, 0], {}),
        ([1, 2], [1], {}),
        ([1, 2], [1, 0], {"cause": 0}),
        ([1, 2], [1, 0], {"ci_method": "log"}),
        ([1, 2], [1, 0], {"ci_level": 0}),
    ],
)
def test_invalid_input_is_rejected(time, status, options):
    with pytest.raises(ValueError):
        aalen_johansen(time, status, **options)


def test_docstring_examples_run():
    import cartreport.stats.cif as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_the_fit_names_its_method_for_results_json():
    fit = aalen_johansen([1, 2, 3], [1, 2, 0], cause=1)
    assert fit.method == (
        "Aalen–Johansen (ties handled exactly); Gray's variance as cmprsk::cuminc; log-log confidence intervals"
    )
