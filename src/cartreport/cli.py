"""``cartreport`` command line: parses options, calls :mod:`cartreport.api`, formats the outcome.

Exit codes (declared here, once): 0 success; 1 ``validate`` found problems, a report section failed, the report kernel
could not run or a run of a batch failed; 2 invalid data, file or parameters (nothing was written); 128 + the
signal's number when SIGINT (130) or SIGTERM (143) stopped the command. Every expected failure is a
:class:`~cartreport.errors.CartreportError`, mapped to its exit code by :data:`EXIT_CODES`; it prints a readable
message, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from cartreport import __version__
from cartreport.errors import (
    BatchInterrupted,
    CartreportError,
    KernelError,
    ParameterError,
    PrintFilesError,
    ReportWriteError,
    SectionFailed,
    Terminated,
)
from cartreport.escape import visible

__all__ = ["console", "main"]

EXIT_OK, EXIT_PROBLEMS, EXIT_INVALID = 0, 1, 2
#: a signal stopped the command: the exit code is this + the signal's number (130 after SIGINT or Ctrl-C, 143 after
#: SIGTERM), as a shell reports a command a signal ended; a batch's finished reports, summary and index are kept
EXIT_SIGNAL_BASE = 128
#: the exit code of each expected failure (the first class in this order that the error is an instance of)
EXIT_CODES: tuple[tuple[type[CartreportError], int], ...] = (
    (SectionFailed, EXIT_PROBLEMS),  # the data and parameters were valid; a notebook cell raised
    (PrintFilesError, EXIT_PROBLEMS),  # the data and parameters were valid; a figure could not be written
    (ReportWriteError, EXIT_PROBLEMS),  # the data and parameters were valid; the disk filled up
    (KernelError, EXIT_PROBLEMS),  # the report kernel could not start or died: the environment, not the input
    (CartreportError, EXIT_INVALID),  # invalid data, file, parameters or output folder: nothing ran
)


def exit_code(error: CartreportError) -> int:
    """The exit code for an expected failure.

    >>> exit_code(ParameterError("ci_level", 2, "must be below 1"))
    2
    """
    return next(code for kind, code in EXIT_CODES if isinstance(error, kind))


def _parameters(args: argparse.Namespace) -> dict:
    from cartreport.analysis.params import anchor_data_path, parse_cli_value, read_yaml_file

    for option in ("data", "params_file", "sheet"):  # given, but empty: not the same as left out
        if getattr(args, option, None) == "":
            flag = "--" + option.replace("_", "-")
            hint = "or leave --data out for the shipped study" if option == "data" else "or leave it out"
            what = "sheet" if option == "sheet" else "file"
            raise ParameterError(flag, "", f"is empty (an unset shell variable?); name the {what}, {hint}")
    params: dict = {}
    if getattr(args, "params_file", None):
        path = Path(args.params_file)
        loaded = read_yaml_file(path, "--params-file") or {}
        if not isinstance(loaded, dict):
            raise ParameterError(
                "--params-file", str(path), "must hold a mapping of parameter names to values"
            )
        params.update(anchor_data_path(loaded, path.resolve().parent))  # data: beside the params file
    for name, value in getattr(args, "parameter", None) or []:
        params[name] = parse_cli_value(value)
    if getattr(args, "data", None):
        params["data"] = args.data
    if getattr(args, "sheet", None):
        params["sheet"] = args.sheet
    return params


def _visible_lines(text: str) -> str:
    """``text`` with every invisible character of each line written out (:func:`~cartreport.escape.visible`): what a
    message quotes of the data or of a file name never runs in the user's terminal, whichever error carries it."""
    return "\n".join(visible(line) for line in text.split("\n"))


def _print(text: str, file=None) -> None:
    """Print one message (to stdout, or ``file``), each invisible character written out (:func:`_visible_lines`):
    it may quote a file name, a folder or a value the user typed, and the terminal must never run them."""
    print(_visible_lines(str(text)), file=file if file is not None else sys.stdout, flush=True)


def _say(line: str) -> None:
    _print(line)


def _cmd_run(args: argparse.Namespace) -> int:
    from cartreport import render

    kernel = getattr(args, "kernel", None)  # started by main() before anything else
    owned = kernel is None
    if owned:
        kernel = render.start_kernel()  # boots while the analysis stack is imported and the data validated
    try:
        params = _parameters(args)
        data = params.get("data")
        render.check_output_folder(args.output, inputs=[data] if isinstance(data, str) and data else [])
        from cartreport import api

        api.run_report(params, args.output, progress=_say, kernel=kernel)
    except SectionFailed as exc:  # its error may quote the data
        _print(f"error: section {exc.section} failed: {exc.error}", file=sys.stderr)
        _print(
            f"the executed notebook is kept for debugging in {visible(str(exc.notebook_path))}",
            file=sys.stderr,
        )
        _print(f"nothing was written to {args.output}", file=sys.stderr)
        return exit_code(exc)
    finally:
        if owned:
            kernel.shutdown()
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from cartreport import api
    from cartreport.contract.validate import summary_line

    report = api.validate(args.path, args.sheet, args.data_cutoff)
    for note in report.notes:
        _print(f"note: {note}")
    if report.problems:
        for problem in report.problems:
            _print(f"{problem.format()} [rule {problem.rule}]")
        n = sum(p.count for p in report.problems)
        _print(f"{Path(args.path).name}: {n:,} problem{'s' if n != 1 else ''} found.")
        return EXIT_PROBLEMS
    _print(summary_line(report))
    return EXIT_OK


def _cmd_reconstruct(args: argparse.Namespace) -> int:
    from cartreport import api

    api.check_seed(args.seed, "--seed")
    path = api.reconstruct(args.output, args.seed, force=args.force)
    _print(f"wrote {path} (seed {args.seed}); it reproduces every published figure")
    return EXIT_OK


def _synthesized(n: int, seed: int, transplant_outcomes: bool):
    """The table ``synthesize`` writes: every row says it is synthetic (``data_origin``), so that a report on it
    says it is not patient records, wherever the file goes."""
    from cartreport.cohorts.synthetic import synthetic_cohort

    table = synthetic_cohort(n, seed=seed)
    if transplant_outcomes:
        from cartreport.cohorts.synthetic_transplant import add_transplant_outcomes

        table = add_transplant_outcomes(table, seed=seed)
    table["data_origin"] = "synthetic"
    return table


def _most_synthetic(transplant_outcomes: bool) -> int:
    """The largest ``synthesize --n`` whose file cartreport can read: :data:`~cartreport.read.table.MAX_CELLS` over
    the file's columns (2,941,176 patients of 17 columns; 1,923,076 with the transplant outcomes' 26)."""
    from cartreport.read.table import MAX_CELLS

    return MAX_CELLS // len(_synthesized(1, 0, transplant_outcomes).columns)


def _cmd_synthesize(args: argparse.Namespace) -> int:
    from cartreport import api

    api.check_seed(args.seed, "--seed")
    if args.n < 1:
        raise ParameterError("--n", args.n, "must be at least 1")
    from cartreport.read.table import MAX_CELLS

    most = _most_synthetic(args.transplant_outcomes)
    if args.n > most:  # its file could not be read (3,000,000 patients took 4.6 GB to write)
        raise ParameterError(
            "--n", args.n, f"must be at most {most:,} (cartreport reads tables of up to {MAX_CELLS:,} cells)"
        )
    output = api.check_csv_output(args.output, force=args.force)  # not the user's own table, not /dev/null
    api.write_csv_file(_synthesized(args.n, args.seed, args.transplant_outcomes), output)
    _print(f"wrote {output}: {args.n:,} synthetic patients (seed {args.seed}); not a model of any real study")
    return EXIT_OK


def _cmd_batch(args: argparse.Namespace) -> int:
    """A progress bar and a line per failed run; 1 if a run failed, :data:`EXIT_SIGNAL_BASE` + the signal's number
    after SIGINT/SIGTERM."""
    from tqdm import tqdm

    from cartreport import batch

    runs = batch.load_grid(args.grid)
    where = Path(args.output) / "summary.csv"
    at_once = batch.worker_count(args.jobs, len(runs), args.scheduler)
    if at_once < min(args.jobs, len(runs)):  # held to the cores (run_batch holds it there too)
        cores = os.cpu_count() or 1
        _print(
            f"note: --jobs {args.jobs}: this machine has {cores} core{'s' if cores != 1 else ''}; running "
            f"{at_once} report{'s' if at_once != 1 else ''} at a time",
            file=sys.stderr,
        )
    bars: list[tqdm] = []  # shown once the batch's folders are checked: a refusal is one line, no bar

    def started() -> None:
        bars.append(tqdm(total=len(runs), unit="report", desc="cartreport batch"))

    def progress(row: dict) -> None:
        bar = bars[0]
        bar.update(1)
        if row["status"] == "failed":
            lines = str(row["error"]).splitlines() or [""]
            more = f" (the full list is in {where})" if len(lines) > 1 else ""
            bar.write(f"{row['name']}: failed: {lines[0].rstrip(':')}{more}")

    try:
        summary = batch.run_batch(
            runs,
            args.output,
            jobs=args.jobs,
            executor=args.executor,
            scheduler=args.scheduler,
            progress=progress,
            started=started,
        )
        interrupted_by = None
    except BatchInterrupted as stop:
        summary, interrupted_by = stop.summary, stop.signum
    bars[0].close()
    counts = summary["status"].value_counts()
    others = ", ".join(f"{counts[s]} {s}" for s in ("failed", "interrupted") if s in counts)
    _print(
        f"{counts.get('ok', 0)} of {len(summary)} runs ok{f' ({others})' if others else ''}; summary in {where}"
    )
    if interrupted_by is not None:
        name = signal.Signals(interrupted_by).name
        _print(
            f"interrupted by {name}: no new report was started, the running ones were stopped",
            file=sys.stderr,
        )
        return EXIT_SIGNAL_BASE + interrupted_by
    return EXIT_PROBLEMS if counts.get("ok", 0) < len(summary) else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from cartreport.analysis.params import PARAMETERS
    from cartreport.shipped import COHORT_FILE, DEFAULT_SEED

    parser = argparse.ArgumentParser(
        prog="cartreport", description="Narrative clinical reports for cell-therapy cohorts."
    )
    parser.add_argument("--version", action="version", version=f"cartreport {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    names = ", ".join(p.name for p in PARAMETERS)
    run = sub.add_parser("run", help="write a report folder", description=f"Parameters: {names}.")
    run.add_argument("--data", help="patient table (CSV, XLSX, Parquet, XPT); default: the shipped study")
    run.add_argument("--sheet", help="Excel sheet (default: the first)")
    run.add_argument("--output", default="reports/default", help="output folder (default: %(default)s)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
    run.add_argument("--params-file", help="YAML file of parameters")
    run.set_defaults(func=_cmd_run)

    val = sub.add_parser("validate", help="list every problem of a patient file")
    val.add_argument("path", nargs="?", help="patient table (CSV, XLSX, Parquet, XPT)")
    val.add_argument("--data", help="the same, named as for run")
    val.add_argument("--sheet", help="Excel sheet (default: the first)")
    val.add_argument("--data-cutoff", help="YYYY-MM-DD: report dates after it")
    val.set_defaults(func=_cmd_validate)

    rec = sub.add_parser("reconstruct", help="regenerate the shipped reconstructed cohort")
    rec.add_argument("--seed", type=int, default=DEFAULT_SEED)
    rec.add_argument(
        "--output", required=True, help=f"CSV file to write (the shipped one: {COHORT_FILE.name})"
    )
    rec.add_argument("--force", action="store_true", help="replace the file if it exists")
    rec.set_defaults(func=_cmd_reconstruct)

    syn = sub.add_parser("synthesize", help="write a seeded synthetic cohort of any size (tests, benchmarks)")
    syn.add_argument("--n", type=int, required=True, help="number of patients")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--output", required=True, help="CSV file to write")
    syn.add_argument("--force", action="store_true", help="replace the file if it exists")
    syn.add_argument(
        "--transplant-outcomes",
        action="store_true",
        help="add CRS/ICANS grades, engraftment and GVHD columns (the safety and transplant section)",
    )
    syn.set_defaults(func=_cmd_synthesize)

    bat = sub.add_parser("batch", help="run a grid of reports")
    bat.add_argument("grid", help="YAML grid: defaults, runs, matrix")
    bat.add_argument("--jobs", type=int, default=1)
    bat.add_argument("--output", default="reports/batch")
    bat.add_argument("--executor", choices=("local", "dask"), default="local")
    bat.add_argument("--scheduler", help="dask.distributed scheduler address (default: a LocalCluster)")
    bat.set_defaults(func=_cmd_batch)
    return parser


def _command(argv: Sequence[str]) -> str:
    """The sub-command ``argv`` names (``cartreport -v run ...`` → ``"run"``), before parsing; ``""`` if none."""
    return next((arg for arg in argv if not arg.startswith("-")), "")


def _unrecognized(args: argparse.Namespace, extra: list[str], parser: argparse.ArgumentParser) -> None:
    """A usage error (exit 2) for arguments no option takes; ``run my.csv`` is told to write ``--data my.csv``."""
    if args.command == "run" and args.data is None and len(extra) == 1 and not extra[0].startswith("-"):
        shown = _visible_lines(extra[0])  # typed by the user: never run by the terminal
        parser.error(f"unrecognized argument {shown}: did you mean --data {shown}?")
    parser.error(f"unrecognized arguments: {_visible_lines(' '.join(extra))}")


def _one_validate_path(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """``validate FILE`` or ``validate --data FILE`` (as ``run`` names it): ``args.path`` is the file; none, or two
    different ones, is a usage error (exit 2)."""
    given = {p for p in (args.path, args.data) if p is not None}
    if len(given) > 1:
        # typed by the user: never run by the terminal
        shown = _visible_lines(f"{args.path} and --data {args.data}")
        parser.error(f"two patient files given ({shown}): validate checks one")
    if not given:
        parser.error("give the patient file: cartreport validate FILE (or --data FILE)")
    args.path = given.pop()


def _starts_report_kernel(argv: Sequence[str]) -> bool:
    """``argv`` runs a report (``cartreport run``, not asking for help or the version): its kernel can start now."""
    return _command(argv) == "run" and not any(arg in ("-h", "--help", "--version") for arg in argv)


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` (default: the command line); return its exit code.

    ``cartreport run`` starts its kernel first of all, before the parser (and the analysis stack it imports) is
    built: the kernel boots while this process imports pandas, reads and validates the data. Refused parameters or
    an output folder it may not replace stop it again: nothing is left behind.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command(argv)
    kernel = None
    restore = None
    # SIGTERM as Ctrl-C, raised where it can stop the command (a batch stops its own runs: batch.py)
    if command != "batch" and threading.current_thread() is threading.main_thread():
        from cartreport import interrupts

        restore = interrupts.install()
    try:
        if _starts_report_kernel(argv):
            from cartreport.render.kernel import start_kernel

            kernel = start_kernel()
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        if extra:
            _unrecognized(args, extra, parser)
        if args.command == "validate":
            _one_validate_path(args, parser)
        # -v adds cartreport's own details; libraries stay at warnings (fontTools logs ~30 lines per PDF at INFO)
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        if args.verbose:
            logging.getLogger("cartreport").setLevel(logging.DEBUG)
        args.kernel = kernel
        return args.func(args)
    except CartreportError as exc:
        _print(f"error: {exc}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt as stop:
        # a report is written atomically (nothing or all of it: a note says it was written, when the signal came as
        # it was moved into place); a batch's finished reports stay where they are
        done = "nothing was written" if command != "batch" else "reports that had finished are kept"
        done = "; ".join(getattr(stop, "__notes__", None) or [done])
        _print(f"interrupted; {done}", file=sys.stderr)
        return EXIT_SIGNAL_BASE + (signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        if kernel is not None:
            kernel.shutdown()
        if restore is not None:
            restore()


def console() -> None:
    """The ``cartreport`` command: :func:`main`, then the end of the process without the interpreter's teardown.

    When :func:`main` returns, its work is done: a report was moved into place whole, every file it wrote is
    closed. Tearing down the modules a report imports (pandas, pyarrow, matplotlib, nbconvert, zmq, ...) then took
    0.6-0.7 s of a 6 s report, for nothing. So the command does what the teardown does that matters (joins the
    threads still running, runs the ``atexit`` handlers, flushes the output) and ends with ``os._exit``.
    ``SystemExit`` (``--help``, ``--version``, a usage error) ends the ordinary way.
    """
    code = main()
    for thread in threading.enumerate():  # as the interpreter would: wait for non-daemon threads
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # the interpreter's own call at exit (logging.shutdown, temporary folders, ...)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away (e.g. `| head`): nothing more to say
        pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    console()
