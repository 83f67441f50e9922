"""Tests for cartreport.render.output: the report folder is replaced atomically, or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartreport.render import write_atomically


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_write_atomically_replaces_the_folder_on_success(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "old.txt").write_text("old")
    (tmp_path / "report.failed").mkdir()  # stale debugging folder from an earlier failure

    def build(folder: Path) -> None:
        assert folder.parent == tmp_path and folder.name.startswith(".report.tmp-")
        (folder / "report.html").write_text("new")

    assert write_atomically(build, out) == out
    assert snapshot(out) == {"report.html": b"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


@pytest.mark.parametrize("error", [RuntimeError("build failed"), KeyboardInterrupt()])
def test_write_atomically_keeps_the_old_folder_on_failure(tmp_path: Path, error: BaseException) -> None:
    out = tmp_path / "report"
    (out / "figures").mkdir(parents=True)
    (out / "report.html").write_text("good report")
    (out / "figures" / "km.png").write_bytes(b"\x89PNG")
    before = snapshot(out)

    def build(folder: Path) -> None:
        (folder / "report.html").write_text("half")
        (folder / "failed").mkdir()
        (folder / "failed" / "02_bad.ipynb").write_text("{}")
        raise error

    with pytest.raises(type(error)):
        write_atomically(build, out)

    assert snapshot(out) == before
    assert snapshot(tmp_path / "report.failed") == {"02_bad.ipynb": b"{}"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "report.failed"]


def test_write_atomically_refuses_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError):
        write_atomically(lambda folder: None, Path("."))
