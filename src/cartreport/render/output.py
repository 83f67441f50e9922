"""Write a report folder atomically, and only where cartreport may write: the one ownership rule.

A folder cartreport writes holds a marker file (``.cartreport-report``, ``.cartreport-batch`` or
``.cartreport-failed``: a small JSON with the tool's version and the entries it wrote).
:func:`check_output_folder` allows a folder that is absent, empty or marked as ours (a report folder only if
it holds nothing cartreport did not write), and refuses anything else with one
:class:`~cartreport.errors.OutputFolderError` before any work.

A failure (also Ctrl-C) never destroys the previous good report; the failing notebooks are kept in
``<output_dir>.failed/`` for debugging.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import itertools
import json
import logging
import os
import re
import shutil
import signal
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from cartreport import __version__
from cartreport.errors import OutputFolderError, ReportWriteError, SectionFailed

__all__ = [
    "check_output_folder",
    "claim_folder",
    "clear_leftovers",
    "marker_path",
    "remove_if_ours",
    "write_atomically",
    "write_file",
]

logger = logging.getLogger(__name__)

#: what a marked folder is: a report (replaced whole), a batch (runs written inside), kept failing notebooks
KINDS = ("report", "batch", "failed")
_SHOWN = 3  # a refusal names this many of the user's files and counts the rest
_LISTED = 1000  # at most this many entries are read from a folder that is not ours
_WRITABLE = "choose a folder you can write to"
#: what writing finds on a disk that is full, over quota or (remounted) read-only
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
#: what a rename finds when another run swapped the same folder between this run's check and its swap
_RACED = frozenset({errno.ENOENT, errno.ENOTEMPTY, errno.EEXIST})


def marker_path(folder: Path, kind: str) -> Path:
    """The marker file that proves ``folder`` was written by cartreport as a ``kind`` folder."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}: {kind!r}")
    return Path(folder) / f".cartreport-{kind}"


def _below(folder: Path, descend: Callable[[str], bool] = lambda path: True) -> Iterator[str]:
    """Everything below ``folder``, files and folders, as ``/``-separated paths relative to it (``figures``,
    ``figures/km.png``), folder by folder; symbolic links are listed, never followed, and a folder is entered only
    if ``descend(path)``."""
    pending = [""]
    while pending:
        prefix = pending.pop()
        with os.scandir(folder / prefix) as scan:
            for entry in scan:
                path = f"{prefix}{entry.name}"
                yield path
                if entry.is_dir(follow_symlinks=False) and descend(path):
                    pending.append(path + "/")


def claim_folder(folder: Path, kind: str) -> None:
    """Write ``folder``'s marker: the tool version and the entries cartreport put there (sorted): for a report or
    failed folder every file and folder below it (``figures/km.png``), for a batch folder its own entries."""
    marker = marker_path(folder, kind)
    names = _below(Path(folder)) if kind != "batch" else (p.name for p in Path(folder).iterdir())
    entries = sorted(name for name in names if name != marker.name)
    text = json.dumps(
        {"tool": "cartreport", "version": __version__, "kind": kind, "entries": entries}, indent=1
    )
    marker.write_text(text + "\n", encoding="utf-8")


def _marked_entries(folder: Path, kind: str) -> set[str] | None:
    """The entries ``folder``'s marker lists; ``None`` if the folder has no readable marker of ``kind``."""
    marker = marker_path(folder, kind)
    try:
        if marker.is_symlink() or marker.stat().st_size > 1 << 20:
            return None
        content = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(content, dict) or content.get("tool") != "cartreport" or content.get("kind") != kind:
        return None
    entries = content.get("entries", [])
    return {str(e) for e in entries} | {marker.name} if isinstance(entries, list) else None


def _foreign_entries(folder: Path, kind: str) -> list[str] | None:
    """Up to ``_LISTED`` entries of ``folder`` cartreport did not write (sorted); ``None`` if all are ours.

    An empty folder is ours. A report (or failed) folder is ours if its marker lists every file and folder below
    it (a file the user added to it, also inside ``figures/`` or ``notebooks/``, would be lost when the report is
    replaced); a batch folder if it carries its marker (a batch writes inside it, replacing only its runs' report
    folders, each checked as a report).
    """
    with os.scandir(folder) as scan:
        names = sorted(e.name for e in itertools.islice(scan, _LISTED + 1))
    if not names:
        return None
    ours = _marked_entries(folder, kind)
    if ours is None:
        return names
    if kind == "batch":
        return None
    # a folder the user made is named, not entered: the walk reads what the marker lists and _LISTED entries more
    foreign = itertools.islice((p for p in _below(folder, ours.__contains__) if p not in ours), _LISTED + 1)
    return sorted(foreign) or None


def _describe(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    more = len(names) - _SHOWN
    if len(names) > _LISTED:
        return f"{shown} and more"
    return f"{shown} and {more} more" if more > 0 else shown


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def check_output_folder(
    output: str | Path, kind: str = "report", *, inputs: Iterable[str | Path] = ()
) -> Path:
    """Refuse an output folder cartreport may not write; return it as an absolute path.

    Allowed: a folder that does not exist yet (below folders, not files), an empty folder, or a folder with
    ``kind``'s marker (for a report: holding only what cartreport wrote there). Refused, each with one
    :class:`~cartreport.errors.OutputFolderError` line: the file-system root, the current folder or one of its
    parents (``.``, ``..``), an existing file, a folder that holds any of ``inputs`` (the data files), and any
    other folder with something in it. Nothing is created or changed here.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "paper.docx").write_text("my thesis")
    >>> try:
    ...     check_output_folder(folder)
    ... except OutputFolderError as exc:
    ...     print(exc.reason)
    it is not a cartreport report folder and holds paper.docx
    >>> check_output_folder(folder / "report") == folder / "report"
    True
    """
    shown = Path(output)
    absolute = Path(os.path.abspath(shown))
    real = _real(absolute)
    new_folder = "choose a new folder, e.g. reports/my_cohort"
    if real.parent == real:
        raise OutputFolderError(shown, "it is the root of the file system", new_folder)
    cwd = _real(Path.cwd())
    if real == cwd or real in cwd.parents:
        raise OutputFolderError(shown, "it is the current folder or one of its parents", new_folder)
    for data in inputs:
        data_real = _real(Path(data).expanduser())
        if real in data_real.parents:
            raise OutputFolderError(
                shown, f"it holds the input data file {data_real.name}", "write the report to another folder"
            )
    if absolute.exists() and not absolute.is_dir():
        raise OutputFolderError(shown, "it is a file, not a folder", new_folder)
    existing = next(p for p in (absolute, *absolute.parents) if p.exists() or p.is_symlink())
    if existing != absolute and not existing.is_dir():
        raise OutputFolderError(shown, f"{existing} is a file, so no folder can be made in it", new_folder)
    place = existing if existing != absolute else absolute.parent  # where the report's folder is made
    _check_name_length(shown, absolute.name, place)
    if not os.access(place, os.W_OK | os.X_OK):  # also a read-only mount, which refuses root too
        raise OutputFolderError(shown, f"cartreport cannot write in {place}", _WRITABLE)
    if existing != absolute:
        return absolute
    try:
        foreign = _foreign_entries(absolute, kind)
    except OSError as exc:
        raise OutputFolderError(shown, f"its contents cannot be read ({exc.strerror})", new_folder) from None
    if foreign:
        what = "report" if kind == "report" else "batch"
        reason = (
            f"it is a cartreport {what} folder but also holds {_describe(foreign)}, "
            "which cartreport did not write"
            if _marked_entries(absolute, kind) is not None
            else f"it is not a cartreport {what} folder and holds {_describe(foreign)}"
        )
        raise OutputFolderError(
            shown, reason, "choose a new or empty folder, or remove what is in it yourself"
        )
    return absolute


#: what the longest name a run gives a folder beside the output adds to the output's name (``.NAME.trash-1234abcd``)
_ASIDE = len(".") + len(".trash-") + 8


def _check_name_length(shown: Path, name: str, place: Path) -> None:
    """Refuse a folder name that leaves no room for the names of the folders a run makes beside it."""
    try:
        longest = os.pathconf(place, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), or no such setting here
        longest = 255
    size = len(os.fsencode(name))
    if size + _ASIDE > longest:
        raise OutputFolderError(
            shown,
            f"its name is too long ({size} bytes; cartreport needs {_ASIDE} more for the folders it makes beside "
            f"it, and a name here may have {longest})",
            "choose a shorter name",
        )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_if_ours(path: Path, kind: str) -> bool:
    """Remove ``path`` if absent or a folder cartreport marked as ``kind``; ``False`` if it is the user's."""
    if not (path.exists() or path.is_symlink()):
        return True
    if path.is_symlink() or not path.is_dir() or _foreign_entries(path, kind) is not None:
        return False
    _remove(path)
    return True


def _keep_failed(failed: Path, failed_sibling: Path, exc: BaseException) -> None:
    """Move ``failed`` to ``failed_sibling`` (replacing an older one of ours) and point ``exc`` there."""
    if not remove_if_ours(failed_sibling, "failed"):  # the user's: keep it, and ours beside it
        failed_sibling = failed_sibling.with_name(f"{failed_sibling.name}-{uuid.uuid4().hex[:8]}")
    if not failed.is_dir():
        return
    failed = failed.resolve()
    claim_folder(failed, "failed")
    os.replace(failed, failed_sibling)
    logger.error("failing notebooks kept in %s", failed_sibling)
    if isinstance(exc, SectionFailed) and failed in exc.notebook_path.resolve().parents:
        moved = failed_sibling / exc.notebook_path.resolve().relative_to(failed)
        exc.notebook_path = moved
        exc.args = (exc.section, exc.error, moved)


@contextlib.contextmanager
def _tmp_beside(output_dir: Path, shown: Path) -> Iterator[Path]:
    tmp = output_dir.with_name(f".{output_dir.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        tmp.mkdir()  # not mkdtemp: the report folder gets the usual umask permissions, not 0700
    except OSError as exc:
        reason = f"cartreport cannot write in {output_dir.parent} ({exc.strerror})"
        raise OutputFolderError(shown, reason, _WRITABLE) from None
    try:
        with _in_use(tmp):
            yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: what a run builds (``tmp``) and where it moves the report it replaces (``trash``), beside the output folder
_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<kind>tmp|trash)-[0-9a-f]{8}")


@contextlib.contextmanager
def _in_use(folder: Path) -> Iterator[None]:
    """Hold a shared lock (``flock``) on ``folder`` while the block runs: a run's own folders are in use, a killed
    run's (the lock goes with its process) are not. Without locks (another system, some network file systems)
    nothing is held, and nothing is ever taken for abandoned."""
    try:
        import fcntl

        handle = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_SH)
        yield
    finally:
        os.close(handle)


def _abandoned(folder: Path, unsure: bool) -> bool:
    """Whether no run holds ``folder`` (:func:`_in_use`); ``unsure`` when locks cannot tell."""
    try:
        import fcntl

        handle = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        return unsure
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # a run holds it
        return False
    except OSError:  # no locks here (some network file systems)
        return unsure
    else:
        return True
    finally:
        os.close(handle)


def clear_leftovers(output_dir: Path, *, unsure: bool = False) -> None:
    """What runs killed outright (kill -9, out of memory, a lost worker) left beside ``output_dir``: their half-built
    folders (``.<name>.tmp-*``) are deleted; a report one of them had moved aside (``.<name>.trash-*``) is put back
    if ``output_dir`` is missing (it was killed between the swap's two renames), deleted otherwise. A folder a live
    run holds stays; where locks cannot tell, ``unsure`` says whether it is taken for abandoned."""
    for entry in sorted(output_dir.parent.glob(f".{glob.escape(output_dir.name)}.*-*")):
        found = _LEFTOVER.fullmatch(entry.name)
        if not found or found["name"] != output_dir.name or entry.is_symlink() or not entry.is_dir():
            continue
        if not _abandoned(entry, unsure):
            continue
        if found["kind"] == "trash" and not (output_dir.exists() or output_dir.is_symlink()):
            logger.warning("the earlier report, left in %s by a run that was killed, is put back", entry.name)
            with contextlib.suppress(OSError):
                os.rename(entry, output_dir)
                continue
        logger.info("removing %s, left by a run that was killed", entry.name)
        shutil.rmtree(entry, ignore_errors=True)


def write_file(path: Path, write: Callable[[Path], None]) -> Path:
    """Write one file (a batch's ``summary.csv`` and ``index.html``, a cohort from ``synthesize`` or ``reconstruct``)
    by ``write(partial)`` into a hidden file beside
    ``path``, then move it into place: a full disk or a kill while it is written never leaves half a file, and an
    earlier ``path`` stays whole until the new one replaces it. Any error of the file system (a full disk, a quota,
    a read-only file system, a folder the user may not write in) is a :class:`~cartreport.errors.ReportWriteError`
    naming ``path``; the partial file is removed either way."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        write(partial)
        os.replace(partial, path)
    except OSError as exc:
        full = exc.errno in _FULL and exc.errno != errno.EROFS
        hint = "free some space and run again" if full else _WRITABLE
        raise ReportWriteError(path, exc.strerror or str(exc), hint, file=True) from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return path


def write_atomically(
    build: Callable[[Path], None], output_dir: Path, *, inputs: Iterable[str | Path] = ()
) -> Path:
    """Build a report folder beside ``output_dir`` and swap it in only if ``build`` succeeds.

    ``output_dir`` must pass :func:`check_output_folder` (absent, empty or a cartreport report folder, not
    holding ``inputs``), checked before ``build`` starts and again just before the swap. ``build(tmp)``
    fills a fresh folder ``<parent>/.<name>.tmp-<random>``, which then gets its marker. On success the old
    ``output_dir`` (if any) is renamed to ``.<name>.trash-<random>``, the new folder renamed into place and
    the old one deleted; a stale ``<name>.failed`` sibling of ours is removed. On any exception (also
    Ctrl-C) the temporary folder is deleted, except its ``failed/`` subfolder which is moved to
    ``<output_dir>.failed/`` for debugging, and the exception re-raised; ``output_dir`` is untouched. SIGINT and
    SIGTERM wait while the folders are swapped and the old one deleted; one that came then is raised once they are
    done, with a note (``add_note``) that the report was written. The folders a run builds and moves aside are held
    (``flock``) while it runs: first, what runs killed outright left beside ``output_dir`` is cleared (an earlier
    report one left aside put back).

    Parameters
    ----------
    build : callable
        Writes the whole report into the folder it is given.
    output_dir : Path
        Final folder; its parent is created if needed. A symbolic link to a folder stays: the folder it points to
        is the one replaced.
    inputs : iterable of paths
        Files the report is made from (the data file): the output folder must not hold them.

    Returns
    -------
    Path
        ``output_dir`` as an absolute path.

    Raises
    ------
    OutputFolderError
        ``output_dir`` is not a folder cartreport may replace; nothing was done.
    """
    inputs = list(inputs)
    shown = output_dir
    output_dir = check_output_folder(output_dir, "report", inputs=inputs)
    if output_dir.is_symlink():  # the user's link stays; the folder it points to is the one replaced
        output_dir = _real(output_dir)
    try:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputFolderError(
            shown, f"its folder cannot be made ({exc.strerror})", "check the path"
        ) from None
    clear_leftovers(output_dir)
    failed_sibling = output_dir.with_name(output_dir.name + ".failed")
    written = False
    try:
        with _tmp_beside(output_dir, shown) as tmp:
            try:
                build(tmp)
                claim_folder(tmp, "report")
                # the user may have used the folder meanwhile
                check_output_folder(shown, "report", inputs=inputs)
            except BaseException as exc:
                try:
                    _keep_failed(tmp / "failed", failed_sibling, exc)
                except OSError as error:  # never hide the build's own exception
                    logger.error("could not keep the failing notebooks: %s", error.strerror or error)
                if isinstance(exc, OSError) and exc.errno in _FULL:  # the earlier report is as it was
                    hint = _WRITABLE if exc.errno == errno.EROFS else "free some space and run again"
                    raise ReportWriteError(shown, exc.strerror or str(exc), hint) from None
                raise
            # a signal never cuts the swap and the earlier report's removal in the middle (a report hidden in its
            # trash folder, or half of it left beside the output): it stops the run before them or once they are done
            with _signals_held() as came, _in_use(output_dir):  # the earlier report, until it is deleted
                if not came:
                    trash = _swap(tmp, output_dir, shown)
                    written = True
                    if trash is not None:
                        _remove(trash)
                    remove_if_ours(failed_sibling, "failed")
    except KeyboardInterrupt as stop:
        if written:
            stop.add_note(f"the report was written to {output_dir} before the signal came")
        raise
    logger.info("report written to %s", output_dir)
    return output_dir


def _swap(tmp: Path, output_dir: Path, shown: Path) -> Path | None:
    """Rename ``tmp`` to ``output_dir``, the earlier folder (if any) out of the way first; return where it went."""
    trash = output_dir.with_name(f".{output_dir.name}.trash-{uuid.uuid4().hex[:8]}")
    had_old = output_dir.exists() or output_dir.is_symlink()
    try:
        if had_old:
            os.rename(output_dir, trash)
        try:
            os.rename(tmp, output_dir)
        except OSError:
            if had_old:
                os.rename(trash, output_dir)
            raise
    except OSError as exc:
        kept = f"; the earlier report is in {trash.name}" if trash.exists() else ""
        if exc.errno in _RACED:  # the folder changed between the check and the swap: another run swapped in
            raise OutputFolderError(
                shown,
                f"another run wrote this folder at the same time ({exc.strerror or exc}){kept}",
                "run one report per folder at a time, and run this one again",
            ) from None
        raise OutputFolderError(
            shown, f"it could not be replaced ({exc.strerror or exc}){kept}", _WRITABLE
        ) from None
    return trash if had_old else None


@contextlib.contextmanager
def _signals_held() -> Iterator[list[int]]:
    """While the block runs, SIGINT and SIGTERM only are noted (in the list yielded); their handlers run after it.

    Only the main thread runs signal handlers, so elsewhere the block simply runs. A handler that is not Python's
    (the default action) is carried out after the block by sending the signal again.
    """
    came: list[int] = []
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda signum, _frame: came.append(signum))
    try:
        yield came
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        if came:
            handler = previous.get(came[0])
            if callable(handler):
                handler(came[0], None)
            elif handler != signal.SIG_IGN:
                signal.raise_signal(came[0])
