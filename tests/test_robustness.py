"""Property-based: random valid cohorts always give a report; random corruptions always give a clean error.

The full path is exercised: ``cartreport run`` (notebooks on one kernel, HTML, results.json) for valid cohorts,
and the command line for corrupted files (exit code 2, a message naming file, row and column, no traceback,
nothing written).
"""

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartreport import api, cli, render
from cartreport.cohorts.synthetic import synthetic_cohort
from cartreport.contract.schema import REQUIRED_COLUMNS
from cartreport.errors import ParameterError

SLOW = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
FAST = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@st.composite
def cohorts(draw):
    """A valid cohort: a random subset of a synthetic one (1 to 80 patients), in random row order."""
    n = draw(st.integers(1, 80))
    frame = synthetic_cohort(n + draw(st.integers(0, 40)), seed=draw(st.integers(0, 10_000)))
    rows = draw(st.permutations(range(len(frame))))[:n]
    return frame.iloc[list(rows)].reset_index(drop=True)


@st.composite
def parameters(draw):
    return {
        "time_origin": draw(st.sampled_from(["second_hsct", "cart_infusion"])),
        "data_cutoff": draw(st.sampled_from(["", "2021-06-30", "2023-12-31"])),
        "landmarks_months": draw(st.lists(st.sampled_from([1, 3, 6, 12, 24, 60]), min_size=1, max_size=3)),
        "ci_level": draw(st.sampled_from([0.9, 0.95, 0.99])),
        "ci_method": draw(st.sampled_from(["log-log", "log", "plain"])),
        "subgroup_by": draw(st.sampled_from(["", "diagnosis", "sex"])),
    }


@pytest.fixture(scope="module")
def kernel():
    k = render.start_kernel()
    yield k
    k.shutdown()


@SLOW
@given(cohort=cohorts(), params=parameters())
def test_random_valid_cohorts_always_give_a_report(tmp_path_factory, kernel, cohort, params):
    folder = tmp_path_factory.mktemp("valid")
    data = folder / "cohort.csv"
    cohort.to_csv(data, index=False)
    try:
        out = api.run_report({**params, "data": str(data)}, folder / "report", kernel=kernel)
    except ParameterError as exc:  # a cut-off before every infusion leaves nobody to analyse: said clearly
        # or subgroup_by asked for curves of individual patients
        assert "no patient" in str(exc) or "hold a single patient" in str(exc)
        return
    results = json.loads((out / "results.json").read_text())
    assert results["flow"]["enrolled"] == len(cohort)
    assert results["n_patients"] == results["flow"]["infused"] <= len(cohort)  # infused by the data cut-off
    assert (out / "report.html").stat().st_size > 10_000


@FAST
@given(cohort=cohorts(), params=parameters())
def test_random_valid_cohorts_always_analyse(cohort, params, tmp_path_factory):
    data = tmp_path_factory.mktemp("valid") / "cohort.csv"
    cohort.to_csv(data, index=False)
    try:
        results = api.load_analysis({**params, "data": str(data)}).results
    except ParameterError as exc:
        assert "no patient" in str(exc) or "hold a single patient" in str(exc)
        return
    for key in ("os", "lfs"):
        for lm in results["endpoints"][key]["landmarks"]:
            if lm["estimate"] is not None:
                assert 0 <= lm["estimate"] <= 1
                if lm["ci_low"] is not None:
                    assert lm["ci_low"] <= lm["estimate"] + 1e-12 <= lm["ci_high"] + 2e-12


CORRUPTIONS = [
    "blank",
    "swap_dates",
    "typo",
    "duplicate_id",
    "identifier",
    "bad_date",
    "drop_column",
    "bad_age",
]


def corrupt(frame, kind: str, row: int):
    frame = frame.copy()
    if kind == "blank":
        frame.loc[row, "last_contact_date"] = ""
    elif kind == "swap_dates":
        frame.loc[row, ["cart_infusion_date", "last_contact_date"]] = [
            frame.loc[row, "last_contact_date"],
            "1999-01-01",
        ]
    elif kind == "typo":
        frame.loc[row, "bm_response"] = "MRD negative CR"
    elif kind == "duplicate_id":
        frame.loc[row, "patient_id"] = frame.loc[(row + 1) % len(frame), "patient_id"]
    elif kind == "identifier":
        frame["patient_name"] = "Jane Doe"
    elif kind == "bad_date":
        frame.loc[row, "death_date"] = "31/02/2022"
    elif kind == "drop_column":
        frame = frame.drop(columns=[REQUIRED_COLUMNS[row % len(REQUIRED_COLUMNS)]])
    elif kind == "bad_age":
        frame.loc[row, "age_years"] = "forty"
    return frame


@FAST
@given(seed=st.integers(0, 10_000), n=st.integers(2, 30), kind=st.sampled_from(CORRUPTIONS), data=st.data())
def test_random_corruptions_give_a_clean_error(tmp_path_factory, capsys, seed, n, kind, data):
    folder = tmp_path_factory.mktemp("bad")
    row = data.draw(st.integers(0, n - 1))
    frame = corrupt(synthetic_cohort(n, seed=seed), kind, row)
    path = folder / "cohort.csv"
    frame.to_csv(path, index=False)
    code = cli.main(["validate", str(path)])
    err = capsys.readouterr()
    assert code == 1, err
    assert "Traceback" not in err.out + err.err
    assert "cohort.csv" in err.out
    assert "Jane Doe" not in err.out, "identifier values are never shown"
    if kind not in ("identifier", "drop_column"):
        # the spreadsheet row is named, on its own ("row 5") or among the rows sharing a patient_id ("rows 2, 5")
        assert re.search(rf"\brows? (?:\d+, )*{row + 2}\b", err.out), "the spreadsheet row is named"


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    junk=st.binary(min_size=0, max_size=300), suffix=st.sampled_from([".csv", ".xlsx", ".parquet", ".xpt"])
)
def test_random_bytes_never_give_a_traceback(tmp_path_factory, capsys, junk, suffix):
    path = tmp_path_factory.mktemp("junk") / f"cohort{suffix}"
    path.write_bytes(junk)
    code = cli.main(["validate", str(path)])
    err = capsys.readouterr()
    assert code in (1, 2)
    assert "Traceback" not in err.out + err.err


def test_run_with_corrupt_data_writes_nothing_and_exits_2(tmp_path, capsys):
    frame = corrupt(synthetic_cohort(10, seed=1), "typo", 3)
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    assert cli.main(["run", "--data", str(path), "--output", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert "row 5" in err and "bm_response" in err and 'did you mean "MRD-negative CR"' in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv"]


def _invalid_cohorts(folder) -> dict[str, object]:
    """Named invalid patient tables (file paths): every corruption kind at two rows, and files that are not tables."""
    base = synthetic_cohort(12, seed=3)
    files = {}
    for kind in CORRUPTIONS:
        for row in (0, 7):
            path = folder / f"{kind}_{row}.csv"
            corrupt(base, kind, row).to_csv(path, index=False)
            files[f"{kind}, row {row}"] = path
    extra = {
        "future date": lambda f: f.assign(last_contact_date=["2099-01-01"] * len(f)),
        "ids differing in case": lambda f: f.assign(
            patient_id=[f.patient_id[0].lower(), *f.patient_id[1:]]
        ).pipe(lambda g: g.assign(patient_id=[g.patient_id[0], g.patient_id[0].upper(), *g.patient_id[2:]])),
        "one id on every row": lambda f: f.assign(patient_id="P-1"),
        "identifier named Patient": lambda f: f.assign(Patient="Jane Doe"),
        "identifier named nombre": lambda f: f.assign(nombre="Juan"),
        "hsct before infusion": lambda f: f.assign(second_hsct_date="2000-01-01"),
        "negative age": lambda f: f.assign(age_years=-4),
        "death before the infusion": lambda f: f.assign(death_date="2000-01-01"),
        "no rows": lambda f: f.iloc[:0],
    }
    for name, change in extra.items():
        path = folder / f"{name.replace(' ', '_')}.csv"
        change(base.copy()).to_csv(path, index=False)
        files[name] = path
    raw = {
        "empty file": b"",
        "header only": b"patient_id\n",
        "random bytes": bytes(range(256)),
        "broken UTF-16": b"\xff\xfe" + "patient_id,age\n".encode("utf-16-le")[:-1],
        "a folder": None,
        "a workbook that is not one": b"PK\x03\x04not a zip",
    }
    for name, content in raw.items():
        path = folder / (name.replace(" ", "_") + (".xlsx" if "workbook" in name else ".csv"))
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        files[name] = path
    return files


def test_invalid_cohorts_are_refused_cleanly_and_the_earlier_report_stays(tmp_path, capfd):
    """Issue #9 (keep): every invalid cohort is refused with exit 2, no traceback (also none from the report
    kernel, which shares the terminal) and the earlier report in the output folder is byte-identical."""
    report = tmp_path / "report"
    api.run_report({"data": str(_write(synthetic_cohort(12, seed=3), tmp_path / "good.csv"))}, report)
    before = {p: p.read_bytes() for p in sorted(report.rglob("*")) if p.is_file()}
    cohorts = _invalid_cohorts(tmp_path)
    assert len(cohorts) >= 31
    capfd.readouterr()
    for name, path in cohorts.items():
        code = cli.main(["run", "--data", str(path), "--output", str(report)])
        out, err = capfd.readouterr()
        assert code == 2, (name, out, err)
        assert "Traceback" not in out + err and "KeyboardInterrupt" not in err, (name, err)
        assert err.strip(), name
    assert {p: p.read_bytes() for p in sorted(report.rglob("*")) if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def _write(frame, path):
    frame.to_csv(path, index=False)
    return path
