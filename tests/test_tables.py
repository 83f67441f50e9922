"""Tables are looked up in the results dict and printed by the one formatting rule; the HTML is offline."""

from __future__ import annotations

import copy
import csv
import json
import re
from html import escape as html_escape
from pathlib import Path

import pandas as pd
import pytest
from great_tables import GT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartreport import formatting as fmt
from cartreport.api import load_analysis
from cartreport.report import tables

DATA = Path(__file__).resolve().parents[1] / "data"
FRAMES = (
    tables.baseline_table,
    tables.intervals_table,
    tables.response_table,
    tables.response_counts_table,
    tables.landmark_table,
    tables.median_table,
    tables.published_vs_reproduced,
    tables.subgroup_table,
)


def shipped_results(**overrides) -> dict:
    """The shipped study's results through the public api (validated, analysed, published figures attached)."""
    return load_analysis(**overrides).results


@pytest.fixture(scope="module")
def results() -> dict:
    return shipped_results(subgroup_by="diagnosis", landmarks_months=[6, 12, 24, 60])


def _row(frame: pd.DataFrame, column: str, value: str) -> pd.Series:
    rows = frame[frame[column] == value]
    assert len(rows) == 1, (column, value, frame)
    return rows.iloc[0]


def test_baseline_table(results):
    frame = tables.baseline_table(results)
    assert list(frame.columns) == ["Characteristic", "Level", "N = 16"]
    assert len(frame) == len(results["baseline"]["rows"])
    t_all = frame[(frame["Characteristic"] == "Diagnosis") & (frame["Level"] == "T-ALL")].iloc[0]
    assert t_all["N = 16"] == "11 (68.8%)"
    age = _row(frame, "Level", "Median (range)")
    assert re.fullmatch(r"\d+(\.\d)? \(\d+(\.\d)?–\d+(\.\d)?\)", age["N = 16"])


def test_baseline_table_counts_unknown_values(results):
    changed = copy.deepcopy(results)
    for row in changed["baseline"]["rows"]:
        if row["variable"] == "sex":
            row["missing"] = 2
    frame = tables.baseline_table(changed)
    sex = frame[frame["Characteristic"] == "Sex"]
    assert list(sex["Level"])[-1] == "Unknown" and list(sex["N = 16"])[-1] == "2"
    assert (frame["Level"] == "Unknown").sum() == 1


def test_response_table(results):
    frame = tables.response_table(results)
    row = _row(frame, "Response", results["responses"]["bm_mrd_negative_cr"]["label"])
    assert (row["Responders/evaluable"], row["Rate"], row["95% CI"]) == ("16/16", "100%", "79.4–100%")
    emd = _row(frame, "Response", results["responses"]["emd_cr"]["label"])
    assert (emd["Responders/evaluable"], emd["Rate"]) == ("6/8", "75.0%")
    assert "Clopper–Pearson" in frame.attrs["footnote"]


def test_response_counts_table(results):
    frame = tables.response_counts_table(results)
    assert len(frame) == sum(len(v) for v in results["response_counts"].values())
    bm = frame[frame["Site"] == "Bone marrow"]
    assert _row(bm, "Response", "MRD-negative CR")["Patients, n (%)"] == "16 (100%)"


def test_landmark_table(results):
    frame = tables.landmark_table(results)
    assert len(frame) == 4 * len(results["parameters"]["landmarks_months"])
    os = frame[frame["Endpoint"] == "Overall survival"]
    os_12 = _row(os, "Months", "12")
    assert os_12["Estimate"] == "58.5%"  # the published 1-year OS
    lfs_12 = _row(frame[frame["Endpoint"] == "Leukemia-free survival"], "Months", "12")
    assert lfs_12["Estimate"] == "51.4%"  # the published 1-year LFS
    assert _row(os, "Months", "60")["Estimate"] == "not estimable"
    # the method is stated once, in the Methods section (issue #10), not in every table's note
    assert "log-log" not in frame.attrs["footnote"] and "Aalen–Johansen" not in frame.attrs["footnote"]
    assert "Methods" in frame.attrs["footnote"]


def test_median_table(results):
    frame = tables.median_table(results)
    os = _row(frame, "Endpoint", "Overall survival")
    assert os["Median, months"] == "not reached"
    assert os["Events/patients"] == f"{results['endpoints']['os']['events']}/16"
    changed = copy.deepcopy(results)
    changed["endpoints"]["os"].update(median_months=14.25, median_ci_low=8.12, median_ci_high=20.26)
    os = _row(tables.median_table(changed), "Endpoint", "Overall survival")
    assert (os["Median, months"], os["95% CI, months"]) == ("14.3", "8.1–20.3")


def test_published_vs_reproduced_all_match(results):
    frame = tables.published_vs_reproduced(results)
    assert len(frame) == 6
    assert set(frame["Match"]) == {"yes"}
    assert _row(frame, "Figure", "Overall survival at 12 months")["Published"] == "58.5%"


def test_published_vs_reproduced_detects_a_mismatch(results):
    changed = copy.deepcopy(results)
    changed["reproduced"]["lfs_12_months"] = 0.5134
    changed["flow"]["transplanted"] = 15
    frame = tables.published_vs_reproduced(changed)
    assert _row(frame, "Figure", "Leukemia-free survival at 12 months")["Match"] == "no"
    assert _row(frame, "Figure", "Proceeded to a second HSCT")["Match"] == "no"
    # equal at the published precision of 0.1 percentage point: 51.35 rounds half-up to 51.4
    changed["reproduced"]["lfs_12_months"] = 0.5135
    frame = tables.published_vs_reproduced(changed)
    assert _row(frame, "Figure", "Leukemia-free survival at 12 months")["Match"] == "yes"


def test_published_vs_reproduced_without_published_figures(results):
    assert tables.published_vs_reproduced({**results, "published": None}).empty
    wrapped = {**results, "published": {"os_12_months": {"value": 0.585, "text": "…"}}}
    assert list(tables.published_vs_reproduced(wrapped)["Match"]) == ["yes"]


def test_subgroup_table(results):
    frame = tables.subgroup_table(results)
    assert len(frame) == 4 * len(results["subgroups"]["groups"])  # OS, LFS, relapse, NRM
    assert "12 months" in frame.columns and "12 months, 95% CI" in frame.columns
    first = results["subgroups"]["groups"][0]
    os_12 = next(lm for lm in first["os"]["landmarks"] if lm["months"] == 12)
    row = frame[(frame["Group"] == first["value"]) & (frame["Endpoint"] == "Overall survival")].iloc[0]
    assert row["12 months"] == fmt.percent(os_12["estimate"])  # the group's value alone, no "column = value"
    assert row["12 months, 95% CI"] == fmt.interval(os_12["ci_low"], os_12["ci_high"])
    assert "log-rank" in frame.attrs["footnote"] and "Gray's test" in frame.attrs["footnote"]
    assert tables.subgroup_table({**results, "subgroups": None}).empty


def test_intervals_table(results):
    frame = tables.intervals_table(results)
    assert list(frame["Interval"]) == [r["label"] for r in results["intervals"]]


def test_risk_table_agrees_with_landmarks(results):
    frame = tables.risk_table(results).set_index("Endpoint")
    for key in ("os", "lfs", "relapse", "nrm"):
        block = results["endpoints"][key]
        row = frame.loc[block["label"]]
        assert row["0"] == str(block["n"])
        for lm in block["landmarks"]:
            if str(lm["months"]) in row:
                assert row[str(lm["months"])] == str(lm["at_risk"])


@pytest.mark.parametrize("build", FRAMES, ids=lambda f: f.__name__)
def test_every_table_renders_offline(results, build):
    frame = build(results)
    table = tables.to_gt(frame, title="A title")
    assert isinstance(table, GT)
    html = table.as_raw_html()
    assert "A title" in html
    assert "http" not in html and "@import" not in html and "@font-face" not in html
    if frame.attrs.get("footnote"):
        assert html_escape(frame.attrs["footnote"]) in html


def test_empty_tables_render(results):
    for frame in (
        tables.published_vs_reproduced({**results, "published": None}),
        tables.subgroup_table({**results, "subgroups": None}),
    ):
        assert frame.empty
        assert "<table" in tables.to_gt(frame).as_raw_html()


def test_html_escapes_cell_text():
    frame = pd.DataFrame({"p": ["p < 0.001"]})
    assert "p &lt; 0.001" in tables.to_gt(frame).as_raw_html()


# --- data are text: hostile text in any cell is neither markup in the HTML nor a formula in the CSV ----------

TABLES = (
    tables.baseline_table,
    tables.response_counts_table,
    tables.subgroup_table,
    tables.landmark_table,
    tables.intervals_table,
)


def _hostile(results: dict, value: str) -> dict:
    changed = copy.deepcopy(results)
    for row in changed["baseline"]["rows"]:
        if row["kind"] != "continuous":
            row["level"] = value
    changed["response_counts"] = {s: {value: sum(c.values())} for s, c in results["response_counts"].items()}
    changed["subgroups"]["column"] = value
    for group in changed["subgroups"]["groups"]:
        group["value"] = value
    changed["subgroups"]["caution"] = value
    changed["time_origin_label"] = value
    return changed


def _structure(frame: pd.DataFrame) -> list[tuple[str, tuple[str, ...]]]:
    """Elements and attribute names of the table's HTML (great_tables), as a browser tokenises it."""
    from html.parser import HTMLParser

    found: list[tuple[str, tuple[str, ...]]] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, tuple(name for name, _ in attrs)))

    Parser().feed(tables.to_gt(frame).as_raw_html())
    return found


_PLAIN: dict = {}  # each table's structure with plain text, computed once


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.one_of(
        st.text(min_size=1, max_size=20).filter(str.strip),
        st.sampled_from(["<img src=x onerror=alert(1)>", "<svg onload=alert(1)>", "*T*", '=HYPERLINK("x")']),
    )
)
def test_hostile_text_in_table_cells_is_never_markup_or_a_formula(results, value, tmp_path_factory):
    from cartreport.escape import FORMULA_STARTS, write_csv

    hostile = _hostile(results, value)
    if not _PLAIN:
        _PLAIN.update({table: _structure(table(_hostile(results, "X"))) for table in TABLES})
    for table in TABLES:
        frame = table(hostile)
        assert _structure(frame) == _PLAIN[table], table.__name__
        path = tmp_path_factory.mktemp("csv") / "t.csv"
        write_csv(frame, path)
        cells = [c for row in csv.reader(path.open(encoding="utf-8", newline="")) for c in row]
        assert not [c for c in cells if c.startswith(FORMULA_STARTS) and not re.fullmatch(r"[-+][0-9.,]+", c)]


def test_subgroup_table_title_names_the_column_as_the_section_heading_does(results):
    """The table under "Outcomes by diagnosis" was titled "Outcomes by subgroup" (the notebook showed it with the
    title of a report without subgroups); a contract column is named as Table 1 names it, in lower case."""
    assert tables.subgroup_table(results).attrs["title"] == "Outcomes by diagnosis"
    donor = shipped_results(subgroup_by="donor_type")
    assert tables.subgroup_table(donor).attrs["title"] == "Outcomes by donor of the second HSCT"


def test_published_survival_is_reproduced_whatever_landmarks_the_report_asks_for():
    """With landmarks 3, 9 and 18 months the table said the 12-month OS and LFS were "not estimable" and did not
    match, though 10 of 16 patients were followed beyond 12 months: the published figures are compared at their
    own time, not at the report's landmarks."""
    figures = json.loads((DATA / "published_figures.json").read_text(encoding="utf-8"))["figures"]
    frame = tables.published_vs_reproduced(shipped_results(landmarks_months=[3, 9, 18]))
    for label, key in (
        ("Overall survival at 12 months", "os_12_months"),
        ("Leukemia-free survival at 12 months", "lfs_12_months"),
    ):
        row = _row(frame, "Figure", label)
        assert row["Reproduced"] == fmt.percent(figures[key]["value"]) and row["Match"] == "yes"


def test_risk_table_note_says_which_times_the_columns_are():
    """The note read "Patients at risk at each month since second allogeneic HSCT" under columns 6 months apart
    (0, 6, 12, …): the counts are at the months the columns show, as under the figures."""
    note = tables.risk_table(shipped_results()).attrs["footnote"]
    assert "each month" not in note
    assert note == "Patients at risk at the months shown, since the second allogeneic HSCT."


def test_donor_of_patients_without_a_second_hsct_is_not_called_unknown(tmp_path):
    """At the data cut-off of 30 Jun 2022 one patient infused before it had the second HSCT after it, and Table 1
    gave "Donor of the second HSCT: Unknown 1" while the flow said "No second HSCT n = 1": the donor is not
    unknown, there was no transplant to have one. A donor left blank for a transplanted patient stays unknown."""
    cutoff = pd.Timestamp("2022-06-30")
    raw = pd.read_csv(
        DATA / "ash2023_cd7_cart_cohort.csv", parse_dates=["cart_infusion_date", "second_hsct_date"]
    )
    infused = raw[raw["cart_infusion_date"] <= cutoff]
    not_transplanted = int((~(infused["second_hsct_date"] <= cutoff)).sum())
    assert not_transplanted > 0
    frame = tables.baseline_table(shipped_results(data_cutoff="2022-06-30"))
    donor = frame[frame["Characteristic"] == "Donor of the second HSCT"]
    n_col = f"N = {len(infused)}"
    assert "Unknown" not in set(donor["Level"])
    assert _row(donor, "Level", "No second HSCT")[n_col] == str(not_transplanted)
    assert (
        "Donor of the second HSCT: percentages over the patients with a second HSCT."
        in frame.attrs["footnote"]
    )

    edited = raw.copy()
    edited.loc[0, "donor_type"] = None  # transplanted, donor not recorded
    edited.to_csv(tmp_path / "cohort.csv", index=False, date_format="%Y-%m-%d")
    frame = tables.baseline_table(load_analysis(data=str(tmp_path / "cohort.csv")).results)
    donor = frame[frame["Characteristic"] == "Donor of the second HSCT"]
    assert _row(donor, "Level", "Unknown")["N = 16"] == "1" and "No second HSCT" not in set(donor["Level"])
