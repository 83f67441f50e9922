"""Validation of the safety and transplant-outcome columns (cartreport.contract.transplant_rules, the grade columns of
cartreport.contract.column_rules): one test per rule with its exact one-line message, and the CLI's exit code."""

from pathlib import Path

import pandas as pd
import pytest

from cartreport import cli
from cartreport.contract.problems import RULES
from cartreport.contract.validate import validate_table
from cartreport.read.table import ReadResult

TRANSPLANTED = {
    "patient_id": "P01",
    "diagnosis": "T-ALL",
    "cart_infusion_date": "2021-03-04",
    "bm_response": "MRD-negative CR",
    "emd_at_baseline": "no",
    "emd_response": None,
    "second_hsct_date": "2021-04-15",
    "relapse_date": None,
    "death_date": None,
    "last_contact_date": "2022-06-30",
    "crs_grade": "2",
    "icans_grade": "0",
    "neutrophil_engraftment_date": "2021-05-01",
    "platelet_engraftment_date": "2021-05-12",
    "agvhd_2_4_date": "2021-06-01",
    "agvhd_3_4_date": "2021-06-10",
    "cgvhd_date": "2021-12-01",
    "cgvhd_severity": "moderate",
    "cgvhd_systemic_date": "2021-12-05",
}
WHERE = "data.csv row 2 (patient P01), column"


def _problems(**changes) -> list:
    frame = pd.DataFrame([{**TRANSPLANTED, **changes}], dtype=object)
    frame = frame.astype(object).where(frame.notna(), None)
    return validate_table(ReadResult(frame, Path("data.csv"), "csv", [])).problems


def _one(**changes) -> list[str]:
    return [p.format() for p in _problems(**changes)]


def test_a_complete_transplanted_patient_is_valid():
    assert _one() == []


def test_every_new_rule_is_documented():
    for rule in ("outcome-without-hsct", "outcome-before-hsct", "outcome-after-follow-up", "not-an-integer",
                 "agvhd-3-4-without-2-4", "agvhd-3-4-before-2-4", "cgvhd-severity-without-onset",
                 "cgvhd-severity-missing", "cgvhd-treatment-without-onset", "cgvhd-treatment-before-onset"):  # fmt: skip
        assert rule in RULES


@pytest.mark.parametrize("value", ["6", "-1"])
def test_grade_out_of_range(value):
    assert _one(crs_grade=value) == [
        f'{WHERE} crs_grade: value "{value}" is outside the range 0–5; check the value'
    ]


def test_grade_not_a_whole_number():
    assert _one(icans_grade="2.5") == [
        f'{WHERE} icans_grade: value "2.5" is not a whole number; write a whole number 0–5'
    ]


def test_grade_not_a_number():
    assert [p.rule for p in _problems(crs_grade="II")] == ["not-a-number"]


def test_grade_written_as_a_whole_float_and_blank_grade_are_accepted():
    assert _one(crs_grade="3.0", icans_grade=None) == []


def test_severity_not_allowed():
    assert _one(cgvhd_severity="Extensive") == [
        f'{WHERE} cgvhd_severity: value "Extensive" is not allowed (allowed: "mild", "moderate", "severe")'
    ]


def test_engraftment_before_the_hsct():
    assert _one(neutrophil_engraftment_date="2021-04-14") == [
        f"{WHERE} neutrophil_engraftment_date: neutrophil engraftment (2021-04-14) is before the second HSCT "
        "(2021-04-15); check both dates (neutrophil_engraftment_date and second_hsct_date)"
    ]


def test_outcome_without_hsct():
    problems = _problems(
        second_hsct_date=None,
        agvhd_2_4_date=None,
        agvhd_3_4_date=None,
        cgvhd_date=None,
        cgvhd_severity=None,
        cgvhd_systemic_date=None,
        platelet_engraftment_date=None,
    )
    assert [p.format() for p in problems] == [
        f"{WHERE} neutrophil_engraftment_date: neutrophil engraftment is dated but second_hsct_date is blank "
        "(outcomes are counted from the second HSCT); leave the cell blank, or give second_hsct_date"
    ]
    assert problems[0].rule == "outcome-without-hsct"


def test_outcome_after_death_and_after_last_contact():
    after_death = _problems(
        death_date="2021-11-30", last_contact_date="2021-11-30", cgvhd_severity="moderate"
    )
    assert [(p.column, p.rule) for p in after_death] == [
        ("cgvhd_date", "outcome-after-follow-up"),
        ("cgvhd_systemic_date", "outcome-after-follow-up"),
    ]
    assert after_death[0].message == "the onset of chronic GVHD (2021-12-01) is after death (2021-11-30)"
    alive = _problems(last_contact_date="2021-05-05")
    assert {p.column for p in alive} == {
        "platelet_engraftment_date",
        "agvhd_2_4_date",
        "agvhd_3_4_date",
        "cgvhd_date",
        "cgvhd_systemic_date",
    }
    assert alive[0].message == "platelet engraftment (2021-05-12) is after the last contact (2021-05-05)"


def test_same_day_as_death_is_allowed():
    assert _one(death_date="2021-12-05", last_contact_date="2021-12-05") == []


def test_agvhd_3_4_without_2_4():
    assert _one(agvhd_2_4_date=None) == [
        f"{WHERE} agvhd_3_4_date: acute GVHD grade III–IV is dated but agvhd_2_4_date is blank (grade III–IV is "
        "also grade II–IV); give agvhd_2_4_date: the first date acute GVHD reached grade II or higher"
    ]


def test_agvhd_3_4_before_2_4():
    assert _one(agvhd_3_4_date="2021-05-20") == [
        f"{WHERE} agvhd_3_4_date: acute GVHD grade III–IV (2021-05-20) is before acute GVHD grade II–IV "
        "(2021-06-01); "
        "agvhd_2_4_date is the first date of grade II or higher, so on or before agvhd_3_4_date"
    ]


def test_cgvhd_severity_without_onset_and_treatment_without_onset():
    problems = _problems(cgvhd_date=None)
    assert [(p.column, p.rule) for p in problems] == [
        ("cgvhd_severity", "cgvhd-severity-without-onset"),
        ("cgvhd_systemic_date", "cgvhd-treatment-without-onset"),
    ]
    assert problems[0].format() == (
        f"{WHERE} cgvhd_severity: a chronic GVHD severity is given but cgvhd_date is blank; give cgvhd_date, or "
        "leave cgvhd_severity blank"
    )


def test_cgvhd_onset_without_severity():
    assert _one(cgvhd_severity=None) == [
        f"{WHERE} cgvhd_severity: the cell is blank but cgvhd_date gives an onset of chronic GVHD; write the NIH "
        'global severity at its worst: "mild", "moderate" or "severe"'
    ]


def test_cgvhd_treatment_before_onset():
    assert _one(cgvhd_systemic_date="2021-11-20") == [
        f"{WHERE} cgvhd_systemic_date: systemic treatment of chronic GVHD (2021-11-20) is before the onset of "
        "chronic GVHD (2021-12-01); check both dates (cgvhd_systemic_date and cgvhd_date)"
    ]


def test_the_order_of_two_outcome_dates_is_declared_with_the_other_date_rules():
    """Issue #12: schema.py owns the rules between dates; two were written out in transplant_rules.py."""
    from cartreport.contract.schema import DATE_ORDER_RULES

    declared = {(r.rule, r.column, r.other, r.relation) for r in DATE_ORDER_RULES}
    assert ("agvhd-3-4-before-2-4", "agvhd_3_4_date", "agvhd_2_4_date", "before") in declared
    assert ("cgvhd-treatment-before-onset", "cgvhd_systemic_date", "cgvhd_date", "before") in declared


def test_a_table_without_the_columns_gets_no_new_problem():
    frame = pd.DataFrame(
        [{k: v for k, v in TRANSPLANTED.items() if k in list(TRANSPLANTED)[:10]}], dtype=object
    )
    frame = frame.astype(object).where(frame.notna(), None)
    assert validate_table(ReadResult(frame, Path("data.csv"), "csv", [])).problems == []


def test_cli_validate_names_file_row_and_column_and_exits_non_zero(tmp_path, capsys):
    data = tmp_path / "bad.csv"
    pd.DataFrame([{**TRANSPLANTED, "crs_grade": "7"}]).to_csv(data, index=False)
    code = cli.main(["validate", str(data)])
    out = capsys.readouterr()
    assert code == cli.EXIT_PROBLEMS != 0
    text = out.out + out.err
    assert 'bad.csv row 2 (patient P01), column crs_grade: value "7" is outside the range 0–5' in text
    assert "Traceback" not in text
