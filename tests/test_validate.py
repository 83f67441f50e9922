"""Validation of the patient table (cartreport.contract.validate): one test per rule with its exact message, then
property-based tests: valid cohorts always pass and survive every file format; corrupted ones always fail on the
right column and never raise anything but the documented errors."""

import datetime as dt
import tempfile
from pathlib import Path

import openpyxl
import pandas as pd
import pandera.pandas as pa
import pyreadstat
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from cartreport.contract import schema
from cartreport.contract.coerce import coerce
from cartreport.contract.column_rules import MISSING_PLACEHOLDERS
from cartreport.contract.problems import MAX_PER_RULE
from cartreport.contract.validate import (
    RULES,
    Problem,
    build_schema,
    looks_like_identifier,
    summary_line,
    validate_file,
    validate_table,
)
from cartreport.errors import CartreportError, CohortError, DataFileError
from cartreport.read.table import ReadResult, read_table

VALID = {
    "patient_id": "P01",
    "diagnosis": "T-ALL",
    "cart_infusion_date": "2021-03-04",
    "bm_response": "MRD-negative CR",
    "emd_at_baseline": "no",
    "emd_response": None,
    "second_hsct_date": None,
    "relapse_date": None,
    "death_date": None,
    "last_contact_date": "2022-01-31",
}


def _read(*rows: dict, columns: list[str] | None = None) -> ReadResult:
    frame = pd.DataFrame(list(rows), columns=columns, dtype=object)
    frame = frame.astype(object).where(frame.notna(), None)
    return ReadResult(frame, Path("data.csv"), "csv", [])


def _lines(*rows: dict, data_cutoff: dt.date | None = None, **kwargs) -> list[str]:
    return [p.format() for p in validate_table(_read(*rows, **kwargs), data_cutoff=data_cutoff).problems]


def _one(**changes) -> list[str]:
    """Problems of a one-patient table: the valid row with ``changes``."""
    return _lines({**VALID, **changes})


# ---------------------------------------------------------------------------------------------- valid data
def test_valid_table_is_normalised_and_ready_for_coerce():
    rows = [
        {**VALID, "emd_at_baseline": "TRUE", "emd_response": "cr", "bm_response": "mrd-negative cr"},
        {**VALID, "patient_id": "P02", "emd_at_baseline": "Yes", "emd_response": "PR", "site": "Paris"},
        {**VALID, "patient_id": "P03", "emd_at_baseline": "0", "sex": "Female", "age_years": "45.5"},
    ]
    report = validate_table(_read(*rows))
    assert report.problems == []
    assert report.valid
    assert report.table is not None
    assert list(report.table["emd_at_baseline"]) == ["yes", "yes", "no"]
    assert list(report.table["bm_response"]) == ["MRD-negative CR"] * 3
    assert list(report.table["emd_response"]) == ["CR", "PR", None]
    assert list(report.table["sex"]) == [None, None, "female"]
    assert list(report.table["site"]) == [None, "Paris", None]  # extra columns are carried along
    assert list(report.table.index) == [2, 3, 4]
    assert report.notes == [
        "carried along 1 column(s) not in the data contract: site",
        "bm_response: read `mrd-negative cr` as `MRD-negative CR` (1 cell)",
        "emd_at_baseline: read `0` as `no` (1 cell) and `TRUE`/`Yes` as `yes` (2 cells)",
        "emd_response: read `cr` as `CR` (1 cell)",
        "sex: read `Female` as `female` (1 cell)",
    ]
    typed = coerce(report.table)
    assert list(typed["emd_at_baseline"]) == [True, True, False]
    assert typed["cart_infusion_date"].dtype == "datetime64[ns]"
    assert summary_line(report) == "data.csv: 3 patients, 10 required columns present, valid."
    report.raise_for_problems()  # nothing to raise


def test_the_shipped_cohort_is_valid():
    report = validate_file(Path(__file__).parents[1] / "data" / "ash2023_cd7_cart_cohort.csv")
    assert report.problems == []
    assert (
        summary_line(report)
        == "ash2023_cd7_cart_cohort.csv: 16 patients, 10 required columns present, valid; 16 rows are a "
        "reconstruction, not patient records (column data_origin)."
    )


def test_invalid_table_has_no_table_and_raises_cohort_error():
    report = validate_table(_read({**VALID, "bm_response": "CR"}))
    assert report.table is None
    assert summary_line(report) == "data.csv: 1 patient, 10 required columns present, 1 problem."
    with pytest.raises(CohortError) as info:
        report.raise_for_problems()
    assert info.value.problems == report.problems
    assert str(info.value).splitlines()[1].startswith("  data.csv row 2 (patient P01), column bm_response:")


def test_rules_are_documented():
    assert len(RULES) == len(set(RULES))
    assert {"required-column", "duplicate-id", "blank-id", "direct-identifier", "after-cutoff"} <= set(RULES)


def test_schema_is_pandera_built_from_the_contract():
    built = build_schema()
    assert isinstance(built, pa.DataFrameSchema)
    assert list(built.columns) == [c.name for c in schema.COLUMNS]
    assert [n for n, c in built.columns.items() if c.required] == list(schema.REQUIRED_COLUMNS)


# ------------------------------------------------------------------------------------------ column rules
def test_required_columns_are_all_listed_at_once():
    row = {k: v for k, v in VALID.items() if k not in {"relapse_date", "death_date", "last_contact_date"}}
    assert _lines(row) == [
        'data.csv, column relapse_date: the required column is missing; add it; a blank cell means "no relapse"',
        'data.csv, column death_date: the required column is missing; add it; a blank cell means "alive"',
        "data.csv, column last_contact_date: the required column is missing; add it, with a value for every patient",
    ]
    report = validate_table(_read(row))
    assert summary_line(report) == "data.csv: 1 patient, 7 of 10 required columns present, 3 problems."


def test_required_column_with_a_near_name_is_suggested():
    row = {("Patient ID" if k == "patient_id" else k): v for k, v in VALID.items()}
    assert _lines(row) == [
        'data.csv, column patient_id: the required column is missing; did you mean the column "Patient ID"? '
        "rename it to patient_id"
    ]


def test_duplicate_column():
    frame = pd.DataFrame([[*VALID.values(), "A", "B"]], columns=[*VALID, "site", "site"], dtype=object)
    report = validate_table(ReadResult(frame, Path("data.csv"), "csv"))
    assert [p.format() for p in report.problems] == [
        "data.csv, column site: 2 columns are named site; keep one and rename or delete the others"
    ]


IDENTIFYING = [
    "name", "Name", "patient_name", "PatientName", "first_name", "last name", "surname", "mrn", "MRN",
    "medical_record_number", "hospital_number", "hospital no.", "dob", "DOB", "date_of_birth", "DateOfBirth",
    "birth_date", "birthdate", "nhs_number", "ssn", "email", "phone_number", "address", "donor_name",
    # issue #9: accepted before, each a direct identifier
    "name_of_patient", "national_id", "passport", "hospital_id", "Patient", "nombre", "Geburtsdatum",
    # French, Spanish, German, Italian, Portuguese, Dutch; accents, case, spaces and underscores normalised
    "Nom", "Prénom", "nom_du_patient", "Date de naissance", "numéro de sécurité sociale", "IPP", "numero_dossier",
    "Apellidos", "Nombre del paciente", "fecha_de_nacimiento", "DNI", "pasaporte", "historia clínica",
    "Vorname", "Nachname", "Reisepass", "Patientennummer", "Krankenhaus-Nr", "cognome", "nome_paziente",
    "data di nascita", "codice_fiscale", "passaporto", "nome completo", "data_de_nascimento", "CPF",
    "número do prontuário", "naam", "Voornaam", "achternaam", "geboortedatum", "BSN", "paspoort",
    "PASSPORT_NO", "NationalInsuranceNumber", "e-mail", "Téléphone", "adresse", "code postal", "hospital no",
]  # fmt: skip
NOT_IDENTIFYING = [
    "patient_id", "diagnosis", "donor_type", "cause_of_death", "site", "center_name", "product_name",
    "hospital", "comment", "cd7_expression", "age_years", "birth_weight_g", "name_of_protocol",
    "record_id", "case_id", "cns_involvement", "PT", "nome_do_protocolo", "nom_du_centre", "Klinik",
    "fecha_de_infusion", "centre", "country", "donor_age", "naissance_multiple_count",
]  # fmt: skip


@pytest.mark.parametrize("column", IDENTIFYING)
def test_identifier_like_names(column):
    assert looks_like_identifier(column)


@pytest.mark.parametrize("column", NOT_IDENTIFYING)
def test_names_that_are_not_identifiers(column):
    assert not looks_like_identifier(column)


def test_direct_identifier_column_is_refused_without_showing_its_values():
    secret = "Zebulon Quixotesque"
    rows = [{**VALID, "patient_name": secret, "bm_response": "nope"}]
    report = validate_table(_read(*rows))
    lines = [p.format() for p in report.problems]
    assert lines[0] == (
        "data.csv, column patient_name: this column looks like a direct identifier (a name, medical record number, "
        "date of birth or contact detail) and is refused; delete the column from the file; the report needs only "
        "the pseudonymous patient_id"
    )
    assert report.problems[0].rule == "direct-identifier"
    assert report.problems[0].value is None
    assert report.notes == []  # the column is dropped, not carried along
    everything = "\n".join(
        [*lines, *report.notes, str(CohortError("data.csv", report.problems)), repr(report.problems)]
    )
    assert secret not in everything
    assert report.table is None


def test_blank_id():
    assert _one(patient_id=None) == [
        "data.csv row 2, column patient_id: the patient_id is blank; give every patient row a unique pseudonymous "
        "identifier"
    ]


def test_duplicate_id_names_both_rows_in_one_line():
    rows = [VALID, {**VALID, "patient_id": "P02"}, {**VALID}]
    message = (
        'patient_id "P01" appears in 2 rows (rows 2, 4); each patient must have exactly one row with a '
        "unique patient_id"
    )
    assert _lines(*rows) == [f"data.csv row 2 (patient P01), column patient_id: {message}"]


def test_a_constant_patient_id_column_gives_one_bounded_line():
    """Issue #9: 1,000 rows of one id gave 5 MB of messages (every row named every other row)."""
    import tracemalloc

    n = 20_000
    read = _read(*([VALID] * n))
    tracemalloc.start()
    report = validate_table(read)
    text = str(CohortError("data.csv", report.problems))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [p.rule for p in report.problems] == ["duplicate-id"]
    assert text.splitlines()[1] == (
        '  data.csv row 2 (patient P01), column patient_id: patient_id "P01" appears in 20,000 rows '
        "(rows 2, 3, 4, 5, 6 and 19,995 more); each patient must have exactly one row with a unique patient_id"
    )
    assert len(text) < 500
    assert peak < 60_000_000, f"validation of {n:,} rows peaked at {peak:,} bytes"


def test_many_duplicated_ids_are_counted_after_the_first_lines_of_the_rule():
    n = 20_000  # 10,000 ids each on two rows
    read = _read(*({**VALID, "patient_id": f"P{i // 2:05d}"} for i in range(n)))
    report = validate_table(read)
    lines = str(CohortError("data.csv", report.problems)).splitlines()
    assert lines[0].startswith("data.csv has 10,000 problems;")
    assert len(lines) == 1 + MAX_PER_RULE + 1
    assert lines[1].endswith('patient_id "P00000" appears in 2 rows (rows 2, 3); each patient must have exactly '
                             "one row with a unique patient_id")  # fmt: skip
    assert lines[-1] == f"  data.csv: … and {10_000 - MAX_PER_RULE:,} more problems of rule duplicate-id"
    assert sum(len(line) for line in lines) < 10_000


@pytest.mark.parametrize(
    ("a", "b"), [("CD7-01", "cd7-01"), ("CD7-01", "CD7 -01"), ("CD7-01", "CD7\u200b-01")]
)
def test_ids_differing_only_in_case_or_spaces_are_a_problem(a, b):
    lines = _lines({**VALID, "patient_id": a}, {**VALID, "patient_id": "P02"}, {**VALID, "patient_id": b})
    shown = b.replace(
        "\u200b", "\\u200b"
    )  # an invisible character is written out: the two ids differ visibly
    assert lines == [
        f'data.csv row 2 (patient {a}), column patient_id: patient_id "{a}" differs only in upper/lower case or '
        f'spaces from "{shown}" (rows 4); one patient must have one spelling of patient_id; different patients '
        "need ids that differ in more than case or spaces"
    ]


def test_a_date_after_today_is_a_problem():
    """Issue #9: a last contact on 2099-01-01 passed, and the figures ran to 960 months."""
    lines = _lines({**VALID, "last_contact_date": "2099-01-01"})
    today = dt.date.today().isoformat()
    assert lines == [
        f"data.csv row 2 (patient P01), column last_contact_date: date 2099-01-01 is in the future (today is "
        f"{today}); correct the date; a patient table can only hold dates that have happened"
    ]
    report = validate_table(_read(VALID), today=dt.date(2022, 1, 30))
    assert [p.rule for p in report.problems] == ["future-date"]  # last contact 2022-01-31, one day after
    assert validate_table(_read(VALID), today=dt.date(2022, 1, 31)).valid


@pytest.mark.parametrize(
    ("column", "hint"),
    [
        ("diagnosis", "fill in the cell"),
        ("cart_infusion_date", "write the date as YYYY-MM-DD"),
        ("bm_response", 'write one of "MRD-negative CR", "MRD-positive CR", "NR", "NE"'),
        ("emd_at_baseline", 'write one of "yes", "no"'),
        ("last_contact_date", "write the date as YYYY-MM-DD"),
    ],
)
def test_required_value(column, hint):
    assert _one(**{column: None}) == [
        f"data.csv row 2 (patient P01), column {column}: the cell is blank but a value is required; {hint}"
    ]


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("04/03/2021", 'write dates as YYYY-MM-DD ("2021-03-04" or "2021-04-03"?)'),
        ("24/03/2021", 'write dates as YYYY-MM-DD: did you mean "2021-03-24"?'),
        ("2021-02-30", "check that the month and day exist, and write them with two digits (YYYY-MM-DD)"),
        ("2021-3-4", "check that the month and day exist, and write them with two digits (YYYY-MM-DD)"),
        ("2021-03-04 00:00:00", 'remove the time of day: did you mean "2021-03-04"?'),
        (
            "44259",
            "this looks like a spreadsheet date serial number; format the cells as dates, or write YYYY-MM-DD",
        ),
        ("N/A", 'leave the cell blank when there is no date (blank means "no relapse")'),
        ("March 2021", "write dates as YYYY-MM-DD, e.g. 2021-03-04"),
    ],
)
def test_date_format(value, hint):
    assert _one(relapse_date=value) == [
        f'data.csv row 2 (patient P01), column relapse_date: value "{value}" is not a date written as YYYY-MM-DD; '
        f"{hint}"
    ]


@pytest.mark.parametrize(
    ("column", "hint"),
    [
        ("relapse_date", 'leave the cell blank when there is no date (blank means "no relapse")'),
        ("last_contact_date", "this column needs a date for every patient: write it as YYYY-MM-DD"),
        ("cart_infusion_date", "this column needs a date for every patient: write it as YYYY-MM-DD"),
    ],
)
def test_a_missing_value_word_in_a_date_column_gets_a_hint_that_fits_the_column(column, hint):
    """ "unknown" in last_contact_date was told "leave the cell blank when there is no date", and the blank cell
    was then refused as a required value: the hint now depends on whether the column may be blank."""
    assert _one(**{column: "unknown"}) == [
        f'data.csv row 2 (patient P01), column {column}: value "unknown" is not a date written as YYYY-MM-DD; {hint}'
    ]


@pytest.mark.parametrize("column", ["cart_infusion_date", "last_contact_date", "death_date"])
def test_a_date_before_1900_is_a_problem(column):
    """A year mistyped (1021 for 2021) passed validation, and the analysis failed with a traceback
    (OutOfBoundsDatetime: pandas holds no date before 1677)."""
    lines = _one(**{column: "1021-05-23"})
    assert (
        f'data.csv row 2 (patient P01), column {column}: date "1021-05-23" is before 1900-01-01; check the year'
        in lines
    )
    assert not _one(cart_infusion_date="1900-01-01", last_contact_date="1900-01-02")


def test_allowed_values_with_closest_suggestion():
    assert _one(bm_response="MRD neg CR") == [
        'data.csv row 2 (patient P01), column bm_response: value "MRD neg CR" is not allowed (allowed: '
        '"MRD-negative CR", "MRD-positive CR", "NR", "NE"); did you mean "MRD-negative CR"?'
    ]


def test_allowed_values_yes_no_and_categories_without_suggestion():
    assert _one(emd_at_baseline="maybe", sex="x") == [
        'data.csv row 2 (patient P01), column emd_at_baseline: value "maybe" is not allowed (allowed: "yes", "no"; '
        "also accepted: true/false, y/n, 1/0)",
        'data.csv row 2 (patient P01), column sex: value "x" is not allowed (allowed: "male", "female")',
    ]


def test_allowed_values_prefix_suggestion():
    assert _one(sex="M")[0].endswith('did you mean "male"?')
    assert _one(donor_type="haplo")[0].endswith('did you mean "haploidentical"?')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("forty", 'value "forty" is not a number'),
        ("45,5", 'value "45,5" is not a number; use a point as the decimal separator'),
        ("nan", 'value "nan" is not a number'),
    ],
)
def test_age_not_a_number(value, expected):
    assert _one(age_years=value) == [f"data.csv row 2 (patient P01), column age_years: {expected}"]


@pytest.mark.parametrize("value", ["121", "-1", "1e3"])
def test_age_out_of_range(value):
    assert _one(age_years=value) == [
        f'data.csv row 2 (patient P01), column age_years: value "{value}" is outside the range 0–120; check the value'
    ]


def test_emd_response_without_emd():
    assert _one(emd_at_baseline="no", emd_response="CR") == [
        'data.csv row 2 (patient P01), column emd_response: value "CR" is given but emd_at_baseline is no '
        "(no extramedullary disease); leave emd_response blank, or correct emd_at_baseline"
    ]


def test_emd_response_missing():
    assert _one(emd_at_baseline="Yes", emd_response=None) == [
        "data.csv row 2 (patient P01), column emd_response: the cell is blank but emd_at_baseline is yes "
        '(extramedullary disease); write the best extramedullary response ("CR", "PR", "SD", "PD", "NE")'
    ]


# ------------------------------------------------------------------------------------------- date order
ORDER_CASES = [
    (
        "order-hsct-before-cart",
        {"second_hsct_date": "2021-03-03"},
        "second_hsct_date: the second HSCT (2021-03-03) is before the CAR-T infusion (2021-03-04); "
        "check both dates (second_hsct_date and cart_infusion_date)",
    ),
    (
        "order-relapse-before-cart",
        {"relapse_date": "2021-01-01"},
        "relapse_date: the relapse (2021-01-01) is before the CAR-T infusion (2021-03-04); "
        "check both dates (relapse_date and cart_infusion_date)",
    ),
    (
        "order-death-before-cart",
        {"death_date": "2021-03-01", "last_contact_date": "2021-03-01"},
        "death_date: death (2021-03-01) is before the CAR-T infusion (2021-03-04); "
        "check both dates (death_date and cart_infusion_date)",
    ),
    (
        "order-relapse-after-death",
        {"relapse_date": "2021-09-02", "death_date": "2021-09-01", "last_contact_date": "2021-09-01"},
        "relapse_date: the relapse (2021-09-02) is after death (2021-09-01); "
        "check both dates (relapse_date and death_date)",
    ),
    (
        "order-hsct-after-death",
        {"second_hsct_date": "2021-09-02", "death_date": "2021-09-01", "last_contact_date": "2021-09-01"},
        "second_hsct_date: the second HSCT (2021-09-02) is after death (2021-09-01); "
        "check both dates (second_hsct_date and death_date)",
    ),
    (
        "order-first-hsct-after-cart",
        {"first_hsct_date": "2021-04-01"},
        "first_hsct_date: the first HSCT (2021-04-01) is after the CAR-T infusion (2021-03-04); "
        "check both dates (first_hsct_date and cart_infusion_date)",
    ),
    (
        "order-first-relapse-after-cart",
        {"relapse_after_first_hsct_date": "2021-04-01"},
        "relapse_after_first_hsct_date: the relapse after the first HSCT (2021-04-01) is after the CAR-T infusion "
        "(2021-03-04); check both dates (relapse_after_first_hsct_date and cart_infusion_date)",
    ),
    (
        "order-first-relapse-before-first-hsct",
        {"first_hsct_date": "2020-01-01", "relapse_after_first_hsct_date": "2019-12-01"},
        "relapse_after_first_hsct_date: the relapse after the first HSCT (2019-12-01) is before the first HSCT "
        "(2020-01-01); check both dates (relapse_after_first_hsct_date and first_hsct_date)",
    ),
    (
        "order-contact-before-event",
        {"relapse_date": "2021-06-01", "second_hsct_date": "2021-05-01", "last_contact_date": "2021-05-15"},
        "last_contact_date: the last contact (2021-05-15) is before the relapse (2021-06-01); "
        "the last contact must be on or after every recorded event",
    ),
    (
        "order-contact-before-event",
        {"last_contact_date": "2021-03-03"},
        "last_contact_date: the last contact (2021-03-03) is before the CAR-T infusion (2021-03-04); "
        "the last contact must be on or after every recorded event",
    ),
    (
        "contact-not-death",
        {"death_date": "2021-09-01", "last_contact_date": "2021-08-01"},
        "last_contact_date: the last contact (2021-08-01) is not the death date (2021-09-01); for a patient who "
        "died, last contact is the date of death; write 2021-09-01, or correct death_date",
    ),
]


@pytest.mark.parametrize(("rule", "changes", "expected"), ORDER_CASES, ids=[c[0] for c in ORDER_CASES])
def test_date_order(rule, changes, expected):
    report = validate_table(_read({**VALID, **changes}))
    assert [p.rule for p in report.problems] == [rule]
    assert [p.format() for p in report.problems] == [f"data.csv row 2 (patient P01), column {expected}"]


def test_same_day_events_are_allowed():
    day = VALID["cart_infusion_date"]
    row = {**VALID, "second_hsct_date": day, "relapse_date": day, "death_date": day, "last_contact_date": day}
    assert _lines(row) == []


def test_after_cutoff():
    lines = _lines({**VALID, "relapse_date": "2021-06-01"}, data_cutoff=dt.date(2021, 12, 31))
    assert lines == [
        "data.csv row 2 (patient P01), column last_contact_date: date 2022-01-31 is after the data cut-off "
        "(2021-12-31); correct the date, or choose a later data cut-off"
    ]
    assert _lines(VALID, data_cutoff=dt.date(2022, 1, 31)) == []  # on the cut-off is fine


def test_problems_are_sorted_by_row_then_file_column_order():
    rows = [
        {**VALID, "last_contact_date": "bad", "bm_response": "bad"},
        {"mrn": "123", **VALID, "patient_id": "P02", "diagnosis": None},
    ]
    report = validate_table(_read(*rows))
    assert [(p.row, p.column, p.rule) for p in report.problems] == [
        (None, "mrn", "direct-identifier"),
        (2, "bm_response", "allowed-values"),
        (2, "last_contact_date", "date-format"),
        (3, "diagnosis", "required-value"),
    ]


def test_row_numbers_come_from_the_file(tmp_path):
    path = tmp_path / "data.csv"
    header = ",".join(VALID)
    good = ",".join(v or "" for v in VALID.values())
    path.write_text(
        f"{header}\n{good}\n\n{good.replace('P01', 'P02').replace('T-ALL', '')}\n", encoding="utf-8"
    )
    assert [p.format() for p in validate_file(path).problems] == [
        "data.csv row 4 (patient P02), column diagnosis: the cell is blank but a value is required; fill in the cell"
    ]


def test_problem_format_is_one_line_and_clips_long_values():
    value = "a\nb" + "x" * 100
    line = _one(bm_response=value)[0]
    assert "\n" not in line
    assert '"a b' + "x" * 56 + '…"' in line


@pytest.mark.parametrize(
    ("column", "value", "shown"),
    [
        ("diagnosis", "T-\x01ALL", "T-\\x01ALL"),  # a control character: Word cannot hold it
        ("bm_response", "\x1b[2J\x1b[31mNR", "\\x1b[2J\\x1b[31mNR"),  # a terminal would run it
        ("patient_id", "P01\u202e", "P01\\u202e"),  # a text-direction override reverses what follows
        ("site", "A\x00B", "A\\x00B"),  # a column carried along is shown in the report too
        # a vertical tab (an old Excel export's line break in a cell), a form feed, a file separator: each was
        # shown as a space, so the message named a character the user could not find
        ("diagnosis", "T-ALL\x0bETP", "T-ALL\\x0bETP"),
        ("diagnosis", "T-\x0cALL", "T-\\x0cALL"),  # (at either end it is white space, stripped)
        ("diagnosis", "T\x1cALL", "T\\x1cALL"),
    ],
)
def test_a_cell_with_a_character_a_report_cannot_show_is_refused_and_shown_escaped(column, value, shown):
    lines = _lines({**VALID, "site": "S1", column: value})
    problems = [line for line in lines if "unshowable-character" in line or "cannot show" in line]
    assert problems == [
        f'data.csv row 2 (patient {shown if column == "patient_id" else "P01"}), column {column}: value "{shown}" '
        "holds an invisible control or text-direction character, which a report cannot show as written; "
        "delete the character (copying from another program often leaves one)"
    ]
    for line in lines:
        assert line.isprintable()


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        (
            "diagnosis",
            "#N/A",
            'value "#N/A" is an Excel error value (a formula that failed, or its text copied), not data; correct '
            "the formula in the workbook, or type the value",
        ),
        (
            "site",  # carried along into the report: an error value is no site either
            "#DIV/0!",
            'value "#DIV/0!" is an Excel error value (a formula that failed, or its text copied), not data; '
            "correct the formula in the workbook, or type the value",
        ),
        (
            "diagnosis",
            "N/A",
            'value "N/A" stands for a missing value, and diagnosis may not be blank; write the diagnosis',
        ),
        (
            "cause_of_death",
            "NULL",
            'value "NULL" stands for a missing value; leave the cell blank (blank means alive or unknown)',
        ),
    ],
)
def test_a_placeholder_for_a_missing_value_is_refused_not_reported_as_text(column, value, expected):
    """A diagnosis of ``#N/A`` (an Excel lookup that failed) or ``N/A`` was valid text: Table 1 counted "1 with
    #N/A" and the summary said so. Excel's error values are refused in every column, and the usual stand-ins for
    a missing value (``NA``, ``N/A``, ``NaN``, ``NULL``, ``-``, ``.``, ``?``) in the contract's free-text columns,
    where a blank cell says what they mean (or is refused, for a required column)."""
    row = {**VALID, "site": "S1", column: value}
    if column == "cause_of_death":
        row.update(death_date="2021-12-01", last_contact_date="2021-12-01")
    lines = _lines(row)
    assert lines == [f"data.csv row 2 (patient P01), column {column}: {expected}"], lines


@pytest.mark.parametrize("value", ["None", "unknown", "NAD", "Nausea", "T-ALL (N/A subtype)", "na-1"])
def test_words_that_only_look_like_placeholders_are_text(value):
    """Only a whole cell that is one of the stand-ins is refused: words a diagnosis or cause of death may be are
    text ("unknown" is a cause of death a study reports)."""
    assert _one(diagnosis=value) == []


def test_a_column_name_with_a_character_a_report_cannot_show_is_refused_and_shown_escaped():
    lines = _lines({**VALID, "site\x1b[31m": "S1"})
    assert lines == [
        "data.csv, column site\\x1b[31m: the column name holds an invisible control or text-direction "
        "character, which a report cannot show as written; delete the character (copying from another program "
        "often leaves one)"
    ]


def test_columns_carried_along_are_named_in_a_bounded_note():
    extra = {f"{'x' * 500}{i}": "1" for i in range(100)}
    note = next(n for n in validate_table(_read({**VALID, **extra})).notes if n.startswith("carried along"))
    assert note.startswith("carried along 100 column(s) not in the data contract: xxx")
    assert note.endswith(" and 90 more")
    assert len(note) < 1000


def test_problem_is_frozen():
    problem = Problem(2, "P01", "sex", "x", "allowed-values", "bad")
    with pytest.raises(AttributeError):
        problem.row = 3  # type: ignore[misc]
    assert problem.format() == "row 2 (patient P01), column sex: bad"


def test_validate_file_raises_data_file_error(tmp_path):
    with pytest.raises(DataFileError):
        validate_file(tmp_path / "missing.csv")


def test_table_not_from_read_table_is_numbered_from_row_2():
    frame = pd.DataFrame([VALID, {**VALID, "patient_id": None}], index=[10, 11])
    report = validate_table(ReadResult(frame, Path("x.parquet"), "parquet"))
    assert [p.row for p in report.problems] == [3]


# ------------------------------------------------------------------------------------ property-based tests
YES_WORDS = ["yes", "Yes", "YES", "y", "Y", "true", "TRUE", "True", "t", "1"]
NO_WORDS = ["no", "No", "NO", "n", "N", "false", "FALSE", "False", "f", "0"]
START = dt.date(2015, 1, 1)
CASE_CHANGES = [str, str.lower, str.upper]
FORMATS = ["csv", "xlsx", "parquet", "xpt"]


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


@st.composite
def patients(draw, patient_id: str) -> tuple[dict, dict]:
    """One valid patient: (cells as written, with varied spellings; cells as normalised by validation)."""

    def days(low: int, high: int) -> dt.timedelta:
        return dt.timedelta(days=draw(st.integers(low, high)))

    cart = START + days(0, 2500)
    hsct = cart + days(0, 400) if draw(st.booleans()) else None
    relapse = cart + days(0, 900) if draw(st.booleans()) else None
    latest = max(d for d in (cart, hsct, relapse) if d)
    death = latest + days(0, 900) if draw(st.booleans()) else None
    contact = death or latest + days(0, 900)
    first_hsct = cart - days(60, 3000) if draw(st.booleans()) else None
    first_relapse = None
    if first_hsct and draw(st.booleans()):
        first_relapse = first_hsct + days(0, (cart - first_hsct).days)
    emd = draw(st.booleans())
    expected = {
        "patient_id": patient_id,
        "diagnosis": draw(st.sampled_from(["T-ALL", "T-LBL"])),
        "cart_infusion_date": _iso(cart),
        "bm_response": draw(st.sampled_from(schema.BM_RESPONSES)),
        "emd_at_baseline": "yes" if emd else "no",
        "emd_response": draw(st.sampled_from(schema.EMD_RESPONSES)) if emd else None,
        "second_hsct_date": _iso(hsct),
        "relapse_date": _iso(relapse),
        "death_date": _iso(death),
        "last_contact_date": _iso(contact),
        "sex": draw(st.sampled_from([None, *schema.SEXES])),
        "age_years": draw(st.one_of(st.none(), st.integers(0, 120).map(str), st.integers(0, 119).map(lambda a: f"{a}.5"))),
        "first_hsct_date": _iso(first_hsct),
        "relapse_after_first_hsct_date": _iso(first_relapse),
        "donor_type": draw(st.sampled_from(schema.DONOR_TYPES)) if hsct else None,
        "cause_of_death": draw(st.sampled_from(["relapse", "infection", "GVHD"])) if death else None,
        "site": draw(st.sampled_from(["Beijing", "Paris", None])),
    }  # fmt: skip
    written = dict(expected)
    written["emd_at_baseline"] = draw(st.sampled_from(YES_WORDS if emd else NO_WORDS))
    for name in ("bm_response", "emd_response", "sex", "donor_type"):
        if written[name] is not None:
            written[name] = draw(st.sampled_from(CASE_CHANGES))(written[name])
    return written, expected


@st.composite
def cohorts(draw, min_size: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A valid cohort: (table as written, table as validation should return it)."""
    ids = draw(
        st.lists(
            # "-" or "--" stands for a missing value (rule missing-placeholder), no id
            st.text("ABCPT0123456789-_", min_size=1, max_size=6).filter(
                lambda i: i not in MISSING_PLACEHOLDERS
            ),
            min_size=min_size,
            max_size=10,
            unique=True,
        )
    )
    pairs = [draw(patients(pid)) for pid in ids]
    written = pd.DataFrame([w for w, _ in pairs], dtype=object)
    expected = pd.DataFrame([e for _, e in pairs], dtype=object)
    return written.where(written.notna(), None), expected.where(expected.notna(), None)


def _write(table: pd.DataFrame, folder: Path, fmt: str) -> Path:
    """Write a cohort the way each tool would: real date cells/types in Excel, Parquet and XPT."""
    path = folder / f"cohort.{fmt}"
    dates = [c for c in table.columns if c in schema.DATE_COLUMNS]
    as_dates = table.copy()
    for name in dates:
        as_dates[name] = [dt.date.fromisoformat(v) if v else None for v in table[name]]
    if fmt == "csv":
        table.to_csv(path, index=False)
    elif fmt == "xlsx":
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(list(table.columns))
        for record in as_dates.to_dict("records"):
            emd = record["emd_at_baseline"]
            if emd and emd.lower() in {"true", "false"}:
                record["emd_at_baseline"] = emd.lower() == "true"  # a real TRUE/FALSE cell
            if record["age_years"] is not None:
                record["age_years"] = float(record["age_years"])
            sheet.append(list(record.values()))
        workbook.save(path)
    elif fmt == "parquet":
        frame = table.copy()
        for name in dates:
            frame[name] = pd.to_datetime(frame[name]).astype("datetime64[ns]")  # timestamp dtype
        frame["age_years"] = pd.to_numeric(frame["age_years"]).astype(float)
        frame.to_parquet(path, index=False)
    else:
        frame = as_dates.copy()
        frame["age_years"] = pd.to_numeric(frame["age_years"]).astype(float)
        pyreadstat.write_xport(frame, str(path), file_format_version=8)
    return path


@settings(max_examples=30, deadline=None)
@given(cohort=cohorts(), fmt=st.sampled_from(FORMATS))
def test_valid_cohorts_validate_cleanly_in_every_format(cohort, fmt):
    written, expected = cohort
    with tempfile.TemporaryDirectory() as folder:
        report = validate_file(_write(written, Path(folder), fmt))
    assert [p.format() for p in report.problems] == []
    assert report.table is not None
    got = report.table.reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    coerce(report.table)  # the normalised table is accepted downstream


@settings(max_examples=30, deadline=None)
@given(cohort=cohorts())
def test_valid_cohorts_read_the_same_from_every_format(cohort):
    written, _ = cohort
    with tempfile.TemporaryDirectory() as folder:
        tables = [validate_file(_write(written, Path(folder), fmt)).table for fmt in FORMATS]
    for table in tables[1:]:
        pd.testing.assert_frame_equal(table, tables[0])


REQUIRED_CELLS = [c.name for c in schema.COLUMNS if c.required and c.blank is None]
ORDERED_PAIRS = [  # (earlier, later) pairs that the rules keep in order
    ("cart_infusion_date", "second_hsct_date"),
    ("cart_infusion_date", "relapse_date"),
    ("cart_infusion_date", "death_date"),
    ("relapse_date", "death_date"),
    ("second_hsct_date", "death_date"),
    ("cart_infusion_date", "last_contact_date"),
    ("relapse_date", "last_contact_date"),
]
SECRET = "Secretname"


@st.composite
def corrupted(draw) -> tuple[pd.DataFrame, set[str], str]:
    """A cohort with one corruption: (table as written, columns a problem must name, kind)."""
    kind = draw(st.sampled_from(["blank", "swap", "typo", "duplicate", "identifier"]))
    table, _ = draw(cohorts(min_size=2 if kind == "duplicate" else 1))
    table = table.copy()
    row = draw(st.integers(0, len(table) - 1))
    swappable = [
        (a, b)
        for a, b in ORDERED_PAIRS
        if table.at[row, a] and table.at[row, b] and table.at[row, a] < table.at[row, b]
    ]
    assume(kind != "swap" or swappable)  # rarely false: every date of the patient on the day of CAR-T
    if kind == "blank":
        column = draw(st.sampled_from(REQUIRED_CELLS))
        table.at[row, column] = None
        return table, {column}, kind
    if kind == "swap":
        a, b = draw(st.sampled_from(swappable))
        table.at[row, a], table.at[row, b] = table.at[row, b], table.at[row, a]
        return table, {a, b}, kind
    if kind == "typo":
        columns = [
            c
            for c in ("bm_response", "emd_at_baseline", "emd_response", "sex", "donor_type")
            if table.at[row, c]
        ]
        column = draw(st.sampled_from(columns))
        value = table.at[row, column]
        spec = schema.column(column)
        accepted = {v.lower() for v in spec.values} | (
            schema.TRUE_WORDS | schema.FALSE_WORDS if spec.kind == "yes/no" else set()
        )
        at = draw(st.integers(0, len(value)))
        typo = value[:at] + draw(st.sampled_from(["x", "#", "q", "é"])) + value[at:]
        assert typo.lower() not in accepted
        table.at[row, column] = typo
        return table, {column}, kind
    if kind == "duplicate":
        other = draw(st.integers(0, len(table) - 1).filter(lambda i: i != row))
        table.at[other, "patient_id"] = table.at[row, "patient_id"]
        return table, {"patient_id"}, kind
    name = draw(st.sampled_from(IDENTIFYING))
    table.insert(draw(st.integers(0, len(table.columns))), name, [f"{SECRET}{i}" for i in range(len(table))])
    return table, {name}, kind


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=corrupted(), fmt=st.sampled_from(["csv", "csv", "xlsx"]))
def test_corruptions_are_always_found_on_the_right_column(case, fmt):
    table, columns, kind = case
    event(kind)
    with tempfile.TemporaryDirectory() as folder:
        try:
            report = validate_file(_write(table, Path(folder), fmt))
        except CartreportError as error:  # the only errors allowed; none is expected for these corruptions
            pytest.fail(f"unexpected {error!r}")
    assert report.problems, kind
    assert report.table is None
    assert columns & {p.column for p in report.problems}, [p.format() for p in report.problems]
    assert all(p.rule in RULES for p in report.problems)
    shown = "\n".join([*(p.format() for p in report.problems), *report.notes, repr(report.problems)])
    assert SECRET not in shown


cells = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["2021-01-01", "yes", "NR", "CR", "45"]))


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({name: cells for name in VALID}), min_size=1, max_size=5))
def test_arbitrary_cells_never_crash_validation(rows):
    report = validate_table(_read(*rows), data_cutoff=dt.date(2021, 6, 30))
    for problem in report.problems:
        assert problem.rule in RULES
        assert "\n" not in problem.format()
    assert (report.table is None) == bool(report.problems)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=300), fmt=st.sampled_from(FORMATS))
def test_arbitrary_bytes_raise_only_data_file_error(data, fmt):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"garbage.{fmt}"
        path.write_bytes(data)
        try:
            read = read_table(path)
        except DataFileError as error:
            assert str(error).startswith(f"cannot read {path}")
            return
        report = validate_table(read)
        assert (report.table is None) == bool(report.problems)


# ------------------------------------------------------------------------------------------ large tables
def test_missing_death_date_column_is_reported_not_a_crash():
    row = {k: v for k, v in VALID.items() if k != "death_date"}
    assert _lines({**row, "last_contact_date": "2021-03-01"}) == [
        'data.csv, column death_date: the required column is missing; add it; a blank cell means "alive"',
        "data.csv row 2 (patient P01), column last_contact_date: the last contact (2021-03-01) is before the "
        "CAR-T infusion (2021-03-04); the last contact must be on or after every recorded event",
    ]


def test_schema_is_built_once_and_names_stay_importable_from_validate():
    from cartreport.contract import between_columns, column_rules, identifiers, problems, validate

    assert build_schema() is build_schema()
    assert validate.Problem is problems.Problem and validate.RULES is problems.RULES
    assert validate.looks_like_identifier is identifiers.looks_like_identifier
    assert validate.build_schema is column_rules.build_schema
    assert {"emd_problems", "date_order_problems"} <= set(between_columns.__all__)


def test_the_first_failing_rows_of_each_rule_are_reported_and_the_rest_counted():
    n = 3000
    rows = [{**VALID, "patient_id": f"P{i:05d}"} for i in range(n)]
    for i in range(0, n, 7):
        rows[i]["last_contact_date"] = "2021-03-01"  # before the infusion
    for i in range(3, n, 11):
        rows[i]["relapse_date"] = "04/03/2021"
    for i in range(5, n, 13):
        rows[i]["sex"] = "Male "
    report = validate_table(_read(*rows), data_cutoff=dt.date(2022, 1, 30))
    by_rule: dict[str, list[int]] = {}
    more: dict[str, int] = {}
    for p in report.problems:
        if p.row is None:
            more[p.rule] = p.count
        else:
            by_rule.setdefault(p.rule, []).append(p.row)
    expected = {
        "order-contact-before-event": [i + 2 for i in range(0, n, 7)],  # 429 rows
        "date-format": [i + 2 for i in range(3, n, 11)],  # 273 rows
        "after-cutoff": [i + 2 for i in range(n) if i % 7],  # 2022-01-31 is after the cut-off: 2,571 rows
    }
    for rule, rows_failing in expected.items():
        assert by_rule[rule] == rows_failing[:MAX_PER_RULE]
        assert more[rule] == len(rows_failing) - MAX_PER_RULE
    assert set(by_rule) == set(more) == set(expected)
    assert summary_line(report) == "data.csv: 3,000 patients, 10 required columns present, 3,273 problems."
    assert f"sex: read `Male` as `male` ({len(range(5, n, 13))} cells)" in report.notes
    listed = [p for p in report.problems if p.row is not None]
    assert listed == sorted(listed, key=lambda p: (p.row, list(VALID).index(p.column)))
    assert [p.format() for p in report.problems[-3:]] == [  # in the order the rules first occur
        "data.csv: … and 409 more problems of rule order-contact-before-event",  # row 2
        "data.csv: … and 2,551 more problems of rule after-cutoff",  # row 3
        "data.csv: … and 253 more problems of rule date-format",  # row 5
    ]


def test_a_workbook_whose_patients_are_on_another_sheet_names_that_sheet(tmp_path):
    """Issue #9: ten "required column is missing" lines and no hint to --sheet."""
    workbook = openpyxl.Workbook()
    workbook.active.title = "Read me"
    workbook.active.append(["This workbook holds the CD7 CAR-T cohort"])
    workbook.active.append(["One row per patient; dates as YYYY-MM-DD"])
    cohort = workbook.create_sheet("Cohort")
    cohort.append(list(VALID))
    cohort.append([v if v is not None else "" for v in VALID.values()])
    workbook.create_sheet("Notes").append(["patient_id", "comment"])
    path = tmp_path / "cohort.xlsx"
    workbook.save(path)
    report = validate_file(path)
    assert [p.format() for p in report.problems] == [
        "cohort.xlsx: the first sheet lacks 10 required columns; the patients are on sheet 'Cohort': use --sheet "
        "Cohort; or move that sheet to the front of the workbook"
    ]
    assert validate_file(path, sheet="Cohort").valid
    workbook["Read me"].delete_rows(2)  # a title line only: no patient rows at all on the first sheet
    workbook.save(path)
    with pytest.raises(DataFileError) as caught:
        validate_file(path)
    assert str(caught.value) == (
        f"cannot read {path}: the file has column names but no patient rows (on its first sheet); the patients "
        "are on sheet 'Cohort': use --sheet Cohort"
    )


def test_a_table_read_by_read_table_is_not_cleaned_twice_but_validates_the_same(tmp_path):
    """read_table's cells are already stripped text (ReadResult.cleaned); validating them as an uncleaned table
    (cleaned again by validate) gives the same problems, notes and table."""
    path = tmp_path / "cohort.csv"
    path.write_text(
        "patient_id,diagnosis,cart_infusion_date,bm_response,emd_at_baseline,emd_response,second_hsct_date,"
        "relapse_date,death_date,last_contact_date\n"
        " P01 ,T-ALL,2021-03-04, mrd-negative cr ,TRUE,,2021-05-01,,,2022-01-31\n"
        "P02,T-LBL,04/03/2021,NR,no,PR,,,2021-06-01,2021-06-01\n"
        "p01,T-ALL,2021-03-04,NR,yes,,,,,2022-01-31\n",
        encoding="utf-8",
    )
    read = read_table(path)
    assert read.cleaned
    fast = validate_table(read)
    slow = validate_table(ReadResult(read.table.copy(), read.path, read.format, list(read.notes)))
    assert fast.problems == slow.problems and fast.problems
    assert fast.notes == slow.notes
    shipped = read_table(Path(__file__).resolve().parents[1] / "data" / "ash2023_cd7_cart_cohort.csv")
    again = ReadResult(shipped.table.copy(), shipped.path, shipped.format, list(shipped.notes))
    pd.testing.assert_frame_equal(validate_table(shipped).table, validate_table(again).table)


def _messy_cohort(path: Path, problems: bool) -> Path:
    """A synthetic cohort written as registries write them: spaces around cells, codes and yes/no words in other
    spellings, a blank row and an extra column; with ``problems``, a repeated column and some cells broken too."""
    from cartreport.cohorts.synthetic import synthetic_cohort

    frame = synthetic_cohort(3_000, seed=5).astype(object)
    frame["emd_at_baseline"] = frame["emd_at_baseline"].map({"yes": "TRUE", "no": " n "})
    frame.loc[::7, "diagnosis"] = frame.loc[::7, "diagnosis"].str.lower()
    frame.loc[::5, "sex"] = " " + frame.loc[::5, "sex"].astype(str).str.upper() + " "
    frame.loc[::11, "cart_infusion_date"] = frame.loc[::11, "cart_infusion_date"].astype(str) + " "
    frame["site"] = "A"
    frame.loc[5, :] = None  # a blank row
    if problems:
        frame["sex2"] = frame["sex"]
        frame = frame.rename(columns={"sex2": "sex"})  # a repeated name: the first column is checked
        frame.loc[::97, "last_contact_date"] = "31/12/2021"
        frame.loc[::89, "bm_response"] = "mrd negative"
        frame.loc[::83, "age_years"] = "forty"
        frame.loc[10, "patient_id"] = frame.loc[11, "patient_id"]
        frame.loc[::211, "emd_at_baseline"] = "perhaps"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("problems", [False, True])
def test_the_distinct_values_reading_found_validate_as_the_cells_do(tmp_path, problems):
    """Validation uses the columns reading factorized (ReadResult.factorized) instead of hashing the cells again:
    the same problems, notes and table as from the cells alone, and coercion the same typed table."""
    import dataclasses

    read = read_table(_messy_cohort(tmp_path / "cohort.csv", problems))
    assert {"diagnosis", "sex", "emd_at_baseline", "cart_infusion_date"} <= set(read.factorized)
    fast = validate_table(read)
    slow = validate_table(dataclasses.replace(read, factorized={}))
    assert [p.format() for p in fast.problems] == [p.format() for p in slow.problems]
    assert fast.notes == slow.notes and bool(fast.problems) == problems
    if not problems:
        pd.testing.assert_frame_equal(fast.table, slow.table)
        assert {"emd_at_baseline", "cart_infusion_date", "age_years"} <= set(fast.factorized)
        typed = coerce(fast.table, stripped=True, factorized=fast.factorized)
        pd.testing.assert_frame_equal(typed, coerce(slow.table, stripped=True))
        pd.testing.assert_frame_equal(typed, coerce(fast.table))


@settings(max_examples=100, deadline=None)
@given(
    ids=st.lists(st.text(alphabet="aAbB1 \t\x1c-é\u200b", min_size=1, max_size=4), min_size=1, max_size=12)
)
def test_near_duplicate_ids_are_those_of_equal_keys(ids):
    """Whatever path finds them (pyarrow over a column of ASCII ids, or one by one): one problem per id key held by
    more than one spelling."""
    from cartreport.contract.column_rules import id_key, near_duplicate_id_problems

    table = pd.DataFrame({"patient_id": ids}, index=pd.RangeIndex(2, len(ids) + 2, name="row"))
    spellings: dict[str, set[str]] = {}
    for pid in ids:
        spellings.setdefault(id_key(pid), set()).add(pid)
    expected = sum(1 for s in spellings.values() if len(s) > 1)
    assert len(near_duplicate_id_problems(table)) == expected


@settings(max_examples=200, deadline=None)
@given(ids=st.lists(st.none() | st.text(alphabet="aAbB1 \t\x1c\x0b-", max_size=4), max_size=12))
def test_the_columnar_test_of_distinct_id_keys_is_the_definition(ids):
    """Over ASCII ids (the columnar path), blank ones left out: True exactly when no two ids share an id_key, so
    that validation may skip counting repeated ids and looking for near-duplicates."""
    from cartreport.contract.column_rules import distinct_id_keys, id_key

    given_ids = [pid for pid in ids if pid is not None]
    table = pd.DataFrame({"patient_id": pd.Series(ids, dtype=object)})
    assert distinct_id_keys(table) == (len({id_key(pid) for pid in given_ids}) == len(given_ids))


def test_a_table_with_problems_is_described_without_any_warning():
    """A valid table is checked on its coded columns first; a table with problems is described from its cells, as
    ever, and no library warning reaches the user."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lines = _lines(
            {**VALID, "bm_response": "q", "diagnosis": None}, {**VALID, "patient_id": "P02", "sex": "x"}
        )
    assert [line.split(": ", 1)[0] for line in lines] == [
        "data.csv row 2 (patient P01), column diagnosis",
        "data.csv row 2 (patient P01), column bm_response",
        "data.csv row 3 (patient P02), column sex",
    ]


def test_a_rule_failing_in_every_row_keeps_a_bounded_number_of_problems():
    """Found by trying it: a file whose cells are all bad held a problem object (and pandera a failure-case row)
    per bad cell until the end, 900 MB for 200,000 rows with three bad columns, some 13 GB for a million. Each rule
    of each column now keeps its first MAX_PER_RULE rows and counts the rest, whatever the number of rows."""
    from cartreport.contract.between_columns import date_order_problems
    from cartreport.contract.column_rules import schema_problems
    from cartreport.contract.problems import total

    n = 2_000
    frame = pd.DataFrame(
        [
            {
                **VALID,
                "patient_id": f"P{i:05d}",
                "bm_response": f"code {i}",
                "last_contact_date": "2021-03-01",
            }
            for i in range(n)
        ],  # fmt: skip
        index=pd.RangeIndex(2, n + 2, name="row"),
        dtype=object,
    )
    described = schema_problems(frame)
    assert [p.rule for p in described if not p.folded] == ["allowed-values"] * MAX_PER_RULE
    assert [p.row for p in described if not p.folded] == list(range(2, 2 + MAX_PER_RULE))
    assert len(described) == MAX_PER_RULE + 1 and total(described) == n
    ordered = date_order_problems(frame, None, dt.date(2026, 1, 1))
    assert len(ordered) == MAX_PER_RULE + 1 and total(ordered) == n


def test_a_large_failing_table_is_checked_in_slices_with_the_same_outcome(monkeypatch):
    """Over CHUNK_ROWS rows, the per-column rules run a slice at a time (pandera's failure cases bounded); repeated
    ids are still found across slices, and the problems reported are the same."""
    from cartreport.contract import column_rules

    rows = [{**VALID, "patient_id": f"P{i:04d}"} for i in range(300)]
    for i in range(0, 300, 3):
        rows[i]["bm_response"] = "MRD neg CR"
    for i in range(1, 300, 40):
        rows[i]["age_years"] = "forty"
    rows[250]["patient_id"] = rows[10]["patient_id"]  # a repeated id, the two rows in different slices
    rows[280]["patient_id"] = None
    whole = _lines(*rows)
    monkeypatch.setattr(column_rules, "CHUNK_ROWS", 50)
    assert _lines(*rows) == whole
    assert any("appears in 2 rows (rows 12, 252)" in line for line in whole)
    assert whole[-1].startswith("data.csv: … and 80 more problems of rule allowed-values")


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_column_names_below_a_title_row_are_found_and_named(tmp_path, suffix):
    """An export with a title line above the column names (a very common spreadsheet layout) gave ten "required
    column is missing" lines (Excel) or "row 3 has 10 cells but the header has 2 columns" (CSV), the real names
    being lower down: the file is now refused in one line that says on which row the names are and what to
    delete (never read from that row silently: the rows above may be another table)."""
    rows = [
        ["CD7 CAR-T cohort", " export of 2024-06-30"],
        [],
        list(VALID),
        [v if v is not None else "" for v in VALID.values()],
    ]
    path = tmp_path / f"cohort.{suffix}"
    if suffix == "xlsx":
        workbook = openpyxl.Workbook()
        for row in rows:
            workbook.active.append(row)
        workbook.save(path)
    else:
        path.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        validate_file(path)
    assert str(caught.value) == (
        f"cannot read {path}: the column names are on row 3, not on the first row; delete the 2 rows above them "
        "(a title or notes)"
    )
    # a title padded to the table's width (Excel's CSV export of a title cell) is read without error as a header
    padded = tmp_path / "padded.csv"
    padded.write_text(
        "\n".join(",".join(row + [""] * (len(VALID) - len(row))) for row in rows if row) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(
        DataFileError, match="the column names are on row 2, not on the first row; delete the 1 row "
    ):
        validate_file(padded)
    # the names on the first row, and a row below that repeats some of them (a data row): read as before
    repeated = tmp_path / "repeated.csv"
    repeated.write_text("\n".join(",".join(row) for row in rows[2:] + [list(VALID)]) + "\n", encoding="utf-8")
    assert not [p for p in validate_file(repeated).problems if p.rule == "required-column"]


def test_a_data_origin_other_than_reconstruction_or_synthetic_is_refused_by_row():
    """``data_origin`` says what a row is: blank for patient records, ``reconstruction`` or ``synthetic`` for rows
    cartreport made up. Any other value is refused, naming the patient and the column."""
    origins = ["", "synthetic", "real", "reconstruction"]
    rows = [{**VALID, "patient_id": f"P0{i}", "data_origin": origin} for i, origin in enumerate(origins)]
    report = validate_table(_read(*rows))
    assert [(p.row, p.patient_id, p.column, p.value) for p in report.problems] == [
        (4, "P02", "data_origin", "real")
    ]
    assert _one(data_origin="Synthetic") == []  # a category is matched whatever its case, as every category


@pytest.mark.parametrize(
    ("origins", "said"),
    [
        (["synthetic"] * 3, "valid; 3 rows are synthetic, not patient records (column data_origin)."),
        (
            ["reconstruction"] * 3,
            "valid; 3 rows are a reconstruction, not patient records (column data_origin).",
        ),
        (
            ["", "synthetic", "Reconstruction"],
            "valid; 2 rows are made up (1 reconstructed and 1 synthetic), not patient records (column data_origin).",
        ),
        # made-up rows of one kind among patient records are named by that kind
        (
            ["", "synthetic", "synthetic"],
            "valid; 2 rows are synthetic, not patient records (column data_origin).",
        ),
        (["", "", ""], "valid."),
    ],
)
def test_validate_says_when_rows_are_not_patient_records(origins, said):
    """``cartreport validate`` called a file of ``synthesize`` output "valid." and nothing more, though every report
    on it says the data are not patient records: the check says so too."""
    rows = [{**VALID, "patient_id": f"P0{i}", "data_origin": origin} for i, origin in enumerate(origins)]
    line = summary_line(validate_table(_read(*rows)))
    assert line == f"data.csv: 3 patients, 10 required columns present, {said}"
