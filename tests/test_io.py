"""Reading patient tables from CSV, Excel, Parquet and SAS XPT (cartreport.read.table).

Fixtures are written in tmp_path with the libraries a data manager would use (pandas, openpyxl, pyarrow,
pyreadstat) so that each test shows what a real file of that kind turns into.
"""

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest

from cartreport.contract.schema import COLUMNS, XPT_ALIASES
from cartreport.errors import DataFileError
from cartreport.read.table import read_table

HEADER = "patient_id,diagnosis,cart_infusion_date,emd_at_baseline"


def _write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def _records(result):
    return result.table.to_dict("records")


# ---------------------------------------------------------------------------------------------------- CSV
def test_csv_with_bom_and_surrounding_spaces(tmp_path):
    text = "\ufeffpatient_id , diagnosis\n P01 ,T-ALL\nP02,  T-LBL  \n"
    result = read_table(_write(tmp_path / "cohort.csv", text))
    assert list(result.table.columns) == ["patient_id", "diagnosis"]
    assert _records(result) == [
        {"patient_id": "P01", "diagnosis": "T-ALL"},
        {"patient_id": "P02", "diagnosis": "T-LBL"},
    ]
    assert result.format == "csv"
    assert result.path == tmp_path / "cohort.csv"
    assert result.notes == [
        "removed a byte-order mark at the start of the file",
        "trimmed surrounding spaces in 2 cells",
        "trimmed surrounding spaces in 2 column names",
    ]


def test_csv_cells_are_strings_or_none_and_rows_are_spreadsheet_rows(tmp_path):
    text = f"{HEADER}\nP01,T-ALL,2021-03-04,yes\n,,,\nP03,,2021-05-06,0\n"
    result = read_table(_write(tmp_path / "c.csv", text))
    assert list(result.table.index) == [2, 4]  # the blank row 3 is dropped but does not shift row 4
    assert result.table.index.name == "row"
    assert _records(result)[1] == {
        "patient_id": "P03",
        "diagnosis": None,
        "cart_infusion_date": "2021-05-06",
        "emd_at_baseline": "0",
    }
    assert all(v is None or isinstance(v, str) for v in result.table.to_numpy().ravel())
    assert "ignored 1 blank row between patient rows" in result.notes


def test_csv_semicolons_are_detected(tmp_path):
    result = read_table(_write(tmp_path / "c.csv", "patient_id;age_years\nP01;45,5\n"))
    assert _records(result) == [{"patient_id": "P01", "age_years": "45,5"}]
    assert "columns are separated by semicolons" in result.notes


def test_csv_windows_1252_is_read_and_noted(tmp_path):
    result = read_table(
        _write(
            tmp_path / "c.csv", "patient_id,cause_of_death\nP01,pneumonie nosocomiale é\n".encode("cp1252")
        )
    )
    assert _records(result) == [{"patient_id": "P01", "cause_of_death": "pneumonie nosocomiale é"}]
    assert "read the file as Windows-1252 text (it is not UTF-8)" in result.notes


def test_csv_quoted_values_keep_commas(tmp_path):
    result = read_table(_write(tmp_path / "c.csv", 'patient_id,cause_of_death\nP01,"infection, fungal"\n'))
    assert _records(result) == [{"patient_id": "P01", "cause_of_death": "infection, fungal"}]


def test_csv_unnamed_column_with_values_gets_a_letter_name_and_empty_ones_are_dropped(tmp_path):
    result = read_table(_write(tmp_path / "c.csv", "patient_id,,diagnosis,\nP01,x,T-ALL,\n"))
    assert list(result.table.columns) == ["patient_id", "column_B", "diagnosis"]
    assert "named 1 column without a name in the header: column_B" in result.notes


def test_csv_short_rows_are_padded(tmp_path):
    result = read_table(_write(tmp_path / "c.csv", "patient_id,diagnosis,sex\nP01,T-ALL\n"))
    assert _records(result) == [{"patient_id": "P01", "diagnosis": "T-ALL", "sex": None}]
    assert "1 row had fewer cells than the header; the missing cells were read as blank" in result.notes


def test_csv_row_with_too_many_cells_is_refused(tmp_path):
    path = _write(tmp_path / "c.csv", "patient_id,age_years\nP01,45,5\n")
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert str(info.value) == (
        f"cannot read {path}: row 2 has 3 cells but the header has 2 columns; "
        "a value that contains the separator (',') must be in double quotes"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            'patient_id,diagnosis\nP01,T-ALL\nP02,"T-ALL\nP03,T-LBL\n',
            "row 3 opens a double quote that is never closed; close it, or remove it",
        ),
        (
            'patient_id,diagnosis\nP01,"T-ALL"x\n',
            "row 2 is not valid CSV (',' expected after '\"'); "
            "a value in double quotes must be followed by the separator",
        ),
        (
            "patient_id,diagnosis\nP01,T-ALL\nP02," + "x" * 140_000 + "\n",
            "row 3 holds a cell longer than 131,072 characters; check the double quotes of row 3 (a double "
            "quote never closed makes the rest of the file one cell)",
        ),
    ],
)
def test_a_csv_file_that_is_not_valid_csv_names_the_row(tmp_path, text, reason):
    path = _write(tmp_path / "c.csv", text)
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert str(info.value) == f"cannot read {path}: {reason}"


# -------------------------------------------------------------------------------------------------- Excel
def _workbook(path: Path, rows: list[list[object]], title: str = "patients") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def test_xlsx_date_cells_numbers_and_yes_values(tmp_path):
    path = _workbook(
        tmp_path / "c.xlsx",
        [
            ["patient_id", "cart_infusion_date", "emd_at_baseline", "age_years", "flag"],
            ["P01", dt.date(2021, 3, 4), "Yes", 45, True],
            ["P02", dt.datetime(2021, 5, 6, 0, 0), "TRUE", 45.0, False],
            ["P03", dt.datetime(2021, 5, 6, 13, 30), " no ", 45.5, None],
        ],
    )
    result = read_table(path)
    assert result.format == "xlsx"
    assert _records(result) == [
        {"patient_id": "P01", "cart_infusion_date": "2021-03-04", "emd_at_baseline": "Yes", "age_years": "45", "flag": "TRUE"},
        {"patient_id": "P02", "cart_infusion_date": "2021-05-06", "emd_at_baseline": "TRUE", "age_years": "45", "flag": "FALSE"},
        # a time of day is kept, so that validation reports it instead of silently dropping it
        {"patient_id": "P03", "cart_infusion_date": "2021-05-06 13:30:00", "emd_at_baseline": "no", "age_years": "45.5", "flag": None},
    ]  # fmt: skip
    assert "read 3 Excel date cells as dates (YYYY-MM-DD)" in result.notes
    assert "trimmed surrounding spaces in 1 cell" in result.notes
    assert "read 2 true/false cells as the words true/false" in result.notes


def test_xlsx_sheet_by_name_and_position(tmp_path):
    path = tmp_path / "two.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "readme"
    workbook.active.append(["this sheet explains the data"])
    data = workbook.create_sheet("patients")
    data.append(["patient_id"])
    data.append(["P01"])
    workbook.save(path)
    assert _records(read_table(path, sheet="patients")) == [{"patient_id": "P01"}]
    assert _records(read_table(path, sheet=1)) == [{"patient_id": "P01"}]
    assert _records(read_table(path, sheet="1")) == [
        {"patient_id": "P01"}
    ]  # a position typed on a command line
    assert "read the sheet 'patients'" in read_table(path, sheet=1).notes
    with pytest.raises(
        DataFileError, match='there is no sheet named \'cohort\'; the sheets are "readme", "patients"'
    ):
        read_table(path, sheet="cohort")
    with pytest.raises(DataFileError, match="there is no sheet number 5"):
        read_table(path, sheet=5)


def test_xlsx_blank_rows_above_header_keep_excel_row_numbers(tmp_path):
    path = _workbook(tmp_path / "c.xlsx", [[None], ["patient_id", "diagnosis"], ["P01", "T-ALL"]])
    result = read_table(path)
    assert list(result.table.index) == [3]
    assert "skipped 1 blank row above the column names" in result.notes


def test_xlsx_a_stray_value_far_from_the_table_is_read_quickly(tmp_path):
    """A 7 KB workbook with one value at row 200,000, column 16,000 kept validation busy for hours: every row up
    to the sheet's declared size was read as 16,000 cells. Only the cells the sheet holds are read now."""
    import time

    path = _workbook(tmp_path / "c.xlsx", [["patient_id", "diagnosis"], ["P01", "T-ALL"]])
    workbook = openpyxl.load_workbook(path)
    workbook.active.cell(row=200_000, column=16_000, value="x")
    workbook.save(path)
    started = time.perf_counter()
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert time.perf_counter() - started < 10
    assert str(info.value) == (
        f"cannot read {path}: the sheet 'patients' has values as far as row 200,000 and column WQJ, more than "
        "the 50,000,000 cells cartreport reads; delete what is outside the patient table"
    )


def test_xlsx_a_formula_never_computed_is_refused_not_read_as_blank(tmp_path):
    """A workbook written by a program that does not calculate formulas (openpyxl, many export scripts) stores a
    formula without its value: the cell was read as blank, so an age of ``=2021-1993`` became "unknown" without a
    word. It is refused, naming the cell; a formula saved with its value (as Excel and LibreOffice save it) is read
    as that value."""
    import zipfile

    path = _workbook(tmp_path / "c.xlsx", [["patient_id", "age_years"], ["P01", "41"], ["P02", "=2021-1993"]])
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert str(info.value) == (
        f"cannot read {path}: cell B3 of the sheet 'patients' holds a formula saved without its value (the file "
        "was written by a program that does not calculate formulas); open the file in Excel and save it again"
    )
    # the same sheet as Excel saves it: the formula and its value
    computed = tmp_path / "computed.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(computed, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data.replace(b"<f>2021-1993</f><v></v>", b"<f>2021-1993</f><v>28</v>")
                data = data.replace(b"<f>2021-1993</f><v/>", b"<f>2021-1993</f><v>28</v>")
                assert b"<v>28</v>" in data, data
            target.writestr(item, data)
    assert read_table(computed).table["age_years"].tolist() == ["41", "28"]


def test_xlsx_trailing_blank_rows_and_columns_are_not_read(tmp_path):
    path = _workbook(tmp_path / "c.xlsx", [["patient_id", "diagnosis", None], ["P01", "T-ALL", None]])
    workbook = openpyxl.load_workbook(path)
    workbook.active.cell(row=500_000, column=5).number_format = "0.00"  # formatted, but holds nothing
    workbook.save(path)
    result = read_table(path)
    assert list(result.table.columns) == ["patient_id", "diagnosis"] and list(result.table.index) == [2]


def test_xlsx_header_only_and_empty_sheet(tmp_path):
    with pytest.raises(DataFileError, match="the file has column names but no patient rows"):
        read_table(_workbook(tmp_path / "h.xlsx", [["patient_id", "diagnosis"], [None, None]]))
    with pytest.raises(DataFileError, match="the sheet 'patients' is empty"):
        read_table(_workbook(tmp_path / "e.xlsx", []))


def test_xlsx_that_is_not_a_workbook(tmp_path):
    with pytest.raises(DataFileError, match="this is not a readable Excel workbook; open it in Excel"):
        read_table(_write(tmp_path / "c.xlsx", "patient_id\nP01\n"))
    with pytest.raises(DataFileError, match="password-protected"):
        read_table(_write(tmp_path / "p.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600))
    broken = tmp_path / "z.xlsx"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    with pytest.raises(DataFileError, match="this is not a readable Excel workbook"):
        read_table(broken)


def _raw_workbook(
    path: Path, sheet_xml: bytes, shared_strings: bytes = b"", sheet_name: str = "patients"
) -> Path:
    """A workbook written part by part, for what no spreadsheet program writes (rows past Excel's last, parts that
    unpack to gigabytes): ``sheet_xml`` is the sheet's ``<sheetData>`` content."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    package = "http://schemas.openxmlformats.org/package/2006"
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            f'<Types xmlns="{package}/content-types"><Default Extension="rels" '
            f'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            f'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            f'ContentType="{kind}.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" '
            f'ContentType="{kind}.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" '
            f'ContentType="{kind}.sharedStrings+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{package}/relationships"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet name="{sheet_name}" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{package}/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" '
            f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{rel}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            f'<worksheet xmlns="{main}"><sheetData>'.encode() + sheet_xml + b"</sheetData></worksheet>",
        )
        archive.writestr(
            "xl/sharedStrings.xml", f'<sst xmlns="{main}">'.encode() + shared_strings + b"</sst>"
        )
    return path


_TABLE = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>patient_id</t></is></c></row>'
    b'<row r="2"><c r="A2" t="inlineStr"><is><t>P01</t></is></c></row>'
)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (b'<row r="2000000000"/>', "a row numbered 2,000,000,000"),  # one row element, 2 KB of file
        (  # blank rows as Excel writes formatted ones, counted
            b"".join(b'<row r="%d" spans="1:5" ht="15"/>' % n for n in range(3, 1_100_000)),
            "a row numbered 1,048,577",
        ),
        (b'<row r="3">' + b"<c/>" * 20_000 + b"</row>", "more than 16,384 cells in row 3"),
    ],
    ids=["far-row", "many-rows", "wide-row"],
)
def test_xlsx_rows_and_columns_beyond_excels_are_refused_before_they_are_read(tmp_path, rows, message):
    """A 2 KB workbook whose one blank row is numbered 2,000,000,000 took 46 s and 5.6 GB before a MemoryError (the
    reader makes every row up to it); a row of millions of cells is built whole in memory. Excel's own sheet has
    at most 1,048,576 rows of 16,384 cells: a sheet beyond is refused from a scan of its rows, at once."""
    import time

    path = _raw_workbook(tmp_path / "c.xlsx", _TABLE + rows)
    started = time.perf_counter()
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert time.perf_counter() - started < 20
    assert str(info.value).startswith(f"cannot read {path}: the sheet 'patients' has {message}")
    assert str(info.value).endswith(
        "beyond Excel's 1,048,576 rows of 16,384 cells; open the file in Excel and save it again"
    )


def test_xlsx_a_part_that_unpacks_far_beyond_its_size_is_refused_unread(tmp_path, monkeypatch):
    """A zip bomb named .xlsx: a 3 MB workbook whose shared strings unpack to 3 GB ended in a MemoryError traceback
    (the reader loads them whole) after 23 s. The workbook's parts are now measured from its zip directory first:
    one that unpacks to more than 100 times its packed size (a workbook's parts unpack to 3-20 times), or to more
    than cartreport reads, is refused before anything is unpacked."""
    import time

    import cartreport.read.workbook_limits as limits

    bomb = _raw_workbook(tmp_path / "bomb.xlsx", _TABLE, b"<si><t>" + b"A" * 50_000_000 + b"</t></si>")
    started = time.perf_counter()
    with pytest.raises(DataFileError) as info:
        read_table(bomb)
    assert time.perf_counter() - started < 5
    part = zipfile.ZipFile(bomb).getinfo("xl/sharedStrings.xml")
    size, unpacked = part.compress_size, part.file_size
    assert str(info.value) == (
        f"cannot read {bomb}: its part xl/sharedStrings.xml unpacks to {unpacked:,} bytes, "
        f"{unpacked // size:,} times its packed size of {size:,} bytes: a zip bomb, not a workbook; "
        "open the file in Excel and save it again"
    )
    path = _workbook(tmp_path / "c.xlsx", [["patient_id"], ["P01"]])
    assert len(read_table(path).table) == 1
    monkeypatch.setattr(limits, "MAX_PART_BYTES", 1000)
    with pytest.raises(
        DataFileError, match=r"its part xl/\S+ unpacks to [\d,]+ bytes, more than the 1,000 bytes"
    ):
        read_table(path)


# ------------------------------------------------------------------------------------------------ Parquet
def test_parquet_timestamps_dates_and_numbers(tmp_path):
    frame = pd.DataFrame(
        {
            "patient_id": ["P01", "P02"],
            "cart_infusion_date": pd.to_datetime(["2021-03-04", None]),
            "death_date": [dt.date(2022, 1, 2), None],
            "age_years": [45.0, np.nan],
            "sex": pd.Categorical(["male", "female"]),
        }
    )
    path = tmp_path / "c.parquet"
    frame.to_parquet(path)
    assert pq.read_schema(path).field("cart_infusion_date").type == pa.timestamp("ns")
    result = read_table(path)
    assert result.format == "parquet"
    assert _records(result) == [
        {"patient_id": "P01", "cart_infusion_date": "2021-03-04", "death_date": "2022-01-02", "age_years": "45", "sex": "male"},
        {"patient_id": "P02", "cart_infusion_date": None, "death_date": None, "age_years": None, "sex": "female"},
    ]  # fmt: skip
    assert "read 2 date values as dates (YYYY-MM-DD)" in result.notes
    assert "wrote 1 whole number without a decimal part (45.0 → 45)" in result.notes


def test_parquet_unnamed_pandas_index_is_ignored(tmp_path):
    path = tmp_path / "c.parquet"
    pd.DataFrame({"patient_id": ["P01", "P02"]}, index=[7, 9]).to_parquet(path)
    result = read_table(path)
    assert list(result.table.columns) == ["patient_id"]
    assert "ignored the unnamed pandas index stored in the file" in result.notes


@pytest.mark.parametrize("fmt", ["parquet", "csv", "xpt"])
def test_a_table_of_more_cells_than_are_read_is_refused(tmp_path, monkeypatch, fmt):
    """A Parquet file of a few kilobytes can hold a constant column of a billion rows: it was decompressed whole
    (gigabytes) before anything was checked; its size is now read from its metadata first. A CSV or XPT file had
    no bound at all (a 3,000,000-patient CSV of 375 MB took 1.7 GB): it is held to the same number of cells."""
    import cartreport.read.table as table_module

    frame = pd.DataFrame({"patient_id": [f"P{i}" for i in range(30)], "age_years": range(30)})
    path = tmp_path / f"c.{fmt}"
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        pyreadstat.write_xport(frame, str(path), file_format_version=8)
    monkeypatch.setattr(table_module, "MAX_CELLS", 59)
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert str(info.value) == (
        f"cannot read {path}: it holds 30 rows of 2 columns, more than the 59 cells cartreport reads; split the "
        "table, or keep only the columns of the report"
    )
    monkeypatch.setattr(table_module, "MAX_CELLS", 60)
    assert len(read_table(path).table) == 30


def test_a_csv_or_xpt_file_larger_than_is_read_is_refused_before_it_is_read(tmp_path, monkeypatch):
    """A wrong file of some gigabytes (a genomics export, a database dump) would fill the memory before anything
    was said. Like a Parquet file's unpacked size, a CSV or XPT file over MAX_UNPACKED_BYTES is refused from its
    size alone, unread."""
    import cartreport.read.table as table_module

    path = tmp_path / "c.csv"
    pd.DataFrame({"patient_id": [f"P{i}" for i in range(30)]}).to_csv(path, index=False)
    size = path.stat().st_size
    monkeypatch.setattr(table_module, "MAX_UNPACKED_BYTES", size - 1)
    monkeypatch.setattr(table_module, "read_csv", lambda path: pytest.fail("read although too large"))
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert str(info.value) == (
        f"cannot read {path}: the file is {size:,} bytes, more than the {size - 1:,} bytes cartreport reads; is "
        "this the patient table? Keep only its rows and the columns of the report"
    )


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        (pa.array([["T-ALL"], ["T-LBL", "x"]]), "list<element: string>"),
        (pa.array([{"a": 1}, {"a": 2}]), "struct<a: int64>"),
        (pa.array([[("k", "v")], []], type=pa.map_(pa.string(), pa.string())), "map<string, string"),
    ],
    ids=["list", "struct", "map"],
)
def test_parquet_with_nested_columns_is_refused_naming_the_column(tmp_path, values, shown):
    """A list or struct column was read as Python's text of it (value "{'a': 1}" is not allowed), and a one-row list
    of 200 million items (an 867-byte file) ended in a MemoryError traceback: a patient table holds one value per
    cell, so a nested column is refused from the file's schema, unread."""
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"patient_id": ["P01", "P02"], "diagnosis": values}), path)
    written = str(pq.read_schema(path).field("diagnosis").type)
    assert written.startswith(shown)
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert str(info.value) == (
        f"cannot read {path}: column diagnosis holds {written} values, not one value per cell; "
        "store one value per patient in each column"
    )


def test_parquet_that_unpacks_to_more_than_is_read_is_refused_from_its_metadata(tmp_path, monkeypatch):
    """A 10 KB Parquet file held one cell of 300 MB (1.6 GB of memory to read it): what a file unpacks to is read
    from its metadata first, as its number of cells is."""
    import cartreport.read.table as table_module

    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"patient_id": ["P01", "A" * 2_000_000]}), path, compression="zstd")
    assert path.stat().st_size < 10_000
    unpacked = pq.ParquetFile(path).metadata.row_group(0).total_byte_size
    monkeypatch.setattr(table_module, "MAX_UNPACKED_BYTES", 1_000_000)
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert str(info.value) == (
        f"cannot read {path}: it unpacks to {unpacked:,} bytes, more than the 1,000,000 bytes cartreport reads; "
        "split the table, or keep only the columns of the report"
    )
    monkeypatch.setattr(table_module, "MAX_UNPACKED_BYTES", unpacked)
    assert len(read_table(path).table) == 2


def test_parquet_with_no_rows(tmp_path):
    path = tmp_path / "c.parquet"
    pd.DataFrame({"patient_id": pd.Series([], dtype=str)}).to_parquet(path)
    with pytest.raises(DataFileError, match="column names but no patient rows"):
        read_table(path)


def test_parquet_that_is_not_parquet(tmp_path):
    with pytest.raises(DataFileError, match="the file is not a Parquet file"):
        read_table(_write(tmp_path / "c.parquet", "patient_id\nP01\n"))
    with pytest.raises(DataFileError, match="this is not a readable Parquet file"):
        read_table(_write(tmp_path / "d.parquet", b"PAR1" + b"\x01" * 100 + b"PAR1"))


# ---------------------------------------------------------------------------------------------------- XPT
def test_xpt_version_8_long_upper_case_names_and_sas_dates(tmp_path):
    frame = pd.DataFrame(
        {
            "PATIENT_ID": ["P01", "P02"],
            "CART_INFUSION_DATE": [
                dt.date(2021, 3, 4),
                dt.date(2021, 4, 5),
            ],  # written with the SAS DATE format
            "DEATH_DATE": pd.to_datetime(["2022-01-02", None]),  # written with the SAS DATETIME format
            "AGE_YEARS": [45.0, 30.5],
            "EMD_AT_BASELINE": ["yes", ""],
            "SITE": ["Beijing", "Beijing"],
        }
    )
    path = tmp_path / "c.xpt"
    pyreadstat.write_xport(frame, str(path), file_format_version=8)
    _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
    assert meta.original_variable_types["CART_INFUSION_DATE"] == "DATE"
    result = read_table(path)
    assert result.format == "xpt"
    assert _records(result) == [
        {"patient_id": "P01", "cart_infusion_date": "2021-03-04", "death_date": "2022-01-02", "age_years": "45", "emd_at_baseline": "yes", "SITE": "Beijing"},
        {"patient_id": "P02", "cart_infusion_date": "2021-04-05", "death_date": None, "age_years": "30.5", "emd_at_baseline": None, "SITE": "Beijing"},
    ]  # fmt: skip
    assert (
        "matched SAS variable names to the contract's column names: PATIENT_ID → patient_id, "
        "CART_INFUSION_DATE → cart_infusion_date, DEATH_DATE → death_date, AGE_YEARS → age_years, "
        "EMD_AT_BASELINE → emd_at_baseline"
    ) in result.notes
    assert "read 3 SAS date values as dates (YYYY-MM-DD)" in result.notes


def test_xpt_version_5_with_eight_character_aliases(tmp_path):
    frame = pd.DataFrame(
        {"PATID": ["P01"], "CARTDT": [dt.date(2021, 3, 4)], "LSTCNDT": [dt.date(2022, 1, 1)]}
    )
    path = tmp_path / "v5.xpt"
    pyreadstat.write_xport(frame, str(path), file_format_version=5)
    result = read_table(path)
    assert _records(result) == [
        {"patient_id": "P01", "cart_infusion_date": "2021-03-04", "last_contact_date": "2022-01-01"}
    ]


def test_xpt_aliases_cover_every_long_contract_name_and_fit_version_5():
    long_names = {c.name for c in COLUMNS if len(c.name) > 8}
    assert long_names <= set(XPT_ALIASES.values())
    assert all(len(alias) <= 8 and alias.isupper() for alias in XPT_ALIASES)
    assert len(set(XPT_ALIASES.values())) == len(XPT_ALIASES)


def test_xpt_that_is_not_xpt(tmp_path):
    with pytest.raises(DataFileError, match="the file is not a SAS transport"):
        read_table(_write(tmp_path / "c.xpt", "patient_id\nP01\n"))
    with pytest.raises(DataFileError, match="this is not a readable SAS transport file"):
        read_table(_write(tmp_path / "d.xpt", b"HEADER RECORD" + b"\x00garbage" * 30))


# -------------------------------------------------------------------------------------------- any format
def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.csv"
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert info.value.path == path
    assert str(info.value) == f"cannot read {path}: the file does not exist; check the name and the folder"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("c.xls", "files ending in .xls cannot be read; Excel 97-2003 workbooks are not supported"),
        ("c.txt", "files ending in .txt cannot be read; save the table as .csv"),
        ("c.json", "files ending in .json cannot be read; export the data as .csv"),
        (
            "c.foo",
            "files ending in .foo cannot be read; supported file types are .csv, .parquet, .pq, .xlsm, .xlsx, .xpt",
        ),
        ("cohort", "files without an extension cannot be read"),
    ],
)
def test_unsupported_extensions(tmp_path, name, message):
    with pytest.raises(DataFileError, match=message.replace(".", r"\.")):
        read_table(_write(tmp_path / name, "patient_id\nP01\n"))


@pytest.mark.parametrize("name", ["c.csv", "c.xlsx", "c.parquet", "c.xpt"])
def test_empty_files(tmp_path, name):
    with pytest.raises(DataFileError, match=r"the file is empty \(0 bytes\)"):
        read_table(_write(tmp_path / name, b""))


@pytest.mark.parametrize("text", [HEADER + "\n", HEADER, HEADER + "\n,,,\n\n"])
def test_header_only_csv(tmp_path, text):
    path = _write(tmp_path / "c.csv", text)
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert str(info.value) == (
        f"cannot read {path}: the file has column names but no patient rows; add one row per patient below the header"
    )


def test_blank_lines_only(tmp_path):
    with pytest.raises(DataFileError, match="the file contains only blank lines"):
        read_table(_write(tmp_path / "c.csv", "\n \n\n"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "the file contains binary data, not a CSV text file"),
        (b"PK\x03\x04" + b"\x00" * 40, "this is an Excel workbook or other zip archive, not a CSV text file"),
        (b"PAR1\x15\x04", "this is a Parquet file, not a CSV text file"),
    ],
)
def test_binary_named_csv(tmp_path, data, message):
    with pytest.raises(DataFileError, match=message):
        read_table(_write(tmp_path / "c.csv", data))


def test_sheet_for_a_csv_is_refused(tmp_path):
    with pytest.raises(DataFileError, match="only Excel files have sheets"):
        read_table(_write(tmp_path / "c.csv", "patient_id\nP01\n"), sheet="patients")


def test_folder_is_refused(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataFileError, match="this is a folder, not a file"):
        read_table(tmp_path / "dir.csv")


def test_a_broken_utf16_file_is_a_clean_error(tmp_path):
    from cartreport.errors import DataFileError

    path = tmp_path / "broken.csv"
    path.write_bytes(b"\xff\xfe" + b"\x00\xd8")  # a lone high surrogate: not UTF-16
    with pytest.raises(DataFileError, match="starts like UTF-16 text but is not"):
        read_table(path)


def test_a_file_whose_name_a_report_cannot_show_is_refused_and_named_visibly(tmp_path):
    """The report names its data file: a control character in the name ended the run in a traceback from Word."""
    path = _write(tmp_path / "cohort\x1b[2J.csv", "patient_id,age_years\nP01,45\n")
    with pytest.raises(DataFileError) as info:
        read_table(path)
    assert str(info.value) == (
        f"cannot read {tmp_path}/cohort\\x1b[2J.csv: its name holds an invisible control or text-direction "
        "character, which a report cannot show as written; rename the file"
    )
