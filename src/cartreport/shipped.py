"""The files cartreport ships inside its package — report notebooks, templates, the flagship study's data.

They are found with :mod:`importlib.resources`, never relative to a checkout, so a wheel installed anywhere runs
``cartreport run`` from any folder. The canonical files live in the package (``src/cartreport/notebooks``,
``src/cartreport/data``, ``src/cartreport/templates``); the checkout's top-level ``notebooks/`` and ``data/``, where
users and the design card look for them, are symlinks into the package, committed to git. A symlink rather than
a copy made by a build step: one source of truth with nothing to keep in sync, and an editable install sees an
edited notebook at once (git on Linux and macOS keeps symlinks; on Windows, enable ``core.symlinks``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cartreport.errors import SetupError

__all__ = ["COHORT_FILE", "DATA_DIR", "DEFAULT_SEED", "NOTEBOOK_DIR", "TEMPLATES_DIR", "shipped"]


def shipped(name: str) -> Path:
    """The folder ``name`` of the installed package, as a path on disk (papermill and nbconvert need one).

    >>> shipped("notebooks").name
    'notebooks'
    """
    found = resources.files("cartreport") / name
    if not isinstance(found, Path):  # e.g. a zipped install: papermill cannot read a notebook inside a zip
        raise SetupError(
            f"{name} of cartreport is not a folder on disk ({found})", "install cartreport with pip"
        )
    return found


#: the report's notebooks, one per section
NOTEBOOK_DIR = shipped("notebooks")
#: the shipped reconstructed cohort, its published figures and the data contract's README
DATA_DIR = shipped("data")
#: the nbconvert template of the HTML report
TEMPLATES_DIR = shipped("templates")
#: the flagship study's reconstructed cohort (:mod:`cartreport.cohorts.reconstruct` writes it)
COHORT_FILE = DATA_DIR / "ash2023_cd7_cart_cohort.csv"
#: the seed that reconstructs it: the first day of the 65th ASH Annual Meeting
DEFAULT_SEED = 20231209
