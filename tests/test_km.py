"""Kaplan–Meier against R ``survival`` 3.5-3 (values recorded by ``tests/reference/km.R``), lifelines and a
textbook table (Klein & Moeschberger 2003, Table 4.1A)."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from numpy.testing import assert_allclose, assert_array_equal

from cartreport.stats.km import kaplan_meier

REFERENCE = Path(__file__).parent / "data" / "reference"
ATOL = 1e-6
KM = json.loads((REFERENCE / "km.json").read_text())
CASES = KM["cases"]
FITS = [
    pytest.param(name, fit, id=f"{name}-{fit['conf_type']}-{fit['conf_int']:g}")
    for name, case in CASES.items()
    for fit in case["fits"]
]


def values(xs) -> np.ndarray:
    """JSON array (null = R's NA/NaN/Inf) as floats with NaN."""
    return np.array([np.nan if x is None else x for x in xs], dtype=float)


def optional(x: float | None) -> float:
    return np.nan if x is None else x


def fitted(name: str, fit: dict):
    case = CASES[name]
    return kaplan_meier(case["time"], case["event"], ci_level=fit["conf_int"], ci_method=fit["conf_type"])


@pytest.mark.parametrize(("name", "fit"), FITS)
def test_table_matches_survfit(name, fit):
    km = fitted(name, fit)
    ref = fit["table"]
    assert_array_equal(km.time, values(ref["time"]))
    assert_array_equal(km.at_risk, values(ref["n_risk"]))
    assert_array_equal(km.events, values(ref["n_event"]))
    assert_array_equal(km.censored, values(ref["n_censor"]))
    assert_allclose(km.estimate, values(ref["surv"]), rtol=0, atol=ATOL)
    se_log = np.sqrt(km.var_log)
    assert_allclose(
        np.where(np.isfinite(se_log), se_log, np.nan), values(ref["std_err_log"]), rtol=0, atol=ATOL
    )
    assert_allclose(km.ci_low, values(ref["lower"]), rtol=0, atol=ATOL)
    assert_allclose(km.ci_high, values(ref["upper"]), rtol=0, atol=ATOL)


@pytest.mark.parametrize(("name", "fit"), FITS)
def test_landmarks_match_summary(name, fit):
    """``at(t)`` and ``at_risk_at`` against ``summary(fit, times=, extend=TRUE)``."""
    km = fitted(name, fit)
    ref = fit["summary"]
    times = values(ref["time"])
    last = max(CASES[name]["time"])
    for i, t in enumerate(times):
        got = km.at(t)
        if t > last and ref["surv"][i] > 0:
            # R extends the last value; we decline to extrapolate beyond the last observation
            assert got.estimate is None
            continue
        assert_allclose(
            [got.estimate, optional(got.ci_low), optional(got.ci_high)],
            [ref["surv"][i], optional(ref["lower"][i]), optional(ref["upper"][i])],
            rtol=0,
            atol=ATOL,
            err_msg=f"t = {t}",
        )
    assert_array_equal(km.at_risk_at(times), values(ref["n_risk"]))


@pytest.mark.parametrize(("name", "fit"), FITS)
def test_quantiles_match_quantile_survfit(name, fit):
    km = fitted(name, fit)
    ref = fit["quantile"]
    for i, p in enumerate(ref["probs"]):
        got = km.quantile(p)
        assert_allclose(
            [optional(got.estimate), optional(got.ci_low), optional(got.ci_high)],
            [optional(ref["quantile"][i]), optional(ref["lower"][i]), optional(ref["upper"][i])],
            rtol=0,
            atol=ATOL,
            err_msg=f"p = {p}",
        )


@pytest.mark.parametrize(("name", "fit"), FITS)
def test_median_matches_print_survfit(name, fit):
    """``median()`` is the median ``print(fit)`` shows (``summary(fit)$table``), CI included."""
    km = fitted(name, fit)
    got = km.median()
    ref = fit["print"]
    assert_allclose(
        [optional(got.estimate), optional(got.ci_low), optional(got.ci_high)],
        [optional(ref["median"]), optional(ref["lcl"]), optional(ref["ucl"])],
        rtol=0,
        atol=ATOL,
    )


def test_median_and_quantile_follow_their_r_functions_where_r_disagrees():
    """R's ``print(fit)`` and ``quantile(fit, 0.5)`` differ in two corner cases; both are recorded."""
    for name, conf_type, field in [("flat_at_half_end", "log-log", "estimate"), ("aml", "log", "ci_high")]:
        fit = next(f for f in CASES[name]["fits"] if f["conf_type"] == conf_type)
        km = fitted(name, fit)
        q = fit["quantile"]
        half = q["probs"].index(0.5)
        from_quantile = {"estimate": q["quantile"], "ci_high": q["upper"]}[field][half]
        from_print = {"estimate": fit["print"]["median"], "ci_high": fit["print"]["ucl"]}[field]
        assert from_quantile != from_print
        assert getattr(km.quantile(0.5), field) == from_quantile
        assert getattr(km.median(), field) == from_print


def test_flat_at_half_takes_midpoint():
    km = kaplan_meier([1, 2, 3, 4], [1, 1, 0, 1])
    assert km.median().estimate == 3.0


@pytest.mark.parametrize("name", list(CASES))
def test_point_estimates_match_lifelines(name):
    """lifelines' KaplanMeierFitter: same product-limit estimate and exponential-Greenwood (log-log) band."""
    case = CASES[name]
    km = kaplan_meier(case["time"], case["event"])
    kmf = KaplanMeierFitter().fit(case["time"], case["event"])
    theirs = kmf.survival_function_["KM_estimate"]
    assert_allclose(km.estimate, theirs.loc[km.time].to_numpy(), rtol=0, atol=1e-12)
    band = kmf.confidence_interval_.loc[km.time]
    # lifelines fills the band where R has NA (S = 1 or S = 0); compare where both are defined
    ok = np.isfinite(km.ci_low) & (km.estimate > 0) & (km.estimate < 1)
    assert_allclose(km.ci_low[ok], band.iloc[:, 0].to_numpy()[ok], rtol=0, atol=ATOL)
    assert_allclose(km.ci_high[ok], band.iloc[:, 1].to_numpy()[ok], rtol=0, atol=ATOL)


# Klein JP, Moeschberger ML. Survival Analysis, 2nd ed., Springer 2003, Table 4.1A (6-MP group of the
# Freireich et al. 1963 trial): product-limit estimate and Greenwood standard error, printed to 3 decimals.
TEXTBOOK_6MP = {
    "time": [6, 7, 10, 13, 16, 22, 23],
    "estimate": [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448],
    "std_err": [0.076, 0.087, 0.096, 0.107, 0.114, 0.128, 0.135],
}


def test_gehan_6mp_matches_textbook_table():
    case = CASES["gehan_6mp"]
    km = kaplan_meier(case["time"], case["event"])
    rows = np.searchsorted(km.time, TEXTBOOK_6MP["time"])
    assert_array_equal(km.time[rows], TEXTBOOK_6MP["time"])
    assert_allclose(km.estimate[rows], TEXTBOOK_6MP["estimate"], rtol=0, atol=5e-4)
    assert_allclose(km.std_err[rows], TEXTBOOK_6MP["std_err"], rtol=0, atol=5e-4)
    assert km.median().estimate == 23.0


def test_hundred_thousand_patients():
    """Registry size works (its speed is measured in benchmarks/, never asserted here)."""
    rng = np.random.default_rng(1)
    t = np.round(rng.exponential(400, 100_000))
    e = rng.random(100_000) < 0.7
    km = kaplan_meier(t, e)
    km.median()
    km.quantile(0.25)
    km.at_risk_at([0, 365, 730])
    assert km.n == 100_000


def test_empty_input_gives_no_estimates():
    km = kaplan_meier([], [])
    assert km.n == 0 and km.n_events == 0
    assert km.at(10).estimate is None
    assert km.median().estimate is None


@pytest.mark.parametrize(
    ("time", "event"),
    [([1, -2], [1, 0]), ([1, np.nan], [1, 0]), ([1, 2], [1, 2]), ([1, 2], [1])],
)
def test_invalid_input_is_rejected(time, event):
    with pytest.raises(ValueError):
        kaplan_meier(time, event)


def test_invalid_options_are_rejected():
    with pytest.raises(ValueError):
        kaplan_meier([1], [1], ci_method="logit")
    with pytest.raises(ValueError):
        kaplan_meier([1], [1], ci_level=1.5)


def test_docstring_examples_run():
    import cartreport.stats.km as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_the_fit_names_its_method_for_results_json():
    fit = kaplan_meier([1, 2, 3], [1, 0, 1], ci_method="plain")
    assert fit.method == "Kaplan–Meier; Greenwood variance; plain confidence intervals"
