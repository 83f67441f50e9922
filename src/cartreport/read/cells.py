"""From raw cell values to a table of stripped text: what :func:`cartreport.read.table.read_table` does after reading.

Every reader of :mod:`cartreport.read.table` hands over a :class:`RawTable` (the header cells, the spreadsheet row number of
every record and one column of raw values per position); :func:`assemble` turns it into the table the validator
sees: every cell a stripped ``str`` or ``None``, blank rows dropped, unnamed empty columns dropped, and a note for
each kind of normalisation.

Text columns (every cell a ``str`` or ``None``: all of a CSV file, most of any file) are converted column by column
with vectorised string operations; columns holding other values (numbers, dates, true/false cells) cell by cell with
:meth:`CellText.text`, which defines the conversion.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from cartreport.errors import DataFileError
from cartreport.formatting import counted

__all__ = [
    "WHITE_SPACE",
    "CellText",
    "RawTable",
    "assemble",
    "code_dtype",
    "column_letter",
    "columns_of",
    "counted",
    "stripped",
    "stripped_arrow",
    "stripped_distinct",
    "stripped_factorized",
    "stripped_text",
]


@dataclass(frozen=True)
class RawTable:
    """A table as a reader found it, before any cell is converted.

    Attributes
    ----------
    header : the header row's cells, as read.
    numbers : the spreadsheet row number of each record below the header (header = row 1).
    columns : one object array per cell position, each as long as ``numbers``; there may be more or fewer
        positions than header cells (cells beyond the header are dropped, missing ones are blank). A column of
        text may instead be given *factorized*, as ``(codes, distinct)`` with ``distinct[codes]`` its cells (code
        -1 a missing cell), the form :func:`pandas.factorize` gives: each distinct value is then converted once
        (``distinct`` may repeat a value); or, a column of text whose cells are nearly all different (e.g.
        identifiers), as pyarrow strings (a ``pyarrow.Array`` or ``ChunkedArray``, no cell missing), stripped by
        pyarrow (:func:`stripped_arrow`) before they become Python strings.
    notes : what the reader normalised, in plain words.
    """

    header: list[object]
    numbers: np.ndarray
    columns: list[np.ndarray | tuple[np.ndarray, np.ndarray] | object]
    notes: list[str] = field(default_factory=list)


def columns_of(records: Sequence[Sequence[object]], width: int = 0) -> list[np.ndarray]:
    """Column arrays of row-wise records of any lengths (a short record is blank in its missing positions): at
    least ``width`` columns, more if a record is longer."""
    width = max(width, *(len(r) for r in records)) if records else width
    return [
        np.fromiter((r[j] if j < len(r) else None for r in records), dtype=object, count=len(records))
        for j in range(width)
    ]


#: missing-value markers that :meth:`CellText.text` reads as a blank cell (``pd.NA`` is read as the text ``<NA>``)
_BLANK_KINDS = frozenset({type(None), float, type(pd.NaT)})


def stripped(text: str) -> str | None:
    """The one rule for a text cell, wherever cartreport reads one: stripped of surrounding white space
    (``str.strip``), ``None`` (blank) when nothing is left.

    >>> stripped("  P01 "), stripped("   ")
    ('P01', None)
    """
    return text.strip() or None


def stripped_text(
    values: np.ndarray, missing_kinds: frozenset[type] | None = None
) -> tuple[np.ndarray, int] | None:
    """The one rule for text cells: each ``str`` stripped of surrounding white space (``str.strip``), ``None``
    where that leaves nothing or where the cell is missing (``None``, ``NaN``, ``NaT``, ``pd.NA``).

    Returns the cleaned object array and how many cells stripping changed, or ``None`` when a present cell is not
    a ``str`` (or, with ``missing_kinds``, a missing cell is not of one of those types): the caller converts such
    a column by its own rule. Columnar: each *distinct* value is stripped once (a registry has few distinct dates
    and codes) and equal cells share one string object, which also bounds the memory of a large table.

    >>> texts, trimmed = stripped_text(np.array([" P01 ", "P01", "  ", None], dtype=object))
    >>> texts.tolist(), trimmed
    (['P01', 'P01', None, None], 2)
    """
    if len(values) and pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return None
    codes, distinct = pd.factorize(values)  # every missing marker → code -1
    missing = codes < 0
    if missing_kinds is not None and missing.any() and not set(map(type, values[missing])) <= missing_kinds:
        return None
    return stripped_distinct(codes, np.asarray(distinct, dtype=object))[:2]


def stripped_distinct(codes: np.ndarray, distinct: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """:func:`stripped_text` of a factorized text column (``distinct`` its distinct ``str`` values, ``codes`` each
    cell's position in ``distinct``, -1 where missing), each distinct value stripped once; and, third, whether
    each cell holds text (is not ``None``)."""
    texts, trimmed = _stripped_each(codes, distinct)
    cells = np.empty(len(distinct) + 1, dtype=object)  # the last entry (None) for code -1
    cells[:-1] = texts
    present = np.append(np.fromiter((t is not None for t in texts), bool, len(texts)), False)
    return cells[codes], trimmed, present[codes]


def stripped_factorized(codes: np.ndarray, distinct: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`stripped_distinct` of a factorized text column, given factorized: ``(codes, values, trimmed)``
    with ``values`` each stripped text once (``str``; spellings that differ only in surrounding spaces are one
    value) and ``values[codes]`` the column's cells, code -1 where blank; ``codes`` of the smallest integer type
    that holds them. Reading hands this on, so that validation and coercion do not hash the cells again (a
    column of a million dates has a few thousand distinct ones)."""
    texts, trimmed = _stripped_each(codes, distinct)
    merged, values = pd.factorize(np.array(texts, dtype=object))  # None → -1
    lookup = np.append(merged, -1).astype(code_dtype(len(values)))  # code -1 (missing) stays -1
    return lookup[codes], np.asarray(values, dtype=object), trimmed


#: the characters ``str.strip()`` removes (those ``str.isspace()`` accepts), for pyarrow's ``utf8_trim``
WHITE_SPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def stripped_arrow(cells) -> tuple[np.ndarray, int, np.ndarray]:
    """:func:`stripped_distinct` of a text column given as pyarrow strings (``cells``, none missing): the same
    ``(texts, trimmed, present)``, each cell stripped by pyarrow (``utf8_trim`` of :data:`WHITE_SPACE`, which is
    :func:`stripped`) and then made a Python string once. A column of a million identifiers is stripped at once,
    not one string at a time."""
    import pyarrow.compute as pc

    texts = pc.utf8_trim(cells, WHITE_SPACE)
    lengths = pc.binary_length(texts)  # UTF-8 bytes: 0 for a blank cell
    trimmed = pc.sum(pc.not_equal(lengths, pc.binary_length(cells))).as_py() or 0
    present = np.asarray(pc.greater(lengths, 0).to_numpy(zero_copy_only=False), dtype=bool)
    texts = np.asarray(texts.to_numpy(zero_copy_only=False), dtype=object)
    texts[~present] = None
    return texts, int(trimmed), present


def code_dtype(n: int) -> np.dtype:
    """The smallest signed integer type of the codes of ``n`` distinct values (and -1), as pandas keeps a
    categorical's codes."""
    return np.dtype(next(t for t in (np.int8, np.int16, np.int32, np.int64) if n < np.iinfo(t).max))


def _stripped_each(codes: np.ndarray, distinct: np.ndarray) -> tuple[list[str | None], int]:
    """Each of ``distinct`` stripped (:func:`stripped`), and how many cells of the column (``codes``) that
    changed."""
    texts = [stripped(value) for value in distinct.tolist()]
    changed = np.fromiter(
        ((t or "") != v for t, v in zip(texts, distinct.tolist(), strict=True)), bool, len(distinct)
    )
    if not changed.any():
        return texts, 0
    return texts, int(np.bincount(codes[codes >= 0], minlength=len(distinct))[changed].sum())


class CellText:
    """Turns raw cell values into stripped text and counts what it changed (for the notes)."""

    def __init__(self) -> None:
        self.trimmed = 0
        self.dates = 0
        self.whole_floats = 0
        self.booleans = 0

    def column(self, values: np.ndarray | tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """The text of every cell of one column (an object array, or a factorized text column ``(codes,
        distinct)`` of :class:`RawTable`), as :meth:`text` would give it cell by cell."""
        if isinstance(values, tuple):
            texts, trimmed, _ = stripped_distinct(*values)
            self.trimmed += trimmed
            return texts
        values = np.asarray(values, dtype=object)
        cleaned = stripped_text(values, missing_kinds=_BLANK_KINDS)
        if cleaned is None:
            return np.fromiter((self.text(v) for v in values), dtype=object, count=len(values))
        texts, trimmed = cleaned
        self.trimmed += trimmed
        return texts

    def text(self, value: object, *, bool_words: tuple[str, str] = ("TRUE", "FALSE")) -> str | None:
        """The text of one cell: ``None`` when blank; dates as ``YYYY-MM-DD``; whole numbers without ``.0``."""
        if value is None or value is pd.NaT:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        if isinstance(value, str):
            text = stripped(value)
            if (text or "") != value:
                self.trimmed += 1
            return text
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
        return stripped(str(value))

    def notes(self, date_source: str) -> list[str]:
        out = []
        if self.trimmed:
            out.append(f"trimmed surrounding spaces in {counted(self.trimmed, 'cell')}")
        if self.dates:
            out.append(f"read {counted(self.dates, date_source)} as dates (YYYY-MM-DD)")
        if self.whole_floats:
            out.append(
                f"wrote {counted(self.whole_floats, 'whole number')} without a decimal part (45.0 → 45)"
            )
        if self.booleans:
            out.append(f"read {counted(self.booleans, 'true/false cell')} as the words true/false")
        return out


def assemble(
    path: Path, raw: RawTable, date_source: str
) -> tuple[pd.DataFrame, list[str], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Strip every cell, drop blank rows and unnamed empty columns, and check that there is a patient row.

    Returns the table (index: spreadsheet row numbers, named ``row``), the notes on what was normalised, after
    ``raw.notes``, and the columns that came factorized with fewer distinct values than cells (of a CSV file, all
    but a column of identifiers) as :func:`stripped_factorized` gives them, ``{name: (codes, values)}`` (a
    repeated name: its first column, the one validation keeps). ``date_source`` names what a date cell is in the
    notes, e.g. ``"Excel date cell"``.
    """
    notes: list[str] = []
    cells = CellText()
    names: list[str] = []
    trimmed_names = 0
    for header_cell in raw.header:
        name = "" if header_cell is None else str(header_cell)
        if name != name.strip():
            trimmed_names += 1
        names.append(name.strip())
    n = len(raw.numbers)
    texts, present = [], []
    coded: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # position → factorized stripped text
    for position, values in enumerate(raw.columns[: len(names)]):
        if isinstance(values, tuple) and len(values[1]) < len(values[0]):  # factorized text, values repeat
            codes, distinct, trimmed = stripped_factorized(*values)
            cells.trimmed += trimmed
            coded[position] = (codes, distinct)
            column, filled = np.append(distinct, None)[codes], codes >= 0  # code -1: the last entry, None
        elif isinstance(values, tuple):  # factorized text, every cell its own value
            column, trimmed, filled = stripped_distinct(*values)
            cells.trimmed += trimmed
        elif not isinstance(values, np.ndarray):  # pyarrow strings: a column of identifiers
            column, trimmed, filled = stripped_arrow(values)
            cells.trimmed += trimmed
        else:
            column = cells.column(values)
            filled = pd.notna(column)  # str or None
        texts.append(column)
        present.append(filled)
    texts += [np.full(n, None, dtype=object) for _ in range(len(names) - len(texts))]
    present += [np.zeros(n, dtype=bool) for _ in range(len(names) - len(present))]
    kept = np.zeros(n, dtype=bool)  # the rows with a cell of text
    for filled in present:
        kept |= filled
    if kept.any() and not kept.all():
        last = raw.numbers[kept][-1]
        inner = int(np.count_nonzero(~kept & (raw.numbers < last)))
        if inner:
            notes.append(f"ignored {counted(inner, 'blank row')} between patient rows")
    keep_columns = []
    unnamed = []
    for position, name in enumerate(names):
        if name:
            keep_columns.append(position)
        elif present[position][kept].any():
            names[position] = f"column_{column_letter(position)}"
            unnamed.append(names[position])
            keep_columns.append(position)
    present.clear()
    if not keep_columns:
        raise DataFileError(path, "the first row holds no column names")
    if unnamed:
        notes.append(
            f"named {counted(len(unnamed), 'column')} without a name in the header: {', '.join(unnamed)}"
        )
    if not kept.any():
        raise DataFileError(
            path, "the file has column names but no patient rows", "add one row per patient below the header"
        )
    every = bool(kept.all())
    body = {j: texts[position] if every else texts[position][kept] for j, position in enumerate(keep_columns)}
    texts.clear()
    table = pd.DataFrame(body, index=pd.Index(raw.numbers[kept], name="row"), dtype=object, copy=False)
    table.columns = [names[i] for i in keep_columns]  # names may repeat (validation reports it)
    factorized: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    first_position: dict[str, int] = {}
    for position in keep_columns:
        first_position.setdefault(names[position], position)
    for name, position in first_position.items():
        if position in coded:
            codes, distinct = coded[position]
            factorized[name] = (codes if every else codes[kept], distinct)
    notes = raw.notes + cells.notes(date_source) + notes
    if trimmed_names:
        notes.append(f"trimmed surrounding spaces in {counted(trimmed_names, 'column name')}")
    return table, notes, factorized


def column_letter(position: int) -> str:
    """Spreadsheet letter of a 0-based column position: 0 → A, 26 → AA."""
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters
