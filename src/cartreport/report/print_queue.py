"""Print files written beside the kernel: a figure handed, pickled, to the process that runs the report.

Every report figure is written for manuscripts as PNG at 300 dpi, SVG and PDF (:func:`save_figure`), which is most
of a section's time (the PDF's font subsetting alone takes about 0.2 s a figure). Inside ``cartreport run`` the
kernel's parent process waits while a notebook runs, so the kernel hands each figure over instead of writing it:
:func:`submit` pickles the figure (a few milliseconds; matplotlib figures pickle by design) with the rcParams in
effect into the folder named by :data:`cartreport.kernel_env.PRINT_QUEUE_ENV`, and the parent (:mod:`cartreport.render.print_writer`) calls
:func:`write_queued` while the kernel goes on with the next cell. The files are byte-identical to writing them in
the kernel: the figure is pickled before anything draws it, and it is drawn in the same order (PNG, SVG, PDF).

Importing this module is cheap (matplotlib is imported when a figure is first handled), so the report process
can watch the queue before it needs matplotlib. Outside a report run (JupyterLab, or papermill alone) no queue is named and :func:`submit` writes the files at once.
The queue is the kernel's private folder (``tempfile.mkdtemp``, readable by its owner only): only the process that
started the kernel reads from it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cartreport.kernel_env import PRINT_QUEUE_ENV

__all__ = ["PROCESS_RC", "print_files", "queued", "submit", "write_queued"]

_SUFFIX = ".figure.pickle"
#: rcParams that belong to the process, not to the figure (not carried with a figure, nor restored between notebooks)
PROCESS_RC = frozenset({"backend", "backend_fallback", "interactive"})
_sequence = itertools.count()


def submit(figure: Any, directory: str | os.PathLike, name: str) -> None:
    """Have ``figure``'s print files (``name.png``, ``.svg``, ``.pdf``) written into ``directory``, as the figure is
    now (:func:`print_files` with nothing drawn inside it)."""
    with print_files(figure, directory, name):
        pass


@contextlib.contextmanager
def print_files(figure: Any, directory: str | os.PathLike, name: str) -> Iterator[None]:
    """Have ``figure``'s print files (``name.png``, ``.svg``, ``.pdf``) written into ``directory`` from the figure as
    it is on entering the block, whatever the block draws (e.g. the screen image, which is then always the figure's
    first drawing). A figure is not a pure function of its artists: constrained layout starts from the positions of
    the last drawing, so each image is drawn from one known state, and the files are the same whoever writes them.

    With a queue (:data:`~cartreport.kernel_env.PRINT_QUEUE_ENV` names an existing folder) the figure is queued for
    the parent process, which writes the files before the report is finished; without one, or while a figure
    queued earlier still waits (the parent is busy), they are written here, from a copy. Nothing is written when
    the block raises.
    """
    if not name or Path(name).name != name:
        raise ValueError(f"name must be a plain file name without directories, not {name!r}")
    import matplotlib as mpl

    rc = {key: value for key, value in mpl.rcParams.items() if key not in PROCESS_RC}
    payload = {"figure": figure, "directory": str(Path(directory).resolve()), "name": name, "rc": rc}
    snapshot = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)  # before the block draws anything
    yield
    queue = os.environ.get(PRINT_QUEUE_ENV, "")
    waiting = queued(queue) if queue and Path(queue).is_dir() else None
    if waiting is None or (waiting and not any(p.name.endswith(f"-{name}{_SUFFIX}") for p in waiting)):
        # no report process to write them, or it has not yet started on the figure before: the two share the work
        # (unless a figure of the same name waits: the files must end as the later figure's)
        _write(pickle.loads(snapshot))  # noqa: S301 - pickled just above, in this process
        return
    stem = f"{next(_sequence):08d}-{name}"
    partial = Path(queue) / f".{stem}.partial"
    partial.write_bytes(snapshot)
    partial.replace(Path(queue) / f"{stem}{_SUFFIX}")  # the reader never sees half a file


def _write(payload: dict) -> None:
    """The print files of a figure handed over as ``payload`` (:func:`print_files`), with its rcParams."""
    import matplotlib as mpl

    from cartreport.report.figures.style import save_figure

    figure = payload["figure"]
    try:
        with mpl.rc_context():  # the kernel's rcParams while the files are written, ours again after
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a deprecated rcParam in the snapshot is not our concern
                mpl.rcParams.update(payload["rc"])
            save_figure(figure, payload["directory"], payload["name"])
    finally:
        if "matplotlib.pyplot" in sys.modules:  # unpickling re-registers a pyplot figure: let it go
            sys.modules["matplotlib.pyplot"].close(figure)


def queued(queue: str | os.PathLike) -> list[Path]:
    """The figures waiting in ``queue``, oldest first."""
    return sorted(Path(queue).glob(f"*{_SUFFIX}"))


def write_queued(queue: str | os.PathLike) -> list[str]:
    """Write the print files of every figure waiting in ``queue``, oldest first; returns their names.

    Each queued file is removed once read. An error writing one figure's files is raised at once; the figures
    after it stay queued.
    """
    written: list[str] = []
    paths = queued(queue)
    if not paths:
        return written
    for path in paths:
        with open(path, "rb") as stream:
            payload = pickle.load(stream)  # noqa: S301 - written by our own kernel in its private folder
        path.unlink()
        _write(payload)
        written.append(payload["name"])
    return written
