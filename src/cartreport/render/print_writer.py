"""The report process writes the figures' print files while its kernel runs the notebooks.

The kernel queues each figure (:mod:`cartreport.report.print_queue`); a :class:`PrintWriter` thread in this
process writes their PNG, SVG and PDF files as they arrive, using the second core while the kernel goes on. This
process only waits on the kernel's sockets meanwhile, so the thread costs the notebooks nothing but the moments it
holds the interpreter. :meth:`PrintWriter.finish` writes what is still queued and raises the first error, so that a
report is never finished with a figure missing. Only the standard library and
:mod:`cartreport.report.print_queue` (itself light) are imported at module level.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from cartreport.errors import PrintFilesError
from cartreport.report.print_queue import queued, write_queued

__all__ = ["PrintWriter"]


def _warm_up() -> None:
    """Import what writing a figure needs (matplotlib, its Agg, SVG and PDF back ends, fontTools' subsetter); never
    raises. Until the thread is ready, the kernel writes the figures it would queue itself."""
    from cartreport.render.kernel import import_seaborn_lean

    import_seaborn_lean()
    try:
        import fontTools.subset  # noqa: F401
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.backends.backend_pdf  # noqa: F401
        import matplotlib.backends.backend_svg  # noqa: F401

        import cartreport.report.figures.style  # noqa: F401
    except Exception:  # noqa: BLE001 - writing the first figure will report the problem
        pass


class PrintWriter:
    """Write the print files of figures queued in ``queue`` on a background thread, every ``interval`` seconds."""

    def __init__(
        self, queue: Path, interval: float = 0.02, warm_up: Callable[[], None] | None = None
    ) -> None:
        self.queue = Path(queue)
        self.interval = interval
        #: also run on the thread before it starts writing (``execute_sections`` compiles the HTML template there)
        self.warm_up = warm_up
        self.written: list[str] = []
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cartreport-print-writer", daemon=True)

    def __enter__(self) -> PrintWriter:
        self.discard()  # a warm kernel's earlier report may have left figures behind
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._halt()

    def _write(self) -> None:
        self.written += write_queued(self.queue)

    def _loop(self) -> None:
        _warm_up()
        if self.warm_up is not None:
            self.warm_up()
        while not self._stop.wait(self.interval):
            try:
                self._write()
            except BaseException as exc:  # noqa: BLE001 - kept, raised by finish() in the caller's thread
                self._error = exc
                return

    def _halt(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def finish(self) -> list[str]:
        """Stop the thread, write every figure still queued, and return the names written.

        Raises
        ------
        PrintFilesError
            A figure's files could not be written (e.g. the disk is full).
        """
        self._halt()
        try:
            if self._error is None:
                self._write()
        except Exception as exc:  # noqa: BLE001
            self._error = exc
        if self._error is not None:
            error = self._error
            reason = f"{type(error).__name__}: {error}".strip().splitlines()[0]
            raise PrintFilesError(reason) from error
        return self.written

    def discard(self) -> None:
        """Forget every figure still queued (the report failed, or a warm kernel starts a new one)."""
        for path in queued(self.queue):
            path.unlink(missing_ok=True)
