"""Typed columns from a validated patient table: the data contract (:mod:`.schema`) applied to cell text.

Columnar: each distinct cell value of a column is converted once (dates, numbers, yes/no words), by the one
text-cell rule of :func:`cartreport.read.cells.stripped_text`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartreport.contract.schema import DATE_COLUMNS, FALSE_WORDS, INTEGER_COLUMNS, TRUE_WORDS
from cartreport.read.cells import stripped, stripped_text

__all__ = ["coerce"]


def _yes_no(value: object) -> bool | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"not a yes/no value: {value!r}")


def _yes_no_column(cells: pd.Series, factorized: tuple[np.ndarray, np.ndarray] | None = None) -> pd.Series:
    """:func:`_yes_no` of every cell as ``bool`` (blank → ``False``); each distinct spelling is read once.
    ``factorized``: the column's ``(codes, words)`` if known (text words; code -1 blank)."""
    if factorized is None:
        values = cells.to_numpy(dtype=object)
        if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
            return cells.map(_yes_no).astype(bool)
        factorized = pd.factorize(values)
    codes, words = factorized
    flags = np.array([bool(_yes_no(word)) for word in words] + [False], dtype=bool)  # code -1: the last
    return pd.Series(flags[codes], index=cells.index)


def _stripped_column(cells: pd.Series) -> pd.Series:
    """Text cells by the one rule of :func:`cartreport.read.cells.stripped_text`; a missing marker stays as it was."""
    values = cells.to_numpy(dtype=object)
    cleaned = stripped_text(values)
    if cleaned is None:  # not only text: strip the strings, keep the rest
        return cells.map(lambda v: stripped(v) if isinstance(v, str) else v)
    texts = cleaned[0]
    missing = pd.isna(values)
    texts[missing] = values[missing]
    return pd.Series(texts, index=cells.index, dtype=object)


def _by_distinct_value(
    cells: pd.Series, convert, missing, factorized: tuple[np.ndarray, np.ndarray] | None = None
) -> pd.Series:
    """``convert`` (a whole-column function) applied to each distinct value of an object column once (text
    stripped as by :func:`_stripped_column`), the result spread back over the rows; ``missing`` where the cell
    is missing. Other columns are converted whole. ``factorized``: the column's ``(codes, distinct values)`` if
    known (code -1 missing)."""
    if cells.dtype != object:
        return convert(cells)
    codes, distinct = factorized or pd.factorize(cells.to_numpy(dtype=object))
    distinct = [stripped(v) if isinstance(v, str) else v for v in distinct]
    converted = convert(pd.Series(distinct, dtype=object)).to_numpy()
    return pd.Series(np.append(converted, missing)[codes], index=cells.index)


def _dates(cells: pd.Series, factorized: tuple[np.ndarray, np.ndarray] | None = None) -> pd.Series:
    parse = lambda s: pd.to_datetime(s, format="mixed", errors="raise").astype("datetime64[ns]")  # noqa: E731
    return _by_distinct_value(cells, parse, np.datetime64("NaT", "ns"), factorized)


def _numbers(cells: pd.Series, factorized: tuple[np.ndarray, np.ndarray] | None = None) -> pd.Series:
    to_float = lambda s: pd.to_numeric(s, errors="raise").astype(float)  # noqa: E731
    return _by_distinct_value(cells, to_float, np.nan, factorized)


def coerce(
    table: pd.DataFrame,
    *,
    stripped: bool = False,
    factorized: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> pd.DataFrame:
    """Typed copy of a *validated* patient table.

    Dates become ``datetime64[ns]`` (``NaT`` where blank), ``emd_at_baseline`` becomes ``bool``,
    ``age_years`` a float, text is stripped, and the rows are sorted by ``patient_id`` so that every
    computation downstream is independent of the file's row order. Extra columns are carried along.
    Columnar: each distinct date, number or yes/no word is parsed once.

    ``stripped=True`` says that every text cell already is a stripped ``str`` or ``None`` (the table of a
    :class:`~cartreport.contract.validate.ValidationReport` is), so the text columns are not stripped again.
    ``factorized``: columns of ``table`` already factorized, ``{name: (codes, distinct values)}`` (code -1
    blank; :attr:`ValidationReport.factorized <cartreport.contract.validate.ValidationReport>`), converted from
    their distinct values without hashing the cells again.
    """
    known = factorized or {}
    typed = {}
    for name in table.columns:
        cells = original = table[name]
        parsed = name in DATE_COLUMNS or name == "age_years" or name in INTEGER_COLUMNS
        if cells.dtype == object and not parsed and not stripped:  # dates, numbers: per distinct value below
            cells = _stripped_column(cells)
        if name in DATE_COLUMNS:
            cells = _dates(cells, known.get(name))
        elif name == "age_years" or name in INTEGER_COLUMNS:  # whole numbers: NaN where blank
            cells = _numbers(cells, known.get(name))
        elif name == "emd_at_baseline":
            cells = _yes_no_column(cells, known.get(name) if cells is original else None)
        elif name == "patient_id":
            cells = cells.astype(str)
        typed[name] = (
            cells.copy() if cells is original else cells
        )  # every column new: the input is not shared
    if "emd_at_baseline" not in typed or "patient_id" not in typed:
        raise KeyError("emd_at_baseline" if "emd_at_baseline" not in typed else "patient_id")
    order = _sort_order(typed["patient_id"].to_numpy(dtype=object))
    out = pd.DataFrame(typed, index=table.index, copy=False)  # the new columns as they are, not consolidated
    if not np.array_equal(order, np.arange(len(order))):  # a file sorted by patient_id is already in order
        out = out.take(order)  # .sort_values("patient_id", kind="stable")
    out.index = pd.RangeIndex(len(out))  # .reset_index(drop=True), without copying the columns again
    return out


def _sort_order(ids: np.ndarray) -> np.ndarray:
    """The stable sort order of ``ids`` (``str``), as ``sort_values(kind="stable")`` gives it: pyarrow's stable
    sort of UTF-8 bytes, whose order is that of Python's ``str`` (code points); numpy's for text UTF-8 cannot hold."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        array = pa.array(ids, type=pa.string())
    except (pa.ArrowException, UnicodeEncodeError):  # e.g. a lone surrogate
        return np.argsort(ids, kind="stable")
    order = pc.sort_indices(array).to_numpy()
    del array
    pa.default_memory_pool().release_unused()
    return order
