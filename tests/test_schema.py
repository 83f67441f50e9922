"""The data contract has one source of truth (schema.COLUMNS); data/README.md embeds it verbatim."""

from pathlib import Path

import pandas as pd
import pytest

from cartreport.contract import coerce as coerce_rules
from cartreport.contract import schema
from cartreport.contract.coerce import coerce

README = Path(__file__).resolve().parents[1] / "data" / "README.md"


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split("-->", 1)[1].split(end, 1)[0].strip()


def test_readme_embeds_the_contract():
    text = README.read_text(encoding="utf-8")
    assert _between(text, "<!-- contract:start", "<!-- contract:end") == schema.contract_markdown()


def test_contract_lists_every_column_of_the_issue():
    required = {
        "patient_id",
        "diagnosis",
        "cart_infusion_date",
        "bm_response",
        "emd_at_baseline",
        "emd_response",
        "second_hsct_date",
        "relapse_date",
        "death_date",
        "last_contact_date",
    }
    optional = {
        "sex",
        "age_years",
        "first_hsct_date",
        "relapse_after_first_hsct_date",
        "donor_type",
        "cause_of_death",
        # issue #11: safety and transplant outcomes
        "crs_grade",
        "icans_grade",
        "neutrophil_engraftment_date",
        "platelet_engraftment_date",
        "agvhd_2_4_date",
        "agvhd_3_4_date",
        "cgvhd_date",
        "cgvhd_severity",
        "cgvhd_systemic_date",
        # rows cartreport made up say so (reconstruct, synthesize)
        "data_origin",
    }
    assert set(schema.REQUIRED_COLUMNS) == required
    assert set(schema.OPTIONAL_COLUMNS) == optional
    assert schema.BM_RESPONSES == ("MRD-negative CR", "MRD-positive CR", "NR", "NE")
    assert schema.EMD_RESPONSES == ("CR", "PR", "SD", "PD", "NE")
    assert schema.CGVHD_SEVERITIES == ("mild", "moderate", "severe")
    assert schema.INTEGER_COLUMNS == ("crs_grade", "icans_grade")


def test_coerce_types_sorts_and_keeps_extra_columns():
    raw = pd.DataFrame(
        {
            "patient_id": ["B", "A"],
            "cart_infusion_date": ["2022-01-02", "2022-01-01"],
            "emd_at_baseline": ["TRUE", "no"],
            "second_hsct_date": [None, "2022-02-01"],
            "relapse_date": [None, None],
            "death_date": [None, None],
            "last_contact_date": ["2022-06-01", "2022-06-01"],
            "site": ["x", "y"],
        }
    )
    typed = coerce(raw)
    assert list(typed["patient_id"]) == ["A", "B"]
    assert typed["emd_at_baseline"].tolist() == [False, True]
    assert str(typed["cart_infusion_date"].dtype) == "datetime64[ns]"
    assert pd.isna(typed.loc[1, "second_hsct_date"])
    assert typed["site"].tolist() == ["y", "x"]


def test_coerce_refuses_an_unknown_yes_no_word():
    raw = pd.DataFrame({"patient_id": ["A"], "emd_at_baseline": ["maybe"]})
    with pytest.raises(ValueError, match="maybe"):
        coerce(raw)


def test_readme_lists_the_xpt_aliases():
    from cartreport.contract.schema import XPT_ALIASES

    text = README.read_text(encoding="utf-8")
    block = _between(text, "<!-- xpt:start", "<!-- xpt:end")
    rows = [line for line in block.splitlines() if line.startswith("| `")]
    assert rows == [f"| `{k}` | `{v}` |" for k, v in XPT_ALIASES.items()]


def _coerce_cell_by_cell(table: pd.DataFrame) -> pd.DataFrame:
    """The definition coerce() keeps, written cell by cell (as coerce was before it became columnar)."""
    out = table.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = out[name].map(lambda v: v.strip() if isinstance(v, str) else v).replace({"": None})
    for name in schema.DATE_COLUMNS:
        if name in out.columns:
            out[name] = pd.to_datetime(out[name], format="mixed", errors="raise").astype("datetime64[ns]")
    out["emd_at_baseline"] = out["emd_at_baseline"].map(coerce_rules._yes_no).astype(bool)
    for name in ("age_years", *schema.INTEGER_COLUMNS):
        if name in out.columns:
            out[name] = pd.to_numeric(out[name], errors="raise").astype(float)
    out["patient_id"] = out["patient_id"].astype(str)
    return out.sort_values("patient_id", kind="stable").reset_index(drop=True)


def test_coerce_equals_the_cell_by_cell_definition():
    nan = float("nan")
    table = pd.DataFrame(
        {
            "patient_id": [" P03", "P01 ", "P02", "P04"],
            "emd_at_baseline": ["Yes ", " no", "TRUE", None],
            "cart_infusion_date": [" 2021-01-02", "2021-01-02", None, nan],
            "death_date": ["2022-03-04 ", "  ", "2022-03-04", None],
            "age_years": ["4", " 5.5", None, "4"],
            "crs_grade": [1, nan, 2, 1],
            "icans_grade": ["0", " 3 ", "", None],
            "cause_of_death": [" relapse", nan, "  ", "relapse"],
            "extra": [1, " a", None, "a "],
        }
    )
    got = coerce(table)
    pd.testing.assert_frame_equal(got, _coerce_cell_by_cell(table), check_exact=True)
    assert got["death_date"].isna().tolist() == [True, False, False, True]  # sorted by patient_id


def test_coerce_of_the_shipped_study_equals_the_cell_by_cell_definition():
    from cartreport.contract.validate import validate_table
    from cartreport.read.table import read_table

    table = validate_table(read_table(README.parent / "ash2023_cd7_cart_cohort.csv")).table
    pd.testing.assert_frame_equal(coerce(table), _coerce_cell_by_cell(table), check_exact=True)


def test_coerce_of_a_stripped_table_skips_stripping_and_gives_the_same_table():
    from cartreport.contract.validate import validate_table
    from cartreport.read.table import read_table

    table = validate_table(read_table(README.parent / "ash2023_cd7_cart_cohort.csv")).table
    pd.testing.assert_frame_equal(coerce(table, stripped=True), coerce(table), check_exact=True)


def test_coerce_sorts_ids_as_python_compares_text():
    ids = ["b", "B", "é", "z", "Z10", "Z9", "ä", "a-1", "a_1", "\U0001f600", "ﬀ", "a", "A"]
    table = pd.DataFrame({"patient_id": ids, "emd_at_baseline": ["no"] * len(ids)})
    assert coerce(table)["patient_id"].tolist() == sorted(ids)


def test_coerce_shares_no_data_with_its_input():
    table = pd.DataFrame(
        {"patient_id": ["A", "B"], "emd_at_baseline": ["no", "yes"], "site": ["x", "y"], "n": [1, 2]}
    )
    for stripped in (False, True):
        typed = coerce(table, stripped=stripped)
        typed.loc[0, "site"] = "changed"
        typed.loc[0, "n"] = 99
        assert table["site"].tolist() == ["x", "y"] and table["n"].tolist() == [1, 2]
