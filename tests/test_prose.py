"""Prose is written from the results dict alone: every number in it comes from results, none is typed."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartreport import formatting as fmt
from cartreport.api import load_analysis
from cartreport.report import prose

DATA = Path(__file__).resolve().parents[1] / "data"
PARAGRAPHS = (
    prose.summary_paragraph,
    prose.design_paragraph,
    prose.responses_paragraph,
    prose.survival_paragraph,
    prose.competing_risks_paragraph,
    prose.subgroup_heading,
    prose.subgroup_paragraph,
)
#: a number standing alone (not part of a word such as CD7 or of a hash)
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")


def shipped_results(**overrides) -> dict:
    """The shipped study's results through the public api (validated, analysed, published figures attached)."""
    return load_analysis(**overrides).results


@pytest.fixture(scope="module")
def results() -> dict:
    return shipped_results(subgroup_by="diagnosis", landmarks_months=[6, 12, 24, 60])


def _allowed_numbers(value: object, out: set[str] | None = None) -> set[str]:
    """Every printed form of every number in results (and numbers written inside its strings)."""
    out = set() if out is None else out
    if isinstance(value, dict):
        for v in value.values():
            _allowed_numbers(v, out)
    elif isinstance(value, list):
        for v in value:
            _allowed_numbers(v, out)
    elif isinstance(value, str):
        out.update(NUMBER.findall(value))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out.update({fmt.number(value), fmt.months(value, unit=False), fmt.level_label(value).rstrip("%")})
        out.add(str(fmt.round_half_up(value, 3)))
        if 0 <= value <= 1:
            out.add(fmt.percent_number(value))
    return out


def _numbers(text: str) -> list[str]:
    return NUMBER.findall(text)


@pytest.mark.parametrize("paragraph", PARAGRAPHS, ids=lambda f: f.__name__)
def test_every_number_comes_from_results(results, paragraph):
    text = paragraph(results)
    assert text
    stray = set(_numbers(text)) - _allowed_numbers(results)
    assert not stray, f"numbers not in results: {sorted(stray)}\n{text}"


def test_methods_numbers_come_from_results_or_citations(results):
    text = prose.methods_markdown(results)
    body = text.split("#### References")[0]
    body = re.sub(r"\([A-Z][^()]*\d{4}\)", "", body).replace("SHA-256", "")  # citations, the hash's name
    stray = set(_numbers(body)) - _allowed_numbers(results)
    assert not stray, stray


def test_published_figures_are_stated(results):
    summary = prose.summary_paragraph(results)
    assert "58.5% (95% CI" in summary  # 1-year OS, published 58.5%
    assert "51.4% (95% CI" in summary  # 1-year LFS, published 51.4%
    assert "16/16 (100%; 95% CI, 79.4–100)" in summary  # MRD-negative CR, published 100%
    assert "6/8 (75.0%; 95% CI" in summary  # extramedullary CR, published 75%
    assert "16 patients" in summary


def test_changing_results_changes_the_text(results):
    changed = copy.deepcopy(results)
    os_12 = next(lm for lm in changed["endpoints"]["os"]["landmarks"] if lm["months"] == 12)
    os_12.update(estimate=0.4321, ci_low=0.1234, ci_high=0.6543)
    changed["n_patients"] = 99
    changed["responses"]["emd_cr"].update(responders=5, rate=0.625)
    summary = prose.summary_paragraph(changed)
    assert "1-year overall survival was 43.2% (95% CI, 12.3–65.4)" in summary
    assert "58.5% (95% CI, 26.1–80.7)" not in summary
    assert "99 patients" in summary
    assert "5/8 (62.5%;" in summary
    assert "43.2% (95% CI, 12.3–65.4)" not in prose.survival_paragraph(changed), "stated once, in the summary"


def test_landmark_beyond_follow_up_is_not_estimable(results):
    text = prose.survival_paragraph(results)
    assert "not estimable at 60 months (no patient followed that long)" in text
    assert ") at 60 months" not in text


def test_landmarks_beyond_follow_up_are_said_once():
    """Two landmarks after the last patient's follow-up read "not estimable at 36 months (no patient followed that
    long) and not estimable at 60 months (no patient followed that long)": now one phrase for both."""
    text = prose.survival_paragraph(shipped_results(landmarks_months=[6, 12, 36, 60]))
    assert "not estimable at 36 and 60 months (no patient followed that long)" in text
    assert text.count("no patient followed that long") == 2  # overall and leukemia-free survival: once each


def test_medians_not_reached_and_reached(results):
    assert "Median overall survival was not reached (95% CI," in prose.survival_paragraph(results)
    changed = copy.deepcopy(results)
    changed["endpoints"]["os"].update(median_months=14.25, median_ci_low=8.12, median_ci_high=20.26)
    assert "Median overall survival was 14.3 months (95% CI, 8.1–20.3)." in prose.survival_paragraph(changed)


def test_follow_up_and_competing_risks(results):
    follow = results["follow_up"]
    expected = f"{fmt.months(follow['median_months'])} ({fmt.months_ci(follow['ci_low'], follow['ci_high'])})"
    assert f"At a median follow-up of {expected}" in prose.summary_paragraph(results)
    assert expected not in prose.survival_paragraph(results)
    text = prose.competing_risks_paragraph(results)
    relapse = results["endpoints"]["relapse"]
    assert (
        f"{relapse['events']} relapsed and {relapse['competing_events']} died without prior relapse" in text
    )
    assert "Non-relapse mortality" in text


def test_title_block(results):
    block = prose.title_block({**results, "title": "CD7 CAR-T cohort"})
    assert block.startswith("**CD7 CAR-T cohort**")
    assert f"{results['n_patients']} patients" in block and results["data_file"] in block
    assert not prose.title_block({**results, "title": ""}).startswith("**")


def test_reconstruction_notice(results):
    notice = prose.reconstruction_notice(results)
    assert "reconstruction" in notice and "not patient records" in notice
    records = {"patient records": results["n_patients"], "reconstruction": 0, "synthetic": 0}
    assert prose.reconstruction_notice({**results, "is_reconstruction": False, "data_origin": records}) == ""
    # rows marked as reconstructed are a reconstruction, whatever the file's bytes (another seed, an edited copy)
    assert "not patient records" in prose.reconstruction_notice({**results, "is_reconstruction": False})


def test_subgroup_paragraph(results):
    text = prose.subgroup_paragraph(results)
    for key in ("os", "lfs"):
        assert fmt.p_value(results["subgroups"]["tests"][key]["p_value"]) in text
        assert f"### {results['endpoints'][key]['label']} by diagnosis" in prose.subgroup_paragraph(
            results, key
        )
    heading = prose.subgroup_heading(results)
    assert heading.startswith("## Outcomes by diagnosis") and results["subgroups"]["caution"] in heading
    assert prose.subgroup_paragraph({**results, "subgroups": None}) == ""
    assert prose.subgroup_heading({**results, "subgroups": None}) == "", (
        "a section with nothing to show is left out"
    )


def test_design_paragraph_states_flow_and_intervals(results):
    text = prose.design_paragraph(results)
    flow = results["flow"]
    assert f"Of the {flow['enrolled']} patients enrolled" in text
    interval = results["intervals"][-1]
    assert (
        f"{fmt.number(interval['median_days'])} days (range, {fmt.number(interval['min_days'])}–"
        f"{fmt.number(interval['max_days'])})" in text
    )
    with_exclusion = copy.deepcopy(results)
    with_exclusion["flow"]["excluded"] = [{"reason": "no second HSCT", "n": 2}]
    assert "Patients not analysed for survival: no second HSCT (2)." in prose.design_paragraph(with_exclusion)


def test_methods_markdown(results):
    text = prose.methods_markdown(results)
    for block in results["endpoints"].values():
        assert block["definition"] in text
    for author in (
        "Kaplan EL, Meier P",
        "Greenwood M",
        "Brookmeyer R, Crowley J",
        "Aalen OO, Johansen S",
        "Gray RJ",
        "Clopper CJ, Pearson ES",
        "Schemper M, Smith TL",
    ):
        assert author in text
    assert results["data_sha256"] in text and results["data_file"] in text
    assert "6, 12, 24 and 60 months" in text
    assert "Mantel" not in prose.methods_markdown({**results, "subgroups": None})


def test_ci_level_flows_into_the_text():
    results = shipped_results(ci_level=0.9)
    summary = prose.summary_paragraph(results)
    assert "90% CI" in summary and "95% CI" not in summary


def test_a_count_of_one_is_singular_everywhere():
    """Issue #9: "1 patients". One patient of the shipped cohort (CD7-01: extramedullary disease at baseline, a
    second HSCT, alive at last contact) from the CAR-T infusion: every count printed is 0 or 1."""
    one = shipped_results(subgroup={"patient_id": ["CD7-01"]}, time_origin="cart_infusion")
    text = " ".join(
        [prose.title_block(one), *(paragraph(one) for paragraph in PARAGRAPHS), prose.methods_markdown(one)]
    )
    assert one["n_patients"] == 1
    assert "1 patient" in text
    plural_after_one = re.findall(r"(?<![\d.,])1 (?:patients|deaths|relapses|events|cells|rows)\b", text)
    assert plural_after_one == []


# --- data are text: no value from data, file names or parameters is live markup in the prose ----------------

PROSE = (*PARAGRAPHS, prose.title_block, prose.methods_markdown)


def _with_text(results: dict, value: str) -> dict:
    """``results`` with ``value`` in every string that comes from the data, the file name or a parameter."""
    changed = copy.deepcopy(results)
    changed["title"] = value
    changed["data_file"] = f"{value}.csv"
    changed["data_notes"] = [f"column {value} renamed"]
    changed["time_origin_label"] = value
    for row in changed["baseline"]["rows"]:
        if row["kind"] != "continuous":
            row["level"] = value
    changed["response_counts"] = {
        site: {value: sum(c.values())} for site, c in results["response_counts"].items()
    }
    changed["flow"]["excluded"] = [{"reason": value, "n": 1}]
    changed["subgroups"]["column"] = value
    for group in changed["subgroups"]["groups"]:
        group["value"] = value
    changed["parameters"]["subgroup"] = {value: [value, "T-ALL"]}
    changed["parameters"]["subgroup_by"] = value
    return changed


def _rendered_structure(markdown: str) -> tuple[list[str], list[tuple[str, str | None]]]:
    """Tags and attributes of the Markdown as report.html shows it (nbconvert's converter)."""
    from html.parser import HTMLParser

    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    class Parser(HTMLParser):
        tags: list[str] = []
        attributes: list[tuple[str, str | None]] = []

        def handle_starttag(self, tag, attrs):
            if tag == "a" and ("class", "anchor-link") in attrs:
                return  # the converter's link to a heading (shown or not, as the heading's text allows)
            self.tags.append(tag)
            # a heading's id spells the heading's text (present when the text allows one): not markup
            self.attributes.extend((k, v) for k, v in attrs if not (tag.startswith("h") and k == "id"))

    parser = Parser()
    parser.tags, parser.attributes = [], []
    parser.feed(markdown2html_mistune(markdown))
    return parser.tags, parser.attributes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.one_of(
        st.text(min_size=1, max_size=30).filter(str.strip),
        st.sampled_from(
            [
                "T-LBL<img src=x onerror=alert(1)>",
                "<svg onload=alert(1)>",
                "<script>alert(1)</script>",
                "*T*",
                "[x](javascript:alert(1))",
                "http://evil.example",
                "# h",
                "`x`",
                "a\n\n<b>x</b>",
            ]
        ),
    )
)
def test_text_from_data_never_changes_the_markup(results, value):
    """The prose with hostile text renders to exactly the elements of the prose with plain text."""
    plain, hostile = _with_text(results, "X"), _with_text(results, value)
    for paragraph in PROSE:
        assert _rendered_structure(paragraph(hostile)) == _rendered_structure(paragraph(plain)), (
            paragraph.__name__
        )


def test_a_cohort_of_many_diagnoses_is_summarised_not_listed(results):
    """The summary's first sentence listed every diagnosis: 2,000 for a free-text column. Up to four are listed;
    beyond, the sentence counts them and names the most frequent (Table 1 lists them)."""
    changed = copy.deepcopy(results)
    others = [r for r in changed["baseline"]["rows"] if r["variable"] != "diagnosis"]
    levels = [("T-ALL", 7), ("T-LBL", 4), ("MPAL", 2), ("ETP-ALL", 2), ("NK-LBL", 1)]
    diagnosis = [
        {
            "variable": "diagnosis",
            "label": "Diagnosis",
            "level": level,
            "kind": "count",
            "n": n,
            "percent": n / 16,
            "median": None,
            "min": None,
            "max": None,
            "missing": 0,
        }
        for level, n in levels
    ]
    changed["baseline"]["rows"] = diagnosis + others
    summary = prose.summary_paragraph(changed)
    first = summary.split(". ")[0]
    assert first == "The analysis includes 16 patients with 5 diagnoses, most often T-ALL (7)", first
    changed["baseline"]["rows"] = diagnosis[:4] + others
    first = prose.summary_paragraph(changed).split(". ")[0]
    assert (
        first
        == "The analysis includes 16 patients: 7 with T-ALL, 4 with T-LBL, 2 with MPAL and 2 with ETP-ALL"
    )
    # 19 kept and the rest lumped: the count is of every value, the lumped ones included
    lumped = {**diagnosis[-1], "level": "30 other values", "n": 1, "other_values": 30}
    changed["baseline"]["rows"] = diagnosis[:4] + [lumped] + others
    first = prose.summary_paragraph(changed).split(". ")[0]
    assert first == "The analysis includes 16 patients with 34 diagnoses, most often T-ALL (7)", first
    singles = [{**row, "level": f"D{i}", "n": 1} for i, row in enumerate(diagnosis)]
    changed["baseline"]["rows"] = singles + others
    first = prose.summary_paragraph(changed).split(". ")[0]
    assert first == "The analysis includes 16 patients with 5 diagnoses, each in one patient", first


def test_the_design_never_names_lumped_values_as_a_level(results):
    """Table 1's "k other values" row counts several values: the design's sentence names the most frequent real
    level, even when the lumped row counts more patients."""
    changed = copy.deepcopy(results)
    row = {
        "variable": "donor_type",
        "label": "Donor of the second HSCT",
        "kind": "count",
        "percent": 0.5,
        "median": None,
        "min": None,
        "max": None,
        "missing": 0,
    }
    changed["baseline"]["rows"] = [
        r for r in changed["baseline"]["rows"] if r["variable"] != "donor_type"
    ] + [
        {**row, "level": "haploidentical", "n": 3},
        {**row, "level": "25 other values", "n": 13, "other_values": 25},
    ]
    text = prose.design_paragraph(changed)
    assert "Donor of the second HSCT was haploidentical in 3 patients" in text, text
    assert "other values in" not in text


def test_markup_in_a_diagnosis_is_shown_as_written(results):
    text = prose.summary_paragraph(_with_text(results, "*T*<img src=x>"))
    html = __import__("nbconvert").filters.markdown_mistune.markdown2html_mistune(text)
    assert "*T*&lt;img src=x&gt;" in html and "<img" not in html and "<em>" not in html


# --- register: the summary summarises, sections add detail, methods once, figures referred to ----------------
ESTIMATE = re.compile(r"(?:\d[\d.]*%|\d+/\d+) \([^()]*CI, [^()]*\)")


def test_the_summary_numbers_are_not_repeated_in_the_sections(results):
    summary = prose.summary_paragraph(results)
    stated = set(ESTIMATE.findall(summary))
    assert len(stated) >= 6, summary  # two response rates, OS, LFS, relapse, NRM
    for paragraph in (prose.survival_paragraph, prose.competing_risks_paragraph, prose.responses_paragraph):
        repeated = stated & set(ESTIMATE.findall(paragraph(results)))
        assert not repeated, (paragraph.__name__, repeated)


def test_sections_state_no_method_and_no_machinery(results):
    text = " ".join(p(results) for p in PARAGRAPHS)
    for word in ("Method:", "Kaplan–Meier", "Aalen–Johansen", "Clopper", "results.json", "subgroup_by", "`"):
        assert word not in text, word
    assert "nothing was normalised" not in prose.methods_markdown(results)


def test_the_target_register_of_the_issue(results):
    """Issue #10's example sentence, built from the shipped study (its numbers are the published 58.5% and 51.4%)."""
    summary = prose.summary_paragraph(results)
    assert re.search(
        r"At a median follow-up of [\d.]+ months \(95% CI, [\d.]+–[\d.]+\) from the second allogeneic HSCT, "
        r"1-year overall survival was 58\.5% \(95% CI, [\d.]+–[\d.]+\) and leukemia-free survival 51\.4% "
        r"\(95% CI, [\d.]+–[\d.]+\)\.",
        summary,
    ), summary


def test_sections_refer_to_their_figures_by_number(results):
    from cartreport.report import numbering

    numbering.reset()
    design = prose.design_paragraph(results)
    assert "(Figure 1)" in design and "(Figure 2)" in design
    assert numbering.current().numbered("figure") == {"treatment_sequence": 1, "patient_flow": 2}
    assert f"({numbering.figure('km_os_lfs')})" in prose.survival_paragraph(results)
    numbering.reset()


def test_published_differences_are_explained_by_the_cutoff_only_when_there_is_one():
    assert "explains" not in prose.published_intro(shipped_results())
    text = prose.published_intro(shipped_results(data_cutoff="2022-06-30"))
    assert "data cut-off of 30 Jun 2022" in text and "explains any difference" in text


def test_a_landmark_equal_to_the_summarys_names_the_estimate_it_equals(results):
    """Read as a writer would: "Overall survival was 86.7% at 6 months and unchanged from 12 to 24 months" hid
    that the 12-month value (58.5%, stated in the summary) is not the 6-month one. On the shipped study OS and LFS
    stay at their 1-year values through 24 months (R survfit: no event between 12 and 24 months)."""
    text = prose.survival_paragraph(results)
    assert "unchanged from 12 to 24 months" not in text
    assert text.count("unchanged at 24 months from the 1-year estimate") == 2


def _assert_events_read(results: dict, counts: dict, survival: str, competing: str) -> None:
    """The survival and competing-risks paragraphs of ``results`` with its event counts set to ``counts`` open with
    ``survival`` and ``competing``."""
    changed = copy.deepcopy(results)
    ends = changed["endpoints"]
    ends["os"]["events"], ends["lfs"]["events"] = counts["os"], counts["lfs"]
    ends["relapse"]["events"], ends["relapse"]["competing_events"] = (
        counts["relapse"],
        counts["nrm_competing"],
    )
    assert str(prose.survival_paragraph(changed)).startswith(survival + " (Figure")
    assert str(prose.competing_risks_paragraph(changed)).startswith(competing + " (Figure")


@pytest.mark.parametrize(
    ("counts", "survival", "competing"),
    [
        (
            {"os": 0, "lfs": 0, "relapse": 0, "nrm_competing": 0},
            "Among 16 patients, no deaths and no events of relapse or death occurred",
            "Among 16 patients, none relapsed or died without prior relapse",
        ),
        (
            {"os": 1, "lfs": 2, "relapse": 2, "nrm_competing": 0},
            "Among 16 patients, 1 death and 2 events of relapse or death occurred",
            "Among 16 patients, 2 relapsed and none died without prior relapse",
        ),
        (
            {"os": 3, "lfs": 3, "relapse": 0, "nrm_competing": 3},
            "Among 16 patients, 3 deaths and 3 events of relapse or death occurred",
            "Among 16 patients, none relapsed and 3 died without prior relapse",
        ),
    ],
)
def test_counts_of_zero_read_as_words(counts, survival, competing):
    """An early cohort with no event read "Among 16 patients, 0 deaths and 0 events of relapse or death occurred"
    and "0 relapsed and 0 died without prior relapse"."""
    _assert_events_read(shipped_results(), counts, survival, competing)


def test_subgroups_of_another_column_read_as_words_not_as_a_column_name():
    """With ``subgroup_by donor_type`` the report said "Small numbers by donor_type" and "among the 13 patients with
    haploidentical": words fit only for the diagnosis. A contract column is named as Table 1 names it (lower case);
    a group is "the patients whose <name> was <value>"; the diagnosis keeps "the patients with T-ALL"."""
    from cartreport.report import captions, methods

    results = shipped_results(subgroup_by="donor_type")
    sub = results["subgroups"]
    heading = str(prose.subgroup_heading(results))
    assert heading.startswith("## Outcomes by donor of the second HSCT")
    # a zero count in words, as everywhere in the prose
    assert (
        "Small numbers by donor of the second HSCT: matched unrelated has 3 patients and no deaths;"
        in heading
    )
    assert methods.small_numbers_caution(sub).startswith("Small numbers by donor of the second HSCT:")
    paragraph = str(prose.subgroup_paragraph(results, "os"))
    assert paragraph.startswith("### Overall survival by donor of the second HSCT")
    assert "among the 13 patients whose donor of the second HSCT was haploidentical" in paragraph, paragraph
    caption = captions.figure("os_by_subgroup", results)
    assert caption.title == "Overall survival by donor of the second HSCT"
    assert "donor_type" not in caption.legend + caption.alt + heading + paragraph
    # a column of the user's own is named as written
    own = copy.deepcopy(results)
    own["subgroups"]["column"] = "site"
    assert str(prose.subgroup_heading(own)).startswith("## Outcomes by site")
    assert "whose site was haploidentical" in str(prose.subgroup_paragraph(own, "os"))


def test_a_cohort_partly_marked_synthetic_says_how_many_rows_are_not_patient_records(results):
    """Rows of ``synthesize`` output appended to patient records (to try a subgroup, say) left no trace in the
    report. The notice counts the patients whose rows are not patient records, by origin."""
    mixed = {
        **results,
        "is_reconstruction": False,
        "n_patients": 12,
        "data_origin": {"patient records": 9, "reconstruction": 1, "synthetic": 2},
    }
    notice = str(prose.reconstruction_notice(mixed))
    assert "Not all rows are patient records" in notice
    assert "3 of 12 patients made up by cartreport (1 reconstructed and 2 synthetic" in notice
    records = {**mixed, "data_origin": {"patient records": 12, "reconstruction": 0, "synthetic": 0}}
    assert prose.reconstruction_notice(records) == ""


# --- tiny cohorts: the words a medical writer would use for 1, 2 or 3 patients ------------------------------


def first_patients(tmp_path: Path, n: int) -> Path:
    """A cohort of the shipped study's first ``n`` patients (the header and ``n`` rows)."""
    lines = (DATA / "ash2023_cd7_cart_cohort.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / f"first_{n}.csv"
    path.write_text("\n".join(lines[: n + 1]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def one(tmp_path_factory) -> dict:
    """A cohort of one patient (CD7-01: extramedullary disease at baseline and CR of it, a second HSCT, alive
    without relapse at last contact)."""
    return shipped_results(data=str(first_patients(tmp_path_factory.mktemp("one"), 1)))


def test_a_cohort_of_one_is_the_one_patient_in_the_design(one):
    """Read "Of the 1 patient enrolled, 1 received the CAR-T infusion." and "reached by 1 of 1 evaluable
    patients"."""
    text = str(prose.design_paragraph(one))
    assert "The one patient enrolled received the CAR-T infusion." in text, text
    assert "Of the 1 patient" not in text
    assert "was reached by 1 of 1 evaluable patient." in text, text


def test_nobody_evaluable_or_transplanted_is_said_in_words(results):
    """Read "was reached by 0 of 0 evaluable patients" and "A second allogeneic HSCT followed in 0 patients"."""
    changed = copy.deepcopy(results)
    changed["flow"].update(bm_evaluable=0, bm_mrd_negative_cr=0, transplanted=0)
    text = str(prose.design_paragraph(changed))
    assert "No patient was evaluable for bone-marrow response." in text, text
    assert "No patient had a second allogeneic HSCT, and 16 were analysed for survival (Figure" in text, text
    assert "0 of 0" not in text and "0 patients" not in text


def test_a_group_of_one_is_the_one_patient_not_among_1_patient(results):
    """Read "Among the 1 patient with extramedullary disease before CAR-T, the best extramedullary response was
    CR in 1." and, by subgroup, "among the 1 patient with T-LBL"."""
    changed = copy.deepcopy(results)
    changed["response_counts"]["emd"] = {"CR": 1, "PR": 0, "SD": 0, "PD": 0, "NE": 0}
    text = str(prose.responses_paragraph(changed))
    assert (
        "In the one patient with extramedullary disease before CAR-T, the best extramedullary response was CR."
        in text
    ), text
    changed["subgroups"]["groups"][1]["n"] = 1
    text = str(prose.subgroup_paragraph(changed, "os"))
    assert "in the one patient with T-LBL (" in text, text
    assert "among the 1 patient" not in text
    # more than one keeps "among"
    assert "among the 11 patients with T-ALL" in text


@pytest.mark.parametrize(
    ("counts", "survival", "competing"),
    [
        (
            {"os": 0, "lfs": 0, "relapse": 0, "nrm_competing": 0},
            "The one patient was alive without relapse at last contact",
            "The one patient neither relapsed nor died",
        ),
        (
            {"os": 0, "lfs": 1, "relapse": 1, "nrm_competing": 0},
            "The one patient relapsed and was alive at last contact",
            "The one patient relapsed",
        ),
        (
            {"os": 1, "lfs": 1, "relapse": 0, "nrm_competing": 1},
            "The one patient died",
            "The one patient died without prior relapse",
        ),
    ],
)
def test_the_events_of_one_patient_are_what_happened_to_the_patient(one, counts, survival, competing):
    """Read "Among 1 patient, no deaths and no events of relapse or death occurred" and "Among 1 patient, none
    relapsed or died without prior relapse"."""
    _assert_events_read(one, counts, survival, competing)


def test_one_value_is_no_median_and_no_range(one, results):
    """Read "The median time from first HSCT to relapse was 531 days (range, 531–531)." and "The median age at
    CAR-T infusion was 28 years (range, 28–28)." for one patient; equal values of several patients read the same."""
    text = str(prose.design_paragraph(one))
    interval = one["intervals"][0]
    assert f"The time from first HSCT to relapse was {fmt.number(interval['median_days'])} days." in text, (
        text
    )
    age = next(r for r in one["baseline"]["rows"] if r["variable"] == "age_years")
    assert f"The age at CAR-T infusion was {fmt.number(age['median'])} years." in text, text
    assert "median" not in text and "range" not in text
    changed = copy.deepcopy(results)
    same = changed["intervals"][-1]
    same.update(n=2, median_days=31, min_days=31, max_days=31)
    text = str(prose.design_paragraph(changed))
    assert (
        "The time from CD7 CAR-T infusion to second HSCT was 31 days in both patients with both dates" in text
    )
    same.update(n=16)
    text = str(prose.design_paragraph(changed))
    assert "The time from CD7 CAR-T infusion to second HSCT was 31 days in all 16 patients (Figure" in text, (
        text
    )
    same.update(n=1)
    text = str(prose.design_paragraph(changed))
    assert "second HSCT was 31 days in the one patient with both dates (Figure" in text, text


def test_follow_up_of_one_patient_and_follow_up_not_estimable(one, results):
    """Read "At a median follow-up of 29.3 months (95% CI, not estimable)" for one patient, "At a median follow-up of
    not estimable (95% CI, not estimable) from …" when every patient died, and the fragment "At a median follow-up
    of 0.5 months (95% CI, not estimable) from the second allogeneic HSCT." when no landmark was estimable."""
    follow = one["follow_up"]
    summary = str(prose.summary_paragraph(one))
    assert (
        f"At a follow-up of {fmt.months(follow['median_months'])} from the second allogeneic HSCT, 1-year overall "
        in summary
    ), summary
    changed = copy.deepcopy(results)
    changed["follow_up"].update(median_months=None, ci_low=None, ci_high=None)
    summary = str(prose.summary_paragraph(changed))
    assert (
        "The median follow-up from the second allogeneic HSCT was not estimable. 1-year overall survival"
        in summary
    )
    assert "follow-up of not estimable" not in summary
    for block in changed["endpoints"].values():
        for lm in block["landmarks"]:
            lm.update(estimate=None, ci_low=None, ci_high=None)
    changed["follow_up"].update(median_months=0.5, ci_low=None, ci_high=None)
    summary = str(prose.summary_paragraph(changed))
    assert (
        "The median follow-up from the second allogeneic HSCT was 0.5 months (95% CI, not estimable)."
        in summary
    )
    assert "At a" not in summary


def test_a_cohort_of_one_diagnosis_names_it_once(one, results):
    """Read "The analysis includes 1 patient: 1 with T-ALL." and "The analysis includes 3 patients: 3 with T-ALL."."""
    assert str(prose.summary_paragraph(one)).startswith("The analysis includes 1 patient with T-ALL.")
    changed = copy.deepcopy(results)
    changed["baseline"]["rows"] = [
        {**r, "n": 16, "percent": 1.0}
        for r in changed["baseline"]["rows"]
        if r["variable"] != "diagnosis" or r["level"] == "T-ALL"
    ]
    assert str(prose.summary_paragraph(changed)).startswith("The analysis includes 16 patients with T-ALL.")


def test_a_characteristic_nobody_had_is_not_named_by_its_level(results):
    """Without extramedullary disease in any patient the design read "Extramedullary disease before CAR-T was no
    in 3 patients (100%).": the level "no" read as a word of the sentence."""
    changed = copy.deepcopy(results)
    changed["baseline"]["rows"] = [
        {**r, "n": 16, "percent": 1.0}
        for r in changed["baseline"]["rows"]
        if r["variable"] != "emd_at_baseline" or r["level"] == "no"
    ]
    text = str(prose.design_paragraph(changed))
    assert "Extramedullary disease before CAR-T was present in no patient." in text, text
    assert "was no in" not in text


def _landmarks(results: dict, key: str, values: dict) -> dict:
    """``results`` with the landmarks of ``key`` set to ``{months: (estimate, low, high)}``."""
    changed = copy.deepcopy(results)
    for lm in changed["endpoints"][key]["landmarks"]:
        lm["estimate"], lm["ci_low"], lm["ci_high"] = values[lm["months"]]
    return changed


def test_a_flat_curve_is_one_value_over_its_landmarks(results):
    """A curve without events read "Overall survival was 100% (95% CI, not estimable) at 6 months, unchanged from 6
    to 12 months and unchanged at 24 months from the 1-year estimate."; equal values whose intervals print the same
    but are stored differently (1–1 and none) read "… unchanged from 6 to 12 months and 100% (95% CI, not
    estimable) at 24 months"."""
    flat = _landmarks(
        results, "os", {6: (1.0, None, None), 12: (1.0, None, None), 24: (1.0, 1.0, 1.0), 60: (None,) * 3}
    )
    text = str(prose.survival_paragraph(flat))
    assert (
        "Overall survival was 100% (95% CI, not estimable) from 6 to 24 months and not estimable at 60 months "
        "(no patient followed that long)." in text
    ), text
    later = _landmarks(
        results, "os", {6: (1.0, None, None), 12: (1.0, None, None), 24: (0.5, 0.1, 0.8), 60: (None,) * 3}
    )
    text = str(prose.survival_paragraph(later))
    assert (
        "Overall survival was 100% (95% CI, not estimable) from 6 to 12 months, 50.0% (95% CI, 10.0–80.0) at 24 "
        "months and not estimable at 60 months" in text
    ), text
    # the shipped study: the 1-year value, stated in the summary, is named rather than repeated
    assert (
        "Overall survival was 86.7% (95% CI, 56.4–96.5) at 6 months, unchanged at 24 months from the 1-year "
        "estimate and not estimable at 60 months" in str(prose.survival_paragraph(results))
    )


def test_a_test_without_a_p_value_is_said_to_be_not_computable(results):
    """Groups without events read "Gray's test gave p not estimable."."""
    changed = copy.deepcopy(results)
    changed["subgroups"]["tests"]["relapse"]["p_value"] = None
    text = str(prose.subgroup_paragraph(changed, "relapse"))
    assert "Gray's test could not be computed (Figure" in text, text
    assert "gave p not estimable" not in text


def test_patients_outside_a_subgroup_are_not_said_to_be_untreated():
    """With a subgroup the design read "Of the 16 patients enrolled, 5 received the CAR-T infusion": false, every
    patient of the file was infused; 11 were outside the subgroup (noticed by the small-cohort helper). The expected
    counts are read from the shipped file with pandas here, not by cartreport."""
    import pandas as pd

    from cartreport.cohorts.reconstruct import COHORT_FILE

    table = pd.read_csv(COHORT_FILE, parse_dates=["cart_infusion_date"])
    lbl = table[table["diagnosis"] == "T-LBL"]
    by_2022 = int((lbl["cart_infusion_date"] <= "2022-06-30").sum())
    by_2021 = int((table["cart_infusion_date"] <= "2021-06-30").sum())
    assert len(table) == 16 and len(lbl) == 5 and 0 < by_2022 < 5 and 0 < by_2021 < 16
    cases = [
        (
            {"subgroup": {"diagnosis": ["T-LBL"]}},
            "Of the 16 patients enrolled, 5 were in the selected subgroup (diagnosis in T-LBL).",
        ),
        (
            {"subgroup": {"diagnosis": ["T-LBL"]}, "data_cutoff": "2022-06-30"},
            f"Of the 16 patients enrolled, 5 were in the selected subgroup (diagnosis in T-LBL), of whom {by_2022} "
            "received the CAR-T infusion by the data cut-off of 30 Jun 2022.",
        ),
        (
            {"data_cutoff": "2021-06-30"},
            f"Of the 16 patients enrolled, {by_2021} received the CAR-T infusion by the data cut-off of 30 Jun 2021.",
        ),
    ]
    for parameters, sentence in cases:
        assert sentence in str(prose.design_paragraph(load_analysis(**parameters).results)), parameters


def test_published_differences_are_explained_by_a_time_origin_other_than_the_published_one():
    """From the CAR-T infusion the table said the 12-month OS and LFS did not match the published figures, and
    the sentence above it explained nothing: the published survival is timed from the second HSCT (the
    reconstruction reproduces it from there), so a report timed from the infusion says so."""
    text = prose.published_intro(shipped_results(time_origin="cart_infusion"))
    assert (
        "This report times survival from the CD7 CAR-T infusion" in text and "explains any difference" in text
    )
    assert "whereas the published survival is timed from the second allogeneic HSCT" in text
    assert "times survival" not in prose.published_intro(shipped_results())


def test_a_characteristic_not_over_every_patient_names_its_denominator():
    """At the cut-off of 30 Jun 2022 the design paragraph of an 11-patient report said "Donor of the second HSCT
    was haploidentical in 8 patients (80.0%)": 8 of 11 is 72.7%; 80.0% is over the 10 patients with a second HSCT,
    and the sentence must say so, as "Sex was male in 8 patients (72.7%)" is over all 11."""
    cutoff = pd.Timestamp("2022-06-30")
    raw = pd.read_csv(
        DATA / "ash2023_cd7_cart_cohort.csv", parse_dates=["cart_infusion_date", "second_hsct_date"]
    )
    infused = raw[raw["cart_infusion_date"] <= cutoff]
    transplanted = infused[infused["second_hsct_date"] <= cutoff]
    haplo = int((transplanted["donor_type"] == "haploidentical").sum())
    male = int((infused["sex"] == "male").sum())
    text = prose.design_paragraph(shipped_results(data_cutoff="2022-06-30"))
    assert (
        f"Donor of the second HSCT was haploidentical in {haplo} of the {len(transplanted)} patients with a second "
        f"HSCT ({fmt.percent(haplo / len(transplanted))})"
    ) in text, text
    assert f"Sex was male in {male} patients ({fmt.percent(male / len(infused))})" in text, text


def test_the_survival_population_is_named_where_it_is_smaller_than_the_reports():
    """At the cut-off of 30 Jun 2022 the summary said "The analysis includes 11 patients" and then gave 1-year
    survival over the 10 patients with a second HSCT by the cut-off, while the design paragraph and the flow
    diagram said "10 were analysed" / "Analysed n = 10". The 10 are the patients analysed for survival, and the
    summary's survival sentence says over how many patients it is."""
    cutoff = pd.Timestamp("2022-06-30")
    raw = pd.read_csv(
        DATA / "ash2023_cd7_cart_cohort.csv", parse_dates=["cart_infusion_date", "second_hsct_date"]
    )
    infused = raw[raw["cart_infusion_date"] <= cutoff]
    transplanted = int((infused["second_hsct_date"] <= cutoff).sum())
    results = shipped_results(data_cutoff="2022-06-30")
    summary = str(prose.summary_paragraph(results))
    assert f"The analysis includes {len(infused)} patients" in summary, summary
    assert (
        f"from the second allogeneic HSCT ({transplanted} patients analysed), 1-year overall survival"
        in summary
    )
    design = str(prose.design_paragraph(results))
    assert f"and {transplanted} were analysed for survival (Figure" in design, design
    # the patient without a second HSCT is in every count but survival's: "not analysed" said too much
    assert "Patients not analysed for survival: " in design, design
    assert f"no second HSCT ({len(infused) - transplanted})." in design, design
    assert "patients analysed)" not in str(prose.summary_paragraph(shipped_results()))


def test_patients_transplanted_without_cr_are_named_in_the_design_and_the_flow_alt_text(tmp_path):
    """The design said "A second allogeneic HSCT followed in 15 patients" after "reached by 14 of 15": whether a
    non-responder was among them was nowhere but in the data. Prose and the diagram's alternative text say it."""
    import pandas as pd

    from cartreport.cohorts.reconstruct import COHORT_FILE
    from cartreport.report import captions

    table = pd.read_csv(COHORT_FILE, dtype=str, keep_default_na=False)
    table.loc[2, "bm_response"] = "NR"
    table.to_csv(tmp_path / "cohort.csv", index=False)
    results = load_analysis(data=str(tmp_path / "cohort.csv")).results
    assert "A second allogeneic HSCT followed in 16 patients (1 without bone-marrow CR)" in str(
        prose.design_paragraph(results)
    )
    assert (
        "Second allogeneic HSCT: 16 (1 without bone-marrow CR)"
        in captions.figure("patient_flow", results).alt
    )


@pytest.mark.parametrize("relapsed", [False, True])
def test_one_patients_survival_is_when_things_happened_not_a_median(relapsed, tmp_path):
    """For one patient who died the survival paragraph read "The one patient died" and then "Median overall survival
    was 29.3 months (95% CI, not estimable)": a median of one patient is the time of the event. The paragraph says
    when it happened, after which origin; the times are computed here with pandas from the file's dates."""
    import pandas as pd

    from cartreport.cohorts.reconstruct import COHORT_FILE

    table = pd.read_csv(COHORT_FILE, dtype=str, keep_default_na=False)
    row = table[(table["death_date"] != "") & ((table["relapse_date"] != "") == relapsed)].head(1)
    row.to_csv(tmp_path / "one.csv", index=False)
    dates = pd.to_datetime(row.iloc[0][["second_hsct_date", "relapse_date", "death_date"]].replace("", None))
    months = lambda end: f"{(dates[end] - dates['second_hsct_date']).days / 30.4375:.1f}"  # noqa: E731
    text = str(prose.survival_paragraph(load_analysis(data=str(tmp_path / "one.csv")).results))
    if relapsed:
        expected = (
            f"The one patient relapsed {months('relapse_date')} months and died {months('death_date')} months"
        )
    else:
        expected = f"The one patient died {months('death_date')} months"
    assert text.startswith(f"{expected} after the second allogeneic HSCT (Figure"), text
    assert "Median" not in text and "(Tables" in text  # the tables are still cited
