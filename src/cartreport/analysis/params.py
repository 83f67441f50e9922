"""Report parameters: names, types, defaults and checks — one list for the CLI, the api and the notebooks.

The notebooks' ``parameters`` cells hold the same names with the same defaults (``tests/test_notebooks.py`` checks
it). :func:`resolve_parameters` refuses unknown names, wrong types and impossible values with a
:class:`~cartreport.errors.ParameterError` before anything runs, and converts command-line text (``-p NAME VALUE``)
with YAML rules so that ``-p landmarks_months "[6, 12]"`` and ``-p ci_level 0.9`` work as users expect.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from cartreport.errors import ParameterError
from cartreport.escape import UNSHOWABLE, visible
from cartreport.stats.km import CI_METHODS

__all__ = [
    "PARAMETERS",
    "ParameterSpec",
    "anchor_data_path",
    "as_parameters",
    "default_parameters",
    "did_you_mean",
    "load_yaml",
    "yaml_error",
    "parse_cli_value",
    "read_yaml_file",
    "resolve_parameters",
]


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: object
    kind: str  # "path", "text", "title", "date", "choice", "number", "months", "mapping"
    help: str
    choices: tuple[str, ...] = ()


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("data", "", "path", "patient table (CSV, XLSX, Parquet, XPT); empty = the shipped study"),
    ParameterSpec("sheet", "", "text", "Excel sheet name; empty = the first sheet"),
    ParameterSpec(
        "time_origin",
        "second_hsct",
        "choice",
        "time zero of survival analyses",
        choices=("second_hsct", "cart_infusion"),
    ),
    ParameterSpec("data_cutoff", "", "date", "YYYY-MM-DD: later events ignored, follow-up censored there"),
    ParameterSpec("landmarks_months", [6, 12, 24], "months", "landmark times for survival estimates, months"),
    ParameterSpec("ci_level", 0.95, "number", "confidence level of every interval"),
    ParameterSpec(
        "ci_method", "log-log", "choice", "Kaplan–Meier interval transformation", choices=CI_METHODS
    ),
    ParameterSpec("subgroup", {}, "mapping", "restrict to rows whose column takes one of the listed values"),
    ParameterSpec(
        "subgroup_by",
        "",
        "text",
        "column whose values split the survival curves (log-rank test); not patient_id, an identifier or a "
        "column where more than half of the groups hold one patient",
    ),
    ParameterSpec(
        "title", "", "title", "report title (at most 255 characters); empty = a title from the data"
    ),
    ParameterSpec("output_dir", "", "text", "set by cartreport run (choose --output instead)"),
)
_BY_NAME = {p.name: p for p in PARAMETERS}


def default_parameters() -> dict:
    """Every parameter at its default (fresh copies of mutable defaults)."""
    return {p.name: copy.deepcopy(p.default) for p in PARAMETERS}


class _TextDatesLoader(yaml.SafeLoader):
    """YAML's safe loader, except that dates stay text: the ``date`` check reads them, so that an impossible date
    such as 2023-02-30 is a :class:`ParameterError` rather than a ``ValueError`` inside the YAML library; and a key
    written twice in one mapping is an error, where YAML would keep the last silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[tuple[str, str], yaml.Node] = {}
        for (
            key_node,
            _,
        ) in node.value:  # as written: a merge (<<) may be overridden, a key given twice may not
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            first = seen.setdefault((key_node.tag, key_node.value), key_node)
            if first is not key_node:
                raise yaml.constructor.ConstructorError(
                    problem=f"{key_node.value} is given twice, on lines {first.start_mark.line + 1} and "
                    f"{key_node.start_mark.line + 1}; keep one",
                    problem_mark=key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> object:
    """Parameters written in YAML (a ``-p`` value, a params file, a batch grid), dates kept as text.

    >>> load_yaml("data_cutoff: 2023-02-30")
    {'data_cutoff': '2023-02-30'}
    """
    try:
        return yaml.load(text, Loader=_TextDatesLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:  # e.g. thousands of nested brackets: a YAML error like any other, not a crash
        raise yaml.YAMLError("the text is nested too deeply") from None


#: the largest parameters file read (``--params-file``, a batch grid): such a file holds a few lines
MAX_YAML_BYTES = 1 << 20


def read_yaml_file(path: Path, name: str) -> object:
    """The YAML of a parameters file (``--params-file``, a batch grid: ``name``), dates kept as text.

    Raises :class:`ParameterError` naming ``name`` and the file when it cannot be read, is larger than
    :data:`MAX_YAML_BYTES` (``/dev/zero`` is endless), is not UTF-8 text or is not YAML.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_YAML_BYTES + 1)
        if len(raw) > MAX_YAML_BYTES:
            reason = f"is larger than {MAX_YAML_BYTES:,} bytes; it should hold a few lines of YAML"
            raise ParameterError(name, str(path), reason)
        return load_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ParameterError(name, str(path), "is not UTF-8 text; save it as UTF-8") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ParameterError(name, str(path), f"cannot be read as YAML ({yaml_error(exc)})") from None


def yaml_error(exc: Exception) -> str:
    """A YAML error in one line: where, and what (PyYAML's own text spans several lines with a snippet).

    >>> try:
    ...     load_yaml("title: !!python/object/apply:os.system [ls]")
    ... except yaml.YAMLError as exc:
    ...     print(yaml_error(exc))
    line 1, column 8: could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'
    """
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    what = getattr(exc, "problem", None) or str(exc)
    return where + " ".join(str(what).split())


def parse_cli_value(text: str) -> object:
    """A ``-p NAME VALUE`` value as YAML (numbers, lists, mappings); plain text stays text."""
    try:
        return load_yaml(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def _path(spec: ParameterSpec, value: object) -> str:
    """A file's path: text, or a path object (``pathlib.Path``) as a script builds it."""
    return _text(spec, os.fspath(value) if isinstance(value, os.PathLike) else value)


def _text(spec: ParameterSpec, value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ParameterError(spec.name, value, "must be text")
    return value.strip()


#: Word's limit for a document's title (its core properties); a longer title is no title
TITLE_LENGTH = 255


def _title(spec: ParameterSpec, value: object) -> str:
    text = _text(spec, value)
    if len(text) > TITLE_LENGTH:
        reason = f"must be at most {TITLE_LENGTH} characters (it has {len(text):,}): Word's limit for a document title"
        raise ParameterError(spec.name, value, reason)
    unshowable = UNSHOWABLE.search(text)
    if unshowable:
        reason = (
            f"holds an invisible control or text-direction character ({visible(unshowable.group())}), "
            "which a report cannot show"
        )
        raise ParameterError(spec.name, value, reason)
    return text


def _date(spec: ParameterSpec, value: object) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, dt.date):  # a YAML date; a datetime is its day
        value = (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    text = _text(spec, value)
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(spec.name, value, "must be a date written YYYY-MM-DD, e.g. 2023-06-30") from None
    today = dt.date.today()
    if day > today:  # a cut-off is a day already past, as every date of the data must be
        raise ParameterError(
            spec.name, value, f"is after today ({today.isoformat()}); give the day data were cut"
        )
    return day.isoformat()


def did_you_mean(text: str, options: Iterable[str]) -> str:
    """``"; did you mean <option>?"`` for the one of ``options`` that ``text`` most likely meant, else ``""``:
    the same word in another case or with other separators first, then an option ``text`` begins, then
    :func:`difflib.get_close_matches`.

    Examples
    --------
    >>> did_you_mean("Log-Log", ["log-log", "log"]), did_you_mean("cart", ["second_hsct", "cart_infusion"])
    ('; did you mean log-log?', '; did you mean cart_infusion?')
    >>> did_you_mean("stage", ["diagnosis", "sex"])
    ''
    """
    import difflib

    options = [str(option) for option in options]

    def key(word: str) -> str:
        return "".join(ch for ch in word.casefold() if ch.isalnum())

    wanted = key(text)
    near = next((o for o in options if key(o) == wanted), None) if wanted else None
    if near is None and len(wanted) >= 3:
        starting = [o for o in options if key(o).startswith(wanted)]
        near = starting[0] if len(starting) == 1 else None
    if near is None:
        close = difflib.get_close_matches(text.casefold(), [o.casefold() for o in options], n=1, cutoff=0.6)
        near = next((o for o in options if close and o.casefold() == close[0]), None)
    return f"; did you mean {near}?" if near is not None and near != text else ""


def _choice(spec: ParameterSpec, value: object) -> str:
    text = _text(spec, value)
    if text not in spec.choices:
        allowed = ", ".join(spec.choices)
        raise ParameterError(spec.name, value, f"must be one of {allowed}{did_you_mean(text, spec.choices)}")
    return text


def _number(spec: ParameterSpec, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(spec.name, value, "must be a number between 0 and 1, e.g. 0.95")
    if not 0.5 <= float(value) < 1:
        raise ParameterError(spec.name, value, "must be at least 0.5 and below 1, e.g. 0.95")
    return float(value)


#: ``6,12`` or ``6, 12.5``: numbers separated by commas, as typed after ``-p landmarks_months`` without brackets
_COMMA_NUMBERS = re.compile(r"\s*\d+(?:\.\d+)?(?:\s*,\s*\d+(?:\.\d+)?)*\s*")


def _months(spec: ParameterSpec, value: object) -> list[float]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, str) and _COMMA_NUMBERS.fullmatch(value):
        value = [float(item) for item in value.split(",")]
    if not isinstance(value, list | tuple) or not value:
        raise ParameterError(spec.name, value, "must be a non-empty list of months, e.g. [6, 12, 24]")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise ParameterError(spec.name, value, f"{item!r} is not a number of months")
        if not 0 < item <= 600:
            raise ParameterError(
                spec.name, value, f"{item!r}: landmarks must be positive months (at most 600)"
            )
        out.append(int(item) if float(item).is_integer() else float(item))
    return sorted(set(out))


def _mapping(spec: ParameterSpec, value: object) -> dict[str, list[str]]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise ParameterError(
            spec.name, value, "must map a column to its allowed values, e.g. {diagnosis: [T-ALL]}"
        )
    out = {}
    for column, allowed in value.items():
        if not isinstance(column, str) or not column:
            raise ParameterError(spec.name, value, f"{column!r} is not a column name")
        if isinstance(allowed, str | int | float):
            allowed = [allowed]
        if not isinstance(allowed, list | tuple) or not allowed:
            # YAML reads {diagnosis:T-ALL} as the one key "diagnosis:T-ALL" with no value
            name, colon, rest = column.partition(":")
            hint = f"; put a space after the colon: {{{name}: [{rest}]}}" if colon and name and rest else ""
            raise ParameterError(spec.name, value, f"the values for {column} must be a non-empty list{hint}")
        if not all(isinstance(a, str | int | float) for a in allowed):
            raise ParameterError(spec.name, value, f"the values for {column} must be text or numbers")
        out[column] = sorted(str(a) for a in allowed)
    return dict(sorted(out.items()))


_CHECKS: dict[str, Callable[[ParameterSpec, object], object]] = {
    "path": _path,
    "text": _text,
    "title": _title,
    "date": _date,
    "choice": _choice,
    "number": _number,
    "months": _months,
    "mapping": _mapping,
}


def anchor_data_path(params: dict, base_dir: Path) -> dict:
    """``params`` with a relative ``data`` made relative to ``base_dir``, the folder of the file naming it.

    One rule for a params file (``--params-file``) and a batch grid: ``data: cohort.csv`` means the file
    beside the params file or grid, wherever the command is run from. ``~`` is expanded; absolute paths are
    kept.
    """
    data = params.get("data")
    if isinstance(data, os.PathLike):  # a path object, from Python: the same rule as text
        data = os.fspath(data)
    if not isinstance(data, str) or not data.strip():
        return params
    path = Path(data.strip()).expanduser()
    return {**params, "data": str(path if path.is_absolute() else (Path(base_dir) / path).resolve())}


def as_parameters(parameters: object) -> Mapping:
    """``parameters`` as given to the api (a mapping of names to values; ``None``: none), or a
    :class:`ParameterError`: from Python, a file's name where the parameters go (``load_analysis("cohort.csv")``)
    was a TypeError from deep inside."""
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        reason = "must map parameter names to values, e.g. {'data': 'cohort.csv'}"
        raise ParameterError("parameters", parameters, reason)
    return parameters


def resolve_parameters(overrides: Mapping[str, object] | None = None) -> dict:
    """Defaults updated with ``overrides``, every value checked and normalised.

    Raises
    ------
    ParameterError
        for an unknown name (with the closest known name), a wrong type or an impossible value.

    Examples
    --------
    >>> resolve_parameters({"landmarks_months": [12, 6]})["landmarks_months"]
    [6, 12]
    """
    resolved = default_parameters()
    for name, value in as_parameters(overrides).items():
        spec = _BY_NAME.get(name)
        if spec is None:
            hint = did_you_mean(str(name), _BY_NAME) or f"; known: {', '.join(_BY_NAME)}"
            raise ParameterError(name, value, f"unknown parameter{hint}")
        resolved[name] = _CHECKS[spec.kind](spec, value)
    return resolved
