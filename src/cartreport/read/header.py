"""Column names below the first row: a title or notes typed above the table, a common spreadsheet layout.

A CSV or Excel file is read with its first non-blank row as the column names. When a title line sits above the
real names, every required column then looks missing (or, in a CSV, the first patient row looks too wide), and
the user is told ten times that a column is missing that is plainly there. :func:`refuse_names_below` looks at
the next :data:`LOOK` rows and, when one of them holds more of the contract's required column names than the row
read as the header, refuses the file with one message that names that row. The file is never read from the lower
row silently: the rows above may be a second table, and the user decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from pathlib import Path

from cartreport.contract import schema
from cartreport.errors import DataFileError

__all__ = ["LOOK", "refuse_names_below"]

#: rows looked at below the one read as the column names
LOOK = 20
_REQUIRED = frozenset(name.casefold() for name in schema.REQUIRED_COLUMNS)


def _required_names(cells: Iterable[object]) -> int:
    """How many of the contract's required column names ``cells`` holds (any case, surrounding spaces ignored)."""
    return len({str(cell).strip().casefold() for cell in cells if cell is not None} & _REQUIRED)


def refuse_names_below(
    path: str | Path, header: Sequence[object], rows: Iterable[tuple[int, Sequence[object]]]
) -> None:
    """Raise :class:`~cartreport.errors.DataFileError` when one of the first :data:`LOOK` of ``rows`` (``(row
    number, cells)`` below the row read as the column names, in order) holds more required column names than
    ``header``; the row with the most is named.

    Examples
    --------
    >>> refuse_names_below("c.csv", ["Cohort export"], [(2, []), (3, ["patient_id", "diagnosis"])])
    Traceback (most recent call last):
    ...
    cartreport.errors.DataFileError: cannot read c.csv: the column names are on row 3, not on the first row; \
delete the 2 rows above them (a title or notes)
    >>> refuse_names_below("c.csv", ["patient_id", "diagnosis"], [(2, ["patient_id", "diagnosis"])])
    """
    have = _required_names(header)
    if have == len(_REQUIRED):
        return
    best: tuple[int, int] | None = None
    for number, cells in islice(rows, LOOK):
        found = _required_names(cells)
        if found > have and (best is None or found > best[1]):
            best = (number, found)
    if best is None:
        return
    number = best[0]
    above = number - 1
    raise DataFileError(
        path,
        f"the column names are on row {number}, not on the first row",
        f"delete the {above} row{'s' if above != 1 else ''} above them (a title or notes)",
    )
