"""Export executed report notebooks as one self-contained HTML file.

:func:`export_html` merges the notebooks and exports them with our template
(``cartreport/templates/cartreport``): no input code, no prompts, a table of contents, nothing loaded
from the network. The ``HTMLExporter`` is built once per process and shared. Only the standard library
is imported at module level.
"""

from __future__ import annotations

import html
import logging
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cartreport.shipped import TEMPLATES_DIR

if TYPE_CHECKING:
    from nbconvert import HTMLExporter
    from nbformat import NotebookNode

__all__ = ["REMOVE_CELL_TAGS", "TEMPLATES_DIR", "export_html"]

logger = logging.getLogger(__name__)

TEMPLATE_NAME = "cartreport"

#: Cell tags whose cells never reach the HTML.
REMOVE_CELL_TAGS = frozenset({"remove_cell", "parameters", "injected-parameters"})

_TOC_PLACEHOLDER = "<!--cartreport:toc-->"
_HEADING_RE = re.compile(r"<h([12])(\s[^>]*)?>(.*?)</h\1>", re.DOTALL | re.IGNORECASE)
_ID_RE = re.compile(r'\sid="([^"]*)"')
_TAG_RE = re.compile(r"<[^>]+>")
_EXTERNAL_RE = re.compile(  # resources a browser would fetch: anything but a data: URI
    r"""<(?:img|script|link|iframe|source|video|audio)\b[^>]*?\s(?:src|href)=["'](?!data:)([^"']+)""",
    re.IGNORECASE,
)
_MD_HEADING_RE = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _import_notebook_stack() -> None:
    """Import nbformat without the ~1.2 s that ``rfc3987_syntax`` spends compiling Lark grammars.

    nbformat imports jsonschema, whose format module eagerly imports ``rfc3987_syntax`` (installed
    through ``jsonschema[format-nongpl]``, python-jsonschema/jsonschema#1428) only to offer an
    ``iri`` format check that no notebook schema uses. Hiding it for the first import of jsonschema
    in this process skips that check; nothing else changes. A no-op once jsonschema is imported.
    """
    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        return
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        import nbformat  # noqa: F401
    finally:
        if "rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is None:
            del sys.modules["rfc3987_syntax"]


_exporter: HTMLExporter | None = None
_exporter_lock = threading.Lock()


def _get_exporter() -> HTMLExporter:
    """The module's one ``HTMLExporter`` (template compiled once; ~0.01 s per later export)."""
    global _exporter
    if _exporter is None:
        _import_notebook_stack()
        from nbconvert import HTMLExporter
        from traitlets.config import Config

        config = Config()
        config.TagRemovePreprocessor.enabled = True
        config.TagRemovePreprocessor.remove_cell_tags = set(REMOVE_CELL_TAGS)
        config.TagRemovePreprocessor.remove_all_outputs_tags = {"remove_output"}
        config.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
        _exporter = HTMLExporter(
            config=config,
            template_name=TEMPLATE_NAME,
            extra_template_basedirs=[str(TEMPLATES_DIR)],
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            embed_images=True,
        )
    return _exporter


def _warm_up_exporter() -> None:
    """Build the exporter and compile its template (~0.2 s) on an empty notebook; never raises."""
    try:
        import nbformat

        with _exporter_lock:
            _get_exporter().from_notebook_node(
                nbformat.v4.new_notebook(), resources={"metadata": {"name": ""}}
            )
    except Exception:  # the real export will report the problem
        logger.debug("HTML exporter warm-up failed", exc_info=True)


def _merge(notebooks: Sequence[NotebookNode]) -> NotebookNode:
    """One notebook holding the cells of all ``notebooks`` (code cells without output dropped)."""
    import copy

    import nbformat

    merged = nbformat.v4.new_notebook()
    if notebooks:
        merged.metadata = copy.deepcopy(notebooks[0].metadata)
        merged.metadata.pop("papermill", None)
    for k, nb in enumerate(notebooks):
        heading = ""
        for j, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                found = _MD_HEADING_RE.findall(cell.source)
                heading = found[-1].strip() if found else heading
            if cell.cell_type == "code" and not cell.get("outputs"):
                continue
            cell = copy.deepcopy(cell)
            cell["id"] = f"s{k}-c{j}"  # ids must be unique in the merged notebook
            if cell.cell_type == "code" and "alt" not in cell.metadata:
                # nbconvert's alt text comes from output or cell metadata; default to the section heading
                cell.metadata["alt"] = f"Figure: {heading}" if heading else "Figure"
            merged.cells.append(cell)
    return merged


def _slug(text: str) -> str:
    return re.sub(r"\s+", "-", text.strip()) or "section"


def _add_toc(body: str) -> str:
    """Give every h1/h2 after the placeholder a unique id and put a table of contents there."""
    head, sep, rest = body.partition(_TOC_PLACEHOLDER)
    if not sep:
        return body
    seen: dict[str, int] = {}
    entries: list[tuple[int, str, str]] = []

    def visit(match: re.Match[str]) -> str:
        level, attrs, inner = int(match.group(1)), match.group(2) or "", match.group(3)
        text = html.unescape(_TAG_RE.sub("", inner)).replace("\u00b6", "").strip()
        found = _ID_RE.search(attrs)
        old = found.group(1) if found else None
        anchor = old or html.escape(_slug(text), quote=True)
        seen[anchor] = seen.get(anchor, 0) + 1
        if seen[anchor] > 1:
            anchor = f"{anchor}-{seen[anchor]}"
        if old is not None:
            attrs = _ID_RE.sub(f' id="{anchor}"', attrs, count=1)
            inner = inner.replace(f'href="#{old}"', f'href="#{anchor}"')
        else:
            attrs = f' id="{anchor}"{attrs}'
        entries.append((level, anchor, text))
        return f"<h{level}{attrs}>{inner}</h{level}>"

    rest = _HEADING_RE.sub(visit, rest)
    if not entries:
        return head + rest
    lines = ['<nav class="toc" aria-label="Contents">', '<p class="toc-title">Contents</p>', "<ol>"]
    open_sub = False
    top = min(level for level, _, _ in entries)
    for level, anchor, text in entries:
        item = f'<li><a href="#{anchor}">{html.escape(text)}</a>'
        if level > top:
            if not open_sub:
                lines.append("<ol>")
                open_sub = True
            lines.append(item + "</li>")
            continue
        if open_sub:
            lines.append("</ol></li>")
            open_sub = False
        elif len(lines) > 3:
            lines[-1] += "</li>"
        lines.append(item)
    lines.append("</ol></li>" if open_sub else "</li>")
    lines += ["</ol>", "</nav>"]
    return head + "\n".join(lines) + rest


def export_html(notebooks: Sequence[NotebookNode], title: str, *, base_dir: Path | None = None) -> str:
    """Merge executed notebooks into one self-contained HTML report.

    Input code and prompts are left out; cells tagged ``remove_cell`` (and the ``parameters`` /
    ``injected-parameters`` cells) are dropped, ``remove_input`` / ``remove_output`` honoured. Figures
    are embedded as base64 PNG/SVG; the template (``templates/cartreport``, based on nbconvert's
    ``basic``) inlines our CSS and loads nothing from the network. A table of contents of the h1/h2
    headings (markdown cells and markdown outputs) is placed at the top.

    Parameters
    ----------
    notebooks : sequence of NotebookNode
        Executed notebooks, in report order.
    title : str
        Report title (``<title>`` and the header line).
    base_dir : Path, optional
        Folder that relative image paths in markdown cells (``![](figures/km.png)``) refer to; such
        images are embedded as base64. Defaults to the current directory.

    Returns
    -------
    str
        The complete HTML document.
    """
    merged = _merge(notebooks)
    resources = {"metadata": {"name": title, "path": str(base_dir) if base_dir is not None else ""}}
    with _exporter_lock:
        body, _ = _get_exporter().from_notebook_node(merged, resources=resources)
    external = sorted(set(_EXTERNAL_RE.findall(body)))
    if external:  # e.g. a markdown image from the web, or a missing local file
        logger.warning("report.html is not self-contained, it refers to: %s", ", ".join(external))
    return _add_toc(body)
