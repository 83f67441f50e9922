"""Validation of a pasted constant patient_id column (issue #9): time and size of what ``validate`` reports.

The shipped study repeated to ``--rows`` rows (default 20,000), every ``patient_id`` the same. Before the fix each
row's message named every other row (1,000 rows gave 5 MB of messages); now one line names the first rows and
counts the rest. Prints the median in-process time of :func:`cartreport.api.validate` (after one warm-up call
that pays for imports and the pandera schema) and the size of the CLI's output. No test asserts a time.

Usage: ``python benchmarks/validate_duplicates.py [--rows N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from cartreport import api
from cartreport.cohorts.reconstruct import COHORT_FILE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        shipped = pd.read_csv(COHORT_FILE, dtype=str, keep_default_na=False)
        table = pd.concat([shipped] * (args.rows // len(shipped) + 1), ignore_index=True).head(args.rows)
        table["patient_id"] = shipped["patient_id"].iloc[0]
        path = Path(folder) / "constant_ids.csv"
        table.to_csv(path, index=False)
        api.validate(COHORT_FILE)  # warm-up: imports, schema
        seconds = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            report = api.validate(path)
            seconds.append(time.perf_counter() - started)
        cli = Path(sys.executable).with_name("cartreport")
        out = subprocess.run([str(cli), "validate", str(path)], capture_output=True, check=False).stdout
    print(f"rows: {args.rows:,}; problems listed: {len(report.problems)}")
    print(f"api.validate: median {statistics.median(seconds):.3f} s over {args.repeats} runs")
    lines = len(out.splitlines())
    print(f"cartreport validate output: {len(out):,} bytes, {lines} lines")


if __name__ == "__main__":
    main()
