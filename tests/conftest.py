"""Shared test settings.

Hypothesis explores new random examples on every local run; under CI (``CI=true``) it is derandomised so that a
submission's result does not depend on luck. Figures use the non-interactive Agg backend. No test may leave the
event loop its report kernels' clients run on waiting on a closed socket (:func:`_no_closed_socket_left_watched`).
"""

import os
import select
import sys
from pathlib import Path

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


def _watched_but_closed() -> list[int]:
    """File descriptors that this thread's event loop for kernel clients (jupyter_core's, which cartreport's kernels
    and nbclient run on) believes it watches and its epoll no longer watches: closed since, unknown to the loop.

    A kernel client's socket closed while registered with this loop is one: pyzmq unregisters a socket only from
    the loop it was last used on (a client used from a second thread). The next socket of this thread to get that
    number is then never woken, and its report waits for a cell's timeout. [] where this cannot be told (no such
    loop yet, not Linux's epoll).
    """
    utils = sys.modules.get("jupyter_core.utils")
    loop = utils._loop.get() if utils is not None and hasattr(utils, "_loop") else None
    selector = getattr(loop, "_selector", None)
    epoll = getattr(selector, "_selector", None)
    if loop is None or loop.is_closed() or not isinstance(epoll, select.epoll):
        return []
    try:
        info = Path(f"/proc/self/fdinfo/{epoll.fileno()}").read_text()
    except OSError:
        return []
    watched = {int(line.split()[1]) for line in info.splitlines() if line.startswith("tfd:")}
    return sorted(fd for fd in selector.get_map() if fd not in watched)


@pytest.fixture(autouse=True)
def _no_closed_socket_left_watched():
    """Fail the test that leaves a closed socket registered with the kernel clients' event loop of this process
    (:func:`_watched_but_closed`), and unregister it: a later test's report on this thread would otherwise hang
    (an in-process batch run after the whole of test_batch.py hung in its first notebook; a SIGTERM from outside then
    stopped it, exit 143)."""
    yield
    stale = _watched_but_closed()
    if stale:
        loop = sys.modules["jupyter_core.utils"]._loop.get()
        for fd in stale:
            loop.remove_reader(fd)
            loop.remove_writer(fd)
        pytest.fail(
            f"the test left file descriptors {stale} closed but watched by this thread's event loop: a kernel "
            "client was used from another thread than the one it was connected on, and closed there",
            pytrace=False,
        )
