"""The hand-off of one analysis from ``cartreport run`` to the report kernel: one explicit handle.

``cartreport run`` resolves the parameters and analyses the data once, in its own process, then pickles the
analysis with the parameters it gives the notebooks into the kernel's private folder (named by the kernel's
``CARTREPORT_SHARED_DIR`` environment variable) and injects its **handle** (the file's stem, never a path of the
user's machine) as the notebook parameter ``analysis_handle``. A notebook asks for its analysis in one line,
``analysis = api.analysis_for(globals())``:

* with a handle, the analysis handed over is returned, and a notebook whose parameters differ from the ones it was
  computed for is refused (:class:`~cartreport.errors.HandoffError`): the report can never disagree with
  ``results.json``; nothing is recomputed;
* without one (the notebook opened in JupyterLab), the analysis is computed from the parameters cell.
"""

from __future__ import annotations

import os
import pickle
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cartreport.analysis.params import PARAMETERS
from cartreport.errors import HandoffError
from cartreport.kernel_env import SHARED_DIR_ENV

if TYPE_CHECKING:
    from cartreport.analysis.results import Analysis

__all__ = ["HANDLE_PARAMETER", "notebook_parameters", "prefetch", "receive", "share"]

#: the one parameter papermill injects besides the report's own: which analysis to use
HANDLE_PARAMETER = "analysis_handle"

#: a warm kernel serves one report at a time: the handle last received and its (parameters, analysis)
_RECEIVED: dict[str, tuple[dict, Analysis]] = {}
#: the hand-off :func:`prefetch` read ahead, by handle; ``_reading`` is held while it reads one
_PREFETCHED: dict[str, tuple[dict, Analysis]] = {}
_reading = threading.Lock()


def notebook_parameters(namespace: Mapping) -> dict:
    """The report parameters a notebook's namespace holds (its parameters cell, after papermill's injection).

    >>> notebook_parameters({"ci_method": "log", "analysis_handle": "", "results": None})
    {'ci_method': 'log'}
    """
    return {p.name: namespace[p.name] for p in PARAMETERS if p.name in namespace}


def share(analysis: Analysis, kernel_parameters: Mapping, folder: Path, *, whole: bool = False) -> str:
    """Hand ``analysis``, computed for ``kernel_parameters``, to the kernel whose private folder is ``folder``:
    what the shipped notebooks read of it (:meth:`~cartreport.analysis.results.Analysis.for_notebooks`), or all of
    it with ``whole=True`` (notebooks cartreport does not ship, which may read anything).

    Earlier hand-offs in the folder are removed (a warm kernel serves one report at a time). Returns the new
    handle, to be injected as ``analysis_handle``; the file is written under a temporary name and renamed, so a
    kernel never reads half of it.
    """
    for old in Path(folder).glob("*.pkl"):
        old.unlink()
    handle = uuid.uuid4().hex  # a new handle for every report: a warm kernel never reuses an earlier analysis
    tmp = Path(folder) / f"{handle}.tmp"
    with open(tmp, "wb") as stream:
        pickler = _Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dump((dict(kernel_parameters), analysis if whole else analysis.for_notebooks()))
    packed = pickler.packed
    del pickler  # its memo holds what it pickled
    if packed:
        _release_arrow_memory()
    tmp.replace(Path(folder) / f"{handle}.pkl")
    return handle


#: a table with at least this many rows has its patient_ids handed over as one pyarrow array (:class:`_Pickler`);
#: a smaller one as pickle writes it, without importing pyarrow in the kernel
PACKED_ROWS = 100_000


class _Pickler(pickle.Pickler):
    """pickle, but a large table's ``patient_id`` column goes as one pyarrow array of strings: pickle writes a
    million different strings one by one, remembering each (1,000,000 patients: 0.15 s of the hand-off's 0.25 s);
    pyarrow takes them as one buffer. The kernel makes them Python strings again (:func:`_table_with_ids`): the
    same table, column by column. ``packed``: whether it packed a table (and so used pyarrow's memory)."""

    packed = False

    def reducer_override(self, obj):
        import pandas as pd

        if not (
            isinstance(obj, pd.DataFrame)
            and len(obj) >= PACKED_ROWS
            and "patient_id" in obj.columns
            and obj.columns.is_unique
            and obj["patient_id"].dtype == object
        ):
            return NotImplemented
        import pyarrow as pa

        try:
            ids = pa.array(obj["patient_id"].to_numpy(), type=pa.string())  # None → null → None
        except (pa.ArrowException, UnicodeEncodeError):  # not all text: as pickle writes it
            return NotImplemented
        arrays = [ids if name == "patient_id" else obj[name].array for name in obj.columns]
        self.packed = True
        return _table_with_ids, (arrays, obj.columns, obj.index, obj.attrs)


def _table_with_ids(arrays: list, columns, index, attrs: dict):
    """The table :class:`_Pickler` handed over, from its columns' arrays: ``patient_id`` made Python strings
    again."""
    import numpy as np
    import pandas as pd

    position = columns.get_loc("patient_id")
    arrays[position] = np.asarray(arrays[position].to_numpy(zero_copy_only=False), dtype=object)
    _release_arrow_memory()  # the ids' buffer, now Python strings
    table = pd.DataFrame(dict(enumerate(arrays)), index=index, copy=False)
    table.columns = columns
    table.attrs = attrs
    return table


def _release_arrow_memory() -> None:
    """Hand what pyarrow freed back to the system: its memory pool keeps freed memory for reuse, which neither
    process uses again while the report runs (each holds its memory while the other needs its own)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _load(path: Path) -> tuple[dict, Analysis]:
    with open(path, "rb") as stream:
        return pickle.load(stream)  # noqa: S301 - our parent process wrote it, in the kernel's private folder


def _report_process_gone(report_process: int | None, parent: int) -> bool:
    """Whether the process that started this kernel has ended. Launched directly (``parent``, the kernel's parent
    when it started, is the report process), the kernel's parent changes the moment it ends. Launched through a
    wrapper (a kernel spec running a shell script or ``conda run``), the parent is the wrapper: the report process
    named by jupyter_client is then looked for itself (``os.kill(pid, 0)``; once its own parent has reaped it)."""
    if report_process is None or report_process == parent:
        return os.getppid() != parent
    return _ended(report_process)


def _ended(pid: int) -> bool:
    """Whether process ``pid`` has ended: gone, or dead and not yet reaped by its parent (a zombie, which
    ``os.kill(pid, 0)`` still finds: a report process killed while its kernel booted, whose parent waits for the
    output pipes the kernel holds too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, but is another user's
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:  # "pid (name) state ...", the name may hold ")"
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):  # no /proc (macOS): a zombie is taken for a live process
        return False


def _orphaned(shared: Path) -> None:
    """The report process that started this kernel was killed (kill -9, out of memory, a lost dask worker): nothing
    else will delete the kernel's private folder, which holds the analysis handed over (the patient table). Delete
    it, and end the kernel, as ipykernel would on finding its parent gone (a second later)."""
    import shutil

    runtime = shared.parent
    if shared.name == "shared" and runtime.name.startswith("cr-k-"):  # made by render.kernel, nothing else
        shutil.rmtree(runtime, ignore_errors=True)
    os._exit(1)


def prefetch(poll_seconds: float = 0.01, idle_seconds: float = 0.25) -> threading.Thread | None:
    """In a report kernel: read each analysis handed to it as soon as its file appears, on a daemon thread; ``None``
    (nothing started) outside one (no private folder named by :data:`~cartreport.kernel_env.SHARED_DIR_ENV`).

    The kernel is idle while ``cartreport run`` analyses the data and then sets up the notebooks; reading the
    hand-off then costs the first notebook nothing (a million patients: 0.26 s). :func:`receive` takes what was
    read, or waits while it is being read. A new hand-off replaces the one read before it (a warm kernel serves one
    report at a time). The folder is looked at every ``poll_seconds`` until a first hand-off is read, then every
    ``idle_seconds``: the next one comes only once that report is over, and the notebooks it runs meanwhile keep the
    interpreter to themselves. A kernel whose report process is gone deletes its private folder (:func:`_orphaned`).
    """
    folder = os.environ.get(SHARED_DIR_ENV)
    if not folder or not Path(folder).is_dir():
        return None
    # the report process: jupyter_client names it to the kernel it launches (ipykernel watches it too; on Windows
    # the variable holds a handle, not a process id)
    named = os.environ.get("JPY_PARENT_PID", "") if os.name != "nt" else ""
    report_process = int(named) if named.isdigit() else None
    parent = os.getppid()

    def watch() -> None:
        seen: set[str] = set()
        while True:
            if _report_process_gone(report_process, parent):  # without shutting this kernel down
                _orphaned(Path(folder))
            try:
                names = sorted(os.listdir(folder))
            except OSError:  # the kernel's private folder is gone: the kernel is shutting down
                return
            for name in names:
                handle, suffix = os.path.splitext(name)
                if suffix != ".pkl" or handle in seen:
                    continue
                seen.add(handle)
                with _reading:
                    if handle in _RECEIVED:  # the notebook asked first and read it itself
                        continue
                    try:
                        received = _load(Path(folder) / name)
                    except Exception:  # noqa: BLE001 - replaced meanwhile, or unreadable: read (or raised) when asked
                        continue  # the watcher goes on: it alone ends the kernel if the report process is gone
                    _PREFETCHED.clear()
                    _RECEIVED.clear()  # the report before it is over
                    _PREFETCHED[handle] = received
            time.sleep(idle_seconds if seen else poll_seconds)

    thread = threading.Thread(target=watch, name="cartreport-hand-off", daemon=True)
    thread.start()
    return thread


def receive(handle: str, parameters: Mapping) -> Analysis:
    """The analysis handed over as ``handle``; refused when ``parameters`` are not the ones it was computed for.

    Raises
    ------
    HandoffError
        The kernel has no private folder (not started by cartreport), the handle names no analysis there, or a
        parameter differs (e.g. a notebook that sets one itself).
    """
    # the watcher (prefetch) may be reading this very file: wait for it, then use what it read
    with _reading:
        if handle not in _RECEIVED:
            received = _PREFETCHED.pop(handle, None)
            if received is None:
                folder = os.environ.get(SHARED_DIR_ENV)
                if not folder:
                    raise HandoffError(
                        handle, "this kernel was not started by cartreport (it has no private folder)"
                    )
                path = Path(folder) / f"{handle}.pkl"
                if not path.is_file():
                    raise HandoffError(handle, "no analysis of that name was handed to this kernel")
                received = _load(path)
            _RECEIVED.clear()
            _RECEIVED[handle] = received
        shared_parameters, analysis = _RECEIVED[handle]
    differ = sorted(
        name
        for name in {*shared_parameters, *parameters}
        if shared_parameters.get(name) != parameters.get(name)
    )
    if differ:
        shown = ", ".join(
            f"{name} = {parameters.get(name)!r} here, {shared_parameters.get(name)!r} in the analysis"
            for name in differ
        )
        raise HandoffError(handle, f"the notebook's parameters differ from the analysis's: {shown}")
    return analysis
