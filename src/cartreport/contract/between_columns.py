"""Rules between columns: the EMD response against EMD at baseline, the order of dates, the data cut-off.

Each rule is a boolean mask over whole columns (dates as day numbers, ``NaN`` where blank or not a valid
``YYYY-MM-DD`` date, so that a comparison with a missing date never fails); a :class:`~cartreport.contract.problems.Problem`
is built only for the rows that fail, which a valid file has none of.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from cartreport.contract import schema
from cartreport.contract.column_rules import distinct_values, is_iso_date
from cartreport.contract.problems import Problem, cell_problems, described, quoted

__all__ = ["date_days", "date_order_problems", "day_iso", "day_numbers", "emd_problems"]


def emd_problems(table: pd.DataFrame) -> list[Problem]:
    """An EMD response given without EMD at baseline, or missing with it (yes/no already normalised)."""
    if not {"emd_at_baseline", "emd_response"} <= set(table.columns):
        return []
    emd = table["emd_at_baseline"].to_numpy(dtype=object)
    response = table["emd_response"].to_numpy(dtype=object)
    given = np.not_equal(response, None)
    without = (emd == "no") & given
    messages = [
        f"value {quoted(r)} is given but emd_at_baseline is no (no extramedullary disease)"
        for r in response[described(without)]
    ]
    allowed = ", ".join(quoted(v) for v in schema.EMD_RESPONSES)
    return cell_problems(
        table,
        without,
        "emd_response",
        "emd-response-without-emd",
        messages,
        "leave emd_response blank, or correct emd_at_baseline",
    ) + cell_problems(
        table,
        (emd == "yes") & ~given,
        "emd_response",
        "emd-response-missing",
        "the cell is blank but emd_at_baseline is yes (extramedullary disease)",
        f"write the best extramedullary response ({allowed})",
    )


def day_numbers(cells: pd.Series) -> np.ndarray:
    """Each cell's date as its proleptic Gregorian ordinal (a float), ``NaN`` when blank or not a valid
    ``YYYY-MM-DD`` date. Each distinct value is parsed once."""
    codes, distinct = distinct_values(cells)
    days = np.array(
        [dt.date.fromisoformat(v).toordinal() if is_iso_date(v) else np.nan for v in distinct] + [np.nan],
        dtype=float,
    )
    return days[codes]  # code -1 (blank) takes the last entry: NaN


def date_days(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """:func:`day_numbers` of every date column of the contract in ``table``."""
    return {name: day_numbers(table[name]) for name in schema.DATE_COLUMNS if name in table.columns}


def day_iso(day: float) -> str:
    """A day number of :func:`day_numbers` as ``YYYY-MM-DD``."""
    return dt.date.fromordinal(int(day)).isoformat()


def date_order_problems(
    table: pd.DataFrame,
    data_cutoff: dt.date | None,
    today: dt.date | None = None,
    days: dict[str, np.ndarray] | None = None,
) -> list[Problem]:
    """Dates out of order (:data:`cartreport.contract.schema.DATE_ORDER_RULES`), a last contact that is not the death
    date or precedes an event (:data:`cartreport.contract.schema.CONTACT_EVENTS`), dates after ``today`` (the day of
    the run, by default :meth:`datetime.date.today`) and, when ``data_cutoff`` is given, dates after it. A
    blank or malformed date breaks no order rule. ``days``: :func:`date_days` of ``table``, if already known."""
    dates = date_days(table) if days is None else days
    problems: list[Problem] = []

    for rule, name, other, relation, fix in schema.DATE_ORDER_RULES:
        if name not in dates or other not in dates:
            continue
        this, that = dates[name], dates[other]
        failing = (this < that) if relation == "before" else (this > that)
        label, other_label = schema.DATE_LABELS[name], schema.DATE_LABELS[other]
        at = described(failing)
        messages = [
            f"{label} ({day_iso(a)}) is {relation} {other_label} ({day_iso(b)})"
            for a, b in zip(this[at], that[at], strict=True)
        ]
        problems += cell_problems(
            table, failing, name, rule, messages, fix or f"check both dates ({name} and {other})"
        )

    if "last_contact_date" in dates:
        contact = dates["last_contact_date"]
        death = dates.get("death_date", np.full(len(table), np.nan))
        died = ~np.isnan(death)
        not_death = died & ~np.isnan(contact) & (contact != death)
        at = described(not_death)
        problems += cell_problems(
            table,
            not_death,
            "last_contact_date",
            "contact-not-death",
            [
                f"the last contact ({day_iso(c)}) is not the death date ({day_iso(d)}); "
                "for a patient who died, last contact is the date of death"
                for c, d in zip(contact[at], death[at], strict=True)
            ],
            [f"write {day_iso(d)}, or correct death_date" for d in death[at]],
        )
        events = [(dates[n], n) for n in schema.CONTACT_EVENTS if n in dates]
        if events:
            latest = np.fmax.reduce([days for days, _ in events])  # NaN only where every event is blank
            before = ~died & (contact < latest)
            messages = []
            for position in described(before):
                # the latest event, and on a tie the name that sorts last, as max() over (date, name) pairs
                day, name = max((days[position], n) for days, n in events if not np.isnan(days[position]))
                event = f"{schema.DATE_LABELS[name]} ({day_iso(day)})"
                messages.append(f"the last contact ({day_iso(contact[position])}) is before {event}")
            problems += cell_problems(
                table,
                before,
                "last_contact_date",
                "order-contact-before-event",
                messages,
                "the last contact must be on or after every recorded event",
            )

    today = today or dt.date.today()
    for name, days in dates.items():
        future = days > today.toordinal()
        problems += cell_problems(
            table,
            future,
            name,
            "future-date",
            [
                f"date {day_iso(d)} is in the future (today is {today.isoformat()})"
                for d in days[described(future)]
            ],
            "correct the date; a patient table can only hold dates that have happened",
        )

    if data_cutoff is not None and dates:
        cutoff = data_cutoff.date() if isinstance(data_cutoff, dt.datetime) else data_cutoff
        for name, days in dates.items():
            after = days > cutoff.toordinal()
            problems += cell_problems(
                table,
                after,
                name,
                "after-cutoff",
                [
                    f"date {day_iso(d)} is after the data cut-off ({cutoff.isoformat()})"
                    for d in days[described(after)]
                ],
                "correct the date, or choose a later data cut-off",
            )
    return problems
