"""Figures and tables are numbered in order of first mention, per report (per build folder)."""

from __future__ import annotations

import os

import pytest

from cartreport.report import numbering


@pytest.fixture(autouse=True)
def _fresh():
    numbering.reset()
    yield
    numbering.reset()


def test_numbers_follow_first_mention_and_names_keep_theirs():
    assert numbering.figure("flow") == "Figure 1"
    assert numbering.table("baseline") == "Table 1"
    assert numbering.figure("km") == "Figure 2"
    assert numbering.figure("flow") == "Figure 1"  # a prose reference after the figure: same number
    assert numbering.table("landmarks") == "Table 2"
    assert numbering.current().numbered("figure") == {"flow": 1, "km": 2}


def test_a_reference_before_the_figure_reserves_the_number_the_figure_then_shows():
    assert numbering.figure("km") == "Figure 1"  # "… (Figure 1)" in the paragraph above the figure
    assert numbering.figure("cif") == "Figure 2"
    assert numbering.figure("km") == "Figure 1"


def test_a_new_build_folder_starts_again_at_one(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    here = os.getcwd()
    try:
        os.chdir(first)
        assert numbering.figure("km") == "Figure 1" and numbering.figure("cif") == "Figure 2"
        os.chdir(second)  # the next report in the same (warm) kernel
        assert numbering.figure("cif") == "Figure 1"
    finally:
        os.chdir(here)


def test_tables_cited_together_read_as_a_journal_writes_them():
    """Prose cited "(Table 6; Table 7)"; a journal writes "(Tables 6 and 7)", and "Figures 3–5" for a run."""
    assert numbering.cite("Table 6", "Table 7") == "Tables 6 and 7"
    assert numbering.cite("Table 7", "Table 6", "Table 7") == "Tables 6 and 7"
    assert numbering.cite("Table 3", "Figure 2") == "Table 3; Figure 2"
    assert numbering.cite("Figure 3", "Figure 4", "Figure 5") == "Figures 3\u20135"
    assert numbering.cite("Table 2", "Table 5", "Table 7") == "Tables 2, 5 and 7"
    assert numbering.cite("Figure 1") == "Figure 1"
