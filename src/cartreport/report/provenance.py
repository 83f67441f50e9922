"""Where a report came from: software versions and the run's date, for the methods section.

Kept out of ``results.json`` on purpose (the run date changes every run; ``results.json`` must be byte-identical
for identical input); shown in the report and written to ``tables/provenance.csv``.
"""

from __future__ import annotations

import datetime as dt
import platform
from importlib import metadata

import pandas as pd

from cartreport.report.prose import data_origin_text

__all__ = ["PACKAGES", "provenance_table"]

PACKAGES = (
    "cartreport",
    "numpy",
    "pandas",
    "scipy",
    "lifelines",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "great_tables",
    "pandera",
)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance_table(results: dict) -> pd.DataFrame:
    """Data file and hash, run date, Python and package versions, as a two-column table."""
    rows = [
        ("Data file", results["data_file"] or "shipped study"),
        ("Data SHA-256", results["data_sha256"]),
        ("Data origin", data_origin_text(results)),
        ("Run date (UTC)", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")),
        ("Python", platform.python_version()),
    ]
    rows += [(name, _version(name)) for name in PACKAGES]
    return pd.DataFrame(rows, columns=["Item", "Value"])
