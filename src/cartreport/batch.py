"""Many reports at once: a YAML grid of runs executed in parallel processes or on a dask.distributed cluster.

Grid file::

    defaults:            # parameters of every run (data included)
      data: data/ash2023_cd7_cart_cohort.csv
      landmarks_months: [6, 12]
    runs:                # each: a name plus the parameters that differ
      - name: all
      - name: t_all
        subgroup: {diagnosis: [T-ALL]}
    matrix:              # optional: the cartesian product of these values, one run each
      time_origin: [second_hsct, cart_infusion]
      data_cutoff: ["2022-12-31", "2023-06-30"]

With ``matrix``, every listed run (or one run named ``run`` when ``runs`` is absent) is crossed with every
combination; names get ``__time_origin=cart_infusion`` style suffixes. Each run writes ``DIR/<name>/`` exactly as
``cartreport run``; ``DIR/summary.csv`` and ``DIR/index.html`` (:mod:`cartreport.render.batch_index`) summarise them. A failed run is reported and the others
finish. SIGINT or SIGTERM stops the batch: no new report starts, the running ones are stopped and cleaned up
(:mod:`cartreport.batch_workers`), the summary is written for what finished and
:class:`~cartreport.errors.BatchInterrupted` is raised. The command ``cartreport batch`` (progress bar, exit codes)
is :mod:`cartreport.cli`'s.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import re
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from cartreport import batch_workers
from cartreport.analysis.params import anchor_data_path, read_yaml_file, resolve_parameters
from cartreport.batch_workers import BatchRun, run_one
from cartreport.errors import BatchInterrupted, ParameterError
from cartreport.escape import write_csv

__all__ = [
    "BatchInterrupted",
    "BatchRun",
    "expand_grid",
    "load_grid",
    "run_batch",
    "run_one",
]

logger = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=+-]*")
#: what a batch writes beside its report folders; a run may not be named so (in any case)
_RESERVED = ("summary.csv", "index.html")
#: longest run name: ``.NAME.tmp-xxxxxxxx`` must still fit a file-system name (255 bytes)
MAX_NAME_LENGTH = 200
#: most runs in one batch: a few short lists crossed in ``matrix`` can make millions
MAX_RUNS = 10_000


def _suffix(key: str, value: object) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return f"{key}={re.sub(r'[^A-Za-z0-9_.+-]+', '-', text).strip('-')}"


def expand_grid(grid: dict, base_dir: Path | None = None) -> list[BatchRun]:
    """The runs of a grid (see module docstring), every run's parameters resolved (:class:`BatchRun`), so checked,
    before anything runs."""
    if not isinstance(grid, dict):
        raise ParameterError("grid", grid, "must be a mapping with defaults:, runs: and/or matrix:")
    unknown = set(grid) - {"defaults", "runs", "matrix"}
    if unknown:
        raise ParameterError("grid", sorted(unknown), "unknown sections; use defaults:, runs:, matrix:")
    defaults = grid.get("defaults") or {}
    if not isinstance(defaults, dict):  # e.g. written as a list (``- data: ...``), as the runs under it are
        raise ParameterError(
            "defaults", defaults, "must map parameter names to values, e.g. {data: cohort.csv}"
        )
    defaults = dict(defaults)
    runs = grid.get("runs") or [{"name": "run"}]
    matrix = grid.get("matrix") or {}
    if not isinstance(runs, list) or not all(isinstance(r, dict) and r.get("name") for r in runs):
        raise ParameterError("runs", runs, "must be a list of mappings, each with a name:")
    if not isinstance(matrix, dict) or not all(isinstance(v, list) and v for v in matrix.values()):
        raise ParameterError("matrix", matrix, "must map parameter names to non-empty lists of values")
    n_runs = len(runs) * math.prod(len(values) for values in matrix.values())
    if n_runs > MAX_RUNS:
        message = f"the grid makes {n_runs:,} runs; a batch may have at most {MAX_RUNS:,}"
        raise ParameterError("matrix", ", ".join(map(str, matrix)), message)
    expanded: list[BatchRun] = []
    for run in runs:
        base = {**defaults, **{k: v for k, v in run.items() if k != "name"}}
        combos = itertools.product(*matrix.values()) if matrix else [()]
        for combo in combos:
            params = {**base, **dict(zip(matrix, combo, strict=True))}
            if base_dir is not None:
                params = anchor_data_path(params, base_dir)
            # resolved once, here: a bad grid is refused before the first run starts (and before a name shows it)
            params = resolve_parameters(params)
            name = "__".join([str(run["name"]), *(_suffix(k, v) for k, v in zip(matrix, combo, strict=True))])
            _check_name(name)
            expanded.append(BatchRun(name, params, resolved=True))
    names = [r.name for r in expanded]
    counts = Counter(names)
    duplicated = sorted(n for n, count in counts.items() if count > 1)
    if duplicated:
        raise ParameterError("runs", duplicated, "run names must be unique")
    folded: dict[str, list[str]] = {}
    for name in names:  # case-insensitive file systems (macOS, Windows) would write both into one folder
        folded.setdefault(name.casefold(), []).append(name)
    clashes = sorted(group for group in folded.values() if len(group) > 1)
    if clashes:
        raise ParameterError("runs", clashes[0], "run names must not differ only in upper/lower case")
    failed = sorted(n for n in names if n.casefold().endswith(".failed") and n.casefold()[:-7] in folded)
    if failed:
        raise ParameterError(
            "name", failed[0], "is where the failed run of the same name keeps its notebooks"
        )
    return expanded


def _check_name(name: str) -> None:
    """A run name is one safe folder name inside the batch's output folder, not one of the batch's own files."""
    if not _NAME.fullmatch(name):
        raise ParameterError("name", name, "run names may hold letters, digits and _ . = + - only")
    if len(name) > MAX_NAME_LENGTH:
        raise ParameterError(
            "name", name[:40] + "…", f"run names may be at most {MAX_NAME_LENGTH} characters"
        )
    if name.casefold() in _RESERVED:
        raise ParameterError("name", name, f"is reserved for the batch's own {name.casefold()}")


def load_grid(path: str | Path) -> list[BatchRun]:
    path = Path(path)
    return expand_grid(read_yaml_file(path, "grid"), base_dir=path.parent.resolve())


def _remove_leftovers(output: Path, runs: list[BatchRun]) -> None:
    """Delete the hidden ``.NAME.tmp-*`` / ``.NAME.trash-*`` folders that workers killed outright left for this
    batch's runs (:func:`cartreport.render.output.clear_leftovers`).

    A worker killed outright (SIGKILL, a lost machine) cannot clean up; dask reruns its report elsewhere. A folder
    that a live run holds (another ``cartreport run`` or batch writing the same folder) stays; where locks cannot
    tell (some network file systems), once every report of the batch has ended its folders are taken for abandoned.
    """
    from cartreport.render.output import clear_leftovers

    for run in runs:
        clear_leftovers(output / run.name, unsure=True)


def worker_count(jobs: int, n_runs: int, scheduler: str | None = None) -> int:
    """How many reports a batch runs at once for ``--jobs jobs``: at most one per core of this machine (a report is
    bound by the processor, and each worker holds a kernel of about 0.4 GB) and no more than there are runs. On a
    dask cluster given by ``scheduler`` the workers are the cluster's: ``jobs`` as given.

    >>> worker_count(4, n_runs=2) <= 2
    True
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int):
        raise ParameterError("--jobs", jobs, "must be a whole number of reports at once, e.g. 2")
    if jobs < 1:
        raise ParameterError("--jobs", jobs, "must be at least 1")
    if scheduler:
        return jobs
    return max(1, min(jobs, n_runs, os.cpu_count() or 1))


#: where a batch's reports run (``cartreport batch --executor``)
EXECUTORS = ("local", "dask")


def _check_batch_call(runs: object, executor: object) -> None:
    """Refuse, before any work, what ``cartreport batch`` never passes but a caller of :func:`run_batch` from Python
    may: no run at all (the summary would have no row), runs as the grid writes them rather than
    :class:`BatchRun` (:func:`load_grid` or :func:`expand_grid` makes those, checked), an executor that does not
    exist (it ran in this process without a word)."""
    if not isinstance(runs, list | tuple) or not runs:
        raise ParameterError(
            "runs", runs, "a batch needs at least one run (load_grid or expand_grid makes them)"
        )
    if not all(isinstance(run, BatchRun) for run in runs):
        raise ParameterError("runs", runs, "must be runs of a grid, as load_grid or expand_grid makes them")
    if executor not in EXECUTORS:
        raise ParameterError("executor", executor, f"must be {' or '.join(EXECUTORS)}")


def run_batch(
    runs: list[BatchRun],
    output: str | Path,
    *,
    jobs: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    progress: Callable[[dict], None] | None = None,
    started: Callable[[], None] | None = None,
) -> pd.DataFrame:
    """Execute every run and write ``summary.csv`` and ``index.html``; returns the summary (runs in grid order).

    Before any work the batch folder and every run's folder are checked (:func:`cartreport.api.check_batch_target`,
    once for the whole batch: a refusal raises :class:`~cartreport.errors.OutputFolderError` or
    :class:`~cartreport.errors.ParameterError` and nothing is written); then ``started()`` is called, and
    ``progress(row)`` with each run's summary row as it finishes.

    SIGINT or SIGTERM (in the main thread) stops the batch: no new report starts, the running ones are stopped
    and their temporary folders and kernels deleted, the summary is written for what finished (the rest marked
    ``interrupted``) and :class:`BatchInterrupted` is raised.
    """
    from cartreport.api import check_batch_target
    from cartreport.render import batch_index
    from cartreport.render.output import claim_folder, write_file

    _check_batch_call(runs, executor)
    jobs = worker_count(jobs, len(runs), scheduler)  # before any work, as the folders
    output = check_batch_target({run.name: run.parameters for run in runs}, output)  # before any work
    output.mkdir(parents=True, exist_ok=True)
    claim_folder(output, "batch")
    if started:
        started()
    if executor == "dask" or jobs > 1:  # the reports run elsewhere: the index's imports meanwhile
        batch_index.warm_up()
    with batch_workers.StopOnSignal(uuid.uuid4().hex) as stop:
        if executor == "dask":
            source = batch_workers.on_dask(runs, str(output), jobs, scheduler, stop)
        elif jobs > 1:
            source = batch_workers.on_local_processes(runs, str(output), jobs, stop)
        else:
            source = batch_workers.in_this_process(runs, str(output), stop)
        rows = {}
        for row in source:
            rows[row["name"]] = row
            if progress:
                progress(row)
        rows = [rows.get(run.name) or batch_workers.interrupted_row(run.name) for run in runs]
        _remove_leftovers(output, runs)
        summary = pd.DataFrame(rows)
        first = ["name", "status", "error", "n"]
        summary = summary[[c for c in first if c in summary] + [c for c in summary if c not in first]]
        # a failed run has no n, which made the column floats: the files say "16" patients, not "16.0"
        shown = summary.astype({"n": "Int64"}) if "n" in summary else summary
        # text a spreadsheet would run as a formula is quoted; an earlier summary stays whole until this one is
        write_file(output / "summary.csv", lambda partial: write_csv(shown, partial))
        batch_index.write_index(shown, output)
    if stop.signum is not None:
        raise BatchInterrupted(stop.signum, summary)
    return summary
