"""Reading CSV text (cartreport.read.csvfile): the pyarrow path for regular files must give exactly what the
record-by-record :mod:`csv` reader gives, or decline."""

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartreport.cohorts.synthetic import synthetic_cohort
from cartreport.errors import DataFileError
from cartreport.read.cells import WHITE_SPACE, assemble
from cartreport.read.csvfile import _records_table, _regular_table, read_csv


def _assembled(raw):
    try:
        table, notes, factorized = assemble(Path("c.csv"), raw, "date value")
    except DataFileError as error:
        return str(error)
    for name, (codes, values) in factorized.items():  # the cells of the column (its first, if repeated)
        column = (
            table.loc[:, name] if table.columns.is_unique else table.iloc[:, list(table.columns).index(name)]
        )
        assert np.append(values, None)[codes].tolist() == column.tolist()
        assert len(set(values)) == len(values) and all(isinstance(v, str) for v in values)
    return list(table.columns), table.index.tolist(), table.to_numpy().tolist(), notes


def _same(fast, reference):
    """The same table, row numbers and notes (a blank line may be one blank cell or none before assembly)."""
    assert fast.header == reference.header
    assert fast.numbers.tolist() == reference.numbers.tolist()
    assert _assembled(fast) == _assembled(reference)


CELLS = st.sampled_from(
    ["", " ", "a", " b ", "P01", "2021-03-04", "é", "x y", "NA", "nan", "1.0", "\x0b", "\x85"]
)


@settings(max_examples=200, deadline=None)
@given(
    separator=st.sampled_from([",", ";", "\t"]),
    width=st.integers(1, 4),
    data=st.data(),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
    file_end=st.sampled_from(["", "\n", "\n\n", "\r\n"]),
)
def test_regular_path_agrees_with_the_csv_module(
    tmp_path_factory, separator, width, data, line_end, file_end
):
    header = [data.draw(st.sampled_from(["patient_id", "sex", "", " a "])) for _ in range(width)]
    lines = [separator.join(header)]
    for _ in range(data.draw(st.integers(0, 5))):
        cells = data.draw(st.sampled_from([width, width, width, width - 1, width + 1, 0]))
        lines.append(separator.join(data.draw(CELLS) for _ in range(cells)))
    text = line_end.join(lines) + file_end
    fast = _regular_table(text.encode(), separator)
    if fast is not None:
        path = tmp_path_factory.mktemp("csv") / "c.csv"
        _same(fast, _records_table(path, text, separator))


def test_a_registry_export_takes_the_regular_path(tmp_path):
    path = tmp_path / "c.csv"
    synthetic_cohort(300, seed=2).to_csv(path, index=False)
    text = path.read_text(encoding="utf-8")
    fast = _regular_table(text.encode(), ",")
    assert fast is not None
    assert fast.numbers.tolist() == list(range(2, 302))
    for codes, distinct in fast.columns:  # factorized: each distinct value once
        assert codes.dtype.kind == "i" and distinct.dtype == object and len(set(distinct)) == len(distinct)
    _same(fast, _records_table(path, text, ","))
    _same(read_csv(path), fast)


@pytest.mark.parametrize(
    "text",
    [
        'patient_id,cause\nP01,"infection, fungal"\n',  # quotes: only the csv module knows them
        "patient_id,sex\nP01\n",  # a short row must be noted
        "patient_id,sex\nP01,male\n\nP02,female\n",  # a blank line: the separator count tells nothing
        "\npatient_id,sex\nP01,male\n",  # blank line before the header
        "patient_id,sex\nP01,male,\n",  # an extra (blank) cell
        "patient_id,sex\nP01,male\x00\n",  # NUL
        "\ufeffpatient_id,sex\nP01,male\n",  # a second byte-order mark is kept as text
    ],
)
def test_irregular_files_are_left_to_the_csv_module(text):
    assert _regular_table(text.encode(), ",") is None


def test_a_cell_over_the_csv_field_limit_is_left_to_the_csv_module(tmp_path):
    text = "patient_id,note\nP01," + "x" * (csv.field_size_limit() + 1) + "\n"
    assert _regular_table(text.encode(), ",") is None
    assert _regular_table((text[:-2] + "\n").encode(), ",") is not None  # exactly at the limit
    wide = (
        "patient_id,note\nP01," + "é" * csv.field_size_limit() + "\n"
    )  # at the limit in characters, not bytes
    assert _regular_table(wide.encode(), ",") is not None
    assert _regular_table(wide.replace("\n", "é\n", 2).encode(), ",") is None


def test_reading_a_large_file_holds_a_bounded_multiple_of_its_size(tmp_path):
    """Memory, not time: the fast reader must not hold the text as io.StringIO (4 bytes per character) nor every
    cell as its own string at once; equal cells share one string. 20,000 synthetic rows, peak traced < 7x the file
    (about 5x now; 8x with io.StringIO)."""
    import tracemalloc

    from cartreport.cohorts.synthetic import synthetic_cohort
    from cartreport.read.table import read_table

    path = tmp_path / "cohort.csv"
    synthetic_cohort(20_000, seed=3).to_csv(path, index=False)
    tracemalloc.start()
    try:
        read = read_table(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(read.table) == 20_000
    assert peak < 7 * path.stat().st_size


@pytest.mark.parametrize(
    "text",
    [
        "patient_id,sex\nP01,male\n",
        "patient_id,sex\r\nP01,male\r\n",
        "patient_id,sex\rP01,male\r",
        "patient_id,sex\nP01,male",  # no line end at the end of the file
        "patient_id;sex\n P01 ;\n",
        "patient_id\nP01\n\nP02\n",  # one column: a blank line is a blank cell
        "patient_id,sex\n",  # the header only
    ],
)
def test_regular_files_take_the_regular_path(tmp_path, text):
    fast = _regular_table(text.encode(), ";" if ";" in text else ",")
    assert fast is not None
    _same(fast, _records_table(tmp_path / "c.csv", text, ";" if ";" in text else ","))


def test_a_column_of_identifiers_is_not_dictionary_encoded_and_reads_the_same(tmp_path):
    """A column of identifiers stays pyarrow strings, stripped by pyarrow: every kind of white space str.strip
    removes, around a cell or as the whole cell, and none inside it."""
    path = tmp_path / "c.csv"
    frame = synthetic_cohort(3_000, seed=4)
    frame.loc[5, "patient_id"] = f" {frame.loc[5, 'patient_id']} "  # trimmed like any cell
    for row, space in enumerate(WHITE_SPACE.replace("\n", "").replace("\r", ""), start=10):
        frame.loc[row, "patient_id"] = f"{space}{frame.loc[row, 'patient_id']}{space}"
        frame.loc[row + 100, "patient_id"] = f"P{space}{row}"  # inside: kept
        frame.loc[row + 200, "patient_id"] = space * 2  # only white space: blank
    frame.loc[300, "patient_id"] = ""
    frame.loc[301, "patient_id"] = "\u200bP301\ufeff"  # not white space (str.strip keeps them)
    frame.loc[302, "patient_id"] = "é P302 ü"
    frame.to_csv(path, index=False)
    text = path.read_text(encoding="utf-8")
    fast = _regular_table(text.encode(), ",")
    assert not isinstance(fast.columns[0], tuple) and len(fast.columns[0]) == 3_000
    assert len(fast.columns[1][1]) < 10  # diagnosis: its distinct values
    _same(fast, _records_table(path, text, ","))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1252", "utf-16"])
def test_every_encoding_reads_the_same_table_as_utf_8(tmp_path, encoding):
    """A UTF-8 file's own bytes are parsed (not its text encoded again); a file in another encoding is decoded and
    encoded: the same table either way."""
    from cartreport.read.table import read_table

    frame = synthetic_cohort(1_500, seed=6)
    frame.loc[::3, "cause_of_death"] = " infection à Zürich "
    frame.to_csv(tmp_path / "utf8.csv", index=False, encoding="utf-8")
    frame.to_csv(tmp_path / "other.csv", index=False, encoding=encoding)
    expected, read = read_table(tmp_path / "utf8.csv"), read_table(tmp_path / "other.csv")
    pd.testing.assert_frame_equal(read.table, expected.table)
    assert read.notes[1:] == expected.notes and read.notes[0].startswith(("removed", "read"))


def test_white_space_is_what_str_strip_removes():
    import sys

    assert set(WHITE_SPACE) == {c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()}


def test_a_file_without_line_breaks_is_refused_before_it_is_read_whole(tmp_path):
    """A 1 GB file on one line was read whole, decoded and parsed (about 7 times its size in memory) before the
    first cell was found too long; it is refused from its first megabytes."""
    import tracemalloc

    from cartreport.read.table import read_table

    path = tmp_path / "one_line.csv"
    path.write_bytes(b"patient_id," + b"x" * 40_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(DataFileError) as info:
            read_table(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(info.value) == (
        f"cannot read {path}: row 1 (the column names) is longer than 4,194,304 bytes; a CSV file holds the "
        "column names on its first line and one patient on each line below"
    )
    assert peak < 20_000_000
