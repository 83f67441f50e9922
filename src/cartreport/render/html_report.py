"""Export executed report notebooks as one self-contained HTML file.

:func:`export_html` merges the notebooks and exports them with our template
(``cartreport/templates/cartreport``): no input code, no prompts, a table of contents, nothing loaded
from the network. The ``HTMLExporter`` is built once per process and shared. Only the standard library
is imported at module level.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import threading
from collections.abc import Sequence
from html.parser import HTMLParser
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
#: headings in the table of contents, and their level
_TOC_LEVELS = {"h1": 1, "h2": 2, "h3": 3}
_MD_HEADING_RE = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


#: jsonschema's optional format checkers that cost the most to import, for formats no notebook schema checks:
#: ``iri`` (rfc3987_syntax compiles Lark grammars: ~1.2 s) and ``duration`` (isoduration imports arrow: ~0.15 s)
_UNUSED_FORMAT_CHECKERS = ("rfc3987_syntax", "isoduration")


def _import_notebook_stack() -> None:
    """Import nbformat without the format checkers of :data:`_UNUSED_FORMAT_CHECKERS`.

    nbformat imports jsonschema, whose format module eagerly imports every optional checker installed (through
    ``jsonschema[format-nongpl]``, python-jsonschema/jsonschema#1428), only to offer format checks that the notebook
    schema never asks for (and nbformat validates with fastjsonschema). Hiding the costly ones for the first import
    of jsonschema in this process skips those checks; nothing else changes, and a later ``import`` of either works.
    A no-op once jsonschema is imported.
    """
    if "jsonschema" in sys.modules:
        return
    hidden = [name for name in _UNUSED_FORMAT_CHECKERS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        import nbformat  # noqa: F401
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


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


class _Page(HTMLParser):
    """One pass over an HTML body (:class:`html.parser.HTMLParser`, as a browser tokenises it, never a pattern):

    * ``headings``: where its h1–h3 are, ``(start, end, level, attrs, inner, link, text)`` each: offsets into the
      body, the tag's attributes, the ``(start, end)`` of its content and whether nbconvert gave it an anchor link
      (the "¶" link, left out of the content), ``text`` what the reader sees;
    * ``external``: the resources a browser would fetch (``src``/``href`` of images, scripts, styles, frames and
      media that are not ``data:`` URIs).
    """

    _FETCHED = frozenset({"img", "script", "link", "iframe", "source", "video", "audio"})

    def __init__(self, body: str) -> None:
        super().__init__(convert_charrefs=True)
        # line starts as HTMLParser.getpos counts lines: by "\n" only
        self._lines = [0, *(m.end() for m in re.finditer("\n", body))]
        self.headings: list[
            tuple[int, int, int, list[tuple[str, str | None]], tuple[int, int], bool, str]
        ] = []
        self.external: set[str] = set()
        self._open: tuple[int, int, list[tuple[str, str | None]], int] | None = None
        self._link: tuple[int, int] | None = None  # the open heading's anchor link
        self._in_link = False
        self._text: list[str] = []
        self.feed(body)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._FETCHED:
            self.external |= {
                value.strip()
                for name, value in attrs
                if name in ("src", "href") and value and not value.strip().lower().startswith("data:")
            }
        if self._open is None and tag in _TOC_LEVELS:
            start = self._offset()
            self._open = (start, _TOC_LEVELS[tag], attrs, start + len(self.get_starttag_text() or ""))
            self._text, self._link = [], None
        elif (
            self._open is not None
            and tag == "a"
            and "anchor-link" in (dict(attrs).get("class") or "").split()
        ):
            self._link, self._in_link = (self._offset(), -1), True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self._open is None:
            return
        if tag == "a" and self._in_link and self._link is not None:
            self._link, self._in_link = (self._link[0], self._offset() + len("</a>")), False
        elif _TOC_LEVELS.get(tag) == self._open[1]:
            start, level, attrs, inner_start = self._open
            inner_end = self._offset()
            end = inner_end + len(f"</{tag}>")
            text = " ".join("".join(self._text).replace("\u00b6", "").split())
            self.headings.append((start, end, level, attrs, (inner_start, inner_end), self._link, text))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None and not self._in_link:
            self._text.append(data)


def _toc_tree(entries: list[tuple[int, str, str]]) -> list[dict]:
    """``(level, anchor, text)`` in page order → nested entries: each heading under the one of a lower level."""
    root: list[dict] = []
    open_: list[tuple[int, list[dict]]] = [(0, root)]
    for level, anchor, text in entries:
        while len(open_) > 1 and level <= open_[-1][0]:
            open_.pop()
        entry = {"anchor": anchor, "text": text, "children": []}
        open_[-1][1].append(entry)
        open_.append((level, entry["children"]))
    return root


@functools.cache
def _templates():
    """``templates/cartreport/{toc,heading}.html.j2``, autoescaped: the headings' text is data, shown as written."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "cartreport"), autoescape=True
    )
    return environment.get_template("toc.html.j2"), environment.get_template("heading.html.j2")


def _add_toc(body: str, page: _Page) -> str:
    """Give every h1/h2/h3 after the placeholder a unique id and put a nested table of contents there.

    Headings are found by parsing the HTML (``page``, :class:`_Page` of ``body``); each is written again from
    ``heading.html.j2`` with its id (and its anchor link pointing at it), the contents from ``toc.html.j2``.
    """
    from markupsafe import Markup

    at = body.find(_TOC_PLACEHOLDER)
    if at < 0:
        return body
    toc, heading = _templates()
    seen: dict[str, int] = {}
    entries: list[tuple[int, str, str]] = []
    pieces: list[str] = [body[:at]]
    done = at + len(_TOC_PLACEHOLDER)
    for start, end, level, attrs, (inner_start, inner_end), link, text in page.headings:
        if start < done:
            continue
        anchor = dict(attrs).get("id") or _slug(text)
        seen[anchor] = seen.get(anchor, 0) + 1
        if seen[anchor] > 1:
            anchor = f"{anchor}-{seen[anchor]}"
        inner = body[inner_start:inner_end]
        if link is not None:
            inner = body[inner_start : link[0]] + body[link[1] : inner_end]
        others = [(name, value) for name, value in attrs if name != "id"]
        pieces += [
            body[done:start],
            heading.render(
                level=level, anchor=anchor, attrs=others, inner=Markup(inner), link=link is not None
            ),
        ]
        done = end
        entries.append((level, anchor, text))
    if not entries:
        return body[:at] + body[at + len(_TOC_PLACEHOLDER) :]
    pieces.insert(1, toc.render(entries=_toc_tree(entries)))
    return "".join(pieces) + body[done:]


def export_html(notebooks: Sequence[NotebookNode], title: str, *, base_dir: Path | None = None) -> str:
    """Merge executed notebooks into one self-contained HTML report.

    Input code and prompts are left out; cells tagged ``remove_cell`` (and the ``parameters`` /
    ``injected-parameters`` cells) are dropped, ``remove_input`` / ``remove_output`` honoured. Figures
    are embedded as base64 PNG/SVG; the template (``templates/cartreport``, based on nbconvert's
    ``basic``) inlines our CSS and loads nothing from the network. A table of contents of the h1/h2/h3
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
    page = _Page(body)
    if page.external:  # e.g. a markdown image from the web, or a missing local file
        logger.warning(
            "report.html is not self-contained, it refers to: %s", ", ".join(sorted(page.external))
        )
    return _add_toc(body, page)
