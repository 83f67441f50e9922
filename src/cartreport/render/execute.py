"""Execute parameterized report notebooks with papermill, in order, on one reused kernel.

:func:`execute_sections` runs each :class:`Section` on a kernel from :mod:`cartreport.render.kernel`
through a papermill engine that reuses its client, and turns a failing cell into
:class:`SectionFailed`. Only the standard library is imported at module level.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cartreport.errors import SectionFailed, SetupError
from cartreport.render.html_report import _import_notebook_stack, _warm_up_exporter
from cartreport.render.kernel import PRELOAD_MODULES, _cancel_pending_tasks, _Kernel
from cartreport.render.print_writer import PrintWriter

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["Section", "SectionFailed", "execute_sections", "warm_up"]

logger = logging.getLogger(__name__)

_ENGINE_NAME = "cartreport-reused-kernel"


@dataclass(frozen=True)
class Section:
    """One report notebook.

    Parameters
    ----------
    name : str
        Notebook stem, used for progress messages and output file names (``"01_design"``).
    path : Path
        The ``.ipynb`` file (with a cell tagged ``parameters``).
    """

    name: str
    path: Path


def warm_up() -> threading.Thread:
    """Import papermill and nbformat and register cartreport's engine on a daemon thread, now; return the thread.

    ``cartreport run`` calls it while it reads and validates the data. With a large cohort the kernel is ready long
    before the analysis ends, and these imports (about 0.25 s) were then the first thing the notebooks waited for;
    much of the reading runs in pyarrow without the GIL, so the imports overlap it. Never raises: a failing import
    is left for :func:`execute_sections` to report.
    """

    def run() -> None:
        try:
            _import_notebook_stack()
            _register_engine()
        except Exception:  # noqa: BLE001 - the run itself imports again and reports the problem
            logger.debug("warming up the notebook machinery failed", exc_info=True)

    thread = threading.Thread(target=run, name="cartreport-warm-up", daemon=True)
    thread.start()
    return thread


def _register_engine() -> str:
    """Register (once) a papermill engine that runs on a caller-owned kernel manager *and* client.

    papermill's default engine makes a new client per notebook (a 0.2 s ready-wait each, and the
    client is never closed when ``km`` is not owned); this one reuses ours.
    """
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.utils import merge_kwargs, remove_args

    if _ENGINE_NAME in papermill_engines._engines:
        return _ENGINE_NAME

    class ReusedKernelEngine(NBClientEngine):
        """papermill engine executing on ``km``/``kc`` passed in by cartreport."""

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: float | None = None,
            **kwargs: Any,
        ) -> Any:
            km = kwargs.pop("km")
            kc = kwargs.pop("kc")
            executed: list[Any] = kwargs.pop("executed")
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                kwargs,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logging.getLogger("papermill"),
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = PapermillNotebookClient(nb_man, km=km, **final_kwargs)
            client.kc = kc
            executed.append(nb_man.nb)
            return client.execute()

    papermill_engines.register(_ENGINE_NAME, ReusedKernelEngine)
    return _ENGINE_NAME


def _one_line(name: str, message: object) -> str:
    """``"ExceptionName: first line of the message"`` (just the name if there is no message)."""
    lines = str(message).strip().splitlines()
    return f"{name}: {lines[0]}" if lines else name


def _first_error(nb: NotebookNode) -> str | None:
    """``"ExceptionName: message"`` of the first error output in ``nb``, if any."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return _one_line(str(output.get("ename", "Error")), output.get("evalue", ""))
    return None


def _forget_machine_paths(nb: NotebookNode, section: Section) -> None:
    """papermill records the notebook's absolute path; a report names it by its file name only."""
    papermill_metadata = nb.metadata.get("papermill", {})
    if papermill_metadata.get("input_path"):
        papermill_metadata["input_path"] = Path(section.path).name


def execute_sections(
    sections: Sequence[Section],
    parameters: dict,
    workdir: Path,
    *,
    progress: Callable[[str], None] | None = None,
    kernel_name: str = "python3",
    timeout: float = 600,
    preload: Sequence[str] = PRELOAD_MODULES,
    kernel: _Kernel | None = None,
) -> list[NotebookNode]:
    """Execute parameterized notebooks in order on one reused kernel.

    One kernel is started (IPC transport, private temporary directory, working directory
    ``workdir``) and kept for all sections; before each notebook its namespace is cleared as by
    ``%reset -f``, open figures are closed, matplotlib's rcParams restored and the working directory
    reset, while imported modules stay cached. ``preload`` modules are imported by the kernel while
    papermill is imported here. The kernel is always shut down (``now=True``), also on Ctrl-C.

    Parameters
    ----------
    sections : sequence of Section
        Notebooks to run, in order.
    parameters : dict
        Injected by papermill after each notebook's ``parameters`` cell (unknown names give a
        papermill warning and are injected anyway).
    workdir : Path
        The kernel's working directory (created if missing); notebooks write ``figures/`` etc. here.
        A failing notebook is saved to ``workdir / "failed" / f"{name}.ipynb"``.
    progress : callable, optional
        Called with one line per section, e.g. ``"[1/3] 01_design ... ok (1.2 s)"``.
    kernel_name : str
        Jupyter kernel spec.
    timeout : float
        Seconds allowed per cell.
    preload : sequence of str
        Modules imported in the kernel at start-up; missing ones are skipped.
    kernel : optional
        A kernel from :func:`start_kernel`, owned by the caller (not shut down here); by default one is
        started here and shut down at the end.

    Returns
    -------
    list of NotebookNode
        The executed notebooks, in the order of ``sections``.

    Raises
    ------
    SetupError
        A notebook of ``sections`` is missing; nothing was started.
    KernelError
        The kernel could not start, or died between two notebooks.
    SectionFailed
        A cell raised (or timed out, or the kernel died); no later section is run.
    """
    missing = [str(section.path) for section in sections if not Path(section.path).is_file()]
    if missing:
        raise SetupError(
            f"the report notebook(s) {', '.join(missing)} are not found",
            "check the notebook folder, or reinstall cartreport (pip install -e . in a checkout)",
        )
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[NotebookNode] = []
    if not sections:
        return results
    owned = kernel is None
    if kernel is None:
        kernel = _Kernel(kernel_name, workdir, preload)
    kernel.cwd = workdir
    # While the kernel boots and preloads, the print writer's thread imports matplotlib and then compiles the HTML
    # template (the latter often while the first notebook runs); this thread imports papermill.
    writer = PrintWriter(kernel.print_queue, warm_up=_warm_up_exporter) if kernel.print_queue else None
    try:
        with writer or contextlib.nullcontext():
            _import_notebook_stack()
            engine = _register_engine()
            if writer is None:
                _warm_up_exporter()
            if kernel.kc is None:
                kernel.connect(timeout=60)
            _execute_each(
                sections, parameters, workdir, kernel, engine, timeout, kernel_name, progress, results
            )
            if writer is not None:
                writer.finish()  # every figure's print files are written before the report is
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.discard()
        raise
    finally:
        if owned:
            kernel.shutdown()
    return results


def _execute_each(
    sections: Sequence[Section],
    parameters: dict,
    workdir: Path,
    kernel: _Kernel,
    engine: str,
    timeout: float,
    kernel_name: str,
    progress: Callable[[str], None] | None,
    results: list[NotebookNode],
) -> None:
    """Run each section on ``kernel`` in order, appending the executed notebooks to ``results``."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    n = len(sections)
    try:
        for i, section in enumerate(sections, start=1):
            t0 = time.perf_counter()
            kernel.reset(timeout=60)
            executed: list[NotebookNode] = []
            try:
                nb = papermill.execute_notebook(
                    str(Path(section.path).resolve()),
                    None,
                    parameters=dict(parameters),
                    engine_name=engine,
                    request_save_on_cell_execute=False,
                    progress_bar=False,
                    kernel_name=kernel_name,
                    execution_timeout=timeout,
                    km=kernel.km,
                    kc=kernel.kc,
                    executed=executed,
                )
            except Exception as exc:  # cell error, cell timeout, dead kernel
                seconds = time.perf_counter() - t0
                if isinstance(exc, PapermillExecutionError):
                    error = _one_line(exc.ename, exc.evalue)
                else:
                    error = (executed and _first_error(executed[0])) or _one_line(type(exc).__name__, exc)
                failed = workdir / "failed" / f"{section.name}.ipynb"
                failed.parent.mkdir(parents=True, exist_ok=True)
                if executed:
                    nbformat.write(executed[0], failed)
                else:  # failed before execution started (e.g. invalid notebook): keep the input
                    shutil.copyfile(section.path, failed)
                line = f"[{i}/{n}] {section.name} ... FAILED ({seconds:.1f} s): {error}"
                if progress is not None:
                    progress(line)
                else:
                    logger.error(line)
                raise SectionFailed(section.name, error, failed) from exc
            _forget_machine_paths(nb, section)
            results.append(nb)
            line = f"[{i}/{n}] {section.name} ... ok ({time.perf_counter() - t0:.1f} s)"
            if progress is not None:
                progress(line)
            else:
                logger.info(line)
    except KeyboardInterrupt:
        _cancel_pending_tasks()
        raise
