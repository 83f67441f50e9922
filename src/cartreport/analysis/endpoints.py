"""Endpoints derived from dates: overall survival, leukaemia-free survival, relapse and non-relapse mortality.

Definitions (stated in every report's methods section, from :data:`DEFINITIONS`):

* **Time origin** (``time_origin``): the second allogeneic HSCT (``"second_hsct"``, default) or the CAR-T infusion
  (``"cart_infusion"``). Patients without a second HSCT leave transplant-origin analyses; the patient flow counts them.
* **Data cut-off** (``data_cutoff``, optional): one population for the whole report (:func:`at_cutoff`). A
  patient enters the cohort on the day of the CAR-T infusion (the table has no enrolment date, and every
  response, transplant and event is counted from the infusion), so a patient infused after the cut-off had not
  entered the study by then and leaves every count, table, figure and sentence; the flow says how many. For the
  others, events after the cut-off are ignored (with the second HSCT's donor and the cause of death) and
  follow-up is censored at it. Without a cut-off, follow-up ends at each patient's last contact.
* **OS**: death from any cause; alive patients are censored at last contact.
* **LFS**: relapse or death, whichever comes first; censored at last contact.
* **Relapse** (cumulative incidence): relapse, with death without relapse as the competing event.
* **NRM**: death without prior relapse, with relapse as the competing event.
* A relapse dated before the time origin (a patient not in remission at the second HSCT) counts at time 0.

Times are in days; months are days / 30.4375.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "DAYS_PER_MONTH",
    "DEFINITIONS",
    "ORIGINS",
    "TIMELINE_COLUMNS",
    "EndpointData",
    "at_cutoff",
    "derive_endpoints",
    "month_ticks",
    "tick_step_months",
    "months",
    "patient_timeline",
]

DAYS_PER_MONTH = 30.4375
ORIGINS = {"second_hsct": "second allogeneic HSCT", "cart_infusion": "CD7 CAR-T infusion"}
_ORIGIN_COLUMN = {"second_hsct": "second_hsct_date", "cart_infusion": "cart_infusion_date"}

DEFINITIONS = {
    "os": ("Overall survival", "death from any cause; patients alive are censored at last contact"),
    "lfs": (
        "Leukemia-free survival",
        "relapse or death from any cause, whichever occurred first; censored at last contact",
    ),
    "relapse": (
        "Cumulative incidence of relapse",
        "relapse, with death without relapse as the competing event",
    ),
    "nrm": (
        "Non-relapse mortality",
        "death without prior relapse, with relapse as the competing event",
    ),
}

#: competing-risk status codes of ``EndpointData.patients["cr_status"]``
CENSORED, RELAPSE, DEATH_WITHOUT_RELAPSE = 0, 1, 2


#: tick steps of a time axis in months; the first giving at most 8 intervals is used
TICK_STEPS_MONTHS = (1, 2, 3, 6, 12, 24, 36, 60, 120)


def tick_step_months(span_months: float) -> int:
    """The tick step (months) of a time axis spanning ``span_months``: the first of ``TICK_STEPS_MONTHS``
    giving at most 8 intervals, the largest when none does.

    >>> tick_step_months(29.4), tick_step_months(100.0), tick_step_months(5000.0)
    (6, 24, 120)
    """
    return next((s for s in TICK_STEPS_MONTHS if span_months / s <= 8), TICK_STEPS_MONTHS[-1])


def month_ticks(data_max_months: float) -> tuple[np.ndarray, float]:
    """Time-axis ticks (months) covering ``[0, data_max_months]`` and the axis end (the last tick).

    One rule for the figures' x axes and the numbers-at-risk tables in ``results.json``, so the counts printed
    under a curve are the counts reported as data.

    >>> month_ticks(29.4)[0].tolist()
    [0.0, 6.0, 12.0, 18.0, 24.0, 30.0]
    """
    right = max(float(data_max_months), 1.0)
    step = tick_step_months(right)
    right = math.ceil(right / step - 1e-9) * step
    return np.arange(0.0, right + 1e-9, step), float(right)


def months(days):
    """Days to months (days / 30.4375)."""
    return np.asarray(days, dtype=float) / DAYS_PER_MONTH


@dataclass(frozen=True)
class EndpointData:
    """Per-patient endpoint times for one time origin and data cut-off.

    ``patients`` has one row per patient with ``patient_id``, ``analysed`` (bool), ``exclusion_reason``
    (text or None) and, for analysed patients, ``os_time_days``/``os_event``, ``lfs_time_days``/``lfs_event``,
    ``cr_time_days``/``cr_status`` (0 censored, 1 relapse, 2 death without relapse).
    """

    patients: pd.DataFrame
    time_origin: str
    data_cutoff: pd.Timestamp | None

    @property
    def analysed(self) -> pd.DataFrame:
        return self.patients[self.patients["analysed"]].reset_index(drop=True)

    def exclusions(self) -> list[dict]:
        reasons = self.patients.loc[~self.patients["analysed"], "exclusion_reason"]
        counts = reasons.value_counts(sort=False)
        return [{"reason": str(r), "n": int(n)} for r, n in sorted(counts.items())]


#: columns that describe an event and are blanked with it when the event falls after the data cut-off
_EVENT_DETAILS = {"second_hsct_date": "donor_type", "death_date": "cause_of_death"}


def _apply_cutoff(table: pd.DataFrame, cutoff: pd.Timestamp | None) -> pd.DataFrame:
    """Dates as seen at the cut-off: later events (and what describes them) blanked, last contact capped (a copy;
    without a cut-off, ``table`` itself, which callers only read)."""
    if cutoff is None:
        return table
    out = table.copy()
    for name in ("second_hsct_date", "relapse_date", "death_date"):
        later = out[name] > cutoff
        out.loc[later, name] = pd.NaT
        detail = _EVENT_DETAILS.get(name)
        if detail in out.columns:
            out.loc[later, detail] = None
    out["last_contact_date"] = out["last_contact_date"].where(out["last_contact_date"] <= cutoff, cutoff)
    return out


def at_cutoff(table: pd.DataFrame, data_cutoff=None) -> pd.DataFrame:
    """The patients of a coerced table as known at the data cut-off: those infused on or before it, with later
    events blanked and last contact capped at it. Without a cut-off, the table unchanged.

    Examples
    --------
    >>> t = pd.DataFrame({"patient_id": ["P1", "P2"], "cart_infusion_date": pd.to_datetime(["2022-01-01",
    ...     "2023-02-01"]), "second_hsct_date": pd.to_datetime(["2023-03-01", None]),
    ...     "relapse_date": pd.to_datetime([None, None]), "death_date": pd.to_datetime([None, None]),
    ...     "last_contact_date": pd.to_datetime(["2023-06-01", "2023-06-01"])})
    >>> seen = at_cutoff(t, "2022-12-31")
    >>> seen["patient_id"].tolist(), seen["second_hsct_date"].isna().tolist(), str(seen["last_contact_date"][0].date())
    (['P1'], [True], '2022-12-31')
    """
    cutoff = None if data_cutoff in (None, "") else pd.Timestamp(data_cutoff)
    if cutoff is None:
        return table
    kept = table[table["cart_infusion_date"] <= cutoff].reset_index(drop=True)
    return _apply_cutoff(kept, cutoff)


def derive_endpoints(table: pd.DataFrame, time_origin: str = "second_hsct", data_cutoff=None) -> EndpointData:
    """Endpoint times and events for every patient of a coerced table (:func:`cartreport.contract.coerce.coerce`).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"patient_id": ["P1"], "cart_infusion_date": pd.to_datetime(["2022-01-01"]),
    ...     "second_hsct_date": pd.to_datetime(["2022-02-01"]), "relapse_date": pd.to_datetime([None]),
    ...     "death_date": pd.to_datetime(["2022-08-01"]), "last_contact_date": pd.to_datetime(["2022-08-01"])})
    >>> e = derive_endpoints(t).patients.iloc[0]
    >>> int(e.os_time_days), int(e.os_event), int(e.cr_status)
    (181, 1, 2)
    """
    if time_origin not in ORIGINS:
        raise ValueError(f"time_origin must be one of {sorted(ORIGINS)}, not {time_origin!r}")
    cutoff = None if data_cutoff in (None, "") else pd.Timestamp(data_cutoff)
    seen = _apply_cutoff(table, cutoff)
    origin = seen[_ORIGIN_COLUMN[time_origin]]

    reason = pd.Series(None, index=seen.index, dtype=object)
    if cutoff is not None:
        reason[seen["cart_infusion_date"] > cutoff] = "CAR-T infusion after the data cut-off"
    if time_origin == "second_hsct":
        reason[reason.isna() & origin.isna()] = "no second HSCT"
    analysed = reason.isna()

    died = seen["death_date"].notna()
    end = seen["death_date"].where(died, seen["last_contact_date"])
    relapsed = seen["relapse_date"].notna()
    relapse_time = (seen["relapse_date"] - origin).dt.days.clip(lower=0)
    end_time = (end - origin).dt.days.clip(lower=0)

    lfs_time = np.where(relapsed, np.minimum(relapse_time.fillna(np.inf), end_time), end_time)
    cr_status = np.where(relapsed, RELAPSE, np.where(died, DEATH_WITHOUT_RELAPSE, CENSORED))
    cr_time = np.where(relapsed, relapse_time.fillna(0), end_time)

    patients = pd.DataFrame(
        {
            "patient_id": seen["patient_id"].to_numpy(),
            "analysed": analysed.to_numpy(),
            "exclusion_reason": reason.to_numpy(),
            "os_time_days": end_time.to_numpy(dtype=float),
            "os_event": died.astype(int).to_numpy(),
            "lfs_time_days": np.asarray(lfs_time, dtype=float),
            "lfs_event": (relapsed | died).astype(int).to_numpy(),
            "cr_time_days": np.asarray(cr_time, dtype=float),
            "cr_status": cr_status.astype(int),
        }
    )
    for name in ("os_time_days", "lfs_time_days", "cr_time_days"):
        patients.loc[~patients["analysed"], name] = np.nan
    return EndpointData(patients=patients, time_origin=time_origin, data_cutoff=cutoff)


#: the columns of a coerced table that :func:`patient_timeline` reads
TIMELINE_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "diagnosis",
    "cart_infusion_date",
    "second_hsct_date",
    "relapse_date",
    "death_date",
    "last_contact_date",
    "bm_response",
    "emd_response",
)


def patient_timeline(table: pd.DataFrame, data_cutoff=None) -> pd.DataFrame:
    """One row per patient, times in months since the CAR-T infusion (for the swimmer plot).

    Columns: ``patient_id``, ``diagnosis``, ``end_months`` (death or last contact), ``second_hsct_months``,
    ``relapse_months``, ``death_months`` (NaN when the event did not happen), ``censored`` (alive at the end),
    ``bm_response``, ``emd_response``.
    """
    cutoff = None if data_cutoff in (None, "") else pd.Timestamp(data_cutoff)
    seen = _apply_cutoff(table, cutoff)
    start = seen["cart_infusion_date"]

    def since(col: pd.Series) -> np.ndarray:
        return months((col - start).dt.days.to_numpy(dtype=float))

    died = seen["death_date"].notna()
    end = seen["death_date"].where(died, seen["last_contact_date"])
    return pd.DataFrame(  # numpy columns: a new RangeIndex, as .reset_index(drop=True) gave, without a copy
        {
            "patient_id": seen["patient_id"].to_numpy(),
            "diagnosis": seen["diagnosis"].to_numpy(),
            "end_months": since(end),
            "second_hsct_months": since(seen["second_hsct_date"]),
            "relapse_months": since(seen["relapse_date"]),
            "death_months": since(seen["death_date"]),
            "censored": (~died).to_numpy(),
            "bm_response": seen["bm_response"].to_numpy(),
            "emd_response": seen["emd_response"].to_numpy(),
        }
    )
