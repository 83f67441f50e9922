"""The report end to end: every notebook executed through papermill, the HTML checked against results.json."""

import json
import re
import shutil
from html import escape as html_escape
from html import unescape as html_unescape
from pathlib import Path

import nbformat
import pytest
from papermill.translators import PythonTranslator

from cartreport import api, formatting
from cartreport.analysis.params import PARAMETERS
from cartreport.cohorts.synthetic import synthetic_cohort
from cartreport.errors import CohortError, ParameterError, SectionFailed
from cartreport.render.handoff import HANDLE_PARAMETER


@pytest.fixture(scope="module")
def default_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "default"
    api.run_report({}, out)
    return out


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    data = folder / "small_cohort.csv"
    synthetic_cohort(40, seed=11).to_csv(data, index=False)
    out = folder / "report"
    api.run_report(
        {
            "data": str(data),
            "subgroup_by": "diagnosis",
            "data_cutoff": "2024-03-31",
            "landmarks_months": [12],
        },
        out,
    )
    return out


def _html(folder: Path) -> str:
    return (folder / "report.html").read_text(encoding="utf-8")


def test_parameters_cells_match_the_parameter_list():
    """The report's parameters, and the handle of the analysis ``cartreport run`` hands over (empty: compute)."""
    expected = {**{p.name: p.default for p in PARAMETERS}, HANDLE_PARAMETER: ""}
    for path in sorted(api.NOTEBOOK_DIR.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1, path.name
        found = {p.name: eval(p.default) for p in PythonTranslator.inspect(cells[0])}  # noqa: S307 - our own file
        assert found == expected, path.name
    assert [p.stem for p in sorted(api.NOTEBOOK_DIR.glob("*.ipynb"))] == list(api.SECTIONS)


def test_output_folder_holds_everything(default_report):
    for name in ("report.html", "results.json"):
        assert (default_report / name).is_file()
    assert sorted(p.name for p in (default_report / "notebooks").iterdir()) == [
        f"{n}.ipynb" for n in api.SECTIONS
    ]
    pngs = sorted(p.stem for p in (default_report / "figures").glob("*.png"))
    assert {"km_os_lfs", "cif_relapse_nrm", "swimmer", "patient_flow", "treatment_sequence"} <= set(pngs)
    assert sorted(p.stem for p in (default_report / "figures").glob("*.svg")) == pngs
    assert {"baseline_characteristics", "landmarks", "response_rates"} <= {
        p.stem for p in (default_report / "tables").glob("*.csv")
    }
    assert not list(default_report.parent.glob(".*tmp*")), "no temporary folder left behind"


def test_html_is_self_contained_and_shows_no_code(default_report):
    html = _html(default_report)
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 7
    assert not re.search(r'(src|href)="https?:', html)
    assert "load_analysis" not in html and "nb.show_figure" not in html, "no input code in the report"
    assert 'class="toc' in html or "Contents" in html or "CONTENTS" in html.upper()
    assert "Reading this in JupyterLab" not in html, "cells tagged remove_cell are left out"


def test_headline_numbers_in_html_equal_results_json(default_report):
    html = _html(default_report)
    results = json.loads((default_report / "results.json").read_text(encoding="utf-8"))
    level = results["parameters"]["ci_level"]
    for key in ("os", "lfs"):
        lm = results["endpoints"][key]["landmarks"][1]
        assert lm["months"] == 12
        assert formatting.estimate_ci(lm["estimate"], lm["ci_low"], lm["ci_high"], level) in html
    bm = results["responses"]["bm_mrd_negative_cr"]
    assert (
        formatting.rate(bm["responders"], bm["evaluable"], bm["rate"], bm["ci_low"], bm["ci_high"], level)
        in html
    )
    assert "58.5%" in html and "51.4%" in html  # the published figures
    assert "not patient records" in html
    assert results["data_sha256"] in html


def test_second_cohort_with_subgroups_and_cutoff(small_report):
    html = _html(small_report)
    results = json.loads((small_report / "results.json").read_text(encoding="utf-8"))
    assert results["is_reconstruction"] is False and "not patient records" not in html
    assert results["parameters"]["data_cutoff"] == "2024-03-31"
    assert (small_report / "figures" / "os_by_subgroup.png").is_file()
    assert "log-rank" in html
    assert not (small_report / "tables" / "published_vs_reproduced.csv").exists()


def test_invalid_data_stop_before_any_notebook(tmp_path):
    bad = tmp_path / "bad.csv"
    frame = synthetic_cohort(5, seed=1)
    frame.loc[2, "bm_response"] = "MRD neg CR"
    frame.to_csv(bad, index=False)
    with pytest.raises(CohortError) as info:
        api.run_report({"data": str(bad)}, tmp_path / "out")
    assert "row 4" in str(info.value) and "bm_response" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_bad_parameter_stops_before_any_notebook(tmp_path):
    with pytest.raises(ParameterError):
        api.run_report({"landmarks_months": [-1]}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_failing_section_keeps_the_earlier_report_byte_identical(tmp_path, default_report):
    out = tmp_path / "report"
    shutil.copytree(default_report, out)
    before = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    broken = tmp_path / "notebooks"
    shutil.copytree(api.NOTEBOOK_DIR, broken)
    nb = nbformat.read(broken / "02_responses.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('broken on purpose')"))
    nbformat.write(nb, broken / "02_responses.ipynb")
    with pytest.raises(SectionFailed) as info:
        api.run_report({}, out, notebook_dir=broken)
    assert info.value.section == "02_responses" and "broken on purpose" in info.value.error
    assert Path(info.value.notebook_path).is_file()
    after = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before
    assert not list(tmp_path.glob(".*tmp*"))


def test_a_notebook_whose_parameters_differ_from_the_analysis_fails_the_report(tmp_path):
    """Issue #12: a notebook that did not pass on a parameter silently recomputed with its default, so report.html
    could disagree with results.json. Now the notebook uses the analysis handed over, or fails naming the parameter."""
    broken = tmp_path / "notebooks"
    shutil.copytree(api.NOTEBOOK_DIR, broken)
    nb = nbformat.read(broken / "03_survival.ipynb", as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "api.analysis_for(globals())" in c.source)
    nb.cells.insert(at, nbformat.v4.new_code_cell('ci_method = "log-log"  # a notebook that sets its own'))
    nbformat.write(nb, broken / "03_survival.ipynb")
    with pytest.raises(SectionFailed) as info:
        api.run_report({"ci_method": "log"}, tmp_path / "out", notebook_dir=broken)
    assert info.value.section == "03_survival"
    assert info.value.error.startswith("HandoffError: ")
    assert "ci_method = 'log-log' here, 'log' in the analysis" in info.value.error


def test_custom_notebooks_are_handed_the_whole_analysis(tmp_path):
    """The kernel of the shipped notebooks gets a trimmed analysis (the columns and rows they read). A custom
    notebook set (``notebook_dir``) reads what it likes: it was handed an empty frame of endpoint rows and a table
    without ``age_years``, so its numbers were silently wrong. It now gets the whole analysis."""
    custom = tmp_path / "notebooks"
    shutil.copytree(api.NOTEBOOK_DIR, custom)
    nb = nbformat.read(custom / "04_methods.ipynb", as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import json\n"
            "print(json.dumps({'rows': len(analysis.endpoints.patients), 'patients': len(analysis.table),\n"
            "                  'ages': analysis.table['age_years'].notna().sum().item()}))"
        )
    )
    nbformat.write(nb, custom / "04_methods.ipynb")
    out = tmp_path / "out"
    api.run_report({}, out, notebook_dir=custom)
    executed = nbformat.read(out / "notebooks" / "04_methods.ipynb", as_version=4)
    printed = [o["text"] for o in executed.cells[-1].outputs if o.get("name") == "stdout"]
    assert json.loads(printed[0]) == {
        "rows": 16,
        "patients": 16,
        "ages": 16,
    }  # the 16 patients of the seed text


def test_every_section_is_handed_the_one_analysis(small_report):
    """papermill injects the report's parameters and one handle, the same in every section."""
    handles = set()
    for name in api.SECTIONS:
        nb = nbformat.read(small_report / "notebooks" / f"{name}.ipynb", as_version=4)
        injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
        handles |= {p.default for p in PythonTranslator.inspect(injected) if p.name == HANDLE_PARAMETER}
    assert len(handles) == 1 and len(eval(handles.pop())) == 32  # noqa: S307 - a string literal papermill wrote


def test_notebooks_run_as_opened_in_jupyterlab_with_their_defaults(tmp_path):
    """No parameters injected, no output folder: figures display inline and nothing is written."""
    import papermill

    for name in api.SECTIONS:
        nb = papermill.execute_notebook(
            str(api.NOTEBOOK_DIR / f"{name}.ipynb"),
            None,
            kernel_name="python3",
            cwd=str(tmp_path),
            progress_bar=False,
        )
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], name
        if name in ("01_design", "02_responses", "03_survival"):
            figures_shown = ["data:image/png" in o.get("data", {}).get("text/html", "") for o in outputs]
            assert any(figures_shown), f"{name} shows its figures inline"
    assert list(tmp_path.iterdir()) == []


def test_published_section_only_for_the_shipped_study(default_report, small_report):
    assert "Published and reproduced figures" in _html(default_report)
    assert "Published and reproduced figures" not in _html(small_report)


def test_a_bad_parameter_in_jupyter_shows_the_message_not_a_stack(tmp_path):
    """As in JupyterLab: the notebook executed with a bad parameter shows one clear error, no traceback."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError):
        papermill.execute_notebook(
            str(api.NOTEBOOK_DIR / "04_methods.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={"ci_level": 1.5},
            kernel_name="python3",
            cwd=str(tmp_path),
            progress_bar=False,
        )
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert len(errors) == 1
    shown = "\n".join(errors[0].traceback)
    assert errors[0].ename == "ParameterError"
    assert (
        shown
        == "ParameterError: report parameter ci_level = 1.5: must be at least 0.5 and below 1, e.g. 0.95"
    )
    assert "Traceback" not in shown and "File " not in shown and "load_analysis" not in shown


HOSTILE_DIAGNOSES = {
    "T-ALL": '=HYPERLINK("http://x","<img src=x onerror=alert(1)>")',
    "T-LBL": "*T*<svg onload=alert(1)>",
}
HOSTILE_TITLE = "<script>alert(1)</script> **bold** [link](http://x)"


class _Page:
    """Every element, attribute and text run of an HTML page (``html.parser``, as a browser tokenises it)."""

    def __init__(self, page: str) -> None:
        from html.parser import HTMLParser

        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        page_ = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                page_.tags.append((tag, dict(attrs)))

            def handle_startendtag(self, tag, attrs):
                page_.tags.append((tag, dict(attrs)))

            def handle_data(self, data):
                page_.text.append(data)

        Parser(convert_charrefs=True).feed(page)


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    """The shipped cohort with markup and formulas in its text cells, a hostile title and subgroups by them."""
    import pandas as pd

    folder = tmp_path_factory.mktemp("hostile")
    frame = pd.read_csv(api.COHORT_FILE, dtype=str, keep_default_na=False)
    frame["diagnosis"] = frame["diagnosis"].map(HOSTILE_DIAGNOSES)
    frame.loc[0, "patient_id"] = "<svg onload=alert(1)>"
    frame.loc[1, "patient_id"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    frame.loc[frame["death_date"] != "", "cause_of_death"] = "<img src=x onerror=alert(1)> -2+3"
    data = folder / "hostile_cohort.csv"
    frame.to_csv(data, index=False)
    out = folder / "report"
    api.run_report(
        {
            "data": str(data),
            "title": HOSTILE_TITLE,
            "subgroup_by": "diagnosis",
            "subgroup": {"diagnosis": list(HOSTILE_DIAGNOSES.values())},
        },
        out,
    )
    return out


def test_markup_in_data_and_parameters_is_shown_as_written_never_live(hostile_report):
    page = _Page(_html(hostile_report))
    names = [tag for tag, _ in page.tags]
    assert "script" not in names and "svg" not in names and "iframe" not in names
    assert not [(tag, a) for tag, attrs in page.tags for a in attrs if a.lower().startswith("on")]
    images = [attrs.get("src", "") for tag, attrs in page.tags if tag == "img"]
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    assert not [attrs for tag, attrs in page.tags if tag == "a" and attrs.get("href", "").startswith("http")]
    text = "".join(page.text)
    for diagnosis in HOSTILE_DIAGNOSES.values():
        assert diagnosis in text  # shown exactly as written: in the abstract, design, Table 1, subgroups
    assert HOSTILE_TITLE in text


def test_no_table_written_holds_a_live_formula(hostile_report):
    import csv

    cells = []
    for path in sorted((hostile_report / "tables").glob("*.csv")):
        with open(path, encoding="utf-8", newline="") as handle:
            cells += [cell for row in csv.reader(handle) for cell in row]
    hostile = [c for c in cells if "HYPERLINK" in c]
    assert hostile and all(c.startswith("'=") or not c.startswith("=") for c in hostile)
    live = [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert all(re.fullmatch(r"[-+][0-9][0-9,]*(\.[0-9]+)?", c) for c in live), live


def test_no_path_of_this_machine_in_any_output(small_report):
    """Issue #9: the executed notebooks held the data file's absolute path (and papermill the notebooks')."""
    import os

    machine_paths = {
        str(small_report.parent),  # the folder holding the data file and the report
        str(small_report.parent.resolve()),
        str(api.NOTEBOOK_DIR),
        str(Path(__file__).resolve().parents[1]),  # this checkout
        os.getcwd(),
    }
    files = [p for p in sorted(small_report.rglob("*")) if p.is_file()]
    assert len(files) > 20, "report.html, results.json, notebooks/, figures/, tables/"
    for path in files:
        content = path.read_bytes()
        for machine_path in machine_paths:
            assert machine_path.encode() not in content, (
                f"{path.relative_to(small_report)} holds {machine_path}"
            )
    nb = nbformat.read(small_report / "notebooks" / "00_summary.ipynb", as_version=4)
    assert nb.metadata.papermill.parameters["data"] == "small_cohort.csv", (
        "the file's name, as in results.json"
    )


# ------------------------------------------------------------------------ numbered figures, tables and Word
def _numbers(html: str, kind: str) -> list[int]:
    pattern = r'<span class="cr-label">Figure (\d+)\.</span>' if kind == "Figure" else r">Table (\d+)\. "
    return [int(n) for n in re.findall(pattern, html)]


@pytest.mark.parametrize("report", ["default_report", "small_report"])
def test_every_figure_and_table_is_numbered_in_order_with_a_caption_and_its_own_alt_text(report, request):
    folder = request.getfixturevalue(report)
    html = _html(folder)
    n_figures = len(list((folder / "figures").glob("*.png")))
    assert _numbers(html, "Figure") == list(range(1, n_figures + 1))
    assert html.count("<figcaption>") == n_figures
    n_tables = len(list((folder / "tables").glob("*.csv")))
    assert _numbers(html, "Table") == list(range(1, n_tables + 1))
    alts = re.findall(r'<img [^>]*alt="([^"]*)"', html)
    assert len(alts) == n_figures and len(set(alts)) == n_figures and all(alts)
    assert "Figure: " not in html, "no generic alt text"
    assert "diagnosis = " not in html, "groups are labelled by their values"


def test_figures_are_written_for_print_and_shown_at_twice_their_display_size(default_report):
    from PIL import Image

    for png in (default_report / "figures").glob("*.png"):
        with Image.open(png) as image:
            assert round(image.info["dpi"][0]) >= 300, png.name
            width_mm = image.width / image.info["dpi"][0] * 25.4
            assert min(abs(width_mm - 85), abs(width_mm - 174)) <= 0.5, (png.name, width_mm)
        assert (png.with_suffix(".svg")).is_file() and (png.with_suffix(".pdf")).is_file()


def _docx_text(paragraph) -> str:
    """A paragraph's text including simple fields (SEQ numbers of captions)."""
    return "".join(node.text or "" for node in paragraph._p.iter() if node.tag.endswith("}t"))


@pytest.mark.parametrize("report", ["default_report", "small_report"])
def test_word_report_has_headings_real_tables_and_print_figures_with_captions(report, request):
    import docx

    folder = request.getfixturevalue(report)
    document = docx.Document(folder / "report.docx")
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    html_h1 = [re.sub(r"<[^>]+>|¶", "", h).strip() for h in re.findall(r"<h1[^>]*>(.*?)</h1>", _html(folder))]
    assert headings == html_h1 and "Survival" in headings
    assert any(p.style.name == "Heading 2" for p in document.paragraphs)
    captions = [_docx_text(p) for p in document.paragraphs if p.style.name == "Caption"]
    n_figures = len(list((folder / "figures").glob("*.png")))
    figure_captions = [c for c in captions if c.startswith("Figure")]
    assert [int(re.match(r"Figure (\d+)\.", c).group(1)) for c in figure_captions] == list(
        range(1, n_figures + 1)
    )
    assert "SEQ Figure" in document.element.xml and "SEQ Table" in document.element.xml
    assert len(document.inline_shapes) == n_figures
    section = document.sections[0]
    text_width = section.page_width - section.left_margin - section.right_margin
    assert all(shape.width <= text_width + 1 for shape in document.inline_shapes), "figures fit the page"
    for shape in document.inline_shapes:  # embedded at their drawn width: a journal column
        assert shape.width.mm == pytest.approx(85, abs=0.5) or shape.width.mm == pytest.approx(174, abs=0.5)
    # every CSV table is a Word table with the same cells
    csvs = sorted((folder / "tables").glob("*.csv"))
    assert len(document.tables) == len(csvs)
    import pandas as pd

    landmarks = pd.read_csv(folder / "tables" / "landmarks.csv", dtype=str, keep_default_na=False)
    table = next(t for t in document.tables if [c.text for c in t.rows[0].cells] == list(landmarks.columns))
    assert [[c.text for c in row.cells] for row in table.rows[1:]] == landmarks.to_numpy().tolist()


# ------------------------------------------------------------------------------- in a browser, if there is one
def _browser() -> str | None:
    return next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
    )


_PHONE_PROBE = """<script>
window.addEventListener("load", () => {
  const page = document.documentElement;
  const out = {viewport: window.innerWidth, scroll: page.scrollWidth, figures: [], tables: []};
  for (const img of document.querySelectorAll("figure.cr-figure img")) {
    const box = img.closest(".cr-figure-image");
    out.figures.push({shown: img.getBoundingClientRect().width, natural: img.naturalWidth,
                      wide: img.closest("figure").classList.contains("cr-wide"),
                      scrolls: getComputedStyle(box).overflowX});
  }
  for (const t of document.querySelectorAll(".cr-table")) {
    out.tables.push({overflow: getComputedStyle(t).overflowX, outer: t.clientWidth,
                     inner: t.querySelector("table").getBoundingClientRect().width,
                     border: getComputedStyle(t).borderTopStyle});
  }
  const probe = parent.document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify(out);
  parent.document.body.appendChild(probe);
});
</script>"""


def test_in_a_browser_at_390_px_nothing_is_cut_and_figure_text_stays_legible(default_report, tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no headless browser here; the structural checks above carry the report")
    import subprocess

    # headless windows are at least 500 px wide: the report is shown in a 390 px frame (a phone's width)
    # the report's Content-Security-Policy forbids every script, the probe's too: this test copy drops it
    report = re.sub(r"<meta[^>]*Content-Security-Policy[^>]*>", "", _html(default_report))
    assert "Content-Security-Policy" not in report
    report = report.replace("</body>", _PHONE_PROBE + "</body>")
    page = tmp_path / "phone.html"
    page.write_text(
        f'<!DOCTYPE html><html><body style="margin:0"><iframe width="390" height="800" style="border:0" '
        f'srcdoc="{html_escape(report, quote=True)}"></iframe></body></html>',
        encoding="utf-8",
    )
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=800,900",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    found = json.loads(html_unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.DOTALL).group(1)))
    assert found["scroll"] <= found["viewport"], "the page itself never scrolls sideways"
    from cartreport.report.notebook import SCREEN_DENSITY, SCREEN_PX_PER_INCH

    assert found["figures"]
    for figure in found["figures"]:
        # the smallest text is drawn at 6.5 pt (SMALL); the PNG has SCREEN_DENSITY pixels per CSS pixel
        scale = figure["shown"] / (figure["natural"] / SCREEN_DENSITY)
        assert 6.5 / 72 * SCREEN_PX_PER_INCH * scale >= 8, figure
        if figure["wide"]:  # kept legible by scrolling sideways in a frame, not by shrinking
            assert figure["scrolls"] == "auto", figure
    wide_tables = [t for t in found["tables"] if t["inner"] > t["outer"]]
    assert wide_tables, "the shipped report has tables wider than a phone"
    assert all(t["overflow"] == "auto" and t["border"] != "none" for t in wide_tables)


# ------------------------------------------------------------------ the report reads like a manuscript (issue #10)
def _visible_text(html: str) -> str:
    """The text a reader sees (no style, no image data), as html.parser gives it."""
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts, self.hidden = [], 0

        def handle_starttag(self, tag, attrs):
            self.hidden += tag in ("style", "script")

        def handle_endtag(self, tag):
            self.hidden -= tag in ("style", "script")

        def handle_data(self, data):
            if not self.hidden:
                self.parts.append(data)

    parser = Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


@pytest.mark.parametrize("report", ["default_report", "small_report"])
def test_no_machinery_or_meta_text_in_the_report(report, request):
    text = _visible_text(_html(request.getfixturevalue(report)))
    for word in ("results.json", "subgroup_by", "`", "nothing was normalised", "Read as written", "Method:"):
        assert word not in text, word


@pytest.mark.parametrize("report", ["default_report", "small_report"])
def test_each_method_is_stated_once_in_methods(report, request):
    text = _visible_text(_html(request.getfixturevalue(report)))
    results = json.loads((request.getfixturevalue(report) / "results.json").read_text(encoding="utf-8"))
    for sentence in (
        results["methods"]["km"],
        results["methods"]["cif"],
        results["endpoints"]["os"]["method"],
    ):
        assert text.count(sentence.rstrip(".")) <= 1, sentence
    assert text.count(results["methods"]["km"].rstrip(".")) == 1
    assert text.index(results["methods"]["km"].rstrip(".")) > text.index("Methods and provenance")


@pytest.mark.parametrize("report", ["default_report", "small_report"])
def test_figures_are_referred_to_in_the_prose_in_order_and_before_their_captions(report, request):
    html = _html(request.getfixturevalue(report))
    body = html[html.index("</nav>") :]  # after the table of contents
    captions = {int(n): m.start() for m in re.finditer(r'<span class="cr-label">Figure (\d+)\.</span>', body)
                for n in [m.group(1)]}  # fmt: skip
    prose = re.sub(r"<figcaption>.*?</figcaption>", lambda m: " " * len(m.group(0)), body, flags=re.DOTALL)
    first = {}
    for m in re.finditer(r"\bFigures? (\d+)\b", prose):
        first.setdefault(int(m.group(1)), m.start())
    assert {5, 6} <= set(first) if report == "default_report" else True  # OS/LFS and relapse/NRM curves
    assert len(first) >= 5
    for n, at in first.items():
        assert at < captions[n], f"Figure {n} is referred to after its caption"
    assert list(first) == sorted(first), "first mentions in the order of the numbers"


def test_summary_numbers_are_not_repeated_in_the_survival_section(default_report):
    html = _html(default_report)
    body = html[html.index("</nav>") :]

    def section(start: str, stop: str) -> str:
        return _visible_text(body[body.index(start) : body.index(stop)])

    summary = section('<h2 id="Abstract"', '<h2 id="Published-and-reproduced-figures"')
    survival = section('<h1 id="Survival"', '<h1 id="Safety-and-transplant-outcomes"')
    stated = set(re.findall(r"\d[\d.]*% \(95% CI, [^()]*\)", summary))
    assert len(stated) >= 4, summary
    assert not {s for s in stated if s in survival}


def test_subgroup_section_only_when_asked_for_with_its_subsections_in_the_contents(
    default_report, small_report
):
    default = _html(default_report)
    assert "By subgroup" not in default and "Outcomes by" not in default
    html = _html(small_report)
    toc = html[html.index('<nav class="toc"') : html.index("</nav>")]
    results = json.loads((small_report / "results.json").read_text(encoding="utf-8"))
    assert ">Outcomes by diagnosis</a>" in toc
    for key in ("os", "lfs", "relapse", "nrm"):
        heading = f"{results['endpoints'][key]['label']} by diagnosis"
        assert f">{heading}</a>" in toc and re.search(rf"<h3[^>]*>{re.escape(heading)}", html)
