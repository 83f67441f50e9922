"""Synthetic cohorts: deterministic, valid under the data contract, and covering every kind of course."""

import pandas as pd
import pytest

from cartreport.cohorts.synthetic import synthetic_cohort
from cartreport.contract.validate import validate_table
from cartreport.read.table import read_table


def test_same_seed_same_table_other_seed_other_table():
    pd.testing.assert_frame_equal(synthetic_cohort(50, seed=3), synthetic_cohort(50, seed=3))
    assert not synthetic_cohort(50, seed=3).equals(synthetic_cohort(50, seed=4))


@pytest.mark.parametrize("n", [1, 17, 2000])
def test_synthetic_cohorts_pass_validation(tmp_path, n):
    path = tmp_path / "synthetic.csv"
    synthetic_cohort(n, seed=n).to_csv(path, index=False)
    report = validate_table(read_table(path))
    assert [p.format() for p in report.problems] == []
    assert len(report.table) == n


def test_every_kind_of_course_occurs():
    t = synthetic_cohort(2000, seed=0)
    died, relapsed, hsct = t["death_date"] != "", t["relapse_date"] != "", t["second_hsct_date"] != ""
    assert (died & relapsed).any() and (died & ~relapsed).any() and (~died & relapsed).any()
    assert hsct.any() and (~hsct).any()
    assert set(t["bm_response"]) == {"MRD-negative CR", "MRD-positive CR", "NR", "NE"}
    assert (t.loc[~died, "last_contact_date"] < "2024-06-30").any(), "some patients lost to follow-up"
    assert (t.loc[~died, "last_contact_date"] == "2024-06-30").any(), "administrative censoring"
