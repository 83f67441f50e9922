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


def test_a_report_on_a_synthesized_cohort_says_the_data_are_synthetic(tmp_path, capsys):
    """A report built on ``cartreport synthesize`` output read as one on patient records: no notice anywhere, though
    the patients are invented at random. Every row ``synthesize`` writes now says what it is (``data_origin``), and
    the report's notice says so; ``synthetic_cohort`` itself (the stand-in for a user's file in tests) is unmarked."""
    from cartreport import api, cli
    from cartreport.report import prose

    out = tmp_path / "cohort.csv"
    assert cli.main(["synthesize", "--n", "40", "--seed", "3", "--output", str(out)]) == 0
    assert set(pd.read_csv(out, dtype=str)["data_origin"]) == {"synthetic"}
    assert "data_origin" not in synthetic_cohort(5, seed=3).columns
    results = api.load_analysis(data=str(out)).results
    assert results["is_reconstruction"] is False
    assert results["data_origin"] == {"patient records": 0, "reconstruction": 0, "synthetic": 40}
    notice = str(prose.reconstruction_notice(results))
    assert "Synthetic data, not patient records" in notice and "cartreport synthesize" in notice
