"""Seeded synthetic cohorts of any size in the data contract, for tests, examples and benchmarks.

Not a model of any real study: response probabilities, transplant rates and hazards below are round numbers chosen
to give every kind of course (responders and not, transplanted or not, relapse, death with and without relapse,
administrative censoring, loss to follow-up). Vectorised with numpy, so 100,000 patients take well under a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cartreport.contract.schema import BM_RESPONSES, EMD_RESPONSES

__all__ = ["synthetic_cohort"]

_DAY = np.timedelta64(1, "D")


def _iso(days_since_epoch: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    dates = np.datetime_as_string(
        np.datetime64("1970-01-01") + days_since_epoch.astype("int64") * _DAY, unit="D"
    )
    out = dates.astype(object)
    if missing is not None:
        out[missing] = ""
    return out


def synthetic_cohort(n: int, seed: int = 0, data_cutoff: str = "2024-06-30") -> pd.DataFrame:
    """A valid patient table of ``n`` rows (text cells, as read from a file); the same seed gives the same table.

    Examples
    --------
    >>> synthetic_cohort(3, seed=1).shape
    (3, 16)
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    rng = np.random.default_rng(seed)
    cutoff = (np.datetime64(data_cutoff) - np.datetime64("1970-01-01")).astype(int)
    start = (np.datetime64("2018-01-01") - np.datetime64("1970-01-01")).astype(int)

    cart = rng.integers(start, cutoff - 60, size=n)
    bm = rng.choice(BM_RESPONSES, size=n, p=[0.78, 0.08, 0.09, 0.05])
    responder = np.isin(bm, ["MRD-negative CR", "MRD-positive CR"])
    emd = rng.random(n) < 0.35
    emd_response = np.where(emd, rng.choice(EMD_RESPONSES, size=n, p=[0.6, 0.15, 0.1, 0.1, 0.05]), "")

    transplanted = responder & (rng.random(n) < 0.85)
    hsct = cart + rng.integers(30, 76, size=n)
    transplanted &= hsct <= cutoff

    # event times in days after CAR-T: relapse (responders only) and death
    relapse = cart + np.round(rng.exponential(np.where(transplanted, 900, 240), size=n)).astype(int) + 30
    relapsed = responder & (relapse <= cutoff) & (rng.random(n) < 0.7)
    death_no_relapse = (
        cart + np.round(rng.exponential(np.where(responder, 1400, 150), size=n)).astype(int) + 10
    )
    death_after_relapse = relapse + np.round(rng.exponential(200, size=n)).astype(int) + 1
    death = np.where(relapsed, death_after_relapse, death_no_relapse)
    lost = cart + np.round(rng.exponential(2500, size=n)).astype(int) + 1  # loss to follow-up
    end = np.minimum.reduce([death, lost, np.full(n, cutoff)])
    relapsed &= relapse <= end
    # a transplant after the end of follow-up did not happen
    transplanted &= hsct <= np.where(relapsed, relapse, end)
    died = death == end

    age = np.clip(np.round(rng.gamma(4.0, 7.0, size=n)), 1, 80).astype(int)
    first_hsct = cart - rng.integers(200, 1400, size=n)
    relapse1 = cart - rng.integers(20, 120, size=n)
    return pd.DataFrame(
        {
            "patient_id": [f"S{seed}-{i + 1:06d}" for i in range(n)],
            "diagnosis": rng.choice(["T-ALL", "T-LBL"], size=n, p=[0.7, 0.3]),
            "sex": rng.choice(["male", "female"], size=n, p=[0.65, 0.35]),
            "age_years": age.astype(str),
            "first_hsct_date": _iso(first_hsct),
            "relapse_after_first_hsct_date": _iso(relapse1),
            "cart_infusion_date": _iso(cart),
            "bm_response": bm,
            "emd_at_baseline": np.where(emd, "yes", "no"),
            "emd_response": emd_response,
            "second_hsct_date": _iso(hsct, ~transplanted),
            "donor_type": np.where(
                transplanted,
                rng.choice(["haploidentical", "matched unrelated", "matched sibling"], size=n),
                "",
            ),
            "relapse_date": _iso(relapse, ~relapsed),
            "death_date": _iso(death, ~died),
            "cause_of_death": np.where(died, np.where(relapsed, "relapse", "infection"), ""),
            "last_contact_date": _iso(end),
        }
    )
