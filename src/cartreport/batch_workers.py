"""Where a batch's reports run — this process, local worker processes or dask.distributed workers — and how a
signal stops them.

Each worker thread keeps one warm report kernel across its reports (``shared/notes/fast-reports.md``). Every
batch has an id; :func:`stop_batch` (called by a signal handler, or run on every dask worker) marks the id
stopped, so that no new report of that batch starts, and kills the kernel of each report running for it: that
report fails within about a second, :func:`cartreport.render.write_atomically` deletes its temporary folder, the
kernel's shutdown deletes the kernel's private folder (with the pickled analysis), and the run is reported as
``interrupted``. Nothing here raises on a signal, so no half-finished step is torn down from the middle.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import InitVar, dataclass
from pathlib import Path

from cartreport.analysis.params import resolve_parameters
from cartreport.errors import CartreportError, KernelError, SectionFailed

__all__ = [
    "ALL_BATCHES",
    "BatchRun",
    "StopOnSignal",
    "in_this_process",
    "on_dask",
    "on_local_processes",
    "run_one",
    "stop_batch",
    "start_local_worker",
    "stop_on_signal",
]

#: :func:`stop_batch` argument: every batch served by this process (a worker that serves one batch only)
ALL_BATCHES = "*"

_KERNELS: dict[int, object] = {}  # thread → its warm report kernel
_RUNNING: dict[int, str] = {}  # thread → the batch whose report it is running
_STOPPED: set[str] = set()  # batches stopped in this process


@dataclass(frozen=True)
class BatchRun:
    """One report of a batch: its name and its parameters.

    The parameters are resolved (:func:`~cartreport.analysis.params.resolve_parameters`) here, once, when the run
    is made (by :func:`cartreport.batch.expand_grid`, so that a bad grid is refused before anything runs); the
    batch's target check and the report itself get them as they are.
    """

    name: str
    parameters: dict
    resolved: InitVar[bool] = False  # True: ``parameters`` come from resolve_parameters already

    def __post_init__(self, resolved: bool) -> None:
        if not resolved:
            object.__setattr__(self, "parameters", resolve_parameters(self.parameters))


def _is_stopped(batch_id: str) -> bool:
    return ALL_BATCHES in _STOPPED or batch_id in _STOPPED


def stop_batch(batch_id: str = ALL_BATCHES) -> None:
    """Start no new report of ``batch_id`` here and kill the kernels of its running reports.

    Safe in a signal handler and from another thread: it sets a flag and sends ``SIGKILL`` to kernel processes.
    """
    _STOPPED.add(batch_id)
    for thread, running in list(_RUNNING.items()):
        kernel = _KERNELS.get(thread)
        if kernel is not None and (batch_id == ALL_BATCHES or running == batch_id):
            kernel.kill()


def release_idle_kernels() -> None:
    """Kill this process's idle warm kernels and delete their private folders (signal-safe, no event loop).

    Run on the workers of a LocalCluster just before it is closed: a worker slow to close is killed outright
    and could not shut its kernels down itself.
    """
    for thread, kernel in list(_KERNELS.items()):
        if thread not in _RUNNING:
            _KERNELS.pop(thread, None)
            kernel.kill()
            shutil.rmtree(kernel.runtime_dir, ignore_errors=True)


def stop_on_signal() -> None:
    """In a worker process: SIGINT and SIGTERM stop its reports (see :func:`stop_batch`) instead of killing it.

    The worker then returns ``interrupted`` rows and exits when its parent closes the pool or cluster, shutting
    its kernel down; no ``KeyboardInterrupt`` traceback. Does nothing outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop_batch(ALL_BATCHES))


def start_local_worker() -> None:
    """Initializer of a local batch's worker processes: signals stop its reports (:func:`stop_on_signal`), and the
    process ends without the interpreter's teardown (:func:`_end_without_teardown`)."""
    from multiprocessing import util

    stop_on_signal()
    # run after the kernel's shutdown, a finalizer of exitpriority 10 (_worker_kernel)
    util.Finalize(None, _end_without_teardown, exitpriority=0)


def _end_without_teardown() -> None:
    """The end of a local worker process, as :func:`cartreport.cli.console` ends the command: its reports are
    written, its kernel shut down (a finalizer run before this one); tearing down the modules a report imports
    (pandas, pyarrow, matplotlib, nbconvert, ...) took about 0.6 s a worker, which the batch waited for after its
    last report. The atexit handlers run and the output is flushed, then ``os._exit``. The worker's exit code is not
    read (the pool tells a worker lost mid-report by its missing result)."""
    import atexit
    import sys

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def print_writer_fits(jobs: int) -> bool:
    """Whether each report of a batch running ``jobs`` at once should write its print files on a thread of its own
    (:func:`cartreport.render.start_kernel`'s ``print_queue``): only when the cores leave one free for each.

    >>> print_writer_fits(1) == ((os.cpu_count() or 1) >= 2)
    True
    """
    return 2 * max(jobs, 1) <= (os.cpu_count() or 1)


def _worker_kernel(print_writer: bool = False):
    """This thread's warm report kernel, started on first use and kept across its reports.

    As measured in the team's notes (fast-reports.md), one kernel per worker kept across reports is about three
    times faster than a fresh kernel per report: imports stay loaded, the namespace is reset between notebooks.
    It is shut down when the worker process exits (``multiprocessing.util.Finalize`` runs there, ``atexit`` in
    the main process).
    """
    import atexit
    from multiprocessing import util

    from cartreport import render

    thread = threading.get_ident()
    kernel = _KERNELS.get(thread)
    if kernel is None or not kernel.is_alive() or (kernel.print_queue is not None) != print_writer:
        if kernel is not None:
            kernel.shutdown()  # a dead kernel still has its private folder
        kernel = _KERNELS[thread] = render.start_kernel(print_queue=print_writer)
        util.Finalize(None, kernel.shutdown, exitpriority=10)
        atexit.register(kernel.shutdown)
    return kernel


def _drop_worker_kernel() -> None:
    """After a failed report the kernel may be mid-cell or broken: the next report gets a new one."""
    kernel = _KERNELS.pop(threading.get_ident(), None)
    if kernel is not None:
        kernel.shutdown()


def _headline(results: dict) -> dict:
    """A finished run's summary row: patients, the level and method of its intervals (runs of one batch may differ
    in them), and each landmark's estimate with its interval."""
    parameters = results["parameters"]
    row: dict = {
        "n": results["n_patients"],
        "ci_level": parameters["ci_level"],
        "ci_method": parameters["ci_method"],
    }
    for key in ("os", "lfs"):
        block = results["endpoints"][key]
        for lm in block["landmarks"]:
            m = lm["months"]
            row[f"{key}_{m}m"] = lm["estimate"]
            row[f"{key}_{m}m_ci_low"] = lm["ci_low"]
            row[f"{key}_{m}m_ci_high"] = lm["ci_high"]
    return row


def interrupted_row(name: str) -> dict:
    """The summary row of a run that a signal stopped (or kept from starting)."""
    return {"name": name, "status": "interrupted", "error": "", "seconds": 0.0}


def run_one(run: BatchRun, output: str, batch_id: str = "", print_writer: bool = False) -> dict:
    """Execute one report; never raises: the outcome is a summary row (status ok/failed/interrupted, error, seconds).

    ``print_writer``: see :func:`print_writer_fits`.
    """
    from cartreport import api
    from cartreport.render.output import remove_if_ours

    if _is_stopped(batch_id):
        return interrupted_row(run.name)
    started = time.perf_counter()
    row = {"name": run.name, "status": "ok", "error": ""}
    kept = Path(output) / f"{run.name}.failed"  # where a failure keeps the notebooks (or beside it)
    thread = threading.get_ident()
    _RUNNING[thread] = batch_id
    try:
        kernel = _worker_kernel(print_writer)
        if _is_stopped(batch_id):  # the signal came while the kernel started
            return interrupted_row(run.name)
        # resolved in BatchRun, the folder checked by run_batch before the first report started
        folder = api.run_resolved_report(run.parameters, Path(output) / run.name, kernel=kernel)
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        row.update(_headline(results))
    except SectionFailed as exc:
        row.update(status="failed", error=f"section {exc.section}: {exc.error}")
        kept = next((p for p in exc.notebook_path.parents if p.parent == Path(output)), kept)
        _drop_worker_kernel()
    except KernelError as exc:  # dead or never ready: the next report gets a new one
        row.update(status="failed", error=str(exc))
        _drop_worker_kernel()
    except CartreportError as exc:  # invalid data or parameters: nothing ran in the kernel
        # the whole message: the validator bounds it (problems.MAX_PER_RULE lines per rule and a count)
        row.update(status="failed", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a batch reports every failure and goes on
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        _drop_worker_kernel()
    finally:
        _RUNNING.pop(thread, None)
    if row["status"] == "failed" and _is_stopped(batch_id):  # its kernel was killed by stop_batch
        _drop_worker_kernel()
        # this run's own notebooks, moved there a moment ago: an interruption is not a failure to debug (a folder
        # of that name that is the user's was left alone, and the notebooks kept beside it)
        remove_if_ours(kept, "failed")
        return interrupted_row(run.name)
    row["seconds"] = round(time.perf_counter() - started, 2)
    return row


class StopOnSignal:
    """While a batch runs: SIGINT and SIGTERM stop it (no exception is raised, the first signal is kept)."""

    def __init__(self, batch_id: str) -> None:
        self.batch_id = batch_id
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, _frame) -> None:
        if self.signum is None:
            self.signum = signum
        stop_batch(self.batch_id)  # a report running in this process (--jobs 1)

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


#: seconds the running reports get, after a signal, to stop and clean up
STOP_GRACE_SECONDS = 30


def _collect(futures: dict, stop: StopOnSignal, on_stop: Callable[[], None]) -> Iterator[dict]:
    """Each future's row as it finishes; after a signal, ``on_stop()`` once and a bounded wait for the rest."""
    from concurrent.futures import CancelledError

    pending = dict(futures)
    deadline = None
    while pending and (deadline is None or time.monotonic() < deadline):
        if stop.signum is not None and deadline is None:
            on_stop()
            deadline = time.monotonic() + STOP_GRACE_SECONDS
        for future in [f for f in pending if f.done()]:
            run = pending.pop(future)
            try:
                yield future.result()
            except CancelledError:
                yield interrupted_row(run.name)
            except Exception as exc:  # noqa: BLE001 - a worker process died (killed, out of memory)
                status = "interrupted" if stop.signum is not None else "failed"
                yield {"name": run.name, "status": status, "error": f"{type(exc).__name__}: {exc}"}
        time.sleep(0.1)


def in_this_process(runs: list[BatchRun], output: str, stop: StopOnSignal) -> Iterator[dict]:
    for run in runs:
        if stop.signum is not None:
            return
        yield run_one(run, output, stop.batch_id, print_writer_fits(1))


def on_local_processes(runs: list[BatchRun], output: str, jobs: int, stop: StopOnSignal) -> Iterator[dict]:
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_local_worker,
    )

    def on_stop() -> None:
        pool.shutdown(wait=False, cancel_futures=True)  # queued reports never start
        for worker in multiprocessing.active_children():  # also when only this process was signalled
            with contextlib.suppress(OSError):
                os.kill(worker.pid, signal.SIGTERM)

    try:
        fits = print_writer_fits(jobs)
        futures = {pool.submit(run_one, run, output, stop.batch_id, fits): run for run in runs}
        yield from _collect(futures, stop, on_stop)
    finally:
        if stop.signum is not None:
            for worker in multiprocessing.active_children():  # still busy after the grace period
                worker.join(timeout=5)
                if worker.is_alive():
                    worker.kill()
        pool.shutdown(wait=True, cancel_futures=True)


def on_dask(
    runs: list[BatchRun], output: str, jobs: int, scheduler: str | None, stop: StopOnSignal
) -> Iterator[dict]:
    from dask.distributed import Client, LocalCluster

    cluster = None
    quieted: dict[str, int] = {}
    if scheduler:
        client = Client(scheduler)
    else:
        quieted = quiet_dask_logs()
        # one thread per worker: each worker runs one report (and one kernel) at a time
        cluster = LocalCluster(
            n_workers=max(jobs, 1), threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
        # our own workers (not those of a shared cluster): a signal to the process group stops, not kills, them
        client.register_plugin(dask_stop_plugin())

    def on_stop() -> None:
        with contextlib.suppress(Exception):
            client.run(stop_batch, stop.batch_id)

    try:
        futures = {
            client.submit(
                run_one,
                run,
                output,
                stop.batch_id,
                key=f"cartreport-{stop.batch_id[:8]}-{run.name}",
                pure=False,
            ): run
            for run in runs
        }
        yield from _collect(futures, stop, on_stop)
        client.cancel(list(futures))
    finally:
        if cluster is not None:  # our workers: their kernels go with them, even if a worker is slow to close
            with contextlib.suppress(Exception):
                client.run(release_idle_kernels)
        client.close()
        if cluster is not None:
            cluster.close()
        for name, level in quieted.items():
            logging.getLogger(name).setLevel(level)


def quiet_dask_logs() -> dict[str, int]:
    """Silence dask's own log records (below CRITICAL) in this process; returns the levels to restore.

    Only for *our own* LocalCluster: its scheduler, nannies and workers log their shutdown (INFO) and, when a
    signal closes their connections mid-send, a ``CommClosedError`` traceback (``logger.exception`` in
    ``distributed.batched``) on the user's terminal. The batch reports every run's outcome itself (summary.csv,
    index.html, one line per failure), so these records carry nothing the user needs.
    """
    names = ["distributed", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]
    previous = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return previous


def dask_stop_plugin():
    """A dask ``WorkerPlugin`` making the workers of *our own* LocalCluster stop on SIGINT/SIGTERM."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class WorkerStopsOnSignal(WorkerPlugin):
        name = "cartreport-stop-on-signal"

        def setup(self, worker) -> None:
            quiet_dask_logs()
            with contextlib.suppress(ValueError):
                stop_on_signal()

    return WorkerStopsOnSignal()
