"""Baseline characteristics (Table 1), the patient flow and the intervals between treatment steps.

Table 1 follows gtsummary's defaults: continuous variables as median (range), categorical variables as n (%),
percentages over patients with a known value, missing values counted separately.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartreport.analysis.endpoints import EndpointData
from cartreport.contract.schema import BM_COMPLETE_RESPONSES

__all__ = [
    "APPLIES_WHEN",
    "INTERVALS",
    "MAX_LEVELS",
    "baseline_rows",
    "bone_marrow_counts",
    "code_counts",
    "interval_rows",
    "patient_flow",
]

#: (name, label, from column, to column) for the treatment sequence
INTERVALS: tuple[tuple[str, str, str, str], ...] = (
    ("first_hsct_to_relapse", "First HSCT → relapse", "first_hsct_date", "relapse_after_first_hsct_date"),
    (
        "relapse_to_cart",
        "Relapse → CD7 CAR-T infusion",
        "relapse_after_first_hsct_date",
        "cart_infusion_date",
    ),
    ("cart_to_second_hsct", "CD7 CAR-T infusion → second HSCT", "cart_infusion_date", "second_hsct_date"),
)

#: a categorical variable of Table 1 shows at most this many rows: beyond, the ``MAX_LEVELS - 1`` most frequent
#: levels (then first by name) keep one each and the rest are counted together in one, ``"k other values"``
#: (``"other_values": k`` in results.json). A free-text column (a diagnosis as written, one per patient) made Table 1
#: a row per patient and the summary a list of them.
MAX_LEVELS = 20

_CATEGORICAL = (
    ("diagnosis", "Diagnosis"),
    ("sex", "Sex"),
    ("emd_at_baseline", "Extramedullary disease before CAR-T"),
    ("donor_type", "Donor of the second HSCT"),
)


#: a characteristic that only some patients can have → (the column saying who has it, what Table 1 calls the rest,
#: whom its percentages are over): a patient without a second HSCT has no donor of it, which is not an unknown donor
APPLIES_WHEN: dict[str, tuple[str, str, str]] = {
    "donor_type": ("second_hsct_date", "No second HSCT", "patients with a second HSCT")
}

#: what Table 1 calls each categorical contract column (the report's words name a subgroup column so too)
CATEGORICAL_LABELS: dict[str, str] = dict(_CATEGORICAL)


def _level_counts(values: pd.Series) -> pd.Series:
    """How many cells hold each value, blank cells not counted (``values.dropna().value_counts()``, without
    copying the column); a yes/no column (``bool``) counted as the words ``yes`` and ``no``
    (``values.map({True: "yes", False: "no"})``) from its number of ``True`` cells, without making a word per
    patient."""
    if values.dtype == bool:
        yes = int(np.count_nonzero(values.to_numpy()))
        counts = pd.Series({"yes": yes, "no": len(values) - yes}, dtype=np.int64)
        return counts[counts > 0]  # a word no cell holds is not a level
    return values.value_counts()  # dropna=True: blank cells are not counted


def _count_rows(table: pd.DataFrame, column: str, label: str) -> list[dict]:
    values = table[column]
    counts = _level_counts(values)
    known = int(counts.sum())  # the cells with a value
    missing = int(len(values) - known)
    not_applicable = 0
    if column in APPLIES_WHEN and APPLIES_WHEN[column][0] in table.columns:
        not_applicable = int((values.isna() & table[APPLIES_WHEN[column][0]].isna()).sum())
        missing -= not_applicable
    levels = sorted(counts.index, key=lambda v: (-counts[v], str(v)))
    kept = levels if len(levels) <= MAX_LEVELS else levels[: MAX_LEVELS - 1]
    rows = [_count_row(column, label, str(level), int(counts[level]), known, missing) for level in kept]
    if len(kept) < len(levels):
        lumped = len(levels) - len(kept)
        n = int(counts[levels[len(kept) :]].sum())
        rows.append(
            {
                **_count_row(column, label, f"{lumped:,} other values", n, known, missing),
                "other_values": lumped,
            }
        )
    if not_applicable:
        for row in rows:
            row["not_applicable"] = not_applicable
    return rows


def _count_row(column: str, label: str, level: str, n: int, known: int, missing: int) -> dict:
    return {
        "variable": column,
        "label": label,
        "level": level,
        "kind": "count",
        "n": n,
        "percent": float(n / known),
        "median": None,
        "min": None,
        "max": None,
        "missing": missing,
    }


def _continuous_row(values: pd.Series, variable: str, label: str) -> dict:
    known = values.dropna().astype(float)
    return {
        "variable": variable,
        "label": label,
        "level": None,
        "kind": "continuous",
        "n": int(known.size),
        "percent": None,
        "median": float(np.median(known)) if known.size else None,
        "min": float(known.min()) if known.size else None,
        "max": float(known.max()) if known.size else None,
        "missing": int(values.isna().sum()),
    }


def baseline_rows(table: pd.DataFrame) -> list[dict]:
    """Table 1 rows of a coerced patient table (columns absent from the table are skipped)."""
    rows: list[dict] = []
    if "age_years" in table.columns:
        rows.append(_continuous_row(table["age_years"], "age_years", "Age at CAR-T infusion, years"))
    for column, label in _CATEGORICAL:
        if column in table.columns:
            rows.extend(_count_rows(table, column, label))
    return rows


def interval_rows(table: pd.DataFrame) -> list[dict]:
    """Median (range) days between consecutive treatment steps, over patients with both dates."""
    rows = []
    for name, label, start, end in INTERVALS:
        if start not in table.columns or end not in table.columns:
            continue
        days = _days_between(table[start], table[end])
        rows.append(
            {
                "name": name,
                "label": label,
                "n": int(days.size),
                "median_days": float(np.median(days)) if days.size else None,
                "min_days": float(days.min()) if days.size else None,
                "max_days": float(days.max()) if days.size else None,
            }
        )
    return rows


def _days_between(start: pd.Series, end: pd.Series) -> np.ndarray:
    """Whole days from ``start`` to ``end`` (dates) in the rows holding both: ``(end - start).dt.days.dropna()``,
    as integers, without a column of float days and its copy."""
    both = start.notna().to_numpy() & end.notna().to_numpy()
    return (end.to_numpy()[both] - start.to_numpy()[both]) // np.timedelta64(1, "D")


def bone_marrow_counts(bm_response: pd.Series) -> dict[str, int]:
    """Patients evaluable for bone-marrow response (all but ``NE``), in MRD-negative CR, and in CR
    (MRD-negative or positive): the one count behind the patient flow and the response rates."""
    counts = code_counts(bm_response)
    return {
        "bm_evaluable": len(bm_response) - counts.get("NE", 0),  # (bm_response != "NE").sum()
        "bm_mrd_negative_cr": counts.get("MRD-negative CR", 0),
        "bm_cr": sum(counts.get(code, 0) for code in BM_COMPLETE_RESPONSES),
    }


def code_counts(values: pd.Series) -> dict:
    """How many cells hold each value (one pass over the column): ``code_counts(s).get(code, 0)`` is
    ``(s == code).sum()`` for a text ``code``."""
    return {value: int(n) for value, n in values.value_counts(dropna=False).items()}


#: the flow's reasons for the patients a report leaves out of its population (``flow["excluded"]``, first)
OUTSIDE_SUBGROUP = "outside the selected subgroup"
INFUSED_AFTER_CUTOFF = "infused after the data cut-off"


def left_out(flow: dict) -> list[dict]:
    """The entries of ``flow["excluded"]`` for patients left out of the population: outside the selected subgroup,
    infused after the data cut-off (every row of a file was infused: the contract requires the date). The others
    (e.g. no second HSCT) leave after the CAR-T infusion."""
    return [
        e
        for e in flow.get("excluded") or []
        if int(e.get("n", 0)) > 0
        and (e["reason"] == OUTSIDE_SUBGROUP or e["reason"].startswith(INFUSED_AFTER_CUTOFF))
    ]


def patient_flow(table: pd.DataFrame, endpoints: EndpointData, enrolled: int | None = None) -> dict:
    """CONSORT-style counts: enrolled → infused → responded → transplanted (``transplanted_without_cr`` of them
    without bone-marrow CR) → analysed.

    ``enrolled`` is the number of rows before a subgroup filter (defaults to the table's rows).
    """
    cutoff = endpoints.data_cutoff
    infused = table["cart_infusion_date"].notna()
    transplanted = table["second_hsct_date"].notna()
    if cutoff is not None:
        infused &= table["cart_infusion_date"] <= cutoff
        transplanted &= table["second_hsct_date"] <= cutoff
    return {
        "enrolled": int(enrolled if enrolled is not None else len(table)),
        "infused": int(infused.sum()),
        **bone_marrow_counts(table["bm_response"]),
        "transplanted": int(transplanted.sum()),
        # a patient without bone-marrow CR may still have the second HSCT: the flow's steps are not nested there
        "transplanted_without_cr": int(
            (transplanted & ~table["bm_response"].isin(BM_COMPLETE_RESPONSES)).sum()
        ),
        "analysed": int(endpoints.patients["analysed"].sum()),
        "time_origin": endpoints.time_origin,
        "excluded": endpoints.exclusions(),
    }
