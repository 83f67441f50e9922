"""Read a patient table from CSV, Excel, Parquet or SAS transport (XPT), normalising what spreadsheets do.

:func:`read_table` returns every cell as a stripped string (``None`` when blank) so that the validator sees the same
thing whatever the format, and it records each normalisation in :attr:`ReadResult.notes` in plain words. It does
not judge the content: wrong dates, unknown codes and missing columns are found by :mod:`cartreport.contract.validate`.
A file that cannot be read as a table at all raises :class:`~cartreport.errors.DataFileError`.

Formats, chosen by the file's extension:

``.csv``
    UTF-8 text (a byte-order mark is removed; Windows-1252 text is accepted and noted), separated by commas,
    semicolons or tabs (detected from the header line), values in double quotes where needed.
``.xlsx`` / ``.xlsm``
    the first sheet, or ``sheet`` (a name, or a 0-based position). Date cells become ``YYYY-MM-DD``; whole numbers
    lose their ``.0``; TRUE/FALSE cells become the words ``TRUE``/``FALSE``. Formulas are read as their last
    computed value.
``.parquet``
    read with pyarrow; ``date`` and ``timestamp`` columns become ``YYYY-MM-DD`` (a timestamp with a time of day
    other than midnight is kept as ``YYYY-MM-DD HH:MM:SS`` and the validator reports it); a column of lists, structs or maps is
    refused, and so is a file that unpacks to more than :data:`MAX_UNPACKED_BYTES`, from its metadata.
``.xpt``
    SAS transport, read with pyreadstat; numeric variables with a SAS date or datetime format become
    ``YYYY-MM-DD``. SAS upper-cases names, so variable names are matched case-insensitively onto the contract's
    names (``PATIENT_ID`` → ``patient_id``). XPT **version 5** limits names to 8 characters, too short for names
    such as ``cart_infusion_date``: prefer **version 8** (SAS ``PROC EXPORT``/``%loc2xpt`` with ``FORMAT=V8``, or
    ``pyreadstat.write_xport(..., file_format_version=8)``), or name the variables with the 8-character aliases
    of :data:`cartreport.contract.schema.XPT_ALIASES`, which are the only aliases cartreport accepts.

Size: a table of any format holds at most :data:`MAX_CELLS` cells (about 3,000,000 patients of the shipped cohort's
17 columns), and a CSV or XPT file of more than :data:`MAX_UNPACKED_BYTES` is refused unread: a wrong file of some
gigabytes would fill the memory before anything was said.

Row numbers: the index of :attr:`ReadResult.table` holds each row's number *as a spreadsheet user sees it*: the
header is row 1 and the first patient row 2. Blank rows are dropped but do not shift the numbers of the rows after
them. Parquet and XPT files have no header row; their records are numbered the same way (first record = row 2).
"""

from __future__ import annotations

import logging
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cartreport.contract import schema
from cartreport.errors import DataFileError
from cartreport.escape import UNSHOWABLE, UNSHOWABLE_TEXT, visible
from cartreport.read.cells import RawTable, assemble, column_letter, columns_of, counted
from cartreport.read.csvfile import read_csv
from cartreport.read.header import LOOK, refuse_names_below
from cartreport.read.workbook_limits import check_parts, check_sheet

__all__ = ["FORMATS", "ReadResult", "read_table"]

log = logging.getLogger(__name__)

#: most cells (rows x columns, blank ones too) read from a workbook or a Parquet file: both are compressed, so a
#: small file can hold billions (a stray value far from the table, a constant column of a billion rows)
MAX_CELLS = 50_000_000
#: most bytes a Parquet file may unpack to (its metadata says: a compressed cell can stand for gigabytes), and the
#: largest CSV or XPT file read (uncompressed: its size is what it unpacks to)
MAX_UNPACKED_BYTES = 1 << 30

#: file extension → format name
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xpt": "xpt",
}

#: what to do instead, for extensions people commonly try
_UNSUPPORTED_HINTS: dict[str, str] = {
    ".xls": "Excel 97-2003 workbooks are not supported; open the file in Excel and save it as .xlsx",
    ".ods": "save the sheet as .xlsx or .csv",
    ".txt": "save the table as .csv (comma-separated values)",
    ".tsv": "rename the file to .csv (tab-separated values are detected automatically)",
    ".sas7bdat": "export the data set as SAS transport (.xpt, version 8) or as .csv",
    ".sav": "export the data as .csv",
    ".dta": "export the data as .csv",
    ".json": "export the data as .csv",
}


@dataclass(frozen=True)
class ReadResult:
    """A patient table as read from a file, before validation.

    Attributes
    ----------
    table : every cell a stripped ``str`` or ``None`` (blank); column names stripped, in the file's order; the
        index holds spreadsheet row numbers (header = row 1, first patient = row 2) and is named ``row``.
    path : the file read.
    format : ``"csv"``, ``"xlsx"``, ``"parquet"`` or ``"xpt"``.
    notes : every normalisation done while reading, in plain words.
    other_sheets : Excel read from its first sheet only: the column names of each other sheet (its first
        non-blank row), so that validation can say which sheet holds the patients.
    cleaned : ``True`` when :func:`read_table` made ``table`` (every cell already stripped text or ``None`` by
        :func:`cartreport.read.cells.stripped_text`), so that validation does not clean the cells a second time.
    factorized : columns of ``table`` that :func:`read_table` read factorized, ``{name: (codes, values)}``:
        ``values`` each distinct text once, ``values[codes]`` the column's cells, code -1 where blank
        (:func:`cartreport.read.cells.stripped_factorized`), so that validation and coercion use the distinct
        values reading found instead of hashing the cells again. Like ``cleaned``, it describes ``table`` as
        :func:`read_table` made it.
    """

    table: pd.DataFrame
    path: Path
    format: str
    notes: list[str] = field(default_factory=list)
    other_sheets: dict[str, list[str]] = field(default_factory=dict)
    cleaned: bool = False
    factorized: dict[str, tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False
    )


def read_table(path: str | Path, sheet: str | int | None = None) -> ReadResult:
    """Read a patient table from a CSV, Excel, Parquet or SAS XPT file.

    Parameters
    ----------
    path : the file; its extension chooses the format (see the module docstring).
    sheet : Excel only: a sheet name or 0-based position; the first sheet when ``None``.

    Returns
    -------
    ReadResult
        all cells as stripped strings or ``None``, the file's column names, and notes on what was normalised.

    Raises
    ------
    DataFileError
        the file is missing, empty, has a header but no rows, has an unsupported extension, or is not a readable
        file of its format (e.g. a binary file named ``.csv``, a damaged or password-protected workbook).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "cohort.csv"
    >>> _ = path.write_text("\\ufeffpatient_id, sex\\nP01, male \\n", encoding="utf-8")
    >>> result = read_table(path)
    >>> result.table.to_dict("records")
    [{'patient_id': 'P01', 'sex': 'male'}]
    >>> result.notes
    ['removed a byte-order mark at the start of the file', 'trimmed surrounding spaces in 1 cell', \
'trimmed surrounding spaces in 1 column name']
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise DataFileError(path, "this is a folder, not a file", "name the patient table itself")
    if suffix not in FORMATS:
        supported = ", ".join(sorted(FORMATS))
        hint = _UNSUPPORTED_HINTS.get(suffix, f"supported file types are {supported}")
        kind = f"files ending in {suffix}" if suffix else "files without an extension"
        raise DataFileError(path, f"{kind} cannot be read", hint)
    if not path.exists():
        raise DataFileError(path, "the file does not exist", "check the name and the folder")
    if UNSHOWABLE.search(path.name):  # the report names its data file
        raise DataFileError(path, f"its name holds {UNSHOWABLE_TEXT}", "rename the file")
    if not path.is_file():
        raise DataFileError(path, "this is not a regular file")
    if path.stat().st_size == 0:
        raise DataFileError(path, "the file is empty (0 bytes)")
    fmt = FORMATS[suffix]
    if sheet is not None and fmt != "xlsx":
        raise DataFileError(path, f"a sheet ({sheet!r}) was given, but only Excel files have sheets")
    if fmt in ("csv", "xpt") and (size := path.stat().st_size) > MAX_UNPACKED_BYTES:  # uncompressed: as read
        raise DataFileError(
            path,
            f"the file is {size:,} bytes, more than the {MAX_UNPACKED_BYTES:,} bytes cartreport reads",
            "is this the patient table? Keep only its rows and the columns of the report",
        )
    if fmt == "xlsx":
        raw = _read_xlsx(path, sheet)
    else:
        raw = {"csv": read_csv, "parquet": _read_parquet, "xpt": _read_xpt}[fmt](path)
    if fmt in ("csv", "xpt"):  # a workbook and a Parquet file are checked before they are unpacked
        _refuse_too_many_cells(path, len(raw.numbers), max(len(raw.header), len(raw.columns)))
    date_source = {"xlsx": "Excel date cell", "xpt": "SAS date value"}.get(fmt, "date value")
    try:
        table, notes, factorized = assemble(path, raw, date_source)
    except DataFileError as error:
        sheet_hint = patients_sheet(_other_sheet_headers(path)) if fmt == "xlsx" and sheet is None else None
        if sheet_hint is None:
            raise
        raise DataFileError(path, f"{error.reason} (on its first sheet)", sheet_hint) from None
    if fmt in ("csv", "xlsx"):  # files a title line can be typed into
        first = table.head(LOOK)
        refuse_names_below(
            path, list(table.columns), zip(first.index, first.to_numpy().tolist(), strict=True)
        )
    for note in notes:
        log.info("%s: %s", path.name, note)
    repeated = sorted(name for name, n in Counter(table.columns).items() if n > 1)
    if repeated:
        log.info("%s: repeated column names %s", path.name, repeated)
    other_sheets = _other_sheet_headers(path) if fmt == "xlsx" and sheet is None else {}
    return ReadResult(
        table=table,
        path=path,
        format=fmt,
        notes=notes,
        other_sheets=other_sheets,
        cleaned=True,
        factorized=factorized,
    )


# ---------------------------------------------------------------------------------------------------------- Excel


def _read_xlsx(path: Path, sheet: str | int | None) -> RawTable:
    import openpyxl  # imported here: only Excel users pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    if not zipfile.is_zipfile(path):
        raw = path.read_bytes()[:8]
        hint = (
            "it looks password-protected or saved as Excel 97-2003; save it as a normal .xlsx"
            if raw.startswith(b"\xd0\xcf\x11\xe0")
            else "open it in Excel and save it again as .xlsx"
        )
        raise DataFileError(path, "this is not a readable Excel workbook", hint)
    check_parts(path)  # a zip bomb is refused before openpyxl unpacks it
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DataFileError(
            path,
            f"this is not a readable Excel workbook ({exc})",
            "open it in Excel and save it again as .xlsx",
        ) from exc
    try:
        names = workbook.sheetnames
        if sheet is None:
            index = 0
        elif isinstance(sheet, int) and not isinstance(sheet, bool):
            index = sheet
        elif sheet in names:
            index = names.index(sheet)
        elif str(sheet).strip().isdigit():  # "1" from a command line: a position
            index = int(str(sheet).strip())
        else:
            raise DataFileError(
                path, f"there is no sheet named {sheet!r}", f"the sheets are {_quoted(names)}"
            )
        if not 0 <= index < len(names):
            raise DataFileError(
                path,
                f"there is no sheet number {index} (counting from 0)",
                f"the sheets are {_quoted(names)}",
            )
        worksheet = workbook[names[index]]
        _check_sheet(path, worksheet, names[index])
        worksheet.reset_dimensions()  # the size a sheet declares can be any: read the cells it holds
        records = []
        widest = last = 0
        for number, values in enumerate(worksheet.iter_rows(min_row=1, values_only=True), start=1):
            end = len(values)
            while end and values[end - 1] is None:  # a formatted cell holds nothing
                end -= 1
            records.append((number, values[:end]))
            if end:
                widest, last = max(widest, end), number
                if widest * last > MAX_CELLS:  # checked as it is read: a compressed sheet can be huge
                    raise DataFileError(
                        path,
                        f"the sheet {names[index]!r} has values as far as row {last:,} and column "
                        f"{column_letter(widest - 1)}, more than the {MAX_CELLS:,} cells cartreport reads",
                        "delete what is outside the patient table",
                    )
    except DataFileError:
        raise
    except Exception as exc:  # openpyxl raises many kinds of error on damaged parts of a workbook
        raise DataFileError(
            path, f"this Excel workbook is damaged ({exc})", "open it in Excel and save again"
        ) from exc
    finally:
        workbook.close()
    notes = [] if sheet is None and len(names) == 1 else [f"read the sheet {names[index]!r}"]
    nonblank = [(n, r) for n, r in records if any(v is not None and str(v).strip() for v in r)]
    if not nonblank:
        raise DataFileError(path, f"the sheet {names[index]!r} is empty")
    del records[nonblank[-1][0] :]  # the blank rows below the table
    width = max(len(r) for _, r in records)
    header_row = nonblank[0][0]
    if header_row > 1:
        notes.append(f"skipped {counted(header_row - 1, 'blank row')} above the column names")
    names_row = records[header_row - 1][1]
    header = [*names_row, *[None] * (width - len(names_row))]  # a value below may stand under no name
    body = [r for _, r in records[header_row:]]
    numbers = np.array([n for n, _ in records[header_row:]], dtype=np.int64)
    return RawTable(header, numbers, columns_of(body, len(header)), notes)


def patients_sheet(other_sheets: dict[str, list[str]], have: int = 0) -> str | None:
    """``"the patients are on sheet 'Cohort': use --sheet Cohort"`` when one of ``other_sheets`` (name → column
    names) holds more of the contract's required columns than ``have``; else ``None``."""
    found = {name: len(set(header) & set(schema.REQUIRED_COLUMNS)) for name, header in other_sheets.items()}
    if not found or max(found.values()) <= have:
        return None
    sheet = max(found, key=lambda name: found[name])
    option = sheet if all(c.isalnum() or c in "._-" for c in sheet) else f'"{sheet}"'
    return f"the patients are on sheet {sheet!r}: use --sheet {option}"


def _other_sheet_headers(path: Path, look: int = 20) -> dict[str, list[str]]:
    """The first non-blank row (within ``look`` rows) of every sheet but the first, as stripped text."""
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        headers = {}
        for name in workbook.sheetnames[1:]:
            _check_sheet(path, workbook[name], name, look)
            for values in workbook[name].iter_rows(min_row=1, max_row=look, values_only=True):
                cells = [str(v).strip() for v in values if v is not None and str(v).strip()]
                if cells:
                    headers[name] = cells
                    break
        return headers
    finally:
        workbook.close()


def _check_sheet(path: Path, worksheet: object, name: str, rows: int | None = None) -> None:
    """:func:`~cartreport.read.workbook_limits.check_sheet` on an openpyxl read-only sheet, before it is read."""
    member = getattr(worksheet, "_worksheet_path", None)  # openpyxl's name of the sheet's part
    if member:
        with zipfile.ZipFile(path) as archive:
            check_sheet(path, archive, member, name, rows)


def _quoted(names: Iterable[object]) -> str:
    return ", ".join(f'"{n}"' for n in names)


# -------------------------------------------------------------------------------------------------------- Parquet
def _refuse_too_many_cells(path: Path, rows: int, columns: int) -> None:
    """A :class:`DataFileError` if ``rows`` x ``columns`` is more than :data:`MAX_CELLS`."""
    if rows * columns > MAX_CELLS:
        raise DataFileError(
            path,
            f"it holds {rows:,} rows of {columns:,} columns, more than the {MAX_CELLS:,} cells cartreport reads",
            "split the table, or keep only the columns of the report",
        )


def _read_parquet(path: Path) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _refuse_non_magic(path, b"PAR1", "a Parquet file")
    try:
        parquet = pq.ParquetFile(path)
        shape = parquet.metadata
        _refuse_too_many_cells(path, shape.num_rows, shape.num_columns)
        unpacked = sum(shape.row_group(i).total_byte_size for i in range(shape.num_row_groups))
        if unpacked > MAX_UNPACKED_BYTES:
            raise DataFileError(
                path,
                f"it unpacks to {unpacked:,} bytes, more than the {MAX_UNPACKED_BYTES:,} bytes cartreport reads",
                "split the table, or keep only the columns of the report",
            )
        for column in parquet.schema_arrow:
            if pa.types.is_nested(column.type):  # lists, structs, maps: many values in a cell
                raise DataFileError(
                    path,
                    f"column {visible(column.name)} holds {column.type} values, not one value per cell",
                    "store one value per patient in each column",
                )
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataFileError(path, f"this is not a readable Parquet file ({exc})") from exc
    notes = []
    index_columns = [name for name in arrow.column_names if name.startswith("__index_level_")]
    if index_columns:
        arrow = arrow.drop_columns(index_columns)
        notes.append("ignored the unnamed pandas index stored in the file")
    n = arrow.num_rows
    columns = [
        np.fromiter(arrow.column(i).to_pylist(), dtype=object, count=n) for i in range(arrow.num_columns)
    ]
    return RawTable(list(arrow.column_names), np.arange(2, n + 2, dtype=np.int64), columns, notes)


def _refuse_non_magic(path: Path, magic: bytes, expected: str) -> None:
    with path.open("rb") as handle:
        start = handle.read(len(magic))
    if start != magic:
        raise DataFileError(path, f"the file is not {expected}", "give the file the extension of its format")


# ------------------------------------------------------------------------------------------------------------ XPT
def _read_xpt(path: Path) -> RawTable:
    import pyreadstat

    _refuse_non_magic(path, b"HEADER RECORD", "a SAS transport (XPT) file")
    try:
        frame, _meta = pyreadstat.read_xport(str(path), dates_as_pandas_datetime=False)
        notes = []
    except UnicodeDecodeError:
        try:
            frame, _meta = pyreadstat.read_xport(
                str(path), dates_as_pandas_datetime=False, encoding="windows-1252"
            )
        except Exception as exc:
            raise DataFileError(path, f"this is not a readable SAS transport file ({exc})") from exc
        notes = ["read the text as Windows-1252 (it is not UTF-8)"]
    except Exception as exc:  # pyreadstat raises ReadstatError / PyreadstatError, both plain Exceptions
        raise DataFileError(path, f"this is not a readable SAS transport file ({exc})") from exc
    header, renamed = _contract_names(list(frame.columns))
    if renamed:
        pairs = ", ".join(f"{old} → {new}" for old, new in renamed)
        notes.append(f"matched SAS variable names to the contract's column names: {pairs}")
    n = len(frame)
    columns = [np.fromiter(frame.iloc[:, j].tolist(), dtype=object, count=n) for j in range(frame.shape[1])]
    return RawTable(header, np.arange(2, n + 2, dtype=np.int64), columns, notes)


def _contract_names(names: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Map SAS variable names case-insensitively, or by :data:`cartreport.contract.schema.XPT_ALIASES`, onto the
    contract's names."""
    by_lower = {c.name.lower(): c.name for c in schema.COLUMNS}
    aliases = {alias.lower(): name for alias, name in schema.XPT_ALIASES.items()}
    taken = {n.strip() for n in names}
    out: list[str] = []
    renamed: list[tuple[str, str]] = []
    for name in names:
        key = name.strip().lower()
        target = by_lower.get(key) or aliases.get(key)
        if target and target != name.strip() and target not in taken:
            out.append(target)
            taken.add(target)
            renamed.append((name.strip(), target))
        else:
            out.append(name)
    return out, renamed
