"""What the report notebooks call to show things: prose, figures and tables, saved when the report is written.

When a notebook runs inside ``cartreport run``, ``output_dir`` is the report folder being built and every figure is
written to ``figures/<name>.png`` (print resolution), ``.svg`` and ``.pdf`` and every table to
``tables/<name>.csv``; opened interactively in JupyterLab (``output_dir`` empty) nothing is written.

Every figure and table shown is numbered (:mod:`cartreport.report.numbering`) and captioned (:mod:`cartreport.report.captions`).
A figure is shown as a ``<figure>`` with a PNG at twice its display size (crisp on high-density screens) and its
numbered legend; the display output carries the caption and the table data as metadata under ``"cartreport"``,
which :mod:`cartreport.render.word` reads to write the same report as Word.
"""

from __future__ import annotations

import base64
import html
import io
import re
from contextlib import nullcontext
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, display
from IPython.display import Markdown as MarkdownOutput
from matplotlib.axes import Axes
from matplotlib.figure import SubFigure

from cartreport.escape import Markdown, write_csv
from cartreport.report import captions, figures, numbering, print_queue, tables

#: CSS pixels per inch of figure on screen (a 174 mm figure is about 820 px wide; print uses the true size)
SCREEN_PX_PER_INCH = 120
#: the PNG in the HTML has this many pixels per CSS pixel (2: sharp on high-density screens and when zoomed)
SCREEN_DENSITY = 2
#: figures wider than this (inches) are "wide": on a phone they scroll sideways rather than shrink to illegible
WIDE_ABOVE_INCHES = 4.0

__all__ = ["setup", "show_figure", "show_markdown", "show_table"]


def setup() -> None:
    """Apply the report's figure theme."""
    figures.theme()


def show_markdown(text: Markdown) -> None:
    """Show generated prose; nothing when the text is empty.

    Only :class:`~cartreport.escape.Markdown` is shown (what :mod:`cartreport.report.prose` returns, data escaped):
    a plain ``str`` could carry markup from the data, so it is refused.
    """
    if not text:
        return
    if not isinstance(text, Markdown):
        raise TypeError("show_markdown shows Markdown built by cartreport.escape.md (data escaped), not str")
    display(MarkdownOutput(str(text)))


def show_figure(fig, name: str, output_dir: str = "", *, caption: captions.Caption | None = None) -> None:
    """Show a figure with its number and caption and, inside a report run, write it for manuscripts (PNG at
    :data:`cartreport.report.figures.PRINT_DPI`, SVG, PDF).

    ``None`` (a figure that does not apply, e.g. no subgroup asked for) shows nothing and takes no number.
    """
    if fig is None:
        return
    figure = fig.get_figure(root=True) if isinstance(fig, Axes | SubFigure) else fig
    label = numbering.figure(name)
    png = io.BytesIO()
    # the print files from the figure as it is now, the screen image its first drawing: each the same every run
    printing = (
        print_queue.print_files(figure, Path(output_dir) / "figures", name) if output_dir else nullcontext()
    )
    with printing:
        figures.save_png(figure, png, dpi=SCREEN_PX_PER_INCH * SCREEN_DENSITY, palette=True)
    width_in, height_in = figure.get_size_inches()
    plt.close(figure)
    title = caption.title if caption else ""
    legend = caption.legend if caption else ""
    alt = caption.alt if caption else f"{label}: {name.replace('_', ' ')}"
    display(
        HTML(_figure_html(png.getvalue(), name, label, title, legend, alt, width_in, height_in)),
        metadata={
            "cartreport": {
                "kind": "figure",
                "name": name,
                "label": label,
                "title": title,
                "legend": legend,
                "alt": alt,
                "width_inches": float(width_in),
            }
        },
    )


def _figure_html(
    png: bytes, name: str, label: str, title: str, legend: str, alt: str, width_in: float, height_in: float
) -> str:
    """``<figure>`` with the image at its display size and a numbered ``<figcaption>``; all text escaped."""
    esc = html.escape
    wide = " cr-wide" if width_in > WIDE_ABOVE_INCHES else ""
    width, height = round(width_in * SCREEN_PX_PER_INCH), round(height_in * SCREEN_PX_PER_INCH)
    data = base64.b64encode(png).decode("ascii")
    head = f"{esc(title)}." if title and not title.endswith(".") else esc(title)
    return (
        f'<figure class="cr-figure{wide}" id="figure-{esc(name)}">'
        f'<div class="cr-figure-image"><img src="data:image/png;base64,{data}" width="{width}" height="{height}" '
        f'alt="{esc(alt)}" style="--screen-width: {width}px; --print-width: {width_in * 25.4:.1f}mm"></div>'
        f'<figcaption><span class="cr-label">{esc(label)}.</span> <span class="cr-title">{head}</span> '
        f"{esc(legend)}</figcaption></figure>"
    )


def show_table(
    frame: pd.DataFrame | None,
    name: str,
    output_dir: str = "",
    *,
    title: str | None = None,
    footnote: str | None = None,
) -> None:
    """Show a table in the house style under its number and title ("Table 2. Landmark estimates") and, inside a
    report run, write it as CSV (formulas neutralised).

    ``title`` defaults to the frame's own title, then to :func:`cartreport.report.captions.table_title`. ``None`` or an
    empty table (e.g. no published figures for the user's own data) shows nothing and takes no number.
    """
    if frame is None or frame.empty:
        return
    if output_dir:
        directory = Path(output_dir) / "tables"
        directory.mkdir(parents=True, exist_ok=True)
        write_csv(frame, directory / f"{name}.csv")
    label = numbering.table(name)
    title = title or frame.attrs.get("title") or captions.table_title(name, {})
    footnote = footnote or frame.attrs.get("footnote")
    heading = f"{label}. {title}"
    table_html = tables.to_gt(
        frame, title=heading, footnote=footnote, id="gt-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)
    ).as_raw_html()
    display(
        HTML(f'<div class="cr-table" id="table-{html.escape(name)}">{table_html}</div>'),
        metadata={
            "cartreport": {
                "kind": "table",
                "name": name,
                "label": label,
                "title": title,
                "footnote": footnote or "",
                "group": frame.attrs.get("group"),
                "columns": [str(c) for c in frame.columns],
                "rows": [
                    ["" if pd.isna(v) else str(v) for v in row] for row in frame.itertuples(index=False)
                ],
            }
        },
    )
