"""SIGINT and SIGTERM as exceptions in the main thread, raised where they can stop a command.

``cartreport run`` turns both signals into :class:`KeyboardInterrupt` (SIGTERM as its subclass
:class:`~cartreport.errors.Terminated`), so that every ``finally`` runs: the kernel stopped, the temporary folders
deleted, an earlier report kept. A signal handler runs between two bytecodes of whatever the main thread executes,
and two places there turn the exception into a worse failure; both were measured with a stress script sending
SIGTERM at a random moment into ``cartreport run`` on a busy machine:

* **the import system's own lock code** (``<frozen importlib._bootstrap>``): raised in a module lock's weakref
  callback after it took the global import lock, the exception is ignored with the lock still held, and every later
  import waits for ever (1 run in 40 hung; py-spy showed three threads blocked in ``_get_module_lock``). There the
  handler raises nothing and sends the signal again a few milliseconds later (for at most
  :data:`MOST_DEFERRED_SECONDS`, then it raises anyway);
* **a callback Python runs for its side effects** (a weakref callback such as pandera's registry clean-up, a
  ``__del__``): Python ignores an exception raised there, so the signal was lost and the report finished as if
  nothing had come (3 runs in 25, exit 0). :func:`install` also hooks :func:`sys.unraisablehook`: an interrupt
  ignored so is sent again.

Python's own Ctrl-C handler has both hazards; the standard library offers nothing that avoids them, hence this
module. The signal is sent again from a bare :mod:`_thread` thread, as :mod:`threading`'s locks may be the ones
held at that instant.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import time
from collections.abc import Callable

from cartreport.errors import Terminated

__all__ = ["MOST_DEFERRED_SECONDS", "handler", "install"]

#: the import system's own code, where an exception can leave its locks taken
_IMPORT_SYSTEM = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>")
#: how long a signal is deferred at most while the main thread stays inside the import system (then raised anyway)
MOST_DEFERRED_SECONDS = 5.0
_RESEND_SECONDS = 0.005
#: the signal each interrupt stands for, to send it again when Python ignored it
_SIGNAL_OF = {Terminated: signal.SIGTERM, KeyboardInterrupt: signal.SIGINT}


def handler(exception: type[KeyboardInterrupt]) -> Callable[[int, object], None]:
    """A SIGINT/SIGTERM handler raising ``exception`` in the main thread, except inside the import system, where
    the signal is sent again :data:`_RESEND_SECONDS` later (for at most :data:`MOST_DEFERRED_SECONDS`)."""
    deferred_since: list[float] = []

    def handle(signum: int, frame) -> None:
        now = time.monotonic()
        inside = frame is not None and frame.f_code.co_filename in _IMPORT_SYSTEM
        if inside and now - (deferred_since or [now])[0] < MOST_DEFERRED_SECONDS:
            deferred_since[:1] = deferred_since[:1] or [now]
            _thread.start_new_thread(_send_again, (signum,))
            return
        deferred_since.clear()
        raise exception

    return handle


def _send_again(signum: int) -> None:
    time.sleep(_RESEND_SECONDS)
    os.kill(os.getpid(), signum)


def install() -> Callable[[], None]:
    """Raise SIGTERM as :class:`~cartreport.errors.Terminated` and SIGINT as :class:`KeyboardInterrupt` (unless
    SIGINT is ignored, as in a background job) through :func:`handler`, and send again an interrupt that Python
    ignored; returns the function that puts back what was there. Call it from the main thread."""
    previous: dict[int, object] = {signal.SIGTERM: signal.signal(signal.SIGTERM, handler(Terminated))}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, handler(KeyboardInterrupt))
    hook = sys.unraisablehook

    def resend_ignored(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            signum = _SIGNAL_OF.get(type(unraisable.exc_value), signal.SIGINT)
            if signum in previous:  # one of ours: it comes again, where it can be raised
                _thread.start_new_thread(_send_again, (signum,))
                return
        hook(unraisable)

    sys.unraisablehook = resend_ignored

    def restore() -> None:
        sys.unraisablehook = hook
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore
