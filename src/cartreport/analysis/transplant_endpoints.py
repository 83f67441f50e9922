"""Transplant outcomes derived from dates: engraftment, acute and chronic GVHD, GVHD-free relapse-free survival.

Definitions (stated in the report's methods section, from :data:`TRANSPLANT_DEFINITIONS`):

* **Time origin**: always the second allogeneic HSCT, whatever the report's ``time_origin``; patients without
  one are excluded and counted (reason ``"no second HSCT"``).
* **Data cut-off**: as :mod:`cartreport.analysis.endpoints` (events after it ignored, follow-up censored there).
* **Follow-up** ends at death or last contact; patients alive without the event are censored there.
* **Neutrophil / platelet engraftment**: cumulative incidence, competing event death before engraftment.
* **Acute GVHD II–IV / III–IV**: cumulative incidence, competing event death without that event (relapse is not a
  competing event).
* **Chronic GVHD**, and **moderate–severe chronic GVHD** (onset counted only where the NIH global severity is
  moderate or severe): cumulative incidence, competing event death without the event.
* **GRFS** (Holtan et al., Blood 2015): Kaplan–Meier; event = the earliest of acute GVHD III–IV, systemic
  treatment of chronic GVHD, relapse and death. A relapse dated before the HSCT counts at time 0.

An endpoint exists only when the table has its columns (:data:`REQUIRED_COLUMNS`); a cohort without them has none.
Times are in days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "GRFS_EVENTS",
    "INCIDENCE",
    "LANDMARK_DAYS",
    "REQUIRED_COLUMNS",
    "TRANSPLANT_DEFINITIONS",
    "TransplantEndpoints",
    "available_endpoints",
    "derive_transplant_endpoints",
]

#: competing-risk status codes of the ``<name>_status`` columns
CENSORED, EVENT, COMPETING_DEATH = 0, 1, 2

TRANSPLANT_DEFINITIONS: dict[str, tuple[str, str]] = {
    "neutrophil_engraftment": (
        "Neutrophil engraftment",
        "neutrophil engraftment, with death before engraftment as the competing event",
    ),
    "platelet_engraftment": (
        "Platelet engraftment",
        "platelet engraftment, with death before engraftment as the competing event",
    ),
    "agvhd_2_4": (
        "Acute GVHD grade II–IV",
        "acute GVHD reaching grade II–IV, with death without it as the competing event",
    ),
    "agvhd_3_4": (
        "Acute GVHD grade III–IV",
        "acute GVHD reaching grade III–IV, with death without it as the competing event",
    ),
    "cgvhd": ("Chronic GVHD", "onset of chronic GVHD, with death without it as the competing event"),
    "cgvhd_moderate_severe": (
        "Moderate–severe chronic GVHD",
        "onset of chronic GVHD of NIH global severity moderate or severe, with death without it as the "
        "competing event",
    ),
    "grfs": (
        "GVHD-free, relapse-free survival",
        "acute GVHD grade III–IV, chronic GVHD requiring systemic treatment, relapse or death, whichever "
        "occurred first; censored at last contact",
    ),
}

#: cumulative-incidence endpoints → the date column of their event
INCIDENCE: dict[str, str] = {
    "neutrophil_engraftment": "neutrophil_engraftment_date",
    "platelet_engraftment": "platelet_engraftment_date",
    "agvhd_2_4": "agvhd_2_4_date",
    "agvhd_3_4": "agvhd_3_4_date",
    "cgvhd": "cgvhd_date",
    "cgvhd_moderate_severe": "cgvhd_date",
}
#: the dates whose earliest is a GRFS event
GRFS_EVENTS: tuple[str, ...] = ("agvhd_3_4_date", "cgvhd_systemic_date", "relapse_date", "death_date")
#: optional columns each endpoint needs
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    **{key: (column,) for key, column in INCIDENCE.items()},
    "cgvhd_moderate_severe": ("cgvhd_date", "cgvhd_severity"),
    "grfs": ("agvhd_3_4_date", "cgvhd_systemic_date"),
}
#: landmark days of each endpoint
LANDMARK_DAYS: dict[str, tuple[int, ...]] = {
    "neutrophil_engraftment": (28, 100),
    "platelet_engraftment": (28, 100),
    "agvhd_2_4": (100, 180),
    "agvhd_3_4": (100, 180),
    "cgvhd": (365, 730),
    "cgvhd_moderate_severe": (365, 730),
    "grfs": (365, 730),
}
_OUTCOME_DATES = ("relapse_date", "death_date", *dict.fromkeys(INCIDENCE.values()), "cgvhd_systemic_date")


def available_endpoints(columns) -> tuple[str, ...]:
    """The transplant endpoints whose columns are all in ``columns``, in :data:`TRANSPLANT_DEFINITIONS` order."""
    have = set(columns)
    return tuple(key for key in TRANSPLANT_DEFINITIONS if set(REQUIRED_COLUMNS[key]) <= have)


@dataclass(frozen=True)
class TransplantEndpoints:
    """Per-patient times from the second HSCT for the available transplant endpoints.

    ``patients`` has one row per patient with ``patient_id``, ``analysed`` (bool), ``exclusion_reason`` and, for
    each cumulative-incidence endpoint ``k`` available, ``k_time_days`` / ``k_status`` (0 censored, 1 event,
    2 death without the event); for GRFS ``grfs_time_days`` / ``grfs_event``.
    """

    patients: pd.DataFrame
    endpoints: tuple[str, ...]

    @property
    def analysed(self) -> pd.DataFrame:
        return self.patients[self.patients["analysed"]].reset_index(drop=True)

    def exclusions(self) -> list[dict]:
        reasons = self.patients.loc[~self.patients["analysed"], "exclusion_reason"]
        return [{"reason": str(r), "n": int(n)} for r, n in sorted(reasons.value_counts(sort=False).items())]


def derive_transplant_endpoints(table: pd.DataFrame, data_cutoff=None) -> TransplantEndpoints:
    """Times and events of every available transplant endpoint, from a coerced table.

    Examples
    --------
    >>> d = pd.to_datetime
    >>> t = pd.DataFrame({"patient_id": ["P1", "P2"], "cart_infusion_date": d(["2022-01-01", "2022-01-01"]),
    ...     "second_hsct_date": d(["2022-02-01", None]), "relapse_date": d([None, None]),
    ...     "death_date": d(["2022-03-01", None]), "last_contact_date": d(["2022-03-01", "2022-06-01"]),
    ...     "neutrophil_engraftment_date": d([None, None])})
    >>> e = derive_transplant_endpoints(t)
    >>> e.endpoints, e.exclusions()
    (('neutrophil_engraftment',), [{'reason': 'no second HSCT', 'n': 1}])
    >>> row = e.analysed.iloc[0]
    >>> float(row.neutrophil_engraftment_time_days), int(row.neutrophil_engraftment_status)
    (28.0, 2)
    """
    keys = available_endpoints(table.columns)
    if not keys:  # a cohort without the optional columns: nothing to derive (and nothing to copy)
        empty = pd.DataFrame({"patient_id": [], "analysed": [], "exclusion_reason": []})
        return TransplantEndpoints(patients=empty.astype({"analysed": bool}), endpoints=())
    cutoff = None if data_cutoff in (None, "") else pd.Timestamp(data_cutoff)
    seen = table.copy()
    if cutoff is not None:
        for name in ("second_hsct_date", *_OUTCOME_DATES):
            if name in seen.columns:
                seen.loc[seen[name] > cutoff, name] = pd.NaT
        seen["last_contact_date"] = seen["last_contact_date"].where(
            seen["last_contact_date"] <= cutoff, cutoff
        )

    origin = seen["second_hsct_date"]
    reason = pd.Series(None, index=seen.index, dtype=object)
    if cutoff is not None:
        reason[seen["cart_infusion_date"] > cutoff] = "CAR-T infusion after the data cut-off"
    reason[reason.isna() & origin.isna()] = "no second HSCT"
    analysed = reason.isna().to_numpy()

    def days(col: pd.Series) -> np.ndarray:
        return (col - origin).dt.days.clip(lower=0).to_numpy(dtype=float)  # NaN where blank

    died = seen["death_date"].notna().to_numpy()
    end = days(seen["death_date"].where(seen["death_date"].notna(), seen["last_contact_date"]))
    out = {
        "patient_id": seen["patient_id"].to_numpy(),
        "analysed": analysed,
        "exclusion_reason": reason.to_numpy(),
    }
    for key in keys:
        if key == "grfs":
            first = np.fmin.reduce([days(seen[name]) for name in GRFS_EVENTS])  # NaN only where none happened
            happened = ~np.isnan(first)
            out["grfs_time_days"] = np.where(happened, first, end)
            out["grfs_event"] = happened.astype(int)
            continue
        event_day = days(seen[INCIDENCE[key]])
        if key == "cgvhd_moderate_severe":
            severe = seen["cgvhd_severity"].isin(["moderate", "severe"]).to_numpy()
            event_day = np.where(severe, event_day, np.nan)
        happened = ~np.isnan(event_day)
        out[f"{key}_time_days"] = np.where(happened, event_day, end)
        out[f"{key}_status"] = np.where(happened, EVENT, np.where(died, COMPETING_DEATH, CENSORED)).astype(
            int
        )
    patients = pd.DataFrame(out)
    for column in patients.columns:
        if column.endswith("_time_days"):
            patients.loc[~patients["analysed"], column] = np.nan
    return TransplantEndpoints(patients=patients, endpoints=keys)
