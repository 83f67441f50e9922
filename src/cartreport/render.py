"""Execute the report notebooks with one reused kernel and write one self-contained HTML report.

Three steps, each usable alone:

* :func:`execute_sections` runs parameterized notebooks with papermill against **one** IPython kernel
  (started once, namespace reset as ``%reset -f`` does between notebooks, heavy imports preloaded while
  papermill and nbconvert are imported in this process), see ``shared/notes/fast-reports.md``;
* :func:`export_html` merges the executed notebooks and exports one HTML file with our template
  (``templates/cartreport``): no input code, no prompts, a table of contents, nothing loaded from
  the network;
* :func:`write_atomically` builds an output folder beside its final place and swaps it in only when
  the build succeeded, so a failure never destroys the previous good report.

:func:`render_report` combines the three.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager
    from nbconvert import HTMLExporter
    from nbformat import NotebookNode

__all__ = [
    "PRELOAD_MODULES",
    "Section",
    "SectionFailed",
    "execute_sections",
    "export_html",
    "start_kernel",
    "render_report",
    "write_atomically",
]

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "cartreport"

#: Modules imported in the kernel while it boots (missing ones are skipped silently).
PRELOAD_MODULES: tuple[str, ...] = (
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "cartreport.api",
    "cartreport.figures",
    "cartreport.notebook",
    "cartreport.prose",
    "cartreport.tables",
)

#: Cell tags whose cells never reach the HTML.
REMOVE_CELL_TAGS = frozenset({"remove_cell", "parameters", "injected-parameters"})

_ENGINE_NAME = "cartreport-reused-kernel"
#: environment variable naming the kernel's shared folder (see ``_Kernel.shared_dir``)
SHARED_DIR_ENV = "CARTREPORT_SHARED_DIR"
_TOC_PLACEHOLDER = "<!--cartreport:toc-->"
_HEADING_RE = re.compile(r"<h([12])(\s[^>]*)?>(.*?)</h\1>", re.DOTALL | re.IGNORECASE)
_ID_RE = re.compile(r'\sid="([^"]*)"')
_TAG_RE = re.compile(r"<[^>]+>")
_EXTERNAL_RE = re.compile(  # resources a browser would fetch: anything but a data: URI
    r"""<(?:img|script|link|iframe|source|video|audio)\b[^>]*?\s(?:src|href)=["'](?!data:)([^"']+)""",
    re.IGNORECASE,
)
_MD_HEADING_RE = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


class SectionFailed(Exception):
    """A report notebook raised an error in one of its cells.

    Parameters
    ----------
    section : str
        Notebook stem, e.g. ``"02_responses"``.
    error : str
        One line, ``"ExceptionName: message"``.
    notebook_path : Path
        The executed notebook, kept with the failing cell's traceback.
    """

    def __init__(self, section: str, error: str, notebook_path: Path) -> None:
        super().__init__(section, error, notebook_path)
        self.section = section
        self.error = error
        self.notebook_path = Path(notebook_path)

    def __str__(self) -> str:
        return f"section {self.section!r} failed: {self.error} (notebook kept at {self.notebook_path})"


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


# ----------------------------------------------------------------------------------------------------
# Kernel
# ----------------------------------------------------------------------------------------------------


def _run(coroutine_function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a coroutine function on the per-thread event loop that nbclient also uses."""
    from jupyter_core.utils import run_sync

    return run_sync(coroutine_function)(*args, **kwargs)


def _cancel_pending_tasks() -> None:
    """After Ctrl-C: cancel nbclient's interrupted tasks so they do not fail noisily later."""
    with contextlib.suppress(Exception):
        from jupyter_core.utils import ensure_event_loop

        loop = ensure_event_loop()
        if loop.is_running():
            return
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _preload_line(modules: Sequence[str]) -> str:
    """One IPython ``exec_lines`` entry importing ``modules`` and snapshotting matplotlib's rcParams."""
    code = (
        "import importlib as _il, sys as _sys\n"
        f"for _m in {tuple(modules)!r}:\n"
        "    try:\n"
        "        _il.import_module(_m)\n"
        "    except Exception:\n"
        "        pass\n"
        "if 'matplotlib' in _sys.modules:\n"
        "    get_ipython()._cartreport_rc = {\n"
        "        _k: _v for _k, _v in _sys.modules['matplotlib'].rcParams.items()\n"
        "        if _k not in ('backend', 'backend_fallback', 'interactive')\n"
        "    }\n"
    )
    return f"exec({code!r})"


def _reset_code(cwd: Path) -> str:
    """Code run silently before each notebook: a fresh namespace, imports stay cached."""
    return (
        "import os as _os, sys as _sys, warnings as _w\n"
        f"_os.chdir({str(cwd)!r})\n"
        "if 'matplotlib.pyplot' in _sys.modules:\n"
        "    _sys.modules['matplotlib.pyplot'].close('all')\n"
        "    if hasattr(get_ipython(), '_cartreport_rc'):\n"
        "        with _w.catch_warnings():\n"
        "            _w.simplefilter('ignore')\n"
        "            _sys.modules['matplotlib'].rcParams.update(get_ipython()._cartreport_rc)\n"
        "get_ipython().reset(new_session=True)  # %reset -f, and In[1] again\n"
    )


class _Kernel:
    """One IPython kernel on private IPC sockets in a temporary directory, and one client."""

    def __init__(self, kernel_name: str, cwd: Path, preload: Sequence[str]) -> None:
        from jupyter_client.manager import AsyncKernelManager

        self.runtime_dir = Path(tempfile.mkdtemp(prefix="cr-k-"))
        #: files the caller hands to the kernel (cartreport.api shares the validated analysis here)
        self.shared_dir = self.runtime_dir / "shared"
        self.shared_dir.mkdir()
        transport = "tcp" if os.name == "nt" else "ipc"  # unique path: no port races between processes
        self.km: AsyncKernelManager = AsyncKernelManager(
            kernel_name=kernel_name,
            transport=transport,
            ip=str(self.runtime_dir / "k") if transport == "ipc" else "127.0.0.1",
            connection_file=str(self.runtime_dir / "kernel.json"),
        )
        self.kc: AsyncKernelClient | None = None
        self.cwd = cwd
        # In-memory history: no ~/.ipython sqlite file shared (and locked) between parallel kernels.
        extra = ["--HistoryManager.hist_file=:memory:"]
        if preload:
            extra.append(f"--IPKernelApp.exec_lines={_preload_line(preload)}")
        t0 = time.perf_counter()
        try:
            env = {**os.environ, SHARED_DIR_ENV: str(self.shared_dir)}
            _run(self.km.start_kernel, cwd=str(cwd), extra_arguments=extra, env=env)
        except BaseException:
            self.shutdown()
            raise
        logger.debug("kernel %s launched in %.2f s", kernel_name, time.perf_counter() - t0)

    def connect(self, timeout: float) -> None:
        """Open the client's channels and wait until the kernel (and its preload) is ready."""

        async def _connect() -> AsyncKernelClient:
            kc = self.km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=timeout)
            kc.allow_stdin = False
            return kc

        t0 = time.perf_counter()
        self.kc = _run(_connect)
        logger.debug("kernel ready after %.2f s more", time.perf_counter() - t0)

    def reset(self, timeout: float) -> None:
        """Clear the user namespace, close figures, restore rcParams and the working directory."""
        assert self.kc is not None
        reply = _run(
            self.kc.execute_interactive,
            _reset_code(self.cwd),
            silent=True,
            store_history=False,
            timeout=timeout,
            output_hook=lambda msg: None,
        )
        content = reply["content"]
        if content.get("status") != "ok":
            raise RuntimeError(f"could not reset the kernel: {content.get('ename')}: {content.get('evalue')}")

    def shutdown(self) -> None:
        """Stop the client, kill the kernel (``now=True``) and delete the IPC files; never raises."""
        if self.kc is not None:
            with contextlib.suppress(Exception):
                self.kc.stop_channels()
            self.kc = None
        try:
            if self.km.has_kernel:
                _run(self.km.shutdown_kernel, now=True)
        except BaseException:  # also a second Ctrl-C: the process must not outlive us
            logger.warning("kernel shutdown failed; killing the process", exc_info=True)
            process = getattr(getattr(self.km, "provisioner", None), "process", None)
            if process is not None:
                with contextlib.suppress(Exception):
                    process.kill()
                    process.wait(timeout=5)
        finally:
            with contextlib.suppress(Exception):
                _run(self.km.cleanup_resources)
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


def start_kernel(
    kernel_name: str = "python3", preload: Sequence[str] = PRELOAD_MODULES, cwd: Path | None = None
) -> _Kernel:
    """Start the report kernel now, so that it boots and preloads while the caller does other work.

    ``cartreport run`` calls this before it imports the analysis stack and validates the data, so the
    kernel's start-up (about 0.5 s plus its imports) overlaps with the parent's own. Pass the result to
    :func:`execute_sections` as ``kernel=``; the caller then owns it and must call ``.shutdown()``.
    """
    return _Kernel(kernel_name, Path(cwd or tempfile.gettempdir()), preload)


def _import_notebook_stack() -> None:
    """Import nbformat without the ~1.2 s that ``rfc3987_syntax`` spends compiling Lark grammars.

    nbformat imports jsonschema, whose format module eagerly imports ``rfc3987_syntax`` (installed
    through ``jsonschema[format-nongpl]``, python-jsonschema/jsonschema#1428) only to offer an
    ``iri`` format check that no notebook schema uses. Hiding it for the first import of jsonschema
    in this process skips that check; nothing else changes. A no-op once jsonschema is imported.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        import nbformat  # noqa: F401
    finally:
        if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
            del sys.modules["rfc3987_syntax"]


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
    SectionFailed
        A cell raised (or timed out, or the kernel died); no later section is run.
    """
    missing = [str(section.path) for section in sections if not Path(section.path).is_file()]
    if missing:
        raise FileNotFoundError(f"report notebook(s) not found: {', '.join(missing)}")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    n = len(sections)
    results: list[NotebookNode] = []
    if n == 0:
        return results
    owned = kernel is None
    if kernel is None:
        kernel = _Kernel(kernel_name, workdir, preload)
    kernel.cwd = workdir
    try:
        # While the kernel boots and preloads: import papermill, compile the HTML template.
        _import_notebook_stack()
        import nbformat
        import papermill
        from papermill.exceptions import PapermillExecutionError

        engine = _register_engine()
        _warm_up_exporter()
        if kernel.kc is None:
            kernel.connect(timeout=60)
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
                logger.error(line)
                if progress is not None:
                    progress(line)
                raise SectionFailed(section.name, error, failed) from exc
            results.append(nb)
            line = f"[{i}/{n}] {section.name} ... ok ({time.perf_counter() - t0:.1f} s)"
            logger.info(line)
            if progress is not None:
                progress(line)
    except KeyboardInterrupt:
        _cancel_pending_tasks()
        raise
    finally:
        if owned:
            kernel.shutdown()
    return results


# ----------------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------------

_exporter: HTMLExporter | None = None
_exporter_lock = threading.Lock()


def _get_exporter() -> HTMLExporter:
    """The module's one ``HTMLExporter`` (template compiled once; ~0.01 s per later export)."""
    global _exporter
    if _exporter is None:
        _import_notebook_stack()
        from nbconvert import HTMLExporter
        from traitlets.config import Config

        config = Config()
        config.TagRemovePreprocessor.enabled = True
        config.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_CELL_TAGS)
        config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove_output"}
        config.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
        _exporter = HTMLExporter(
            config=config,
            template_name=TEMPLATE_NAME,
            extra_template_basedirs=[str(TEMPLATES_DIR)],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            embed_images=True,
        )
    return _exporter


def _warm_up_exporter() -> None:
    """Build the exporter and compile its template (~0.2 s) on an empty notebook; never raises."""
    try:
        import nbformat

        with _exporter_lock:
            _get_exporter().from_notebook_node(
                nbformat.v4.new_notebook(), resources={"metadata": {"name": ""}}
            )
    except Exception:  # the real export will report the problem
        logger.debug("HTML exporter warm-up failed", exc_info=True)


def _merge(notebooks: Sequence[NotebookNode]) -> NotebookNode:
    """One notebook holding the cells of all ``notebooks`` (code cells without output dropped)."""
    import copy

    import nbformat

    merged = nbformat.v4.new_notebook()
    if notebooks:
        merged.metadata = copy.deepcopy(notebooks[0].metadata)
        merged.metadata.pop("papermill", None)
    for k, nb in enumerate(notebooks):
        heading = ""
        for j, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                found = _MD_HEADING_RE.findall(cell.source)
                heading = found[-1].strip() if found else heading
            if cell.cell_type == "code" and not cell.get("outputs"):
                continue
            cell = copy.deepcopy(cell)
            cell["id"] = f"s{k}-c{j}"  # ids must be unique in the merged notebook
            if cell.cell_type == "code" and "alt" not in cell.metadata:
                # nbconvert's alt text comes from output or cell metadata; default to the section heading
                cell.metadata["alt"] = f"Figure: {heading}" if heading else "Figure"
            merged.cells.append(cell)
    return merged


def _slug(text: str) -> str:
    return re.sub(r"\s+", "-", text.strip()) or "section"


def _add_toc(body: str) -> str:
    """Give every h1/h2 after the placeholder a unique id and put a table of contents there."""
    head, sep, rest = body.partition(_TOC_PLACEHOLDER)
    if not sep:
        return body
    seen: dict[str, int] = {}
    entries: list[tuple[int, str, str]] = []

    def visit(match: re.Match[str]) -> str:
        level, attrs, inner = int(match.group(1)), match.group(2) or "", match.group(3)
        text = html.unescape(_TAG_RE.sub("", inner)).replace("\u00b6", "").strip()
        found = _ID_RE.search(attrs)
        old = found.group(1) if found else None
        anchor = old or html.escape(_slug(text), quote=True)
        seen[anchor] = seen.get(anchor, 0) + 1
        if seen[anchor] > 1:
            anchor = f"{anchor}-{seen[anchor]}"
        if old is not None:
            attrs = _ID_RE.sub(f' id="{anchor}"', attrs, count=1)
            inner = inner.replace(f'href="#{old}"', f'href="#{anchor}"')
        else:
            attrs = f' id="{anchor}"{attrs}'
        entries.append((level, anchor, text))
        return f"<h{level}{attrs}>{inner}</h{level}>"

    rest = _HEADING_RE.sub(visit, rest)
    if not entries:
        return head + rest
    lines = ['<nav class="toc" aria-label="Contents">', '<p class="toc-title">Contents</p>', "<ol>"]
    open_sub = False
    top = min(level for level, _, _ in entries)
    for level, anchor, text in entries:
        item = f'<li><a href="#{anchor}">{html.escape(text)}</a>'
        if level > top:
            if not open_sub:
                lines.append("<ol>")
                open_sub = True
            lines.append(item + "</li>")
            continue
        if open_sub:
            lines.append("</ol></li>")
            open_sub = False
        elif len(lines) > 3:
            lines[-1] += "</li>"
        lines.append(item)
    lines.append("</ol></li>" if open_sub else "</li>")
    lines += ["</ol>", "</nav>"]
    return head + "\n".join(lines) + rest


def export_html(notebooks: Sequence[NotebookNode], title: str, *, base_dir: Path | None = None) -> str:
    """Merge executed notebooks into one self-contained HTML report.

    Input code and prompts are left out; cells tagged ``remove_cell`` (and the ``parameters`` /
    ``injected-parameters`` cells) are dropped, ``remove_input`` / ``remove_output`` honoured. Figures
    are embedded as base64 PNG/SVG; the template (``templates/cartreport``, based on nbconvert's
    ``basic``) inlines our CSS and loads nothing from the network. A table of contents of the h1/h2
    headings (markdown cells and markdown outputs) is placed at the top.

    Parameters
    ----------
    notebooks : sequence of NotebookNode
        Executed notebooks, in report order.
    title : str
        Report title (``<title>`` and the header line).
    base_dir : Path, optional
        Folder that relative image paths in markdown cells (``![](figures/km.png)``) refer to; such
        images are embedded as base64. Defaults to the current directory.

    Returns
    -------
    str
        The complete HTML document.
    """
    merged = _merge(notebooks)
    resources = {"metadata": {"name": title, "path": str(base_dir) if base_dir is not None else ""}}
    with _exporter_lock:
        body, _ = _get_exporter().from_notebook_node(merged, resources=resources)
    external = sorted(set(_EXTERNAL_RE.findall(body)))
    if external:  # e.g. a markdown image from the web, or a missing local file
        logger.warning("report.html is not self-contained, it refers to: %s", ", ".join(external))
    return _add_toc(body)


# ----------------------------------------------------------------------------------------------------
# Output folder
# ----------------------------------------------------------------------------------------------------


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _keep_failed(failed: Path, failed_sibling: Path, exc: BaseException) -> None:
    """Move ``failed`` to ``failed_sibling`` (replacing an older one) and point ``exc`` there."""
    _remove(failed_sibling)  # from an earlier run: would be mistaken for this failure
    if not failed.is_dir():
        return
    failed = failed.resolve()
    os.replace(failed, failed_sibling)
    logger.error("failing notebooks kept in %s", failed_sibling)
    if isinstance(exc, SectionFailed) and failed in exc.notebook_path.resolve().parents:
        moved = failed_sibling / exc.notebook_path.resolve().relative_to(failed)
        exc.notebook_path = moved
        exc.args = (exc.section, exc.error, moved)


@contextlib.contextmanager
def _tmp_beside(output_dir: Path) -> Iterator[Path]:
    tmp = output_dir.with_name(f".{output_dir.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()  # not mkdtemp: the report folder gets the usual umask permissions, not 0700
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_atomically(build: Callable[[Path], None], output_dir: Path) -> Path:
    """Build an output folder beside ``output_dir`` and swap it in only if ``build`` succeeds.

    ``build(tmp)`` fills a fresh folder ``<parent>/.<name>.tmp-<random>``. On success the old
    ``output_dir`` (if any) is renamed to ``.<name>.trash-<random>``, the new folder renamed into
    place and the old one deleted; a stale ``<name>.failed`` sibling is removed. On any exception
    (also Ctrl-C) the temporary folder is deleted, except its ``failed/`` subfolder which is moved to
    ``<output_dir>.failed/`` for debugging, and the exception re-raised; ``output_dir`` is untouched.

    Parameters
    ----------
    build : callable
        Writes the whole report into the folder it is given.
    output_dir : Path
        Final folder; its parent is created if needed.

    Returns
    -------
    Path
        ``output_dir`` as an absolute path.
    """
    output_dir = Path(os.path.abspath(output_dir))
    if not output_dir.name:
        raise ValueError(f"output_dir cannot be a file-system root: {output_dir}")
    if output_dir.exists() and not output_dir.is_dir():
        raise NotADirectoryError(f"output_dir exists and is not a folder: {output_dir}")
    if Path.cwd() == output_dir or output_dir in Path.cwd().parents:
        raise ValueError(f"output_dir must not contain the current working directory: {output_dir}")
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    failed_sibling = output_dir.with_name(output_dir.name + ".failed")
    with _tmp_beside(output_dir) as tmp:
        try:
            build(tmp)
        except BaseException as exc:
            try:
                _keep_failed(tmp / "failed", failed_sibling, exc)
            except OSError:  # never hide the build's own exception
                logger.exception("could not keep the failing notebooks")
            raise
        trash = output_dir.with_name(f".{output_dir.name}.trash-{uuid.uuid4().hex[:8]}")
        had_old = output_dir.exists()
        if had_old:
            os.rename(output_dir, trash)
        try:
            os.rename(tmp, output_dir)
        except BaseException:
            if had_old:
                os.rename(trash, output_dir)
            raise
    if had_old:
        _remove(trash)
    _remove(failed_sibling)
    logger.info("report written to %s", output_dir)
    return output_dir


def render_report(
    sections: Sequence[Section],
    parameters: dict,
    output_dir: Path,
    title: str,
    progress: Callable[[str], None] | None = None,
    *,
    kernel_name: str = "python3",
    timeout: float = 600,
) -> Path:
    """Execute the sections and write the report folder atomically.

    The kernel's working directory is the temporary build folder, so whatever the notebooks write
    (``figures/``, ``tables/``, ``results.json``) ends up in the report. The folder also receives
    ``notebooks/<name>.ipynb`` (executed) and ``report.html``.

    Parameters
    ----------
    sections, parameters, progress, kernel_name, timeout
        As for :func:`execute_sections`.
    output_dir : Path
        Final report folder, replaced only when everything succeeded.
    title : str
        Report title.

    Returns
    -------
    Path
        ``output_dir`` (absolute).

    Raises
    ------
    SectionFailed
        With ``notebook_path`` inside ``<output_dir>.failed/``.
    """

    def build(tmp: Path) -> None:
        notebooks = execute_sections(
            sections, parameters, tmp, progress=progress, kernel_name=kernel_name, timeout=timeout
        )
        import nbformat  # after the kernel start: imported while it boots

        (tmp / "notebooks").mkdir(exist_ok=True)
        for section, nb in zip(sections, notebooks, strict=True):
            nbformat.write(nb, tmp / "notebooks" / f"{section.name}.ipynb")
        (tmp / "report.html").write_text(export_html(notebooks, title, base_dir=tmp), encoding="utf-8")

    return write_atomically(build, output_dir)
