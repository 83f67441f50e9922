"""The report end to end: every notebook executed through papermill, the HTML checked against results.json."""

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from papermill.translators import PythonTranslator

from cartreport import api, formatting
from cartreport.errors import CohortError, ParameterError
from cartreport.params import PARAMETERS
from cartreport.render import SectionFailed
from cartreport.synthetic import synthetic_cohort


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
    expected = {p.name: p.default for p in PARAMETERS}
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
            assert any("image/png" in o.get("data", {}) for o in outputs), f"{name} shows its figures inline"
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
