"""Rules between columns (cartreport.contract.between_columns): the column-wise masks must flag exactly the rows a
row-by-row reading of the rules flags, on tables of any size."""

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cartreport.contract.between_columns import date_order_problems, day_numbers, emd_problems
from cartreport.contract.problems import MAX_PER_RULE
from cartreport.contract.schema import DATE_ORDER_RULES

DATES = ["cart_infusion_date", "second_hsct_date", "relapse_date", "death_date", "last_contact_date",
         "first_hsct_date", "relapse_after_first_hsct_date"]  # fmt: skip
DAY = st.one_of(
    st.none(),
    st.sampled_from(["2021-02-30", "bad"]),
    st.dates(dt.date(2020, 1, 1), dt.date(2020, 1, 8)).map(str),
)


def _expected(rows: list[dict], cutoff: dt.date | None) -> set[tuple[int, str, str]]:
    """(row, column, rule) of every problem, found row by row from the rules as stated in RULES."""

    def day(row, name):
        value = row.get(name)
        try:
            return dt.date.fromisoformat(value) if value and len(value) == 10 else None
        except ValueError:
            return None

    found = set()
    for number, row in enumerate(rows, start=2):
        for rule, name, other, relation, _ in DATE_ORDER_RULES:
            a, b = day(row, name), day(row, other)
            if a and b and (a < b if relation == "before" else a > b):
                found.add((number, name, rule))
        contact, death = day(row, "last_contact_date"), day(row, "death_date")
        events = [
            d for d in (day(row, n) for n in ("cart_infusion_date", "second_hsct_date", "relapse_date")) if d
        ]
        if contact and death and contact != death:
            found.add((number, "last_contact_date", "contact-not-death"))
        if contact and not death and events and contact < max(events):
            found.add((number, "last_contact_date", "order-contact-before-event"))
        for name in DATES:
            if cutoff and day(row, name) and day(row, name) > cutoff:
                found.add((number, name, "after-cutoff"))
    return found


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.fixed_dictionaries({name: DAY for name in DATES}), min_size=1, max_size=8),
    cutoff=st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2020, 1, 8))),
)
def test_masks_flag_the_rows_a_row_by_row_reading_flags(rows, cutoff):
    table = pd.DataFrame(rows, index=pd.RangeIndex(2, len(rows) + 2, name="row"), dtype=object)
    table.insert(0, "patient_id", [f"P{i}" for i in range(len(rows))])
    problems = date_order_problems(table, cutoff)
    assert {(p.row, p.column, p.rule) for p in problems} == _expected(rows, cutoff)
    assert len(problems) == len({(p.row, p.column, p.rule) for p in problems})
    for p in problems:
        assert p.patient_id == table.at[p.row, "patient_id"]
        assert p.value == table.at[p.row, p.column]


def test_latest_event_on_a_tie_is_named_as_before():
    same = "2021-06-01"
    table = pd.DataFrame(
        {"cart_infusion_date": ["2021-03-04"], "relapse_date": [same], "second_hsct_date": [same],
         "last_contact_date": ["2021-05-01"], "death_date": [None]},
        index=pd.Index([2], name="row"),
    )  # fmt: skip
    [problem] = date_order_problems(table, None)
    assert problem.message == "the last contact (2021-05-01) is before the second HSCT (2021-06-01)"
    assert problem.patient_id is None  # no patient_id column


def test_day_numbers_parse_each_distinct_value_once_and_blank_is_nan():
    days = day_numbers(pd.Series(["2021-03-04", None, "2021-03-04", "2021-3-4", "2021-02-29"], dtype=object))
    assert days[0] == days[2] == dt.date(2021, 3, 4).toordinal()
    assert np.isnan(days[1:][[0, 2, 3]]).all()


def test_emd_rules_on_many_rows():
    n = 5000
    emd = np.array(["no", "yes", "no", "yes"] * (n // 4), dtype=object)
    response = np.array([None, None, "CR", "PR"] * (n // 4), dtype=object)
    table = pd.DataFrame(
        {"emd_at_baseline": emd, "emd_response": response}, index=pd.RangeIndex(2, n + 2, name="row")
    )
    problems = emd_problems(table)
    for rule, first_row in (("emd-response-missing", 3), ("emd-response-without-emd", 4)):
        of_rule = [p for p in problems if p.rule == rule]
        # the first MAX_PER_RULE rows described, the rest counted: memory bounded whatever the number of rows
        assert [p.row for p in of_rule if not p.folded] == list(range(first_row, n + 2, 4))[:MAX_PER_RULE]
        assert sum(p.count for p in of_rule) == n // 4
    assert {p.value for p in problems if not p.folded} == {None, "CR"}


def test_a_rule_failing_in_every_row_words_only_the_rows_it_describes(monkeypatch):
    """A rule's problem describes its first MAX_PER_RULE failing rows and counts the rest, but the messages were
    worded for every failing row first (a million rows failing one rule: a million strings, then all but 20 thrown
    away). Each rule now words only the rows it describes."""
    from cartreport.contract import between_columns, column_rules, problems, transplant_rules

    n = 500
    table = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "diagnosis": ["T-\x01ALL"] * n,  # unshowable-character
            "cart_infusion_date": ["2023-01-10"] * n,
            "second_hsct_date": ["2022-12-01"] * n,  # before the CAR-T
            "relapse_date": ["2022-11-01"] * n,  # before the CAR-T, after death
            "death_date": ["2022-10-01"] * (n // 2) + [None] * (n - n // 2),
            "last_contact_date": ["2022-09-01"] * (n // 2) + ["2022-10-15"] * (n - n // 2),
            "emd_at_baseline": ["no"] * n,
            "emd_response": ["CR"] * n,  # given without EMD
            "neutrophil_engraftment_date": ["2022-11-20"] * n,  # before the second HSCT
        },
        index=pd.RangeIndex(2, n + 2, name="row"),
    )
    worded: dict[str, int] = {}
    real = problems.cell_problems

    def spy(table, failing, column, rule, message, suggestion=None, *args, **kwargs):
        for text in (message, suggestion):
            if isinstance(text, list):
                worded[rule] = max(worded.get(rule, 0), len(text))
        return real(table, failing, column, rule, message, suggestion, *args, **kwargs)

    for module in (between_columns, column_rules, transplant_rules):
        monkeypatch.setattr(module, "cell_problems", spy)
    found = (
        between_columns.date_order_problems(table, dt.date(2022, 1, 1), today=dt.date(2022, 10, 20))
        + between_columns.emd_problems(table)
        + transplant_rules.transplant_problems(table)
        + column_rules.unshowable_problems(table)
    )
    expected = {
        "order-hsct-before-cart",
        "order-relapse-before-cart",
        "order-death-before-cart",
        "order-relapse-after-death",
        "contact-not-death",
        "order-contact-before-event",
        "future-date",
        "after-cutoff",
        "emd-response-without-emd",
        "outcome-before-hsct",
        "unshowable-character",
    }
    assert expected <= set(worded), set(worded)
    assert {rule: count for rule, count in worded.items() if count > MAX_PER_RULE} == {}
    for rule in ("order-hsct-before-cart", "unshowable-character", "emd-response-without-emd"):
        described = [p for p in found if p.rule == rule and not p.folded]
        assert len(described) == MAX_PER_RULE and sum(p.count for p in found if p.rule == rule) == n
