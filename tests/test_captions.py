"""Captions read like journal legends, say what the bands and marks mean, and state only computed numbers."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from PIL import Image  # noqa: E402

from cartreport import formatting as fmt  # noqa: E402
from cartreport.api import load_analysis  # noqa: E402
from cartreport.report import captions, figures, numbering  # noqa: E402
from cartreport.report import notebook as nb  # noqa: E402

#: a number standing alone (not part of a word such as CD7 or of a hash)
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")
FIGURES = (
    "treatment_sequence",
    "patient_flow",
    "swimmer",
    "response_rates",
    "km_os_lfs",
    "cif_relapse_nrm",
    "state_stack",
    "os_by_subgroup",
    "lfs_by_subgroup",
    "relapse_by_subgroup",
    "nrm_by_subgroup",
)


@pytest.fixture(scope="module")
def results() -> dict:
    return load_analysis(subgroup_by="diagnosis").results


@pytest.fixture(autouse=True)
def _fresh_numbers():
    numbering.reset()
    yield
    numbering.reset()


def _allowed(value: object, out: set[str]) -> set[str]:
    """Every printed form of every number in results (and numbers written inside its strings)."""
    if isinstance(value, dict):
        for v in value.values():
            _allowed(v, out)
    elif isinstance(value, list):
        for v in value:
            _allowed(v, out)
    elif isinstance(value, str):
        out.update(NUMBER.findall(value))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out.update({fmt.number(value), fmt.months(value, unit=False), fmt.level_label(value).rstrip("%")})
        out.add(str(fmt.round_half_up(value, 3)))
        if 0 <= value <= 1:
            out.add(fmt.percent_number(value))
    return out


def test_every_number_in_a_caption_comes_from_results(results):
    allowed = _allowed(results, set())
    differences = {  # steps between consecutive risk-table months (the tick step is said in the legend)
        fmt.number(b["months"] - a["months"])
        for block in results["endpoints"].values()
        for a, b in zip(block["risk_table"], block["risk_table"][1:], strict=False)
    }
    for name in FIGURES:
        caption = captions.figure(name, results)
        for text in (caption.title, caption.legend, caption.alt):
            text = re.sub(r"Figure \d+", "Figure", text)  # cross-references: numbering, tested separately
            typed = [n for n in NUMBER.findall(text) if n not in allowed | differences]
            assert not typed, (name, typed, text)


def test_captions_explain_bands_marks_and_method(results):
    km = captions.figure("km_os_lfs", results)
    assert "Kaplan–Meier" in km.legend and "confidence interval" in km.legend and "censored" in km.legend
    assert f"{fmt.level_label(results['parameters']['ci_level'])} confidence" in km.legend
    assert results["parameters"]["ci_method"] in km.legend
    assert "landmarks at 6, 12 and 24 months" in km.legend
    cif = captions.figure("cif_relapse_nrm", results)
    assert "Aalen–Johansen" in cif.legend and "competing risks" in cif.legend
    test = results["subgroups"]["tests"]["os"]
    assert fmt.p_value(test["p_value"]) in captions.figure("os_by_subgroup", results).legend
    assert "Clopper–Pearson" in captions.figure("response_rates", results).legend


def test_alt_texts_are_specific_and_distinct(results):
    alts = [captions.figure(name, results).alt for name in FIGURES]
    assert len(set(alts)) == len(alts)
    assert all(len(alt) > 40 and not alt.startswith("Figure") for alt in alts)
    assert "T-ALL" in captions.figure("os_by_subgroup", results).alt


def test_subgroup_captions_only_with_subgroups():
    assert captions.figure("os_by_subgroup", load_analysis().results) is None


def test_state_stack_refers_to_the_number_of_the_incidence_figure(results):
    assert numbering.figure("km_os_lfs") == "Figure 1"
    assert numbering.figure("cif_relapse_nrm") == "Figure 2"
    assert "estimates of Figure 2" in captions.figure("state_stack", results).legend


# ------------------------------------------------------------------------------------- shown in a notebook
@pytest.fixture
def shown(monkeypatch):
    """What ``display`` receives: (data, metadata) pairs."""
    calls = []

    def fake_display(obj, metadata=None):
        calls.append((obj, metadata or {}))

    monkeypatch.setattr(nb, "display", fake_display)
    InteractiveShell.clear_instance()
    return calls


def test_show_figure_numbers_escapes_and_embeds_a_png_at_twice_its_display_size(shown, results, tmp_path):
    figures.theme()
    caption = captions.Caption("A <b>title</b>", "Legend & <script>alert(1)</script>", 'Alt "quoted" <i>')
    nb.show_figure(
        figures.plot_responses(results["responses"]), "response_rates", str(tmp_path), caption=caption
    )
    nb.show_figure(None, "nothing", str(tmp_path))  # a figure that does not apply takes no number
    nb.show_figure(figures.plot_flow(results["flow"]), "patient_flow", "", caption=caption)
    (first, meta), (second, _) = shown
    page = first.data
    assert "<script>" not in page and "&lt;script&gt;" in page and "<b>title" not in page
    assert '<span class="cr-label">Figure 1.</span>' in page and "Figure 2." in second.data
    alt = re.search(r'alt="([^"]*)"', page).group(1)
    assert html.unescape(alt) == 'Alt "quoted" <i>'
    width = int(re.search(r'width="(\d+)"', page).group(1))
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1))
    with Image.open(__import__("io").BytesIO(png)) as image:
        assert abs(image.width - nb.SCREEN_DENSITY * width) <= 2
    assert meta["cartreport"]["label"] == "Figure 1" and meta["cartreport"]["kind"] == "figure"
    assert {p.suffix for p in (tmp_path / "figures").iterdir()} == {".png", ".svg", ".pdf"}


def test_show_table_numbers_the_title_and_carries_the_cells(shown, results, tmp_path):
    from cartreport.report import tables

    nb.show_table(tables.landmark_table(results), "landmarks", str(tmp_path))
    nb.show_table(
        tables.subgroup_table(load_analysis().results), "subgroups", str(tmp_path)
    )  # empty: no number
    nb.show_table(tables.median_table(results), "medians", str(tmp_path))
    (first, meta), (second, _) = shown
    assert "Table 1. Landmark estimates" in first.data and "Table 2. Median survival" in second.data
    frame = tables.landmark_table(results)
    assert meta["cartreport"]["columns"] == list(frame.columns)
    assert len(meta["cartreport"]["rows"]) == len(frame)


TRANSPLANT_FIGURES = (
    "crs_icans_grades",
    "cif_engraftment",
    "cif_acute_gvhd",
    "cif_chronic_gvhd",
    "km_grfs_os_lfs",
)


def test_transplant_figures_have_legends_and_specific_alt_texts_from_results():
    """Issue #10: the safety and transplant figures had no legend and a generic alt text."""
    ties = load_analysis(data=str(Path(__file__).parent / "data" / "transplant_ties.csv")).results
    allowed = _allowed(ties, set())
    found = [captions.figure(name, ties) for name in TRANSPLANT_FIGURES]
    assert all(found)
    for name, caption in zip(TRANSPLANT_FIGURES, found, strict=True):
        for text in (caption.title, caption.legend, caption.alt):
            typed = [n for n in NUMBER.findall(text) if n not in allowed]
            assert not typed, (name, typed, text)
    alts = [c.alt for c in found]
    assert len(set(alts)) == len(alts) and all(len(alt) > 40 for alt in alts)
    assert "Aalen–Johansen" in found[1].legend and "Kaplan–Meier" in found[-1].legend
    assert "ASTCT" in found[0].legend
    assert all(captions.figure(name, load_analysis().results) is None for name in TRANSPLANT_FIGURES)


def test_counts_of_zero_in_legends_read_as_in_the_prose():
    """A cohort without events had Figure 4 read "(0 deaths; 0 events of relapse or death)" and Figure 5 "relapse
    (0 relapses) and death without relapse (0 deaths)" where the prose writes "no deaths"; a transplant legend
    "acute GVHD grade III–IV: 0 events". A zero count is a word in legends too."""
    import copy

    results = copy.deepcopy(load_analysis().results)
    for key in ("os", "lfs", "relapse", "nrm"):
        results["endpoints"][key]["events"] = 0
    km = captions.figure("km_os_lfs", results).legend
    assert "for 16 patients from the second allogeneic HSCT (no deaths; no events of relapse or death)." in km
    cif = captions.figure("cif_relapse_nrm", results).legend
    assert "with relapse (no relapses) and death without relapse (no deaths) as competing risks" in cif
    ties = load_analysis(data=str(Path(__file__).parent / "data" / "transplant_ties.csv")).results
    ties = copy.deepcopy(ties)
    ties["endpoints"]["agvhd_3_4"]["events"] = 0
    legend = captions.figure("cif_acute_gvhd", ties).legend
    assert "acute GVHD grade III–IV: no events)" in legend, legend


def test_a_tick_step_of_one_month_is_every_month():
    """A short follow-up drew ticks a month apart and the legend said "every 1 months"."""
    import copy

    results = copy.deepcopy(load_analysis().results)
    block = results["endpoints"]["os"]
    block["risk_table"] = [{**row, "months": i} for i, row in enumerate(block["risk_table"])]
    legend = captions.figure("km_os_lfs", results).legend
    assert "at each tick of the time axis, every month." in legend, legend


@pytest.mark.parametrize(
    ("origin", "named"), [("second_hsct", "second allogeneic HSCT"), ("cart_infusion", "CD7 CAR-T infusion")]
)
def test_legends_name_the_time_origin_as_the_prose_does(origin, named):
    """The summary says "from the second allogeneic HSCT" and the transplant legends "from the second allogeneic
    HSCT", but the survival legends read "for 16 patients from second allogeneic HSCT" and "since CD7 CAR-T
    infusion"."""
    results = load_analysis(time_origin=origin).results
    for name in ("km_os_lfs", "cif_relapse_nrm", "state_stack"):
        caption = captions.figure(name, results)
        for text in (caption.legend, caption.alt):
            assert re.search(rf"(from|since) {re.escape(named)}", text) is None, text
            assert f"the {named}" in text, text


def test_the_flows_last_box_is_the_survival_population():
    """ "Analysed n = 10" under a summary saying "The analysis includes 11 patients" (cut-off 30 Jun 2022): the
    responses are analysed in all 11 infused patients; the last box is the patients analysed for survival."""
    results = load_analysis(data_cutoff="2022-06-30").results
    assert dict(captions.FLOW_STEPS)["analysed"] == "Analysed for survival"
    alt = captions.figure("patient_flow", results).alt
    assert f"Analysed for survival: {results['flow']['analysed']}." in alt, alt
    infusion = load_analysis(time_origin="cart_infusion").results
    alt = captions.figure("patient_flow", infusion).alt  # as the box of the diagram names it
    assert "Analysed for survival from the CAR-T infusion (transplanted or not): 16." in alt, alt


@pytest.mark.parametrize(
    ("name", "where"),
    [  # the landmark days of the README's section on safety and transplant outcomes, in the axis's unit
        ("cif_engraftment", "days 28 and 100"),
        ("cif_acute_gvhd", "days 100 and 180"),
        ("cif_chronic_gvhd", "1 and 2 years (days 365 and 730)"),
        ("km_grfs_os_lfs", "1 and 2 years (days 365 and 730)"),
    ],
)
def test_transplant_legends_explain_the_dotted_landmark_lines(name, where):
    """The transplant figures draw dotted vertical lines at their landmark days, and their legends did not say
    what the lines are (the survival legends do: "Dotted vertical lines: the landmarks at 6, 12 and 24 months").
    On an axis in months (chronic GVHD, GRFS) "days 365 and 730" left the reader to find lines near 12 and 24: the
    legend names them in years first."""
    from cartreport.report.figures.transplant import transplant_figure

    analysis = load_analysis(data=str(Path(__file__).parent / "data" / "transplant_ties.csv"))
    legend = captions.figure(name, analysis.results).legend
    assert f"Dotted vertical lines: the landmarks at {where}." in legend, legend
    groups = {"cif_engraftment": "engraftment", "cif_acute_gvhd": "agvhd", "cif_chronic_gvhd": "cgvhd"}
    fig = transplant_figure(analysis, groups.get(name, "grfs"))
    dotted = [line for ax in fig.axes for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert len(dotted) == 2  # what the legend explains is drawn
    matplotlib.pyplot.close(fig)
