"""The report kernel hands its figures to the report process, which writes their print files (PNG, SVG, PDF).

Issue #12 (start-up): writing every figure three times for print was most of a section's time, while the process
running the report sat idle. The files must not depend on who writes them: the references here are the files
:func:`cartreport.report.figures.save_figure` writes for the same figure in the same process, as the kernel did.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402

from cartreport.cli import exit_code  # noqa: E402
from cartreport.errors import PrintFilesError  # noqa: E402
from cartreport.kernel_env import PRINT_QUEUE_ENV  # noqa: E402
from cartreport.render import Section, execute_sections  # noqa: E402
from cartreport.render.print_writer import PrintWriter  # noqa: E402
from cartreport.report import figures, print_queue  # noqa: E402
from cartreport.stats.km import kaplan_meier  # noqa: E402

OS_TIME = [38, 74, 121, 150, 180, 196, 233, 280, 301, 395, 455, 512, 590, 648, 702, 845]
OS_EVENT = [1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0]
FORMATS = ("png", "svg", "pdf")


def km_figure():
    """A report figure with text, a CI band, censor marks and numbers at risk, in the report's theme."""
    figures.theme()
    curves = {"Overall survival": kaplan_meier(OS_TIME, OS_EVENT)}
    return figures.plot_km(curves, xlabel="Months since second HSCT", ylabel="Probability (%)").get_figure(
        root=True
    )


def one_cell_section(folder: Path, code: str) -> Section:
    """A report section of one code cell, for a real kernel."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "nb" / "01.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return Section("01", path)


def printed(notebook) -> str:
    return "".join(o.get("text", "") for o in notebook.cells[0].outputs)


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def reference(tmp_path: Path) -> dict[str, bytes]:
    """The print files written at once, in this process (what the kernel wrote before the queue existed)."""
    figure = km_figure()
    figures.save_figure(figure, tmp_path / "reference", "km", close=True)
    return files(tmp_path / "reference")


def test_without_a_queue_the_files_are_written_at_once(tmp_path, monkeypatch, reference):
    monkeypatch.delenv(PRINT_QUEUE_ENV, raising=False)
    figure = km_figure()
    print_queue.submit(figure, tmp_path / "figures", "km")
    plt.close(figure)
    assert files(tmp_path / "figures") == reference


def test_a_queued_figure_is_written_by_another_process_byte_for_byte(tmp_path, monkeypatch, reference):
    queue = tmp_path / "queue"
    queue.mkdir()
    monkeypatch.setenv(PRINT_QUEUE_ENV, str(queue))
    figure = km_figure()
    print_queue.submit(figure, tmp_path / "figures", "km")
    plt.close(figure)
    assert not (tmp_path / "figures").exists(), "the kernel side writes nothing itself"
    [queued] = print_queue.queued(queue)
    assert queued.name.endswith("-km.figure.pickle")
    # a fresh interpreter: no theme applied, matplotlib's default rcParams; the kernel's travel with the figure
    script = textwrap.dedent(
        f"""
        import matplotlib
        matplotlib.use("Agg")
        from cartreport.report.print_queue import write_queued
        print(write_queued({str(queue)!r}))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['km']"
    assert files(tmp_path / "figures") == reference
    assert print_queue.queued(queue) == []


def test_while_a_figure_waits_the_kernel_writes_the_next_itself(tmp_path, monkeypatch):
    """The two processes share the work: a figure is queued only when the report process has taken the last one."""
    queue = tmp_path / "queue"
    queue.mkdir()
    monkeypatch.setenv(PRINT_QUEUE_ENV, str(queue))
    for name in ("first", "second"):
        fig, _ = plt.subplots(figsize=(1, 1))
        print_queue.submit(fig, tmp_path / "figures", name)
        plt.close(fig)
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(f"second.{f}" for f in FORMATS)
    assert print_queue.write_queued(queue) == ["first"]
    fig, _ = plt.subplots(figsize=(1, 1))
    print_queue.submit(fig, tmp_path / "figures", "third")  # the queue is empty again: queued
    plt.close(fig)
    assert print_queue.write_queued(queue) == ["third"]
    assert len(list((tmp_path / "figures").iterdir())) == 9


def test_a_figure_shown_again_under_its_name_ends_as_the_later_one(tmp_path, monkeypatch):
    """The kernel writes a figure itself only when no figure of the same name waits: otherwise the earlier one,
    written later by the report process, would replace the newer files."""
    queue = tmp_path / "queue"
    queue.mkdir()
    monkeypatch.setenv(PRINT_QUEUE_ENV, str(queue))
    for width in (1, 2):
        fig, _ = plt.subplots(figsize=(width, 1))
        print_queue.submit(fig, tmp_path / "figures", "same")
        plt.close(fig)
    assert not (tmp_path / "figures").exists()
    assert print_queue.write_queued(queue) == ["same", "same"]
    fig, _ = plt.subplots(figsize=(2, 1))
    figures.save_figure(fig, tmp_path / "reference", "same", close=True)
    assert files(tmp_path / "figures") == files(tmp_path / "reference")


def test_a_figure_name_with_a_folder_is_refused_before_queueing(tmp_path, monkeypatch):
    queue = tmp_path / "queue"
    queue.mkdir()
    monkeypatch.setenv(PRINT_QUEUE_ENV, str(queue))
    fig, _ = plt.subplots(figsize=(1, 1))
    with pytest.raises(ValueError, match="plain file name"):
        print_queue.submit(fig, tmp_path, "../escape")
    plt.close(fig)
    assert print_queue.queued(queue) == []


def test_the_writer_writes_in_the_background_and_finish_drains(tmp_path, monkeypatch):
    queue = tmp_path / "queue"
    queue.mkdir()
    monkeypatch.setenv(PRINT_QUEUE_ENV, str(queue))
    with PrintWriter(queue, interval=0.01) as writer:
        for name in ("one", "two", "three"):
            fig, _ = plt.subplots(figsize=(1, 1))
            print_queue.submit(fig, tmp_path / "figures", name)
            plt.close(fig)
        written = writer.finish()
    assert "one" in written and set(written) <= {
        "one",
        "two",
        "three",
    }  # the rest the kernel side wrote itself
    assert print_queue.queued(queue) == []
    assert len(list((tmp_path / "figures").iterdir())) == 9


def test_a_figure_that_cannot_be_written_fails_the_report_in_one_line(tmp_path, monkeypatch):
    queue = tmp_path / "queue"
    queue.mkdir()
    monkeypatch.setenv(PRINT_QUEUE_ENV, str(queue))
    (tmp_path / "figures").write_text("a file where the folder should be", encoding="utf-8")
    writer = PrintWriter(queue, interval=0.01)
    with writer:
        fig, _ = plt.subplots(figsize=(1, 1))
        print_queue.submit(fig, tmp_path / "figures", "km")
        plt.close(fig)
        with pytest.raises(PrintFilesError) as caught:
            writer.finish()
    message = str(caught.value)
    assert message.startswith("could not write the figures for print: FileExistsError")
    assert "\n" not in message
    assert exit_code(caught.value) == 1  # data and parameters were valid; the report could not be finished


def test_a_new_report_discards_figures_left_by_an_earlier_one(tmp_path, monkeypatch):
    queue = tmp_path / "queue"
    queue.mkdir()
    monkeypatch.setenv(PRINT_QUEUE_ENV, str(queue))
    fig, _ = plt.subplots(figsize=(1, 1))
    print_queue.submit(fig, tmp_path / "old", "left_behind")
    plt.close(fig)
    with PrintWriter(queue) as writer:
        assert writer.finish() == []
    assert not (tmp_path / "old").exists()


def test_the_report_kernel_queues_figures_and_its_caller_writes_them(tmp_path, monkeypatch):
    """End to end on a real kernel: the kernel is given a queue, its figure's files exist when the sections
    return (written by this process), and the objects it preloaded are frozen out of the collector's scans."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    section = one_cell_section(
        tmp_path,
        "import gc, os\n"
        "import matplotlib.pyplot as plt\n"
        "from cartreport.report import print_queue\n"
        f"print('QUEUE', os.environ.get({PRINT_QUEUE_ENV!r}, '') != '')\n"
        "print('FROZEN', gc.get_freeze_count() > 1000)\n"
        "fig, ax = plt.subplots(figsize=(1, 1))\n"
        "print_queue.submit(fig, 'figures', 'queued')\n"
        "print('WRITTEN BY KERNEL', os.path.exists('figures/queued.pdf'))",
    )
    workdir = tmp_path / "work"
    [executed] = execute_sections([section], {}, workdir, preload=("matplotlib.pyplot",))
    text = printed(executed)
    assert "QUEUE True" in text
    assert "FROZEN True" in text
    assert "WRITTEN BY KERNEL False" in text
    assert sorted(p.name for p in (workdir / "figures").iterdir()) == sorted(f"queued.{f}" for f in FORMATS)


def test_the_print_writer_imports_what_writing_needs_and_not_scipy_stats():
    """Issue #12 (start-up): the report process pays no import it does not need. Writing figures needs seaborn's
    theme objects but not scipy.stats, which seaborn imported for a density estimate the report never draws."""
    script = textwrap.dedent(
        """
        import sys
        from cartreport.render.print_writer import _warm_up
        _warm_up()
        print(sorted(m for m in ("seaborn", "cartreport.report.figures.style", "scipy.stats") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['cartreport.report.figures.style', 'seaborn']"


def test_with_every_core_running_a_report_the_kernel_writes_its_figures_itself(tmp_path, monkeypatch):
    """A batch with as many jobs as cores has no core free for a writer thread: measured on 2 cores, 6 reports on
    2 jobs took 21.3 s with it and 19.5 s without. Such a batch's kernels get no queue and write their own files."""
    from cartreport import batch_workers
    from cartreport.render.kernel import start_kernel

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert batch_workers.print_writer_fits(1) is True
    assert batch_workers.print_writer_fits(2) is False
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert batch_workers.print_writer_fits(2) is True
    assert batch_workers.print_writer_fits(3) is False

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setenv(PRINT_QUEUE_ENV, str(tmp_path / "not-ours"))  # never inherited by the kernel
    section = one_cell_section(
        tmp_path,
        "import os\n"
        "import matplotlib.pyplot as plt\n"
        "from cartreport.report import print_queue\n"
        f"print('QUEUE', {PRINT_QUEUE_ENV!r} in os.environ)\n"
        "fig, ax = plt.subplots(figsize=(1, 1))\n"
        "print_queue.submit(fig, 'figures', 'own')\n"
        "print('WRITTEN BY KERNEL', os.path.exists('figures/own.pdf'))",
    )
    kernel = start_kernel(preload=("matplotlib.pyplot",), print_queue=False)
    try:
        [executed] = execute_sections([section], {}, tmp_path / "work", kernel=kernel)
    finally:
        kernel.shutdown()
    text = printed(executed)
    assert "QUEUE False" in text
    assert "WRITTEN BY KERNEL True" in text


def test_the_screen_image_does_not_depend_on_who_writes_the_print_files(tmp_path, monkeypatch):
    """report.html differed from run to run: the kernel drew a figure's screen image either first (its print files
    queued) or after drawing the print files itself (the queue busy), and constrained layout, which starts from
    the last drawing's positions, moved a censor mark by a pixel. The screen image is now always the first
    drawing, and the print files are always drawn from the figure as it was before any drawing."""
    import re

    from cartreport.report import notebook

    shown: list[str] = []
    monkeypatch.setattr(notebook, "display", lambda obj, metadata=None: shown.append(obj.data))
    queue = tmp_path / "queue"
    queue.mkdir()
    monkeypatch.setenv(PRINT_QUEUE_ENV, str(queue))
    notebook.show_figure(km_figure(), "km", str(tmp_path / "queued"))  # queued for the report process
    notebook.show_figure(
        km_figure(), "km_again", str(tmp_path / "here")
    )  # the first still waits: written here
    monkeypatch.delenv(PRINT_QUEUE_ENV)
    notebook.show_figure(km_figure(), "km", "")  # JupyterLab: no print files
    images = [re.search(r"data:image/png;base64,([^\"']+)", page).group(1) for page in shown]
    assert images[0] == images[1] == images[2]
    assert print_queue.write_queued(queue) == ["km"]
    queued = files(tmp_path / "queued" / "figures")
    assert queued == {
        name.replace("km_again", "km"): data for name, data in files(tmp_path / "here" / "figures").items()
    }
