"""cartreport batch: grid expansion, local processes and a dask LocalCluster, summary and index."""

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cartreport import batch, cli
from cartreport.errors import ParameterError
from cartreport.synthetic import synthetic_cohort


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
    kernel = batch._worker_kernel()
    assert kernel.is_alive() and batch._worker_kernel() is kernel, "reused, not restarted"
    batch._drop_worker_kernel()
    assert not kernel.is_alive()
    assert batch._KERNEL is None


def test_summary_csv_holds_no_live_formula(tmp_path, monkeypatch):
    """A file named ``=HYPERLINK(...).csv`` puts its name into the error column; a spreadsheet must not run it."""
    error = '=HYPERLINK("http://x","y").csv has 1 problem; nothing was computed.'
    monkeypatch.setattr(
        batch,
        "run_one",
        lambda run, output: {"name": run.name, "status": "failed", "error": error, "n": -1, "seconds": 0.1},
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
