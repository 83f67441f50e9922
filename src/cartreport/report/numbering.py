"""Figure and table numbers of one report: "Figure 3" is the third figure the report mentions or shows.

A number is given to a name the first time it is asked for — by a caption (:func:`cartreport.report.notebook.show_figure`,
``show_table``) or by prose that refers to it before it is shown — and the same name keeps its number for the
rest of the report. A report's notebooks run in order in one kernel (:mod:`cartreport.render`), so the numbering
runs on across sections; a section left out takes no number. The numbering belongs to the report being built:
a report run's kernel works in that report's own build folder, so a kernel that serves one report after another
(batch runs) starts again at 1 for each, and so does every notebook opened on its own in JupyterLab.

Prose that refers to a figure should only name figures the report shows (a name asked for but never shown
would leave a gap in the numbers).

Examples
--------
>>> reset()
>>> figure("km_os_lfs"), figure("cif_relapse_nrm"), figure("km_os_lfs"), table("baseline")
('Figure 1', 'Figure 2', 'Figure 1', 'Table 1')
"""

from __future__ import annotations

import os

__all__ = ["KINDS", "Numbering", "cite", "current", "figure", "reset", "table"]

#: kinds of numbered things and how a caption names them
KINDS = {"figure": "Figure", "table": "Table"}


class Numbering:
    """Numbers by kind, in order of first request."""

    def __init__(self) -> None:
        self._numbers: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}

    def number(self, kind: str, name: str) -> int:
        """The number of ``name`` among the ``kind`` s of this report (given now if it has none yet)."""
        numbers = self._numbers[kind]
        return numbers.setdefault(name, len(numbers) + 1)

    def label(self, kind: str, name: str) -> str:
        """``"Figure 3"``."""
        return f"{KINDS[kind]} {self.number(kind, name)}"

    def numbered(self, kind: str) -> dict[str, int]:
        """``{name: number}`` given so far."""
        return dict(self._numbers[kind])


_current: tuple[str, Numbering] | None = None


def current() -> Numbering:
    """The numbering of the report being built: one per working directory (see the module docstring)."""
    global _current
    key = os.getcwd()
    if _current is None or _current[0] != key:
        _current = (key, Numbering())
    return _current[1]


def reset() -> None:
    """Start again at 1 (tests; a notebook re-run from the top in JupyterLab)."""
    global _current
    _current = None


def figure(name: str) -> str:
    """``"Figure 3"`` for the figure saved as ``name`` (e.g. ``"km_os_lfs"``)."""
    return current().label("figure", name)


def table(name: str) -> str:
    """``"Table 2"`` for the table saved as ``name`` (e.g. ``"landmarks"``)."""
    return current().label("table", name)


def cite(*labels: str) -> str:
    """Labels cited together, as a journal writes them: one kind's numbers under one plural noun, consecutive ones
    as a range, kinds in the order first cited, separated by semicolons.

    >>> cite("Table 6", "Table 7")
    'Tables 6 and 7'
    >>> cite("Table 2", "Figure 4")
    'Table 2; Figure 4'
    >>> cite("Figure 3", "Figure 4", "Figure 5", "Table 1")
    'Figures 3–5; Table 1'
    >>> cite("Table 2", "Table 5", "Table 7")
    'Tables 2, 5 and 7'
    """
    numbers: dict[str, list[int]] = {}
    for label in labels:
        noun, number = label.rsplit(" ", 1)
        if int(number) not in numbers.setdefault(noun, []):
            numbers[noun].append(int(number))
    parts = []
    for noun, found in numbers.items():
        found.sort()
        if len(found) == 1:
            parts.append(f"{noun} {found[0]}")
        elif len(found) > 2 and found[-1] - found[0] == len(found) - 1:
            parts.append(f"{noun}s {found[0]}\u2013{found[-1]}")
        else:
            parts.append(f"{noun}s {', '.join(map(str, found[:-1]))} and {found[-1]}")
    return "; ".join(parts)
