"""What validation reports: the rule ids (:data:`RULES`) and :class:`Problem`, one way a table breaks the contract.

Shared by the per-column rules (:mod:`cartreport.contract.column_rules`), the rules between columns
(:mod:`cartreport.contract.between_columns`) and :mod:`cartreport.contract.validate`, which re-exports both names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cartreport.escape import visible

#: what a message shows as one space: the line breaks of a cell (CR LF, CR, LF, Unicode's line and paragraph separators)
_LINE_BREAKS = re.compile("(?:\r\n|[\r\n\u2028\u2029])+")

__all__ = [
    "MAX_PER_RULE",
    "RULES",
    "Problem",
    "bounded",
    "cell_problems",
    "column_problem",
    "described",
    "more_problems",
    "quoted",
    "rows_text",
    "total",
]

#: every rule id → what it checks
RULES: dict[str, str] = {
    "required-column": "a required column is missing",
    "duplicate-column": "two columns have the same name",
    "direct-identifier": "a column looks like a name, record number, date of birth or contact detail",
    "blank-id": "patient_id is blank",
    "duplicate-id": "patient_id is used in more than one row",
    "duplicate-id-case": "patient_ids differ only in upper/lower case or spaces",
    "wrong-sheet": "the workbook's first sheet lacks the columns, another sheet has them",
    "required-value": "a cell that may not be blank is blank",
    "date-format": "a date is not a valid YYYY-MM-DD date",
    "date-too-early": "a date is before 1900 (a mistyped year)",
    "allowed-values": "a value is not one of the column's allowed values",
    "not-a-number": "a number column holds something that is not a number",
    "out-of-range": "a number is outside the column's range",
    "not-an-integer": "a grade (a whole-number column) holds a fraction",
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
    "future-date": "a date after today (the day of the run)",
    # safety and transplant outcomes (cartreport.contract.transplant_rules)
    "outcome-without-hsct": "an engraftment or GVHD date for a patient without a second HSCT",
    "outcome-before-hsct": "an engraftment or GVHD date before the second HSCT",
    "outcome-after-follow-up": "an engraftment or GVHD date after death or after the last contact",
    "agvhd-3-4-without-2-4": "agvhd_3_4_date given but agvhd_2_4_date blank",
    "agvhd-3-4-before-2-4": "acute GVHD grade III–IV dated before grade II–IV",
    "cgvhd-severity-without-onset": "cgvhd_severity given but cgvhd_date blank",
    "cgvhd-severity-missing": "cgvhd_date given but cgvhd_severity blank",
    "cgvhd-treatment-without-onset": "cgvhd_systemic_date given but cgvhd_date blank",
    "cgvhd-treatment-before-onset": "systemic treatment of chronic GVHD before its onset",
    "unshowable-character": "a cell or column name holds a control or text-direction character",
    "excel-error": "a text cell holds an Excel error value such as #N/A or #DIV/0!",
    "missing-placeholder": "a free-text cell holds a stand-in for a missing value (NA, N/A, NULL, -, ...)",
}
#: problems kept and shown per rule; the rest are counted in one "… and N more problems of rule X" line
MAX_PER_RULE = 20
#: rows named in one message (e.g. the rows sharing a patient_id); the rest are counted
MAX_ROWS_NAMED = 5

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
    count : how many problems this line stands for: 1, or more for a "… and N more problems of rule X" line
        (:func:`bounded`).
    folded : this line only counts problems whose rows are not described (:func:`more_problems`): a rule that
        fails in a million cells is described in its first :data:`MAX_PER_RULE` rows, so memory stays bounded.
    """

    row: int | None
    patient_id: str | None
    column: str | None
    value: str | None
    rule: str
    message: str
    suggestion: str | None = None
    file: str | None = None
    count: int = 1
    folded: bool = False

    def format(self) -> str:
        """One line for a person, e.g.
        ``data.csv row 5 (patient P05), column bm_response: value "MRD neg CR" is not allowed (...); did you
        mean "MRD-negative CR"?``"""
        where = " ".join(p for p in (self.file, f"row {self.row}" if self.row is not None else None) if p)
        if self.patient_id:
            where += f" (patient {clipped(self.patient_id)})"
        if self.column:
            column = clipped(self.column)
            where = f"{where}, column {column}" if where else f"column {column}"
        text = f"{where}: {self.message}" if where else self.message
        if self.suggestion:
            text += f"; {self.suggestion}"
        return " ".join(text.splitlines())


def bounded(problems: list[Problem], per_rule: int = MAX_PER_RULE) -> list[Problem]:
    """The first ``per_rule`` problems of each rule, in their order, then one line per rule counting the rest:
    ``… and 19,990 more problems of rule duplicate-id``. What is printed and kept stays bounded whatever the
    file's size; :func:`total` still counts every problem."""
    kept: list[Problem] = []
    seen: dict[str, int] = {}
    for problem in sorted(
        problems, key=lambda p: p.folded
    ):  # lines that only count come after those described
        seen[problem.rule] = seen.get(problem.rule, 0) + problem.count
        if seen[problem.rule] <= per_rule and not problem.folded:
            kept.append(problem)
    for rule, n in seen.items():
        more = n - sum(p.count for p in kept if p.rule == rule)
        if more > 0:
            noun = "problem" if more == 1 else "problems"
            file = next((p.file for p in problems if p.rule == rule), None)
            message = f"… and {more:,} more {noun} of rule {rule}"
            kept.append(Problem(None, None, None, None, rule, message, None, file, more, folded=True))
    return kept


def more_problems(rule: str, column: str | None, n: int) -> list[Problem]:
    """The line standing for ``n`` problems of ``rule`` in ``column`` that are counted, not described (none when
    ``n`` is 0); :func:`bounded` adds its count to the rule's "… and N more" line."""
    if n <= 0:
        return []
    noun = "problem" if n == 1 else "problems"
    message = f"… and {n:,} more {noun} of rule {rule}"
    return [Problem(None, None, column, None, rule, message, None, None, n, folded=True)]


def total(problems: list[Problem]) -> int:
    """How many problems ``problems`` stands for (a "… and N more" line counts N)."""
    return sum(p.count for p in problems)


def rows_text(rows: list[int], limit: int = MAX_ROWS_NAMED) -> str:
    """Row numbers for a message, at most ``limit`` of them: ``"2, 4"``, ``"2, 3, 4, 5, 6 and 19,995 more"``."""
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown if len(rows) <= limit else f"{shown} and {len(rows) - limit:,} more"


def column_problem(column: str, rule: str, message: str, suggestion: str | None) -> Problem:
    """A problem with a whole column (no row, no value)."""
    return Problem(None, None, column, None, rule, message, suggestion)


def described(failing: np.ndarray) -> np.ndarray:
    """The positions of the failing rows (a boolean mask) that :func:`cell_problems` describes: the first
    :data:`MAX_PER_RULE`. A rule that words a message per row words it for these; the others are only counted, so
    a rule failing in a million rows makes twenty messages, not a million.

    >>> described(np.array([False, True, True])).tolist()
    [1, 2]
    """
    return np.flatnonzero(failing)[:MAX_PER_RULE]


def cell_problems(
    table: pd.DataFrame,
    failing: np.ndarray,
    column: str,
    rule: str,
    message: str | list[str],
    suggestion: str | None | list[str | None],
) -> list[Problem]:
    """One problem per failing row (a boolean mask over ``table``) in ``column``, for the first
    :data:`MAX_PER_RULE` failing rows, and one line counting the rest (:func:`more_problems`): the row number,
    patient and value are looked up in ``table``; ``message`` and ``suggestion`` are one for all, or one per
    described row (:func:`described`: word them for those rows only, not for every failing row)."""
    positions = np.flatnonzero(failing)
    if not len(positions):
        return []
    rest = len(positions) - MAX_PER_RULE
    if rest > 0:
        positions = positions[:MAX_PER_RULE]
        message = message[:MAX_PER_RULE] if isinstance(message, list) else message
        suggestion = suggestion[:MAX_PER_RULE] if isinstance(suggestion, list) else suggestion
    rows = table.index.to_numpy()[positions]
    values = table[column].to_numpy()[positions]
    pids = table["patient_id"].to_numpy()[positions] if "patient_id" in table.columns else [None] * len(rows)
    messages = message if isinstance(message, list) else [message] * len(rows)
    suggestions = suggestion if isinstance(suggestion, list) else [suggestion] * len(rows)
    return [
        Problem(int(row), pid, column, value, rule, text, hint)
        for row, pid, value, text, hint in zip(rows, pids, values, messages, suggestions, strict=True)
    ] + more_problems(rule, column, rest)


def quoted(value: str | None) -> str:
    """A value quoted for a message, on one line and clipped."""
    return "(blank)" if value is None else f'"{clipped(value)}"'


def clipped(value: str) -> str:
    """``value`` on one line, shortened to at most 60 characters, each invisible character (a control, format or
    text-direction character) written as its escape, e.g. ``\\x1b`` or ``\\u200b``: a message shows what the cell
    holds, and a terminal never runs it. Only line breaks become spaces (a cell's line break is no problem of its
    own): a vertical tab or form feed, which ``str.splitlines`` also breaks at, is shown as its escape."""
    one_line = visible(_LINE_BREAKS.sub(" ", str(value)[: 4 * _MAX_SHOWN]))
    return one_line if len(one_line) <= _MAX_SHOWN else one_line[: _MAX_SHOWN - 1] + "…"
