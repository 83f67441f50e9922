"""The per-column rules of the data contract, as a pandera schema, and their problems in plain words.

:func:`build_schema` turns :data:`cartreport.contract.schema.COLUMNS` into a pandera ``DataFrameSchema`` (built once);
:func:`schema_problems` runs it with ``lazy=True`` and describes every failure case as a
:class:`~cartreport.contract.problems.Problem` with a hint.

The checks are vectorised: a check tests each *distinct* value of a column once (a registry has thousands of
patients but few distinct dates, codes or ages) and marks the cells holding a failing value, so pandera still
reports every failing cell with its row.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrors

from cartreport.contract import schema
from cartreport.contract.problems import (
    MAX_PER_RULE,
    Problem,
    cell_problems,
    column_problem,
    described,
    more_problems,
    quoted,
    rows_text,
)
from cartreport.escape import UNSHOWABLE, UNSHOWABLE_TEXT

__all__ = [
    "build_schema",
    "coded_view",
    "distinct_id_keys",
    "distinct_values",
    "id_key",
    "is_iso_date",
    "near_duplicate_id_problems",
    "placeholder_problems",
    "schema_problems",
    "unshowable_problems",
]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def is_iso_date(value: object) -> bool:
    """Whether ``value`` is a string ``YYYY-MM-DD`` naming a day that exists."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _not_too_early(value: object) -> bool:
    """Whether a date is on or after :data:`~cartreport.contract.schema.EARLIEST_DATE`; a value that is no date
    passes (it is reported as date-format)."""
    return not is_iso_date(value) or str(value) >= schema.EARLIEST_DATE


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


def _is_whole_or_not_number(value: object) -> bool:
    number = _number(value)
    return number is None or number.is_integer()  # not a number is reported as not-a-number


def _by_distinct_value(test: Callable[[object], bool], name: str) -> pa.Check:
    """A vectorised check named ``name``: whether each cell passes ``test``, calling ``test`` once per distinct
    value. A missing cell passes (blank cells are pandera's ``nullable`` rule), as with pandera's ``ignore_na``,
    which would first copy the column without its missing cells."""

    def check(cells: pd.Series) -> pd.Series:
        codes, distinct = distinct_values(cells)  # a missing cell: code -1, passes
        passing = np.fromiter(map(test, distinct.tolist()), bool, len(distinct))
        return pd.Series(np.append(passing, True)[codes], index=cells.index)

    return pa.Check(check, name=name, ignore_na=False)


def distinct_values(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, distinct)`` of a column (code -1 where blank): a categorical's own, else :func:`pandas.factorize`."""
    if isinstance(cells.dtype, pd.CategoricalDtype):
        return cells.cat.codes.to_numpy(), cells.cat.categories.to_numpy(dtype=object)
    return pd.factorize(cells.to_numpy(dtype=object))


def coded_view(table: pd.DataFrame, factorized: dict[str, tuple] | None = None) -> pd.DataFrame:
    """The contract's columns of ``table`` that are checked per distinct value (codes, yes/no, dates, numbers) as
    categoricals, the same cells with each distinct value once; the others (``patient_id``, free text) as they
    are. ``factorized`` gives columns already factorized, ``{name: (codes, distinct values)}`` (reading gives
    most, free text too: those become categoricals as well, searched by :func:`unshowable_problems` value by
    value). What :func:`schema_problems` checks first and the rules between columns read their dates from."""
    columns = {}
    for spec in schema.COLUMNS:
        if spec.name not in table.columns:
            continue
        if factorized and spec.name in factorized:
            codes, distinct = factorized[spec.name]
        elif spec.values or spec.kind in ("date", "number", "integer"):
            codes, distinct = pd.factorize(table[spec.name].to_numpy(dtype=object))
        else:
            codes, distinct = None, ()
        if not len(distinct):  # free text, or every cell blank: the column as it is
            columns[spec.name] = table[spec.name]
            continue
        dtype = pd.CategoricalDtype(pd.Index(np.asarray(distinct, dtype=object), dtype=object))
        columns[spec.name] = pd.Categorical.from_codes(codes, dtype=dtype)
    return pd.DataFrame(columns, index=table.index, copy=False)


@functools.cache
def build_schema(unique_ids: bool = True) -> pa.DataFrameSchema:
    """The pandera schema of the per-column rules, built from :data:`cartreport.contract.schema.COLUMNS` (once).

    Each check's name is the rule id reported (``date-format``, ``allowed-values``, ``not-a-number``,
    ``out-of-range``); blank cells where the contract allows none fail pandera's ``not_nullable`` check
    (``blank-id`` / ``required-value``), a repeated ``patient_id`` its ``field_uniqueness`` check
    (``duplicate-id``) and a missing required column its ``column_in_dataframe`` check (``required-column``).
    Extra columns are not checked. Cells are expected as strings (yes/no and codes already normalised).
    ``unique_ids=False`` leaves out the uniqueness of ``patient_id`` (for a table checked a slice of rows at a
    time, whose repeated ids are found over the whole column).
    """
    columns = {}
    for spec in schema.COLUMNS:
        checks: list[pa.Check] = []
        if spec.kind == "date":
            checks.append(_by_distinct_value(is_iso_date, "date-format"))
            checks.append(_by_distinct_value(_not_too_early, "date-too-early"))
        elif spec.values:
            checks.append(_by_distinct_value(frozenset(spec.values).__contains__, "allowed-values"))
        elif spec.kind in ("number", "integer"):
            low, high = spec.minimum, spec.maximum
            checks.append(_by_distinct_value(lambda v: _number(v) is not None, "not-a-number"))
            if spec.kind == "integer":
                checks.append(_by_distinct_value(_is_whole_or_not_number, "not-an-integer"))
            checks.append(_by_distinct_value(lambda v, lo=low, hi=high: _in_range(v, lo, hi), "out-of-range"))
        columns[spec.name] = pa.Column(
            None,
            checks=checks,
            nullable=spec.blank is not None,
            unique=unique_ids and spec.name == "patient_id",
            required=spec.required,
        )
    return pa.DataFrameSchema(columns, strict=False, name="cartreport patient table")


#: rows checked at once when a table fails the per-column rules: pandera's table of failure cases (a row per failing
#: cell) stays bounded, whatever the number of bad cells
CHUNK_ROWS = 100_000


def schema_problems(
    table: pd.DataFrame, coded: pd.DataFrame | None = None, ids_unique: bool = False
) -> list[Problem]:
    """Every failure of the per-column rules in ``table`` (strings or ``None``, unique row numbers as index);
    ``coded``: its :func:`coded_view`: a table valid there is valid (the usual case, found faster); a failure there
    sends the table itself through the checks, :data:`CHUNK_ROWS` rows at a time. ``ids_unique``: the patient_ids
    not blank are known to be all different (:func:`distinct_id_keys`), so the coded view is checked without
    counting them again (a blank id still fails it).

    Each check of each column is described in its first :data:`~cartreport.contract.problems.MAX_PER_RULE` failing
    rows and counted in the others (:func:`~cartreport.contract.problems.more_problems`): a file with a million bad
    cells is reported in the same bounded memory as one with a few."""
    if coded is not None:
        try:  # not lazy: stops at the first failure
            build_schema(unique_ids=not ids_unique).validate(coded, inplace=True)
        except (SchemaError, SchemaErrors):
            pass
        else:
            return []
    ids = table["patient_id"] if "patient_id" in table.columns else None
    rows_of_id: dict[str, list[int]] = defaultdict(list)
    if ids is not None:
        repeated = ids[ids.notna() & ids.duplicated(keep=False)]
        for row, pid in repeated.items():
            rows_of_id[pid].append(int(row))
    chunked = len(table) > CHUNK_ROWS
    problems: list[Problem] = []
    described: dict[tuple[str, str], int] = defaultdict(int)  # (check, column) → problems described
    counted_only: dict[tuple[str, str], int] = defaultdict(int)
    rule_of: dict[tuple[str, str], str] = {}

    def add(check: str, name: str, row: int | None, value: str | None) -> None:
        key = (check, name)
        if described[key] >= MAX_PER_RULE:
            counted_only[key] += 1
            return
        described[key] += 1
        pid = ids.get(row) if ids is not None and row is not None else None
        problem = Problem(row, pid, name, value, *_describe(check, schema.column(name), value, rows_of_id))
        rule_of[key] = problem.rule
        problems.append(problem)

    if chunked:  # repeated ids over the whole column: one problem each, at its first row
        for pid, rows in rows_of_id.items():
            add("field_uniqueness", "patient_id", rows[0], pid)
    for start in range(0, len(table), CHUNK_ROWS) if chunked else [0]:
        rows = table.iloc[start : start + CHUNK_ROWS] if chunked else table
        try:
            build_schema(unique_ids=not chunked).validate(rows, lazy=True, inplace=True)  # nothing is coerced
        except SchemaErrors as errors:
            cases = errors.failure_cases
        else:
            continue
        cases = cases.assign(_row=pd.to_numeric(cases["index"], errors="coerce")).sort_values(
            "_row", kind="stable"
        )
        for check, name, value, row in zip(
            cases["check"].astype(str), cases["column"], cases["failure_case"], cases["_row"], strict=True
        ):
            if check == "column_in_dataframe":
                if start == 0:
                    problems.append(_missing_column(str(value), table))
                continue
            row = None if pd.isna(row) else int(row)
            value = None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
            if check == "field_uniqueness" and rows_of_id.get(value or "", [row])[0] != row:
                continue  # one problem per repeated patient_id, at its first row, naming the others
            add(check, name, row, value)
        del cases
    for key, n in counted_only.items():
        problems += more_problems(rule_of[key], key[1], n)
    return problems


def id_key(value: str) -> str:
    """A patient_id as compared for near-duplicates: Unicode-normalised, case-folded, without any space or
    invisible character (``" CD7-01"``, ``"cd7-01"`` and ``"CD7\u200b-01"`` all give ``"cd7-01"``)."""
    text = unicodedata.normalize("NFKC", value).casefold()
    return "".join(c for c in text if not c.isspace() and unicodedata.category(c) != "Cf")


#: the white space of ``str.isspace`` within ASCII; no ASCII character changes under NFKC or is of category Cf
_ASCII_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f ]"


def _id_keys(distinct_ids: np.ndarray) -> pd.Series:
    """:func:`id_key` of each distinct patient_id, columnar for ASCII ids (pyarrow: lower case, white space
    removed, which is what :func:`id_key` does to ASCII text) and one by one for the others."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pa.array(distinct_ids, type=pa.string())
    ascii_keys = pc.replace_substring_regex(pc.ascii_lower(ids), _ASCII_SPACE, "").to_numpy(
        zero_copy_only=False
    )
    keys = pd.Series(ascii_keys, dtype=object)
    other = np.flatnonzero(~pc.string_is_ascii(ids).to_numpy(zero_copy_only=False))
    if len(other):
        keys.iloc[other] = [id_key(value) for value in distinct_ids[other]]
    return keys


#: which byte values are the white space of :data:`_ASCII_SPACE`
_IS_ASCII_SPACE = np.array([b < 128 and chr(b).isspace() for b in range(256)])


def _holds_ascii_space(texts) -> bool:
    """Whether any of ``texts`` (a pyarrow array of ASCII strings, none missing) holds white space: its bytes
    looked up at once, the usual answer (no) found without the regular expression of :func:`_all_keys_unique`."""
    _, offsets, data = texts.buffers()
    if not len(texts) or data is None:
        return False
    ends = np.frombuffer(offsets, dtype=np.int32)[[texts.offset, texts.offset + len(texts)]]
    return bool(_IS_ASCII_SPACE[np.frombuffer(data, dtype=np.uint8)[ends[0] : ends[1]]].any())


def _all_keys_unique(ids: np.ndarray) -> bool:
    """Whether the :func:`id_key` keys of ``ids`` (blank ones, ``None``, left out) are all different (then no
    two ids differ only in case or spaces, and none repeats), counted with pyarrow over the whole column of ASCII
    ids (lower case, white space removed, as in :func:`_id_keys`); ``False`` when not, or when the ids are not
    all ASCII text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        texts = pa.array(ids, type=pa.string())  # None → null
    except (pa.ArrowException, UnicodeEncodeError):
        return False
    if texts.null_count:
        texts = texts.drop_null()
    if not pc.all(pc.string_is_ascii(texts), min_count=0).as_py():  # no id at all: none repeats
        return False
    keys = pc.ascii_lower(texts)
    if _holds_ascii_space(keys):
        keys = pc.replace_substring_regex(keys, _ASCII_SPACE, "")
    unique = len(pc.unique(keys)) == len(keys)
    del texts, keys
    pa.default_memory_pool().release_unused()
    return unique


def distinct_id_keys(table: pd.DataFrame) -> bool:
    """Whether ``table``'s patient_ids (those not blank) are provably all different, even once compared as
    :func:`id_key` keys: then :func:`near_duplicate_id_problems` finds nothing and no id repeats, which
    :func:`schema_problems` need not count again (``ids_unique``). ``False`` also when the ids are not all ASCII
    (the keys are then made one by one)."""
    return "patient_id" in table.columns and _all_keys_unique(table["patient_id"].to_numpy(dtype=object))


def near_duplicate_id_problems(table: pd.DataFrame, keys_distinct: bool | None = None) -> list[Problem]:
    """patient_ids that differ only in upper/lower case, spaces or invisible characters (``CD7-01`` and
    ``cd7-01``): one problem per such id, at its first row, naming the rows and spellings of the others.
    ``keys_distinct``: :func:`distinct_id_keys` of ``table``, if already known."""
    if "patient_id" not in table.columns:
        return []
    if distinct_id_keys(table) if keys_distinct is None else keys_distinct:
        return []  # the usual case, found without comparing the ids one by one
    ids = table["patient_id"].dropna()
    distinct = ids.unique()
    keys = _id_keys(distinct)
    clashes = keys.duplicated(keep=False).to_numpy()
    if not clashes.any():
        return []
    key_of = dict(zip(distinct[clashes], keys[clashes], strict=True))
    problems = []
    rows_of_key: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row, pid in ids[ids.isin(key_of)].items():
        rows_of_key[key_of[pid]].append((int(row), pid))
    for entries in rows_of_key.values():
        first_row, first = entries[0]
        others = [(r, p) for r, p in entries if p != first]
        spellings = list(dict.fromkeys(p for _, p in others))
        shown = ", ".join(quoted(p) for p in spellings[:3]) + (
            f" and {len(spellings) - 3:,} more" if len(spellings) > 3 else ""
        )
        problems.append(
            Problem(
                first_row,
                first,
                "patient_id",
                first,
                "duplicate-id-case",
                f"patient_id {quoted(first)} differs only in upper/lower case or spaces from {shown} "
                f"(rows {rows_text([r for r, _ in others])})",
                "one patient must have one spelling of patient_id; different patients need ids that differ "
                "in more than case or spaces",
            )
        )
    return problems


_UNSHOWABLE_HINT = "delete the character (copying from another program often leaves one)"


def unshowable_problems(table: pd.DataFrame, coded: pd.DataFrame | None = None) -> list[Problem]:
    """Every column name and cell, of any column, holding a character a report cannot show as written
    (:data:`~cartreport.escape.UNSHOWABLE`): Word refuses a control character, a terminal runs it, and a
    text-direction override reverses the text after it. Each column is searched at once (the usual case: nothing;
    a column of ``coded``, its :func:`coded_view`, by its distinct values), cell by cell only when it holds one."""
    problems = [
        column_problem(
            name, "unshowable-character", f"the column name holds {UNSHOWABLE_TEXT}", _UNSHOWABLE_HINT
        )
        for name in table.columns
        if UNSHOWABLE.search(name)
    ]
    for name in table.columns:
        if coded is not None and name in coded and isinstance(coded[name].dtype, pd.CategoricalDtype):
            texts = coded[name].cat.categories.tolist()
        else:
            texts = table[name].tolist()
        if not _holds_unshowable(texts):
            continue
        cells = table[name].to_numpy(dtype=object)
        codes, distinct = pd.factorize(cells)
        found = np.fromiter(
            (UNSHOWABLE.search(v) is not None for v in distinct.tolist()), bool, len(distinct)
        )
        failing = np.append(found, False)[codes]
        messages = [f"value {quoted(v)} holds {UNSHOWABLE_TEXT}" for v in cells[described(failing)].tolist()]
        problems.extend(
            cell_problems(table, failing, name, "unshowable-character", messages, _UNSHOWABLE_HINT)
        )
    return problems


#: Excel's error values: a formula that failed (or its text, copied or exported), never data
EXCEL_ERRORS = frozenset(
    {
        "#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA",
        "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#EXTERNAL!", "#PYTHON!",
    }
)  # fmt: skip
#: whole cells that stand for a missing value (what pandas and R read as missing, and the usual typed stand-ins);
#: words a diagnosis or a cause of death may be (``unknown``, ``none``) are not among them
MISSING_PLACEHOLDERS = frozenset(
    {"NA", "na", "Na", "N/A", "n/a", "N/a", "#NA", "NaN", "nan", "NAN", "NULL", "null", "Null", "-", "--", ".", "?"}
)  # fmt: skip


def placeholder_problems(table: pd.DataFrame, coded: pd.DataFrame | None = None) -> list[Problem]:
    """Cells of the contract's free-text columns (``patient_id``, ``diagnosis``, ``cause_of_death``) that stand
    for a missing value (:data:`MISSING_PLACEHOLDERS`), and cells of those and of the columns carried along that
    are Excel error values (:data:`EXCEL_ERRORS`). Read as text they were valid: a diagnosis ``#N/A`` became a row of
    Table 1. The other columns' own rules refuse them already (not a date, not an allowed value)."""
    specs = {spec.name: spec for spec in schema.COLUMNS}
    problems: list[Problem] = []
    for name in table.columns:
        spec = specs.get(name)
        if spec is not None and spec.kind != "text":
            continue
        if coded is not None and name in coded and isinstance(coded[name].dtype, pd.CategoricalDtype):
            distinct = set(coded[name].cat.categories.tolist())
        else:
            distinct = None
        for rule, stand_ins in (("excel-error", EXCEL_ERRORS), ("missing-placeholder", MISSING_PLACEHOLDERS)):
            if rule == "missing-placeholder" and spec is None:
                continue  # a column carried along is the user's: "NA" may be what it holds
            if distinct is not None and not distinct & stand_ins:
                continue
            failing = table[name].isin(stand_ins).to_numpy()
            if not failing.any():
                continue
            values = table[name].to_numpy(dtype=object)[described(failing)].tolist()
            if rule == "excel-error":
                what = "is an Excel error value (a formula that failed, or its text copied), not data"
                hint = "correct the formula in the workbook, or type the value"
            elif spec.blank is None:
                what = f"stands for a missing value, and {name} may not be blank"
                hint = f"write the {name.replace('_', ' ')}"
            else:
                what = "stands for a missing value"
                hint = f"leave the cell blank (blank means {spec.blank})"
            messages = [f"value {quoted(v)} {what}" for v in values]
            problems.extend(cell_problems(table, failing, name, rule, messages, hint))
    return problems


def _holds_unshowable(texts: list[str | None]) -> bool:
    """Whether any of ``texts`` holds an :data:`~cartreport.escape.UNSHOWABLE` character: searched as
    one text, its bytes compared at once when it is ASCII (the usual case)."""
    text = "\n".join(filter(None, texts))
    if not text.isascii():
        return UNSHOWABLE.search(text) is not None
    codes = np.frombuffer(text.encode("ascii"), np.uint8)
    return bool(((codes < 32) & (codes != 9) & (codes != 10) & (codes != 13) | (codes == 127)).any())


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
            hint = f"write one of {', '.join(quoted(v) for v in spec.values)}"
        else:
            hint = "fill in the cell"
        return "required-value", "the cell is blank but a value is required", hint
    if check == "field_uniqueness":
        rows = rows_of_id.get(value or "", [])
        return (
            "duplicate-id",
            f"patient_id {quoted(value)} appears in {len(rows):,} rows (rows {rows_text(rows)})",
            "each patient must have exactly one row with a unique patient_id",
        )
    if check == "date-format":
        return (
            "date-format",
            f"value {quoted(value)} is not a date written as YYYY-MM-DD",
            _date_hint(value or "", spec),
        )
    if check == "date-too-early":
        return (
            "date-too-early",
            f"date {quoted(value)} is before {schema.EARLIEST_DATE}",
            "check the year",
        )
    if check == "allowed-values":
        allowed = ", ".join(quoted(v) for v in spec.values)
        if spec.kind == "yes/no":
            allowed += "; also accepted: true/false, y/n, 1/0"
        return (
            "allowed-values",
            f"value {quoted(value)} is not allowed (allowed: {allowed})",
            _closest(value, spec),
        )
    if check == "not-a-number":
        hint = "use a point as the decimal separator" if re.fullmatch(r"\d+,\d+", value or "") else None
        return "not-a-number", f"value {quoted(value)} is not a number", hint
    if check == "not-an-integer":
        return (
            "not-an-integer",
            f"value {quoted(value)} is not a whole number",
            f"write a whole number {spec.minimum:g}–{spec.maximum:g}",
        )
    if check == "out-of-range":
        return (
            "out-of-range",
            f"value {quoted(value)} is outside the range {spec.minimum:g}–{spec.maximum:g}",
            "check the value",
        )
    return check, f"value {quoted(value)} fails the check {check}", None  # pragma: no cover


def _missing_column(name: str, table: pd.DataFrame) -> Problem:
    contract = {c.name for c in schema.COLUMNS}
    others = [c for c in table.columns if c not in contract]
    by_key = {re.sub(r"[^a-z0-9]+", "_", c.lower()).strip("_"): c for c in others}
    near = by_key.get(name) or next(iter(difflib.get_close_matches(name, others, n=1, cutoff=0.6)), None)
    if near:
        suggestion = f"did you mean the column {quoted(near)}? rename it to {name}"
    else:
        blank = schema.column(name).blank
        suggestion = (
            f'add it; a blank cell means "{blank}"' if blank else "add it, with a value for every patient"
        )
    return column_problem(name, "required-column", "the required column is missing", suggestion)


def _date_hint(value: str, spec: schema.ColumnSpec) -> str:
    """A hint for a date that is not ``YYYY-MM-DD`` in column ``spec``; a suggested date only when there is exactly
    one reading."""
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", value):
        return "check that the month and day exist, and write them with two digits (YYYY-MM-DD)"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", value):
        return f'remove the time of day: did you mean "{value[:10]}"?'
    if re.fullmatch(r"\d{4,5}(\.0+)?", value) and 20000 <= float(value) <= 80000:
        return (
            "this looks like a spreadsheet date serial number; format the cells as dates, or write YYYY-MM-DD"
        )
    if value.lower() in {"na", "n/a", "nan", "none", "null", "-", ".", "unknown", "nd"}:
        if spec.blank is None:  # a blank cell would be refused too
            return "this column needs a date for every patient: write it as YYYY-MM-DD"
        return f"leave the cell blank when there is no date (blank means {quoted(spec.blank)})"
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
            return f"write dates as YYYY-MM-DD ({' or '.join(quoted(r) for r in sorted(readings))}?)"
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
        return f"did you mean {quoted(starts[0])}?"
    squashed = {re.sub(r"[^a-z0-9]", "", low): v for low, v in lowered.items()}
    key = re.sub(r"[^a-z0-9]", "", value.lower())
    if key in squashed:
        return f"did you mean {quoted(squashed[key])}?"
    near = difflib.get_close_matches(value.lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean {quoted(lowered[near[0]])}?" if near else None
