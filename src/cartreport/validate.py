"""Check a patient table against the data contract and report every problem at once.

:func:`validate_file` reads a file (:func:`cartreport.io.read_table`) and validates it; :func:`validate_table`
validates a table already read. Both return a :class:`ValidationReport`: every :class:`Problem` (never only the
first), the normalised table ready for :func:`cartreport.schema.coerce` when there is no problem, and notes on what
was normalised. Nothing is raised for invalid data; call :meth:`ValidationReport.raise_for_problems` to turn the
problems into a :class:`~cartreport.errors.CohortError`.

How it checks:

* per-column rules (blank cells, dates, allowed values, numbers, unique ``patient_id``, required columns) are a
  pandera schema built from :data:`cartreport.schema.COLUMNS` by :func:`build_schema`, run with ``lazy=True``;
* rules between columns (EMD response, the order of dates, the data cut-off) are plain pandas;
* columns that look like direct identifiers are refused by name; their values are never shown.

Before checking, yes/no cells written ``yes/no/true/false/y/n/t/f/1/0`` in any case become ``yes``/``no``, and
category cells that match an allowed value except for upper/lower case take its canonical spelling; each such
normalisation is recorded in the notes. Dates are accepted only as ``YYYY-MM-DD`` (Excel, Parquet and SAS date
cells are converted by :mod:`cartreport.io`); a date in another form is reported, never guessed.

Rule ids (:data:`RULES`) are stable: tests, the CLI and users' scripts may rely on them.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from cartreport import schema
from cartreport.errors import CohortError
from cartreport.io import ReadResult, read_table

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

#: every rule id → what it checks
RULES: dict[str, str] = {
    "required-column": "a required column is missing",
    "duplicate-column": "two columns have the same name",
    "direct-identifier": "a column looks like a name, record number, date of birth or contact detail",
    "blank-id": "patient_id is blank",
    "duplicate-id": "patient_id is used in more than one row",
    "required-value": "a cell that may not be blank is blank",
    "date-format": "a date is not a valid YYYY-MM-DD date",
    "allowed-values": "a value is not one of the column's allowed values",
    "not-a-number": "a number column holds something that is not a number",
    "out-of-range": "a number is outside the column's range",
    "emd-response-without-emd": "emd_response is given but emd_at_baseline is no",
    "emd-response-missing": "emd_response is blank but emd_at_baseline is yes",
    "order-hsct-before-cart": "second HSCT before the CAR-T infusion",
    "order-relapse-before-cart": "relapse before the CAR-T infusion",
    "order-death-before-cart": "death before the CAR-T infusion",
    "order-relapse-after-death": "relapse after death",
    "order-hsct-after-death": "second HSCT after death",
    "order-first-hsct-after-cart": "first HSCT after the CAR-T infusion",
    "order-first-relapse-after-cart": "relapse after the first HSCT dated after the CAR-T infusion",
    "order-first-relapse-before-first-hsct": "relapse after the first HSCT dated before the first HSCT",
    "order-contact-before-event": "last contact before the CAR-T infusion, second HSCT or relapse",
    "contact-not-death": "last contact differs from the death date of a patient who died",
    "after-cutoff": "a date after the data cut-off",
}

#: what each date is called in messages
_DATE_LABELS: dict[str, str] = {
    "cart_infusion_date": "the CAR-T infusion",
    "second_hsct_date": "the second HSCT",
    "relapse_date": "the relapse",
    "death_date": "death",
    "last_contact_date": "the last contact",
    "first_hsct_date": "the first HSCT",
    "relapse_after_first_hsct_date": "the relapse after the first HSCT",
}

#: (rule, column, other column, "before"/"after"): ``column`` may not be before/after ``other``
_ORDER_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("order-hsct-before-cart", "second_hsct_date", "cart_infusion_date", "before"),
    ("order-relapse-before-cart", "relapse_date", "cart_infusion_date", "before"),
    ("order-death-before-cart", "death_date", "cart_infusion_date", "before"),
    ("order-relapse-after-death", "relapse_date", "death_date", "after"),
    ("order-hsct-after-death", "second_hsct_date", "death_date", "after"),
    ("order-first-hsct-after-cart", "first_hsct_date", "cart_infusion_date", "after"),
    ("order-first-relapse-after-cart", "relapse_after_first_hsct_date", "cart_infusion_date", "after"),
    ("order-first-relapse-before-first-hsct", "relapse_after_first_hsct_date", "first_hsct_date", "before"),
)
#: events the last contact may not precede (for a patient without a death date)
_CONTACT_EVENTS: tuple[str, ...] = ("cart_infusion_date", "second_hsct_date", "relapse_date")

_IDENTIFIER_MESSAGE = (
    "this column looks like a direct identifier (a name, medical record number, date of birth or contact detail) "
    "and is refused"
)
_IDENTIFIER_HINT = "delete the column from the file; the report needs only the pseudonymous patient_id"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_SHOWN = 60


@dataclass(frozen=True)
class Problem:
    """One way the table breaks the data contract.

    Attributes
    ----------
    row : the row *as a spreadsheet user sees it*: the header is row 1, the first patient row 2. ``None`` for a
        problem with a whole column (a missing or identifying column).
    patient_id : the row's ``patient_id``, or ``None`` when blank or unknown.
    column : the column at fault.
    value : the cell as written in the file (``None`` when blank, and always ``None`` for an identifying column).
    rule : a short stable id from :data:`RULES`, e.g. ``"date-format"``.
    message : what is wrong, in plain words.
    suggestion : how to fix it, e.g. ``'did you mean "MRD-negative CR"?'``, or ``None``.
    file : the file's name, used by :meth:`format`.
    """

    row: int | None
    patient_id: str | None
    column: str | None
    value: str | None
    rule: str
    message: str
    suggestion: str | None = None
    file: str | None = None

    def format(self) -> str:
        """One line for a person, e.g.
        ``data.csv row 5 (patient P05), column bm_response: value "MRD neg CR" is not allowed (...); did you
        mean "MRD-negative CR"?``"""
        where = " ".join(p for p in (self.file, f"row {self.row}" if self.row is not None else None) if p)
        if self.patient_id:
            where += f" (patient {_clip(self.patient_id)})"
        if self.column:
            where = f"{where}, column {self.column}" if where else f"column {self.column}"
        text = f"{where}: {self.message}" if where else self.message
        if self.suggestion:
            text += f"; {self.suggestion}"
        return " ".join(text.splitlines())


@dataclass(frozen=True, eq=False)
class ValidationReport:
    """Everything validation found.

    Attributes
    ----------
    problems : every problem, sorted by row (column problems first) then by the column's position in the file.
    table : the normalised table (strings, canonical codes, extra columns carried along; index = spreadsheet row
        numbers), ready for :func:`cartreport.schema.coerce`; ``None`` when there is any problem.
    notes : what reading and validation normalised, in plain words.
    path : the file validated, if any.
    n_rows : number of patient rows.
    required_present : how many of the contract's required columns are present.
    """

    problems: list[Problem]
    table: pd.DataFrame | None
    notes: list[str]
    path: Path | None = None
    n_rows: int = 0
    required_present: int = 0

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
    path : CSV, Excel, Parquet or SAS XPT file (see :mod:`cartreport.io`).
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


def validate_table(read: ReadResult, data_cutoff: dt.date | None = None) -> ValidationReport:
    """Validate a table read by :func:`cartreport.io.read_table` against the data contract.

    Parameters
    ----------
    read : the table as read; cells are strings or ``None``. If its index is not named ``row`` (a table not made
        by :func:`~cartreport.io.read_table`), rows are numbered 2, 3, ... as if under a header row.
    data_cutoff : when given, every date after it is a problem (``after-cutoff``).

    Returns
    -------
    ValidationReport
        every problem at once; the normalised table only when there is none.

    Examples
    --------
    >>> from cartreport.io import ReadResult
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
    table = _as_text(read.table)
    notes = list(read.notes)
    problems: list[Problem] = []

    # whole columns: repeated names, direct identifiers (values dropped before anything can show them)
    counts = Counter(table.columns)
    for name in sorted(n for n, c in counts.items() if c > 1):
        message = f"{counts[name]} columns are named {name}"
        problems.append(
            _column_problem(name, "duplicate-column", message, "keep one and rename or delete the others")
        )
    table = table.loc[:, ~table.columns.duplicated()]
    identifying = [name for name in table.columns if looks_like_identifier(name)]
    for name in identifying:
        problems.append(_column_problem(name, "direct-identifier", _IDENTIFIER_MESSAGE, _IDENTIFIER_HINT))
    table = table.drop(columns=identifying)
    extra = [n for n in table.columns if n not in {c.name for c in schema.COLUMNS}]
    if extra:
        notes.append(f"carried along {len(extra)} column(s) not in the data contract: {', '.join(extra)}")

    table, normalised = _normalise_codes(table)
    notes.extend(normalised)
    problems.extend(_schema_problems(table))
    problems.extend(_emd_problems(table))
    problems.extend(_date_order_problems(table, data_cutoff))
    problems = [replace(p, file=read.path.name) for p in problems]

    position = {name: i for i, name in enumerate(_as_text(read.table).columns)}
    position.update(
        {c.name: len(position) + i for i, c in enumerate(schema.COLUMNS) if c.name not in position}
    )
    problems.sort(key=lambda p: (p.row or 0, position.get(p.column or "", len(position) + 99), p.rule))
    present = sum(1 for name in schema.REQUIRED_COLUMNS if name in table.columns)
    report = ValidationReport(
        problems=problems,
        table=None if problems else table,
        notes=notes,
        path=read.path,
        n_rows=len(table),
        required_present=present,
    )
    log.info("%s", summary_line(report))
    return report


def summary_line(report: ValidationReport) -> str:
    """One line about a validation, e.g. ``data.csv: 16 patients, 10 required columns present, valid.``"""
    name = report.path.name if report.path else "table"
    patients = f"{report.n_rows} patient" + ("" if report.n_rows == 1 else "s")
    total = len(schema.REQUIRED_COLUMNS)
    present = (
        f"{report.required_present}"
        if report.required_present == total
        else f"{report.required_present} of {total}"
    )
    if report.valid:
        return f"{name}: {patients}, {present} required columns present, valid."
    n = len(report.problems)
    return f"{name}: {patients}, {present} required columns present, {n} problem{'' if n == 1 else 's'}."


# ------------------------------------------------------------------------------------------------ identifiers
_IDENTIFIER_WORDS = frozenset(
    {
        "name", "names", "fullname", "firstname", "lastname", "surname", "forename", "forenames", "givenname",
        "familyname", "middlename", "maidenname", "patientname", "initials", "mrn", "ssn", "dob", "nhs",
        "dateofbirth", "birthdate", "birthday", "email", "phone", "telephone", "mobile", "address", "postcode",
        "zipcode", "zip", "postalcode",
    }
)  # fmt: skip
_NAME_QUALIFIERS = frozenset(
    {
        "patient",
        "pt",
        "pat",
        "first",
        "last",
        "full",
        "given",
        "family",
        "middle",
        "maiden",
        "sur",
        "fore",
        "donor",
    }
)
_NUMBER_WORDS = frozenset({"number", "no", "num", "nr", "nbr"})


def looks_like_identifier(column_name: str) -> bool:
    """Whether a column name looks like a direct identifier: a person's name, a medical record / hospital / NHS /
    social security number, a date of birth, or a contact detail.

    Examples
    --------
    >>> [looks_like_identifier(n) for n in ("patient_name", "MRN", "DateOfBirth", "patient_id", "center_name")]
    [True, True, True, False, False]
    """
    spaced = re.sub(r"([a-z])([A-Z])", r"\1_\2", str(column_name))
    tokens = [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]
    if not tokens:
        return False
    words = set(tokens)
    if "".join(tokens) in _IDENTIFIER_WORDS or words & (_IDENTIFIER_WORDS - {"name", "names", "zip"}):
        return True
    if words & {"name", "names"} and words - {"name", "names"} <= _NAME_QUALIFIERS:
        return True
    if "birth" in words and words - {"birth"} <= {"date", "dt", "of", "day", "patient", "pt"}:
        return True
    if {"medical", "record"} <= words or {"social", "security"} <= words:
        return True
    return bool(words & {"hospital", "record", "chart", "chi", "case"} and words & _NUMBER_WORDS)


# -------------------------------------------------------------------------------------------------- pandera
def build_schema() -> pa.DataFrameSchema:
    """The pandera schema of the per-column rules, built from :data:`cartreport.schema.COLUMNS`.

    Each check's name is the rule id reported (``date-format``, ``allowed-values``, ``not-a-number``,
    ``out-of-range``); blank cells where the contract allows none fail pandera's ``not_nullable`` check
    (``blank-id`` / ``required-value``), a repeated ``patient_id`` its ``field_uniqueness`` check
    (``duplicate-id``) and a missing required column its ``column_in_dataframe`` check (``required-column``).
    Extra columns are not checked. Cells are expected as strings (yes/no and codes already normalised).
    """
    columns = {}
    for spec in schema.COLUMNS:
        checks: list[pa.Check] = []
        if spec.kind == "date":
            checks.append(pa.Check(_is_iso_date, element_wise=True, name="date-format"))
        elif spec.values:
            checks.append(pa.Check(lambda s, allowed=spec.values: s.isin(allowed), name="allowed-values"))
        elif spec.kind == "number":
            low, high = spec.minimum, spec.maximum
            checks.append(pa.Check(lambda v: _number(v) is not None, element_wise=True, name="not-a-number"))
            checks.append(
                pa.Check(
                    lambda v, lo=low, hi=high: _in_range(v, lo, hi),
                    element_wise=True,
                    name="out-of-range",
                )
            )
        columns[spec.name] = pa.Column(
            None,
            checks=checks,
            nullable=spec.blank is not None,
            unique=spec.name == "patient_id",
            required=spec.required,
        )
    return pa.DataFrameSchema(columns, strict=False, name="cartreport patient table")


def _schema_problems(table: pd.DataFrame) -> list[Problem]:
    try:
        build_schema().validate(table, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return []
    ids = table["patient_id"] if "patient_id" in table.columns else None
    rows_of_id: dict[str, list[int]] = defaultdict(list)
    if ids is not None:
        for row, pid in ids.items():
            if pid is not None:
                rows_of_id[pid].append(int(row))
    problems = []
    for case in cases.to_dict("records"):
        check, name, value = str(case["check"]), case["column"], case["failure_case"]
        if check == "column_in_dataframe":
            problems.append(_missing_column(str(value), table))
            continue
        row = None if pd.isna(case["index"]) else int(case["index"])
        value = None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        pid = ids.get(row) if ids is not None and row is not None else None
        spec = schema.column(name)
        rule, message, suggestion = _describe(check, spec, value, rows_of_id)
        problems.append(Problem(row, pid, name, value, rule, message, suggestion))
    return problems


def _describe(
    check: str, spec: schema.ColumnSpec, value: str | None, rows_of_id: dict[str, list[int]]
) -> tuple[str, str, str | None]:
    """(rule, message, suggestion) for one pandera failure case."""
    if check == "not_nullable":
        if spec.name == "patient_id":
            return (
                "blank-id",
                "the patient_id is blank",
                "give every patient row a unique pseudonymous identifier",
            )
        if spec.kind == "date":
            hint = "write the date as YYYY-MM-DD"
        elif spec.values:
            hint = f"write one of {', '.join(_q(v) for v in spec.values)}"
        else:
            hint = "fill in the cell"
        return "required-value", "the cell is blank but a value is required", hint
    if check == "field_uniqueness":
        rows = ", ".join(str(r) for r in rows_of_id.get(value or "", []))
        return (
            "duplicate-id",
            f"patient_id {_q(value)} appears in more than one row (rows {rows})",
            "each patient must have exactly one row with a unique patient_id",
        )
    if check == "date-format":
        return (
            "date-format",
            f"value {_q(value)} is not a date written as YYYY-MM-DD",
            _date_hint(value or ""),
        )
    if check == "allowed-values":
        allowed = ", ".join(_q(v) for v in spec.values)
        if spec.kind == "yes/no":
            allowed += "; also accepted: true/false, y/n, 1/0"
        return (
            "allowed-values",
            f"value {_q(value)} is not allowed (allowed: {allowed})",
            _closest(value, spec),
        )
    if check == "not-a-number":
        hint = "use a point as the decimal separator" if re.fullmatch(r"\d+,\d+", value or "") else None
        return "not-a-number", f"value {_q(value)} is not a number", hint
    if check == "out-of-range":
        return (
            "out-of-range",
            f"value {_q(value)} is outside the range {spec.minimum:g}–{spec.maximum:g}",
            "check the value",
        )
    return check, f"value {_q(value)} fails the check {check}", None  # pragma: no cover


def _missing_column(name: str, table: pd.DataFrame) -> Problem:
    contract = {c.name for c in schema.COLUMNS}
    others = [c for c in table.columns if c not in contract]
    by_key = {re.sub(r"[^a-z0-9]+", "_", c.lower()).strip("_"): c for c in others}
    near = by_key.get(name) or next(iter(difflib.get_close_matches(name, others, n=1, cutoff=0.6)), None)
    if near:
        suggestion = f'did you mean the column "{near}"? rename it to {name}'
    else:
        blank = schema.column(name).blank
        suggestion = (
            f'add it; a blank cell means "{blank}"' if blank else "add it, with a value for every patient"
        )
    return _column_problem(name, "required-column", "the required column is missing", suggestion)


# ------------------------------------------------------------------------------------------- normalisation
def _as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Copy with string column names, cells as stripped strings or ``None``, and spreadsheet row numbers."""
    out = table.copy()
    out.columns = [str(c).strip() for c in out.columns]
    if out.index.name != "row" or not out.index.is_unique:
        out.index = pd.RangeIndex(2, len(out) + 2, name="row")

    def text(value: object) -> str | None:
        if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value) and pd.isna(value)):
            return None
        return str(value).strip() or None

    return out.astype(object).map(text) if len(out.columns) else out


def _normalise_codes(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Yes/no words → ``yes``/``no``; codes differing only in case → canonical spelling. Returns notes."""
    table = table.copy()
    notes = []
    for spec in schema.COLUMNS:
        if spec.name not in table.columns or not spec.values:
            continue
        if spec.kind == "yes/no":
            lookup = {w: "yes" for w in schema.TRUE_WORDS} | {w: "no" for w in schema.FALSE_WORDS}
        else:
            lookup = {v.lower(): v for v in spec.values}
        changed: dict[str, Counter[str]] = defaultdict(Counter)

        def canonical(value: str | None, lookup: dict[str, str] = lookup, changed=changed) -> str | None:
            if value is None:
                return None
            new = lookup.get(value.lower(), value)
            if new != value:
                changed[new][value] += 1
            return new

        table[spec.name] = table[spec.name].map(canonical).astype(object)
        if changed:
            parts = [
                f"{'/'.join(f'`{s}`' for s in sorted(spellings))} as `{new}` ({_cells(sum(spellings.values()))})"
                for new, spellings in sorted(changed.items())
            ]
            notes.append(f"{spec.name}: read " + " and ".join(parts))
    return table, notes


# ------------------------------------------------------------------------------------------- between columns
def _emd_problems(table: pd.DataFrame) -> list[Problem]:
    if not {"emd_at_baseline", "emd_response"} <= set(table.columns):
        return []
    problems = []
    allowed = ", ".join(_q(v) for v in schema.EMD_RESPONSES)
    for row, emd, response in zip(table.index, table["emd_at_baseline"], table["emd_response"], strict=True):
        if emd == "no" and response is not None:
            message = f"value {_q(response)} is given but emd_at_baseline is no (no extramedullary disease)"
            hint = "leave emd_response blank, or correct emd_at_baseline"
            problems.append(
                _cell_problem(table, row, "emd_response", "emd-response-without-emd", message, hint)
            )
        elif emd == "yes" and response is None:
            message = "the cell is blank but emd_at_baseline is yes (extramedullary disease)"
            hint = f"write the best extramedullary response ({allowed})"
            problems.append(_cell_problem(table, row, "emd_response", "emd-response-missing", message, hint))
    return problems


def _date_order_problems(table: pd.DataFrame, data_cutoff: dt.date | None) -> list[Problem]:
    dates = {
        name: table[name].map(lambda v: dt.date.fromisoformat(v) if _is_iso_date(v) else None)
        for name in schema.DATE_COLUMNS
        if name in table.columns
    }
    problems = []

    def add(row: object, column: str, rule: str, message: str, suggestion: str | None) -> None:
        problems.append(_cell_problem(table, row, column, rule, message, suggestion))

    for rule, name, other, relation in _ORDER_RULES:
        if name not in dates or other not in dates:
            continue
        for row, this, that in zip(table.index, dates[name], dates[other], strict=True):
            if this is None or that is None:
                continue
            if (this < that) if relation == "before" else (this > that):
                message = (
                    f"{_DATE_LABELS[name]} ({this.isoformat()}) is {relation} "
                    f"{_DATE_LABELS[other]} ({that.isoformat()})"
                )
                add(row, name, rule, message, f"check both dates ({name} and {other})")

    if "last_contact_date" in dates:
        deaths = dates.get("death_date", pd.Series(None, index=table.index, dtype=object))
        for row in table.index:
            contact, death = dates["last_contact_date"][row], deaths[row]
            if contact is None:
                continue
            if death is not None:
                if contact != death:
                    add(
                        row,
                        "last_contact_date",
                        "contact-not-death",
                        f"the last contact ({contact.isoformat()}) is not the death date ({death.isoformat()}); "
                        "for a patient who died, last contact is the date of death",
                        f"write {death.isoformat()}, or correct death_date",
                    )
                continue
            events = [(dates[n][row], n) for n in _CONTACT_EVENTS if n in dates and dates[n][row] is not None]
            if events:
                latest, name = max(events)
                if contact < latest:
                    add(
                        row,
                        "last_contact_date",
                        "order-contact-before-event",
                        f"the last contact ({contact.isoformat()}) is before {_DATE_LABELS[name]} "
                        f"({latest.isoformat()})",
                        "the last contact must be on or after every recorded event",
                    )

    if data_cutoff is not None:
        cutoff = data_cutoff.date() if isinstance(data_cutoff, dt.datetime) else data_cutoff
        for name, column in dates.items():
            for row, day in column.items():
                if day is not None and day > cutoff:
                    add(
                        row,
                        name,
                        "after-cutoff",
                        f"date {day.isoformat()} is after the data cut-off ({cutoff.isoformat()})",
                        "correct the date, or choose a later data cut-off",
                    )
    return problems


# ---------------------------------------------------------------------------------------------------- helpers
def _is_iso_date(value: object) -> bool:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _number(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _in_range(value: object, low: float | None, high: float | None) -> bool:
    number = _number(value)
    if number is None:
        return True  # reported as not-a-number
    return (low is None or number >= low) and (high is None or number <= high)


def _date_hint(value: str) -> str:
    """A hint for a date that is not ``YYYY-MM-DD``; a suggested date only when there is exactly one reading."""
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", value):
        return "check that the month and day exist, and write them with two digits (YYYY-MM-DD)"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", value):
        return f'remove the time of day: did you mean "{value[:10]}"?'
    if re.fullmatch(r"\d{4,5}(\.0+)?", value) and 20000 <= float(value) <= 80000:
        return (
            "this looks like a spreadsheet date serial number; format the cells as dates, or write YYYY-MM-DD"
        )
    if value.lower() in {"na", "n/a", "nan", "none", "null", "-", ".", "unknown", "nd"}:
        return "leave the cell blank when there is no date"
    match = re.fullmatch(r"(\d{1,2})[./-](\d{1,2})[./-](\d{4})", value)
    if match:
        a, b, year = (int(g) for g in match.groups())
        readings = {
            d.isoformat()
            for d in (_safe_date(year, b, a), _safe_date(year, a, b))  # day/month/year, month/day/year
            if d is not None
        }
        if len(readings) == 1:
            return f'write dates as YYYY-MM-DD: did you mean "{readings.pop()}"?'
        if readings:
            return f"write dates as YYYY-MM-DD ({' or '.join(_q(r) for r in sorted(readings))}?)"
    return "write dates as YYYY-MM-DD, e.g. 2021-03-04"


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _closest(value: str | None, spec: schema.ColumnSpec) -> str | None:
    if value is None:
        return None
    lowered = {v.lower(): v for v in spec.values}
    starts = [v for low, v in lowered.items() if low.startswith(value.lower())]
    if len(starts) == 1:
        return f"did you mean {_q(starts[0])}?"
    squashed = {re.sub(r"[^a-z0-9]", "", low): v for low, v in lowered.items()}
    key = re.sub(r"[^a-z0-9]", "", value.lower())
    if key in squashed:
        return f"did you mean {_q(squashed[key])}?"
    near = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean {_q(lowered[near[0]])}?" if near else None


def _column_problem(column: str, rule: str, message: str, suggestion: str | None) -> Problem:
    """A problem with a whole column (no row, no value)."""
    return Problem(None, None, column, None, rule, message, suggestion)


def _cell_problem(
    table: pd.DataFrame, row: object, column: str, rule: str, message: str, suggestion: str | None
) -> Problem:
    """A problem with one cell: its row number, patient and value are looked up in ``table``."""
    return Problem(int(row), _pid(table, row), column, table.at[row, column], rule, message, suggestion)


def _pid(table: pd.DataFrame, row: object) -> str | None:
    return table.at[row, "patient_id"] if "patient_id" in table.columns else None


def _q(value: str | None) -> str:
    """A value quoted for a message, on one line and clipped."""
    return "(blank)" if value is None else f'"{_clip(value)}"'


def _clip(value: str) -> str:
    one_line = " ".join(str(value).splitlines())
    return one_line if len(one_line) <= _MAX_SHOWN else one_line[: _MAX_SHOWN - 1] + "…"


def _cells(n: int) -> str:
    return f"{n} cell" if n == 1 else f"{n} cells"
