"""The report kernel: one IPython kernel on private IPC sockets, started early and reused.

:func:`start_kernel` starts it (heavy modules preloaded while the caller does other work);
:class:`_Kernel` connects a client, resets the namespace between notebooks as ``%reset -f`` does, and
always shuts the process down. See ``shared/notes/fast-reports.md``. Only the standard library and two light
modules of cartreport (``kernel_env``, ``report.print_queue``) and ``errors`` are imported at module level. A kernel
that cannot start, or dies outside a notebook cell, is a :class:`~cartreport.errors.KernelError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cartreport.errors import KernelError
from cartreport.kernel_env import PRINT_QUEUE_ENV, SHARED_DIR_ENV
from cartreport.report.print_queue import PROCESS_RC

if TYPE_CHECKING:
    from jupyter_client.asynchronous import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager

__all__ = ["PRELOAD_MODULES", "SHARED_DIR_ENV", "import_seaborn_lean", "start_kernel"]

logger = logging.getLogger(__name__)

#: what to do when the report kernel cannot start: look at the environment it is started in
ENVIRONMENT_HINT = (
    "check the Python environment it runs in (jupyter kernelspec list names it; "
    "python -m ipykernel install --user installs this Python's kernel)"
)

#: Modules imported in the kernel while it boots (missing ones are skipped silently).
PRELOAD_MODULES: tuple[str, ...] = (
    "seaborn",  # first, without scipy.stats: see import_seaborn_lean
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "cartreport.api",
    "cartreport.report.figures",
    "cartreport.report.notebook",
    "cartreport.report.prose",
    "cartreport.report.tables",
)


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


#: what seaborn imports from scipy at import, and the report never uses: a density estimate (scipy.stats, ~0.5 s)
#: and clustermap's linkage (scipy.cluster, with scipy.spatial and scipy.linalg: ~0.15 s)
_SEABORN_SCIPY = ("scipy.stats", "scipy.cluster")


class _LazyHierarchy:
    """``scipy.cluster.hierarchy``, imported when seaborn's clustermap first uses it."""

    def __getattr__(self, name: str) -> Any:
        from scipy.cluster import hierarchy

        return getattr(hierarchy, name)


def import_seaborn_lean() -> None:
    """Import seaborn without scipy.stats and scipy.cluster, unless they are imported already; never raises.

    seaborn imports scipy.stats (~0.5 s, a third of the report kernel's imports) only for its kernel density
    estimate, and falls back to its own copy of it when scipy is absent, a configuration it supports; it imports
    scipy.cluster (~0.15 s) only for clustermap. The report's figures use neither, the report kernel estimates
    nothing (the analysis is handed over) and the report process's print writer only writes figures; so both
    import seaborn as if scipy were absent. Whatever imports scipy.stats later gets it, and clustermap gets
    scipy.cluster's hierarchy when it first draws (seaborn would otherwise say scipy is missing).
    """
    import importlib.util
    import sys

    hidden = [name for name in _SEABORN_SCIPY if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        import seaborn  # noqa: F401
    except Exception:  # noqa: BLE001 - a later import of the report's figures will report it
        pass
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    matrix = sys.modules.get("seaborn.matrix")
    has_scipy = "scipy" in sys.modules or importlib.util.find_spec("scipy") is not None
    if "scipy.cluster" in hidden and getattr(matrix, "_no_scipy", False) and has_scipy:
        matrix.hierarchy = _LazyHierarchy()  # type: ignore[union-attr]
        matrix._no_scipy = False  # type: ignore[union-attr]


def _first_line(exc: BaseException) -> str:
    """An exception in one line: the first line of its message, or its name if it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextlib.contextmanager
def _jupyter_logs_to_debug():
    """While a kernel starts: jupyter_client's own records (on traitlets' logger) go to this module's debug log.

    A failed start is logged there at length (the whole command line, the environment, a traceback) before the
    exception is raised; the :class:`~cartreport.errors.KernelError` says it in one line.
    """
    from traitlets.log import get_logger

    jupyter = get_logger()

    def to_debug(record: logging.LogRecord) -> bool:
        logger.debug("jupyter_client: %s", record.getMessage(), exc_info=record.exc_info)
        return False

    jupyter.addFilter(to_debug)
    try:
        yield
    finally:
        jupyter.removeFilter(to_debug)


def _preload_line(modules: Sequence[str]) -> str:
    """One IPython ``exec_lines`` entry importing ``modules`` (seaborn without scipy.stats), snapshotting
    matplotlib's rcParams, freezing the objects made so far out of the garbage collector's scans
    (:func:`gc.freeze`) and starting the watcher that reads the analysis handed over as soon as it is written
    (:func:`cartreport.render.handoff.prefetch`)."""
    lean = "from cartreport.render.kernel import import_seaborn_lean\nimport_seaborn_lean()\n"
    code = (
        "import importlib as _il, sys as _sys\n"
        f"{lean if 'seaborn' in modules else ''}"
        f"for _m in {tuple(modules)!r}:\n"
        "    try:\n"
        "        _il.import_module(_m)\n"
        "    except Exception:\n"
        "        pass\n"
        "if 'matplotlib' in _sys.modules:\n"
        "    get_ipython()._cartreport_rc = {\n"
        "        _k: _v for _k, _v in _sys.modules['matplotlib'].rcParams.items()\n"
        f"        if _k not in {tuple(sorted(PROCESS_RC))!r}\n"
        "    }\n"
        # The preloaded modules live as long as the kernel: out of the collector's sight, a full collection (which
        # IPython's reset runs between notebooks) scans only what the notebooks made: ~0.002 s instead of ~0.08 s.
        "import gc as _gc\n"
        "_gc.freeze()\n"
        # read each analysis handed over as soon as it is written, while the report process sets up the notebooks;
        # the watcher also ends the kernel when the report process is gone, after deleting the kernel's private
        # folder: ipykernel's own parent poller (started after these lines) would end it first a time in four,
        # leaving the folder, with the hand-off, behind
        "try:\n"
        "    from cartreport.render.handoff import prefetch as _prefetch\n"
        "    if _prefetch() is not None:\n"
        "        from ipykernel.kernelapp import IPKernelApp as _App\n"
        "        if _App.initialized():\n"
        "            _App.instance().poller = None\n"
        "except Exception:\n"
        "    pass\n"
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


async def _answered(kc: AsyncKernelClient, msg_id: str) -> bool:
    """The kernel answered request ``msg_id`` on its shell channel and went idle for it on iopub: both are connected.

    jupyter_client's ``wait_for_ready`` does the same, then waits 0.2 s more for iopub to fall silent; a reused
    client needs no such flush (nbclient reads only the messages of its own requests), so this returns as soon as
    the kernel is ready. False after 1 s without the reply, or 0.2 s without the idle status (sent before iopub was
    subscribed): ask again.
    """
    from queue import Empty

    try:
        while (await kc.shell_channel.get_msg(timeout=1))["parent_header"].get("msg_id") != msg_id:
            pass
        while True:
            msg = await kc.iopub_channel.get_msg(timeout=0.2)
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["msg_type"] == "status"
                and msg["content"].get("execution_state") == "idle"
            ):
                return True
    except Empty:
        return False


class _Kernel:
    """One IPython kernel on private IPC sockets in a temporary directory, and one client."""

    def __init__(
        self, kernel_name: str, cwd: Path | None, preload: Sequence[str], print_queue: bool = True
    ) -> None:
        from jupyter_client.manager import AsyncKernelManager

        self.kernel_name = kernel_name
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="cr-k-"))
        #: files the caller hands to the kernel (cartreport.api shares the validated analysis here)
        self.shared_dir = self.runtime_dir / "shared"
        self.shared_dir.mkdir()
        #: figures the kernel queues for this process to write for print (``cartreport.render.print_writer``);
        #: None: the kernel writes them itself
        self.print_queue: Path | None = self.runtime_dir / "print-queue" if print_queue else None
        if self.print_queue is not None:
            self.print_queue.mkdir()
        transport = "tcp" if os.name == "nt" else "ipc"  # unique path: no port races between processes
        self.km: AsyncKernelManager = AsyncKernelManager(
            kernel_name=kernel_name,
            transport=transport,
            ip=str(self.runtime_dir / "k") if transport == "ipc" else "127.0.0.1",
            connection_file=str(self.runtime_dir / "kernel.json"),
        )
        self.kc: AsyncKernelClient | None = None
        # a folder of its own: never the shared temporary folder, where anyone may plant an
        # ipython_kernel_config.py, a matplotlibrc or a module that '' on sys.path would import
        if cwd is None:
            cwd = self.runtime_dir / "cwd"
            cwd.mkdir()
        self.cwd = cwd
        # In-memory history: no ~/.ipython sqlite file shared (and locked) between parallel kernels.
        extra = ["--HistoryManager.hist_file=:memory:"]
        if preload:
            extra.append(f"--IPKernelApp.exec_lines={_preload_line(preload)}")
        t0 = time.perf_counter()
        try:
            env = {**os.environ, SHARED_DIR_ENV: str(self.shared_dir)}
            env.pop(PRINT_QUEUE_ENV, None)
            if self.print_queue is not None:
                env[PRINT_QUEUE_ENV] = str(self.print_queue)
            with _jupyter_logs_to_debug():
                _run(self.km.start_kernel, cwd=str(cwd), extra_arguments=extra, env=env)
        except Exception as exc:  # no interpreter, no ipykernel, no such kernel spec, ...
            self.shutdown()
            raise KernelError(kernel_name, f"could not start: {_first_line(exc)}", ENVIRONMENT_HINT) from exc
        except BaseException:
            self.shutdown()
            raise
        logger.debug("kernel %s launched in %.2f s", kernel_name, time.perf_counter() - t0)

    def connect(self, timeout: float) -> None:
        """Open the client's channels and wait until the kernel (and its preload) is ready."""

        async def _connect() -> AsyncKernelClient:
            kc = self.km.client()
            kc.start_channels()
            deadline = time.monotonic() + timeout
            try:
                while not await _answered(kc, kc.kernel_info()):
                    if not await self.km.is_alive():
                        raise KernelError(self.kernel_name, "died before it was ready", ENVIRONMENT_HINT)
                    if time.monotonic() > deadline:
                        raise KernelError(
                            self.kernel_name,
                            f"did not answer within {timeout:.0f} s",
                            f"the machine may be too busy: run again; if it happens again, {ENVIRONMENT_HINT}",
                        )
            except BaseException:
                kc.stop_channels()  # the caller's shutdown knows only a client that connected
                raise
            kc.allow_stdin = False
            return kc

        t0 = time.perf_counter()
        self.kc = _run(_connect)
        logger.debug("kernel ready after %.2f s more", time.perf_counter() - t0)

    def reset(self, timeout: float) -> None:
        """Clear the user namespace, close figures, restore rcParams and the working directory."""
        assert self.kc is not None
        kc, km = self.kc, self.km

        async def _reset_while_alive() -> dict:
            # as nbclient does for cells: a kernel killed meanwhile (a batch stopped) fails this within a second
            reply = asyncio.ensure_future(
                kc.execute_interactive(
                    _reset_code(self.cwd),
                    silent=True,
                    store_history=False,
                    timeout=timeout,
                    output_hook=lambda msg: None,
                )
            )
            while not reply.done():
                await asyncio.wait([reply], timeout=0.5)
                if not reply.done() and not await km.is_alive():
                    reply.cancel()
                    with contextlib.suppress(BaseException):
                        await reply
                    raise KernelError(
                        self.kernel_name,
                        "died between two notebooks, while its namespace was being reset",
                        "it may have run out of memory, or been stopped: run the report again",
                    )
            return reply.result()

        content = _run(_reset_while_alive)["content"]
        if content.get("status") != "ok":
            raise KernelError(
                self.kernel_name,
                f"could not be reset between two notebooks: {content.get('ename')}: {content.get('evalue')}",
                f"run the report again; if it happens again, {ENVIRONMENT_HINT}",
            )

    def is_alive(self) -> bool:
        """The kernel process is still running (a warm kernel kept across reports checks before reuse)."""
        try:
            return bool(_run(self.km.is_alive))
        except Exception:  # noqa: BLE001 - any doubt means: start a new one
            return False

    def kill(self) -> None:
        """Kill the kernel process at once; safe in a signal handler and from another thread (one ``kill``).

        A notebook running on it fails within about a second (nbclient checks the kernel's life); call
        :meth:`shutdown` afterwards, which also deletes the private folder.
        """
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        if process is not None:
            with contextlib.suppress(Exception):
                process.kill()

    def shutdown(self) -> None:
        """Stop the client, kill the kernel and delete the IPC files; never raises.

        The process is killed first: jupyter_client's ``shutdown_kernel(now=True)`` sends SIGINT before its kill,
        and a kernel interrupted while it still imports prints a KeyboardInterrupt traceback on the terminal it
        shares with us. The report has nothing to save in the kernel, so nothing is lost by not asking.
        """
        if self.kc is not None:
            with contextlib.suppress(Exception):
                self.kc.stop_channels()
            self.kc = None
        try:
            if self.km.has_kernel:
                self.kill()
                process = getattr(self.km.provisioner, "process", None)
                if process is not None:  # returns as the process ends (the provisioner polls every 0.1 s)
                    with contextlib.suppress(Exception):
                        process.wait(timeout=5)
                _run(self.km.provisioner.wait)  # reaps the process; the manager then holds no kernel
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
    kernel_name: str = "python3",
    preload: Sequence[str] = PRELOAD_MODULES,
    cwd: Path | None = None,
    *,
    print_queue: bool = True,
) -> _Kernel:
    """Start the report kernel now, so that it boots and preloads while the caller does other work.

    ``cartreport run`` calls this before it imports the analysis stack and validates the data, so the
    kernel's start-up (about 0.5 s plus its imports) overlaps with the parent's own. Pass the result to
    :func:`cartreport.render.execute_sections` as ``kernel=``; the caller then owns it and must call
    ``.shutdown()``.

    ``cwd``: the folder the kernel starts in; by default a folder of its own inside its private folder (never the
    shared temporary folder: IPython runs the config files and matplotlib reads the ``matplotlibrc`` it finds in
    the current folder, and ``sys.path`` starts with it).

    ``print_queue``: the kernel hands its figures to the calling process, which writes their print files on a
    thread of its own (:mod:`cartreport.render.print_writer`). That pays when a core is free for the thread (one
    report); when every core already runs a report (a batch with as many jobs as cores), it only costs CPU, and
    ``print_queue=False`` has the kernel write them itself.
    """
    return _Kernel(kernel_name, Path(cwd) if cwd else None, preload, print_queue)
