"""The command line: exit codes and messages, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from cartreport import cli
from cartreport.synthetic import synthetic_cohort

EXE = Path(sys.executable).with_name("cartreport")


def test_validate_valid_file(capsys, tmp_path):
    path = tmp_path / "ok.csv"
    synthetic_cohort(12, seed=2).to_csv(path, index=False)
    assert cli.main(["validate", str(path)]) == 0
    assert (
        capsys.readouterr().out.strip().endswith("ok.csv: 12 patients, 10 required columns present, valid.")
    )


def test_validate_lists_every_problem_and_exits_1(capsys, tmp_path):
    frame = synthetic_cohort(6, seed=2)
    frame.loc[0, "bm_response"] = "MRD neg CR"
    frame.loc[3, "cart_infusion_date"] = "2021-13-01"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    assert cli.main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert any("row 2" in line and "bm_response" in line and "MRD-negative CR" in line for line in out)
    assert any(line.endswith("[rule allowed-values]") for line in out)
    assert any("row 5" in line and "cart_infusion_date" in line for line in out)
    assert out[-1] == "bad.csv: 2 problems found."


def test_run_with_invalid_data_exits_2_without_traceback_or_output(tmp_path):
    frame = synthetic_cohort(6, seed=2)
    frame.loc[1, "patient_id"] = frame.loc[0, "patient_id"]
    data = tmp_path / "dup.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "report"
    proc = subprocess.run(
        [str(EXE), "run", "--data", str(data), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "dup.csv" in proc.stderr and "patient_id" in proc.stderr
    assert not out.exists()


def test_unknown_parameter_exits_2(capsys, tmp_path):
    assert cli.main(["run", "--output", str(tmp_path / "r"), "-p", "landmark_months", "[6]"]) == 2
    assert "did you mean landmarks_months?" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_params_file_must_be_a_mapping(capsys, tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("- 1\n- 2\n")
    assert cli.main(["run", "--params-file", str(params), "--output", str(tmp_path / "r")]) == 2
    assert "must hold a mapping" in capsys.readouterr().err


def test_missing_file_exits_2(capsys, tmp_path):
    assert cli.main(["validate", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_reconstruct_writes_the_shipped_cohort(tmp_path, capsys):
    from cartreport.reconstruct import COHORT_FILE

    assert cli.main(["reconstruct", "--output", str(tmp_path / "c.csv")]) == 0
    assert (tmp_path / "c.csv").read_bytes() == COHORT_FILE.read_bytes()


@pytest.mark.parametrize("argv", [["--version"], ["run", "--help"]])
def test_help_and_version(argv):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 0


def test_synthesize_writes_a_valid_seeded_cohort(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert cli.main(["synthesize", "--n", "25", "--seed", "3", "--output", str(out)]) == 0
    first = out.read_bytes()
    assert cli.main(["synthesize", "--n", "25", "--seed", "3", "--output", str(out)]) == 0
    assert out.read_bytes() == first
    assert cli.main(["validate", str(out)]) == 0
    assert cli.main(["synthesize", "--n", "0", "--output", str(out)]) == 2


def test_missing_notebooks_are_a_clean_error(tmp_path, monkeypatch, capsys):
    from cartreport import api

    monkeypatch.setattr(api, "NOTEBOOK_DIR", tmp_path / "nowhere")
    monkeypatch.setattr(
        api.run_report,
        "__kwdefaults__",
        {**api.run_report.__kwdefaults__, "notebook_dir": tmp_path / "nowhere"},
    )
    assert cli.main(["run", "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "cartreport is not set up: the report notebooks 00_summary.ipynb" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["option", "params_file", "grid"])
def test_an_impossible_cutoff_date_is_one_line_and_exit_2(where, capsys, tmp_path):
    if where == "option":
        argv = ["run", "--output", str(tmp_path / "r"), "-p", "data_cutoff", "2023-02-30"]
    elif where == "params_file":
        params = tmp_path / "p.yaml"
        params.write_text("data_cutoff: 2023-02-30\n")
        argv = ["run", "--params-file", str(params), "--output", str(tmp_path / "r")]
    else:
        grid = tmp_path / "grid.yaml"
        grid.write_text("runs:\n  - name: a\n    data_cutoff: 2023-02-30\n")
        argv = ["batch", str(grid), "--output", str(tmp_path / "r")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "Traceback" not in err
    assert "data_cutoff" in err and "must be a date written YYYY-MM-DD" in err
    assert not (tmp_path / "r").exists()


def test_subgroup_by_patient_id_is_one_line_and_exit_2(capsys, tmp_path):
    assert cli.main(["run", "--output", str(tmp_path / "r"), "-p", "subgroup_by", "patient_id"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "Traceback" not in err
    assert err.startswith("error: report parameter subgroup_by = 'patient_id': identifies patients")
    assert not (tmp_path / "r").exists()
