"""Check a patient table against the data contract and report every problem at once.

:func:`validate_file` reads a file (:func:`cartreport.read.table.read_table`) and validates it; :func:`validate_table`
validates a table already read. Both return a :class:`ValidationReport`: every :class:`Problem` (never only the
first), the normalised table ready for :func:`cartreport.contract.coerce.coerce` when there is no problem, and notes on what
was normalised. Nothing is raised for invalid data; call :meth:`ValidationReport.raise_for_problems` to turn the
problems into a :class:`~cartreport.errors.CohortError`.

How it checks:

* per-column rules (blank cells, dates, allowed values, numbers, unique ``patient_id``, required columns) are a
  pandera schema built from :data:`cartreport.contract.schema.COLUMNS` by :func:`build_schema`, run with ``lazy=True``
  (:mod:`cartreport.contract.column_rules`);
* rules between columns (EMD response, the order of dates, the data cut-off) are masks over whole columns
  (:mod:`cartreport.contract.between_columns`);
* columns that look like direct identifiers are refused by name; their values are never shown
  (:mod:`cartreport.contract.identifiers`).

Before checking, yes/no cells written ``yes/no/true/false/y/n/t/f/1/0`` in any case become ``yes``/``no``, and
category cells that match an allowed value except for upper/lower case take its canonical spelling; each such
normalisation is recorded in the notes. Dates are accepted only as ``YYYY-MM-DD`` (Excel, Parquet and SAS date
cells are converted by :mod:`cartreport.read.table`); a date in another form is reported, never guessed.

Rule ids (:data:`RULES`) are stable: tests, the CLI and users' scripts may rely on them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from cartreport.contract import schema
from cartreport.contract.between_columns import date_days, date_order_problems, emd_problems
from cartreport.contract.column_rules import (
    build_schema,
    coded_view,
    distinct_id_keys,
    near_duplicate_id_problems,
    placeholder_problems,
    schema_problems,
    unshowable_problems,
)
from cartreport.contract.identifiers import IDENTIFIER_HINT, IDENTIFIER_MESSAGE, looks_like_identifier
from cartreport.contract.problems import RULES, Problem, bounded, clipped, column_problem, total
from cartreport.contract.transplant_rules import transplant_problems
from cartreport.errors import CohortError
from cartreport.formatting import counted
from cartreport.read.cells import stripped, stripped_text
from cartreport.read.table import ReadResult, patients_sheet, read_table

__all__ = [
    "RULES",
    "Problem",
    "ValidationReport",
    "build_schema",
    "looks_like_identifier",
    "summary_line",
    "validate_file",
    "validate_table",
]

log = logging.getLogger(__name__)

_NAMED = 10  # the columns carried along that a note names; the rest are counted


@dataclass(frozen=True, eq=False)
class ValidationReport:
    """Everything validation found.

    Attributes
    ----------
    problems : every problem, sorted by row (column problems first) then by the column's position in the file.
    table : the normalised table (strings, canonical codes, extra columns carried along; index = spreadsheet row
        numbers), ready for :func:`cartreport.contract.coerce.coerce`; ``None`` when there is any problem.
    notes : what reading and validation normalised, in plain words.
    path : the file validated, if any.
    n_rows : number of patient rows.
    required_present : how many of the contract's required columns are present.
    factorized : columns of ``table`` factorized, ``{name: (codes, values)}`` with ``values[codes]`` the cells
        (code -1 blank), ``values`` each distinct text once: what reading and validation found, handed to
        :func:`cartreport.contract.coerce.coerce` so that it converts each distinct value without hashing the
        cells again. Empty when there is a problem.
    """

    problems: list[Problem]
    table: pd.DataFrame | None
    notes: list[str]
    path: Path | None = None
    n_rows: int = 0
    required_present: int = 0
    factorized: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def valid(self) -> bool:
        """``True`` when there is no problem."""
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise :class:`~cartreport.errors.CohortError` carrying every problem, if there is any."""
        if self.problems:
            raise CohortError(self.path or Path("table"), self.problems)


def validate_file(
    path: str | Path, sheet: str | int | None = None, data_cutoff: dt.date | None = None
) -> ValidationReport:
    """Read a patient file and validate it.

    Parameters
    ----------
    path : CSV, Excel, Parquet or SAS XPT file (see :mod:`cartreport.read.table`).
    sheet : Excel only: sheet name or 0-based position.
    data_cutoff : when given, every date after it is a problem (``after-cutoff``).

    Returns
    -------
    ValidationReport

    Raises
    ------
    DataFileError
        the file cannot be read as a table (missing, empty, header only, wrong format).
    """
    return validate_table(read_table(path, sheet=sheet), data_cutoff=data_cutoff)


def validate_table(
    read: ReadResult, data_cutoff: dt.date | None = None, today: dt.date | None = None
) -> ValidationReport:
    """Validate a table read by :func:`cartreport.read.table.read_table` against the data contract.

    Parameters
    ----------
    read : the table as read; cells are strings or ``None``. If its index is not named ``row`` (a table not made
        by :func:`~cartreport.read.table.read_table`), rows are numbered 2, 3, ... as if under a header row.
    data_cutoff : when given, every date after it is a problem (``after-cutoff``).
    today : every date after it is a problem (``future-date``); the day of the run by default.

    Returns
    -------
    ValidationReport
        every problem at once (at most :data:`~cartreport.contract.problems.MAX_PER_RULE` lines per rule, the rest
        counted in one line); the normalised table only when there is none.

    Examples
    --------
    >>> from cartreport.read.table import ReadResult
    >>> row = {"patient_id": "P01", "diagnosis": "T-ALL", "cart_infusion_date": "2021-03-04",
    ...        "bm_response": "mrd-negative cr", "emd_at_baseline": "FALSE", "emd_response": None,
    ...        "second_hsct_date": None, "relapse_date": None, "death_date": None,
    ...        "last_contact_date": "2022-01-31"}
    >>> report = validate_table(ReadResult(pd.DataFrame([row]), Path("data.csv"), "csv"))
    >>> report.valid, report.table.loc[2, "bm_response"], report.table.loc[2, "emd_at_baseline"]
    (True, 'MRD-negative CR', 'no')
    >>> summary_line(report)
    'data.csv: 1 patient, 10 required columns present, valid.'
    """
    table = _as_text(read.table, cleaned=read.cleaned)
    known = read.factorized if read.cleaned else {}  # the distinct values reading found, by column
    notes = list(read.notes)
    problems: list[Problem] = []

    # whole columns: repeated names, direct identifiers (values dropped before anything can show them)
    counts = Counter(table.columns)
    for name in sorted(n for n, c in counts.items() if c > 1):
        message = f"{counts[name]} columns are named {clipped(name)}"
        problems.append(
            column_problem(name, "duplicate-column", message, "keep one and rename or delete the others")
        )
    if table.columns.duplicated().any():
        table = table.loc[:, ~table.columns.duplicated()]
    identifying = [name for name in table.columns if looks_like_identifier(name)]
    for name in identifying:
        problems.append(column_problem(name, "direct-identifier", IDENTIFIER_MESSAGE, IDENTIFIER_HINT))
    if identifying:
        table = table.drop(columns=identifying)
    extra = [n for n in table.columns if n not in {c.name for c in schema.COLUMNS}]
    if extra:
        names = ", ".join(clipped(n) for n in extra[:_NAMED])
        more = f" and {len(extra) - _NAMED:,} more" if len(extra) > _NAMED else ""
        notes.append(f"carried along {len(extra)} column(s) not in the data contract: {names}{more}")

    table, normalised, factorized = _normalise_codes(table, known)
    notes.extend(normalised)
    factorized = {**known, **factorized}  # the columns' distinct values, as reading found them or normalised
    coded = coded_view(table, factorized)  # the checked columns' distinct values, found once
    keys_distinct = distinct_id_keys(table)  # no near-duplicate id, and no id repeated
    problems.extend(unshowable_problems(table, coded))
    problems.extend(placeholder_problems(table, coded))
    problems.extend(_on_another_sheet(schema_problems(table, coded, ids_unique=keys_distinct), read))
    problems.extend(near_duplicate_id_problems(table, keys_distinct))
    problems.extend(emd_problems(table))
    days = date_days(coded)  # every date as a day number, once for both kinds of rules between columns
    problems.extend(date_order_problems(table, data_cutoff, today, days))
    problems.extend(transplant_problems(table, days))
    problems = [replace(p, file=read.path.name) for p in problems]

    position = {name: i for i, name in enumerate(str(c).strip() for c in read.table.columns)}
    position.update(
        {c.name: len(position) + i for i, c in enumerate(schema.COLUMNS) if c.name not in position}
    )
    problems.sort(
        key=lambda p: (p.folded, p.row or 0, position.get(p.column or "", len(position) + 99), p.rule)
    )
    problems = bounded(problems)  # at most MAX_PER_RULE per rule, the rest counted
    present = sum(1 for name in schema.REQUIRED_COLUMNS if name in table.columns)
    report = ValidationReport(
        problems=problems,
        table=None if problems else table,
        notes=notes,
        path=read.path,
        n_rows=len(table),
        required_present=present,
        factorized={}
        if problems
        else {name: factorized[name] for name in table.columns if name in factorized},
    )
    log.info("%s", summary_line(report))
    return report


def summary_line(report: ValidationReport) -> str:
    """One line about a validation, e.g. ``data.csv: 16 patients, 10 required columns present, valid.``"""
    name = report.path.name if report.path else "table"
    patients = counted(report.n_rows, "patient")
    required = len(schema.REQUIRED_COLUMNS)
    present = (
        f"{report.required_present}"
        if report.required_present == required
        else f"{report.required_present} of {required}"
    )
    if report.valid:
        return f"{name}: {patients}, {present} required columns present, valid{_made_up(report.table)}."
    return f"{name}: {patients}, {present} required columns present, {counted(total(report.problems), 'problem')}."


def _made_up(table) -> str:
    """``"; 3 rows are synthetic, not patient records (column data_origin)"`` for rows cartreport made up
    (:func:`~cartreport.contract.schema.origin_counts`); ``""`` for patient records."""
    counts = schema.origin_counts(table) if table is not None else {}
    made = schema.made_up(counts)
    if not made:
        return ""
    total = sum(made.values())
    are = "is" if total == 1 else "are"
    if len(made) > 1:
        what = f"{counted(total, 'row')} {are} made up ({schema.made_up_words(counts)})"
    else:
        kind = "a reconstruction" if "reconstruction" in made else "synthetic"
        what = f"{counted(total, 'row')} {are} {kind}"
    return f"; {what}, not patient records (column data_origin)"


def _on_another_sheet(problems: list[Problem], read: ReadResult) -> list[Problem]:
    """The missing-column problems replaced by one line naming the sheet that has the columns, when the workbook
    was read from its first sheet and another sheet holds more of the required columns."""
    missing = [p for p in problems if p.rule == "required-column"]
    if not missing or not read.other_sheets:
        return problems
    where = patients_sheet(read.other_sheets, have=len(schema.REQUIRED_COLUMNS) - len(missing))
    if where is None:
        return problems
    message = f"the first sheet lacks {len(missing)} required columns; {where}"
    hint = "or move that sheet to the front of the workbook"
    line = Problem(None, None, None, None, "wrong-sheet", message, hint)
    return [line, *(p for p in problems if p.rule != "required-column")]


# ------------------------------------------------------------------------------------------- normalisation
def _as_text(table: pd.DataFrame, cleaned: bool = False) -> pd.DataFrame:
    """Copy with string column names, cells as stripped strings or ``None``, and spreadsheet row numbers.

    A cell is ``None`` when it is ``None``, a missing-value marker (``NaN``, ``NaT``, ``pd.NA``) or only spaces;
    any other value becomes ``str(value).strip()``. A table ``cleaned`` by :func:`cartreport.read.table.read_table`
    already is so: only its column names and index are checked."""
    out = table.astype(object) if len(table.columns) and not cleaned else table.copy(deep=False)
    out.columns = [str(c).strip() for c in out.columns]
    if out.index.name != "row" or not out.index.is_unique:
        out.index = pd.RangeIndex(2, len(out) + 2, name="row")
    if not len(out.columns) or cleaned:
        return out
    body = np.empty(out.shape, dtype=object)
    for j in range(out.shape[1]):
        body[:, j] = _stripped_text(out.iloc[:, j].to_numpy(dtype=object))
    return pd.DataFrame(body, index=out.index, columns=out.columns, dtype=object)


def _stripped_text(values: np.ndarray) -> np.ndarray:
    """``None`` for missing values, else ``str(value).strip()``, and ``None`` for an empty result (text cells by
    the one rule of :func:`cartreport.read.cells.stripped_text`)."""
    cleaned = stripped_text(values)
    if cleaned is not None:
        return cleaned[0]
    missing = pd.isna(values)
    present = values[~missing]
    out = np.full(len(values), None, dtype=object)
    out[~missing] = np.fromiter(
        (stripped(str(v)) for v in present.tolist()), dtype=object, count=len(present)
    )
    return out


def _normalise_codes(
    table: pd.DataFrame, known: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
) -> tuple[pd.DataFrame, list[str], dict[str, tuple]]:
    """Yes/no words → ``yes``/``no``; codes differing only in case → canonical spelling. Returns notes, and each
    normalised column factorized, ``{name: (codes, distinct values)}`` (code -1: blank). ``known``: columns
    factorized already (by reading), used instead of factorizing their cells again."""
    table = table.copy(deep=False)  # columns are replaced, never written into
    notes = []
    factorized: dict[str, tuple] = {}
    for spec in schema.COLUMNS:
        if spec.name not in table.columns or not spec.values:
            continue
        if spec.kind == "yes/no":
            lookup = {w: "yes" for w in schema.TRUE_WORDS} | {w: "no" for w in schema.FALSE_WORDS}
        else:
            lookup = {v.lower(): v for v in spec.values}
        if known and spec.name in known:
            codes, spellings = known[spec.name]
        else:
            codes, spellings = pd.factorize(table[spec.name].to_numpy(dtype=object))  # None → code -1
        canonical = [lookup.get(value.lower(), value) for value in spellings]
        if canonical == list(spellings):  # every cell spelled as the contract does: the column as it is
            factorized[spec.name] = (codes, np.asarray(spellings, dtype=object))
            continue
        counts = np.bincount(codes[codes >= 0], minlength=len(spellings))
        changed: dict[str, Counter[str]] = {}
        for value, new, count in zip(spellings, canonical, counts, strict=True):
            if new != value:
                changed.setdefault(new, Counter())[value] += int(count)
        table[spec.name] = pd.Series(
            np.array([*canonical, None], dtype=object)[codes], index=table.index, dtype=object
        )
        merged, distinct = pd.factorize(np.array(canonical, dtype=object))  # spellings read as one code
        factorized[spec.name] = (np.append(merged, -1)[codes], distinct)
        if changed:
            parts = [
                f"{'/'.join(f'`{s}`' for s in sorted(spellings))} as `{new}` ({_cells(sum(spellings.values()))})"
                for new, spellings in sorted(changed.items())
            ]
            notes.append(f"{spec.name}: read " + " and ".join(parts))
    return table, notes, factorized


def _cells(n: int) -> str:
    return counted(n, "cell")
