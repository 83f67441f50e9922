"""Read a CSV file into raw columns of text: encoding, separator, blank lines and ragged rows.

The rules are those of Python's :mod:`csv` reader (``strict=True``), applied record by record in
:func:`_records_table`, which defines the behaviour. A regular file (no double quotes, no NUL character, every line
as wide as the header; what registries and statistics packages export) is parsed instead by pandas' C engine in
:func:`_regular_table`, several times faster; it gives the same result or, when it cannot prove that it would, hands
the file back to the record-by-record reader.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from cartreport.errors import DataFileError
from cartreport.read.cells import RawTable, columns_of, counted

__all__ = ["read_csv"]

_SEPARATOR_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "an Excel workbook or other zip archive"),
    (b"PAR1", "a Parquet file"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or other Office file"),
    (b"%PDF", "a PDF document"),
    (b"HEADER RECORD", "a SAS transport (.xpt) file"),
)


def read_csv(path: Path) -> RawTable:
    """The header, numbered records and notes of a CSV file (UTF-8, UTF-16 or Windows-1252; commas, semicolons
    or tabs). Raises :class:`DataFileError` for a file that is not CSV text."""
    text, notes = _decode(path, path.read_bytes())
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    separator = max((",", ";", "\t"), key=lambda s: (first_line.count(s), s == ","))
    if separator != ",":
        notes.append(f"columns are separated by {_SEPARATOR_NAMES[separator]}")
    raw = _regular_table(text, separator) or _records_table(path, text, separator)
    return RawTable(raw.header, raw.numbers, raw.columns, notes + raw.notes)


def _decode(path: Path, raw: bytes) -> tuple[str, list[str]]:
    notes: list[str] = []
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DataFileError(
                path, "the file starts like UTF-16 text but is not", "save it as CSV UTF-8"
            ) from exc
        notes.append("read UTF-16 text (removed its byte-order mark)")
        return text, notes
    _refuse_binary(path, raw, "a CSV text file")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        notes.append("removed a byte-order mark at the start of the file")
    try:
        return raw.decode("utf-8"), notes
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise DataFileError(path, "the file is not text in a known encoding", "save it as CSV UTF-8") from exc
    notes.append("read the file as Windows-1252 text (it is not UTF-8)")
    return text, notes


def _refuse_binary(path: Path, raw: bytes, expected: str) -> None:
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            raise DataFileError(path, f"this is {what}, not {expected}", "give the file its proper extension")
    if b"\x00" in raw[:65536]:
        raise DataFileError(path, f"the file contains binary data, not {expected}")


def _records_table(path: Path, text: str, separator: str) -> RawTable:
    """The reference reader: :mod:`csv`, record by record (a record is a row; the header is record 1)."""
    notes: list[str] = []
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True))
    except csv.Error as exc:
        raise DataFileError(
            path, f"the file is not valid CSV ({exc})", "check for unbalanced double quotes"
        ) from exc
    numbered = list(enumerate(records, start=1))
    if not any(any(cell.strip() for cell in rec) for _, rec in numbered):
        raise DataFileError(path, "the file contains only blank lines")
    while not any(cell.strip() for cell in numbered[0][1]):
        numbered.pop(0)
    header_row, header = numbered[0]
    if header_row > 1:
        notes.append(f"skipped {counted(header_row - 1, 'blank line')} before the column names")
    width = len(header)
    rows: list[list[str]] = []
    short = 0
    for number, rec in numbered[1:]:
        if len(rec) > width:
            if any(cell.strip() for cell in rec[width:]):
                raise DataFileError(
                    path,
                    f"row {number} has {len(rec)} cells but the header has {width} columns",
                    f"a value that contains the separator ({separator!r}) must be in double quotes",
                )
            rec = rec[:width]
        elif len(rec) < width and any(cell.strip() for cell in rec):
            short += 1
            rec = rec + [""] * (width - len(rec))
        rows.append(rec)
    if short:
        notes.append(
            f"{counted(short, 'row')} had fewer cells than the header; the missing cells were read as blank"
        )
    numbers = np.array([number for number, _ in numbered[1:]], dtype=np.int64)
    return RawTable(list(header), numbers, columns_of(rows, width), notes)


#: rows parsed at a time by the fast reader: the cells of one chunk exist as separate strings only until equal
#: cells are made to share one string (:func:`_shared`), which bounds the memory of reading a large file
_CHUNK_ROWS = 100_000


def _shared(cells: np.ndarray) -> np.ndarray:
    """The same cells, equal ones sharing one string object (a column of a million dates holds a few thousand)."""
    codes, distinct = pd.factorize(cells)
    return np.asarray(distinct, dtype=object)[codes]


def _regular_table(text: str, separator: str) -> RawTable | None:
    """A regular file parsed by pandas' C engine, or ``None`` when the file is not provably regular.

    Without double quotes, separators only separate, so the C engine splits lines and cells exactly as
    :mod:`csv` does. It pads short lines and refuses long ones; as it cannot say which lines it padded, the file is
    regular only when it holds exactly (header width - 1) separators per line. The header must be the first line
    and no cell may exceed :func:`csv.field_size_limit` (the reference reader refuses those).
    """
    if '"' in text or "\x00" in text or text.startswith("\ufeff"):
        return None
    try:
        chunks = pd.read_csv(
            io.BytesIO(text.encode("utf-8")),  # io.StringIO would hold 4 bytes per character
            encoding="utf-8",
            sep=separator,
            header=None,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_NONE,
            engine="c",
            chunksize=_CHUNK_ROWS,
        )
        parts = [
            [_shared(chunk.iloc[:, j].to_numpy(dtype=object)) for j in range(chunk.shape[1])]
            for chunk in chunks
        ]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    if not parts or len({len(part) for part in parts}) != 1:
        return None
    width = len(parts[0])
    columns = [np.concatenate([part[j] for part in parts]) for j in range(width)]
    parts.clear()
    if text.count(separator) != (width - 1) * len(columns[0]):
        return None
    if not any(column[0].strip() for column in columns):
        return None  # blank lines before the column names
    if len(text) > csv.field_size_limit() and any(
        max(map(len, column)) > csv.field_size_limit() for column in columns
    ):
        return None
    header = [column[0] for column in columns]
    numbers = np.arange(2, len(columns[0]) + 1, dtype=np.int64)
    return RawTable(header, numbers, [column[1:] for column in columns])
