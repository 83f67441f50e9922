"""Data are text, never markup and never formulas: the one path by which data values reach Markdown and CSV.

Markdown
--------
The report's prose is Markdown that nbconvert turns into HTML with raw HTML allowed, so a diagnosis
``T-LBL<img src=x onerror=alert(1)>`` or a title ``*T*`` would be live. :class:`Markdown` marks text that *we*
wrote as Markdown, the way :class:`markupsafe.Markup` marks HTML: combining it with anything else —
:func:`md` / :meth:`Markdown.format`, :meth:`Markdown.join`, ``+`` — escapes the other operand with
:func:`escape_markdown`. A mistake therefore fails safe: Markdown syntax that arrives in a plain string (an
f-string) is shown as typed, never interpreted. :func:`cartreport.report.notebook.show_markdown` accepts only
:class:`Markdown`.

:func:`escape_markdown` backslash-escapes the ASCII punctuation that Markdown or HTML would read (CommonMark
§2.4: a backslash-escaped punctuation character is literal, and a renderer prints ``\\<`` as ``&lt;``), turns line
breaks into spaces (a value cannot start a block) and escapes a list or heading marker at the value's start.
Ordinary clinical text (``T-ALL``, ``58.5% (95% CI 26.1–80.7%)``) is left unchanged, so the value is shown
exactly as written.

CSV
---
A spreadsheet runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some, tab or carriage return) as
a formula. :func:`csv_cell` prefixes such *text* with a single quote (OWASP "CSV Injection"); numbers, including
negative ones, stay numbers. :func:`write_csv` is how every CSV the project writes from data is written.
"""

from __future__ import annotations

import csv
import re
import string
import unicodedata
from collections.abc import Iterable
from os import PathLike
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where a table is written: errors.py needs this module, and light
    import pandas as pd

__all__ = [
    "FORMULA_STARTS",
    "UNSHOWABLE",
    "UNSHOWABLE_TEXT",
    "Markdown",
    "csv_cell",
    "escape_markdown",
    "md",
    "visible",
    "write_csv",
]

#: characters a report cannot show as written: control characters (but tab, line feed and carriage return), which
#: Word refuses and a terminal runs, the text-direction embeddings, overrides and isolates, which reorder the text
#: around them, and the non-characters and surrogates no file can hold
UNSHOWABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff\ud800-\udfff]"
)
#: what an :data:`UNSHOWABLE` character is, for a message
UNSHOWABLE_TEXT = "an invisible control or text-direction character, which a report cannot show as written"


def visible(text: str) -> str:
    """``text`` with each invisible character (a control, format or text-direction character) written as its
    escape, so that a message shows what the text holds and a terminal never runs it.

    >>> print(visible("P01\\x1b[2J\\u200b"))
    P01\\x1b[2J\\u200b
    """
    if text.isprintable():
        return text
    return "".join(
        c.encode("unicode_escape", "backslashreplace").decode("ascii")
        if unicodedata.category(c) in ("Cc", "Cf", "Cs")
        else c
        for c in text
    )


#: punctuation that Markdown (CommonMark, GFM, nbconvert's mistune plugins) or HTML gives a meaning inline
_INLINE = re.compile(
    r"([\\`*\[\]<>&!#|~$^])"  # always
    r"|((?<![^\W_])_|_(?![^\W_]))"  # ``_`` unless inside a word (``ash2023_cd7``: CommonMark never emphasises it)
    r"|(:(?=//))"  # the colon of ``http://``, which nbconvert's url plugin would turn into a link
    r"|((?<=\\)[()])"  # a parenthesis after a backslash: ``\\(x\\)`` would be inline math, shown as ``$x$``
)
#: a list marker or thematic break at the start of a value (``#``, ``>``, ``*`` are escaped everywhere)
_BLOCK_START = re.compile(r"^(\s*)(?:([-+=])|(\d{1,9})([.)])(?=\s|$))")
_LINE_BREAKS = re.compile(r"[\r\n]+")


class Markdown(str):
    """Markdown written by cartreport (trusted); any other text combined with it is escaped first.

    Examples
    --------
    >>> Markdown("**{}** ({})").format("*T*", 3)
    Markdown('**\\\\*T\\\\*** (3)')
    >>> Markdown(", ").join(["a<b", Markdown("*c*")])
    Markdown('a\\\\<b, *c*')
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Markdown({super().__repr__()})"

    def __add__(self, other: str) -> Markdown:
        return Markdown(str.__add__(self, escape_markdown(other)))

    def __radd__(self, other: str) -> Markdown:
        return Markdown(str.__add__(escape_markdown(other), self))

    def join(self, items: Iterable[object]) -> Markdown:  # type: ignore[override]
        return Markdown(str.join(self, (escape_markdown(item) for item in items)))

    def format(self, *args: Any, **kwargs: Any) -> Markdown:  # type: ignore[override]
        return Markdown(_EscapeFormatter().vformat(self, args, kwargs))


class _EscapeFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Markdown):
            return value
        return escape_markdown(format(value, format_spec))


def escape_markdown(value: object) -> Markdown:
    """``value`` as Markdown that renders as exactly its text (line breaks as spaces); :class:`Markdown` as is.

    Examples
    --------
    >>> escape_markdown("T-LBL<img src=x>"), escape_markdown("*T*"), escape_markdown("T-ALL")
    (Markdown('T-LBL\\\\<img src=x\\\\>'), Markdown('\\\\*T\\\\*'), Markdown('T-ALL'))
    """
    if isinstance(value, Markdown):
        return value
    text = _INLINE.sub(lambda m: "\\" + m.group(), _LINE_BREAKS.sub(" ", str(value)))
    text = _BLOCK_START.sub(_escape_block_marker, text, count=1)
    return Markdown(text)


def _escape_block_marker(match: re.Match[str]) -> str:
    space, marker, digits, delimiter = match.groups()
    if marker is not None:
        return f"{space}\\{marker}"
    return f"{space}{digits}\\{delimiter}"


def md(template: str, *args: Any, **kwargs: Any) -> Markdown:
    """Our Markdown ``template`` with every value escaped: ``md("**{}**", title)``."""
    return Markdown(template).format(*args, **kwargs)


# --- CSV -----------------------------------------------------------------------------------------------------

#: what a spreadsheet reads as the start of a formula (OWASP "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: a signed number written as text (``-1.5``, ``+3``, ``-1,204``): a spreadsheet reads it as that number
_NUMBER = re.compile(r"[-+][0-9][0-9,]*(?:\.[0-9]+)?")


def csv_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, with a leading ``'``; anything else unchanged.

    Examples
    --------
    >>> csv_cell('=HYPERLINK("http://x","y")'), csv_cell("-2+3"), csv_cell("-1.5"), csv_cell(-1), csv_cell("T-ALL")
    ('\\'=HYPERLINK("http://x","y")', "'-2+3", '-1.5', -1, 'T-ALL')
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: str | PathLike[str] | IO[str]) -> None:
    """Write ``frame`` as UTF-8 CSV with every text cell and header through :func:`csv_cell`.

    No index, ``\\n`` line ends; text is quoted (so a carriage return inside a cell cannot end a row), numbers
    are written bare and stay numbers. ``frame`` itself is not changed.
    """
    from pandas.api.types import is_string_dtype

    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or is_string_dtype(safe[column]):
            safe[column] = safe[column].map(csv_cell)
    safe.columns = [csv_cell(str(c)) for c in safe.columns]
    safe.to_csv(path, index=False, lineterminator="\n", encoding="utf-8", quoting=csv.QUOTE_NONNUMERIC)
