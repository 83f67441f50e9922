"""Every failure is a named CartreportError whose str() a clinician can read."""

import ast
import inspect
from pathlib import Path

import pytest

import cartreport
from cartreport import errors
from cartreport.cli import exit_code
from cartreport.contract.validate import Problem
from cartreport.errors import CartreportError, CohortError, DataFileError, ParameterError, SectionFailed


@pytest.mark.parametrize("cls", [CohortError, DataFileError, ParameterError])
def test_every_error_is_a_cartreport_error(cls):
    assert issubclass(cls, CartreportError)
    assert issubclass(cls, Exception)


def test_every_exception_class_of_the_package_lives_in_errors():
    """One module holds every failure: no other module of cartreport defines an exception class."""
    package = Path(cartreport.__file__).parent
    elsewhere = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Name) and base.id.endswith(("Error", "Exception", "Failed"))
                for base in node.bases
            ):
                elsewhere.append(f"{path.relative_to(package)}:{node.name}")
    assert elsewhere == []


def test_every_error_of_the_errors_module_derives_from_the_one_base():
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__]
    assert {c.__name__ for c in classes} >= {
        "SectionFailed",
        "ReconstructionError",
        "HandoffError",
        "SetupError",
    }
    signals = {
        errors.BatchInterrupted,
        errors.Terminated,
    }  # a stop asked for, not a failure: a KeyboardInterrupt
    assert all(issubclass(c, CartreportError) for c in classes if c not in signals)
    assert all(issubclass(c, KeyboardInterrupt) and not issubclass(c, CartreportError) for c in signals)
    assert sorted(errors.__all__) == sorted(c.__name__ for c in classes)


def test_the_cli_maps_each_failure_to_its_exit_code():
    assert exit_code(SectionFailed("02_responses", "ValueError: boom", Path("x.ipynb"))) == 1
    assert exit_code(ParameterError("ci_level", 2, "must be below 1")) == 2
    assert exit_code(errors.ReconstructionError("no order of 16 patients")) == 2
    assert exit_code(errors.KernelError("python3", "died before it was ready", "check it")) == 1
    assert exit_code(errors.ReportWriteError("r", "No space left on device", "free some space")) == 1


def test_data_file_error_carries_the_path_and_reads_as_one_sentence():
    error = DataFileError(
        "some/folder/cohort.xls", "Excel 97-2003 files are not supported", "save it as .xlsx"
    )
    assert error.path == Path("some/folder/cohort.xls")
    assert error.reason == "Excel 97-2003 files are not supported"
    assert str(error) == (
        "cannot read some/folder/cohort.xls: Excel 97-2003 files are not supported; save it as .xlsx"
    )


def test_data_file_error_without_hint():
    assert (
        str(DataFileError("a.csv", "the file is empty (0 bytes)"))
        == "cannot read a.csv: the file is empty (0 bytes)"
    )


def test_cohort_error_lists_every_problem_one_per_line():
    problems = [
        Problem(
            5,
            "P05",
            "bm_response",
            "MRD neg CR",
            "allowed-values",
            "value is bad",
            'did you mean "NR"?',
            "d.csv",
        ),
        Problem(None, None, "mrn", None, "direct-identifier", "looks like an identifier", None, "d.csv"),
    ]
    error = CohortError(Path("/tmp/x/d.csv"), problems)
    assert error.path == Path("/tmp/x/d.csv")
    assert error.problems == problems
    assert str(error).splitlines() == [
        "d.csv has 2 problems; nothing was computed. Please correct the file and run again:",
        '  d.csv row 5 (patient P05), column bm_response: value is bad; did you mean "NR"?',
        "  d.csv, column mrn: looks like an identifier",
    ]


def test_cohort_error_with_one_problem_says_problem():
    error = CohortError(
        "d.csv", [Problem(2, None, "patient_id", None, "blank-id", "the patient_id is blank")]
    )
    assert str(error).splitlines()[0].startswith("d.csv has 1 problem;")
    assert str(error).splitlines()[1] == "  row 2, column patient_id: the patient_id is blank"


def test_parameter_error_names_parameter_and_value():
    error = ParameterError("ci_level", 1.5, "must be between 0 and 1, e.g. 0.95")
    assert (error.name, error.value, error.message) == ("ci_level", 1.5, "must be between 0 and 1, e.g. 0.95")
    assert str(error) == "report parameter ci_level = 1.5: must be between 0 and 1, e.g. 0.95"


def test_errors_can_be_caught_as_the_base_class():
    with pytest.raises(CartreportError, match="cannot read"):
        raise DataFileError("x.csv", "boom")


def test_ipython_shows_the_message_lines_instead_of_a_stack():
    """IPython calls ``_render_traceback_`` when present and shows its lines as the error."""
    error = ParameterError("ci_level", 1.5, "must be between 0 and 1, e.g. 0.95")
    assert error._render_traceback_() == [
        "ParameterError: report parameter ci_level = 1.5: must be between 0 and 1, e.g. 0.95"
    ]
    problems = [Problem(2, None, "patient_id", None, "blank-id", "the patient_id is blank")]
    lines = CohortError(Path("d.csv"), problems)._render_traceback_()
    assert lines[0].startswith("CohortError: d.csv has 1 problem") and len(lines) == 2
