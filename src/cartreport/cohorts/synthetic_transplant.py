"""Seeded synthetic CRS / ICANS grades, engraftment and GVHD for a synthetic cohort (``cartreport synthesize
--transplant-outcomes``).

Round-number rates, not a model of any study: CRS any grade ≈ 75%, ICANS ≈ 40% (grade 5 only for a death within 30
days of the infusion); neutrophil engraftment ≈ 95% around day 15–25, platelets ≈ 85%; acute GVHD II–IV ≈ 35%
(III–IV in ≈ 40% of those); chronic GVHD ≈ 30% from about day 100. Every date lies between the second HSCT and the
end of follow-up, so the table stays valid. A separate random stream keeps the other columns exactly as without.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartreport.contract.schema import CGVHD_SEVERITIES

__all__ = ["add_transplant_outcomes"]


def _days(cells: pd.Series) -> np.ndarray:
    dates = pd.to_datetime(cells.replace("", None), format="%Y-%m-%d")
    return ((dates - pd.Timestamp("1970-01-01")).dt.days).to_numpy(dtype=float)


def _iso(days: np.ndarray) -> np.ndarray:
    out = np.full(len(days), "", dtype=object)
    given = ~np.isnan(days)
    out[given] = np.datetime_as_string(
        np.datetime64("1970-01-01") + days[given].astype("int64") * np.timedelta64(1, "D"), unit="D"
    )
    return out


def _grades(rng: np.random.Generator, p: list[float], early_death: np.ndarray) -> np.ndarray:
    grades = rng.choice(5, size=len(early_death), p=p).astype(object)
    grades[early_death & (rng.random(len(early_death)) < 0.5)] = 5
    grades[rng.random(len(early_death)) < 0.05] = ""  # not assessed
    return grades.astype(str)


def add_transplant_outcomes(table: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """``table`` (text cells, as :func:`cartreport.cohorts.synthetic.synthetic_cohort` writes) with the nine optional
    safety and transplant-outcome columns added.

    Examples
    --------
    >>> from cartreport.cohorts.synthetic import synthetic_cohort
    >>> add_transplant_outcomes(synthetic_cohort(5, seed=2), seed=2).shape
    (5, 25)
    """
    rng = np.random.default_rng([seed, 11])
    n = len(table)
    cart, hsct = _days(table["cart_infusion_date"]), _days(table["second_hsct_date"])
    death = _days(table["death_date"])
    end = np.where(np.isnan(death), _days(table["last_contact_date"]), death) - hsct  # NaN without HSCT
    early_death = death - cart <= 30

    def within(day: np.ndarray, happens: np.ndarray) -> np.ndarray:
        day = np.round(day)
        return np.where(happens & (day <= end), hsct + day, np.nan)

    neutrophil = within(10 + rng.gamma(6.0, 2.5, size=n), rng.random(n) < 0.95)
    platelet = within(14 + rng.exponential(15.0, size=n), rng.random(n) < 0.85)
    agvhd_day = 14 + rng.exponential(30.0, size=n)
    agvhd_2_4 = within(agvhd_day, rng.random(n) < 0.35)
    agvhd_3_4 = np.where(
        ~np.isnan(agvhd_2_4), within(agvhd_day + rng.exponential(8.0, size=n), rng.random(n) < 0.4), np.nan
    )
    cgvhd_day = 100 + rng.exponential(120.0, size=n)
    cgvhd = within(cgvhd_day, rng.random(n) < 0.3)
    severity = rng.choice(CGVHD_SEVERITIES, size=n, p=[0.4, 0.4, 0.2])
    treated = rng.random(n) < np.where(severity == "mild", 0.2, 0.8)
    systemic = np.where(~np.isnan(cgvhd), within(cgvhd_day + rng.integers(0, 30, size=n), treated), np.nan)
    out = table.copy()
    out["crs_grade"] = _grades(rng, [0.25, 0.4, 0.22, 0.09, 0.04], early_death)
    out["icans_grade"] = _grades(rng, [0.6, 0.14, 0.12, 0.1, 0.04], early_death)
    out["neutrophil_engraftment_date"] = _iso(neutrophil)
    out["platelet_engraftment_date"] = _iso(platelet)
    out["agvhd_2_4_date"] = _iso(agvhd_2_4)
    out["agvhd_3_4_date"] = _iso(agvhd_3_4)
    out["cgvhd_date"] = _iso(cgvhd)
    out["cgvhd_severity"] = np.where(np.isnan(cgvhd), "", severity)
    out["cgvhd_systemic_date"] = _iso(systemic)
    return out
