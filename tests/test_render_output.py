"""cartreport.render.output: a report folder is replaced atomically or not at all, and only if it is ours."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartreport import __version__
from cartreport.errors import OutputFolderError
from cartreport.render import check_output_folder, write_atomically


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (``None``) under ``folder``, by relative path."""
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))
    }


def earlier_report(out: Path, files: dict[str, bytes] | None = None) -> None:
    """A report folder as cartreport writes it (through write_atomically)."""

    def build(folder: Path) -> None:
        for name, content in (files or {"report.html": b"old report"}).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)

    write_atomically(build, out)


def _failing_with_a_notebook(folder: Path) -> None:
    """A build whose section failed: its notebook kept in ``failed/``, then the error."""
    (folder / "failed").mkdir()
    (folder / "failed" / "02_bad.ipynb").write_text("{}")
    raise RuntimeError("section failed")


def test_write_atomically_replaces_the_folder_on_success(tmp_path: Path) -> None:
    out = tmp_path / "report"
    earlier_report(out, {"old.txt": b"old"})
    failed = tmp_path / "report.failed"  # stale debugging folder from an earlier failure
    failed.mkdir()
    (failed / ".cartreport-failed").write_text(json.dumps({"tool": "cartreport", "kind": "failed"}))

    def build(folder: Path) -> None:
        assert folder.parent == tmp_path and folder.name.startswith(".report.tmp-")
        (folder / "report.html").write_text("new")

    assert write_atomically(build, out) == out
    assert snapshot(out).keys() == {"report.html", ".cartreport-report"}
    assert snapshot(out)["report.html"] == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_the_marker_says_cartreport_its_version_and_what_it_wrote(tmp_path: Path) -> None:
    def build(folder: Path) -> None:
        (folder / "figures").mkdir()
        (folder / "report.html").write_text("new")

    write_atomically(build, tmp_path / "report")
    marker = json.loads((tmp_path / "report" / ".cartreport-report").read_text())
    assert marker == {
        "tool": "cartreport",
        "version": __version__,
        "kind": "report",
        "entries": ["figures", "report.html"],
    }


@pytest.mark.parametrize("error", [RuntimeError("build failed"), KeyboardInterrupt()])
def test_write_atomically_keeps_the_old_folder_on_failure(tmp_path: Path, error: BaseException) -> None:
    out = tmp_path / "report"
    earlier_report(out, {"report.html": b"good report", "figures/km.png": b"\x89PNG"})
    before = snapshot(out)

    def build(folder: Path) -> None:
        (folder / "report.html").write_text("half")
        (folder / "failed").mkdir()
        (folder / "failed" / "02_bad.ipynb").write_text("{}")
        raise error

    with pytest.raises(type(error)):
        write_atomically(build, out)

    assert snapshot(out) == before
    assert snapshot(tmp_path / "report.failed").keys() == {"02_bad.ipynb", ".cartreport-failed"}
    assert snapshot(tmp_path / "report.failed")["02_bad.ipynb"] == b"{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "report.failed"]


def test_write_atomically_refuses_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputFolderError):
        write_atomically(lambda folder: None, Path("."))


def never(folder: Path) -> None:
    raise AssertionError("the build must not start")


def test_a_users_project_folder_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """Issue #9: ``run --data userproj/data/my_cohort.csv --output userproj`` deleted the user's files."""
    project = tmp_path / "userproj"
    (project / "data").mkdir(parents=True)
    (project / "paper.docx").write_bytes(b"PK\x03\x04 thesis chapter")
    (project / "thesis.tex").write_text("\\documentclass{book}")
    (project / "data" / "my_cohort.csv").write_text("patient_id\nP01\n")
    before = tree(tmp_path)
    with pytest.raises(OutputFolderError, match="holds the input data file my_cohort.csv"):
        write_atomically(never, project, inputs=[project / "data" / "my_cohort.csv"])
    with pytest.raises(
        OutputFolderError, match=r"not a cartreport report folder and holds data, paper.docx, th"
    ):
        write_atomically(never, project)
    assert tree(tmp_path) == before


def test_a_typo_for_a_subfolder_does_not_replace_the_sibling_reports(tmp_path: Path) -> None:
    """Issue #9: ``--output reports`` (meant: reports/new) deleted every report in reports/."""
    for name in ("a", "b", "c", "d"):
        earlier_report(tmp_path / "reports" / name)
    before = tree(tmp_path)
    with pytest.raises(OutputFolderError, match="holds a, b, c and 1 more"):
        write_atomically(never, tmp_path / "reports")
    assert tree(tmp_path) == before


def test_a_file_the_user_added_to_a_report_folder_is_not_lost(tmp_path: Path) -> None:
    out = tmp_path / "report"
    earlier_report(out)
    (out / "my_notes.txt").write_text("to discuss with the PI")
    before = tree(tmp_path)
    with pytest.raises(OutputFolderError, match="also holds my_notes.txt, which cartreport did not write"):
        write_atomically(never, out)
    assert tree(tmp_path) == before


@pytest.mark.parametrize(
    ("added", "shown"),
    [
        ("figures/km_os_lfs_edited.png", "figures/km_os_lfs_edited.png"),
        # JupyterLab's, when the executed notebooks are opened in the report folder
        ("notebooks/.ipynb_checkpoints/03_survival-checkpoint.ipynb", "notebooks/.ipynb_checkpoints"),
        ("tables/mine/notes.txt", "tables/mine"),
    ],
)
def test_a_file_the_user_added_inside_a_report_folders_subfolder_is_not_lost(
    tmp_path: Path, added: str, shown: str
) -> None:
    """The marker listed only the report folder's own entries, so a file the user put in ``figures/``, ``tables/`` or
    ``notebooks/`` (JupyterLab's checkpoints, a figure edited for a talk) was deleted with the report on the next
    run. Everything below the folder is listed now, and a file it does not list is the user's."""
    out = tmp_path / "report"
    earlier_report(
        out,
        {
            "report.html": b"old",
            "figures/km_os_lfs.png": b"png",
            "notebooks/03_survival.ipynb": b"{}",
            "tables/landmarks.csv": b"a,b",
        },
    )
    (out / added).parent.mkdir(parents=True, exist_ok=True)
    (out / added).write_text("the user's own work")
    before = tree(tmp_path)
    with pytest.raises(
        OutputFolderError, match=f"also holds {re.escape(shown)}, which cartreport did not write"
    ):
        write_atomically(never, out)
    assert tree(tmp_path) == before


def test_a_file_the_user_added_to_a_kept_failed_folder_is_not_lost(tmp_path: Path) -> None:
    """``<output>.failed/`` (the failing notebooks, kept for debugging) was deleted whole by the next good run, with
    whatever the user had saved in it while debugging."""
    out = tmp_path / "report"

    with pytest.raises(RuntimeError):
        write_atomically(_failing_with_a_notebook, out)
    (tmp_path / "report.failed" / "debug").mkdir()
    (tmp_path / "report.failed" / "debug" / "fix.py").write_text("my fix")
    write_atomically(lambda folder: (folder / "report.html").write_text("new"), out)
    assert (tmp_path / "report.failed" / "debug" / "fix.py").read_text() == "my fix"


def test_an_empty_or_absent_folder_is_written(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "absent" / "deeper"):
        write_atomically(lambda folder: (folder / "report.html").write_text("new"), out)
        assert (out / "report.html").read_text() == "new"


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (".", "the current folder or one of its parents"),
        ("..", "the current folder or one of its parents"),
        ("/", "the root of the file system"),
        ("cohort.csv", "it is a file, not a folder"),
        ("cohort.csv/report", "cohort.csv is a file, so no folder can be made in it"),
    ],
)
def test_impossible_output_folders_are_refused_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str, message: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "cohort.csv").write_text("patient_id\nP01\n")
    monkeypatch.chdir(work)
    before = tree(tmp_path)
    with pytest.raises(OutputFolderError, match=message) as info:
        write_atomically(never, Path(output))
    assert len(str(info.value).splitlines()) == 1 and str(info.value).startswith(
        f"will not write to {output}:"
    )
    assert tree(tmp_path) == before


def test_a_folder_that_cannot_be_written_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only place (a read-only mount refuses root too) failed with a traceback after the data had been
    validated, when the temporary folder beside the report was made: it is refused in one line, before the build."""
    import os

    locked = tmp_path / "locked"
    locked.mkdir()
    writable = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and writable(path, mode))
    for out in (locked / "report", locked / "absent" / "report"):
        with pytest.raises(OutputFolderError) as info:
            write_atomically(never, out)
        assert str(info.value) == (
            f"will not write to {out}: cartreport cannot write in {locked}; choose a folder you can write to"
        )
    assert tree(tmp_path) == {"locked": None}


def test_a_temporary_folder_that_cannot_be_made_is_one_line_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    def read_only(path, mode=0o777):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(os, "mkdir", read_only)
    with pytest.raises(OutputFolderError) as info:
        write_atomically(never, tmp_path / "report")
    assert str(info.value) == (
        f"will not write to {tmp_path / 'report'}: cartreport cannot write in {tmp_path} "
        "(Read-only file system); choose a folder you can write to"
    )
    assert tree(tmp_path) == {}


@pytest.mark.parametrize("earlier", [False, True])
def test_an_output_folder_that_is_a_symbolic_link_is_written_where_it_points(
    tmp_path: Path, earlier: bool
) -> None:
    """``--output reports`` with ``reports -> /mnt/share/reports``: the user's link was replaced by a new folder,
    and the folder it pointed to kept its stale report. The report is now written where the link points."""
    target = tmp_path / "share" / "report"
    target.parent.mkdir()
    if earlier:
        earlier_report(target, {"report.html": b"old"})
    else:
        target.mkdir()
    link = tmp_path / "report"
    link.symlink_to(target)
    write_atomically(lambda folder: (folder / "report.html").write_text("new"), link)
    assert link.is_symlink() and link.resolve() == target
    assert (target / "report.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "share"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["report"]


def test_a_failed_folder_of_the_user_is_never_removed(tmp_path: Path) -> None:
    out = tmp_path / "report"
    (tmp_path / "report.failed").mkdir()
    (tmp_path / "report.failed" / "mine.txt").write_text("not cartreport's")

    with pytest.raises(RuntimeError):
        write_atomically(_failing_with_a_notebook, out)
    write_atomically(lambda folder: (folder / "report.html").write_text("new"), out)
    assert snapshot(tmp_path / "report.failed") == {"mine.txt": b"not cartreport's"}
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("report.failed-")]
    assert len(kept) == 1 and (kept[0] / "02_bad.ipynb").read_text() == "{}"


def test_check_output_folder_creates_nothing(tmp_path: Path) -> None:
    assert check_output_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []


_NAMES = st.text(alphabet="abcXYZ019._- ", min_size=1, max_size=8).filter(lambda n: n not in (".", ".."))
_TREES = st.recursive(
    st.binary(max_size=20), lambda children: st.dictionaries(_NAMES, children, max_size=4), max_leaves=8
)


def _write_tree(folder: Path, content: dict) -> None:
    for name, value in content.items():
        if isinstance(value, dict):
            (folder / name).mkdir(exist_ok=True)
            _write_tree(folder / name, value)
        else:
            (folder / name).write_bytes(value)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.dictionaries(_NAMES, _TREES, max_size=5),
    state=st.sampled_from(["absent", "plain", "earlier report", "earlier report plus the user's files"]),
    forged_marker=st.booleans(),
)
def test_no_file_is_ever_lost(tmp_path_factory, content: dict, state: str, forged_marker: bool) -> None:
    """Random folder contents: either the report is refused and every byte stays, or the folder was ours."""
    root = tmp_path_factory.mktemp("prop")
    out = root / "out"
    (root / "neighbour.txt").write_bytes(b"beside the report folder")
    if state.startswith("earlier report"):
        earlier_report(out, {"report.html": b"old"})
    if state != "earlier report" and state != "absent":
        out.mkdir(exist_ok=True)
        _write_tree(out, content)
        if forged_marker:  # a marker that does not list these files does not make them cartreport's
            (out / ".cartreport-report").write_text(json.dumps({"tool": "cartreport", "kind": "report"}))
    before = tree(root)
    users_files = bool(content) and state not in ("absent", "earlier report")
    plainly_ours = state in ("absent", "earlier report") or (
        state == "plain" and not content and not forged_marker
    )

    try:
        write_atomically(lambda folder: (folder / "report.html").write_bytes(b"new"), out)
    except OutputFolderError:
        assert not plainly_ours, "an absent or empty folder or an untouched earlier report is replaced"
        assert tree(root) == before
    else:
        assert not users_files, "a folder holding the user's files was replaced"
        assert (out / "report.html").read_bytes() == b"new"
        assert {k: v for k, v in tree(root).items() if not k.startswith("out")} == {
            k: v for k, v in before.items() if not k.startswith("out")
        }


@pytest.mark.parametrize(
    ("failing_call", "code", "said"),
    [
        (0, "ENOENT", "another run wrote this folder at the same time"),
        (1, "ENOTEMPTY", "another run wrote this folder at the same time"),
        (1, "EACCES", "it could not be replaced"),
    ],
    ids=["old-folder-gone", "new-folder-already-there", "not-a-race"],
)
def test_another_run_swapping_the_same_folder_at_the_same_moment_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_call: int, code: str, said: str
) -> None:
    """Two runs into one --output: between a run's check and its two renames the other may swap its own report in,
    and a rename then failed with a traceback (FileNotFoundError, or ENOTEMPTY over the other's new folder)."""
    import errno
    import os

    from cartreport.render import output

    out = tmp_path / "report"
    write_atomically(lambda tmp: (tmp / "a.txt").write_text("earlier"), out)
    calls = []
    real = os.rename

    def rename(src, dst):
        calls.append((src, dst))
        if len(calls) - 1 == failing_call:
            raise OSError(getattr(errno, code), "raced")
        return real(src, dst)

    monkeypatch.setattr(output.os, "rename", rename)
    with pytest.raises(OutputFolderError, match=said):
        write_atomically(lambda tmp: (tmp / "a.txt").write_text("later"), out)
    monkeypatch.setattr(output.os, "rename", real)
    assert (out / "a.txt").read_text() == "earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        ("before the swap", False),
        ("between the two renames", True),
        ("after the two renames", True),
        ("while the earlier report is deleted", True),
    ],
)
def test_a_signal_during_the_swap_never_loses_or_hides_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moment: str, written: bool
) -> None:
    """Ctrl-C (or SIGTERM) between the swap's two renames left no report at --output: the earlier one was hidden in
    ``.report.trash-*`` and the new one deleted. A signal after them was turned into "another run wrote this
    folder at the same time" (the rename back failed), and one while the earlier report was deleted left half of
    it beside the output. The swap now finishes first; the signal stops the run after it (saying the report was
    written), or before it (nothing written)."""
    import os
    import signal

    from cartreport.render import output

    out = tmp_path / "report"
    write_atomically(lambda tmp: (tmp / "report.html").write_text("earlier"), out)
    real_rename, real_remove = os.rename, output._remove
    renames = []

    def rename(src, dst):
        real_rename(src, dst)
        renames.append(dst)
        if (moment, len(renames)) in (("between the two renames", 1), ("after the two renames", 2)):
            signal.raise_signal(signal.SIGINT)

    def remove(path):
        if moment == "while the earlier report is deleted" and ".trash-" in path.name:
            (path / "report.html").unlink()
            signal.raise_signal(signal.SIGINT)
        real_remove(path)

    def build(tmp):
        (tmp / "report.html").write_text("new")
        if moment == "before the swap":
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(output.os, "rename", rename)
    monkeypatch.setattr(output, "_remove", remove)
    with pytest.raises(KeyboardInterrupt) as stopped:
        write_atomically(build, out)
    assert (out / "report.html").read_text() == ("new" if written else "earlier")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    notes = getattr(stopped.value, "__notes__", [])
    assert notes == ([f"the report was written to {out} before the signal came"] if written else [])


def test_what_a_killed_run_left_beside_the_report_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """A run killed outright (kill -9, out of memory) leaves its half-built report in ``.report.tmp-*`` beside the
    output (figures and tables of the patients): it stayed there for good. The next run into that folder removes
    it; another run's folder that is still being built, and anything else, stay."""
    import fcntl
    import os

    out = tmp_path / "report"
    earlier_report(out)
    killed = tmp_path / ".report.tmp-0123abcd"
    (killed / "figures").mkdir(parents=True)
    (killed / "figures" / "swimmer.png").write_bytes(b"the patients")
    building = tmp_path / ".report.tmp-89abcdef"  # another run, building now
    building.mkdir()
    mine = tmp_path / ".report.tmp-notes"
    mine.mkdir()
    held = os.open(building, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_SH)
        write_atomically(lambda folder: (folder / "report.html").write_text("new"), out)
    finally:
        os.close(held)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".report.tmp-89abcdef",
        ".report.tmp-notes",
        "report",
    ]
    assert (out / "report.html").read_text() == "new"


def test_an_earlier_report_a_killed_run_left_in_its_trash_folder_comes_back(tmp_path: Path) -> None:
    """A run killed between the swap's two renames leaves no report at --output: the earlier one is in
    ``.report.trash-*``. The next run puts it back before anything else, so that it is not lost if that run fails."""
    import os

    out = tmp_path / "report"
    earlier_report(out, {"report.html": b"earlier"})
    os.rename(out, tmp_path / ".report.trash-0123abcd")

    def failing(folder: Path) -> None:
        raise RuntimeError("section failed")

    with pytest.raises(RuntimeError):
        write_atomically(failing, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    assert (out / "report.html").read_bytes() == b"earlier"


def test_a_folder_name_too_long_to_be_swapped_is_refused_before_any_work(tmp_path: Path) -> None:
    """A 240-character --output was written once; the next run built the whole report, then failed with a traceback
    (``File name too long``, from the name the earlier report is moved to: ``.<name>.trash-<8 characters>``). A
    name leaving no room for it is refused before any work; one that does is written and replaced."""
    for length in (240, 250):
        with pytest.raises(OutputFolderError, match="its name is too long"):
            write_atomically(never, tmp_path / ("r" * length))
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / ("r" * 239)
    for content in ("earlier", "new"):
        write_atomically(lambda folder, content=content: (folder / "report.html").write_text(content), out)
    assert (out / "report.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
