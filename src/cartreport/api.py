"""The public entry points: the CLI, the notebooks and the tests call these same functions.

* :func:`load_cohort` — read and validate a patient file (the shipped study by default);
* :func:`load_analysis` — parameters → :class:`~cartreport.analysis.results.Analysis` (cached per process);
* :func:`analysis_for` — a notebook's analysis: the one ``cartreport run`` handed over, or computed from the
  notebook's parameters cell (:mod:`cartreport.render.handoff`);
* :func:`run_report` — validate, execute the notebooks, write the output folder atomically
  (:func:`run_resolved_report`: the same for parameters resolved and a folder checked already, as a batch's);
* :func:`validate` — every problem of a file;
* :func:`reconstruct` — regenerate the shipped cohort.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
import numbers
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import pandas as pd

from cartreport.analysis.params import as_parameters, resolve_parameters
from cartreport.analysis.results import Analysis, analyse, write_results
from cartreport.cohorts.reconstruct import (
    COHORT_FILE,
    DEFAULT_SEED,
    load_published_figures,
    reconstruct_cohort,
)
from cartreport.contract.coerce import coerce
from cartreport.errors import CohortError, ParameterError, SetupError
from cartreport.formatting import counted
from cartreport.render.handoff import HANDLE_PARAMETER, notebook_parameters, receive, share
from cartreport.report.methods import with_wording
from cartreport.shipped import NOTEBOOK_DIR

__all__ = [
    "NOTEBOOK_DIR",
    "SECTIONS",
    "LoadedCohort",
    "analysis_for",
    "check_csv_output",
    "check_seed",
    "load_analysis",
    "load_cohort",
    "path_argument",
    "reconstruct",
    "run_report",
    "run_resolved_report",
    "validate",
]

log = logging.getLogger(__name__)

#: the report's sections: notebook stems in ``NOTEBOOK_DIR``, in order
SECTIONS: tuple[str, ...] = (
    "00_summary",
    "01_design",
    "02_responses",
    "03_survival",
    "03b_transplant",
    "04_methods",
)


@dataclass(frozen=True)
class LoadedCohort:
    """A validated, typed patient table and where it came from."""

    table: pd.DataFrame
    path: Path
    sha256: str
    is_reconstruction: bool
    notes: tuple[str, ...]


def _resolve_data_path(data: str | Path | None) -> Path:
    if data is None or (isinstance(data, str) and not data):
        return COHORT_FILE
    return path_argument(data, "data", "a file").expanduser().resolve()


def path_argument(value: object, name: str, what: str) -> Path:
    """``value`` as a :class:`~pathlib.Path`, or a :class:`~cartreport.errors.ParameterError` naming the argument
    ``name`` and saying it must name ``what`` (e.g. ``"a folder"``): from Python, ``None``, a number, bytes or an
    empty text was a ``TypeError`` raised deep inside pathlib, or the current folder.

    >>> path_argument("cohort.csv", "data", "a file")
    PosixPath('cohort.csv')
    >>> path_argument(None, "output", "a folder")
    Traceback (most recent call last):
    ...
    cartreport.errors.ParameterError: report parameter output = None: must name a folder (text or a pathlib.Path)
    """
    text = os.fspath(value) if isinstance(value, str | os.PathLike) else None
    if isinstance(text, str) and text:
        return Path(text)
    raise ParameterError(name, value, f"must name {what} (text or a pathlib.Path)")


def check_seed(seed: object, name: str = "seed") -> int:
    """A random seed as numpy takes it: a whole number, 0 or more (``-1`` was numpy's ValueError, ``"7"`` or
    ``1.5`` its TypeError); ``name`` is the argument's name where it was given (``--seed`` on the command line)."""
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        return int(seed)
    raise ParameterError(name, seed, "must be a whole number, 0 or more")


def validate(data: str | Path, sheet: str | None = None, data_cutoff: str | None = None):
    """Every problem of a patient file (:class:`cartreport.contract.validate.ValidationReport`)."""
    from cartreport.contract.validate import validate_file

    data = path_argument(data, "data", "a file")
    cutoff = resolve_parameters({"data_cutoff": data_cutoff or ""})["data_cutoff"]
    return validate_file(
        Path(data), sheet=sheet or None, data_cutoff=dt.date.fromisoformat(cutoff) if cutoff else None
    )


@lru_cache(maxsize=8)
def _load_cached(path: Path, sheet: str, sha256: str) -> LoadedCohort:
    report = validate(path, sheet)
    if report.problems:
        raise CohortError(path, report.problems)
    cohort = LoadedCohort(
        table=coerce(report.table, stripped=True, factorized=report.factorized),
        path=path,
        sha256=sha256,
        is_reconstruction=_is_reconstruction(path, sha256),
        notes=tuple(report.notes),
    )
    del report  # the cells as text: only the typed table is kept
    _return_freed_memory(collect=True)
    return cohort


def _is_reconstruction(path: Path, sha256: str) -> bool:
    """Whether ``path`` is the shipped reconstructed cohort: the shipped file, or a file of its bytes (a copy beside
    a grid, or what ``cartreport reconstruct`` writes with the default seed). Every report built on the
    reconstruction must say it is not patient records, wherever its file sits."""
    shipped = COHORT_FILE.resolve()
    return path == shipped or (bool(sha256) and sha256 == _shipped_sha256(shipped.stat().st_mtime_ns))


@lru_cache(maxsize=1)
def _shipped_sha256(mtime_ns: int) -> str:
    """The shipped cohort's hash (``mtime_ns``: computed again if the file was regenerated)."""
    return file_sha256(COHORT_FILE.resolve())


def _return_freed_memory(collect: bool = False) -> None:
    """Hand what a large table left behind back to the system: with ``collect``, collect the reference cycles now
    (validation leaves some); let glibc return its free heap pages (``malloc_trim``; elsewhere nothing)."""
    import ctypes
    import gc
    import sys

    if collect:
        gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (e.g. musl): the memory stays with the process
            pass


def load_cohort(data: str | Path | None = None, sheet: str = "") -> LoadedCohort:
    """Read and validate a patient file; raise :class:`~cartreport.errors.CohortError` listing every problem.

    ``data`` empty means the shipped reconstructed cohort of the flagship study. Each call returns its own copy
    (see :func:`load_analysis`). A data cut-off is not a
    validation rule here: a report at an earlier cut-off ignores later events (``cartreport validate
    --data-cutoff`` checks that an extract holds no date after its cut-off).
    """
    path = _resolve_data_path(data)
    return copy.deepcopy(_load_cached(path, sheet or "", file_sha256(path) if path.is_file() else ""))


def published_figures() -> dict:
    """The flagship study's published figures, ``{name: value}`` (``data/published_figures.json``)."""
    return dict(load_published_figures().targets)


def load_analysis(parameters: Mapping | None = None, **overrides) -> Analysis:
    """Parameters (as in a notebook's parameters cell) → the analysis every section renders.

    Cached on the resolved parameters and the data file's hash; each call returns its own copy, which the caller
    may change (a notebook dropping rows of ``analysis.table`` in place) without changing what a later analysis
    or report of this process computes from.
    """
    return copy.deepcopy(_analysis(resolve_parameters({**as_parameters(parameters), **overrides})))


def analysis_for(namespace: Mapping) -> Analysis:
    """A report notebook's analysis, in one line: ``analysis = api.analysis_for(globals())``.

    In ``cartreport run`` papermill injects ``analysis_handle``: the analysis computed once for the whole report is
    returned, and refused (:class:`~cartreport.errors.HandoffError`) if the notebook's parameters differ from those
    it was computed for. Opened in JupyterLab (no handle), the analysis is computed from the parameters cell.
    """
    parameters = notebook_parameters(namespace)
    handle = namespace.get(HANDLE_PARAMETER) or ""
    if handle:
        return receive(handle, parameters)
    return load_analysis(parameters)


def _analysis(params: dict) -> Analysis:
    """The analysis for resolved parameters: the data validated (raising CohortError), then analysed once."""
    path = _resolve_data_path(params["data"])
    sha256 = file_sha256(path) if path.is_file() else ""
    _load_cached(path, params["sheet"], sha256)  # validates; raises CohortError listing every problem
    return _analysis_cached(json.dumps(params, sort_keys=True), path, sha256, params["sheet"])


@lru_cache(maxsize=8)
def _analysis_cached(params_json: str, path: Path, sha256: str, sheet: str) -> Analysis:
    cohort = _load_cached(path, sheet, sha256)
    params = json.loads(params_json)
    if not params["title"]:
        params["title"] = default_title(cohort)
    params["data"] = "" if path == COHORT_FILE.resolve() else path.name  # a copy keeps its name
    analysis = analyse(
        cohort.table,
        params,
        data_file=cohort.path.name,
        data_sha256=cohort.sha256,
        is_reconstruction=cohort.is_reconstruction,
        published=published_figures() if cohort.is_reconstruction else None,
        data_notes=cohort.notes,
    )
    # results.json carries the report's words for its methods and small-numbers caution, as it always has
    analysis = replace(analysis, results=with_wording(analysis.results))
    _return_freed_memory()  # what the statistics needed only while they ran
    return analysis


def default_title(cohort: LoadedCohort) -> str:
    if cohort.is_reconstruction:
        return "CD7 CAR-T followed by a second allo-HSCT in T-ALL/LBL relapsed after a first HSCT"
    return f"CAR-T cohort report: {cohort.path.stem}"


def run_report(
    parameters: Mapping | None = None,
    output: str | Path = "reports/default",
    *,
    progress: Callable[[str], None] | None = None,
    notebook_dir: Path = NOTEBOOK_DIR,
    kernel=None,
) -> Path:
    """Validate, analyse, execute every section and write the output folder atomically.

    The folder holds ``report.html``, ``report.docx``, ``results.json``, ``notebooks/`` (executed), ``figures/`` and ``tables/``.
    Invalid parameters or data raise before any notebook starts; a failing section raises
    :class:`cartreport.errors.SectionFailed`; either way an earlier report in ``output`` is left untouched.

    ``kernel`` (from :func:`cartreport.render.start_kernel`) lets a caller start the kernel before anything
    else; by default it is started here, first, so that it boots while the data are validated.
    """
    started = time.perf_counter()
    params = resolve_parameters(parameters)
    output = path_argument(output, "output", "a folder")
    check_report_target(params, output)  # before any work: refuse a folder cartreport may not replace
    return _run_on_kernel(params, Path(output), progress, notebook_dir, kernel, started)


def run_resolved_report(
    params: dict,
    output: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
    notebook_dir: Path = NOTEBOOK_DIR,
    kernel=None,
) -> Path:
    """:func:`run_report` for parameters resolved already and an output folder checked already, by the caller.

    ``params`` come from :func:`~cartreport.analysis.params.resolve_parameters` and ``output`` passed
    :func:`check_report_target` (a batch does both for every run before the first starts:
    :class:`cartreport.batch.BatchRun`, :func:`check_batch_target`); neither is done again here. The folder is
    still checked when it is written (:func:`cartreport.render.write_atomically`).
    """
    output = path_argument(output, "output", "a folder")
    return _run_on_kernel(params, output, progress, notebook_dir, kernel, time.perf_counter())


def _run_on_kernel(params: dict, output: Path, progress, notebook_dir: Path, kernel, started: float) -> Path:
    """:func:`_run_report` on ``kernel``, or on a kernel started (first, to boot while the data are validated) and
    shut down here."""
    from cartreport import render

    say = progress or (lambda line: None)
    owned = kernel is None
    if owned:
        kernel = render.start_kernel()
    try:
        return _run_report(params, output, say, notebook_dir, kernel, started)
    finally:
        if owned:
            kernel.shutdown()


def _run_report(params: dict, output: Path, say, notebook_dir: Path, kernel, started: float) -> Path:
    from cartreport import render

    render.execute.warm_up()  # papermill's imports overlap the reading of the data
    analysis = _analysis(params)  # validates the data before any notebook runs
    # the notebooks get the data file's name, never a path of this machine (it would be in notebooks/)
    kernel_params = {**params, "data": analysis.results["parameters"]["data"], "output_dir": "."}
    # the shipped notebooks get what they read (a 1,000,000-patient hand-off is 60 MiB, not 163); others get it all
    handle = share(
        analysis,
        kernel_params,
        kernel.shared_dir,
        whole=Path(notebook_dir).resolve() != NOTEBOOK_DIR.resolve(),
    )
    _return_freed_memory()  # what pickling the hand-off used: the kernel is about to need memory of its own
    say(f"validated {analysis.results['data_file']}: {counted(analysis.results['n_patients'], 'patient')}")
    sections = [render.Section(name, notebook_dir / f"{name}.ipynb") for name in SECTIONS]
    missing = [s.path.name for s in sections if not s.path.is_file()]
    if missing:
        raise SetupError(
            f"the report notebooks {', '.join(missing)} are not in {notebook_dir}",
            "reinstall cartreport (pip install cartreport, or pip install -e . in a checkout)",
        )

    render.render_report(
        sections,
        {**kernel_params, HANDLE_PARAMETER: handle},
        output,
        analysis.results["title"],
        progress=say,
        kernel=kernel,
        prepare=lambda workdir: _in_background(write_results, analysis.results, workdir / "results.json"),
        inputs=[_resolve_data_path(params["data"])],
    )
    say(f"wrote {output / 'report.html'} in {time.perf_counter() - started:.1f} s")
    return output


def _in_background(task: Callable, *args) -> Callable[[], None]:
    """Start ``task(*args)`` in a thread (e.g. writing a large ``results.json`` while the notebooks run, this process
    being idle then); return the function that waits for it and raises what it raised."""
    import threading

    raised: list[BaseException] = []

    def run() -> None:
        try:
            task(*args)
        except BaseException as error:  # noqa: BLE001 - handed to the waiting thread
            raised.append(error)

    thread = threading.Thread(target=run, name=getattr(task, "__name__", "task"), daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if raised:
            raise raised[0]

    return wait


def check_report_target(params: Mapping, output: str | Path) -> Path:
    """Refuse, before any work, a report writing where cartreport may not; return the output folder, absolute.

    ``params`` are resolved parameters (:func:`~cartreport.analysis.params.resolve_parameters`). ``output_dir`` is
    set by cartreport itself (the folder being built) and cannot be chosen; the output folder must pass
    :func:`cartreport.render.output.check_output_folder` and must not hold the data file.
    """
    from cartreport.render.output import check_output_folder

    if params["output_dir"]:
        raise ParameterError(
            "output_dir",
            params["output_dir"],
            "is set by cartreport for the notebooks; choose the report folder with --output",
        )
    return check_output_folder(output, "report", inputs=[_resolve_data_path(params["data"])])


def check_batch_target(runs: Mapping[str, Mapping], output: str | Path) -> Path:
    """Refuse, before any work, a batch that would write where cartreport may not; the batch folder, absolute.

    ``runs`` maps each run's name to its resolved parameters (:class:`cartreport.batch.BatchRun`). The batch folder
    must be absent, empty or an earlier batch folder of cartreport, holding no data file; each run's folder
    ``output/<name>`` is a report folder (:func:`check_report_target`).
    """
    from cartreport.render.output import check_output_folder

    folder = check_output_folder(
        output, "batch", inputs=[_resolve_data_path(p["data"]) for p in runs.values()]
    )
    for name, params in runs.items():
        check_report_target(params, folder / name)
    return folder


def __getattr__(name: str):
    """The notebook helpers this module held before they moved to where each belongs, kept for notebooks written
    against it (``api.subgroup_figure(analysis, "os")``): ``patient_timeline`` is :meth:`Analysis.patient_timeline`,
    ``subgroup_figure`` and ``transplant_figure`` are in :mod:`cartreport.report.figures`, ``provenance_table`` in
    :mod:`cartreport.report.provenance`. Imported on first use (the figures import matplotlib)."""
    if name == "patient_timeline":
        return Analysis.patient_timeline
    if name == "subgroup_figure":
        from cartreport.report.figures.curves import subgroup_figure

        return subgroup_figure
    if name == "transplant_figure":
        from cartreport.report.figures.transplant import transplant_figure

        return transplant_figure
    if name == "provenance_table":
        from cartreport.report.provenance import provenance_table

        return provenance_table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def reconstruct(output: str | Path, seed: int = DEFAULT_SEED, *, force: bool = False) -> Path:
    """Regenerate the flagship study's reconstructed cohort (checked against every published figure).

    An existing ``output`` (the shipped file too) is replaced only with ``force=True``.
    """
    seed = check_seed(seed)
    path_argument(output, "output", "a CSV file")
    output = check_csv_output(output, force=force)  # as given: a trailing "/" says a folder was meant
    return write_csv_file(reconstruct_cohort(seed=seed), output)


def check_csv_output(output: str | Path, *, force: bool) -> Path:
    """Refuse, before any work, a CSV file ``reconstruct`` or ``synthesize`` may not write; make its folder.

    Refused (:class:`~cartreport.errors.ParameterError` naming ``--output``): a folder; an existing file without
    ``force`` (it may be the user's own patient table); anything but a regular file even with ``force`` (a device
    such as ``/dev/null``, a pipe, a socket): the CSV is moved into place, and a device moved over is a device
    gone, for every program of the machine; a folder that cannot be made.
    """
    folder_like = str(output).endswith(("/", os.sep))  # before Path() drops the trailing separator
    output = Path(output)
    if folder_like or output.is_dir():
        raise ParameterError("--output", str(output), "must name a CSV file, not a folder")
    if (
        output.suffix.lower() != ".csv"
    ):  # read back by its extension: CSV text named .xlsx is "not a workbook"
        raise ParameterError("--output", str(output), "must name a .csv file (the cohort is written as CSV)")
    if output.exists() and not output.is_file():
        raise ParameterError(
            "--output", str(output), "is not a regular file (a device, a pipe or a socket); name a CSV file"
        )
    if output.exists() and not force:
        raise ParameterError("--output", str(output), "exists already; add --force to replace it")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError("--output", str(output), f"its folder cannot be made ({exc.strerror})") from None
    return output


def write_csv_file(frame, output: Path) -> Path:
    """Write a cohort as CSV beside ``output`` and move it there (:func:`cartreport.render.output.write_file`): a
    full disk or a kill halfway never leaves half a cohort, and the file it replaces stays whole until then."""
    from cartreport.render.output import write_file

    return write_file(output, lambda partial: frame.to_csv(partial, index=False, lineterminator="\n"))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
