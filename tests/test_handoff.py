"""The hand-off of the analysis from ``cartreport run`` to its kernel: one handle, refused on any mismatch."""

import pytest

from cartreport import api
from cartreport.analysis.params import resolve_parameters
from cartreport.errors import HandoffError
from cartreport.render import handoff
from cartreport.render.kernel import SHARED_DIR_ENV


@pytest.fixture
def kernel_folder(tmp_path, monkeypatch):
    """The kernel's private folder, as the report kernel sees it (its environment names it)."""
    monkeypatch.setenv(SHARED_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(handoff, "_RECEIVED", {})
    return tmp_path


def _namespace(**overrides) -> dict:
    """A notebook's globals after its parameters cell (and papermill's injection)."""
    return {**resolve_parameters(overrides), "analysis_handle": "", "api": api}


def test_without_a_handle_the_notebook_computes_from_its_parameters_cell():
    analysis = api.analysis_for(_namespace(ci_method="log", landmarks_months=[12]))
    assert analysis.results["parameters"]["ci_method"] == "log"
    assert analysis.results["parameters"]["landmarks_months"] == [12]
    assert analysis.results == api.load_analysis(ci_method="log", landmarks_months=[12]).results


def test_with_a_handle_the_analysis_handed_over_is_used_and_nothing_recomputed(kernel_folder, monkeypatch):
    params = resolve_parameters({"ci_method": "plain"})
    shared = api.load_analysis(params)
    handle = handoff.share(shared, params, kernel_folder)

    def no_recomputation(*args):
        raise AssertionError("the kernel analysed the data again")

    monkeypatch.setattr(api, "_analysis_cached", no_recomputation)
    received = api.analysis_for({**params, "analysis_handle": handle})
    assert received.results == shared.results
    assert received is api.analysis_for({**params, "analysis_handle": handle}), "read once per kernel"


def test_a_parameter_that_differs_from_the_analysis_is_refused(kernel_folder):
    params = resolve_parameters({"ci_method": "log"})
    handle = handoff.share(api.load_analysis(params), params, kernel_folder)
    with pytest.raises(HandoffError, match="ci_method = 'log-log' here, 'log' in the analysis"):
        api.analysis_for({**params, "ci_method": "log-log", "analysis_handle": handle})
    forgotten = {k: v for k, v in params.items() if k != "subgroup_by"}
    with pytest.raises(HandoffError, match="subgroup_by = None here, '' in the analysis"):
        api.analysis_for({**forgotten, "analysis_handle": handle})


def test_a_new_report_replaces_the_earlier_hand_off(kernel_folder):
    params = resolve_parameters({})
    first = handoff.share(api.load_analysis(params), params, kernel_folder)
    second = handoff.share(api.load_analysis(params), params, kernel_folder)
    assert first != second
    assert sorted(p.name for p in kernel_folder.iterdir()) == [f"{second}.pkl"]
    with pytest.raises(HandoffError, match="no analysis of that name"):
        api.analysis_for({**params, "analysis_handle": first})


def test_a_handle_outside_a_report_kernel_is_refused(monkeypatch):
    monkeypatch.delenv(SHARED_DIR_ENV, raising=False)
    monkeypatch.setattr(handoff, "_RECEIVED", {})
    with pytest.raises(HandoffError, match="not started by cartreport"):
        api.analysis_for({**resolve_parameters({}), "analysis_handle": "0" * 32})


def test_the_kernel_receives_what_the_notebooks_read_and_no_more(kernel_folder):
    """The results, every fitted curve and the swimmer plot's timeline as computed in cartreport run; not the
    per-patient rows no section reads (a large cohort's hand-off stays small)."""
    import pandas as pd

    from cartreport.analysis.endpoints import TIMELINE_COLUMNS

    params = resolve_parameters({"subgroup_by": "diagnosis"})
    shared = api.load_analysis(params)
    received = api.analysis_for({**params, "analysis_handle": handoff.share(shared, params, kernel_folder)})
    assert received.results == shared.results
    for name in ("survival", "incidence", "by_group"):
        assert repr(getattr(received, name)) == repr(getattr(shared, name))
    assert received.endpoints.data_cutoff == shared.endpoints.data_cutoff
    pd.testing.assert_frame_equal(received.patient_timeline(), shared.patient_timeline())
    assert list(received.table.columns) == [c for c in shared.table.columns if c in TIMELINE_COLUMNS]
    assert received.endpoints.patients.empty and list(received.endpoints.patients) == list(
        shared.endpoints.patients
    )
    assert shared.table.shape[1] > received.table.shape[1] and not shared.endpoints.patients.empty


def test_the_kernel_reads_a_hand_off_as_soon_as_it_is_written(kernel_folder, monkeypatch):
    """The report kernel waits, idle, while ``cartreport run`` analyses the data; it then unpickled the hand-off in
    the first notebook (0.26 s for a million patients). A thread of the kernel now reads each new hand-off as soon
    as its file appears, and the notebook gets it from there."""
    import time

    monkeypatch.setattr(handoff, "_PREFETCHED", {})
    watcher = handoff.prefetch()
    assert watcher is not None and watcher.daemon
    params = resolve_parameters({"ci_method": "log"})
    shared = api.load_analysis(params)
    handle = handoff.share(shared, params, kernel_folder)
    deadline = time.monotonic() + 30
    while handle not in handoff._PREFETCHED:
        assert time.monotonic() < deadline, "the kernel did not read the hand-off"
        time.sleep(0.01)
    (kernel_folder / f"{handle}.pkl").unlink()  # read already: the notebook does not need the file
    received = api.analysis_for({**params, "analysis_handle": handle})
    assert received.results == shared.results
    with pytest.raises(HandoffError, match="differ"):
        api.analysis_for({**params, "ci_method": "plain", "analysis_handle": handle})


def test_no_watcher_outside_a_report_kernel(monkeypatch):
    monkeypatch.delenv(SHARED_DIR_ENV, raising=False)
    assert handoff.prefetch() is None


def test_a_large_table_is_handed_over_column_by_column_as_it_was(monkeypatch):
    """A large table's patient_ids go as one pyarrow array (handoff._Pickler): the kernel gets the same table,
    dtypes, index, column names and attrs; ids that are not all text go as pickle writes them."""
    import io
    import pickle

    import numpy as np
    import pandas as pd

    monkeypatch.setattr(handoff, "PACKED_ROWS", 4)
    table = pd.DataFrame(
        {
            "patient_id": ["P1", " é\u3000", None, "P4", ""],
            "diagnosis": pd.Categorical(["T-ALL", "T-LBL", "T-ALL", None, "T-ALL"]),
            "cart_infusion_date": pd.to_datetime(["2021-03-04", None, "2020-01-01", "2022-02-02", None]),
            "emd_at_baseline": [True, False, True, False, False],
            "age_years": [1.5, np.nan, 30.0, 44.0, 7.0],
            "sex": np.array(["male", None, "female", "male", "male"], dtype=object),
        },
        index=pd.Index([10, 3, 7, 7, 2], name="row"),
    )
    table.columns.name = "column"
    table.attrs = {"note": "kept"}

    def handed_over(frame: pd.DataFrame, packed: bool) -> pd.DataFrame:
        stream = io.BytesIO()
        handoff._Pickler(stream, protocol=pickle.HIGHEST_PROTOCOL).dump(("parameters", frame))
        assert (b"_table_with_ids" in stream.getvalue()) == packed
        return pickle.loads(stream.getvalue())[1]  # noqa: S301 - written just above

    received = handed_over(table, packed=True)
    pd.testing.assert_frame_equal(received, table)
    assert received.attrs == table.attrs and received["patient_id"].tolist()[2] is None
    numbers = table.assign(patient_id=[1, 2, 3, 4, 5])
    pd.testing.assert_frame_equal(handed_over(numbers, packed=False), numbers)
    pd.testing.assert_frame_equal(handed_over(table.iloc[:3], packed=False), table.iloc[:3])  # small


def test_once_a_hand_off_is_read_the_watcher_looks_four_times_a_second(kernel_folder, monkeypatch):
    """The watcher looked for a new hand-off every 10 ms for the kernel's whole life, also while the notebooks ran
    (a warm kernel of a batch: 0.25 s of a 6-report batch, in CPU and in the interpreter lock it took from the
    notebooks). A kernel serves one report at a time: after a hand-off, the next comes only once that report is
    over, so the watcher then looks every 0.25 s; a later hand-off is still read."""
    import threading
    import time

    slept: list[tuple[bool, float]] = []  # (a hand-off read by then, seconds)
    real_sleep = time.sleep

    watchers: list[threading.Thread] = []

    def sleep(seconds: float) -> None:
        if watchers and threading.get_ident() == watchers[0].ident:  # not a watcher another test started
            slept.append((bool(handoff._PREFETCHED), seconds))
        real_sleep(seconds)

    monkeypatch.setattr(handoff, "_PREFETCHED", {})
    monkeypatch.setattr(handoff.time, "sleep", sleep)
    watchers.append(handoff.prefetch())
    real_sleep(0.1)
    params = resolve_parameters({})
    shared = api.load_analysis(params)
    handles = [handoff.share(shared, params, kernel_folder)]
    deadline = time.monotonic() + 30
    while handles[0] not in handoff._PREFETCHED:
        assert time.monotonic() < deadline, "the kernel did not read the hand-off"
        real_sleep(0.01)
    real_sleep(0.6)
    handles.append(handoff.share(shared, params, kernel_folder))
    while handles[1] not in handoff._PREFETCHED:
        assert time.monotonic() < deadline, "the kernel did not read the second hand-off"
        real_sleep(0.01)
    before = {seconds for read, seconds in slept if not read}
    after = [seconds for read, seconds in slept if read]
    assert before == {0.01} and after and set(after) == {0.25}
    assert len(after) <= 6, "at most four looks a second once a hand-off is read"


def test_a_kernel_whose_report_process_is_killed_deletes_its_private_folder(tmp_path):
    """A report process killed outright (kill -9, out of memory, a lost dask worker) cannot delete its kernel's
    private folder, which holds the analysis handed over (the patient table): it stayed in the temporary folder.
    The kernel's hand-off watcher sees its parent gone, deletes the folder and ends the kernel."""
    import os
    import subprocess
    import sys
    import textwrap
    import time

    runtime = tmp_path / "cr-k-test"
    (runtime / "shared").mkdir(parents=True)
    (runtime / "kernel.json").write_text("{}")
    kernel = textwrap.dedent(
        """
        import time
        from cartreport.render import handoff
        handoff.prefetch()
        time.sleep(60)
        """
    )
    parent = textwrap.dedent(
        f"""
        import os, subprocess, sys
        child = subprocess.Popen(  # as jupyter_client launches a kernel: its parent's pid in JPY_PARENT_PID
            [sys.executable, "-c", {kernel!r}],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={{**os.environ, "JPY_PARENT_PID": str(os.getpid())}},
        )
        print(child.pid, flush=True)
        os._exit(0)  # gone without cleaning anything up
        """
    )
    env = {**os.environ, SHARED_DIR_ENV: str(runtime / "shared")}
    done = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, env=env, timeout=60)
    child = int(done.stdout.strip())
    deadline = time.monotonic() + 20
    try:
        while runtime.exists() or _alive(child):
            assert time.monotonic() < deadline, "the kernel's private folder outlived its report process"
            time.sleep(0.05)
    finally:
        if _alive(child):
            os.kill(child, 9)


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_kernel_started_through_a_wrapper_keeps_its_folder_while_the_report_process_lives(tmp_path):
    """A kernel spec may start the kernel through a wrapper (a shell script, ``conda run``): the kernel's parent is
    then the wrapper, not the report process that JPY_PARENT_PID names. The folder is kept while that process lives,
    and deleted once it is gone."""
    import contextlib
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    runtime = tmp_path / "cr-k-wrapped"
    (runtime / "shared").mkdir(parents=True)
    kernel = "import time\nfrom cartreport.render import handoff\nhandoff.prefetch()\ntime.sleep(60)\n"
    wrapper = textwrap.dedent(
        f"""
        import subprocess, sys
        subprocess.run([sys.executable, "-c", {kernel!r}])
        """
    )
    report = (
        subprocess.Popen(  # stands for the report process: it launches the wrapper, as jupyter_client would
            [
                sys.executable,
                "-c",
                "import os, subprocess, sys, time\n"
                f"subprocess.Popen([sys.executable, '-c', {wrapper!r}], "
                "env={**os.environ, 'JPY_PARENT_PID': str(os.getpid())})\n"
                "time.sleep(60)\n",
            ],
            env={**os.environ, SHARED_DIR_ENV: str(runtime / "shared")},
        )
    )
    import psutil

    descendants: list[psutil.Process] = []
    try:
        time.sleep(3)  # the kernel has started its watcher, which has looked many times
        descendants = psutil.Process(report.pid).children(recursive=True)
        assert runtime.exists(), "the folder was deleted while the report process lives"
        report.send_signal(signal.SIGKILL)
        report.wait()
        deadline = time.monotonic() + 20
        while runtime.exists():
            assert time.monotonic() < deadline, "the folder outlived the report process"
            time.sleep(0.05)
    finally:
        if report.poll() is None:
            report.kill()
        for process in descendants:  # the wrapper and the kernel, if either is left
            with contextlib.suppress(psutil.Error):
                process.kill()


def test_the_ipykernel_internals_the_kill_9_cleanup_relies_on_are_still_there():
    """After ``kill -9`` of a report, its kernel deletes its private folder (the pickled patient table) before it
    ends: cartreport's watcher does it, and ipykernel's own parent poller, which would end the kernel first, is
    switched off by setting ``IPKernelApp.instance().poller = None`` in the kernel's ``exec_lines``. That relies on
    ipykernel internals: ``exec_lines`` run (``init_code``) after ``init_poller`` made the poller, and ``start``
    starts it only if it is not None. Should a new ipykernel change that, this test fails, rather than the race
    coming back silently (the folder was left in 7 of 14 trials)."""
    import inspect

    from ipykernel.kernelapp import IPKernelApp

    initialize = inspect.getsource(IPKernelApp.initialize)
    assert initialize.index("self.init_poller()") < initialize.index("self.init_code()")
    assert "if self.poller is not None:" in inspect.getsource(IPKernelApp.start)
    assert "poller" in IPKernelApp.class_traits()


def test_a_kernel_whose_report_process_died_while_it_booted_deletes_its_private_folder(tmp_path):
    """A report process killed while its kernel still booted (before the hand-off watcher started) and not yet
    reaped by its own parent (a zombie: ``subprocess.run(..., capture_output=True)`` reaps it only once the kernel,
    which holds the same pipes, has ended) was taken for a live report process (``os.kill(pid, 0)`` succeeds on a
    zombie): the folder stayed, and the kernel with it until ipykernel's own poller ended it without deleting it."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    import time

    runtime = tmp_path / "cr-k-test"
    (runtime / "shared").mkdir(parents=True)
    (runtime / "shared" / "handle.pkl").write_bytes(b"the patient table")
    kernel = textwrap.dedent(
        """
        import time
        time.sleep(1.5)  # booting: the report process is killed meanwhile
        from cartreport.render import handoff
        handoff.prefetch()
        time.sleep(60)
        """
    )
    parent = textwrap.dedent(
        f"""
        import os, signal, subprocess, sys
        child = subprocess.Popen(
            [sys.executable, "-c", {kernel!r}],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={{**os.environ, "JPY_PARENT_PID": str(os.getpid())}},
        )
        print(child.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, SHARED_DIR_ENV: str(runtime / "shared")}
    report = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True, env=env)
    child = int(report.stdout.readline())
    deadline = time.monotonic() + 20
    try:
        while runtime.exists() or _alive(
            child
        ):  # the report process stays a zombie: not reaped until the end
            assert time.monotonic() < deadline, "the kernel's private folder outlived its report process"
            time.sleep(0.05)
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
        report.wait()


def test_only_the_hand_off_watcher_ends_a_report_kernel_whose_report_process_is_gone(
    tmp_path, monkeypatch, printed_by
):
    """ipykernel watches its parent too (every second) and ends the kernel with ``os._exit`` when it is gone, without
    deleting the kernel's private folder: whichever of the two saw a killed report process first decided whether the
    hand-off (the patient table) stayed in the temporary folder (about one kill -9 in four during the notebooks). In a
    report kernel the hand-off watcher, which deletes the folder first, is the only one."""
    from cartreport.render.kernel import start_kernel

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    kernel = start_kernel(preload=("json",))
    try:
        kernel.connect(timeout=60)
        code = "import threading\nprint(sorted((type(t).__name__, t.name) for t in threading.enumerate()))"
        threads = printed_by(kernel, code)
    finally:
        kernel.shutdown()
    assert "cartreport-hand-off" in threads and "ParentPoller" not in threads, threads
