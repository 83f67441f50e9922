"""results.json for the shipped cohort against R, computed independently from the CSV's dates.

Reference: tests/data/reference/shipped_cohort.json, written by tests/reference/shipped_cohort.R (R 4.2.2,
survival 3.5-3, cmprsk 2.2-11; calls recorded in the file). Published figures are checked as well.
"""

import json
from pathlib import Path

import pytest
from numpy.testing import assert_allclose

from cartreport import api
from cartreport.analysis.results import write_results

REF = json.loads(
    (Path(__file__).parent / "data" / "reference" / "shipped_cohort.json").read_text(encoding="utf-8")
)
ATOL = 1e-6


@pytest.fixture(scope="module")
def results():
    return api.load_analysis().results


def _landmarks(block, field):
    return [lm[field] for lm in block["landmarks"]]


def _none_to_nan(values):
    return [float("nan") if v is None else v for v in values]


@pytest.mark.parametrize("key", ["os", "lfs"])
def test_kaplan_meier_landmarks_medians_match_r(results, key):
    block, ref = results["endpoints"][key], REF[key]
    assert (block["n"], block["events"]) == (ref["n"], ref["events"])
    assert [lm["months"] for lm in block["landmarks"]] == [6, 12, 24]
    assert_allclose(_landmarks(block, "estimate"), ref["landmark_estimate"], atol=ATOL, rtol=0)
    assert_allclose(_landmarks(block, "ci_low"), ref["landmark_ci_low"], atol=ATOL, rtol=0)
    assert_allclose(_landmarks(block, "ci_high"), ref["landmark_ci_high"], atol=ATOL, rtol=0)
    assert _landmarks(block, "at_risk") == ref["landmark_at_risk"]
    assert block["median_months"] is None and ref["median_days"] is None  # not reached
    assert block["median_ci_low"] * 30.4375 == pytest.approx(ref["median_ci_low_days"], abs=ATOL)
    assert block["median_ci_high"] is None and ref["median_ci_high_days"] is None


@pytest.mark.parametrize("key", ["relapse", "nrm"])
def test_cumulative_incidence_matches_cmprsk(results, key):
    block, ref = results["endpoints"][key], REF[key]
    assert block["events"] == ref["events"]
    assert_allclose(_landmarks(block, "estimate"), ref["landmark_estimate"], atol=ATOL, rtol=0)
    assert_allclose(
        _none_to_nan(_landmarks(block, "ci_low")),
        _none_to_nan(ref["landmark_ci_low"]),
        atol=ATOL,
        equal_nan=True,
    )
    assert_allclose(
        _none_to_nan(_landmarks(block, "ci_high")),
        _none_to_nan(ref["landmark_ci_high"]),
        atol=ATOL,
        equal_nan=True,
    )


def test_follow_up_and_responses_match_r(results):
    fu = results["follow_up"]
    assert fu["median_months"] * 30.4375 == pytest.approx(REF["follow_up"]["median_days"], abs=ATOL)
    assert fu["ci_low"] * 30.4375 == pytest.approx(REF["follow_up"]["ci_low_days"], abs=ATOL)
    assert fu["ci_high"] * 30.4375 == pytest.approx(REF["follow_up"]["ci_high_days"], abs=ATOL)
    for key in ("bm_mrd_negative_cr", "emd_cr"):
        got, ref = results["responses"][key], REF[key]
        assert (got["responders"], got["evaluable"]) == (ref["responders"], ref["evaluable"])
        assert got["ci_low"] == pytest.approx(ref["ci_low"], abs=ATOL)
        assert got["ci_high"] == pytest.approx(ref["ci_high"], abs=ATOL)


@pytest.mark.parametrize("ref", REF["follow_up_by_conf_type"], ids=lambda ref: ref["conf_type"])
def test_follow_up_honours_ci_method(ref):
    """The CI of the median follow-up uses the report's ``ci_method``, as R's ``conf.type`` does."""
    fu = api.load_analysis(ci_method=ref["conf_type"]).results["follow_up"]
    got = [None if fu[key] is None else fu[key] * 30.4375 for key in ("median_months", "ci_low", "ci_high")]
    want = [ref[key] for key in ("median_days", "ci_low_days", "ci_high_days")]
    assert_allclose(_none_to_nan(got), _none_to_nan(want), atol=ATOL, equal_nan=True)


def test_published_figures(results):
    assert results["n_patients"] == 16
    assert results["responses"]["bm_mrd_negative_cr"]["rate"] == 1.0
    assert results["responses"]["emd_cr"]["rate"] == 0.75
    assert results["flow"]["transplanted"] == 16
    twelve = {key: results["endpoints"][key]["landmarks"][1] for key in ("os", "lfs")}
    assert twelve["os"]["months"] == 12 and round(twelve["os"]["estimate"] * 100, 1) == 58.5
    assert round(twelve["lfs"]["estimate"] * 100, 1) == 51.4
    # 16/16 responders: the exact lower bound is 0.025 ** (1 / 16) (Clopper-Pearson with x = n)
    assert results["responses"]["bm_mrd_negative_cr"]["ci_low"] == pytest.approx(0.025 ** (1 / 16), abs=1e-12)
    assert results["is_reconstruction"] is True and results["published"]["os_12_months"] == 0.585


def test_results_have_the_contract_keys(results):
    for key in ("n_patients", "parameters", "data_sha256", "responses", "endpoints", "follow_up"):
        assert key in results
    for key in ("os", "lfs"):
        row = results["endpoints"][key]["km"][0]
        assert set(row) == {"time_days", "at_risk", "events", "censored", "estimate", "ci_low", "ci_high"}
        assert set(results["endpoints"][key]) >= {
            "n",
            "events",
            "median_months",
            "median_ci_low",
            "median_ci_high",
        }
    for key in ("relapse", "nrm"):
        assert set(results["endpoints"][key]["cif"][0]) >= {"time_days", "estimate", "ci_low", "ci_high"}
    assert results["follow_up"]["method"] == "reverse Kaplan–Meier"
    assert len(results["data_sha256"]) == 64


def test_results_json_is_byte_identical_for_identical_input(tmp_path, results):
    api._analysis_cached.cache_clear()
    again = api.load_analysis().results
    write_results(results, tmp_path / "a.json")
    write_results(again, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert "NaN" not in (tmp_path / "a.json").read_text()


def test_cart_origin_and_cutoff_change_the_analysis():
    base = api.load_analysis().results
    cart = api.load_analysis(time_origin="cart_infusion").results
    assert cart["endpoints"]["os"]["km"][0]["time_days"] != base["endpoints"]["os"]["km"][0]["time_days"]
    cut = api.load_analysis(data_cutoff="2022-06-30").results
    assert cut["flow"]["excluded"], "patients infused after the cut-off leave the analysis"
    assert cut["endpoints"]["os"]["n"] < 16


def test_subgroup_and_subgroup_by():
    sub = api.load_analysis(subgroup={"diagnosis": ["T-LBL"]}).results
    assert sub["n_patients"] == 5 and sub["flow"]["enrolled"] == 16
    assert sub["flow"]["excluded"][0] == {"reason": "outside the selected subgroup", "n": 11}
    by = api.load_analysis(subgroup_by="diagnosis").results["subgroups"]
    assert [g["value"] for g in by["groups"]] == ["T-ALL", "T-LBL"]
    assert 0 <= by["tests"]["os"]["p_value"] <= 1 and by["tests"]["os"]["df"] == 1
    assert by["caution"].startswith("Small numbers")


def test_what_reading_normalised_is_said_in_results_and_methods(tmp_path):
    from cartreport.cohorts.synthetic import synthetic_cohort
    from cartreport.report import prose

    frame = synthetic_cohort(12, seed=4)
    frame.loc[frame["emd_at_baseline"] == "yes", "emd_at_baseline"] = "Yes"
    path = tmp_path / "excel_export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + frame.to_csv(index=False).encode())
    results = api.load_analysis(data=str(path)).results
    assert "removed a byte-order mark at the start of the file" in results["data_notes"]
    assert any(note.startswith("emd_at_baseline: read `Yes` as `yes`") for note in results["data_notes"])
    assert "As read: removed a byte-order mark" in prose.methods_markdown(results)
    shipped = api.load_analysis().results
    # nothing to say when nothing was changed: no meta sentence in the report (issue #10)
    assert shipped["data_notes"] == [] and "As read" not in prose.methods_markdown(shipped)
    assert "normalised" not in prose.methods_markdown(shipped)


def test_subgroup_tests_match_survdiff_and_cuminc():
    by = api.load_analysis(subgroup_by="diagnosis").results["subgroups"]
    ref = REF["by_diagnosis"]
    assert [g["value"] for g in by["groups"]] == ref["groups"]
    for key, name in (("os", "logrank"), ("lfs", "logrank"), ("relapse", "gray"), ("nrm", "gray")):
        assert by["tests"][key]["statistic"] == pytest.approx(ref[f"{key}_{name}_statistic"], abs=ATOL)
        assert by["tests"][key]["p_value"] == pytest.approx(ref[f"{key}_{name}_p"], abs=ATOL)


def test_risk_table_in_results_is_what_the_figure_prints(results):
    """The counts under the KM and CIF figures are the counts results.json reports (one tick rule)."""
    import matplotlib.pyplot as plt

    from cartreport.report import figures

    analysis = api.load_analysis()
    for keys, fig in (
        (
            ("os", "lfs"),
            figures.plot_km({k: analysis.survival[k] for k in ("os", "lfs")}, xlabel="m", ylabel="%"),
        ),
        (("relapse",), figures.plot_cif({"relapse": analysis.incidence["relapse"]}, xlabel="m")),
    ):
        table_ax = next(ax for ax in fig.axes if ax.get_label() == "risk_table")
        printed = [t.get_text() for t in table_ax.texts if t.get_text().replace(",", "").isdigit()]
        expected = [str(row["at_risk"]) for key in keys for row in results["endpoints"][key]["risk_table"]]
        assert printed == expected
        curve_ax = next(ax for ax in fig.axes if ax.get_label() == "curves")
        ticks = [float(t) for t in curve_ax.get_xticks()]
        assert ticks == [row["months"] for row in results["endpoints"][keys[0]]["risk_table"]]
        plt.close(fig)
    assert [r["at_risk"] for r in results["endpoints"]["os"]["risk_table"]][:3] == [16] + [
        lm["at_risk"] for lm in results["endpoints"]["os"]["landmarks"][:2]
    ]


def test_the_same_cohort_gives_the_same_results_in_every_format(tmp_path):
    import pandas as pd
    import pyreadstat

    from cartreport.cohorts.synthetic import synthetic_cohort

    text = synthetic_cohort(40, seed=9)
    typed = text.copy()
    for column in typed.columns:
        if column.endswith("_date"):
            typed[column] = pd.to_datetime(typed[column].replace("", None))
    typed["age_years"] = typed["age_years"].astype(float)
    text.to_csv(tmp_path / "c.csv", index=False)
    typed.to_excel(tmp_path / "c.xlsx", index=False)
    typed.to_parquet(tmp_path / "c.parquet")
    pyreadstat.write_xport(typed, str(tmp_path / "c.xpt"), file_format_version=8)
    outcomes = []
    for suffix in ("csv", "xlsx", "parquet", "xpt"):
        results = dict(api.load_analysis(data=str(tmp_path / f"c.{suffix}"), subgroup_by="diagnosis").results)
        for key in ("data_sha256", "data_file", "data_notes", "parameters"):
            results.pop(key)
        outcomes.append(results)
    assert all(outcome == outcomes[0] for outcome in outcomes[1:])


@pytest.mark.parametrize("column", ["patient_id", "Patient", "patient_name"])
def test_subgroup_by_refuses_identifying_columns(column):
    from cartreport.errors import ParameterError

    with pytest.raises(ParameterError, match="subgroup_by") as caught:
        api.load_analysis(subgroup_by=column)
    assert "identifies patients" in str(caught.value) or "no such column" in str(caught.value)
    if column == "patient_id":
        assert "identifies patients" in str(caught.value)


def test_subgroup_by_refuses_a_column_of_mostly_single_patient_groups(tmp_path):
    import pandas as pd

    from cartreport.errors import ParameterError

    frame = pd.read_csv(api.COHORT_FILE, dtype=str, keep_default_na=False)
    # every patient of the shipped cohort: with the CAR-T origin all 16 are analysed
    # site: A x13, B, C, D -> 4 groups, 3 of them single patients (more than half): refused
    frame["site"] = ["A"] * 13 + ["B", "C", "D"]
    frame.to_csv(tmp_path / "sites.csv", index=False)
    with pytest.raises(ParameterError, match="3 of its 4 groups hold a single patient"):
        api.load_analysis(data=str(tmp_path / "sites.csv"), time_origin="cart_infusion", subgroup_by="site")
    # site: A x15, B x1 -> 1 of 2 groups single (not more than half): allowed
    frame["site"] = ["A"] * 15 + ["B"]
    frame.to_csv(tmp_path / "sites2.csv", index=False)
    by = api.load_analysis(data=str(tmp_path / "sites2.csv"), time_origin="cart_infusion", subgroup_by="site")
    assert [g["n"] for g in by.results["subgroups"]["groups"]] == [15, 1]


def test_subgroup_by_refuses_a_column_of_more_groups_than_a_figure_tells_apart(tmp_path, monkeypatch):
    """A column of 10,000 groups of two patients each (20,000 patients) passed the single-patient rule: the run fitted
    40,000 curves, a log-rank test of 10,000 groups (a 10,000 x 10,000 covariance matrix, 800 MB) and would have
    drawn 10,000 curves with their legend; after ten minutes and 1.4 GB it had not finished the analysis. Subgroups
    are at most as many as the report's palette has colours, refused at once otherwise."""
    import pandas as pd

    from cartreport.analysis import results
    from cartreport.errors import ParameterError
    from cartreport.report.figures.style import PALETTE

    frame = pd.read_csv(api.COHORT_FILE, dtype=str, keep_default_na=False)
    frame["site"] = [f"S{i // 2}" for i in range(14)] + ["S7", "S8"]  # 9 groups: 7 of 2 patients, 2 of 1
    frame.to_csv(tmp_path / "sites.csv", index=False)

    def never(*args, **kwargs):
        raise AssertionError("no test between groups for a refused subgroup_by")

    with monkeypatch.context() as patched:
        patched.setattr(results, "logrank_test", never)
        with pytest.raises(ParameterError, match="has 9 groups; a figure tells at most 8 apart"):
            api.load_analysis(
                data=str(tmp_path / "sites.csv"), time_origin="cart_infusion", subgroup_by="site"
            )
    frame["site"] = [f"S{i // 2}" for i in range(16)]  # 8 groups: allowed
    frame.to_csv(tmp_path / "sites8.csv", index=False)
    by = api.load_analysis(data=str(tmp_path / "sites8.csv"), time_origin="cart_infusion", subgroup_by="site")
    assert len(by.results["subgroups"]["groups"]) == 8 == results.MAX_SUBGROUPS == len(PALETTE)


# Hand counts from data/ash2023_cd7_cart_cohort.csv with a data cut-off of 2022-12-31: CD7-14 (infused
# 2023-01-18), CD7-15 (2023-03-13) and CD7-16 (2023-04-15) were infused after it; CD7-01 … CD7-13 remain:
# T-ALL 01-07, 10, 11 (9), T-LBL 08, 09, 12, 13 (4); female 04, 05, 07, 12 (4); all 13 MRD-negative CR;
# extramedullary disease at baseline 01, 04, 07, 08, 09, 12, 13 (7), of whom all but 09 (PD) in CR (6).
CUTOFF_POPULATION = 13


@pytest.fixture(scope="module")
def cut_results():
    return api.load_analysis(data_cutoff="2022-12-31").results


def test_a_data_cutoff_removes_later_infusions_from_every_count(cut_results):
    r = cut_results
    assert r["n_patients"] == CUTOFF_POPULATION
    assert r["flow"]["enrolled"] == 16 and r["flow"]["infused"] == CUTOFF_POPULATION
    assert {"reason": "infused after the data cut-off of 31 Dec 2022", "n": 3} in r["flow"]["excluded"]
    bm = r["responses"]["bm_mrd_negative_cr"]
    assert (bm["responders"], bm["evaluable"]) == (13, 13)
    emd = r["responses"]["emd_cr"]
    assert (emd["responders"], emd["evaluable"]) == (6, 7)
    rows = {(row["variable"], row["level"]): row["n"] for row in r["baseline"]["rows"]}
    assert rows[("diagnosis", "T-ALL")] == 9 and rows[("diagnosis", "T-LBL")] == 4
    assert rows[("sex", "female")] == 4 and rows[("sex", "male")] == 9
    assert sum(r["response_counts"]["bm"].values()) == CUTOFF_POPULATION
    analysis = api.load_analysis(data_cutoff="2022-12-31")
    assert len(analysis.patient_timeline()) == CUTOFF_POPULATION
    assert sorted(analysis.table["patient_id"]) == [f"CD7-{i:02d}" for i in range(1, 14)]


def _counts(node, path=""):
    """Every (path, value) of a count in results.json: keys n, evaluable, responders, at_risk, n_patients."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"n", "evaluable", "responders", "at_risk", "n_patients", "missing"} and isinstance(
                value, int
            ):
                yield f"{path}.{key}", value
            else:
                yield from _counts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _counts(value, f"{path}[{i}]")


@pytest.mark.parametrize(
    "params",
    [{}, {"data_cutoff": "2022-12-31"}, {"data_cutoff": "2021-12-31", "time_origin": "cart_infusion"},
     {"subgroup": {"diagnosis": ["T-LBL"]}, "data_cutoff": "2022-12-31"}],
)  # fmt: skip
def test_every_count_in_results_agrees_with_the_flow(params):
    r = api.load_analysis(**params).results
    flow = r["flow"]
    population = flow["infused"]
    # the flow adds up: every patient of the file is in the population or excluded before it, once
    before = [e for e in flow["excluded"] if e["reason"] != "no second HSCT"]
    assert population + sum(e["n"] for e in before) == flow["enrolled"] == 16
    assert r["n_patients"] == population
    assert flow["analysed"] == population - sum(e["n"] for e in flow["excluded"] if e not in before)
    computed = {
        k: v for k, v in r.items() if k not in {"flow", "published", "parameters"}
    }  # published: the study's
    for path, value in _counts(computed):
        if path.startswith(".endpoints") or path.startswith(".subgroups") or path.startswith(".follow_up"):
            bound = flow["analysed"]  # survival analyses: the analysed patients or a subset of them
        else:
            bound = population  # design and responses: the population or a subset of it
        assert 0 <= value <= bound, f"{path} = {value} exceeds {bound}"
    for key in ("os", "lfs", "relapse", "nrm"):
        assert r["endpoints"][key]["n"] == flow["analysed"]
    for variable in {row["variable"] for row in r["baseline"]["rows"]}:
        rows = [row for row in r["baseline"]["rows"] if row["variable"] == variable]
        known = rows[0]["n"] if rows[0]["kind"] == "continuous" else sum(row["n"] for row in rows)
        assert known + rows[0]["missing"] + rows[0].get("not_applicable", 0) == population, variable
    assert r["responses"]["bm_cr"]["evaluable"] == flow["bm_evaluable"] <= population
    assert sum(r["response_counts"]["bm"].values()) == population


def test_bone_marrow_counts_by_hand():
    import pandas as pd

    from cartreport.analysis.baseline import bone_marrow_counts

    bm = pd.Series(["MRD-negative CR", "MRD-positive CR", "NR", "NE", "MRD-negative CR"], dtype="category")
    assert bone_marrow_counts(bm) == {"bm_evaluable": 4, "bm_mrd_negative_cr": 2, "bm_cr": 3}


def test_table_1_counts_by_hand():
    import pandas as pd

    from cartreport.analysis.baseline import baseline_rows

    table = pd.DataFrame(
        {
            "sex": ["male", None, "female", "male", None],
            "emd_at_baseline": [False, False, False, False, False],
            "donor_type": [None, None, None, None, None],
        }
    )
    rows = {(r["variable"], r["level"]): (r["n"], r["percent"], r["missing"]) for r in baseline_rows(table)}
    assert rows == {
        ("sex", "male"): (2, 2 / 3, 2),
        ("sex", "female"): (1, 1 / 3, 2),
        ("emd_at_baseline", "no"): (5, 1.0, 0),  # a word no patient has is no level
    }


def test_table_1_lumps_the_rarest_levels_beyond_twenty():
    """A free-text column (one diagnosis per patient, as written) made Table 1 a row per patient (2,000 rows, 1 MB
    of HTML) and the summary a list of 2,000 diagnoses. Beyond 20 levels, the 19 most frequent (then first by
    name) keep a row and the rest are counted together in one, which says how many values it holds."""
    import pandas as pd

    from cartreport.analysis.baseline import baseline_rows

    values = ["T-ALL"] * 6 + ["T-LBL"] * 4 + [f"free text {i:02d}" for i in range(26)] + [None, None]
    rows = [r for r in baseline_rows(pd.DataFrame({"diagnosis": values})) if r["variable"] == "diagnosis"]
    assert len(rows) == 20
    assert [r["level"] for r in rows[:4]] == ["T-ALL", "T-LBL", "free text 00", "free text 01"]
    assert rows[18]["level"] == "free text 16"
    other = rows[-1]
    # by hand: 26 one-patient values, 17 of them kept (rows 3-19), 9 lumped; 36 patients with a value, 2 unknown
    assert (other["level"], other["n"], other["percent"], other["missing"]) == (
        "9 other values",
        9,
        9 / 36,
        2,
    )
    assert other["other_values"] == 9
    assert sum(r["n"] for r in rows) == 36
    assert all("other_values" not in r for r in rows[:-1])


def test_intervals_between_treatment_steps_by_hand():
    import pandas as pd

    from cartreport.analysis.baseline import interval_rows

    dates = lambda *days: pd.Series(pd.to_datetime(list(days)))  # noqa: E731
    table = pd.DataFrame(
        {
            "first_hsct_date": dates("2020-01-01", "2020-03-01", None, "2020-05-01"),
            "relapse_after_first_hsct_date": dates("2020-01-11", "2020-02-27", "2021-01-01", None),
            "cart_infusion_date": dates(None, None, None, None),
        }
    )
    first, relapse_to_cart = interval_rows(table)[:2]
    assert (first["n"], first["median_days"], first["min_days"], first["max_days"]) == (2, 3.5, -3.0, 10.0)
    assert relapse_to_cart["n"] == 0 and relapse_to_cart["median_days"] is None


def test_flow_and_response_rates_count_bone_marrow_cr_alike(results):
    for key in ("bm_cr", "bm_mrd_negative_cr"):
        assert results["flow"][key] == results["responses"][key]["responders"]
    assert results["flow"]["bm_evaluable"] == results["responses"]["bm_cr"]["evaluable"]


def test_results_json_written_in_the_background_is_waited_for_and_its_error_raised(tmp_path):
    """cartreport run writes results.json while the notebooks run; the report waits for it, and a failure to write
    it fails the report."""
    wait = api._in_background(write_results, {"b": [1.5, None], "a": "é"}, tmp_path / "results.json")
    wait()
    assert (tmp_path / "results.json").read_text(encoding="utf-8") == json.dumps(
        {"a": "é", "b": [1.5, None]}, sort_keys=True, indent=2, ensure_ascii=False
    ) + "\n"
    wait = api._in_background(write_results, {"a": 1}, tmp_path / "missing" / "results.json")
    with pytest.raises(FileNotFoundError):
        wait()


def test_the_words_results_json_carries_stay_as_documented():
    """results.json carries a few sentences and method labels (docs/results.md) that users parse: the method
    sentences, the small-numbers caution and each endpoint's method label are pinned here, word for word."""
    results = api.load_analysis(subgroup_by="diagnosis", ci_method="log", ci_level=0.9).results
    assert results["methods"] == {
        "cif": "Cumulative incidence of relapse and non-relapse mortality as competing risks by the Aalen–Johansen "
        "estimator with tied times handled exactly, Gray's variance (as R cmprsk::cuminc) and 90% log-log "
        "confidence intervals.",
        "follow_up": "Median follow-up by the reverse Kaplan–Meier method (Schemper & Smith 1996).",
        "km": "Survival probabilities by the Kaplan–Meier method with Greenwood's variance and 90% log pointwise "
        'confidence intervals (as R survival::survfit, conf.type="log").',
        "median_ci": "Confidence intervals for median survival by the Brookmeyer–Crowley method, inverting the "
        "pointwise band (as R survival's print.survfit).",
        "response_ci": "Response rates with exact 90% Clopper–Pearson confidence intervals.",
        "test": "Survival between groups compared by the log-rank test (as R survival::survdiff), cumulative "
        "incidence by Gray's test (as R cmprsk::cuminc).",
    }
    assert results["subgroups"]["caution"] == (
        "Small numbers by diagnosis: T-ALL has 11 patients and 4 deaths, T-LBL has 5 patients and 1 death; "
        "estimates are imprecise and the tests have little power."
    )
    assert (
        results["endpoints"]["os"]["method"] == "Kaplan–Meier; Greenwood variance; log confidence intervals"
    )
    assert results["endpoints"]["nrm"]["method"] == (
        "Aalen–Johansen (ties handled exactly); Gray's variance as cmprsk::cuminc; log-log confidence intervals"
    )
    assert api.load_analysis().results["subgroups"] is None


def test_the_analysis_holds_data_and_the_report_words_it():
    """analyse() returns data (which groups are small, the parameters of the methods); the sentences results.json
    carries for its readers are the report's (cartreport.report.methods), added by load_analysis."""
    from cartreport.analysis.params import resolve_parameters
    from cartreport.analysis.results import analyse, small_groups
    from cartreport.report import methods

    params = resolve_parameters({"subgroup_by": "diagnosis"})
    data = analyse(api.load_cohort().table, params).results
    assert "methods" not in data and "caution" not in data["subgroups"]
    assert [g["value"] for g in small_groups(data["subgroups"]["groups"])] == ["T-ALL", "T-LBL"]
    worded = methods.with_wording(data)
    assert list(worded) == [
        *list(data)[: list(data).index("subgroups") + 1],
        "methods",
        *list(data)[list(data).index("subgroups") + 1 :],
    ]
    results = api.load_analysis(subgroup_by="diagnosis").results
    assert results["methods"] == worded["methods"] == methods.method_sentences(results["parameters"])
    assert results["subgroups"]["caution"] == methods.small_numbers_caution(results["subgroups"])
    assert methods.with_wording({**data, "subgroups": None})["methods"] == worded["methods"]


def test_the_notebook_helpers_api_held_are_still_there_for_older_notebooks():
    """Notebooks written against api.patient_timeline / subgroup_figure / transplant_figure / provenance_table keep
    working: the names lead to where each moved."""
    from cartreport.analysis.results import Analysis
    from cartreport.report import figures, provenance
    from cartreport.report.figures import transplant

    assert api.patient_timeline is Analysis.patient_timeline
    assert api.subgroup_figure is figures.subgroup_figure
    assert api.transplant_figure is transplant.transplant_figure
    assert api.provenance_table is provenance.provenance_table
    with pytest.raises(AttributeError):
        api.no_such_helper  # noqa: B018


def test_a_copy_of_the_shipped_cohort_is_still_a_reconstruction(tmp_path):
    """The shipped cohort copied beside a batch grid (or written again by ``cartreport reconstruct --output``) was
    taken for patient records: its report had no 'reconstructed data, not patient records' notice and no published
    figures, though every report built on the reconstruction must say so (found by the red-team pass, running a
    grid whose ``data: cohort.csv`` was such a copy). The shipped file's bytes, not its place, make it the
    reconstruction; the copy keeps its own name."""
    from cartreport.cohorts.reconstruct import COHORT_FILE
    from cartreport.report import prose

    copy = tmp_path / "cohort.csv"
    copy.write_bytes(COHORT_FILE.read_bytes())
    results = api.load_analysis(data=str(copy)).results
    assert results["is_reconstruction"] is True and results["published"]["os_12_months"] == 0.585
    assert "not patient records" in str(prose.reconstruction_notice(results))
    assert results["data_file"] == "cohort.csv" and results["parameters"]["data"] == "cohort.csv"
    edited = tmp_path / "edited.csv"
    edited.write_bytes(COHORT_FILE.read_bytes().replace(b"T-LBL", b"T-ALL"))
    assert api.load_analysis(data=str(edited)).results["is_reconstruction"] is False


def test_what_load_analysis_returns_may_be_changed_without_changing_the_next_report():
    """load_analysis and load_cohort handed out the object they cache: a notebook that dropped rows of
    ``analysis.table`` in place (or edited ``analysis.results``) changed every later analysis of the process, and a
    report run from it then stated numbers not computed from the data (n_patients 999 in results.json; found by the
    red-team pass). Each call returns its own copy; the cache stays as computed."""
    first = api.load_analysis()
    first.results["n_patients"] = 999
    first.results["endpoints"]["os"]["landmarks"][1]["estimate"] = 0.99
    first.table.drop(first.table.index[:5], inplace=True)
    cohort = api.load_cohort()
    cohort.table.drop(cohort.table.index[:3], inplace=True)
    again = api.load_analysis()
    assert again.results["n_patients"] == 16 and len(again.table) == 16
    assert round(again.results["endpoints"]["os"]["landmarks"][1]["estimate"], 3) == 0.585
    assert len(api.load_cohort().table) == 16
    assert (
        api.load_analysis(landmarks_months=[12]).results["n_patients"] == 16
    )  # a new analysis of the cohort


def test_the_flow_counts_patients_transplanted_without_a_bone_marrow_cr(tmp_path):
    """A patient without bone-marrow CR who still had a second HSCT (not rare: some go to transplant with active
    disease) made the flow read "Bone-marrow complete remission n = 15 → Second allogeneic HSCT n = 15", hiding both
    the CR patient without a transplant and the non-responder with one. The flow counts the latter; the expected
    counts are read here with pandas from the edited shipped file."""
    import pandas as pd

    from cartreport.cohorts.reconstruct import COHORT_FILE

    table = pd.read_csv(COHORT_FILE, dtype=str, keep_default_na=False)
    table.loc[2, "bm_response"] = "NR"  # a non-responder who had the second HSCT
    table.loc[5, ["second_hsct_date", "donor_type"]] = ""  # a patient in CR without one
    table.to_csv(tmp_path / "cohort.csv", index=False)
    flow = api.load_analysis(data=str(tmp_path / "cohort.csv")).results["flow"]
    in_cr = table["bm_response"].isin(["MRD-negative CR", "MRD-positive CR"])
    transplanted = table["second_hsct_date"] != ""
    assert flow["transplanted"] == int(transplanted.sum()) == 15
    assert flow["transplanted_without_cr"] == int((transplanted & ~in_cr).sum()) == 1
    assert flow["bm_cr"] - (flow["transplanted"] - flow["transplanted_without_cr"]) == int(
        (in_cr & ~transplanted).sum()
    )
