"""Read a CSV file into raw columns of text: encoding, separator, blank lines and ragged rows.

The rules are those of Python's :mod:`csv` reader (``strict=True``), applied record by record in
:func:`_records_table`, which defines the behaviour. A regular file (no double quotes, no NUL character, every line
as wide as the header; what registries and statistics packages export) is parsed instead by pyarrow's CSV reader in
:func:`_regular_table`, many times faster; it gives the same result or, when it cannot prove that it would, hands
the file back to the record-by-record reader.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from cartreport.errors import DataFileError
from cartreport.read.cells import RawTable, columns_of, counted
from cartreport.read.header import refuse_names_below

__all__ = ["read_csv"]

_SEPARATOR_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "an Excel workbook or other zip archive"),
    (b"PAR1", "a Parquet file"),
    (b"\xd0\xcf\x11\xe0", "an old Excel (.xls) or other Office file"),
    (b"%PDF", "a PDF document"),
    (b"HEADER RECORD", "a SAS transport (.xpt) file"),
)


#: the longest first line read: the column names of a patient table are far shorter; a file without line breaks
#: (a binary file, a 1 GB line) is refused from its start instead of read whole
MAX_HEADER_BYTES = 1 << 22


def read_csv(path: Path) -> RawTable:
    """The header, numbered records and notes of a CSV file (UTF-8, UTF-16 or Windows-1252; commas, semicolons
    or tabs). Raises :class:`DataFileError` for a file that is not CSV text."""
    with path.open("rb") as handle:
        start = handle.read(MAX_HEADER_BYTES + 1)
    if len(start) > MAX_HEADER_BYTES and b"\n" not in start and b"\r" not in start:
        raise DataFileError(
            path,
            f"row 1 (the column names) is longer than {MAX_HEADER_BYTES:,} bytes",
            "a CSV file holds the column names on its first line and one patient on each line below",
        )
    del start
    text, notes, utf8 = _decode(path, path.read_bytes())
    first_line = _first_line(utf8 if text is None else text)
    separator = max((",", ";", "\t"), key=lambda s: (first_line.count(s), s == ","))
    if separator != ",":
        notes.append(f"columns are separated by {_SEPARATOR_NAMES[separator]}")
    raw = _regular_table(text.encode("utf-8") if utf8 is None else utf8, separator)
    if raw is None:
        text = utf8.decode("ascii") if text is None else text
        del utf8
        raw = _records_table(path, text, separator)
    return RawTable(raw.header, raw.numbers, raw.columns, notes + raw.notes)


def _first_line(text: str | bytes) -> str:
    """The first non-blank line of ``text`` (of ``text.splitlines()``; bytes: ASCII text), looking at its start
    first."""
    for size in (1 << 16, len(text)):
        window = text[:size]
        lines = (window.decode("ascii") if isinstance(window, bytes) else window).splitlines()
        complete = lines if size >= len(text) else lines[:-1]  # the last line of a window may go on after it
        line = next((line for line in complete if line.strip()), None)
        if line is not None or size >= len(text):
            return line or ""
    return ""  # pragma: no cover


def _decode(path: Path, raw: bytes) -> tuple[str | None, list[str], bytes | None]:
    """``(text, notes, utf8)``: the file's text, notes on its encoding, and the text's UTF-8 bytes when the file
    holds exactly them (a UTF-8 file, after any byte-order mark), so that pyarrow parses them without the text
    being encoded again (``None`` for UTF-16 and Windows-1252 files). The text of an ASCII file (most exports)
    is its bytes, decoded only when needed: ``text`` is then ``None``."""
    notes: list[str] = []
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DataFileError(
                path, "the file starts like UTF-16 text but is not", "save it as CSV UTF-8"
            ) from exc
        notes.append("read UTF-16 text (removed its byte-order mark)")
        return text, notes, None
    _refuse_binary(path, raw, "a CSV text file")
    if raw.isascii():
        return None, notes, raw
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        notes.append("removed a byte-order mark at the start of the file")
    try:
        return raw.decode("utf-8"), notes, raw
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise DataFileError(path, "the file is not text in a known encoding", "save it as CSV UTF-8") from exc
    notes.append("read the file as Windows-1252 text (it is not UTF-8)")
    return text, notes, None


def _refuse_binary(path: Path, raw: bytes, expected: str) -> None:
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            raise DataFileError(path, f"this is {what}, not {expected}", "give the file its proper extension")
    if b"\x00" in raw[:65536]:
        raise DataFileError(path, f"the file contains binary data, not {expected}")


def _records_table(path: Path, text: str, separator: str) -> RawTable:
    """The reference reader: :mod:`csv`, record by record (a record is a row; the header is record 1)."""
    notes: list[str] = []
    records: list[list[str]] = []
    try:
        records.extend(csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True))
    except csv.Error as exc:
        raise _invalid(path, len(records) + 1, exc) from None
    numbered = list(enumerate(records, start=1))
    if not any(any(cell.strip() for cell in rec) for _, rec in numbered):
        raise DataFileError(path, "the file contains only blank lines")
    while not any(cell.strip() for cell in numbered[0][1]):
        numbered.pop(0)
    header_row, header = numbered[0]
    if header_row > 1:
        notes.append(f"skipped {counted(header_row - 1, 'blank line')} before the column names")
    refuse_names_below(path, header, numbered[1:])  # a title line above the names: not a ragged row
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


def _invalid(path: Path, row: int, error: csv.Error) -> DataFileError:
    """The error for a file that :mod:`csv` refused at record ``row`` (the header is row 1)."""
    limit = csv.field_size_limit()
    if str(error) == "unexpected end of data":
        return DataFileError(
            path, f"row {row} opens a double quote that is never closed", "close it, or remove it"
        )
    if str(error).startswith("field larger than field limit"):
        return DataFileError(
            path,
            f"row {row} holds a cell longer than {limit:,} characters",
            f"check the double quotes of row {row} (a double quote never closed makes the rest of the file one cell)",
        )
    return DataFileError(
        path,
        f"row {row} is not valid CSV ({error})",
        "a value in double quotes must be followed by the separator",
    )


#: a column whose first rows are this nearly all different is an identifier: not worth dictionary-encoding
_SAMPLE_ROWS = 1_000


def _factorized(cells):
    """A column of pyarrow strings (a chunked array, as parsed) as ``(codes, values)`` with ``values[codes]`` its
    cells, the distinct values (dictionary-encoded); or, for a column of identifiers (its first rows nearly all
    different), the pyarrow cells as they are (:class:`~cartreport.read.cells.RawTable` strips them in pyarrow
    before they become Python strings)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    sample = cells.slice(0, _SAMPLE_ROWS)
    if len(sample) == _SAMPLE_ROWS and len(pc.unique(sample)) > 0.9 * _SAMPLE_ROWS:
        return cells
    encoded = cells.dictionary_encode().unify_dictionaries()  # every chunk's codes into one dictionary
    if not encoded.num_chunks:
        return np.zeros(0, dtype=np.int32), pa.array([], type=pa.string())
    codes = pa.chunked_array([chunk.indices for chunk in encoded.chunks], type=encoded.type.index_type)
    return codes.to_numpy(), encoded.chunk(0).dictionary


def _regular_table(utf8: bytes, separator: str) -> RawTable | None:
    """A regular file (its text as UTF-8 bytes, valid: the caller decoded or encoded them) parsed by pyarrow's CSV
    reader, or ``None`` when the file is not provably regular.

    Without double quotes, separators only separate, so pyarrow (quoting and escaping off, blank lines kept)
    splits lines and cells exactly as :mod:`csv` does; it refuses a line of another width than the header's, and
    the file is regular only when it holds exactly (header width - 1) separators per line. The header must be the
    first line and no cell may exceed :func:`csv.field_size_limit` (the reference reader refuses those). Each
    column comes factorized (``(codes, distinct)``, see :class:`RawTable`): a column of a million dates holds a
    few thousand distinct strings, converted once each.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as arrow_csv

    # in UTF-8 an ASCII character is its byte and no other character holds that byte: text is looked at as bytes
    if b'"' in utf8 or b"\x00" in utf8 or utf8.startswith("\ufeff".encode()):
        return None
    header_end = min((i for i in (utf8.find(b"\n"), utf8.find(b"\r")) if i >= 0), default=len(utf8))
    width = utf8.count(separator.encode(), 0, header_end) + 1
    names = [f"c{j}" for j in range(width)]
    try:
        arrow = arrow_csv.read_csv(
            pa.py_buffer(utf8),
            read_options=arrow_csv.ReadOptions(column_names=names),
            parse_options=arrow_csv.ParseOptions(
                delimiter=separator,
                quote_char=False,
                double_quote=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
            ),
            convert_options=arrow_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=False,  # valid already: ASCII, decoded from UTF-8, or encoded from the text
            ),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    if arrow.num_rows == 0 or utf8.count(separator.encode()) != (width - 1) * arrow.num_rows:
        return None
    header = [column[0].as_py() for column in arrow.columns]
    numbers = np.arange(2, arrow.num_rows + 1, dtype=np.int64)  # the header is row 1
    if not any(cell.strip() for cell in header):
        return None  # blank lines before the column names
    cells = [arrow.column(j).slice(1) for j in range(width)]
    encoded = [_factorized(column) for column in cells]
    cells.clear()
    limit = csv.field_size_limit()
    texts = [values[1] if isinstance(values, tuple) else values for values in encoded]
    if len(utf8) > limit and (  # no more characters than bytes: else no cell can be too long
        max(map(len, header)) > limit
        or any(pc.max(pc.utf8_length(values)).as_py() > limit for values in texts if len(values))
    ):
        return None
    texts.clear()
    columns = [
        (values[0], np.asarray(values[1].to_numpy(zero_copy_only=False), dtype=object))
        if isinstance(values, tuple)
        else values
        for values in encoded
    ]
    encoded.clear()
    del arrow
    pa.default_memory_pool().release_unused()  # the parsed text, which the pool would otherwise keep
    return RawTable(header, numbers, columns)
