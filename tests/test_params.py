"""Report parameters: defaults, conversions and refusals (before anything runs)."""

import pytest

from cartreport.analysis.params import PARAMETERS, default_parameters, parse_cli_value, resolve_parameters
from cartreport.errors import ParameterError


@pytest.mark.parametrize(
    ("typed", "months"), [("6,12", [6, 12]), (" 24, 6 ,12.5", [6, 12.5, 24]), ("12", [12])]
)
def test_landmarks_typed_as_a_comma_separated_list(typed, months):
    """``-p landmarks_months 6,12`` was refused ("must be a non-empty list of months, e.g. [6, 12, 24]"), the shell
    needing quotes around the brackets: numbers separated by commas are the list they spell."""
    assert resolve_parameters({"landmarks_months": typed})["landmarks_months"] == months


def test_defaults_run_the_shipped_study():
    p = resolve_parameters()
    assert p["data"] == "" and p["time_origin"] == "second_hsct"
    assert p["landmarks_months"] == [6, 12, 24] and p["ci_level"] == 0.95 and p["ci_method"] == "log-log"


def test_defaults_are_fresh_copies():
    a = default_parameters()
    a["landmarks_months"].append(36)
    assert default_parameters()["landmarks_months"] == [6, 12, 24]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("landmark_months", [6], "unknown parameter; did you mean landmarks_months?"),
        ("landmarks_months", [-6], "-6: landmarks must be positive months (at most 600)"),
        ("landmarks_months", "twelve", "must be a non-empty list of months, e.g. [6, 12, 24]"),
        ("ci_level", 1.5, "must be at least 0.5 and below 1, e.g. 0.95"),
        ("ci_level", "high", "must be a number between 0 and 1, e.g. 0.95"),
        ("ci_method", "arcsine", "must be one of log-log, log, plain"),
        ("time_origin", "diagnosis", "must be one of second_hsct, cart_infusion"),
        ("data_cutoff", "30/06/2023", "must be a date written YYYY-MM-DD, e.g. 2023-06-30"),
        ("subgroup", ["T-ALL"], "must map a column to its allowed values, e.g. {diagnosis: [T-ALL]}"),
        ("title", 3, "must be text"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(name, value, message):
    with pytest.raises(ParameterError) as info:
        resolve_parameters({name: value})
    assert str(info.value) == f"report parameter {name} = {value!r}: {message}"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x" * 256, "must be at most 255 characters (it has 256): Word's limit for a document title"),
        (
            "CD7\x01 CAR-T",
            "holds an invisible control or text-direction character (\\x01), which a report cannot show",
        ),
        (
            "\u202eCD7 CAR-T",
            "holds an invisible control or text-direction character (\\u202e), which a report cannot show",
        ),
    ],
)
def test_a_title_the_report_cannot_show_is_refused(value, message):
    """A title over 255 characters or with a control character ended in a traceback from the Word writer after
    every section had run."""
    with pytest.raises(ParameterError) as info:
        resolve_parameters({"title": value})
    assert str(info.value).endswith(f": {message}")
    assert len(str(info.value)) < 400
    assert resolve_parameters({"title": "x" * 255})["title"] == "x" * 255


def test_a_huge_or_nested_value_is_shown_cut_short():
    value = [[["lol"] * 9] * 9] * 9
    message = str(ParameterError("title", value, "must be text"))
    assert message.startswith("report parameter title = [[['lol', 'lol', 'lol', 'lol', 'lol', 'lol', ...], ")
    assert message.endswith(": must be text") and len(message) < 300
    assert len(str(ParameterError("title", "x" * 1_000_000, "too long"))) < 300


def test_cli_values_are_read_as_yaml():
    assert parse_cli_value("[6, 12]") == [6, 12]
    assert parse_cli_value("0.9") == 0.9
    assert parse_cli_value("{diagnosis: [T-ALL]}") == {"diagnosis": ["T-ALL"]}
    assert parse_cli_value("second_hsct") == "second_hsct"
    assert parse_cli_value("2023-06-30") is not None
    assert resolve_parameters({"data_cutoff": parse_cli_value("2023-06-30")})["data_cutoff"] == "2023-06-30"


def test_normalisation():
    p = resolve_parameters({"landmarks_months": [24, 6, 6.0, 12], "subgroup": {"diagnosis": "T-ALL"}})
    assert p["landmarks_months"] == [6, 12, 24]
    assert p["subgroup"] == {"diagnosis": ["T-ALL"]}


def test_every_parameter_has_help():
    assert all(p.help for p in PARAMETERS)


@pytest.mark.parametrize("text", ["2023-02-30", "2022-13-01", "2023-02-29"])
def test_an_impossible_date_is_a_parameter_error_from_command_line_text(text):
    # YAML reads 2023-02-30 as a timestamp and fails inside its own constructor; the value must reach the check
    with pytest.raises(ParameterError, match="must be a date written YYYY-MM-DD"):
        resolve_parameters({"data_cutoff": parse_cli_value(text)})


def test_yaml_dates_stay_text_in_params_files_and_grids():
    from cartreport.analysis.params import load_yaml

    assert load_yaml("data_cutoff: 2023-02-30\n") == {"data_cutoff": "2023-02-30"}
    assert resolve_parameters(load_yaml("data_cutoff: 2022-12-31\n"))["data_cutoff"] == "2022-12-31"


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"landmarks_months": [24, 6, 6.0, 12.5], "ci_level": 0.9, "data_cutoff": " 2023-06-30 "},
        {"subgroup": {"diagnosis": "T-ALL", "sex": ["M", "F"]}, "subgroup_by": " sex ", "title": " A "},
        {"landmarks_months": 12, "time_origin": "cart_infusion", "ci_method": "plain", "data": " x.csv "},
    ],
)
def test_resolving_resolved_parameters_changes_nothing(overrides):
    """A batch hands each run's resolved parameters on (resolved once, in expand_grid): resolving them again would
    give the same parameters."""
    once = resolve_parameters(overrides)
    assert resolve_parameters(once) == once


def test_a_data_cutoff_after_today_is_refused():
    """Found by trying it: ``-p data_cutoff 9999-12-31`` was accepted and the report was dated to that cut-off. A
    cut-off is a day already past, as the data's own dates must be (rule after-today)."""
    import datetime as dt

    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    with pytest.raises(ParameterError, match=f"data_cutoff = '{tomorrow}': is after today"):
        resolve_parameters({"data_cutoff": tomorrow})
    assert resolve_parameters({"data_cutoff": dt.date.today().isoformat()})["data_cutoff"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ci_method", "loglog", "must be one of log-log, log, plain; did you mean log-log?"),
        ("ci_method", "Log-Log", "must be one of log-log, log, plain; did you mean log-log?"),
        ("time_origin", "cart", "must be one of second_hsct, cart_infusion; did you mean cart_infusion?"),
        (
            "time_origin",
            "second HSCT",
            "must be one of second_hsct, cart_infusion; did you mean second_hsct?",
        ),
        (
            "subgroup",
            {"diagnosis:T-ALL": None},
            "the values for diagnosis:T-ALL must be a non-empty list; put a space after the colon: "
            "{diagnosis: [T-ALL]}",
        ),
    ],
)
def test_a_near_miss_is_told_what_was_probably_meant(name, value, message):
    """A typo in a choice ("loglog", "cart") listed the choices but did not say which one was meant, and
    ``-p subgroup "{diagnosis:T-ALL}"`` (YAML reads a key without a space after the colon as one word) said the
    values must be a list without saying why they were missing."""
    with pytest.raises(ParameterError) as caught:
        resolve_parameters({name: value})
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (
            {"subgroup_by": "Diagnosis"},
            "report parameter subgroup_by = 'Diagnosis': the data have no such column; "
            "did you mean diagnosis?",
        ),
        (
            {"subgroup": {"Donor type": ["haploidentical"]}},
            "report parameter subgroup = {'Donor type': "
            "['haploidentical']}: the data have no column 'Donor type'; did you mean donor_type?",
        ),
        ({"subgroup_by": "stage"}, "report parameter subgroup_by = 'stage': the data have no such column"),
    ],
)
def test_a_column_name_near_one_of_the_data_is_suggested(parameters, message):
    from cartreport.api import load_analysis

    with pytest.raises(ParameterError) as caught:
        load_analysis(parameters)
    assert str(caught.value) == message


@pytest.mark.parametrize("parameters", ["cohort.csv", ["data", "cohort.csv"], 5])
def test_parameters_that_are_not_a_mapping_are_a_parameter_error(parameters, tmp_path):
    """From Python, ``api.load_analysis("cohort.csv")`` (the file, where the parameters go) was a TypeError and
    ``api.run_report("cohort.csv", "reports/x")`` a ValueError ("dictionary update sequence element #0"): each
    is a ParameterError saying what the parameters are, and the report folder is not made."""
    from cartreport import api

    with pytest.raises(ParameterError, match="parameters = .*must map parameter names to values"):
        api.load_analysis(parameters)
    with pytest.raises(ParameterError, match="parameters = .*must map parameter names to values"):
        api.run_report(parameters, tmp_path / "r")
    assert list(tmp_path.iterdir()) == []


def test_a_data_path_may_be_a_pathlib_path(tmp_path):
    """``api.load_analysis(data=Path(...))`` (or a Path in ``run_report``'s parameters, as a script builds it) was
    refused: "data = PosixPath('...'): must be text". A path object is the path it names."""
    from cartreport.cohorts.synthetic import synthetic_cohort

    path = tmp_path / "cohort.csv"
    synthetic_cohort(12, seed=3).to_csv(path, index=False)
    assert resolve_parameters({"data": path})["data"] == str(path)
    from cartreport import api

    assert api.load_analysis(data=path).results["n_patients"] == 12


def test_a_relative_path_object_in_a_grid_is_anchored_like_text(tmp_path):
    """From Python, ``expand_grid({"defaults": {"data": Path("cohort.csv")}}, base_dir=...)`` read the file from the
    current folder, while the same grid with ``"cohort.csv"`` read it beside the grid: a path object now follows the
    one rule for a relative data path."""
    from pathlib import Path

    from cartreport.analysis.params import anchor_data_path

    as_text = anchor_data_path({"data": "cohort.csv"}, tmp_path)
    as_path = anchor_data_path({"data": Path("cohort.csv")}, tmp_path)
    assert as_path == as_text == {"data": str((tmp_path / "cohort.csv").resolve())}


@pytest.mark.parametrize("value", [None, 3, b"cohort.csv", ["cohort.csv"], ""])
def test_a_file_argument_that_is_not_a_path_is_a_parameter_error(value, tmp_path):
    """From Python, ``api.validate(None)``, ``api.run_report({}, None)`` or ``api.reconstruct(3)`` ended in
    ``TypeError: expected str, bytes or os.PathLike object, not NoneType`` raised deep inside pathlib: each names
    the argument and says what it takes, and nothing is written."""
    from cartreport import api

    with pytest.raises(ParameterError, match=r"data = .*: must name a file \(text or a pathlib\.Path\)"):
        api.validate(value)
    with pytest.raises(ParameterError, match=r"output = .*: must name a folder \(text or a pathlib\.Path\)"):
        api.run_report({}, value)
    with pytest.raises(
        ParameterError, match=r"output = .*: must name a CSV file \(text or a pathlib\.Path\)"
    ):
        api.reconstruct(value)
    if value not in (None, ""):  # None and "" mean the shipped cohort here
        with pytest.raises(ParameterError, match=r"data = .*: must name a file \(text or a pathlib\.Path\)"):
            api.load_cohort(value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True, None])
def test_a_seed_that_is_not_a_whole_number_from_zero_is_a_parameter_error(seed, tmp_path):
    """``api.reconstruct(path, seed="7")`` or ``seed=1.5`` ended in numpy's TypeError ("SeedSequence expects int or
    sequence of ints"), ``seed=-1`` in its ValueError: one rule, the command line's, says what a seed is."""
    from cartreport import api

    with pytest.raises(ParameterError, match="seed = .*: must be a whole number, 0 or more"):
        api.reconstruct(tmp_path / "cohort.csv", seed=seed)
    assert list(tmp_path.iterdir()) == []
