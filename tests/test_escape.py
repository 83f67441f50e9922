"""Data are text, never markup or formulas: the Markdown escaping path and the CSV formula neutraliser.

References are outside the project: CommonMark 0.31 §2.4 (any ASCII punctuation may be backslash-escaped and is
then literal), the HTML rendering of nbconvert's own Markdown converter (the one report.html goes through), and
OWASP "CSV Injection" (cells beginning with ``=``, ``+``, ``-``, ``@``, tab or carriage return are prefixed with
a single quote).
"""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from cartreport.escape import FORMULA_STARTS, Markdown, csv_cell, escape_markdown, md, write_csv


class _Elements(HTMLParser):
    """Every start tag and every attribute name in an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(name for name, _ in attrs)

    def handle_data(self, data):
        self.text.append(data)


def elements(fragment: str) -> _Elements:
    parser = _Elements()
    parser.feed(fragment)
    parser.close()
    return parser


def rendered(markdown: str) -> _Elements:
    """The Markdown as report.html shows it (nbconvert's converter), parsed back into elements."""
    return elements(markdown2html_mistune(markdown))


NASTY = [
    "T-LBL<img src=x onerror=alert(1)>",
    "P01<svg onload=alert(1)>",
    "<script>alert(1)</script>",
    "*T*",
    "_x_ **b** `c` ~~s~~",
    "[click](http://evil.example)",
    "![i](http://evil.example/x.png)",
    "http://evil.example",
    "<http://evil.example>",
    "&lt;b&gt; &amp;",
    "# heading",
    "- item",
    "1. item",
    "> quote",
    "a\n\n# heading",
    "a\r\n<b>x</b>",
    "| a | b |",
    "$x$ \\ \\<b>",
    "\\(x\\) $$y$$",  # a backslash then a parenthesis: nbconvert read \\( ... \\) as inline math and showed $x$
    "a \\[x\\] b \\(",
    '"><b onmouseover=alert(1)>',
    "<!-- comment -->",
]


@pytest.mark.parametrize("value", NASTY)
def test_data_value_renders_as_its_own_text_and_nothing_else(value):
    shown = rendered(md("Diagnosis: {}.", value))
    assert shown.tags == ["p"] and shown.attributes == []
    expected = re.sub(r"[\r\n]+", " ", value)
    assert "".join(shown.text).strip() == f"Diagnosis: {expected}."


@pytest.mark.parametrize(
    "value", ["# heading", "- item", "+ item", "* item", "1. item", "2) item", "> quote", "---"]
)
def test_data_at_the_start_of_a_line_starts_no_block(value):
    shown = rendered(md("{}", value))
    assert shown.tags == ["p"] and "".join(shown.text).strip() == value


def test_our_own_markdown_stays_markdown():
    shown = rendered(md("**{}** ## not a heading", "T-ALL"))
    assert shown.tags == ["p", "strong"]


def test_plain_text_that_is_not_markup_is_unchanged():
    """Escaping touches only what Markdown or HTML would read: ordinary clinical text stays readable."""
    for text in (
        "T-ALL",
        "58.5% (95% CI 26.1–80.7%)",
        "second HSCT; CR/CRi, p = 0.032",
        "MRD-negative",
        "ash2023_cd7_cart_cohort.csv",
        "Not analysed: no second HSCT (2).",
    ):
        assert escape_markdown(text) == text


def test_markdown_join_and_add_escape_plain_text():
    joined = Markdown(", ").join(["*a*", Markdown("*b*")])
    assert joined == "\\*a\\*, *b*" and isinstance(joined, Markdown)
    assert isinstance(Markdown("**x** ") + "<i>", Markdown)
    assert rendered(Markdown("**x** ") + "<i>").tags == ["p", "strong"]
    assert rendered("<i>" + Markdown(" **x**")).tags == ["p", "strong"]


def test_format_spec_applies_before_escaping():
    assert md("{:,} patients", 69308) == "69,308 patients"
    assert md("{n:>3}", n="*") == "  \\*"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_in_a_template_is_never_a_live_element(value):
    shown = rendered(md("Patients with {} (n = 3).", value))
    assert shown.tags == ["p"]
    assert shown.attributes == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<",
                ">",
                "*",
                "_",
                "`",
                "[",
                "]",
                "(",
                ")",
                "!",
                "&",
                "#",
                "a",
                "é",
                "1",
                " ",
                ":",
                "/",
                "\\",
                "$",
            ]
        )
    )
)
def test_any_markup_alphabet_text_is_shown_literally(chars):
    value = "".join(chars)
    shown = rendered(md("x {} y", value))
    assert shown.tags == ["p"]
    assert " ".join("".join(shown.text).split()) == " ".join(f"x {value} y".split())


# --- CSV ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_text_cells_starting_a_formula_are_prefixed_with_a_quote(start):
    assert csv_cell(f'{start}HYPERLINK("http://x","y")') == f'\'{start}HYPERLINK("http://x","y")'


def test_formula_starts_are_owasps_list():
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}


@pytest.mark.parametrize(
    "value", [-1, -0.5, 3, float("nan"), None, "T-ALL", "", "58.5%", "–3 (en dash)", "-1.5", "+3", "-1,204"]
)
def test_numbers_and_ordinary_text_are_untouched(value):
    assert csv_cell(value) is value


def test_write_csv_neutralises_text_cells_and_keeps_numeric_columns(tmp_path):
    frame = pd.DataFrame(
        {
            "patient": ['=HYPERLINK("http://x","y")', "@SUM(A1)", "P03", "-2+3"],
            "delta": [-1.5, 2.0, -3.0, 0.0],
            "n": [-1, 2, 3, 4],
        }
    )
    path = tmp_path / "t.csv"
    write_csv(frame, path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[0] == ["patient", "delta", "n"]
    assert [r[0] for r in rows[1:]] == ['\'=HYPERLINK("http://x","y")', "'@SUM(A1)", "P03", "'-2+3"]
    assert path.read_text(encoding="utf-8").splitlines()[1].endswith(",-1.5,-1")  # numbers written bare
    assert [r[1] for r in rows[1:]] == ["-1.5", "2.0", "-3.0", "0.0"]
    assert [r[2] for r in rows[1:]] == ["-1", "2", "3", "4"]
    assert frame.loc[0, "patient"].startswith("=")  # the caller's frame is not changed


def _plain_number(text: str) -> bool:
    """A signed decimal number (a spreadsheet shows it as that number, runs nothing)."""
    return re.fullmatch(r"[-+][0-9][0-9,]*(\.[0-9]+)?", text) is not None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.text(max_size=12), st.from_regex(r"\A[-+=@\t]\d{1,3}\Z")), min_size=1, max_size=5)
)
def test_no_text_cell_written_is_a_live_formula(values):
    buffer = io.StringIO()
    write_csv(pd.DataFrame({"value": values}), buffer)
    cells = [row[0] for row in csv.reader(io.StringIO(buffer.getvalue()), strict=True)][1:]
    assert len(cells) == len(values)
    for cell, value in zip(cells, values, strict=True):
        assert not cell.startswith(FORMULA_STARTS) or _plain_number(cell)
        assert cell == value or (cell == "'" + value and value.startswith(FORMULA_STARTS))
