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
``cartreport run``; ``DIR/summary.csv`` and ``DIR/index.html`` summarise them. A failed run is reported and the others
finish; the exit code is 1 if any run failed. SIGINT or SIGTERM stops the batch: no new report starts, the running
ones are stopped and cleaned up (:mod:`cartreport.batch_workers`), the summary is written for what finished and the
exit code is 128 + the signal's number.
"""

from __future__ import annotations

import glob
import itertools
import json
import logging
import math
import re
import shutil
import signal
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from cartreport import batch_workers
from cartreport.analysis.params import anchor_data_path, read_yaml_file, resolve_parameters
from cartreport.batch_workers import BatchRun, run_one
from cartreport.errors import ParameterError
from cartreport.escape import write_csv

__all__ = [
    "BatchInterrupted",
    "BatchRun",
    "expand_grid",
    "load_grid",
    "main",
    "run_batch",
    "run_one",
]

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")
#: what a batch writes beside its report folders; a run may not be named so (in any case)
_RESERVED = ("summary.csv", "index.html")
#: longest run name: ``.NAME.tmp-xxxxxxxx`` must still fit a file-system name (255 bytes)
MAX_NAME_LENGTH = 200
#: most runs in one batch: a few short lists crossed in ``matrix`` can make millions
MAX_RUNS = 10_000

#: the index page's forest plot: CSS pixels per inch, and PNG pixels per CSS pixel (as the report's figures)
FOREST_PX_PER_INCH = 100
FOREST_DENSITY = 2


def _suffix(key: str, value: object) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return f"{key}={re.sub(r'[^A-Za-z0-9_.+-]+', '-', text).strip('-')}"


def expand_grid(grid: dict, base_dir: Path | None = None) -> list[BatchRun]:
    """The runs of a grid (see module docstring), every run's parameters checked before anything runs."""
    if not isinstance(grid, dict):
        raise ParameterError("grid", grid, "must be a mapping with defaults:, runs: and/or matrix:")
    unknown = set(grid) - {"defaults", "runs", "matrix"}
    if unknown:
        raise ParameterError("grid", sorted(unknown), "unknown sections; use defaults:, runs:, matrix:")
    defaults = dict(grid.get("defaults") or {})
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
            resolve_parameters(
                params
            )  # refuse a bad grid before the first run starts (and before a name shows it)
            name = "__".join([str(run["name"]), *(_suffix(k, v) for k, v in zip(matrix, combo, strict=True))])
            _check_name(name)
            expanded.append(BatchRun(name, params))
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
    if not _NAME.match(name):
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


class BatchInterrupted(KeyboardInterrupt):
    """A signal stopped the batch; ``summary.csv`` and ``index.html`` were written for what finished.

    ``signum`` is the signal (``signal.SIGINT`` or ``signal.SIGTERM``), ``summary`` the summary written.
    """

    def __init__(self, signum: int, summary: pd.DataFrame) -> None:
        super().__init__(signum)
        self.signum = signum
        self.summary = summary


def _remove_leftovers(output: Path, runs: list[BatchRun]) -> None:
    """Delete the hidden ``.NAME.tmp-*`` / ``.NAME.trash-*`` folders of this batch's runs.

    A worker killed outright (SIGKILL, a lost machine) cannot clean up; dask reruns its report elsewhere, and
    once every report of the batch has ended nothing writes to those folders any more.
    """
    for run in runs:
        for kind in ("tmp", "trash"):
            for leftover in output.glob(f".{glob.escape(run.name)}.{kind}-*"):
                logger.info("removing %s, left by a worker that was killed", leftover)
                shutil.rmtree(leftover, ignore_errors=True)


def run_batch(
    runs: list[BatchRun],
    output: str | Path,
    *,
    jobs: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    progress: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Execute every run and write ``summary.csv`` and ``index.html``; returns the summary (runs in grid order).

    SIGINT or SIGTERM (in the main thread) stops the batch: no new report starts, the running ones are stopped
    and their temporary folders and kernels deleted, the summary is written for what finished (the rest marked
    ``interrupted``) and :class:`BatchInterrupted` is raised.
    """
    from cartreport.api import check_batch_target
    from cartreport.render.output import claim_folder

    output = check_batch_target({run.name: run.parameters for run in runs}, output)  # before any work
    output.mkdir(parents=True, exist_ok=True)
    claim_folder(output, "batch")
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
        write_csv(summary, output / "summary.csv")  # text a spreadsheet would run as a formula is quoted
        _write_index(summary, output)
    if stop.signum is not None:
        raise BatchInterrupted(stop.signum, summary)
    return summary


def _index_template():
    """``templates/batch/index.html.j2``, autoescaped: run names and errors are data, shown as written."""
    import jinja2

    from cartreport.shipped import TEMPLATES_DIR

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "batch"), autoescape=True, keep_trailing_newline=True
    )
    return environment.get_template("index.html.j2")


def _write_index(summary: pd.DataFrame, output: Path) -> None:
    """``index.html``: a link per report, the summary table and a forest plot of 12-month (or first) landmarks."""
    import base64
    import io

    from markupsafe import Markup

    from cartreport import formatting
    from cartreport.report import figures

    figures.theme()
    ok = summary[summary["status"] == "ok"]
    forest = None
    os_cols = [c for c in summary.columns if re.fullmatch(r"os_[\d.]+m", c)]
    if len(ok) and os_cols:
        col = "os_12m" if "os_12m" in os_cols else os_cols[0]
        rows = ok[["name", col, f"{col}_ci_low", f"{col}_ci_high"]].dropna(subset=[col])
        rows = rows.rename(columns={col: "estimate", f"{col}_ci_low": "ci_low", f"{col}_ci_high": "ci_high"})
        if len(rows):
            ax = figures.plot_forest(rows, xlabel=f"Overall survival at {col[3:-1]} months (%)")
            buffer = io.BytesIO()
            # twice the display density, like the report's figures: crisp on high-density screens and zoomed
            dpi = FOREST_PX_PER_INCH * FOREST_DENSITY
            ax.figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
            png = buffer.getvalue()
            forest = {
                "png": base64.b64encode(png).decode(),
                # the PNG's own size (its IHDR header) over the density, rounded up: the size shown
                "width": -(-int.from_bytes(png[16:20], "big") // FOREST_DENSITY),
                "height": -(-int.from_bytes(png[20:24], "big") // FOREST_DENSITY),
            }
    shown = summary.copy()
    for c in shown.columns:
        if re.fullmatch(r"(os|lfs)_[\d.]+m(_ci_low|_ci_high)?", c):
            shown[c] = shown[c].map(lambda v: formatting.percent(v) if pd.notna(v) else "")
    page = _index_template().render(
        runs=[{"name": r.name, "status": r.status, "error": str(r.error)} for r in summary.itertuples()],
        n_ok=int((summary["status"] == "ok").sum()),
        forest=forest,
        summary_table=Markup(shown.to_html(index=False, na_rep="", escape=True)),  # pandas escaped the cells
    )
    (output / "index.html").write_text(page, encoding="utf-8")


def main(args) -> int:
    """``cartreport batch`` (called by :mod:`cartreport.cli`); 128 + the signal's number after SIGINT/SIGTERM."""
    import sys

    from tqdm import tqdm

    runs = load_grid(args.grid)
    from cartreport.api import check_batch_target

    check_batch_target({run.name: run.parameters for run in runs}, args.output)  # a refusal: one line, no bar
    bar = tqdm(total=len(runs), unit="report", desc="cartreport batch")
    where = Path(args.output) / "summary.csv"

    def progress(row: dict) -> None:
        bar.update(1)
        if row["status"] == "failed":
            lines = str(row["error"]).splitlines() or [""]
            more = f" (the full list is in {where})" if len(lines) > 1 else ""
            bar.write(f"{row['name']}: failed: {lines[0].rstrip(':')}{more}")

    try:
        summary = run_batch(
            runs,
            args.output,
            jobs=args.jobs,
            executor=args.executor,
            scheduler=args.scheduler,
            progress=progress,
        )
        interrupted_by = None
    except BatchInterrupted as stop:
        summary, interrupted_by = stop.summary, stop.signum
    bar.close()
    counts = summary["status"].value_counts()
    others = ", ".join(f"{counts[s]} {s}" for s in ("failed", "interrupted") if s in counts)
    print(
        f"{counts.get('ok', 0)} of {len(summary)} runs ok{f' ({others})' if others else ''}; summary in {where}"
    )
    if interrupted_by is not None:
        name = signal.Signals(interrupted_by).name
        print(
            f"interrupted by {name}: no new report was started, the running ones were stopped",
            file=sys.stderr,
        )
        return 128 + interrupted_by
    return 1 if counts.get("ok", 0) < len(summary) else 0
