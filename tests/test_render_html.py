"""Tests for cartreport.render.html_report: one self-contained HTML file with a table of contents (no kernel)."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from cartreport.render import export_html
from cartreport.render.html_report import _get_exporter

# A 1x1 PNG for HTML tests that need no kernel.
PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()


def executed_notebook(title: str, *, extra_cells: list | None = None) -> nbformat.NotebookNode:
    figure = nbformat.v4.new_code_cell(
        "secret_plotting_code()", execution_count=2, metadata={"tags": ["figure"]}
    )
    figure.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": PNG_1PX, "text/plain": "<Figure>"})
    ]
    table = nbformat.v4.new_code_cell("secret_table_code()", execution_count=3)
    table.outputs = [
        nbformat.v4.new_output(
            "execute_result",
            data={"text/html": "<table><tr><td>42</td></tr></table>", "text/plain": "42"},
            execution_count=3,
        )
    ]
    removed = nbformat.v4.new_code_cell("x", execution_count=4, metadata={"tags": ["remove_cell"]})
    removed.outputs = [nbformat.v4.new_output("stream", name="stdout", text="SHOULD-NOT-APPEAR\n")]
    cells = [
        nbformat.v4.new_code_cell("alpha = 1", metadata={"tags": ["parameters"]}, execution_count=1),
        nbformat.v4.new_markdown_cell(f"# {title}\n\nText.\n\n## Methods\n\n### Sub\n\n#### Not in the TOC"),
        figure,
        table,
        removed,
        *(extra_cells or []),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def test_html_is_self_contained_without_code_and_has_a_toc() -> None:
    page = export_html([executed_notebook("Design"), executed_notebook("Overall survival")], "Study X & Y")

    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Study X &amp; Y</title>" in page
    assert page.count("data:image/png;base64,") == 2
    assert "secret_plotting_code" not in page and "secret_table_code" not in page and "alpha = 1" not in page
    assert "SHOULD-NOT-APPEAR" not in page
    assert "In&nbsp;[" not in page and "Out[" not in page
    assert "<td>42</td>" in page
    # nothing from the network
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page
    # table of contents: h1/h2/h3 with working, unique anchors, nested by level
    toc = page[page.index('<nav class="toc"') : page.index("</nav>")]
    links = re.findall(r'<a href="#([^"]+)">([^<]*)</a>', toc)
    texts = [text for _, text in links]
    assert texts == ["Design", "Methods", "Sub", "Overall survival", "Methods", "Sub"]
    anchors = [anchor for anchor, _ in links]
    assert len(set(anchors)) == 6
    for anchor in anchors:
        assert f'id="{anchor}"' in page
    assert toc.count("<ol>") == 1 + 2 + 2, "one list, one per h1's h2s, one per h2's h3s"
    assert "Not in the TOC" not in toc
    assert page.index('<nav class="toc"') < page.index("data:image/png")
    assert 'alt="Figure: Not in the TOC"' in page  # nearest heading above the figure


def test_toc_entries_are_the_headings_text_escaped() -> None:
    """A heading built from data (``### Overall survival by <b>*T*</b>`` escaped by cartreport.escape) shows in
    the contents as written; markup-like text in a heading never becomes markup in the contents."""
    from cartreport.escape import md

    cell = nbformat.v4.new_markdown_cell(
        str(md("# Survival\n\n## Outcomes by {}\n\n### Overall survival by {}", "<b>*T*</b>", "a & b <i>"))
    )
    page = export_html([nbformat.v4.new_notebook(cells=[cell])], "t")
    toc = page[page.index('<nav class="toc"') : page.index("</nav>")]
    assert "Outcomes by &lt;b&gt;*T*&lt;/b&gt;" in toc and "Overall survival by a &amp; b &lt;i&gt;" in toc
    assert "<b>" not in toc and "<i>" not in toc
    assert "\u00b6" not in toc


def test_html_without_headings_has_no_toc_and_exporter_is_reused() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Just text.")])
    first = export_html([nb], "t")
    exporter = _get_exporter()
    second = export_html([nb], "t")
    assert first == second
    assert _get_exporter() is exporter
    assert '<nav class="toc"' not in first and "cartreport:toc" not in first


def test_markdown_images_are_embedded_and_external_ones_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "km.png").write_bytes(base64.b64decode(PNG_1PX))
    source = "# KM\n\n![km](figures/km.png)\n\n![gone](figures/gone.png) ![web](https://example.org/x.png)"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source)])

    with caplog.at_level("WARNING", logger="cartreport.render"):
        page = export_html([nb], "t", base_dir=tmp_path)

    assert f"data:image/png;base64,{PNG_1PX}" in page
    assert 'src="figures/km.png"' not in page
    assert "figures/gone.png, https://example.org/x.png" in caplog.text


def test_html_carries_a_content_security_policy_that_forbids_scripts() -> None:
    """A report opened offline from an e-mail runs nothing and fetches nothing, whatever markup slips in."""
    page = export_html([executed_notebook("Design")], "t")
    from html.parser import HTMLParser

    class Head(HTMLParser):
        tags: list[tuple[str, dict]] = []

        def handle_starttag(self, tag, attrs):
            self.tags.append((tag, dict(attrs)))

    head = Head()
    head.tags = []
    head.feed(page[: page.index("</head>")])
    csp = [i for i, (tag, a) in enumerate(head.tags) if a.get("http-equiv") == "Content-Security-Policy"]
    assert len(csp) == 1
    assert csp[0] < [tag for tag, _ in head.tags].index("style")  # before anything it governs
    content = head.tags[csp[0]][1]["content"]
    policy = {d.split()[0]: d.split()[1:] for d in content.split(";") if d.strip()}
    assert policy["default-src"] == ["'none'"]  # scripts, fonts, frames, connections: nothing
    assert "script-src" not in policy  # falls back to default-src 'none'
    assert policy["img-src"] == ["data:"]  # figures are embedded
    assert policy["style-src"] == ["'unsafe-inline'"]  # our <style> and great_tables' inline styles
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'none'"]


def test_external_resources_are_found_by_parsing_not_by_pattern(caplog: pytest.LogCaptureFixture) -> None:
    """Written by hand in a notebook: unquoted and spaced attributes are still resources a browser fetches."""
    source = "# Links\n\n<img src=https://example.org/u.png> <img alt='x' src = 'https://example.org/s.png'>"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source)])
    with caplog.at_level("WARNING", logger="cartreport.render"):
        export_html([nb], "t")
    assert "https://example.org/s.png, https://example.org/u.png" in caplog.text


def test_a_repeated_headings_anchor_link_points_at_its_own_id() -> None:
    cell = nbformat.v4.new_markdown_cell("# Survival\n\n## Methods\n\n## Methods")
    page = export_html([nbformat.v4.new_notebook(cells=[cell])], "t")
    headings = re.findall(r'<h2 id="([^"]+)"[^>]*>(.*?)</h2>', page, re.DOTALL)
    assert [anchor for anchor, _ in headings] == ["Methods", "Methods-2"]
    for anchor, inner in headings:
        assert re.findall(r'href="#([^"]+)"', inner) == [anchor]


def test_the_notebook_stack_is_imported_without_the_format_checks_no_notebook_uses():
    """nbformat imports jsonschema, whose format module imports every optional checker installed: rfc3987_syntax
    compiled Lark grammars for 1.2 s (an ``iri`` check), isoduration imported arrow, typeguard and unittest.mock
    (0.15 s, a ``duration`` check). The notebook schema checks no format and validation uses fastjsonschema; both
    are left out of the first import, notebooks are still validated, and a later import of either still works."""
    script = textwrap.dedent(
        """
        import sys
        from cartreport.render.html_report import _import_notebook_stack
        _import_notebook_stack()
        print(sorted(m for m in ("jsonschema", "nbformat", "rfc3987_syntax", "isoduration", "arrow", "typeguard")
                     if m in sys.modules))
        import nbformat
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
        nbformat.validate(nb)
        nb.cells[0]["execution_count"] = "one"
        try:
            nbformat.validate(nb)
            print("invalid notebook accepted")
        except nbformat.ValidationError:
            print("invalid notebook refused")
        import isoduration
        print(isoduration.parse_duration("P1M").date.months)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["['jsonschema', 'nbformat']", "invalid notebook refused", "1"]
