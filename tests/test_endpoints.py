"""Endpoint derivation from dates: hand-checked cases and general properties."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartreport.analysis.endpoints import DAYS_PER_MONTH, derive_endpoints, months, patient_timeline


def table(rows):
    frame = pd.DataFrame(rows)
    for c in ("cart_infusion_date", "second_hsct_date", "relapse_date", "death_date", "last_contact_date"):
        frame[c] = pd.to_datetime(frame[c] if c in frame else pd.Series([None] * len(frame)))
    frame["diagnosis"] = "T-ALL"
    frame["bm_response"] = "MRD-negative CR"
    frame["emd_response"] = None
    return frame


BASE = {"cart_infusion_date": "2022-01-01", "second_hsct_date": "2022-02-01"}


def one(**dates):
    return derive_endpoints(table([{"patient_id": "P1", **BASE, **dates}])).patients.iloc[0]


def test_months_are_days_over_30_4375():
    assert months(365.25) == pytest.approx(12.0)
    assert DAYS_PER_MONTH == 30.4375


def test_alive_without_relapse_is_censored_at_last_contact():
    e = one(relapse_date=None, death_date=None, last_contact_date="2022-03-03")
    assert (e.os_time_days, e.os_event, e.lfs_time_days, e.lfs_event, e.cr_status) == (30, 0, 30, 0, 0)


def test_relapse_then_death():
    # relapse 2022-03-03 = day 30 after 2022-02-01; death 2022-04-02 = day 60
    e = one(relapse_date="2022-03-03", death_date="2022-04-02", last_contact_date="2022-04-02")
    assert (e.os_time_days, e.os_event) == (60, 1)
    assert (e.lfs_time_days, e.lfs_event) == (30, 1)
    assert (e.cr_time_days, e.cr_status) == (30, 1)


def test_death_without_relapse_competes_with_relapse():
    e = one(relapse_date=None, death_date="2022-04-02", last_contact_date="2022-04-02")
    assert (e.lfs_time_days, e.lfs_event, e.cr_time_days, e.cr_status) == (60, 1, 60, 2)


def test_cart_origin_counts_from_infusion():
    frame = table(
        [{"patient_id": "P1", **BASE, "death_date": "2022-04-02", "last_contact_date": "2022-04-02"}]
    )
    e = derive_endpoints(frame, "cart_infusion").patients.iloc[0]
    assert e.os_time_days == 91  # 2022-01-01 -> 2022-04-02


def test_patient_without_second_hsct_leaves_transplant_analyses_only():
    frame = table(
        [
            {"patient_id": "P1", **BASE, "last_contact_date": "2022-05-01"},
            {"patient_id": "P2", "cart_infusion_date": "2022-01-01", "last_contact_date": "2022-05-01"},
        ]
    )
    hsct = derive_endpoints(frame, "second_hsct")
    assert hsct.patients["analysed"].tolist() == [True, False]
    assert hsct.exclusions() == [{"reason": "no second HSCT", "n": 1}]
    assert derive_endpoints(frame, "cart_infusion").patients["analysed"].all()


def test_data_cutoff_ignores_later_events_and_censors_there():
    e = derive_endpoints(
        table(
            [
                {
                    "patient_id": "P1",
                    **BASE,
                    "relapse_date": "2022-06-01",
                    "death_date": "2022-09-01",
                    "last_contact_date": "2022-09-01",
                }
            ]
        ),
        data_cutoff="2022-05-02",
    ).patients.iloc[0]
    assert (e.os_time_days, e.os_event, e.lfs_event, e.cr_status) == (90, 0, 0, 0)


def test_infusion_after_cutoff_is_excluded():
    frame = table(
        [
            {
                "patient_id": "P1",
                "cart_infusion_date": "2023-01-01",
                "second_hsct_date": "2023-02-01",
                "last_contact_date": "2023-03-01",
            }
        ]
    )
    ep = derive_endpoints(frame, data_cutoff="2022-12-31")
    assert ep.exclusions() == [{"reason": "CAR-T infusion after the data cut-off", "n": 1}]


def test_relapse_before_origin_counts_at_time_zero():
    e = one(relapse_date="2022-01-20", last_contact_date="2022-03-03")
    assert (e.lfs_time_days, e.cr_time_days, e.cr_status) == (0, 0, 1)


def test_unknown_origin_is_refused():
    with pytest.raises(ValueError, match="time_origin"):
        derive_endpoints(
            table([{"patient_id": "P1", **BASE, "last_contact_date": "2022-03-03"}]), "diagnosis"
        )


@st.composite
def patients(draw):
    start = dt.date(2020, 1, 1) + dt.timedelta(days=draw(st.integers(0, 700)))
    hsct = start + dt.timedelta(days=draw(st.integers(0, 90)))
    follow = draw(st.integers(0, 1500))
    end = hsct + dt.timedelta(days=follow)
    died = draw(st.booleans())
    relapse = draw(st.one_of(st.none(), st.integers(0, follow)))
    return {
        "cart_infusion_date": start.isoformat(),
        "second_hsct_date": hsct.isoformat(),
        "relapse_date": None if relapse is None else (hsct + dt.timedelta(days=relapse)).isoformat(),
        "death_date": end.isoformat() if died else None,
        "last_contact_date": end.isoformat(),
    }


@settings(max_examples=40, deadline=None)
@given(st.lists(patients(), min_size=1, max_size=30), st.sampled_from(["second_hsct", "cart_infusion"]))
def test_properties_of_derived_endpoints(rows, origin):
    frame = table([{"patient_id": f"P{i}", **r} for i, r in enumerate(rows)])
    p = derive_endpoints(frame, origin).patients
    assert (p["lfs_time_days"] <= p["os_time_days"]).all()
    assert (p["lfs_event"] >= p["os_event"]).all()
    assert (p["os_time_days"] >= 0).all()
    relapse = p["cr_status"] == 1
    assert (p.loc[relapse, "lfs_event"] == 1).all()
    assert np.array_equal(p.loc[relapse, "cr_time_days"], p.loc[relapse, "lfs_time_days"])
    nrm = p["cr_status"] == 2
    assert np.array_equal(p.loc[nrm, "cr_time_days"], p.loc[nrm, "os_time_days"])


def test_timeline_in_months_since_cart():
    frame = table(
        [{"patient_id": "P1", **BASE, "death_date": "2022-04-02", "last_contact_date": "2022-04-02"}]
    )
    frame["emd_response"] = None
    t = patient_timeline(frame).iloc[0]
    assert t.end_months == pytest.approx(91 / 30.4375)
    assert t.second_hsct_months == pytest.approx(31 / 30.4375)
    assert not t.censored and np.isnan(t.relapse_months)
