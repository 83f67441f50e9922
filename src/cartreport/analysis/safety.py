"""Safety of the CAR-T infusion: cytokine release syndrome (CRS) and neurotoxicity (ICANS) by ASTCT 2019 grade.

Patients by grade (0–5), and the rates of any grade (1–5) and of grade 3 or higher with exact Clopper–Pearson
intervals (:func:`cartreport.stats.proportions.clopper_pearson`, as R ``binom.test``), among infused patients whose grade
was assessed (blank = not assessed). Every patient of the table received the infusion (``cart_infusion_date`` is
required).

References
----------
Lee DW, et al. ASTCT consensus grading for cytokine release syndrome and neurologic toxicity associated with
immune effector cells. Biol Blood Marrow Transplant 2019;25:625–638.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartreport.stats.proportions import clopper_pearson

__all__ = ["GRADES", "SAFETY_LABELS", "grade_summary", "safety_results"]

GRADES: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
#: results.json key → (grade column, label)
SAFETY_LABELS: dict[str, tuple[str, str]] = {
    "crs": ("crs_grade", "Cytokine release syndrome"),
    "icans": ("icans_grade", "Immune effector cell-associated neurotoxicity syndrome"),
}


def _rate(responders: int, evaluable: int, ci_level: float) -> dict:
    return clopper_pearson(responders, evaluable, ci_level).to_dict()


def grade_summary(grades, label: str, ci_level: float = 0.95) -> dict:
    """Patients by grade, and rates of any grade and grade ≥ 3 among the assessed.

    Parameters
    ----------
    grades : one grade (0–5) per infused patient, ``NaN`` where not assessed.
    label : the syndrome's name.
    ci_level : confidence level of the Clopper–Pearson intervals.

    Examples
    --------
    >>> s = grade_summary([0, 1, 3, float("nan")], "CRS")
    >>> s["counts"]["3"], s["evaluable"], s["any"]["responders"], s["grade_3_plus"]["rate"]
    (1, 3, 2, 0.3333333333333333)
    """
    values = np.asarray(grades, dtype=float)
    assessed = values[~np.isnan(values)]
    evaluable = int(assessed.size)
    return {
        "label": label,
        "counts": {str(g): int((assessed == g).sum()) for g in GRADES},
        "evaluable": evaluable,
        "not_assessed": int(values.size - evaluable),
        "any": _rate(int((assessed >= 1).sum()), evaluable, ci_level),
        "grade_3_plus": _rate(int((assessed >= 3).sum()), evaluable, ci_level),
    }


def safety_results(table: pd.DataFrame, ci_level: float) -> dict:
    """``results["safety"]``: ``{"crs": ..., "icans": ...}`` for the grade columns the table has (may be empty)."""
    return {
        key: grade_summary(table[column], label, ci_level)
        for key, (column, label) in SAFETY_LABELS.items()
        if column in table.columns
    }
