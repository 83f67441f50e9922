"""The safety and transplant-outcome section (notebooks/03b_transplant.ipynb) in a full report: figures, tables and
prose from results.json for a cohort with the columns; one "not reported" sentence and nothing else without them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cartreport import api, formatting
from cartreport.report import methods, transplant_prose
from cartreport.report.figures.transplant import transplant_figure

ROOT = Path(__file__).resolve().parents[1]
TIES = ROOT / "tests" / "data" / "transplant_ties.csv"
REF = json.loads((ROOT / "tests" / "data" / "reference" / "transplant.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def transplant_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("transplant") / "report"
    api.run_report({"data": str(TIES)}, out)
    return out


def test_section_shows_figures_tables_and_numbers_from_r(transplant_report):
    html = (transplant_report / "report.html").read_text(encoding="utf-8")
    figures = {p.stem for p in (transplant_report / "figures").glob("*.png")}
    assert {
        "crs_icans_grades",
        "cif_engraftment",
        "cif_acute_gvhd",
        "cif_chronic_gvhd",
        "km_grfs_os_lfs",
    } <= figures
    tables = {p.stem for p in (transplant_report / "tables").glob("*.csv")}
    assert {"crs_icans", "transplant_landmarks"} <= tables
    for heading in ("Cytokine release syndrome and neurotoxicity", "Engraftment", "Acute graft-versus-host disease",
                    "Chronic graft-versus-host disease", "GVHD-free, relapse-free survival"):  # fmt: skip
        assert heading in html
    # numbers printed in the section are R's, formatted by the one formatting rule
    platelets = REF["cohorts"]["ties"]["endpoints"]["platelet_engraftment"]
    assert formatting.percent(platelets["landmark_estimate"][1]) == "78.6%"
    assert "78.6% (95% CI, 35.9–94.5) at day 100" in html
    crs = REF["cohorts"]["ties"]["safety"]["crs"]["any"]
    assert f"assessed in {crs['evaluable']} infused patients" in html
    assert f"any grade occurred in {crs['responders']} ({formatting.percent(crs['rate'])}; 95% CI, " in html
    results = json.loads((transplant_report / "results.json").read_text(encoding="utf-8"))
    assert results["endpoints"]["grfs"]["landmarks"][0]["days"] == 365
    assert "not reported" not in html.split("Safety and transplant outcomes", 1)[1].split("Methods", 1)[0]


def test_risk_table_in_results_is_the_one_under_the_figure(transplant_report):
    results = json.loads((transplant_report / "results.json").read_text(encoding="utf-8"))
    analysis = api.load_analysis(data=str(TIES))
    fig = transplant_figure(analysis, "engraftment")
    table_ax = next(ax for ax in fig.axes if ax.get_label() == "risk_table")
    printed = [int(t.get_text()) for t in table_ax.texts if t.get_text().isdigit()]
    in_json = [row["at_risk"] for key in ("neutrophil_engraftment", "platelet_engraftment")
               for row in results["endpoints"][key]["risk_table"]]  # fmt: skip
    assert sorted(printed) == sorted(in_json)


def test_shipped_study_says_not_reported_and_shows_no_empty_part():
    results = api.load_analysis().results
    intro = transplant_prose.transplant_intro(results)
    assert "were not reported" in intro and "does not invent them" in intro
    for helper in (
        transplant_prose.safety_paragraph,
        transplant_prose.engraftment_paragraph,
        transplant_prose.gvhd_paragraph,
        transplant_prose.grfs_paragraph,
        methods.transplant_methods,
    ):
        assert not helper(results)
    assert transplant_prose.safety_table(results) is None
    assert transplant_prose.transplant_landmark_table(results) is None
    analysis = api.load_analysis()
    assert all(transplant_figure(analysis, g) is None for g in ("engraftment", "agvhd", "cgvhd", "grfs"))


def test_partial_columns_name_what_is_missing(tmp_path):
    import pandas as pd

    table = pd.read_csv(TIES, dtype=str).drop(columns=["cgvhd_date", "cgvhd_severity", "cgvhd_systemic_date"])
    path = tmp_path / "no_cgvhd.csv"
    table.to_csv(path, index=False)
    results = api.load_analysis(data=str(path)).results
    assert transplant_prose.transplant_intro(results).startswith("Not reported: chronic GVHD and GVHD-free")
    assert {"cgvhd", "cgvhd_moderate_severe", "grfs"}.isdisjoint(results["endpoints"])
    assert "agvhd_3_4" in results["endpoints"]


def test_columns_without_any_second_hsct_say_so(tmp_path):
    import pandas as pd

    table = pd.read_csv(TIES, dtype=str)
    outcomes = ["neutrophil_engraftment_date", "platelet_engraftment_date", "agvhd_2_4_date", "agvhd_3_4_date",
                "cgvhd_date", "cgvhd_severity", "cgvhd_systemic_date"]  # fmt: skip
    table["second_hsct_date"] = None
    table[outcomes] = None
    path = tmp_path / "no_hsct.csv"
    table.to_csv(path, index=False)
    analysis = api.load_analysis(data=str(path), time_origin="cart_infusion")
    results = analysis.results
    assert results["transplant_flow"] == {
        "transplanted": 0,
        "excluded": [{"reason": "no second HSCT", "n": 15}],
    }
    assert "grfs" not in results["endpoints"] and transplant_prose.grfs_paragraph(results) == ""
    assert transplant_prose.transplant_intro(results).startswith("No patient analysed had a second HSCT")
    assert transplant_figure(analysis, "grfs") is None
    assert results["safety"]["crs"]["evaluable"] == 14


def test_section_reads_like_the_rest_of_the_report(transplant_report):
    """Issue #10: numbered captions and alt texts, methods once in Methods with their references, a landmark
    beyond follow-up said naturally."""
    import re

    html = (transplant_report / "report.html").read_text(encoding="utf-8")
    section = html[
        html.index('id="Safety-and-transplant-outcomes"') : html.index('id="Methods-and-provenance"')
    ]
    methods = html[html.index('id="Methods-and-provenance"') :]
    for name in (
        "crs_icans_grades",
        "cif_engraftment",
        "cif_acute_gvhd",
        "cif_chronic_gvhd",
        "km_grfs_os_lfs",
    ):
        figure = re.search(rf'<figure [^>]*id="figure-{name}".*?</figure>', section, re.DOTALL).group(0)
        assert 'alt="Figure' not in figure and "<figcaption>" in figure
        label = re.search(r'<span class="cr-label">(Figure \d+)\.</span>', figure).group(1)
        assert section.index(f"({label}") < section.index(f'id="figure-{name}"'), f"{label} referred to first"
    # every patient engrafted or died first by day 28: the curve is known after it (R's estimate at day 28)
    assert (
        "Its cumulative incidence was 85.7% (95% CI, 50.4–96.6) at day 28 and unchanged at day 100."
        in section
    )
    prose = re.sub(r"<figcaption>.*?</figcaption>|<table.*?</table>", "", section, flags=re.DOTALL)
    for method in ("ASTCT", "Aalen–Johansen", "Holtan", "Method:", "cmprsk"):  # legends may name their method
        assert method not in prose, method
    assert methods.count("ASTCT 2019 consensus (Lee et al. 2019)") == 1
    assert "Lee DW, Santomasso BD" in methods and "Holtan SG, DeFor TE" in methods


def test_a_landmark_after_a_censored_last_patient_is_said_to_be_beyond_follow_up():
    """At its data cut-off, the chronic GVHD curve of the ties cohort ends on a censored patient before day 365
    (R cmprsk::timepoints: NA at days 365 and 730, tests/data/reference/transplant.json): not estimable, said
    once for both days; the engraftment curve, where every patient had an event, is known after its last time."""
    ref = json.loads((Path(__file__).parent / "data" / "reference" / "transplant.json").read_text("utf-8"))
    cohort = ref["cohorts"]["ties_cutoff"]
    assert cohort["endpoints"]["cgvhd"]["landmark_estimate"] == [None, None]
    results = api.load_analysis(
        data=str(Path(__file__).parents[1] / cohort["file"]), data_cutoff=cohort["data_cutoff"]
    ).results
    gvhd = str(transplant_prose.gvhd_paragraph(results))
    assert (
        "Its cumulative incidence was not estimable at days 365 and 730 (no patient followed that long)."
        in gvhd
    )
    assert "at day 28 and unchanged at day 100" in str(transplant_prose.engraftment_paragraph(results))


@pytest.mark.parametrize(
    ("events", "competing", "sentence"),
    [
        (12, 2, "neutrophil engraftment occurred in 12 and 2 patients died without it"),
        (12, 1, "neutrophil engraftment occurred in 12 and 1 patient died without it"),
        (14, 0, "neutrophil engraftment occurred in 14 and no patient died without it"),
        (0, 3, "neutrophil engraftment did not occur; 3 patients died"),
        (0, 0, "neutrophil engraftment did not occur"),
    ],
)
def test_counts_of_zero_are_said_in_words(events, competing, sentence):
    """ "occurred in 19 and 0 patients died without it" now reads "... and no patient died without it"."""
    import copy

    results = copy.deepcopy(
        api.load_analysis(data=str(Path(__file__).parent / "data" / "transplant_ties.csv")).results
    )
    results["endpoints"]["neutrophil_engraftment"].update(events=events, competing_events=competing)
    text = str(transplant_prose.engraftment_paragraph(results))
    assert f"Among 14 patients, {sentence} (Figure" in text, text


@pytest.mark.parametrize("group", ["engraftment", "agvhd", "cgvhd", "grfs"])
def test_transplant_curve_legends_sit_above_the_data(tmp_path, group):
    """Issue #10 (legends never cover data) for the transplant figures: their legends were placed inside the axes
    (engraftment lower right, GVHD upper left), where the curves of a cohort that engrafts early (a synthetic
    40-patient cohort: every neutrophil count recovered by day 36) ran through them. They now sit above the plot,
    as every other curve figure's."""
    from cartreport.cohorts.synthetic import synthetic_cohort
    from cartreport.cohorts.synthetic_transplant import add_transplant_outcomes

    data = tmp_path / "cohort.csv"
    add_transplant_outcomes(synthetic_cohort(40, seed=3), seed=3).to_csv(data, index=False)
    fig = transplant_figure(api.load_analysis(data=str(data)), group)
    fig.canvas.draw()
    legend = (fig.legends or [ax.get_legend() for ax in fig.axes if ax.get_legend()])[0].get_window_extent()
    curves = next(ax for ax in fig.axes if ax.get_label() == "curves").get_window_extent()
    assert legend.y0 >= curves.y1 - 1e-6, (legend, curves)


@pytest.mark.parametrize(
    ("events", "competing", "sentence"),
    [
        (1, 0, "In the one patient, neutrophil engraftment occurred (Figure"),
        (
            0,
            1,
            "In the one patient, neutrophil engraftment did not occur; the patient died without it (Figure",
        ),
        (0, 0, "In the one patient, neutrophil engraftment did not occur (Figure"),
    ],
)
def test_one_patient_is_the_one_patient_not_among_1_patient(events, competing, sentence):
    """A one-patient cohort read "Among 1 patient, neutrophil engraftment occurred in 1 and no patient died without
    it" and "Among 1 patient, 0 had a GRFS event"."""
    import copy

    results = copy.deepcopy(
        api.load_analysis(data=str(Path(__file__).parent / "data" / "transplant_ties.csv")).results
    )
    for block in results["endpoints"].values():
        block["n"] = 1
    results["endpoints"]["neutrophil_engraftment"].update(events=events, competing_events=competing)
    assert sentence in str(transplant_prose.engraftment_paragraph(results))
    results["endpoints"]["grfs"]["events"] = events
    grfs = str(transplant_prose.grfs_paragraph(results))
    assert f"The one patient had {'a' if events else 'no'} GRFS event (Figure" in grfs, grfs


def test_no_grfs_event_is_said_in_words():
    """Read "Among 2 patients, 0 had a GRFS event"."""
    import copy

    results = copy.deepcopy(
        api.load_analysis(data=str(Path(__file__).parent / "data" / "transplant_ties.csv")).results
    )
    results["endpoints"]["grfs"]["events"] = 0
    grfs = str(transplant_prose.grfs_paragraph(results))
    assert "Among 14 patients, none had a GRFS event (Figure" in grfs, grfs
