"""Shared test settings.

Hypothesis explores new random examples on every local run; under CI (``CI=true``) it is derandomised so that a
submission's result does not depend on luck. Figures use the non-interactive Agg backend.
"""

import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
