"""Tests for cartreport.render with a real kernel: execute_sections (one reused kernel) and render_report.

export_html is tested in test_render_html.py, write_atomically in test_render_output.py.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from cartreport.errors import SectionFailed, SetupError
from cartreport.render import Section, execute_sections, render_report
from cartreport.render.output import claim_folder

# Small preload for the execute_sections tests (render_report uses the full default list).
PRELOAD = ("pandas", "matplotlib.pyplot")


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
    with pytest.raises(SetupError, match="nope.ipynb"):
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
        ".cartreport-report",  # the marker: cartreport may replace this folder
        "figures/km.png",
        "kernel.pid",  # written by the notebooks into their cwd
        "notebooks/01_design.ipynb",
        "notebooks/02_km.ipynb",
        "report.docx",
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
    claim_folder(out, "report")  # an earlier report of cartreport (else the folder is not replaced at all)
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


def test_shutdown_kills_the_kernel_without_interrupting_it_first(private_tmp: Path) -> None:
    """Issue #9: a refused run shut its still-booting kernel down with jupyter_client's ``shutdown_kernel(now=True)``,
    which sends SIGINT before the kill: a kernel interrupted mid-import printed a KeyboardInterrupt traceback on
    the user's terminal. Shutting down kills the process; nothing interrupts it."""
    from cartreport.render.kernel import start_kernel

    kernel = start_kernel(preload=())
    signals: list[int] = []
    provisioner = kernel.km.provisioner
    real_send_signal = provisioner.send_signal

    async def record(signum: int) -> None:
        signals.append(signum)
        await real_send_signal(signum)

    provisioner.send_signal = record
    process = provisioner.process
    kernel.shutdown()
    assert process.poll() is not None, "the kernel process is gone"
    import signal

    assert signal.SIGINT not in signals


def test_the_report_kernel_preloads_the_report_but_not_scipy_stats(private_tmp: Path, printed_by) -> None:
    """Issue #12 (start-up): the kernel pays no import it does not need. seaborn imported scipy.stats (a third of
    the kernel's start-up) for a density estimate the report never draws; the kernel's notebooks estimate nothing.
    Whatever imports scipy.stats later still gets it."""
    from cartreport.render.kernel import start_kernel

    kernel = start_kernel()
    try:
        kernel.connect(timeout=60)
        code = (
            "import sys\n"
            "print(sorted(m for m in ('seaborn', 'cartreport.report.figures', 'scipy.stats') if m in sys.modules))\n"
            "import scipy.stats\n"
            "print(scipy.stats.binomtest(3, 4).pvalue)"
        )
        printed = printed_by(kernel, code)
    finally:
        kernel.shutdown()
    assert printed.split("\n")[:2] == ["['cartreport.report.figures', 'seaborn']", "0.625"]


def test_a_title_longer_than_words_limit_is_the_documents_first_line_whole(tmp_path: Path) -> None:
    """The default title names the data file ("CAR-T cohort report: <file name>"): from a long file name it
    exceeded Word's 255-character limit for a document title, and the report failed with a traceback."""
    import docx

    from cartreport.render.word import write_docx

    title = "CAR-T cohort report: " + "c" * 240
    write_docx([], title, tmp_path / "report.docx", base_dir=tmp_path)
    document = docx.Document(str(tmp_path / "report.docx"))
    assert document.core_properties.title == title[:255]
    assert document.paragraphs[0].text == title


def test_the_notebook_machinery_can_be_imported_ahead_in_the_background(monkeypatch):
    """``cartreport run`` imports papermill and nbformat and registers its engine on a thread while it reads the
    data (with a million patients the kernel has long been ready when the analysis ends, and these 0.25 s of
    imports were the first thing the notebooks waited for). The thread never raises: a failing import is left for
    the run itself to report."""
    import builtins

    from cartreport.render import execute

    execute.warm_up().join(timeout=60)
    from papermill.engines import papermill_engines

    assert execute._ENGINE_NAME in papermill_engines._engines
    real_import = builtins.__import__

    def failing(name, *args, **kwargs):
        if name.startswith("papermill"):
            raise ImportError("papermill is broken here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(execute, "_ENGINE_NAME", "cartreport-warm-up-test")
    monkeypatch.setattr(builtins, "__import__", failing)
    thread = execute.warm_up()
    thread.join(timeout=60)
    assert not thread.is_alive()


def test_seaborn_is_imported_without_scipy_and_its_clustermap_still_works() -> None:
    """seaborn imports scipy.cluster at import (0.15 s, scipy.spatial and scipy.linalg with it) for clustermap
    alone, which the report never draws; the report kernel and the print writer both import seaborn. It is now
    imported without it, and a notebook that draws a clustermap in the report kernel still gets scipy's."""
    script = textwrap.dedent(
        """
        import sys
        import matplotlib
        matplotlib.use("Agg")
        from cartreport.render.kernel import import_seaborn_lean
        import_seaborn_lean()
        print(sorted(m for m in ("seaborn", "scipy.stats", "scipy.cluster", "scipy.spatial") if m in sys.modules))
        import numpy as np
        import seaborn as sns
        grid = sns.clustermap(np.array([[1.0, 9.0, 2.0], [8.0, 1.0, 7.0], [1.5, 8.5, 2.5], [9.0, 0.5, 8.0]]))
        print(grid.dendrogram_row.reordered_ind, "scipy.cluster" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "['seaborn']"
    # rows 0 and 2 are alike, as are rows 1 and 3: scipy's average linkage puts each pair side by side
    order, imported = lines[1].rsplit(" ", 1)
    assert imported == "True" and sorted(order.strip("[]").split(", ")) == ["0", "1", "2", "3"]
    pairs = [int(i) for i in order.strip("[]").split(", ")]
    assert {frozenset(pairs[:2]), frozenset(pairs[2:])} == {frozenset({0, 2}), frozenset({1, 3})}


def test_word_paragraphs_take_the_templates_styles_by_name(tmp_path: Path) -> None:
    """Headings, lists, quotes, captions and tables carry the template's named styles, so that a journal template
    restyles them (the styles are set by their ids, looked up once: python-docx read every style at every set)."""
    import docx

    from cartreport.render.word import write_docx

    source = "# Design\n\n## Patients\n\n- one\n- two\n\n1. first\n\n> quoted\n\nplain"
    table = {
        "kind": "table",
        "name": "t",
        "label": "Table 1",
        "title": "Counts",
        "columns": ["Group", "n"],
        "rows": [["A", 3], ["B", 4]],
        "footnote": "note",
    }
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(source),
            nbformat.v4.new_code_cell(
                "", outputs=[nbformat.v4.new_output("display_data", data={}, metadata={"cartreport": table})]
            ),
        ]
    )
    write_docx([nb], "Title here", tmp_path / "r.docx", base_dir=tmp_path)
    document = docx.Document(str(tmp_path / "r.docx"))
    styles = [(p.style.name, p.text) for p in document.paragraphs]
    assert styles[:8] == [
        ("Title", "Title here"),
        ("Heading 1", "Design"),
        ("Heading 2", "Patients"),
        ("List Bullet", "one"),
        ("List Bullet", "two"),
        ("List Number", "first"),
        ("Quote", "quoted"),
        ("Normal", "plain"),
    ]
    assert styles[8][0] == "Caption" and styles[8][1].endswith("Counts.")  # the number is a SEQ field
    [word_table] = document.tables
    assert word_table.style.name == "Table Grid"
    assert [[c.text for c in row.cells] for row in word_table.rows] == [
        ["Group", "n"],
        ["A", "3"],
        ["B", "4"],
    ]


def test_files_planted_in_the_temporary_folder_never_run_in_the_kernel(
    tmp_path: Path, private_tmp: Path
) -> None:
    """The report kernel started with the temporary folder (``/tmp``, which every user of the machine may write) as
    its current folder: IPython ran an ``ipython_kernel_config.py`` found there, matplotlib read a ``matplotlibrc``
    there, and a module the kernel imports at start (``great_tables.py``) planted there was imported from there
    ('' on ``sys.path``), so that another user's code ran as the one making the report. The kernel now starts in
    a folder of its own."""
    marker = tmp_path / "ran"
    marker.mkdir()
    (private_tmp / "ipython_kernel_config.py").write_text(f"open({str(marker / 'config')!r}, 'w').close()\n")
    (private_tmp / "cr_planted.py").write_text(f"open({str(marker / 'module')!r}, 'w').close()\n")
    (private_tmp / "matplotlibrc").write_text("figure.facecolor: red\n")
    cell = "import matplotlib\nprint('FACE', matplotlib.rcParams['figure.facecolor'])"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "01_design.ipynb")
    section = Section(name="01_design", path=tmp_path / "01_design.ipynb")
    from cartreport.render import start_kernel

    kernel = start_kernel(
        preload=(*PRELOAD, "cr_planted")
    )  # as `cartreport run` does; a module imported at start
    try:
        (notebook,) = execute_sections([section], {}, tmp_path / "work", kernel=kernel)
    finally:
        kernel.shutdown()
    assert value(notebook, "FACE") != "red"
    assert sorted(p.name for p in marker.iterdir()) == []
