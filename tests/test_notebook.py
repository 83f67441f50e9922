"""cartreport.report.notebook: the notebooks' display path takes only escaped Markdown; tables are written formula-safe."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from cartreport.escape import md
from cartreport.report import notebook


def test_show_markdown_refuses_plain_text():
    with pytest.raises(TypeError, match="Markdown"):
        notebook.show_markdown("T-LBL<img src=x onerror=alert(1)>")


def test_show_markdown_shows_escaped_markdown(monkeypatch):
    shown = []
    monkeypatch.setattr(notebook, "display", shown.append)
    notebook.show_markdown(md("{}", "*T*"))
    notebook.show_markdown("")  # nothing to say: nothing shown
    assert [output.data for output in shown] == ["\\*T\\*"]


def test_show_table_writes_no_live_formula(tmp_path, capsys):
    frame = pd.DataFrame({"Group": ['diagnosis = =HYPERLINK("http://x","y")', '=HYPERLINK("http://x","y")']})
    frame["Patients"] = ["3", "-1"]
    notebook.show_table(frame, "subgroups", str(tmp_path))
    with open(tmp_path / "tables" / "subgroups.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["Group", "Patients"],
        ['diagnosis = =HYPERLINK("http://x","y")', "3"],
        ['\'=HYPERLINK("http://x","y")', "-1"],
    ]


def test_a_table_is_the_same_html_every_time(monkeypatch):
    """great_tables scopes each table's CSS under a random id, so report.html differed from run to run even with
    the same data and parameters; the id is now the table's name."""
    shown = []
    monkeypatch.setattr(notebook, "display", lambda obj, metadata=None: shown.append(obj.data))
    frame = pd.DataFrame({"Group": ["T-ALL", "T-LBL"], "Patients": ["9", "7"]})
    notebook.show_table(frame, "subgroups")
    notebook.show_table(frame, "subgroups")
    assert shown[0] == shown[1]
    assert 'id="gt-subgroups"' in shown[0]
