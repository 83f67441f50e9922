"""Write a report folder atomically: build it beside its final place, swap it in only on success.

A failure (also Ctrl-C) never destroys the previous good report; the failing notebooks are kept in
``<output_dir>.failed/`` for debugging.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from cartreport.render.execute import SectionFailed

__all__ = ["write_atomically"]

logger = logging.getLogger(__name__)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _keep_failed(failed: Path, failed_sibling: Path, exc: BaseException) -> None:
    """Move ``failed`` to ``failed_sibling`` (replacing an older one) and point ``exc`` there."""
    _remove(failed_sibling)  # from an earlier run: would be mistaken for this failure
    if not failed.is_dir():
        return
    failed = failed.resolve()
    os.replace(failed, failed_sibling)
    logger.error("failing notebooks kept in %s", failed_sibling)
    if isinstance(exc, SectionFailed) and failed in exc.notebook_path.resolve().parents:
        moved = failed_sibling / exc.notebook_path.resolve().relative_to(failed)
        exc.notebook_path = moved
        exc.args = (exc.section, exc.error, moved)


@contextlib.contextmanager
def _tmp_beside(output_dir: Path) -> Iterator[Path]:
    tmp = output_dir.with_name(f".{output_dir.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()  # not mkdtemp: the report folder gets the usual umask permissions, not 0700
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_atomically(build: Callable[[Path], None], output_dir: Path) -> Path:
    """Build an output folder beside ``output_dir`` and swap it in only if ``build`` succeeds.

    ``build(tmp)`` fills a fresh folder ``<parent>/.<name>.tmp-<random>``. On success the old
    ``output_dir`` (if any) is renamed to ``.<name>.trash-<random>``, the new folder renamed into
    place and the old one deleted; a stale ``<name>.failed`` sibling is removed. On any exception
    (also Ctrl-C) the temporary folder is deleted, except its ``failed/`` subfolder which is moved to
    ``<output_dir>.failed/`` for debugging, and the exception re-raised; ``output_dir`` is untouched.

    Parameters
    ----------
    build : callable
        Writes the whole report into the folder it is given.
    output_dir : Path
        Final folder; its parent is created if needed.

    Returns
    -------
    Path
        ``output_dir`` as an absolute path.
    """
    output_dir = Path(os.path.abspath(output_dir))
    if not output_dir.name:
        raise ValueError(f"output_dir cannot be a file-system root: {output_dir}")
    if output_dir.exists() and not output_dir.is_dir():
        raise NotADirectoryError(f"output_dir exists and is not a folder: {output_dir}")
    if Path.cwd() == output_dir or output_dir in Path.cwd().parents:
        raise ValueError(f"output_dir must not contain the current working directory: {output_dir}")
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    failed_sibling = output_dir.with_name(output_dir.name + ".failed")
    with _tmp_beside(output_dir) as tmp:
        try:
            build(tmp)
        except BaseException as exc:
            try:
                _keep_failed(tmp / "failed", failed_sibling, exc)
            except OSError:  # never hide the build's own exception
                logger.exception("could not keep the failing notebooks")
            raise
        trash = output_dir.with_name(f".{output_dir.name}.trash-{uuid.uuid4().hex[:8]}")
        had_old = output_dir.exists()
        if had_old:
            os.rename(output_dir, trash)
        try:
            os.rename(tmp, output_dir)
        except BaseException:
            if had_old:
                os.rename(trash, output_dir)
            raise
    if had_old:
        _remove(trash)
    _remove(failed_sibling)
    logger.info("report written to %s", output_dir)
    return output_dir
