"""The one rule for printed numbers: exact strings for the documented cases, properties for the rest."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartreport import formatting as fmt

fractions = st.floats(min_value=0, max_value=1, allow_nan=False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.585, "58.5%"),
        (0.5849999999999999, "58.5%"),  # 14/15 · 13/14 · 9/10 · 7/8 · 6/7 in floating point
        (0.514, "51.4%"),
        (0.5145, "51.5%"),  # stored as 0.51449999…; half-up on the decimal text, not half-even on the binary
        (0.0125, "1.3%"),  # round(1.25, 1) would give 1.2
        (0.75, "75.0%"),
        (1.0, "100%"),
        (0.0, "0%"),
        (0.99996, "100.0%"),  # not exactly 1: keeps its decimal
        (0.00004, "0.0%"),
        (None, "not estimable"),
        (math.nan, "not estimable"),
    ],
)
def test_percent(value, expected):
    assert fmt.percent(value) == expected


def test_percent_digits_and_missing_text():
    assert fmt.percent(0.58456, digits=2) == "58.46%"
    assert fmt.percent(0.5, digits=0) == "50%"
    assert fmt.percent(None, missing="NE") == "NE"


def test_round_half_up_is_decimal_half_up():
    assert str(fmt.round_half_up(2.5, 0)) == "3"
    assert str(fmt.round_half_up(0.125, 2)) == "0.13"
    assert str(fmt.round_half_up(1.005, 2)) == "1.01"  # round(1.005, 2) == 1.0 in Python


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0.301, 0.784), "95% CI, 30.1–78.4"),
        ((0.794, 1.0), "95% CI, 79.4–100"),
        ((0.0, 0.206), "95% CI, 0–20.6"),
        ((0.301, 0.784, 0.9), "90% CI, 30.1–78.4"),
        ((0.301, 0.784, 0.975), "97.5% CI, 30.1–78.4"),
        ((None, 0.784), "95% CI, not estimable"),
        ((0.301, None), "95% CI, not estimable"),
        ((None, None), "95% CI, not estimable"),
    ],
)
def test_ci(args, expected):
    assert fmt.ci(*args) == expected


def test_estimate_ci():
    assert fmt.estimate_ci(0.585, 0.301, 0.784) == "58.5% (95% CI, 30.1–78.4)"
    assert fmt.estimate_ci(0.585, None, None) == "58.5% (95% CI, not estimable)"
    assert fmt.estimate_ci(None, None, None) == "not estimable"
    assert fmt.estimate_ci(0.5, 0.2, 0.8, level=0.9) == "50.0% (90% CI, 20.0–80.0)"


def test_rate():
    assert fmt.rate(16, 16, 1.0, 0.7941, 1.0) == "16/16 (100%; 95% CI, 79.4–100)"
    assert fmt.rate(6, 8, 0.75, 0.3491, 0.9681) == "6/8 (75.0%; 95% CI, 34.9–96.8)"
    assert fmt.rate(0, 0, None, None, None) == "0/0 (not estimable)"


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.0321, "p = 0.032"),
        (0.0325, "p = 0.033"),
        (0.5, "p = 0.500"),
        (0.001, "p = 0.001"),
        (0.00099, "p < 0.001"),
        (1e-12, "p < 0.001"),
        (0.0499, "p < 0.05"),  # never rounded up across 0.05
        (0.0494, "p = 0.049"),
        (0.05, "p = 0.050"),
        (0.9996, "p > 0.999"),
        (1.0, "p > 0.999"),
        (None, "p not estimable"),
    ],
)
def test_p_value(p, expected):
    assert fmt.p_value(p) == expected


def test_months_and_medians():
    assert fmt.months(14.2) == "14.2 months"
    assert fmt.months(14.25) == "14.3 months"
    assert fmt.months(None) == "not reached"
    assert fmt.months(None, missing="not estimable") == "not estimable"
    assert fmt.months_ci(8.12, 20.26) == "95% CI, 8.1–20.3"
    assert fmt.months_ci(8.12, None) == "95% CI, 8.1 months to not reached"
    assert fmt.months_ci(None, None) == "95% CI, not estimable"


def test_numbers_ranges_counts():
    assert fmt.median_range(22, 9, 52) == "22 (9–52)"
    assert fmt.median_range(22.5, 9.0, 52.25, "years") == "22.5 (9–52.3) years"
    assert fmt.median_range(None, None, None) == "not estimable"
    assert fmt.number(41.0) == "41"
    assert fmt.number(-0.01) == "0"
    assert fmt.n_percent(11, 11 / 16) == "11 (68.8%)"
    assert fmt.count(None) == "not estimable"
    assert fmt.level_label(0.95) == "95%"
    assert fmt.level_label(0.999) == "99.9%"


def _parse_percent(text: str) -> float:
    return float(text.rstrip("%")) / 100


@given(fractions)
def test_percent_round_trips_within_half_a_unit(x):
    text = fmt.percent(x)
    assert text.endswith("%")
    assert abs(_parse_percent(text) - x) <= 0.0005 + 1e-12


@given(fractions, st.integers(min_value=0, max_value=3))
def test_percent_round_trips_at_any_digits(x, digits):
    assert abs(_parse_percent(fmt.percent(x, digits)) - x) <= 0.5 * 10 ** (-digits - 2) + 1e-12


@given(fractions, fractions)
def test_ci_keeps_low_at_or_below_high(a, b):
    low, high = sorted((a, b))
    text = fmt.ci(low, high)
    if (
        low == high
    ):  # zero width: undefined (see test_a_zero_width_interval_is_not_estimable_like_a_missing_one)
        assert text == "95% CI, not estimable"
        return
    assert text.startswith("95% CI, ")
    shown_low, shown_high = (float(v) for v in text.removeprefix("95% CI, ").split("–"))
    assert shown_low <= shown_high


@given(fractions, fractions)
def test_rounding_is_monotone(a, b):
    low, high = sorted((a, b))
    assert _parse_percent(fmt.percent(low)) <= _parse_percent(fmt.percent(high))


@given(st.floats(min_value=0, max_value=1, allow_nan=False))
def test_p_value_form(p):
    text = fmt.p_value(p)
    assert text in ("p < 0.001", "p > 0.999", "p < 0.05") or (text.startswith("p = ") and len(text) == 9)
    if p >= 0.05:
        assert text != "p < 0.05"


def test_counted_agrees_in_number():
    assert fmt.counted(1, "patient") == "1 patient"
    assert fmt.counted(0, "patient") == "0 patients"
    assert fmt.counted(16, "death") == "16 deaths"
    assert fmt.counted(19990, "problem") == "19,990 problems"
    assert fmt.counted(2, "analysis", "analyses") == "2 analyses"


def test_dates_are_written_day_month_year():
    assert fmt.date("2022-12-31") == "31 Dec 2022"
    assert fmt.date("2023-01-05") == "5 Jan 2023"


def test_a_zero_width_interval_is_not_estimable_like_a_missing_one():
    """Issue #9: "95% CI 100–100%" in one place and "not estimable" in another for the same 100%.

    R 4.2.2, survival 3.5.3: ``summary(survfit(Surv(c(10, 20, 30, 40), c(0, 1, 1, 0)) ~ 1,
    conf.type = "log-log"), times = c(5, 10))`` gives surv 1 with lower = upper = 1 at t = 5 (before the first
    time) and NA at t = 10 (a censoring, S still 1). Both are the same undefined interval (Greenwood variance 0).
    """
    assert fmt.estimate_ci(1.0, 1.0, 1.0) == "100% (95% CI, not estimable)"
    assert fmt.estimate_ci(1.0, None, None) == "100% (95% CI, not estimable)"
    assert fmt.interval(1.0, 1.0) == fmt.interval(None, None) == "not estimable"
    assert fmt.interval(0.0, 0.0) == "not estimable"
    assert fmt.interval(0.794, 1.0) == "79.4–100%"
