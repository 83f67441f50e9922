"""What a workbook may hold before openpyxl reads it: the size its parts unpack to, and Excel's rows and columns.

An ``.xlsx`` file is a zip archive of XML parts, and openpyxl trusts them: it loads the shared strings whole, makes
every row up to the number a ``<row r="...">`` names and builds a row's cells in memory before it yields the row.
A file of a few kilobytes can therefore stand for gigabytes (a zip bomb, a row numbered 2,000,000,000, a row of
millions of cells). :func:`check_parts` measures the parts from the archive's directory, which bounds what can be
unpacked (:mod:`zipfile` stops at the size the directory declares); :func:`check_sheet` scans a sheet's rows with
expat, which keeps nothing, before openpyxl reads it. Each refusal is a
:class:`~cartreport.errors.DataFileError` naming the file, the part or sheet and the limit.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.parsers import expat

from cartreport.errors import DataFileError

__all__ = ["EXCEL_COLUMNS", "EXCEL_ROWS", "MAX_PART_BYTES", "MAX_RATIO", "check_parts", "check_sheet"]

#: Excel's limits: a sheet has at most 1,048,576 rows of 16,384 cells (column XFD)
EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384
#: most bytes one part of a workbook may unpack to (a sheet of a million patients is a few hundred megabytes)
MAX_PART_BYTES = 1 << 30
#: most times a part may unpack to its packed size: a workbook's parts unpack to 3-20 times, a zip bomb's to 1,000
#: (Apache POI refuses the same ratio, ``ZipSecureFile.setMinInflateRatio(0.01)``); parts below
#: :data:`_SMALL_PART` are not measured, whatever their ratio
MAX_RATIO = 100
_SMALL_PART = 1 << 20
_REOPEN = "open the file in Excel and save it again"


def check_parts(path: Path) -> None:
    """Refuse a workbook one of whose parts unpacks to more than :data:`MAX_PART_BYTES`, or (when it is larger
    than a megabyte) to more than :data:`MAX_RATIO` times its packed size. Nothing is unpacked."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # openpyxl says what is wrong with the archive
    for part in parts:
        if part.file_size > MAX_PART_BYTES:
            raise DataFileError(
                path,
                f"its part {part.filename} unpacks to {part.file_size:,} bytes, more than the "
                f"{MAX_PART_BYTES:,} bytes cartreport reads",
                "save the patient table on its own, or as .csv",
            )
        ratio = part.file_size // max(part.compress_size, 1)
        if part.file_size > _SMALL_PART and ratio > MAX_RATIO:
            raise DataFileError(
                path,
                f"its part {part.filename} unpacks to {part.file_size:,} bytes, {ratio:,} times its packed size "
                f"of {part.compress_size:,} bytes: a zip bomb, not a workbook",
                _REOPEN,
            )


def check_sheet(
    path: Path, archive: zipfile.ZipFile, member: str, sheet: str, rows: int | None = None
) -> None:
    """Refuse the sheet ``sheet`` (part ``member`` of ``archive``, the workbook ``path``) if a row is numbered
    beyond :data:`EXCEL_ROWS` or holds more than :data:`EXCEL_COLUMNS` cells, or if a cell holds a formula saved
    without its value; scan its first ``rows`` rows only when given. A part that is not XML is left to openpyxl,
    which says so.

    A formula without its value is what a program that does not calculate formulas writes (openpyxl and many
    export scripts: ``<f>2021-1993</f><v></v>``); openpyxl reads such a cell as blank, so a value would be lost
    without a word. Excel and LibreOffice save each formula's value (an empty text result as ``t="str"``). Only
    formula cells are followed to their end: a sheet without formulas costs nothing more to scan.
    """
    row = cells = 0
    enough = False  # the rows asked for were scanned
    cell = {"r": "", "t": "", "value": None}  # the formula cell being read

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal row, cells, enough
        if enough:
            return
        local = name.rpartition("}")[2]
        if local == "row":
            number = attrs.get("r", "")
            row = int(number) if number.isdigit() else row + 1  # openpyxl refuses any other number
            cells = 0
            if rows is not None and row > rows:
                enough = True
            if row > EXCEL_ROWS:
                _refuse(f"a row numbered {row:,}")
        elif local == "c":
            cells += 1
            if cells > EXCEL_COLUMNS:
                _refuse(f"more than {EXCEL_COLUMNS:,} cells in row {row:,}")
            cell.update(r=attrs.get("r", ""), t=attrs.get("t", ""), value=None)
        elif local == "f" and rows is None:
            # a formula in the sheet read (not in another sheet's first rows, looked at for a hint): follow this
            # cell to its end
            parser.EndElementHandler = end
        elif local == "v" and parser.EndElementHandler is not None:
            cell["value"] = ""
            parser.CharacterDataHandler = text

    def text(data: str) -> None:
        cell["value"] += data

    def end(name: str) -> None:
        local = name.rpartition("}")[2]
        if local == "v":
            parser.CharacterDataHandler = None
        elif local == "c":
            parser.EndElementHandler = None
            if cell["value"] is None or (not cell["value"] and cell["t"] != "str"):
                where = f"cell {cell['r']}" if cell["r"] else f"a cell in row {row:,}"
                raise DataFileError(
                    path,
                    f"{where} of the sheet {sheet!r} holds a formula saved without its value (the file was "
                    "written by a program that does not calculate formulas)",
                    _REOPEN,
                )

    def _refuse(what: str) -> None:
        raise DataFileError(
            path,
            f"the sheet {sheet!r} has {what}, beyond Excel's {EXCEL_ROWS:,} rows of {EXCEL_COLUMNS:,} cells",
            _REOPEN,
        )

    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = start
    try:
        with archive.open(member) as source:
            while not enough and (chunk := source.read(1 << 16)):
                parser.Parse(chunk, False)
    except (expat.ExpatError, zipfile.BadZipFile, OSError, KeyError, EOFError):
        return
