"""One rule for every number the report prints — tables, prose and figure labels all call these functions.

The rule
--------
* **Rounding** is half-up ("0.5 rounds away from zero", what a reader expects and what a calculator does), applied
  to the *shortest decimal that round-trips the float* (``Decimal(repr(x))``). Binary floats are not exact:
  ``0.5145`` is stored as 0.51449999…, so ``round(51.45, 1)`` gives 51.4 while a reader expects 51.5; half-up on
  the decimal text gives 51.5 on every machine. Python's ``round`` (half-even on the binary value) is never used.
* **Percentages** take fractions (0–1) and print one decimal: ``0.585 → "58.5%"``. The exact values 0 and 1
  print without decimals (``"0%"``, ``"100%"``) because they are counts, not estimates (16/16 is 100%, not 100.0%).
  Anything else keeps its decimal, even when it rounds to ``"100.0%"`` or ``"0.0%"``.
* **Confidence intervals** in text: ``"58.5% (95% CI, 30.1–78.4)"`` — the level, "CI", a comma, the bounds joined
  by an en dash (–); the unit is the estimate's and is not repeated (journal style). A missing bound (``None``)
  gives ``"95% CI, not estimable"``. Table columns headed "95% CI" print the bounds with the unit
  (:func:`interval`: ``"30.1–78.4%"``).
* **Missing values**: ``None`` (or NaN) prints ``"not estimable"``; a median ``None`` prints ``"not reached"``.
  A zero-width interval (``100–100%``, Greenwood variance 0) is undefined and prints ``"not estimable"`` too.
* **P-values**: three decimals (``"p = 0.032"``), ``"p < 0.001"`` below 0.001, ``"p > 0.999"`` when the value
  rounds to 1.000, and ``"p < 0.05"`` for a value below 0.05 that would otherwise round up to 0.050 — rounding
  never moves a p-value across 0.05.
* **Times**: months with one decimal (``"14.2 months"``); days and ages as plain numbers
  (:func:`number`): one decimal at most, trailing ``.0`` dropped (``22``, ``22.5``).
* **Medians with ranges**: ``"22 (9–52)"``; **counts with percentages**: ``"11 (68.8%)"``.
* **Thousands** are grouped with commas in every count and number (``"69,308 patients"``, ``"1,204 days"``).

Examples
--------
>>> percent(0.5145)
'51.5%'
>>> estimate_ci(0.585, 0.301, 0.784)
'58.5% (95% CI, 30.1–78.4)'
>>> rate(16, 16, 1.0, 0.794, 1.0)
'16/16 (100%; 95% CI, 79.4–100)'
>>> p_value(0.0321), p_value(0.0004)
('p = 0.032', 'p < 0.001')
>>> months(14.25), months(None)
('14.3 months', 'not reached')
>>> median_range(22, 9, 52)
'22 (9–52)'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "DASH",
    "all_of",
    "among",
    "NOT_ESTIMABLE",
    "NOT_REACHED",
    "ci",
    "count",
    "counted",
    "date",
    "estimate_ci",
    "level_label",
    "interval",
    "listed",
    "median_range",
    "months",
    "months_ci",
    "months_interval",
    "n_percent",
    "number",
    "p_value",
    "percent",
    "percent_number",
    "percent_rounded",
    "percents_match",
    "rate",
    "round_half_up",
    "the_one",
]

#: the range separator (en dash)
DASH = "–"
NOT_ESTIMABLE = "not estimable"
NOT_REACHED = "not reached"
_FIVE_PERCENT = Decimal("0.05")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def round_half_up(x: float, digits: int) -> Decimal:
    """``x`` rounded half-up to ``digits`` decimals, from its shortest decimal representation.

    Examples
    --------
    >>> str(round_half_up(51.45, 1)), str(round_half_up(2.5, 0))
    ('51.5', '3')
    """
    return _quantize(_decimal(x), digits)


def _decimal(x: float) -> Decimal:
    """The shortest decimal that round-trips ``x`` (``0.5145`` → ``Decimal("0.5145")``)."""
    return Decimal(repr(float(x)))


def _quantize(value: Decimal, digits: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def _text(value: Decimal) -> str:
    """A rounded Decimal as text, without a negative zero, thousands grouped with commas (``12,345.5``)."""
    return f"{abs(value) if value == 0 else value:,f}"


def number(x: float | None, digits: int = 1, missing: str = NOT_ESTIMABLE) -> str:
    """A plain number: at most ``digits`` decimals, trailing zeros dropped (``22.0 → "22"``, ``22.5 → "22.5"``)."""
    if _missing(x):
        return missing
    text = _text(round_half_up(x, digits))
    return text.rstrip("0").rstrip(".") if "." in text else text


def count(n: int | None) -> str:
    """A count as an integer, thousands grouped (``69308 → "69,308"``; ``None`` → "not estimable")."""
    return NOT_ESTIMABLE if n is None else f"{int(n):,}"


def counted(n: int | None, noun: str, plural: str | None = None, *, zero: str = "") -> str:
    """A count with its noun in agreement: ``(1, "patient") → "1 patient"``, ``(16, "patient") → "16 patients"``,
    ``(0, "death") → "0 deaths"``; ``plural`` for an irregular noun; ``zero`` the word the prose writes for none
    (and for no count at all).

    >>> counted(0, "death", zero="no"), counted(2, "event", zero="no")
    ('no deaths', '2 events')
    """
    word = noun if n == 1 else (plural or f"{noun}s")
    return f"{zero} {word}" if zero and not n else f"{count(n)} {word}"


def the_one(noun: str) -> str:
    """A group of one, named as a writer names it: ``"patient" → "the one patient"`` (never "the 1 patient")."""
    return f"the one {noun}"


def all_of(n: int, noun: str, plural: str | None = None) -> str:
    """Every one of ``n``: ``"the one patient"``, ``"both patients"``, ``"all 16 patients"``.

    >>> all_of(1, "patient"), all_of(2, "patient"), all_of(16, "patient")
    ('the one patient', 'both patients', 'all 16 patients')
    """
    if n == 1:
        return the_one(noun)
    return f"both {plural or noun + 's'}" if n == 2 else f"all {counted(n, noun, plural)}"


def among(n: int, noun: str, plural: str | None = None, *, the: bool = False) -> str:
    """Whom a count is taken among, to open a clause: ``(16, "patient") → "among 16 patients"``, with ``the`` →
    ``"among the 8 patients"``; one is no group to be among: ``"in the one patient"``.

    >>> among(16, "patient"), among(8, "patient", the=True), among(1, "patient", the=True)
    ('among 16 patients', 'among the 8 patients', 'in the one patient')
    """
    if n == 1:
        return f"in {the_one(noun)}"
    return f"among {'the ' if the else ''}{counted(n, noun, plural)}"


def listed(items: Iterable[str], last: str = "and") -> str:
    """Items in a sentence: ``["a"] → "a"``, ``["a", "b"] → "a and b"``, ``["a", "b", "c"] → "a, b and c"`` (no
    serial comma, the report's style); ``last="or"`` for alternatives.

    >>> listed(["36", "60"]), listed(["T-ALL", "T-LBL", "other"], "or"), listed([])
    ('36 and 60', 'T-ALL, T-LBL or other', '')
    """
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def date(value: object) -> str:
    """A calendar date as the report writes it: ``"2022-12-31" → "31 Dec 2022"`` (ISO text, date or Timestamp)."""
    import datetime as dt

    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"  # not %b: that depends on the locale


def percent_number(x: float, digits: int = 1) -> str:
    """The number part of :func:`percent` (no % sign): ``0.585 → "58.5"``, exact ``1 → "100"``, ``0 → "0"``."""
    if float(x) in (0.0, 1.0):
        return str(int(float(x) * 100))
    return _text(percent_rounded(x, digits))


def percent_rounded(x: float, digits: int = 1) -> Decimal:
    """The percentage that :func:`percent` prints, as a Decimal (for comparing figures at a printed precision)."""
    return _quantize(_decimal(x) * 100, digits)


def percents_match(x: float, y: float, digits: int = 1) -> bool:
    """Whether two fractions print as the same percentage (half-up to ``digits`` decimals): the one rule
    by which a reproduced figure matches a published one.

    >>> percents_match(0.5145, 0.515), percents_match(0.5144, 0.515)
    (True, False)
    """
    return percent_rounded(x, digits) == percent_rounded(y, digits)


def percent(x: float | None, digits: int = 1, missing: str = NOT_ESTIMABLE) -> str:
    """A fraction (0–1) as a percentage: ``0.585 → "58.5%"``; exact 0 and 1 as ``"0%"`` and ``"100%"``."""
    return missing if _missing(x) else f"{percent_number(x, digits)}%"


def level_label(ci_level: float) -> str:
    """The confidence level as a percentage without needless decimals: ``0.95 → "95%"``, ``0.975 → "97.5%"``."""
    text = _text(_quantize(_decimal(ci_level) * 100, 2))
    return f"{text.rstrip('0').rstrip('.')}%"


def interval(low: float | None, high: float | None, digits: int = 1) -> str:
    """The bounds of an interval of fractions, for a table column headed "95% CI": ``"30.1–78.4%"``.

    Missing bounds and a zero-width interval (``low == high``, e.g. 1–1 where the variance is 0) both print
    ``"not estimable"``: R's ``summary.survfit`` gives 1–1 for a log-log band before the first time but ``NA`` at
    a censoring with S = 1; the interval is undefined in both (docs/statistics.md)."""
    if _missing(low) or _missing(high) or low == high:
        return NOT_ESTIMABLE
    return f"{percent_number(low, digits)}{DASH}{percent_number(high, digits)}%"


def ci(low: float | None, high: float | None, level: float = 0.95, digits: int = 1) -> str:
    """A confidence interval of fractions in text: ``"95% CI, 30.1–78.4"`` (the unit is the estimate's); a missing
    bound or a zero-width interval → ``"95% CI, not estimable"``."""
    bounds = interval(low, high, digits)
    return f"{level_label(level)} CI, {bounds.removesuffix('%')}"


def estimate_ci(
    est: float | None, low: float | None, high: float | None, level: float = 0.95, digits: int = 1
) -> str:
    """An estimate with its interval: ``"58.5% (95% CI, 30.1–78.4)"``; no estimate → ``"not estimable"``."""
    if _missing(est):
        return NOT_ESTIMABLE
    return f"{percent(est, digits)} ({ci(low, high, level, digits)})"


def rate(
    responders: int,
    evaluable: int,
    rate: float | None,
    low: float | None,
    high: float | None,
    level: float = 0.95,
    digits: int = 1,
) -> str:
    """A response rate: ``"16/16 (100%; 95% CI, 79.4–100)"``; no evaluable patient → ``"0/0 (not estimable)"``."""
    if not evaluable or _missing(rate):
        return f"{count(responders)}/{count(evaluable)} ({NOT_ESTIMABLE})"
    return f"{count(responders)}/{count(evaluable)} ({percent(rate, digits)}; {ci(low, high, level, digits)})"


def n_percent(n: int, fraction: float | None, digits: int = 1) -> str:
    """A count with its percentage: ``"11 (68.8%)"``."""
    return f"{count(n)} ({percent(fraction, digits)})"


def p_value(p: float | None) -> str:
    """A p-value: ``"p = 0.032"``, ``"p < 0.001"``, ``"p > 0.999"``; never rounded across 0.05."""
    if _missing(p):
        return f"p {NOT_ESTIMABLE}"
    if p < 0.001:
        return "p < 0.001"
    rounded = round_half_up(p, 3)
    if rounded >= 1:
        return "p > 0.999"
    if p < 0.05 and rounded >= _FIVE_PERCENT:
        return "p < 0.05"
    return f"p = {rounded}"


def months(m: float | None, digits: int = 1, missing: str = NOT_REACHED, unit: bool = True) -> str:
    """A time in months: ``"14.2 months"`` (``"14.2"`` without ``unit``); ``None`` → ``"not reached"`` or ``missing``."""
    if _missing(m):
        return missing
    text = _text(round_half_up(m, digits))
    return f"{text} months" if unit else text


def months_interval(low: float | None, high: float | None, digits: int = 1) -> str:
    """The bounds of a median time's interval, in months, for a table column: ``"8.1–20.3"``, ``"8.1–not reached"``."""
    if _missing(low):
        return NOT_ESTIMABLE
    upper = NOT_REACHED if _missing(high) else _text(round_half_up(high, digits))
    return f"{_text(round_half_up(low, digits))}{DASH}{upper}"


def months_ci(low: float | None, high: float | None, level: float = 0.95, digits: int = 1) -> str:
    """The interval of a median time, after the median: ``"95% CI, 8.1–20.3"`` (the unit is the median's).

    An upper bound that is ``None`` was not reached (``"95% CI, 8.1 months to not reached"``); a missing lower
    bound makes the interval not estimable.
    """
    label = f"{level_label(level)} CI,"
    if _missing(low):
        return f"{label} {NOT_ESTIMABLE}"
    if _missing(high):
        return f"{label} {months(low, digits)} to {NOT_REACHED}"
    return f"{label} {_text(round_half_up(low, digits))}{DASH}{_text(round_half_up(high, digits))}"


def median_range(
    median: float | None, low: float | None, high: float | None, unit: str = "", digits: int = 1
) -> str:
    """A median with its range: ``"22 (9–52)"``, with ``unit`` appended when given (``"41 (30–75) days"``)."""
    if _missing(median):
        return NOT_ESTIMABLE
    text = f"{number(median, digits)} ({number(low, digits)}{DASH}{number(high, digits)})"
    return f"{text} {unit}" if unit else text
