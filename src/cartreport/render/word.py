"""Write the executed report notebooks as one Word document (python-docx), for journals and co-authors.

:func:`write_docx` walks the same cells, in the same order, as the HTML report: markdown headings become Word
headings ("Heading 1", "Heading 2"… styles, so that a journal template can restyle them), prose paragraphs become
Word paragraphs with their bold and italic, every table shown by :func:`cartreport.report.notebook.show_table` becomes a
real, editable Word table under its numbered title, and every figure shown by
:func:`cartreport.report.notebook.show_figure` is embedded from ``figures/<name>.png`` (print resolution) at its drawn
size, with its numbered caption. Captions use Word's "Caption" style and a ``SEQ`` field, as Word's own
Insert Caption does. python-docx and mistune are imported only when a document is written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cartreport.render.html_report import REMOVE_CELL_TAGS

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["write_docx"]

logger = logging.getLogger(__name__)

_TAG_RE = re.compile(r"<[^>]+>")
_LABEL_RE = re.compile(r"^(Figure|Table) (\d+)$")


def write_docx(notebooks: Sequence[NotebookNode], title: str, path: Path, *, base_dir: Path) -> Path:
    """Write ``path`` (``report.docx``) from executed notebooks; figures are read from ``base_dir / "figures"``.

    Returns
    -------
    Path
        ``path``.
    """
    import docx
    import mistune
    from docx.shared import Mm

    # here, not at import: `cartreport run` imports this package before the analysis stack (its kernel starts first)
    from cartreport.analysis.params import TITLE_LENGTH

    document = docx.Document()
    for section in document.sections:  # A4 with 18 mm margins: the text is 174 mm wide, a double column
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.left_margin = section.right_margin = Mm(18)
        section.top_margin = section.bottom_margin = Mm(20)
    # at most Word's limit: a title from a long file name may exceed it (a title parameter may not)
    document.core_properties.title = title[:TITLE_LENGTH]
    document.core_properties.author = "cartreport"
    parse = mistune.create_markdown(renderer=None)
    writer = _Writer(document, Path(base_dir), parse)
    writer.paragraph(title, style="Title")
    for nb in notebooks:
        for cell in nb.cells:
            if REMOVE_CELL_TAGS & set(cell.get("metadata", {}).get("tags", [])):
                continue
            if cell.cell_type == "markdown":
                writer.markdown(cell.source)
            elif cell.cell_type == "code":
                for output in cell.get("outputs", []):
                    writer.output(output)
    partial = path.with_name(f".{path.name}.partial")
    document.save(partial)
    partial.replace(path)
    return path


class _Writer:
    """Appends notebook content to a python-docx Document."""

    def __init__(self, document: Any, base_dir: Path, parse: Any) -> None:
        from docx.enum.style import WD_STYLE_TYPE

        self.document = document
        self.base_dir = base_dir
        self.parse = parse
        # the template's styles, looked up once: python-docx reads every style of the template (and looks for the
        # default one among them) each time a style is set by name, which was half of writing the document
        styles = list(document.styles)
        self.paragraph_styles = {s.name: s.style_id for s in styles if s.type == WD_STYLE_TYPE.PARAGRAPH}
        self.table_styles = {s.name: s.style_id for s in styles if s.type == WD_STYLE_TYPE.TABLE}

    def paragraph(self, text: str = "", style: str | None = None) -> Any:
        """``document.add_paragraph(text, style)``, the style (a paragraph style of the template) set by its id."""
        paragraph = self.document.add_paragraph(text)
        if style is not None:
            paragraph._p.style = self.paragraph_styles[style]
        return paragraph

    def style(self, name: str) -> str | None:
        """``name`` if the template has that paragraph style, else None (the default paragraph style)."""
        return name if name in self.paragraph_styles else None

    # ------------------------------------------------------------------------------------------ outputs
    def output(self, output: dict) -> None:
        meta = (output.get("metadata") or {}).get("cartreport") or {}
        if meta.get("kind") == "figure":
            self.figure(meta)
        elif meta.get("kind") == "table":
            self.table(meta)
        elif "text/markdown" in output.get("data", {}):
            self.markdown(output["data"]["text/markdown"])

    def figure(self, meta: dict) -> None:
        from docx.shared import Inches

        png = self.base_dir / "figures" / f"{meta['name']}.png"
        if not png.is_file():
            logger.warning("report.docx: figure %s not found, left out", png)
            return
        picture = self.paragraph()
        picture.paragraph_format.keep_with_next = True
        picture.add_run().add_picture(str(png), width=Inches(float(meta["width_inches"])))
        _set_alt_text(picture, meta.get("alt", ""))
        self.caption(meta["label"], meta.get("title", ""), meta.get("legend", ""))

    def table(self, meta: dict) -> None:
        caption = self.caption(meta["label"], meta.get("title", ""), "")
        caption.paragraph_format.keep_with_next = True
        columns, rows = meta["columns"], meta["rows"]
        table = self.document.add_table(rows=1 + len(rows), cols=len(columns))
        if "Table Grid" in self.table_styles:
            table._tbl.tblPr.style = self.table_styles["Table Grid"]
        # each row's cells looked up once: python-docx finds a row and its cells by walking the XML
        header, *body = table.rows
        for cell, name in zip(header.cells, columns, strict=True):
            cell.text = ""
            cell.paragraphs[0].add_run(str(name)).bold = True
        _repeat_header(header)
        for row, values in zip(body, rows, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = str(value)
        if meta.get("footnote"):
            note = self.paragraph(meta["footnote"])
            for run in note.runs:
                run.italic = True

    def caption(self, label: str, title: str, legend: str) -> Any:
        """A caption paragraph: "Figure 3." as Word's SEQ field, then the title in bold and the legend."""
        paragraph = self.paragraph(style=self.style("Caption"))
        found = _LABEL_RE.match(label)
        if found:
            paragraph.add_run(f"{found.group(1)} ").bold = True
            _seq_field(paragraph, found.group(1), found.group(2))
            paragraph.add_run(".").bold = True
        else:
            paragraph.add_run(f"{label}.").bold = True
        if title:
            paragraph.add_run(f" {title}{'' if title.endswith('.') else '.'}").bold = True
        if legend:
            paragraph.add_run(f" {legend}")
        return paragraph

    # ----------------------------------------------------------------------------------------- markdown
    def markdown(self, text: str) -> None:
        for token in self.parse(text):
            self.block(token)

    def block(self, token: dict, list_style: str | None = None) -> None:
        kind = token["type"]
        if kind == "heading":
            level = min(int(token["attrs"]["level"]), 9)
            heading = self.paragraph(style=f"Heading {level}")
            self.inline(heading, token.get("children", []))
        elif kind in ("paragraph", "block_text"):
            paragraph = self.paragraph(style=list_style)
            self.inline(paragraph, token.get("children", []))
        elif kind == "list":
            ordered = token.get("attrs", {}).get("ordered", False)
            style = self.style("List Number" if ordered else "List Bullet")
            for item in token.get("children", []):
                for child in item.get("children", []):
                    self.block(child, list_style=style)
        elif kind == "block_quote":
            for child in token.get("children", []):
                self.block(child, list_style=self.style("Quote"))
        elif kind == "block_code":
            self.paragraph(token.get("raw", ""), style=list_style)
        elif kind == "block_html":
            text = _TAG_RE.sub("", token.get("raw", "")).strip()
            if text:
                self.paragraph(text, style=list_style)

    def inline(self, paragraph: Any, children: list[dict], bold: bool = False, italic: bool = False) -> None:
        for child in children:
            kind = child["type"]
            if kind in ("text", "codespan"):
                run = paragraph.add_run(child.get("raw", ""))
                run.bold, run.italic = bold or None, italic or None
            elif kind == "strong":
                self.inline(paragraph, child.get("children", []), True, italic)
            elif kind == "emphasis":
                self.inline(paragraph, child.get("children", []), bold, True)
            elif kind == "link":
                self.inline(paragraph, child.get("children", []), bold, italic)
            elif kind == "softbreak":
                paragraph.add_run(" ")
            elif kind == "linebreak":
                paragraph.add_run().add_break()
            elif kind == "inline_html":
                pass  # tags only; their text arrives as text tokens
            elif "children" in child:
                self.inline(paragraph, child["children"], bold, italic)


def _seq_field(paragraph: Any, sequence: str, number: str) -> None:
    """Append ``{ SEQ Figure \\* ARABIC }`` showing ``number`` (Word renumbers it on a field update)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), f" SEQ {sequence} \\* ARABIC ")
    run = OxmlElement("w:r")
    bold = OxmlElement("w:rPr")
    bold.append(OxmlElement("w:b"))
    run.append(bold)
    text = OxmlElement("w:t")
    text.text = number
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _repeat_header(row: Any) -> None:
    """Mark a table row as a header row, repeated on every page the table spans."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    properties.append(header)


def _set_alt_text(paragraph: Any, alt: str) -> None:
    """The picture's description (alternative text), read by screen readers and shown in Word's Alt Text pane."""
    from docx.oxml.ns import qn

    for doc_pr in paragraph._p.iter(qn("wp:docPr")):
        doc_pr.set("descr", alt)
