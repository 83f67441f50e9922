"""Raw cells to stripped text (cartreport.cells): the vectorised column conversion must equal the cell-by-cell
definition, counts for the notes included."""

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cartreport.cells import CellText, columns_of

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
