"""A batch's ``index.html``: a link per report, the summary table and a forest plot of the runs' 12-month (or first)
overall-survival landmarks, rendered from ``templates/batch/index.html.j2``.

:func:`cartreport.batch.run_batch` writes it beside ``summary.csv``, from the same summary. The template is
autoescaped: run names and errors are data, shown as written. Only the standard library and pandas are imported at
module level (jinja2 and the figures when a page is written).
"""

from __future__ import annotations

import contextlib
import re
import threading
from pathlib import Path
from types import ModuleType

import pandas as pd

from cartreport.render.output import write_file

__all__ = [
    "FOREST_DENSITY",
    "FOREST_MAX_RUNS",
    "FOREST_PX_PER_INCH",
    "forest_axis_label",
    "warm_up",
    "write_index",
]

#: the index page's forest plot: CSS pixels per inch, and PNG pixels per CSS pixel (as the report's figures)
FOREST_PX_PER_INCH = 100
FOREST_DENSITY = 2
#: most runs the forest plot shows (a row each: 50 rows are about 13 inches); the list and the table show every run
FOREST_MAX_RUNS = 50


def _import_figures() -> ModuleType:
    """The report's figures (:mod:`cartreport.report.figures`), seaborn imported without scipy
    (:func:`cartreport.render.kernel.import_seaborn_lean`)."""
    from cartreport.render.kernel import import_seaborn_lean

    import_seaborn_lean()
    from cartreport.report import figures

    return figures


def warm_up() -> threading.Thread:
    """Import what drawing the forest plot needs (matplotlib, seaborn, the report's figures) on a daemon thread,
    now; return the thread. A batch whose reports run in other processes calls it as they start: its own process
    only waits for them meanwhile, and the page is drawn as soon as the last report is done (this import took
    0.9 s after it). Never raises: :func:`write_index` imports again and reports a problem."""

    def run() -> None:
        with contextlib.suppress(Exception):
            _import_figures()

    thread = threading.Thread(target=run, name="cartreport-index-warm-up", daemon=True)
    thread.start()
    return thread


def _index_template():
    """``templates/batch/index.html.j2``, autoescaped: run names and errors are data, shown as written."""
    import jinja2

    from cartreport.shipped import TEMPLATES_DIR

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "batch"), autoescape=True, keep_trailing_newline=True
    )
    return environment.get_template("index.html.j2")


def forest_axis_label(summary: pd.DataFrame, column: str) -> str:
    """The forest plot's axis: the landmark, and the level of its intervals when every run shown shares it
    (``ci_level``, from each run's results.json); runs of one batch may differ in it."""
    label = f"Overall survival at {column[3:-1]} months (%)"
    levels = summary["ci_level"].dropna().unique() if "ci_level" in summary else []
    if len(levels) == 1:
        from cartreport import formatting

        return f"{label} with {formatting.level_label(float(levels[0]))} CI"
    return f"{label}; intervals at each run's confidence level" if len(levels) else label


def _forest(summary: pd.DataFrame) -> dict | None:
    """The forest plot of the runs that finished, as the template shows it (base64 PNG, displayed size); ``None``
    without a run that finished or without an overall-survival landmark."""
    import base64
    import io

    from cartreport.report import figures

    ok = summary[summary["status"] == "ok"]
    os_cols = [c for c in summary.columns if re.fullmatch(r"os_[\d.]+m", c)]
    if not (len(ok) and os_cols):
        return None
    col = "os_12m" if "os_12m" in os_cols else os_cols[0]
    rows = ok[["name", col, f"{col}_ci_low", f"{col}_ci_high"]].dropna(subset=[col])
    rows = rows.rename(columns={col: "estimate", f"{col}_ci_low": "ci_low", f"{col}_ci_high": "ci_high"})
    if not len(rows):
        return None
    finished = len(rows)
    rows = rows.head(FOREST_MAX_RUNS)  # memory and time of the plot grow with its rows: a page, not a scroll
    ax = figures.plot_forest(rows, xlabel=forest_axis_label(ok.loc[rows.index], col))
    buffer = io.BytesIO()
    # twice the display density, like the report's figures: crisp on high-density screens and zoomed
    dpi = FOREST_PX_PER_INCH * FOREST_DENSITY
    ax.figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    png = buffer.getvalue()
    return {
        "png": base64.b64encode(png).decode(),
        # the PNG's own size (its IHDR header) over the density, rounded up: the size shown
        "width": -(-int.from_bytes(png[16:20], "big") // FOREST_DENSITY),
        "height": -(-int.from_bytes(png[20:24], "big") // FOREST_DENSITY),
        "shown": len(rows),
        "finished": finished,
    }


def write_index(summary: pd.DataFrame, output: Path) -> None:
    """``output/index.html``: a link per report, the summary table and a forest plot of 12-month (or first)
    landmarks. ``summary`` is the batch's summary (``name``, ``status``, ``error``, the landmark columns)."""
    from markupsafe import Markup

    from cartreport import formatting

    figures = _import_figures()
    figures.theme()
    forest = _forest(summary)
    shown = summary.copy()
    for c in shown.columns:
        if re.fullmatch(r"(os|lfs)_[\d.]+m(_ci_low|_ci_high)?", c):
            shown[c] = shown[c].map(lambda v: formatting.percent(v) if pd.notna(v) else "")
    if "ci_level" in shown:
        shown["ci_level"] = shown["ci_level"].map(lambda v: formatting.level_label(v) if pd.notna(v) else "")
    page = _index_template().render(
        runs=[{"name": r.name, "status": r.status, "error": str(r.error)} for r in summary.itertuples()],
        n_ok=int((summary["status"] == "ok").sum()),
        forest=forest,
        summary_table=Markup(shown.to_html(index=False, na_rep="", escape=True)),  # pandas escaped the cells
    )
    write_file(Path(output) / "index.html", lambda partial: partial.write_text(page, encoding="utf-8"))
