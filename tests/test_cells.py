"""Raw cells to stripped text (cartreport.read.cells): the vectorised column conversion must equal the cell-by-cell
definition, counts for the notes included."""

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cartreport.read.cells import CellText, columns_of, stripped_text

VALUES = st.one_of(
    st.none(),
    st.text(alphabet=" \t\u00a0\u3000ab1-", max_size=6),
    st.sampled_from([float("nan"), pd.NaT, pd.NA, 45.0, 45.5, 3, True, dt.date(2021, 3, 4), b" x ", [1, 2]]),
)


def _counts(cells: CellText) -> tuple[int, int, int, int]:
    return cells.trimmed, cells.dates, cells.whole_floats, cells.booleans


@settings(max_examples=300, deadline=None)
@given(values=st.lists(VALUES, max_size=12))
def test_column_equals_cell_by_cell(values):
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = value
    by_column, by_cell = CellText(), CellText()
    got = by_column.column(array)
    assert got.dtype == object
    assert got.tolist() == [by_cell.text(v) for v in values]
    assert _counts(by_column) == _counts(by_cell)


def test_text_column_is_stripped_and_counted():
    cells = CellText()
    got = cells.column(np.array([" P01 ", "P02", "   ", None, "\tT-ALL"], dtype=object))
    assert got.tolist() == ["P01", "P02", None, None, "T-ALL"]
    assert cells.trimmed == 3


def test_columns_of_ragged_records():
    columns = columns_of([["a", "b"], [], ["c"]])
    assert [c.tolist() for c in columns] == [["a", None, "c"], ["b", None, None]]


def _blank_marker(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.just(float("nan")), st.just(pd.NA), VALUES), max_size=12))
def test_stripped_text_is_the_one_text_rule(values):
    """Text columns: str.strip, blank or missing → None; a column holding anything else is left to the caller."""
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = value
    got = stripped_text(array)
    if not all(isinstance(v, str) or _blank_marker(v) for v in values):
        assert got is None
        return
    texts, trimmed = got
    assert texts.tolist() == [None if _blank_marker(v) or not v.strip() else v.strip() for v in values]
    assert trimmed == sum(1 for v in values if isinstance(v, str) and v.strip() != v)


def test_equal_cells_share_one_string():
    texts, _ = stripped_text(np.array(["2021-03-04", " x ", "".join(["2021-03-", "04"])], dtype=object))
    assert texts[0] is texts[2]
