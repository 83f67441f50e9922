"""The public entry points: the CLI, the notebooks and the tests call these same functions.

* :func:`load_cohort` — read and validate a patient file (the shipped study by default);
* :func:`load_analysis` — parameters → :class:`~cartreport.results.Analysis` (cached per process, so the report's
  notebooks, sharing one kernel, analyse once);
* :func:`run_report` — validate, execute the notebooks, write the output folder atomically;
* :func:`validate` — every problem of a file;
* :func:`reconstruct` — regenerate the shipped cohort.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import pickle
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from cartreport.errors import CohortError, SetupError
from cartreport.params import resolve_parameters
from cartreport.reconstruct import COHORT_FILE, DEFAULT_SEED, load_published_figures, reconstruct_cohort
from cartreport.render import SHARED_DIR_ENV
from cartreport.results import Analysis, analyse, write_results
from cartreport.schema import coerce

__all__ = [
    "NOTEBOOK_DIR",
    "SECTIONS",
    "LoadedCohort",
    "load_analysis",
    "load_cohort",
    "reconstruct",
    "run_report",
    "validate",
]

log = logging.getLogger(__name__)

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
#: the report's sections: notebook stems in ``notebooks/``, in order
SECTIONS: tuple[str, ...] = ("00_summary", "01_design", "02_responses", "03_survival", "04_methods")


@dataclass(frozen=True)
class LoadedCohort:
    """A validated, typed patient table and where it came from."""

    table: pd.DataFrame
    path: Path
    sha256: str
    is_reconstruction: bool
    notes: tuple[str, ...]


def _resolve_data_path(data: str | Path | None) -> Path:
    return COHORT_FILE if data in (None, "") else Path(data).expanduser().resolve()


def validate(data: str | Path, sheet: str | None = None, data_cutoff: str | None = None):
    """Every problem of a patient file (:class:`cartreport.validate.ValidationReport`)."""
    from cartreport.validate import validate_file

    cutoff = resolve_parameters({"data_cutoff": data_cutoff or ""})["data_cutoff"]
    return validate_file(
        Path(data), sheet=sheet or None, data_cutoff=dt.date.fromisoformat(cutoff) if cutoff else None
    )


@lru_cache(maxsize=8)
def _load_cached(path: Path, sheet: str, sha256: str) -> LoadedCohort:
    report = validate(path, sheet)
    if report.problems:
        raise CohortError(path, report.problems)
    return LoadedCohort(
        table=coerce(report.table),
        path=path,
        sha256=sha256,
        is_reconstruction=path == COHORT_FILE.resolve(),
        notes=tuple(report.notes),
    )


def load_cohort(data: str | Path | None = None, sheet: str = "") -> LoadedCohort:
    """Read and validate a patient file; raise :class:`~cartreport.errors.CohortError` listing every problem.

    ``data`` empty means the shipped reconstructed cohort of the flagship study. A data cut-off is not a
    validation rule here: a report at an earlier cut-off ignores later events (``cartreport validate
    --data-cutoff`` checks that an extract holds no date after its cut-off).
    """
    path = _resolve_data_path(data)
    return _load_cached(path, sheet or "", file_sha256(path) if path.is_file() else "")


def published_figures() -> dict:
    """The flagship study's published figures, ``{name: value}`` (``data/published_figures.json``)."""
    return dict(load_published_figures().targets)


def load_analysis(parameters: Mapping | None = None, **overrides) -> Analysis:
    """Parameters (as in a notebook's parameters cell) → the analysis every section renders.

    Cached on the resolved parameters and the data file's hash: the notebooks of a report share it.
    """
    params = resolve_parameters({**(parameters or {}), **overrides})
    path = _resolve_data_path(params["data"])
    sha256 = file_sha256(path) if path.is_file() else ""
    key = _analysis_key(params, path, sha256)
    shared = _shared_analysis(key)
    if shared is not None:
        return shared
    _load_cached(path, params["sheet"], sha256)  # validates; raises CohortError listing every problem
    return _analysis_cached(json.dumps(params, sort_keys=True), path, sha256, params["sheet"])


def _analysis_key(params: dict, path: Path, sha256: str) -> str:
    """What identifies an analysis across processes: the resolved data file, its bytes and the parameters."""
    relevant = {k: v for k, v in params.items() if k not in ("data", "output_dir")}
    text = json.dumps({"path": str(path), "sha256": sha256, "parameters": relevant}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


_SHARED: dict[str, Analysis] = {}


def _shared_analysis(key: str) -> Analysis | None:
    """The analysis ``run_report`` computed and handed to this report kernel, if any.

    ``cartreport run`` validates and analyses the data once in its own process and pickles the result into
    the kernel's private folder (named by ``CARTREPORT_SHARED_DIR``), so that the notebooks do not validate a
    100,000-row file a second time. Outside a report run the variable is unset and nothing is shared.
    """
    if key in _SHARED:
        return _SHARED[key]
    folder = os.environ.get(SHARED_DIR_ENV)
    if not folder or not (Path(folder) / f"{key}.pkl").is_file():
        return None
    _SHARED.clear()  # a warm kernel serves one report at a time: keep only the current analysis
    with open(Path(folder) / f"{key}.pkl", "rb") as handle:
        _SHARED[key] = pickle.load(handle)  # noqa: S301 - written by our own parent process, private folder
    return _SHARED[key]


def _share_analysis(analysis: Analysis, params: dict, folder: Path) -> None:
    path = _resolve_data_path(params["data"])
    key = _analysis_key(params, path, analysis.results["data_sha256"])
    for old in folder.glob("*.pkl"):  # a warm kernel serves one report at a time
        old.unlink()
    tmp = folder / f"{key}.tmp"
    with open(tmp, "wb") as handle:
        pickle.dump(analysis, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(folder / f"{key}.pkl")


@lru_cache(maxsize=8)
def _analysis_cached(params_json: str, path: Path, sha256: str, sheet: str) -> Analysis:
    cohort = _load_cached(path, sheet, sha256)
    params = json.loads(params_json)
    if not params["title"]:
        params["title"] = default_title(cohort)
    params["data"] = "" if cohort.is_reconstruction else path.name
    return analyse(
        cohort.table,
        params,
        data_file=cohort.path.name,
        data_sha256=cohort.sha256,
        is_reconstruction=cohort.is_reconstruction,
        published=published_figures() if cohort.is_reconstruction else None,
        data_notes=cohort.notes,
    )


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
    :class:`cartreport.render.SectionFailed`; either way an earlier report in ``output`` is left untouched.

    ``kernel`` (from :func:`cartreport.render.start_kernel`) lets a caller start the kernel before anything
    else; by default it is started here, first, so that it boots while the data are validated.
    """
    from cartreport import render

    say = progress or (lambda line: None)
    started = time.perf_counter()
    params = resolve_parameters(dict(parameters or {}))
    owned = kernel is None
    if owned:
        kernel = render.start_kernel()
    try:
        return _run_report(params, Path(output), say, notebook_dir, kernel, started)
    finally:
        if owned:
            kernel.shutdown()


def _run_report(params: dict, output: Path, say, notebook_dir: Path, kernel, started: float) -> Path:
    from cartreport import render

    analysis = load_analysis(params)  # validates the data before any notebook runs
    _share_analysis(analysis, params, kernel.shared_dir)
    say(f"validated {analysis.results['data_file']}: {analysis.results['n_patients']} patients")
    kernel_params = {
        **params,
        "data": str(_resolve_data_path(params["data"])) if params["data"] else "",
        "output_dir": ".",
    }
    sections = [render.Section(name, notebook_dir / f"{name}.ipynb") for name in SECTIONS]
    missing = [s.path.name for s in sections if not s.path.is_file()]
    if missing:
        raise SetupError(
            f"the report notebooks {', '.join(missing)} are not in {notebook_dir}",
            "run cartreport from its checkout, installed with pip install -e . (make report does)",
        )

    def build(workdir: Path) -> None:
        write_results(analysis.results, workdir / "results.json")
        executed = render.execute_sections(sections, kernel_params, workdir, progress=say, kernel=kernel)
        (workdir / "notebooks").mkdir(exist_ok=True)
        import nbformat

        for section, nb in zip(sections, executed, strict=True):
            nbformat.write(nb, workdir / "notebooks" / f"{section.name}.ipynb")
        html = render.export_html(executed, analysis.results["title"])
        (workdir / "report.html").write_text(html, encoding="utf-8")
        render.write_docx(executed, analysis.results["title"], workdir / "report.docx", base_dir=workdir)

    render.write_atomically(build, output)
    say(f"wrote {output / 'report.html'} in {time.perf_counter() - started:.1f} s")
    return output


def patient_timeline(analysis: Analysis) -> pd.DataFrame:
    """Each patient's course in months since CAR-T (the swimmer plot's input)."""
    from cartreport.endpoints import patient_timeline as timeline

    return timeline(analysis.table, analysis.endpoints.data_cutoff)


def subgroup_figure(analysis: Analysis, endpoint: str = "os"):
    """Curves of one endpoint by the ``subgroup_by`` groups, or ``None`` when no subgroup was asked for.

    ``endpoint``: ``"os"`` or ``"lfs"`` (Kaplan–Meier) or ``"relapse"`` or ``"nrm"`` (cumulative incidence).
    """
    if not analysis.by_group:
        return None
    from cartreport import figures
    from cartreport.formatting import p_value

    results = analysis.results
    column = results["subgroups"]["column"]
    curves = {value: fits[endpoint] for value, fits in analysis.by_group.items()}
    xlabel = f"Months since {results['time_origin_label']}"
    label = results["endpoints"][endpoint]["label"]
    test = results["subgroups"].get("tests", {}).get(endpoint)
    note = f"{test['method'][:1].upper()}{test['method'][1:]}: {p_value(test['p_value'])}" if test else None
    if endpoint in ("relapse", "nrm"):
        return figures.plot_cif(curves, xlabel=xlabel, ylabel=f"{label} (%)", legend_title=column, note=note)
    return figures.plot_km(
        curves,
        xlabel=xlabel,
        ylabel=f"{label} (%)",
        landmarks_months=results["parameters"]["landmarks_months"],
        legend_title=column,
        note=note,
    )


def provenance_table(results: dict) -> pd.DataFrame:
    from cartreport.provenance import provenance_table as table

    return table(results)


def reconstruct(output: str | Path = COHORT_FILE, seed: int = DEFAULT_SEED) -> Path:
    """Regenerate the flagship study's reconstructed cohort (checked against every published figure)."""
    frame = reconstruct_cohort(seed=seed)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False, lineterminator="\n")
    return output


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
