"""Synthetic safety and transplant outcomes (cartreport.cohorts.synthetic_transplant, `synthesize --transplant-outcomes`):
valid tables of any size, the other columns unchanged, every section of the report filled."""

import pandas as pd
import pytest

from cartreport import cli
from cartreport.analysis.transplant_endpoints import TRANSPLANT_DEFINITIONS
from cartreport.cohorts.synthetic import synthetic_cohort
from cartreport.cohorts.synthetic_transplant import add_transplant_outcomes
from cartreport.contract.validate import validate_file


@pytest.mark.parametrize("n", [1, 7, 400])
def test_synthetic_outcomes_pass_validation_and_keep_the_other_columns(tmp_path, n):
    base = synthetic_cohort(n, seed=n)
    table = add_transplant_outcomes(base, seed=n)
    pd.testing.assert_frame_equal(table[base.columns], base)
    path = tmp_path / "synthetic.csv"
    table.to_csv(path, index=False)
    report = validate_file(path)
    assert report.valid, [p.format() for p in report.problems[:5]]


def test_cli_synthesize_with_transplant_outcomes_fills_every_endpoint(tmp_path):
    from cartreport import api

    path = tmp_path / "cohort.csv"
    assert (
        cli.main(["synthesize", "--n", "300", "--seed", "5", "--output", str(path), "--transplant-outcomes"])
        == 0
    )
    results = api.load_analysis(data=str(path)).results
    assert set(TRANSPLANT_DEFINITIONS) <= set(results["endpoints"])
    assert all(results["endpoints"][k]["events"] > 0 for k in TRANSPLANT_DEFINITIONS)
    assert results["safety"]["crs"]["evaluable"] > 0 and results["safety"]["icans"]["any"]["responders"] > 0
    plain = tmp_path / "plain.csv"
    assert cli.main(["synthesize", "--n", "30", "--output", str(plain)]) == 0
    assert "crs_grade" not in pd.read_csv(plain).columns
