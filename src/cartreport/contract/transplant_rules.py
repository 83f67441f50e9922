"""Rules between the optional safety and transplant-outcome columns and the rest of the table.

Same style as :mod:`cartreport.contract.between_columns`: each rule is a boolean mask over whole columns (dates as day
numbers, ``NaN`` where blank or malformed, so a missing date never breaks an order rule) and a
:class:`~cartreport.contract.problems.Problem` is built only for failing rows. Grades out of range and severities that are
not ``mild``/``moderate``/``severe`` are per-column rules (:mod:`cartreport.contract.column_rules`); a cohort without these
columns gets no problem from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartreport.contract.between_columns import day_iso, day_numbers
from cartreport.contract.problems import Problem, cell_problems, described
from cartreport.contract.schema import DATE_LABELS, OUTCOME_DATES

__all__ = ["transplant_problems"]


def _days(table: pd.DataFrame, name: str, days: dict[str, np.ndarray] | None = None) -> np.ndarray:
    if days is not None and name in days:
        return days[name]
    return day_numbers(table[name]) if name in table.columns else np.full(len(table), np.nan)


def _given(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table.columns:
        return np.zeros(len(table), dtype=bool)
    return np.not_equal(table[name].to_numpy(dtype=object), None)


def transplant_problems(table: pd.DataFrame, days: dict[str, np.ndarray] | None = None) -> list[Problem]:
    """Outcome dates without a second HSCT, before it, or after death / the last contact; acute GVHD grade
    III–IV without grade II–IV; chronic GVHD severity or treatment without onset, onset without severity. (Two
    outcome dates out of order are rules of :data:`cartreport.contract.schema.DATE_ORDER_RULES`.)

    Examples
    --------
    >>> t = pd.DataFrame({"patient_id": ["P1"], "second_hsct_date": ["2022-03-01"],
    ...     "death_date": [None], "last_contact_date": ["2022-09-01"],
    ...     "neutrophil_engraftment_date": ["2022-02-20"]}, index=pd.RangeIndex(2, 3, name="row"))
    >>> [p.format() for p in transplant_problems(t)]  # doctest: +NORMALIZE_WHITESPACE
    ['row 2 (patient P1), column neutrophil_engraftment_date: neutrophil engraftment (2022-02-20) is before
      the second HSCT (2022-03-01); check both dates (neutrophil_engraftment_date and second_hsct_date)']
    """
    present = [name for name in OUTCOME_DATES if name in table.columns]
    problems: list[Problem] = []
    hsct = _days(table, "second_hsct_date", days)
    death = _days(table, "death_date", days)
    contact = _days(table, "last_contact_date", days)
    no_hsct = ~_given(table, "second_hsct_date")
    for name in present:
        day, label = _days(table, name, days), DATE_LABELS[name]
        problems += cell_problems(
            table,
            _given(table, name) & no_hsct,
            name,
            "outcome-without-hsct",
            f"{label} is dated but second_hsct_date is blank (outcomes are counted from the second HSCT)",
            "leave the cell blank, or give second_hsct_date",
        )
        before = day < hsct
        problems += cell_problems(
            table,
            before,
            name,
            "outcome-before-hsct",
            [
                f"{label} ({day_iso(a)}) is before the second HSCT ({day_iso(b)})"
                for a, b in zip(day[described(before)], hsct[described(before)], strict=True)
            ],
            f"check both dates ({name} and second_hsct_date)",
        )
        # after death; for a patient alive, after the last contact
        end = np.where(np.isnan(death), contact, death)
        after = day > end
        at = described(after)
        problems += cell_problems(
            table,
            after,
            name,
            "outcome-after-follow-up",
            [
                f"{label} ({day_iso(a)}) is after "
                f"{'death' if not np.isnan(d) else 'the last contact'} ({day_iso(e)})"
                for a, d, e in zip(day[at], death[at], end[at], strict=True)
            ],
            f"check {name}, death_date and last_contact_date",
        )

    if "agvhd_3_4_date" in table.columns:
        problems += cell_problems(
            table,
            _given(table, "agvhd_3_4_date") & ~_given(table, "agvhd_2_4_date"),
            "agvhd_3_4_date",
            "agvhd-3-4-without-2-4",
            "acute GVHD grade III–IV is dated but agvhd_2_4_date is blank (grade III–IV is also grade II–IV)",
            "give agvhd_2_4_date: the first date acute GVHD reached grade II or higher",
        )

    onset = _given(table, "cgvhd_date")
    if "cgvhd_severity" in table.columns:
        severity = _given(table, "cgvhd_severity")
        problems += cell_problems(
            table,
            severity & ~onset,
            "cgvhd_severity",
            "cgvhd-severity-without-onset",
            "a chronic GVHD severity is given but cgvhd_date is blank",
            "give cgvhd_date, or leave cgvhd_severity blank",
        )
        problems += cell_problems(
            table,
            onset & ~severity,
            "cgvhd_severity",
            "cgvhd-severity-missing",
            "the cell is blank but cgvhd_date gives an onset of chronic GVHD",
            'write the NIH global severity at its worst: "mild", "moderate" or "severe"',
        )
    if "cgvhd_systemic_date" in table.columns:
        problems += cell_problems(
            table,
            _given(table, "cgvhd_systemic_date") & ~onset,
            "cgvhd_systemic_date",
            "cgvhd-treatment-without-onset",
            "systemic treatment of chronic GVHD is dated but cgvhd_date is blank",
            "give cgvhd_date, or leave cgvhd_systemic_date blank",
        )
    return problems
