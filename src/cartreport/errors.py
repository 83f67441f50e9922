"""Every way cartreport can fail, as a named exception.

Modelled on ``papermill/exceptions.py``: one module, one class per failure mode, each carrying what a person needs
to fix the cause (the file, the rows, the parameter) and a ``str()`` that a clinician can read without a traceback.
Every expected failure is a subclass of :class:`CartreportError`; the command line prints ``str(error)`` and maps
the class to an exit code (``cartreport.cli.EXIT_CODES``: 1 for a failed report section or figure or a report kernel
that failed, 2 for everything else).

- :class:`CohortError`: the patient table was read but breaks the data contract (:mod:`cartreport.contract.validate`);
- :class:`DataFileError`: the file cannot be read at all (missing, empty, header only, unsupported, damaged);
- :class:`ParameterError`: a report parameter has a wrong type or value;
- :class:`OutputFolderError`: the output folder is not one cartreport may write (it holds files of the user);
- :class:`SetupError`: cartreport's own files are missing;
- :class:`KernelError`: the report kernel (the Jupyter kernel the notebooks run on) could not start or stopped
  answering (raised by :mod:`cartreport.render`);
- :class:`HandoffError`: a report notebook was handed an analysis it cannot use (:mod:`cartreport.render.handoff`);
- :class:`SectionFailed`: a report section failed while rendering (raised by :mod:`cartreport.render`);
- :class:`PrintFilesError`: a figure's print files could not be written (raised by :mod:`cartreport.render`);
- :class:`ReconstructionError`: the reconstructed cohort does not reproduce a published figure.

One class here is not a failure and not a :class:`CartreportError`: :class:`BatchInterrupted`, the
``KeyboardInterrupt`` by which a batch stopped by SIGINT or SIGTERM returns what it finished.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from cartreport.escape import visible

__all__ = [
    "BatchInterrupted",
    "CartreportError",
    "CohortError",
    "DataFileError",
    "HandoffError",
    "KernelError",
    "OutputFolderError",
    "ParameterError",
    "PrintFilesError",
    "ReconstructionError",
    "ReportWriteError",
    "SectionFailed",
    "SetupError",
    "Terminated",
]


class CartreportError(Exception):
    """Base class of every error cartreport raises on purpose.

    Catch this one class to handle every expected failure (the CLI does); anything else is a bug.
    """

    def _render_traceback_(self) -> list[str]:
        """What IPython and Jupyter show instead of a stack: ``"ParameterError: <message>"``, one line per line.

        IPython's ``InteractiveShell.showtraceback`` uses this method when an exception has it, so a notebook
        opened in JupyterLab with a bad parameter or a bad data file shows the message, not 30 lines of stack.
        """
        return f"{type(self).__name__}: {self}".splitlines()


class DataFileError(CartreportError):
    """The patient file cannot be read as a table.

    Parameters
    ----------
    path : the file as the user named it.
    reason : what is wrong, in plain words, e.g. ``"the file is empty (0 bytes)"``.
    hint : optional next step, e.g. ``"save the sheet as .xlsx"``.

    Examples
    --------
    >>> str(DataFileError("cohort.xls", "Excel 97-2003 files (.xls) are not supported", "save it as .xlsx"))
    'cannot read cohort.xls: Excel 97-2003 files (.xls) are not supported; save it as .xlsx'
    """

    def __init__(self, path: str | Path, reason: str, hint: str | None = None) -> None:
        self.path = Path(path)
        self.reason = reason
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"cannot read {visible(str(self.path))}: {self.reason}"
        return f"{text}; {self.hint}" if self.hint else text


class CohortError(CartreportError):
    """The patient table breaks the data contract.

    Parameters
    ----------
    path : the file the table came from.
    problems : every problem found (:class:`cartreport.contract.validate.Problem`), in the validator's order.

    ``str()`` is a headline followed by one line per problem, e.g.::

        cohort.csv has 2 problems; nothing was computed. Please correct the file and run again:
          cohort.csv row 5 (patient P05), column bm_response: value "MRD neg CR" is not allowed ...
          cohort.csv row 9 (patient P09), column relapse_date: relapse 2020-01-02 is before ...
    """

    def __init__(self, path: str | Path, problems: Sequence[Any]) -> None:
        self.path = Path(path)
        self.problems: list[Any] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        n = sum(p.count for p in self.problems)  # a "… and N more" line stands for N problems
        noun = "problem" if n == 1 else "problems"
        head = (
            f"{self.path.name} has {n:,} {noun}; nothing was computed. Please correct the file and run again:"
        )
        return "\n".join([head, *(f"  {p.format()}" for p in self.problems)])


class ParameterError(CartreportError):
    """A report parameter has a value the report cannot use.

    Parameters
    ----------
    name : the parameter's name, e.g. ``"data_cutoff"``.
    value : the value given.
    message : what is wrong and what is expected.

    Examples
    --------
    >>> str(ParameterError("ci_level", 1.5, "must be between 0 and 1, e.g. 0.95"))
    'report parameter ci_level = 1.5: must be between 0 and 1, e.g. 0.95'
    """

    def __init__(self, name: str, value: object, message: str) -> None:
        self.name = name
        self.value = value
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"report parameter {self.name} = {_shown(self.value)}: {self.message}"


def _shown(value: object) -> str:
    """A value as Python writes it (``repr``), cut short: a few items of a list, a few levels of a nesting, the
    start and end of a long text; a value made of YAML aliases can stand for billions of items."""
    shown = reprlib.Repr()
    shown.maxlevel, shown.maxlist, shown.maxtuple, shown.maxdict = 3, 6, 6, 6
    shown.maxstring = shown.maxother = shown.maxlong = 80
    text = shown.repr(value)
    return text if len(text) <= 200 else f"{text[:199]}…"


class OutputFolderError(CartreportError):
    """cartreport refuses to write where it was asked to, because it could lose a file it does not own.

    Examples
    --------
    >>> str(OutputFolderError("userproj", "it holds paper.docx", "choose a new folder"))
    'will not write to userproj: it holds paper.docx; choose a new folder'
    """

    def __init__(self, path: str | Path, reason: str, hint: str) -> None:
        self.path = Path(path)
        self.reason = reason
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:  # the folder's name and its files' names, written out visibly
        return f"will not write to {visible(str(self.path))}: {visible(self.reason)}; {self.hint}"


class SetupError(CartreportError):
    """cartreport's own files are missing (e.g. the report notebooks of an incomplete install).

    Examples
    --------
    >>> str(SetupError("the report notebooks are not in /x/notebooks", "install from a checkout: pip install -e ."))
    'cartreport is not set up: the report notebooks are not in /x/notebooks; install from a checkout: pip install -e .'
    """

    def __init__(self, reason: str, hint: str) -> None:
        self.reason = reason
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"cartreport is not set up: {self.reason}; {self.hint}"


class KernelError(CartreportError):
    """The report kernel, the Jupyter kernel the notebooks run on, could not start or stopped answering.

    Not a problem of the data or the parameters: the Python environment that runs the kernel is broken (its
    interpreter missing, ipykernel not installed, the kernel spec pointing elsewhere) or the kernel died (e.g. out
    of memory). Nothing was written.

    Parameters
    ----------
    kernel_name : the Jupyter kernel spec, e.g. ``"python3"``.
    reason : what happened, e.g. ``"died before it was ready"``.
    hint : what to do.

    Examples
    --------
    >>> str(KernelError("python3", "died before it was ready", "check it with: jupyter kernelspec list"))
    'the report kernel (python3) died before it was ready; check it with: jupyter kernelspec list'
    """

    def __init__(self, kernel_name: str, reason: str, hint: str) -> None:
        self.kernel_name = kernel_name
        self.reason = reason
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"the report kernel ({self.kernel_name}) {self.reason}; {self.hint}"


class HandoffError(CartreportError):
    """A report notebook was given an analysis handle it cannot use (:func:`cartreport.api.analysis_for`).

    Examples
    --------
    >>> str(HandoffError("3f2a", "no analysis of that name was handed to this kernel"))
    'cannot use the analysis handed over as 3f2a: no analysis of that name was handed to this kernel'
    """

    def __init__(self, handle: str, reason: str) -> None:
        self.handle = handle
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"cannot use the analysis handed over as {self.handle}: {self.reason}"


class SectionFailed(CartreportError):
    """A report notebook raised an error in one of its cells.

    Parameters
    ----------
    section : str
        Notebook stem, e.g. ``"02_responses"``.
    error : str
        One line, ``"ExceptionName: message"``.
    notebook_path : Path
        The executed notebook, kept with the failing cell's traceback.

    Examples
    --------
    >>> str(SectionFailed("02_responses", "ValueError: boom", Path("/x/02_responses.ipynb")))
    "section '02_responses' failed: ValueError: boom (notebook kept at /x/02_responses.ipynb)"
    """

    def __init__(self, section: str, error: str, notebook_path: Path) -> None:
        super().__init__(section, error, notebook_path)
        self.section = section
        self.error = error
        self.notebook_path = Path(notebook_path)

    def __str__(self) -> str:
        return f"section {self.section!r} failed: {self.error} (notebook kept at {self.notebook_path})"


class PrintFilesError(CartreportError):
    """A figure's print files (PNG, SVG, PDF in ``figures/``) could not be written, e.g. because the disk is full.

    Examples
    --------
    >>> str(PrintFilesError("OSError: [Errno 28] No space left on device"))
    'could not write the figures for print: OSError: [Errno 28] No space left on device'
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)

    def __str__(self) -> str:
        return f"could not write the figures for print: {self.reason}"


class ReportWriteError(CartreportError):
    """A report, or a file of cartreport's (a batch's summary, a cohort written by ``synthesize``), could not be
    written where it was to go, e.g. because the disk filled up while it was written.

    The earlier report or file there (if any) is left as it was. ``file=True``: ``path`` is one file, not a report
    folder.

    Examples
    --------
    >>> str(ReportWriteError("reports/r", "No space left on device", "free some space and run again"))
    'could not write the report to reports/r: No space left on device; free some space and run again'
    >>> str(ReportWriteError("c.csv", "Read-only file system", "choose another place", file=True))
    'could not write c.csv: Read-only file system; choose another place'
    """

    def __init__(self, path: str | Path, reason: str, hint: str, *, file: bool = False) -> None:
        self.path = Path(path)
        self.reason = reason
        self.hint = hint
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.file else f"the report to {self.path}"
        return f"could not write {where}: {self.reason}; {self.hint}"


class ReconstructionError(CartreportError):
    """The generated table does not reproduce a published figure (:mod:`cartreport.cohorts.reconstruct`)."""


class BatchInterrupted(KeyboardInterrupt):
    """A signal stopped the batch; ``summary.csv`` and ``index.html`` were written for what finished.

    A signal, not a failure: a ``KeyboardInterrupt`` (so that whatever stops on Ctrl-C stops on it) and not a
    :class:`CartreportError`. :func:`cartreport.batch.run_batch` raises it; ``cartreport batch`` exits with
    ``cartreport.cli.EXIT_SIGNAL_BASE`` + ``signum``. ``signum`` is the signal (``signal.SIGINT`` or
    ``signal.SIGTERM``), ``summary`` the summary written.
    """

    def __init__(self, signum: int, summary: pd.DataFrame) -> None:
        super().__init__(signum)
        self.signum = signum
        self.summary = summary


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a job scheduler) stopped the command: handled as Ctrl-C is, so that every
    ``finally`` runs (the kernel stopped, the temporary folders deleted, an earlier report kept). A signal, not a
    failure, as :class:`BatchInterrupted`; ``cartreport run`` exits with ``cartreport.cli.EXIT_SIGNAL_BASE`` + 15."""
