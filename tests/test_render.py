"""Tests for cartreport.render: one reused kernel, self-contained HTML, atomic output folder."""

from __future__ import annotations

import base64
import os
import pickle
import re
import time
from pathlib import Path

import nbformat
import pytest

from cartreport import render
from cartreport.render import (
    Section,
    SectionFailed,
    execute_sections,
    export_html,
    render_report,
    write_atomically,
)

# Small preload for the execute_sections tests (render_report uses the full default list).
PRELOAD = ("pandas", "matplotlib.pyplot")

# A 1x1 PNG for HTML tests that need no kernel.
PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()


def make_notebook(path: Path, title: str, *, fail: bool = False) -> Section:
    """A tiny report notebook: parameters, a heading, stdout, a figure, a DataFrame, a removed cell."""
    cells = [
        nbformat.v4.new_code_cell("alpha = 1\nlabel = 'default'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell(f"# {title}\n\nIntroductory text.\n\n## {title} details"),
        nbformat.v4.new_code_cell(
            "import os\n"
            "import matplotlib.pyplot as plt\n"
            "import pandas as pd\n"
            "print('PID', os.getpid())\n"
            "open('kernel.pid', 'w').write(str(os.getpid()))\n"
            "print('CWD', os.getcwd())\n"
            "print('LEAKED', 'private_variable' in globals())\n"
            "private_variable = 42\n"
            "print('PARAMS', alpha, label)"
        ),
        nbformat.v4.new_code_cell(
            "fig, ax = plt.subplots(figsize=(2, 1.5))\n"
            "ax.plot([0, 1, 2], [2, 1, 3])\n"
            "os.makedirs('figures', exist_ok=True)\n"
            "fig.savefig(os.path.join('figures', label + '.png'))"
        ),
        nbformat.v4.new_code_cell("pd.DataFrame({'arm': ['A', 'B'], 'responders': [7, 9]})"),
        nbformat.v4.new_code_cell("print('SHOULD-NOT-APPEAR')", metadata={"tags": ["remove_cell"]}),
    ]
    if fail:
        cells.append(nbformat.v4.new_code_cell("raise ValueError('boom in ' + label)"))
        cells.append(nbformat.v4.new_code_cell("print('never reached')"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return Section(name=path.stem, path=path)


def stream_text(nb: nbformat.NotebookNode) -> str:
    return "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )


def value(nb: nbformat.NotebookNode, key: str) -> str:
    match = re.search(rf"^{key} (.*)$", stream_text(nb), re.MULTILINE)
    assert match, f"{key} not printed"
    return match.group(1)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_process_gone(pid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)  # a reaped process is gone; an unreaped zombie would still answer
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"kernel process {pid} still exists")


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make tempfile use a folder of this test, to see what the kernel leaves behind."""
    folder = tmp_path / "t"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


# ----------------------------------------------------------------------------------------------------
# execute_sections
# ----------------------------------------------------------------------------------------------------


def test_one_kernel_fresh_namespace_parameters_and_cwd(tmp_path: Path, private_tmp: Path) -> None:
    sections = [
        make_notebook(tmp_path / "nb" / f"{name}.ipynb", name) for name in ("01_design", "02_survival")
    ]
    workdir = tmp_path / "work"
    messages: list[str] = []

    notebooks = execute_sections(
        sections, {"alpha": 7, "label": "run"}, workdir, progress=messages.append, preload=PRELOAD
    )

    assert len(notebooks) == 2
    for nb in notebooks:
        assert value(nb, "PARAMS") == "7 run"  # injected after the parameters cell
        assert value(nb, "CWD") == str(workdir.resolve())  # the kernel's cwd, not ours
        assert value(nb, "LEAKED") == "False"  # notebook 1's variable is gone in notebook 2
        assert nb.cells[0].execution_count == 1  # numbering restarts per notebook
    assert value(notebooks[0], "PID") == value(notebooks[1], "PID")  # one kernel
    assert Path.cwd() != workdir.resolve()
    assert (workdir / "figures" / "run.png").is_file()
    # the figure is displayed in both notebooks (the inline backend survives the namespace reset)
    for nb in notebooks:
        assert any(
            "image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs
        )
    assert len(messages) == 2
    assert re.fullmatch(r"\[1/2\] 01_design \.\.\. ok \(\d+\.\d s\)", messages[0])
    assert re.fullmatch(r"\[2/2\] 02_survival \.\.\. ok \(\d+\.\d s\)", messages[1])
    # kernel shut down, its IPC sockets and connection file removed
    assert_process_gone(int(value(notebooks[0], "PID")))
    assert list(private_tmp.iterdir()) == []


def test_failing_section_is_named_kept_and_kernel_stopped(tmp_path: Path, private_tmp: Path) -> None:
    sections = [
        make_notebook(tmp_path / "nb" / "01_design.ipynb", "Design"),
        make_notebook(tmp_path / "nb" / "02_bad.ipynb", "Bad", fail=True),
        make_notebook(tmp_path / "nb" / "03_never.ipynb", "Never"),
    ]
    messages: list[str] = []

    with pytest.raises(SectionFailed) as info:
        execute_sections(
            sections, {"label": "x"}, tmp_path / "work", progress=messages.append, preload=PRELOAD
        )

    exc = info.value
    assert exc.section == "02_bad"
    assert exc.error == "ValueError: boom in x"
    assert exc.notebook_path == tmp_path / "work" / "failed" / "02_bad.ipynb"
    kept = nbformat.read(exc.notebook_path, as_version=4)
    errors = [o for c in kept.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["ValueError"]
    assert any("boom in x" in line for line in errors[0].traceback)
    assert "02_bad" in str(exc) and "ValueError: boom in x" in str(exc)
    assert len(messages) == 2 and "FAILED" in messages[1]
    assert_process_gone(int(value(kept, "PID")))
    assert list(private_tmp.iterdir()) == []


def test_cell_timeout_is_a_section_failure(tmp_path: Path, private_tmp: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(30)")])
    nbformat.write(nb, tmp_path / "slow.ipynb")

    with pytest.raises(SectionFailed) as info:
        execute_sections(
            [Section("slow", tmp_path / "slow.ipynb")], {}, tmp_path / "w", timeout=1, preload=()
        )

    assert info.value.section == "slow"
    assert info.value.error.startswith("CellTimeoutError")
    assert info.value.notebook_path.is_file()
    assert list(private_tmp.iterdir()) == []


def test_ctrl_c_stops_the_kernel(tmp_path: Path, private_tmp: Path) -> None:
    sections = [make_notebook(tmp_path / "nb" / f"{n}.ipynb", n) for n in ("01_a", "02_b")]

    def interrupt(message: str) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute_sections(sections, {}, tmp_path / "work", progress=interrupt, preload=PRELOAD)

    assert_process_gone(int((tmp_path / "work" / "kernel.pid").read_text()))
    assert list(private_tmp.iterdir()) == []


def test_missing_notebook_fails_before_starting_a_kernel(tmp_path: Path, private_tmp: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.ipynb"):
        execute_sections([Section("nope", tmp_path / "nope.ipynb")], {}, tmp_path / "work")
    assert list(private_tmp.iterdir()) == []


def test_section_failed_survives_pickling() -> None:
    exc = SectionFailed("02_bad", "ValueError: boom", Path("/x/02_bad.ipynb"))
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.section, copy.error, copy.notebook_path) == (
        "02_bad",
        "ValueError: boom",
        Path("/x/02_bad.ipynb"),
    )


# ----------------------------------------------------------------------------------------------------
# export_html (hand-made executed notebooks: no kernel needed)
# ----------------------------------------------------------------------------------------------------


def executed_notebook(title: str, *, extra_cells: list | None = None) -> nbformat.NotebookNode:
    figure = nbformat.v4.new_code_cell(
        "secret_plotting_code()", execution_count=2, metadata={"tags": ["figure"]}
    )
    figure.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": PNG_1PX, "text/plain": "<Figure>"})
    ]
    table = nbformat.v4.new_code_cell("secret_table_code()", execution_count=3)
    table.outputs = [
        nbformat.v4.new_output(
            "execute_result",
            data={"text/html": "<table><tr><td>42</td></tr></table>", "text/plain": "42"},
            execution_count=3,
        )
    ]
    removed = nbformat.v4.new_code_cell("x", execution_count=4, metadata={"tags": ["remove_cell"]})
    removed.outputs = [nbformat.v4.new_output("stream", name="stdout", text="SHOULD-NOT-APPEAR\n")]
    cells = [
        nbformat.v4.new_code_cell("alpha = 1", metadata={"tags": ["parameters"]}, execution_count=1),
        nbformat.v4.new_markdown_cell(f"# {title}\n\nText.\n\n## Methods\n\n### Not in the TOC"),
        figure,
        table,
        removed,
        *(extra_cells or []),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def test_html_is_self_contained_without_code_and_has_a_toc() -> None:
    page = export_html([executed_notebook("Design"), executed_notebook("Overall survival")], "Study X & Y")

    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Study X &amp; Y</title>" in page
    assert page.count("data:image/png;base64,") == 2
    assert "secret_plotting_code" not in page and "secret_table_code" not in page and "alpha = 1" not in page
    assert "SHOULD-NOT-APPEAR" not in page
    assert "In&nbsp;[" not in page and "Out[" not in page
    assert "<td>42</td>" in page
    # nothing from the network
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page
    # table of contents: h1/h2 with working, unique anchors; h3 left out
    toc = page[page.index('<nav class="toc"') : page.index("</nav>")]
    links = re.findall(r'<a href="#([^"]+)">([^<]*)</a>', toc)
    assert [text for _, text in links] == ["Design", "Methods", "Overall survival", "Methods"]
    anchors = [anchor for anchor, _ in links]
    assert len(set(anchors)) == 4
    for anchor in anchors:
        assert f'id="{anchor}"' in page
    assert "Not in the TOC" not in toc
    assert page.index('<nav class="toc"') < page.index("data:image/png")
    assert 'alt="Figure: Not in the TOC"' in page  # nearest heading above the figure


def test_html_without_headings_has_no_toc_and_exporter_is_reused() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Just text.")])
    first = export_html([nb], "t")
    exporter = render._get_exporter()
    second = export_html([nb], "t")
    assert first == second
    assert render._get_exporter() is exporter
    assert '<nav class="toc"' not in first and "cartreport:toc" not in first


def test_markdown_images_are_embedded_and_external_ones_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "km.png").write_bytes(base64.b64decode(PNG_1PX))
    source = "# KM\n\n![km](figures/km.png)\n\n![gone](figures/gone.png) ![web](https://example.org/x.png)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source)])

    with caplog.at_level("WARNING", logger="cartreport.render"):
        page = export_html([nb], "t", base_dir=tmp_path)

    assert f"data:image/png;base64,{PNG_1PX}" in page
    assert 'src="figures/km.png"' not in page
    assert "figures/gone.png, https://example.org/x.png" in caplog.text


# ----------------------------------------------------------------------------------------------------
# write_atomically
# ----------------------------------------------------------------------------------------------------


def test_write_atomically_replaces_the_folder_on_success(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "old.txt").write_text("old")
    (tmp_path / "report.failed").mkdir()  # stale debugging folder from an earlier failure

    def build(folder: Path) -> None:
        assert folder.parent == tmp_path and folder.name.startswith(".report.tmp-")
        (folder / "report.html").write_text("new")

    assert write_atomically(build, out) == out
    assert snapshot(out) == {"report.html": b"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


@pytest.mark.parametrize("error", [RuntimeError("build failed"), KeyboardInterrupt()])
def test_write_atomically_keeps_the_old_folder_on_failure(tmp_path: Path, error: BaseException) -> None:
    out = tmp_path / "report"
    (out / "figures").mkdir(parents=True)
    (out / "report.html").write_text("good report")
    (out / "figures" / "km.png").write_bytes(b"\x89PNG")
    before = snapshot(out)

    def build(folder: Path) -> None:
        (folder / "report.html").write_text("half")
        (folder / "failed").mkdir()
        (folder / "failed" / "02_bad.ipynb").write_text("{}")
        raise error

    with pytest.raises(type(error)):
        write_atomically(build, out)

    assert snapshot(out) == before
    assert snapshot(tmp_path / "report.failed") == {"02_bad.ipynb": b"{}"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "report.failed"]


def test_write_atomically_refuses_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError):
        write_atomically(lambda folder: None, Path("."))


# ----------------------------------------------------------------------------------------------------
# render_report
# ----------------------------------------------------------------------------------------------------


def test_render_report_writes_the_folder(tmp_path: Path, private_tmp: Path) -> None:
    sections = [
        make_notebook(tmp_path / "nb" / f"{n}.ipynb", t)
        for n, t in [("01_design", "Design"), ("02_km", "Survival")]
    ]
    out = tmp_path / "out"

    assert render_report(sections, {"label": "km"}, out, "Report") == out

    assert sorted(snapshot(out)) == [
        "figures/km.png",
        "kernel.pid",  # written by the notebooks into their cwd
        "notebooks/01_design.ipynb",
        "notebooks/02_km.ipynb",
        "report.html",
    ]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2
    assert "ax.plot" not in page and "SHOULD-NOT-APPEAR" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert re.search(r'<a href="#Design">Design</a>', page) and re.search(
        r'<a href="#Survival">Survival</a>', page
    )
    kept = nbformat.read(out / "notebooks" / "02_km.ipynb", as_version=4)
    assert value(kept, "PARAMS") == "1 km"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb", "out", "t"]
    assert list(private_tmp.iterdir()) == []


def test_render_report_failure_keeps_previous_report(tmp_path: Path, private_tmp: Path) -> None:
    sections = [
        make_notebook(tmp_path / "nb" / "01_design.ipynb", "Design"),
        make_notebook(tmp_path / "nb" / "02_bad.ipynb", "Bad", fail=True),
    ]
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "report.html").write_text("<p>the earlier good report</p>")
    (out / "figures" / "old.png").write_bytes(b"old")
    before = snapshot(out)

    with pytest.raises(SectionFailed) as info:
        render_report(sections, {"label": "x"}, out, "Report")

    assert info.value.section == "02_bad"
    assert info.value.error == "ValueError: boom in x"
    assert info.value.notebook_path == tmp_path / "out.failed" / "02_bad.ipynb"
    assert "boom in x" in info.value.notebook_path.read_text()
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb", "out", "out.failed", "t"]
    assert list(private_tmp.iterdir()) == []
