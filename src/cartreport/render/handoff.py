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
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from cartreport.analysis.params import PARAMETERS
from cartreport.errors import HandoffError
from cartreport.kernel_env import SHARED_DIR_ENV

if TYPE_CHECKING:
    from cartreport.analysis.results import Analysis

__all__ = ["HANDLE_PARAMETER", "notebook_parameters", "receive", "share"]

#: the one parameter papermill injects besides the report's own: which analysis to use
HANDLE_PARAMETER = "analysis_handle"

#: a warm kernel serves one report at a time: the handle last received and its (parameters, analysis)
_RECEIVED: dict[str, tuple[dict, Analysis]] = {}


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
        pickle.dump(
            (dict(kernel_parameters), analysis if whole else analysis.for_notebooks()),
            stream,
            protocol=pickle.HIGHEST_PROTOCOL,
        )
    tmp.replace(Path(folder) / f"{handle}.pkl")
    return handle


def receive(handle: str, parameters: Mapping) -> Analysis:
    """The analysis handed over as ``handle``; refused when ``parameters`` are not the ones it was computed for.

    Raises
    ------
    HandoffError
        The kernel has no private folder (not started by cartreport), the handle names no analysis there, or a
        parameter differs (e.g. a notebook that sets one itself).
    """
    if handle not in _RECEIVED:
        folder = os.environ.get(SHARED_DIR_ENV)
        if not folder:
            raise HandoffError(handle, "this kernel was not started by cartreport (it has no private folder)")
        path = Path(folder) / f"{handle}.pkl"
        if not path.is_file():
            raise HandoffError(handle, "no analysis of that name was handed to this kernel")
        with open(path, "rb") as stream:
            received = pickle.load(stream)  # noqa: S301 - our parent process wrote it, in the kernel's private folder
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
