"""What the report notebooks call to show things: prose, figures and tables, saved when the report is written.

When a notebook runs inside ``cartreport run``, ``output_dir`` is the report folder being built and every figure is
written to ``figures/<name>.png`` and ``.svg`` and every table to ``tables/<name>.csv``; opened interactively in
JupyterLab (``output_dir`` empty) nothing is written. The figure shown in the notebook (and so in ``report.html``)
is the same PNG that is written.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML, Image, display
from IPython.display import Markdown as MarkdownOutput

from cartreport import figures, tables
from cartreport.escape import Markdown, write_csv

__all__ = ["setup", "show_figure", "show_markdown", "show_table"]


def setup() -> None:
    """Apply the report's figure theme."""
    figures.theme()


def show_markdown(text: Markdown) -> None:
    """Show generated prose; nothing when the text is empty.

    Only :class:`~cartreport.escape.Markdown` is shown (what :mod:`cartreport.prose` returns, data escaped):
    a plain ``str`` could carry markup from the data, so it is refused.
    """
    if not text:
        return
    if not isinstance(text, Markdown):
        raise TypeError("show_markdown shows Markdown built by cartreport.escape.md (data escaped), not str")
    display(MarkdownOutput(str(text)))


def show_figure(fig, name: str, output_dir: str = "") -> None:
    """Show a figure and, inside a report run, write it as PNG (for the HTML) and SVG (for manuscripts).

    ``None`` (a figure that does not apply, e.g. no subgroup asked for) shows nothing.
    """
    if fig is None:
        return
    if output_dir:
        paths = figures.save_figure(fig, Path(output_dir) / "figures", name)
        display(Image(filename=str(paths["png"])))
    else:
        display(fig)
    plt.close(fig)


def show_table(
    frame: pd.DataFrame | None,
    name: str,
    output_dir: str = "",
    *,
    title: str | None = None,
    footnote: str | None = None,
) -> None:
    """Show a table in the house style and, inside a report run, write it as CSV (formulas neutralised).

    ``None`` or an empty table (e.g. no published figures for the user's own data) shows nothing.
    """
    if frame is None or frame.empty:
        return
    if output_dir:
        directory = Path(output_dir) / "tables"
        directory.mkdir(parents=True, exist_ok=True)
        write_csv(frame, directory / f"{name}.csv")
    display(HTML(tables.to_gt(frame, title=title, footnote=footnote).as_raw_html()))
