"""cartreport: narrative clinical reports for cell-therapy cohorts."""

__version__ = "0.1.0"
