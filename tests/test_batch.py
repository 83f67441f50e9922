"""cartreport batch: grid expansion, local processes and a dask LocalCluster, summary and index."""

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cartreport import batch, batch_workers, cli
from cartreport.cohorts.synthetic import synthetic_cohort
from cartreport.contract.problems import MAX_PER_RULE
from cartreport.errors import KernelError, ParameterError


def test_matrix_expands_into_the_cartesian_product(tmp_path):
    grid = {
        "defaults": {"data": "cohort.csv", "landmarks_months": [12]},
        "runs": [{"name": "all"}, {"name": "tall", "subgroup": {"diagnosis": ["T-ALL"]}}],
        "matrix": {
            "time_origin": ["second_hsct", "cart_infusion"],
            "data_cutoff": ["2022-12-31", "2023-06-30"],
        },
    }
    runs = batch.expand_grid(grid, base_dir=tmp_path)
    assert len(runs) == 2 * 2 * 2
    assert runs[0].name == "all__time_origin=second_hsct__data_cutoff=2022-12-31"
    assert runs[-1].parameters["subgroup"] == {"diagnosis": ["T-ALL"]}
    assert runs[-1].parameters["data"] == str(tmp_path / "cohort.csv")
    assert len({r.name for r in runs}) == len(runs)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"runs": [{"name": "a", "ci_level": 7}]}, "ci_level"),
        ({"runs": [{"name": "a"}, {"name": "a"}]}, "unique"),
        ({"runs": [{"subgroup": {}}]}, "name"),
        ({"matrix": {"time_origin": []}}, "non-empty"),
        ({"defaults": {}, "extra": 1}, "unknown sections"),
    ],
)
def test_a_bad_grid_is_refused_before_anything_runs(grid, message):
    with pytest.raises(ParameterError, match=message):
        batch.expand_grid(grid)


@pytest.mark.parametrize("defaults", [["data: cohort.csv"], [{"data": "cohort.csv"}], "cohort.csv", 5])
def test_defaults_that_are_not_a_mapping_are_one_line(defaults, tmp_path, capsys):
    """``defaults:`` written as a YAML list (``- data: cohort.csv``, as the runs under it are) or as one word was a
    ValueError or TypeError traceback from ``cartreport batch``: it is a ParameterError naming defaults, exit 2."""
    with pytest.raises(ParameterError, match="defaults = .*must map parameter names to values"):
        batch.expand_grid({"defaults": defaults})
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"defaults": defaults}))
    assert cli.main(["batch", str(grid), "--output", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "must map parameter names to values" in err, err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("runs", "options", "message"),
    [
        ([], {}, r"runs = \[\]: a batch needs at least one run"),
        ([{"name": "a"}], {}, "runs = .*must be runs of a grid"),
        (None, {"executor": "dask-local"}, "executor = 'dask-local': must be local or dask"),
        (None, {"jobs": "2"}, "--jobs = '2': must be a whole number"),
    ],
)
def test_run_batch_refuses_what_the_command_never_passes_before_any_work(runs, options, message, tmp_path):
    """Called from Python, ``run_batch([])`` wrote a marker and a one-byte summary.csv, then ended in a KeyError; a
    list of mappings (the grid's runs: as written) an AttributeError; ``executor="dask-local"`` ran the batch in
    this process without a word; ``jobs="2"`` a TypeError. Each is a ParameterError, and nothing is written."""
    runs = batch.expand_grid({}) if runs is None else runs
    with pytest.raises(ParameterError, match=message):
        batch.run_batch(runs, tmp_path / "b", **options)
    assert not (tmp_path / "b").exists()


def test_a_grid_of_too_many_runs_is_refused_at_once():
    """Five short lists crossed make 50**5 runs: the batch expanded and checked them one by one for hours."""
    values = [round(0.5 + i / 100, 2) for i in range(50)]
    grid = {"matrix": {"ci_level": values, "landmarks_months": list(range(1, 51)), "title": [f"t{i}" for i in range(50)],
                       "data_cutoff": [f"2023-01-{d:02d}" for d in range(1, 29)], "ci_method": ["log-log", "log", "plain"]}}  # fmt: skip
    with pytest.raises(ParameterError) as info:
        batch.expand_grid(grid)
    assert str(info.value) == (
        "report parameter matrix = 'ci_level, landmarks_months, title, data_cutoff, ci_method': the grid makes "
        "10,500,000 runs; a batch may have at most 10,000"
    )


def test_a_matrix_value_that_is_a_yaml_bomb_is_refused_at_once():
    """The run's name was made from the value (json.dumps of 9**9 strings) before the value was checked."""
    bomb = ["lol"] * 9
    for _ in range(8):
        bomb = [bomb] * 9  # what YAML aliases make: 9 references to one list, 9**9 strings once written out
    with pytest.raises(ParameterError, match="must be text"):
        batch.expand_grid({"matrix": {"title": [bomb]}})


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    synthetic_cohort(30, seed=5).to_csv(folder / "cohort.csv", index=False)
    bad = synthetic_cohort(10, seed=6)
    bad.loc[0, "death_date"] = "not a date"
    bad.to_csv(folder / "bad.csv", index=False)
    grid = {
        "defaults": {"data": "cohort.csv", "landmarks_months": [6, 12]},
        "runs": [{"name": "ok"}, {"name": "broken", "data": "bad.csv"}],
        "matrix": {"time_origin": ["second_hsct", "cart_infusion"]},
    }
    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    return path


def _check(out: Path, summary: pd.DataFrame) -> None:
    assert list(summary["name"]) == [
        "ok__time_origin=second_hsct",
        "ok__time_origin=cart_infusion",
        "broken__time_origin=second_hsct",
        "broken__time_origin=cart_infusion",
    ]
    assert list(summary["status"]) == ["ok", "ok", "failed", "failed"]
    assert summary.loc[2, "error"].startswith("bad.csv has 1 problem")
    for name in summary["name"][:2]:
        results = json.loads((out / name / "results.json").read_text())
        row = summary[summary["name"] == name].iloc[0]
        assert float(row["os_12m"]) == pytest.approx(results["endpoints"]["os"]["landmarks"][1]["estimate"])
        assert int(float(row["n"])) == results["n_patients"] == 30
    assert not (out / "broken__time_origin=second_hsct").exists()
    index = (out / "index.html").read_text()
    assert 'href="ok__time_origin=second_hsct/report.html"' in index and "data:image/png;base64" in index
    assert pd.read_csv(out / "summary.csv")["status"].tolist() == list(summary["status"])


def test_local_parallel_batch_reports_failures_and_finishes_the_rest(grid_file, tmp_path, capsys):
    out = tmp_path / "local"
    code = cli.main(["batch", str(grid_file), "--jobs", "2", "--output", str(out)])
    assert code == 1, "a failed run makes the exit code non-zero"
    _check(out, pd.read_csv(out / "summary.csv", keep_default_na=False))
    assert "2 of 4 runs ok" in capsys.readouterr().out


def test_dask_local_cluster(grid_file, tmp_path):
    out = tmp_path / "dask"
    summary = batch.run_batch(batch.load_grid(grid_file), out, jobs=2, executor="dask")
    _check(out, summary.fillna(""))


def test_a_worker_keeps_one_warm_kernel_across_reports(grid_file, tmp_path):
    runs = batch.load_grid(grid_file)[:2]  # two valid runs, in this process (jobs=1)
    summary = batch.run_batch(runs, tmp_path / "warm", jobs=1)
    assert list(summary["status"]) == ["ok", "ok"]
    kernel = batch_workers._worker_kernel()
    assert kernel.is_alive() and batch_workers._worker_kernel() is kernel, "reused, not restarted"
    batch_workers._drop_worker_kernel()
    assert not kernel.is_alive()
    assert not batch_workers._KERNELS


def test_the_summary_says_at_what_level_each_runs_intervals_are(tmp_path):
    """summary.csv's ``os_12m_ci_low``/``_ci_high`` columns did not say their confidence level or method, so a batch
    varying ``ci_level`` put 90% and 95% intervals in one column, and the index's forest plot drew them side by side
    unlabelled. Each row now carries its run's ``ci_level`` and ``ci_method`` (from its results.json), and the
    forest plot's axis names the level, or says the runs differ."""
    from cartreport.render import batch_index

    synthetic_cohort(20, seed=5).to_csv(tmp_path / "cohort.csv", index=False)
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        yaml.safe_dump(
            {
                "defaults": {"data": "cohort.csv", "landmarks_months": [12]},
                "runs": [{"name": "narrow", "ci_level": 0.9, "ci_method": "log"}, {"name": "usual"}],
            }
        )
    )
    out = tmp_path / "out"
    summary = batch.run_batch(batch.load_grid(grid), out)
    written = pd.read_csv(out / "summary.csv")
    for frame in (summary, written):
        assert list(frame.columns[:6]) == ["name", "status", "error", "n", "ci_level", "ci_method"]
    for row in written.itertuples():
        parameters = json.loads((out / row.name / "results.json").read_text())["parameters"]
        assert (row.ci_level, row.ci_method) == (parameters["ci_level"], parameters["ci_method"])
    assert written["ci_level"].tolist() == [0.9, 0.95]
    index = (out / "index.html").read_text()
    assert "<td>90%</td>" in index and "<td>95%</td>" in index
    assert batch_index.forest_axis_label(summary, "os_12m") == (
        "Overall survival at 12 months (%); intervals at each run's confidence level"
    )
    assert batch_index.forest_axis_label(summary.iloc[1:], "os_12m") == (
        "Overall survival at 12 months (%) with 95% CI"
    )


def test_summary_csv_holds_no_live_formula(tmp_path, monkeypatch):
    """A file named ``=HYPERLINK(...).csv`` puts its name into the error column; a spreadsheet must not run it."""
    error = '=HYPERLINK("http://x","y").csv has 1 problem; nothing was computed.'
    monkeypatch.setattr(
        batch_workers,
        "run_one",
        lambda run, output, *_: {
            "name": run.name,
            "status": "failed",
            "error": error,
            "n": -1,
            "seconds": 0.1,
        },
    )
    batch.run_batch([batch.BatchRun("one", {})], tmp_path)
    with open(tmp_path / "summary.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["name", "status", "error", "n", "seconds"], ["one", "failed", "'" + error, "-1", "0.1"]]


def _tree(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def tiny_grid(tmp_path):
    synthetic_cohort(12, seed=5).to_csv(tmp_path / "cohort.csv", index=False)
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump({"defaults": {"data": "cohort.csv"}, "runs": [{"name": "all"}]}))
    return path


def test_a_batch_never_overwrites_the_users_index_or_summary(tiny_grid, tmp_path, capsys):
    """Issue #9: ``batch --output D`` overwrote the user's D/index.html and D/summary.csv."""
    out = tmp_path / "D"
    out.mkdir()
    (out / "index.html").write_text("<h1>my lab's page</h1>")
    (out / "summary.csv").write_text("my,numbers\n1,2\n")
    before = _tree(tmp_path)
    assert cli.main(["batch", str(tiny_grid), "--output", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "is not a cartreport batch folder and holds index.html, summary.csv" in err[0]
    assert _tree(tmp_path) == before


def test_a_batch_never_replaces_a_users_folder_named_like_a_run(tiny_grid, tmp_path, capsys):
    """Issue #9: a subfolder sharing a run's name was replaced."""
    from cartreport.render.output import claim_folder

    out = tmp_path / "D"
    (out / "all").mkdir(parents=True)
    (out / "all" / "draft.docx").write_bytes(b"PK\x03\x04")
    claim_folder(out, "batch")  # an earlier batch folder: still, "all" is not a report folder of cartreport
    before = _tree(tmp_path)
    assert cli.main(["batch", str(tiny_grid), "--output", str(out)]) == 2
    assert f"will not write to {out / 'all'}: it is not a cartreport report folder" in capsys.readouterr().err
    assert _tree(tmp_path) == before


def test_an_interrupted_run_never_deletes_the_users_folder_named_like_its_failed_folder(
    tmp_path, monkeypatch
):
    """A run stopped by a signal deleted ``<batch>/<name>.failed`` whole, to drop the notebooks its stop had just
    moved there; but a folder of that name that is the user's (a batch folder may hold the user's files) is kept,
    and the notebooks go beside it (``<name>.failed-<random>``): the user's folder was deleted."""
    from cartreport import api
    from cartreport.errors import SectionFailed
    from cartreport.render import write_atomically
    from cartreport.render.output import claim_folder

    out = tmp_path / "D"
    (out / "all.failed").mkdir(parents=True)
    (out / "all.failed" / "mine.txt").write_text("the user's notes")
    claim_folder(out, "batch")

    def stopped_while_running(params, folder, kernel=None):
        def build(tmp):
            (tmp / "failed").mkdir()
            (tmp / "failed" / "03_survival.ipynb").write_text("{}")
            batch_workers.stop_batch("b1")  # the signal: the report's kernel is killed, its cell fails
            raise SectionFailed("03_survival", "DeadKernelError", tmp / "failed" / "03_survival.ipynb")

        return write_atomically(build, folder)

    monkeypatch.setattr(api, "run_resolved_report", stopped_while_running)
    monkeypatch.setattr(batch_workers, "_worker_kernel", lambda print_writer=False: None)
    monkeypatch.setattr(batch_workers, "_STOPPED", set())
    run = batch_workers.BatchRun("all", {}, resolved=True)
    assert batch_workers.run_one(run, str(out), "b1")["status"] == "interrupted"
    assert (out / "all.failed" / "mine.txt").read_text() == "the user's notes"
    assert sorted(p.name for p in out.iterdir()) == [".cartreport-batch", "all.failed"]


def test_a_run_name_ending_in_a_line_break_is_refused(tmp_path):
    """``name: |`` (a YAML block, which ends in a line break) passed the name rule (``$`` matches before a final
    line break): the run wrote a folder named ``all`` plus a line break, beside an ``all`` of its own."""
    grid = tmp_path / "grid.yaml"
    grid.write_text("runs:\n  - name: |\n      all\n  - name: all\n")
    with pytest.raises(ParameterError, match="letters, digits"):
        batch.load_grid(grid)


def test_the_end_of_a_batch_removes_only_what_killed_reports_left(tmp_path):
    """At its end a batch deleted every ``.<run>.tmp-*`` folder of its runs, to clear what workers killed outright
    had left: a ``cartreport run --output <batch>/<run>`` (or another batch) building there at that moment lost
    its folder and failed ("section 01_design failed: FileNotFoundError"). A folder a live run holds now stays."""
    import fcntl
    import os

    out = tmp_path / "D"
    building = out / ".all.tmp-0123abcd"  # another run into D/all, building now
    killed = out / ".second.tmp-89abcdef"  # a worker killed outright
    for folder in (building, killed):
        (folder / "figures").mkdir(parents=True)
    runs = [batch_workers.BatchRun(name, {}, resolved=True) for name in ("all", "second")]
    held = os.open(building, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_SH)
        batch._remove_leftovers(out, runs)
    finally:
        os.close(held)
    assert sorted(p.name for p in out.iterdir()) == [".all.tmp-0123abcd"]


def test_a_batch_refuses_an_output_dir_parameter_before_any_run(tmp_path, capsys):
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"runs": [{"name": "a"}, {"name": "b", "output_dir": "x"}]}))
    assert cli.main(["batch", str(grid), "--output", str(tmp_path / "D")]) == 2
    assert "output_dir = 'x': is set by cartreport" in capsys.readouterr().err
    assert not (tmp_path / "D").exists()


def test_relative_data_is_relative_to_the_grid_as_in_a_params_file(tmp_path, monkeypatch):
    """One rule for grids and params files: a relative data path is relative to the file that names it."""
    (tmp_path / "study" / "grids").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    grid = tmp_path / "study" / "grids" / "grid.yaml"
    grid.write_text(yaml.safe_dump({"defaults": {"data": "../data/cohort.csv"}, "runs": [{"name": "a"}]}))
    params = tmp_path / "study" / "grids" / "params.yaml"
    params.write_text("data: ../data/cohort.csv\n")
    monkeypatch.chdir(tmp_path / "elsewhere")
    expected = str(tmp_path / "study" / "data" / "cohort.csv")
    assert batch.load_grid(Path("../study/grids/grid.yaml"))[0].parameters["data"] == expected
    args = cli.build_parser().parse_args(["run", "--params-file", "../study/grids/params.yaml"])
    assert cli._parameters(args)["data"] == expected


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        ([{"name": "summary.csv"}], "summary.csv"),
        ([{"name": "index.html"}], "index.html"),
        ([{"name": "Index.HTML"}], "index.html"),
        ([{"name": "a/b"}], "letters, digits"),
        ([{"name": ".."}], "letters, digits"),
        ([{"name": "ok"}, {"name": "OK"}], "differ only in upper/lower case"),
        ([{"name": "ok"}, {"name": "ok.failed"}], "failed"),
        ([{"name": "x" * 201}], "at most 200"),
    ],
)
def test_run_names_that_would_collide_are_refused_with_one_line_exit_2(tmp_path, capsys, runs, message):
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"runs": runs}))
    out = tmp_path / "out"
    assert cli.main(["batch", str(grid), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists(), "refused before anything ran"


def _cohort_with_bad_dates(rows: list[int]) -> pd.DataFrame:
    cohort = synthetic_cohort(30, seed=5)
    for row in rows:
        cohort.loc[row, "death_date"] = f"bad date {row}"
    return cohort


def test_a_failed_run_keeps_every_problem_in_summary_and_index(tmp_path, capsys):
    rows = [0, 3, 7]
    _cohort_with_bad_dates(rows).to_csv(tmp_path / "bad.csv", index=False)
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"defaults": {"data": "bad.csv"}, "runs": [{"name": "broken"}]}))
    out = tmp_path / "out"
    assert cli.main(["batch", str(grid), "--output", str(out)]) == 1
    error = pd.read_csv(out / "summary.csv", keep_default_na=False).loc[0, "error"]
    index = (out / "index.html").read_text()
    for row in rows:  # the header is row 1, so data row i is spreadsheet row i + 2
        assert f"row {row + 2} " in error and f"bad date {row}" in error
        assert f"row {row + 2} " in index and f"bad date {row}" in index
    captured = capsys.readouterr()
    line = next(x for x in (captured.out + captured.err).splitlines() if x.startswith("broken: failed"))
    assert "bad.csv has 3 problems" in line and str(out / "summary.csv") in line


def test_a_long_problem_list_is_capped_with_a_count(tmp_path):
    _cohort_with_bad_dates(list(range(30))).to_csv(tmp_path / "bad.csv", index=False)
    runs = batch.expand_grid(
        {"defaults": {"data": "bad.csv"}, "runs": [{"name": "broken"}]}, base_dir=tmp_path
    )
    summary = batch.run_batch(runs, tmp_path / "out")
    error = summary.loc[0, "error"]
    assert "bad.csv has 30 problems" in error
    shown = [line for line in error.splitlines() if "bad date" in line]
    assert len(shown) == MAX_PER_RULE < 30  # the validator's bound on lines per rule, then a count
    assert (
        error.splitlines()[-1].strip()
        == f"bad.csv: … and {30 - MAX_PER_RULE} more problems of rule date-format"
    )


# --- Ctrl-C and SIGTERM: a real `cartreport batch` process, real signals ------------------------------------

SHIPPED_STUDY_PATIENTS = 16  # the flagship study's cohort size (published; data/README.md)
RUNS = ["a", "b", "c", "d", "e"]


def _private_tmp_processes(private_tmp: Path) -> list:
    """Processes (report kernels) whose command line names a file under ``private_tmp``."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(private_tmp) in arg for arg in proc.info["cmdline"] or []):
            found.append(proc)
    return found


def _wait_for(condition, seconds: float, what: str) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"hang guard: {what} not within {seconds} s"
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("executor", "signum", "to_group"),
    [("local", "SIGINT", True), ("local", "SIGTERM", False), ("dask", "SIGTERM", True)],
)
def test_a_signal_stops_the_batch_cleans_up_and_reports_what_finished(tmp_path, executor, signum, to_group):
    import os
    import signal
    import subprocess
    import sys

    import psutil

    grid = tmp_path / "grid.yaml"
    grid.write_text(
        yaml.safe_dump({"defaults": {"landmarks_months": [12]}, "runs": [{"name": n} for n in RUNS]})
    )
    out = tmp_path / "out"
    private_tmp = tmp_path / "tmp"  # the kernels' private folders go here, so the test sees only its own
    private_tmp.mkdir()
    command = [str(Path(sys.executable).parent / "cartreport"), "batch", str(grid), "--output", str(out)]
    batch_process = subprocess.Popen(
        [*command, "--jobs", "2", "--executor", executor],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell job is
        env={**os.environ, "TMPDIR": str(private_tmp)},
    )
    try:
        _wait_for(lambda: any((out / n / "report.html").exists() for n in RUNS), 180, "a first report")
        children = psutil.Process(batch_process.pid).children(recursive=True)
        sig = getattr(signal, signum)
        if to_group:
            os.killpg(batch_process.pid, sig)
        else:
            batch_process.send_signal(sig)
        stdout, stderr = batch_process.communicate(timeout=60)
    finally:
        if batch_process.poll() is None:
            os.killpg(batch_process.pid, signal.SIGKILL)
            batch_process.wait()
    assert batch_process.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr + stdout
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"stray processes: {alive}"
    assert not _private_tmp_processes(private_tmp), "a report kernel outlived the batch"
    assert not list(private_tmp.glob("cr-k-*")), "a kernel's private folder (pickled analysis) was left"
    hidden = [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".cartreport-batch"]
    assert not hidden, "temporary or trash folders left"
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert list(summary["name"]) == RUNS
    assert set(summary["status"]) == {"ok", "interrupted"}, summary.to_string()
    for row in summary.itertuples():
        if row.status == "ok":
            results = json.loads((out / row.name / "results.json").read_text())
            assert results["n_patients"] == SHIPPED_STUDY_PATIENTS
            assert (out / row.name / "report.html").read_text().rstrip().endswith("</html>")
        else:
            assert not (out / row.name).exists() and not (out / f"{row.name}.failed").exists()
    index = (out / "index.html").read_text()
    assert all(f"{n}</a> — ok" in index or f"{n} — interrupted" in index for n in RUNS)
    n_ok = int((summary["status"] == "ok").sum())
    assert f"interrupted by {signum}" in stderr and f"{n_ok} of {len(RUNS)} runs ok" in stdout


def test_a_killed_kernel_fails_a_namespace_reset_at_once_not_after_its_timeout():
    """A namespace reset on a kernel that stop_batch killed fails at once (KernelError), not after its 600 s timeout.

    The kernel lives on a thread of its own, started, used and shut down there, while this thread waits (the hang
    guard). It was reset from a second thread and shut down from this one: pyzmq unregisters a client's sockets only
    from the event loop they were last used on, so this thread's loop kept a closed socket watched, and the next
    kernel client of this thread given its number was never woken (the next in-process batch hung;
    tests/conftest.py now fails a test that leaves one)."""
    import threading
    import time

    from cartreport import render

    outcome: dict = {}

    def start_kill_and_reset() -> None:
        kernel = outcome["kernel"] = render.start_kernel(preload=())
        try:
            kernel.connect(timeout=60)
            kernel.reset(timeout=60)
            kernel.kill()  # what stop_batch does to the kernel of a running report
            started = time.monotonic()
            try:
                kernel.reset(timeout=600)
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
                outcome["error"] = exc
            outcome["seconds"] = time.monotonic() - started
        finally:
            kernel.shutdown()

    thread = threading.Thread(target=start_kill_and_reset, daemon=True)
    thread.start()
    thread.join(timeout=120)  # hang guard: the kernel's start (at most 60 s), far below the reset's own 600 s
    assert not thread.is_alive(), "reset waited on a dead kernel"
    assert isinstance(outcome.get("error"), KernelError) and "died" in str(outcome["error"]), outcome
    assert outcome["seconds"] < 30, "the reset noticed the dead kernel only after a long wait"
    assert not outcome["kernel"].runtime_dir.exists()


# --- a real dask.distributed cluster, started with the dask CLI on 127.0.0.1 ---------------------------------


@pytest.fixture
def dask_cluster(tmp_path):
    """A scheduler and two one-thread workers (``dask scheduler`` / ``dask worker``), each in its own process
    group; yields the scheduler address and the two workers' Popen objects; always torn down."""
    import os
    import signal
    import subprocess
    import sys

    bin_dir = Path(sys.executable).parent
    scheduler_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "cluster.log", "w")  # noqa: SIM115 - closed in the finaliser
    common = {"stdout": log, "stderr": subprocess.STDOUT, "start_new_session": True}
    processes = [
        subprocess.Popen(
            [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
            + ["--scheduler-file", str(scheduler_file)],
            **common,
        )
    ]
    try:
        _wait_for(scheduler_file.exists, 60, "the dask scheduler")
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [str(bin_dir / "dask"), "worker", "--scheduler-file", str(scheduler_file)]
                    + ["--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
                    + ["--local-directory", str(tmp_path / "dask-workers")],
                    **common,
                )
            )
        address = json.loads(scheduler_file.read_text())["address"]
        from dask.distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address, processes[1:]
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def test_a_dask_cluster_finishes_every_report_when_a_worker_is_killed_mid_batch(tmp_path, dask_cluster):
    import os
    import signal
    import subprocess
    import sys

    address, workers = dask_cluster
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        yaml.safe_dump({"defaults": {"landmarks_months": [12]}, "runs": [{"name": n} for n in RUNS]})
    )
    out = tmp_path / "out"
    command = [str(Path(sys.executable).parent / "cartreport"), "batch", str(grid), "--output", str(out)]
    batch_process = subprocess.Popen(
        [*command, "--executor", "dask", "--scheduler", address],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: any((out / n / "report.html").exists() for n in RUNS), 180, "a first report")
        os.killpg(workers[0].pid, signal.SIGKILL)  # the machine is lost: worker, nanny, no clean-up
        stdout, stderr = batch_process.communicate(timeout=240)
    finally:
        if batch_process.poll() is None:
            batch_process.kill()
            batch_process.wait()
    assert batch_process.returncode == 0, stderr
    assert "Traceback" not in stderr + stdout
    summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert list(summary["name"]) == RUNS and set(summary["status"]) == {"ok"}
    for name in RUNS:
        assert json.loads((out / name / "results.json").read_text())["n_patients"] == SHIPPED_STUDY_PATIENTS
    assert f"{len(RUNS)} of {len(RUNS)} runs ok" in stdout
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".cartreport-batch"], (
        "the killed worker's folder was left"
    )


def test_the_index_forest_plot_is_crisp_at_twice_its_display_size(tmp_path):
    """Issue #10: the index page's forest plot was a 100 dpi PNG shown at its pixel size (blurred on a
    high-density screen); like the report's figures it has twice the pixels of its displayed width and height."""
    import base64
    import io

    from PIL import Image

    from cartreport.render.batch_index import write_index

    summary = pd.DataFrame(
        {
            "name": ["a", "b"],
            "status": ["ok", "ok"],
            "error": ["", ""],
            "os_12m": [0.585, 0.4],
            "os_12m_ci_low": [0.261, 0.2],
            "os_12m_ci_high": [0.807, 0.6],
        }
    )
    write_index(summary, tmp_path)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    tag = re.search(r'<img alt="forest plot"[^>]*>', page).group(0)
    width, height = (int(re.search(rf'{k}="(\d+)"', tag).group(1)) for k in ("width", "height"))
    data = re.search(r'src="data:image/png;base64,([^"]+)"', tag).group(1)
    png = Image.open(io.BytesIO(base64.b64decode(data)))
    for shown, pixels in zip((width, height), png.size, strict=True):  # odd pixel counts round up
        assert 2 * shown - 1 <= pixels <= 2 * shown


def test_the_index_forest_plot_of_a_large_batch_stays_one_page(tmp_path):
    """The forest plot had a row per run that finished: for a batch of 10,000 runs (as many as a grid may have)
    index.html took 110 s and 6.2 GB of memory, for a 54 MB page with a picture 2,500 inches tall. It shows the first
    FOREST_MAX_RUNS runs and says so; every run stays in the list and the summary table."""
    import base64
    import io

    from PIL import Image

    from cartreport.render.batch_index import FOREST_DENSITY, FOREST_MAX_RUNS, FOREST_PX_PER_INCH, write_index

    n = 300
    summary = pd.DataFrame(
        {
            "name": [f"run{i}" for i in range(n)],
            "status": "ok",
            "error": "",
            "os_12m": 0.5,
            "os_12m_ci_low": 0.3,
            "os_12m_ci_high": 0.7,
        }
    )
    write_index(summary, tmp_path)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    data = re.search(r'<img alt="forest plot"[^>]*src="data:image/png;base64,([^"]+)"', page).group(1)
    height = Image.open(io.BytesIO(base64.b64decode(data))).size[1] / (FOREST_PX_PER_INCH * FOREST_DENSITY)
    assert FOREST_MAX_RUNS <= 50 and height < 1.5 + 0.25 * FOREST_MAX_RUNS
    assert f"The forest plot shows the first {FOREST_MAX_RUNS} of the {n} runs that finished" in page
    assert all(f'href="run{i}/report.html"' in page for i in range(n))


def test_the_index_is_rendered_from_its_template_with_data_shown_as_written(tmp_path):
    from cartreport.render.batch_index import write_index

    summary = pd.DataFrame(
        [
            {
                "name": "ok_run",
                "status": "ok",
                "error": "",
                "os_12m": 0.5,
                "os_12m_ci_low": 0.3,
                "os_12m_ci_high": 0.7,
            },
            {
                "name": "bad",
                "status": "failed",
                "error": "bad.csv has 2 problems:\n  row 2 <img src=x onerror=alert(1)>",
            },
            {"name": "boom", "status": "failed", "error": "section 02_responses: ValueError: <b>x</b>"},
        ]
    )
    write_index(summary, tmp_path)
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<h1>cartreport batch: 3 runs, 1 ok</h1>" in page
    assert '<li><a href="ok_run/report.html">ok_run</a> — ok</li>' in page
    assert (
        "<li>bad — failed: <pre>bad.csv has 2 problems:\n  row 2 &lt;img src=x onerror=alert(1)&gt;</pre></li>"
        in page
    )
    assert "<li>boom — failed: section 02_responses: ValueError: &lt;b&gt;x&lt;/b&gt;</li>" in page
    assert page.count('<img alt="forest plot"') == 1
    assert "<td>ok_run</td>\n      <td>ok</td>\n      <td></td>\n      <td>50.0%</td>" in page


def test_a_batch_resolves_each_runs_parameters_once(tmp_path, monkeypatch):
    """A batch resolved every run's parameters four times (expand_grid, the command's target check, run_batch's,
    run_report); once now, in expand_grid, and the resolved parameters are handed on to the report."""
    from cartreport import api
    from cartreport.analysis import params

    resolved: list[dict] = []
    fresh = params.default_parameters  # resolve_parameters starts from the defaults, once per call
    monkeypatch.setattr(params, "default_parameters", lambda: resolved.append({}) or fresh())
    reported: dict[str, dict] = {}

    def report(parameters, output, *rest):  # the report itself (analysis, notebooks) is not what is counted
        reported[Path(output).name] = parameters
        Path(output).mkdir(parents=True)
        results = {
            "n_patients": 1,
            "parameters": parameters,
            "endpoints": {"os": {"landmarks": []}, "lfs": {"landmarks": []}},
        }
        (Path(output) / "results.json").write_text(json.dumps(results))
        return Path(output)

    monkeypatch.setattr(api, "_run_report", report)
    monkeypatch.setattr(batch_workers, "_worker_kernel", lambda *_: None)
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        yaml.safe_dump({"defaults": {"landmarks_months": [12, 6]}, "runs": [{"name": "a"}, {"name": "b"}]})
    )
    assert cli.main(["batch", str(grid), "--output", str(tmp_path / "out")]) == 0
    assert len(resolved) == 2, "each run's parameters resolved once"
    assert sorted(reported) == ["a", "b"]
    assert all(p["landmarks_months"] == [6, 12] and p["output_dir"] == "" for p in reported.values())


class _TornDown:
    """Writes ``teardown`` into its folder when the interpreter tears its module down (``__del__`` at exit)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __del__(self, open=open) -> None:  # noqa: A002 - the builtin, kept for the interpreter's teardown
        with open(f"{self.folder}/teardown", "w") as stream:
            stream.write("ran")


def _mark_the_exit(folder: str) -> str:
    import atexit

    global _KEPT_UNTIL_TEARDOWN
    _KEPT_UNTIL_TEARDOWN = _TornDown(folder)
    atexit.register(lambda: Path(folder, "atexit").write_text("ran"))
    return "ok"


def test_a_local_worker_ends_after_its_atexit_handlers_without_the_teardown(tmp_path):
    """A batch's worker processes tore down their interpreters (pandas, pyarrow, matplotlib, nbconvert: about 0.6 s
    each) after the last report, and the batch waited for them: 1.5 s from the last report to the batch's end. A
    worker now ends as ``cartreport run`` does: its kernel shut down (a finalizer), its atexit handlers run, its output
    flushed, then ``os._exit``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from cartreport import batch_workers

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=batch_workers.start_local_worker) as pool:
        assert pool.submit(_mark_the_exit, str(tmp_path)).result() == "ok"
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not (tmp_path / "teardown").exists()


def test_the_batch_draws_its_index_with_what_was_imported_while_the_reports_ran():
    """The index page's forest plot imported matplotlib, seaborn (with scipy.stats and scipy.cluster) and the
    report's figures in the batch's own process once every report was done: 0.9 s between the last report and
    the end of a 6-report batch. They are imported on a thread while the reports run, seaborn without scipy."""
    import textwrap

    script = textwrap.dedent(
        """
        import sys
        from cartreport.render import batch_index
        thread = batch_index.warm_up()
        thread.join(120)
        print(thread.daemon, sorted(m for m in ("cartreport.report.figures", "matplotlib.pyplot", "scipy.stats",
                                                "scipy.cluster") if m in sys.modules))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True ['cartreport.report.figures', 'matplotlib.pyplot']"


@pytest.mark.parametrize("which", ["summary.csv", "index.html"])
def test_a_batch_that_cannot_finish_its_summary_keeps_the_earlier_one_whole(
    tiny_grid, tmp_path, monkeypatch, capfd, which
):
    """summary.csv and index.html were written in place: a full disk (or kill -9) while the batch wrote them left
    half a file, the earlier batch's copy lost, and a full disk ended in a traceback. Each is now written beside
    its place and moved there; a full disk is one line, exit 1."""
    import errno

    out = tmp_path / "D"
    assert cli.main(["batch", str(tiny_grid), "--output", str(out)]) == 0
    earlier = (out / which).read_bytes()
    real_write = Path.write_text if which == "index.html" else None

    def half_then_full(target, *args, **kwargs):
        Path(target).write_bytes(b"half a fi")
        raise OSError(errno.ENOSPC, "No space left on device")

    if which == "summary.csv":
        monkeypatch.setattr("cartreport.batch.write_csv", lambda frame, target: half_then_full(target))
    else:

        def write_text(self, *args, **kwargs):
            if self.name.endswith("index.html") or ".index.html" in self.name:
                return half_then_full(self)
            return real_write(self, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", write_text)
    capfd.readouterr()
    assert cli.main(["batch", str(tiny_grid), "--output", str(out)]) == 1
    err = capfd.readouterr().err  # the progress bar's lines, then one error line, no traceback
    message = f"could not write {out / which}: No space left on device; free some space and run again"
    assert "Traceback" not in err and err.count(f"error: {message}") == 1, err
    assert (out / which).read_bytes() == earlier
    assert not [p.name for p in out.iterdir() if ".partial" in p.name]


def test_the_number_of_patients_stays_a_whole_number_beside_a_failed_run(monkeypatch, tmp_path):
    """A failed run has no ``n``: the column became floats and summary.csv and index.html said a run had "16.0"
    patients (found by the red-team pass, a grid with one invalid data file). ``n`` stays a whole number; a
    failed run's is blank."""

    def rows(runs, output, stop):
        yield {
            "name": "ok",
            "status": "ok",
            "error": "",
            "n": 16,
            "os_12m": 0.585,
            "os_12m_ci_low": 0.3,
            "os_12m_ci_high": 0.8,
            "seconds": 1.0,
        }
        yield {"name": "bad", "status": "failed", "error": "bad.csv has 8 problems", "seconds": 0.1}

    monkeypatch.setattr(batch_workers, "in_this_process", rows)
    runs = batch.expand_grid({"runs": [{"name": "ok"}, {"name": "bad"}]})
    batch.run_batch(runs, tmp_path / "b")
    summary = list(csv.DictReader((tmp_path / "b" / "summary.csv").open(encoding="utf-8")))
    assert [row["n"] for row in summary] == ["16", ""]
    index = (tmp_path / "b" / "index.html").read_text(encoding="utf-8")
    assert "<td>16</td>" in index and "16.0" not in index
