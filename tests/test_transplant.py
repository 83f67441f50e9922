"""Safety and transplant outcomes in results.json against R, computed independently from the CSVs' dates.

Reference: tests/data/reference/transplant.json, written by tests/reference/transplant.R (R 4.2.2, survival 3.5-3,
cmprsk 2.2-11) from the constructed cohorts tests/data/transplant_ties.csv (events tied with competing deaths,
engraftment exactly on day 28, landmark-day events, a relapse before the HSCT, a patient without HSCT; also read
with a data cut-off) and tests/data/transplant_all_engrafted.csv (everyone engrafted, many on day 28).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from cartreport import api
from cartreport.analysis.transplant_endpoints import INCIDENCE, LANDMARK_DAYS

ROOT = Path(__file__).resolve().parents[1]
REF = json.loads((ROOT / "tests" / "data" / "reference" / "transplant.json").read_text(encoding="utf-8"))
COHORTS = REF["cohorts"]
ATOL = 1e-6


def values(xs) -> np.ndarray:
    return np.array([np.nan if x is None else x for x in xs], dtype=float)


def loglog_reference(est, bounds) -> np.ndarray:
    """tidycmprsk's limits, except where F = 1: there tidycmprsk gives 1 (or Inf) and we call the log(-log) interval
    undefined (as tests/test_cif.py)."""
    out = values(bounds)
    out[values(est) >= 1] = np.nan
    return out


def after_last_time(ref: dict, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R's landmark estimates and log-log limits, where cmprsk's ``timepoints`` gives NA after the last time but
    every patient had an event (engraftment or a competing death: ``events + competing_events == n``): there the
    curve can no longer change and cartreport keeps its last value, which is R's own estimate at the last time
    (``curve_estimate``), with tidycmprsk's limits from R's variance there (``curve_var``)."""
    from scipy.stats import norm

    est = values(ref["landmark_estimate"])
    suffix = round(level * 100)
    low, high = values(ref[f"landmark_ci_low_{suffix}"]), values(ref[f"landmark_ci_high_{suffix}"])
    beyond = np.array(ref["landmark_days"]) > ref["curve_time"][-1]
    if ref["events"] + ref["competing_events"] == ref["n"]:
        last, var = ref["curve_estimate"][-1], ref["curve_var"][-1]
        est[beyond] = last
        if 0 < last < 1:
            with np.errstate(over="ignore"):  # last = 1 - 1e-16 (R's sum of tenths): limits 0 and 1
                spread = norm.ppf(0.5 + level / 2) * np.sqrt(var) / (last * np.log(last))
                low[beyond], high[beyond] = last ** np.exp(-spread), last ** np.exp(spread)
    return est, loglog_reference(est, low), loglog_reference(est, high)


@pytest.fixture(scope="module")
def analyses():
    cache = {}

    def get(name: str, **overrides):
        cohort = COHORTS[name]
        key = (name, tuple(sorted(overrides.items())))
        if key not in cache:
            cache[key] = api.load_analysis(
                data=str(ROOT / cohort["file"]), data_cutoff=cohort["data_cutoff"] or "", **overrides
            )
        return cache[key]

    return get


@pytest.mark.parametrize("name", list(COHORTS))
@pytest.mark.parametrize("key", list(INCIDENCE))
@pytest.mark.parametrize("level", [0.95, 0.90])
def test_cumulative_incidence_matches_cuminc(analyses, name, key, level):
    analysis = analyses(name, ci_level=level)
    block, ref = analysis.results["endpoints"][key], COHORTS[name]["endpoints"][key]
    assert (block["n"], block["events"], block["competing_events"]) == (
        ref["n"],
        ref["events"],
        ref["competing_events"],
    )
    landmarks = block["landmarks"]
    assert [lm["days"] for lm in landmarks] == ref["landmark_days"] == list(LANDMARK_DAYS[key])
    assert [lm["months"] for lm in landmarks] == [d / 30.4375 for d in ref["landmark_days"]]
    assert [lm["at_risk"] for lm in landmarks] == ref["landmark_at_risk"]
    est, low, high = after_last_time(ref, level)
    assert_allclose(values(lm["estimate"] for lm in landmarks), est, atol=ATOL, rtol=0)
    assert_allclose(values(lm["ci_low"] for lm in landmarks), low, atol=ATOL, rtol=0)
    assert_allclose(values(lm["ci_high"] for lm in landmarks), high, atol=ATOL, rtol=0)
    fit = analysis.transplant.fits[key]
    assert_array_equal(fit.time, values(ref["curve_time"]))
    assert_allclose(fit.estimate, values(ref["curve_estimate"]), atol=ATOL, rtol=0)
    assert_allclose(fit.variance, values(ref["curve_var"]), atol=ATOL, rtol=0)
    assert [row["estimate"] for row in block["cif"]] == pytest.approx(ref["curve_estimate"], abs=ATOL)


@pytest.mark.parametrize("name", list(COHORTS))
@pytest.mark.parametrize("key", list(INCIDENCE))
def test_times_and_status_derived_as_r_derives_them(analyses, name, key):
    patients = analyses(name).transplant.endpoints.analysed
    ref = COHORTS[name]["endpoints"][key]
    assert_array_equal(patients[f"{key}_time_days"], values(ref["time"]))
    assert_array_equal(patients[f"{key}_status"], ref["status"])


@pytest.mark.parametrize("name", list(COHORTS))
@pytest.mark.parametrize("method", ["log-log", "log", "plain"])
@pytest.mark.parametrize("level", [0.95, 0.90])
def test_grfs_matches_survfit_with_the_reports_ci(analyses, name, method, level):
    analysis = analyses(name, ci_method=method, ci_level=level)
    block = analysis.results["endpoints"]["grfs"]
    ref_all = COHORTS[name]["endpoints"]["grfs"]
    ref = ref_all[f"{method}_{round(level * 100)}"]
    assert (block["n"], block["events"]) == (ref_all["n"], ref_all["events"])
    patients = analysis.transplant.endpoints.analysed
    assert_array_equal(patients["grfs_time_days"], values(ref_all["time"]))
    assert_array_equal(patients["grfs_event"], ref_all["event"])
    landmarks = block["landmarks"]
    assert [lm["days"] for lm in landmarks] == [365, 730]
    assert [lm["at_risk"] for lm in landmarks] == ref["landmark_at_risk"]
    # beyond the last observed time summary(extend = TRUE) carries the last value; the report says "not
    # estimable" (docs/statistics.md, Landmarks), as cmprsk::timepoints does for cumulative incidence
    followed = np.array(ref_all["landmark_days"]) <= max(ref_all["time"])
    assert followed.any() or name == "ties_cutoff"
    for ours, theirs in (("estimate", "landmark_estimate"), ("ci_low", "landmark_ci_low"),
                         ("ci_high", "landmark_ci_high")):  # fmt: skip
        expected = np.where(followed, values(ref[theirs]), np.nan)
        assert_allclose(values(lm[ours] for lm in landmarks), expected, atol=ATOL, rtol=0)
    fit = analysis.transplant.fits["grfs"]
    assert_allclose(fit.estimate, values(ref["curve_estimate"]), atol=ATOL, rtol=0)
    assert_allclose(fit.ci_low, values(ref["curve_ci_low"]), atol=ATOL, rtol=0)
    assert_allclose(fit.ci_high, values(ref["curve_ci_high"]), atol=ATOL, rtol=0)
    for ours, theirs in (("median_months", "median_days"), ("median_ci_low", "median_ci_low_days"),
                         ("median_ci_high", "median_ci_high_days")):  # fmt: skip
        got = block[ours]
        assert (got is None) == (ref[theirs] is None)
        if got is not None:
            assert got * 30.4375 == pytest.approx(ref[theirs], abs=ATOL)


@pytest.mark.parametrize("name", list(COHORTS))
@pytest.mark.parametrize("syndrome", ["crs", "icans"])
@pytest.mark.parametrize("level", [0.95, 0.90])
def test_crs_and_icans_match_binom_test(analyses, name, syndrome, level):
    got = analyses(name, ci_level=level).results["safety"][syndrome]
    ref = COHORTS[name]["safety"][syndrome]
    assert got["counts"] == ref["counts"]
    assert got["evaluable"] == ref["evaluable"]
    suffix = round(level * 100)
    for kind in ("any", "grade_3_plus"):
        assert (got[kind]["responders"], got[kind]["evaluable"]) == (
            ref[kind]["responders"],
            ref[kind]["evaluable"],
        )
        assert got[kind]["rate"] == pytest.approx(ref[kind]["rate"], abs=ATOL)
        assert got[kind]["ci_low"] == pytest.approx(ref[kind][f"ci_low_{suffix}"], abs=ATOL)
        assert got[kind]["ci_high"] == pytest.approx(ref[kind][f"ci_high_{suffix}"], abs=ATOL)


def test_patients_without_second_hsct_are_excluded_and_counted(analyses):
    results = analyses("ties").results
    assert results["transplant_flow"] == {
        "transplanted": COHORTS["ties"]["transplanted"],
        "excluded": [{"reason": "no second HSCT", "n": 1}],
    }
    assert all(results["endpoints"][k]["origin"] == "second_hsct" for k in LANDMARK_DAYS)


def test_transplant_endpoints_are_timed_from_the_hsct_whatever_the_report_origin(analyses):
    from_cart = analyses("ties", time_origin="cart_infusion").results["endpoints"]
    from_hsct = analyses("ties").results["endpoints"]
    assert from_cart["os"]["landmarks"] != from_hsct["os"]["landmarks"]
    for key in LANDMARK_DAYS:
        assert from_cart[key]["landmarks"] == from_hsct[key]["landmarks"]


def test_risk_tables_are_at_the_figure_ticks(analyses):
    fits = analyses("ties").transplant.fits
    blocks = analyses("ties").results["endpoints"]
    neutrophil = blocks["neutrophil_engraftment"]["risk_table"]
    assert [row["days"] for row in neutrophil] == list(range(0, 101, 10))
    # at risk at day t = patients whose time is >= t, counted from the derived times
    times = analyses("ties").transplant.endpoints.analysed["neutrophil_engraftment_time_days"]
    assert [row["at_risk"] for row in neutrophil] == [int((times >= t).sum()) for t in range(0, 101, 10)]
    assert fits["grfs"].n == blocks["grfs"]["n"]


def test_the_shipped_cohort_has_no_transplant_outcomes():
    results = api.load_analysis().results
    assert "safety" not in results and "transplant_flow" not in results
    assert set(results["endpoints"]) == {"os", "lfs", "relapse", "nrm"}
