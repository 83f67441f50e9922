"""Shared test settings.

Hypothesis explores new random examples on every local run; under CI (``CI=true``) it is derandomised so that a
submission's result does not depend on luck. Figures use the non-interactive Agg backend.
"""

import os

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def printed_by():
    """``printed_by(kernel, code)``: run ``code`` on a connected report kernel and return what it printed."""

    def run(kernel, code: str) -> str:
        from cartreport.render.kernel import _run

        printed: list[str] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])

        _run(kernel.kc.execute_interactive, code, timeout=60, output_hook=hook)
        return "".join(printed)

    return run
