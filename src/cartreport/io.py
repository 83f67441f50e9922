"""Read a patient table from CSV, Excel, Parquet or SAS transport (XPT), normalising what spreadsheets do.

:func:`read_table` returns every cell as a stripped string (``None`` when blank) so that the validator sees the same
thing whatever the format, and it records each normalisation in :attr:`ReadResult.notes` in plain words. It does
not judge the content: wrong dates, unknown codes and missing columns are found by :mod:`cartreport.validate`.
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
    other than midnight is kept as ``YYYY-MM-DD HH:MM:SS`` and the validator reports it).
``.xpt``
    SAS transport, read with pyreadstat; numeric variables with a SAS date or datetime format become
    ``YYYY-MM-DD``. SAS upper-cases names, so variable names are matched case-insensitively onto the contract's
    names (``PATIENT_ID`` → ``patient_id``). XPT **version 5** limits names to 8 characters, too short for names
    such as ``cart_infusion_date``: prefer **version 8** (SAS ``PROC EXPORT``/``%loc2xpt`` with ``FORMAT=V8``, or
    ``pyreadstat.write_xport(..., file_format_version=8)``), or name the variables with the 8-character aliases
    of :data:`XPT_ALIASES`, which are the only aliases cartreport accepts.

Row numbers: the index of :attr:`ReadResult.table` holds each row's number *as a spreadsheet user sees it*: the
header is row 1 and the first patient row 2. Blank rows are dropped but do not shift the numbers of the rows after
them. Parquet and XPT files have no header row; their records are numbered the same way (first record = row 2).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import math
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from cartreport import schema
from cartreport.errors import DataFileError

__all__ = ["FORMATS", "XPT_ALIASES", "ReadResult", "read_table"]

log = logging.getLogger(__name__)

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

#: The only 8-character names accepted in XPT files for contract columns whose names are longer than 8 characters
#: (XPT version 5 cannot hold longer names). Matched case-insensitively; CDISC-like where a CDISC name exists.
XPT_ALIASES: dict[str, str] = {
    "PATID": "patient_id",
    "DIAG": "diagnosis",
    "CARTDT": "cart_infusion_date",
    "BMRESP": "bm_response",
    "EMDBL": "emd_at_baseline",
    "EMDRESP": "emd_response",
    "HSCT2DT": "second_hsct_date",
    "RELDT": "relapse_date",
    "DTHDT": "death_date",
    "LSTCNDT": "last_contact_date",
    "AGE": "age_years",
    "HSCT1DT": "first_hsct_date",
    "RELH1DT": "relapse_after_first_hsct_date",
    "DONORTYP": "donor_type",
    "DTHCAUS": "cause_of_death",
}

_SEPARATOR_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "an Excel workbook or other zip archive"),
    (b"PAR1", "a Parquet file"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or other Office file"),
    (b"%PDF", "a PDF document"),
    (b"HEADER RECORD", "a SAS transport (.xpt) file"),
)


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
    """

    table: pd.DataFrame
    path: Path
    format: str
    notes: list[str] = field(default_factory=list)


class _Cells:
    """Turns raw cell values into stripped text and counts what it changed (for the notes)."""

    def __init__(self) -> None:
        self.trimmed = 0
        self.dates = 0
        self.whole_floats = 0
        self.booleans = 0

    def text(self, value: object, *, bool_words: tuple[str, str] = ("TRUE", "FALSE")) -> str | None:
        if value is None or value is pd.NaT:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if isinstance(value, str):
            stripped = value.strip()
            if stripped != value:
                self.trimmed += 1
            return stripped or None
        if isinstance(value, bool | np.bool_):
            self.booleans += 1
            return bool_words[0] if value else bool_words[1]
        if isinstance(value, dt.datetime):  # includes pandas.Timestamp; before date, a datetime is a date
            if pd.isna(value):
                return None
            self.dates += 1
            if value.time() == dt.time(0, 0):
                return value.date().isoformat()
            return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
        if isinstance(value, dt.date):
            self.dates += 1
            return value.isoformat()
        if isinstance(value, np.datetime64):
            return self.text(pd.Timestamp(value))
        if isinstance(value, int | np.integer):
            return str(int(value))
        if isinstance(value, float | np.floating | Decimal):
            number = float(value)
            if math.isnan(number):
                return None
            if math.isfinite(number) and number == int(number) and abs(number) < 1e15:
                self.whole_floats += 1
                return str(int(number))
            return format(number, ".15g")
        return str(value).strip() or None

    def notes(self, date_source: str) -> list[str]:
        out = []
        if self.trimmed:
            out.append(f"trimmed surrounding spaces in {_count(self.trimmed, 'cell')}")
        if self.dates:
            out.append(f"read {_count(self.dates, date_source)} as dates (YYYY-MM-DD)")
        if self.whole_floats:
            out.append(
                f"wrote {_count(self.whole_floats, 'whole number')} without a decimal part (45.0 → 45)"
            )
        if self.booleans:
            out.append(f"read {_count(self.booleans, 'true/false cell')} as the words true/false")
        return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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
    if suffix not in FORMATS:
        supported = ", ".join(sorted(FORMATS))
        hint = _UNSUPPORTED_HINTS.get(suffix, f"supported file types are {supported}")
        kind = f"files ending in {suffix}" if suffix else "files without an extension"
        raise DataFileError(path, f"{kind} cannot be read", hint)
    if not path.exists():
        raise DataFileError(path, "the file does not exist", "check the name and the folder")
    if not path.is_file():
        raise DataFileError(path, "this is a folder, not a file")
    if path.stat().st_size == 0:
        raise DataFileError(path, "the file is empty (0 bytes)")
    fmt = FORMATS[suffix]
    if sheet is not None and fmt != "xlsx":
        raise DataFileError(path, f"a sheet ({sheet!r}) was given, but only Excel files have sheets")
    reader = {"csv": _read_csv, "xlsx": _read_xlsx, "parquet": _read_parquet, "xpt": _read_xpt}[fmt]
    header, rows, notes = reader(path, sheet) if fmt == "xlsx" else reader(path)
    table, more_notes = _assemble(path, header, rows)
    notes = notes + more_notes
    for note in notes:
        log.info("%s: %s", path.name, note)
    return ReadResult(table=table, path=path, format=fmt, notes=notes)


# ----------------------------------------------------------------------------------------------------------- CSV
def _read_csv(path: Path) -> tuple[list[object], list[tuple[int, Sequence[object]]], list[str]]:
    raw = path.read_bytes()
    notes: list[str] = []
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
        notes.append("read UTF-16 text (removed its byte-order mark)")
    else:
        _refuse_binary(path, raw, "a CSV text file")
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
            notes.append("removed a byte-order mark at the start of the file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = raw.decode("cp1252")
            except UnicodeDecodeError as exc:
                raise DataFileError(
                    path, "the file is not text in a known encoding", "save it as CSV UTF-8"
                ) from exc
            notes.append("read the file as Windows-1252 text (it is not UTF-8)")
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    separator = max((",", ";", "\t"), key=lambda s: (first_line.count(s), s == ","))
    if separator != ",":
        notes.append(f"columns are separated by {_SEPARATOR_NAMES[separator]}")
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True))
    except csv.Error as exc:
        raise DataFileError(
            path, f"the file is not valid CSV ({exc})", "check for unbalanced double quotes"
        ) from exc
    numbered = [(i, rec) for i, rec in enumerate(records, start=1)]
    if not any(any(cell.strip() for cell in rec) for _, rec in numbered):
        raise DataFileError(path, "the file contains only blank lines")
    while not any(cell.strip() for cell in numbered[0][1]):
        numbered.pop(0)
    header_row, header = numbered[0]
    if header_row > 1:
        notes.append(f"skipped {_count(header_row - 1, 'blank line')} before the column names")
    width = len(header)
    rows: list[tuple[int, Sequence[object]]] = []
    short = 0
    for number, rec in numbered[1:]:
        if len(rec) > width:
            extra = rec[width:]
            if any(cell.strip() for cell in extra):
                raise DataFileError(
                    path,
                    f"row {number} has {len(rec)} cells but the header has {width} columns",
                    f"a value that contains the separator ({separator!r}) must be in double quotes",
                )
            rec = rec[:width]
        elif len(rec) < width and any(cell.strip() for cell in rec):
            short += 1
            rec = rec + [""] * (width - len(rec))
        rows.append((number, rec))
    if short:
        notes.append(
            f"{_count(short, 'row')} had fewer cells than the header; the missing cells were read as blank"
        )
    return list(header), rows, notes


def _refuse_binary(path: Path, raw: bytes, expected: str) -> None:
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            raise DataFileError(path, f"this is {what}, not {expected}", "give the file its proper extension")
    if b"\x00" in raw[:65536]:
        raise DataFileError(path, f"the file contains binary data, not {expected}")


# ---------------------------------------------------------------------------------------------------------- Excel
def _read_xlsx(
    path: Path, sheet: str | int | None
) -> tuple[list[object], list[tuple[int, Sequence[object]]], list[str]]:
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
        records = [
            (number, values)
            for number, values in enumerate(worksheet.iter_rows(min_row=1, values_only=True), start=1)
        ]
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
    header_row = nonblank[0][0]
    if header_row > 1:
        notes.append(f"skipped {_count(header_row - 1, 'blank row')} above the column names")
    header = list(records[header_row - 1][1])
    rows = [(n, list(r)) for n, r in records[header_row:]]
    return header, rows, notes


def _quoted(names: Iterable[object]) -> str:
    return ", ".join(f'"{n}"' for n in names)


# -------------------------------------------------------------------------------------------------------- Parquet
def _read_parquet(path: Path) -> tuple[list[object], list[tuple[int, Sequence[object]]], list[str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _refuse_non_magic(path, b"PAR1", "a Parquet file")
    try:
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataFileError(path, f"this is not a readable Parquet file ({exc})") from exc
    notes = []
    index_columns = [name for name in arrow.column_names if name.startswith("__index_level_")]
    if index_columns:
        arrow = arrow.drop_columns(index_columns)
        notes.append("ignored the unnamed pandas index stored in the file")
    columns = [arrow.column(i).to_pylist() for i in range(arrow.num_columns)]
    rows = [(i + 2, [col[i] for col in columns]) for i in range(arrow.num_rows)]
    return list(arrow.column_names), rows, notes


def _refuse_non_magic(path: Path, magic: bytes, expected: str) -> None:
    with path.open("rb") as handle:
        start = handle.read(len(magic))
    if start != magic:
        raise DataFileError(path, f"the file is not {expected}", "give the file the extension of its format")


# ------------------------------------------------------------------------------------------------------------ XPT
def _read_xpt(path: Path) -> tuple[list[object], list[tuple[int, Sequence[object]]], list[str]]:
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
    rows = [(i + 2, list(values)) for i, values in enumerate(frame.itertuples(index=False, name=None))]
    return header, rows, notes


def _contract_names(names: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Map SAS variable names case-insensitively, or by :data:`XPT_ALIASES`, onto the contract's names."""
    by_lower = {c.name.lower(): c.name for c in schema.COLUMNS}
    aliases = {alias.lower(): name for alias, name in XPT_ALIASES.items()}
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


# ------------------------------------------------------------------------------------------------------- assemble
def _assemble(
    path: Path, header: list[object], rows: list[tuple[int, Sequence[object]]]
) -> tuple[pd.DataFrame, list[str]]:
    """Strip every cell, drop blank rows and unnamed empty columns, and check that there is a patient row."""
    notes: list[str] = []
    cells = _Cells()
    names: list[str] = []
    trimmed_names = 0
    for raw in header:
        name = "" if raw is None else str(raw)
        if name != name.strip():
            trimmed_names += 1
        names.append(name.strip())
    texts = [(number, [cells.text(v) for v in values]) for number, values in rows]
    texts = [(n, (v + [None] * len(names))[: len(names)]) for n, v in texts]
    kept = [(n, v) for n, v in texts if any(cell is not None for cell in v)]
    if len(kept) < len(texts) and kept:
        last = kept[-1][0]
        inner = sum(1 for n, v in texts if n < last and all(cell is None for cell in v))
        if inner:
            notes.append(f"ignored {_count(inner, 'blank row')} between patient rows")
    keep_columns = []
    unnamed = []
    for position, name in enumerate(names):
        has_values = any(v[position] is not None for _, v in kept)
        if name:
            keep_columns.append(position)
        elif has_values:
            letter = _column_letter(position)
            names[position] = f"column_{letter}"
            unnamed.append(names[position])
            keep_columns.append(position)
    if not keep_columns:
        raise DataFileError(path, "the first row holds no column names")
    if unnamed:
        notes.append(
            f"named {_count(len(unnamed), 'column')} without a name in the header: {', '.join(unnamed)}"
        )
    if not kept:
        raise DataFileError(
            path, "the file has column names but no patient rows", "add one row per patient below the header"
        )
    table = pd.DataFrame(
        [[v[i] for i in keep_columns] for _, v in kept],
        columns=[names[i] for i in keep_columns],
        index=pd.Index([n for n, _ in kept], name="row"),
        dtype=object,
    )
    date_source = {"xlsx": "Excel date cell", "xpt": "SAS date value"}.get(
        FORMATS[path.suffix.lower()], "date value"
    )
    notes = cells.notes(date_source) + notes
    if trimmed_names:
        notes.append(f"trimmed surrounding spaces in {_count(trimmed_names, 'column name')}")
    counts = Counter(table.columns)
    repeated = sorted(name for name, n in counts.items() if n > 1)
    if repeated:
        log.info("%s: repeated column names %s", path.name, repeated)
    return table, notes


def _column_letter(position: int) -> str:
    """Spreadsheet letter of a 0-based column position: 0 → A, 26 → AA."""
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
