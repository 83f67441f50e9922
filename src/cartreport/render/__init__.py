"""Execute the report notebooks with one reused kernel and write one self-contained HTML report.

Three steps, each usable alone:

* :func:`execute_sections` runs parameterized notebooks with papermill against **one** IPython kernel
  (started once, namespace reset as ``%reset -f`` does between notebooks, heavy imports preloaded while
  papermill and nbconvert are imported in this process), see ``shared/notes/fast-reports.md``;
* :func:`export_html` merges the executed notebooks and exports one HTML file with our template
  (``templates/cartreport``): no input code, no prompts, a table of contents, nothing loaded from
  the network;
* :func:`write_docx` writes the same report as Word (``report.docx``), figures at print resolution;
* :func:`write_atomically` builds an output folder beside its final place and swaps it in only when
  the build succeeded, so a failure never destroys the previous good report.

:func:`render_report` combines them; ``cartreport.api.run_report`` calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from cartreport.render.execute import Section, execute_sections
from cartreport.render.html_report import REMOVE_CELL_TAGS, TEMPLATES_DIR, export_html
from cartreport.render.kernel import PRELOAD_MODULES, SHARED_DIR_ENV, start_kernel
from cartreport.render.output import check_output_folder, write_atomically
from cartreport.render.word import write_docx

__all__ = [
    "PRELOAD_MODULES",
    "REMOVE_CELL_TAGS",
    "SHARED_DIR_ENV",
    "TEMPLATES_DIR",
    "Section",
    "check_output_folder",
    "execute_sections",
    "export_html",
    "render_report",
    "start_kernel",
    "write_atomically",
    "write_docx",
]


def render_report(
    sections: Sequence[Section],
    parameters: dict,
    output_dir: Path,
    title: str,
    progress: Callable[[str], None] | None = None,
    *,
    kernel_name: str = "python3",
    timeout: float = 600,
    kernel=None,
    prepare: Callable[[Path], None] | None = None,
    inputs: Iterable[str | Path] = (),
) -> Path:
    """Execute the sections and write the report folder atomically.

    The kernel's working directory is the temporary build folder, so whatever the notebooks write
    (``figures/``, ``tables/``) ends up in the report; ``results.json`` is written by the caller's ``prepare``
    (:func:`cartreport.api.run_report` starts writing it before the notebooks run and waits for it after), not by
    the notebooks. The folder also receives
    ``notebooks/<name>.ipynb`` (executed), ``report.html`` and ``report.docx``.

    Parameters
    ----------
    sections, parameters, progress, kernel_name, timeout, kernel
        As for :func:`execute_sections`.
    output_dir : Path
        Final report folder, replaced only when everything succeeded.
    title : str
        Report title.
    prepare : callable, optional
        Called with the build folder before any notebook runs (``run_report`` writes ``results.json`` there). It
        may return a callable, called once the notebooks have run (``run_report`` waits there for
        ``results.json``, written while they run).
    inputs : paths
        As for :func:`write_atomically` (files the report is made from, never inside ``output_dir``).

    Returns
    -------
    Path
        ``output_dir`` (absolute).

    Raises
    ------
    cartreport.errors.SectionFailed
        With ``notebook_path`` inside ``<output_dir>.failed/``.
    """

    def build(tmp: Path) -> None:
        finish = prepare(tmp) if prepare is not None else None
        notebooks = execute_sections(
            sections,
            parameters,
            tmp,
            progress=progress,
            kernel_name=kernel_name,
            timeout=timeout,
            kernel=kernel,
        )
        if finish is not None:
            finish()
        import nbformat  # after the kernel start: imported while it boots

        (tmp / "notebooks").mkdir(exist_ok=True)
        for section, nb in zip(sections, notebooks, strict=True):
            nbformat.write(nb, tmp / "notebooks" / f"{section.name}.ipynb")
        (tmp / "report.html").write_text(export_html(notebooks, title, base_dir=tmp), encoding="utf-8")
        write_docx(notebooks, title, tmp / "report.docx", base_dir=tmp)

    return write_atomically(build, output_dir, inputs=inputs)
