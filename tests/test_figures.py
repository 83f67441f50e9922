"""Figures draw from result objects, line the numbers at risk up with the ticks, and save byte-stable files.

The curves are small hand-made cohorts; the cumulative-incidence inputs are fake objects with the attributes of
``cartreport.stats.cif.CIFResult`` (figures read results, they never compute them).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from cartreport.report import figures  # noqa: E402
from cartreport.stats.km import kaplan_meier  # noqa: E402

MONTH = figures.DAYS_PER_MONTH

# A realistic flagship-like cohort: 16 patients, days from second HSCT, 1 = death; 1-year OS 57.8%.
OS_TIME = [38, 74, 121, 150, 180, 196, 233, 280, 301, 395, 455, 512, 590, 648, 702, 845]
OS_EVENT = [1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0]


@dataclass(frozen=True)
class FakeCIF:
    """The attributes of ``cartreport.stats.cif.CIFResult`` that the figures read."""

    time: np.ndarray
    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    events: np.ndarray
    competing: np.ndarray
    censored: np.ndarray
    at_risk: np.ndarray

    def at_risk_at(self, times) -> np.ndarray:
        idx = np.searchsorted(self.time, np.asarray(times, dtype=float), side="left")
        return np.append(self.at_risk, 0)[idx].astype(int)


def fake_cif(time, estimate, events, competing, censored, n) -> FakeCIF:
    time, estimate = np.asarray(time, float), np.asarray(estimate, float)
    counts = np.asarray(events) + np.asarray(competing) + np.asarray(censored)
    at_risk = n - np.concatenate(([0], np.cumsum(counts)[:-1]))
    with np.errstate(invalid="ignore"):
        low = np.where(estimate > 0, np.clip(estimate - 0.15, 0, 1), np.nan)
    return FakeCIF(
        time,
        estimate,
        low,
        np.clip(estimate + 0.2, 0, 1),
        np.asarray(events),
        np.asarray(competing),
        np.asarray(censored),
        at_risk,
    )


TIMES = [60, 121, 150, 250, 301, 395, 520, 700]
N_CR = 10
RELAPSE = fake_cif(
    TIMES,
    [0.1, 0.1, 0.2, 0.3, 0.3, 0.3, 0.42, 0.42],
    [1, 0, 1, 1, 0, 0, 1, 0],
    [0, 1, 0, 0, 1, 0, 0, 0],
    [0, 0, 0, 0, 0, 1, 0, 1],
    N_CR,
)
NRM = fake_cif(
    TIMES,
    [0.0, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2],
    [0, 1, 0, 0, 1, 0, 0, 0],
    [1, 0, 1, 1, 0, 0, 1, 0],
    [0, 0, 0, 0, 0, 1, 0, 1],
    N_CR,
)


def os_curves():
    return {"All patients": kaplan_meier(OS_TIME, OS_EVENT)}


def timeline(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    end = np.round(rng.uniform(1, 30, n), 2)
    died = rng.random(n) < 0.4
    hsct = np.where(rng.random(n) < 0.85, np.round(rng.uniform(0.8, 1.5, n), 2), np.nan)
    relapse = np.where(rng.random(n) < 0.3, np.round(end * rng.uniform(0.3, 0.9, n), 2), np.nan)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i + 1:02d}" for i in range(n)],
            "diagnosis": np.where(rng.random(n) < 0.7, "T-ALL", "T-LBL"),
            "end_months": end,
            "second_hsct_months": np.minimum(hsct, end),
            "relapse_months": relapse,
            "death_months": np.where(died, end, np.nan),
            "censored": ~died,
            "bm_response": rng.choice(["MRD-negative CR", "MRD-positive CR", "NR", "NE"], n),
            "emd_response": np.where(rng.random(n) < 0.5, rng.choice(["CR", "PR", "PD"], n), None),
        }
    )


FLOW = {
    "enrolled": 16,
    "infused": 16,
    "bm_evaluable": 16,
    "bm_mrd_negative_cr": 14,
    "bm_cr": 15,
    "transplanted": 14,
    "analysed": 14,
    "excluded": [{"reason": "no second HSCT", "n": 2}],
}
INTERVALS = [
    {
        "name": "first_hsct_to_relapse",
        "label": "First HSCT → relapse",
        "n": 16,
        "median_days": 210.0,
        "min_days": 95.0,
        "max_days": 870.0,
    },
    {
        "name": "relapse_to_cart",
        "label": "Relapse → CD7 CAR-T infusion",
        "n": 16,
        "median_days": 41.5,
        "min_days": 20.0,
        "max_days": 92.0,
    },
    {
        "name": "cart_to_second_hsct",
        "label": "CD7 CAR-T infusion → second HSCT",
        "n": 14,
        "median_days": 33.0,
        "min_days": 25.0,
        "max_days": 61.0,
    },
]
RESPONSES = {
    "bm_mrd_negative_cr": {
        "label": "BM MRD-negative CR",
        "responders": 14,
        "evaluable": 16,
        "rate": 0.875,
        "ci_low": 0.617,
        "ci_high": 0.984,
        "method": "Clopper–Pearson exact 95% CI",
    },
    "bm_cr": {
        "label": "BM CR",
        "responders": 15,
        "evaluable": 16,
        "rate": 0.9375,
        "ci_low": 0.698,
        "ci_high": 0.998,
        "method": "Clopper–Pearson exact 95% CI",
    },
    "emd_cr": {
        "label": "EMD CR",
        "responders": 0,
        "evaluable": 0,
        "rate": None,
        "ci_low": None,
        "ci_high": None,
        "method": "Clopper–Pearson exact 95% CI",
    },
}


@pytest.fixture(autouse=True)
def _theme_and_close():
    with matplotlib.rc_context():
        figures.theme()
        yield
    plt.close("all")


def axis(fig, label):
    return next(ax for ax in fig.axes if ax.get_label() == label)


def risk_texts(fig):
    return [t for t in axis(fig, "risk_table").texts if t.get_gid() == "at-risk"]


def risk_counts(fig) -> list[int]:
    return [int(t.get_text().replace(",", "")) for t in risk_texts(fig)]


# ------------------------------------------------------------------------------------------------ risk table
def test_risk_table_counts_equal_at_risk_at_and_sit_on_the_ticks():
    curves = {"A": kaplan_meier(OS_TIME, OS_EVENT), "B": kaplan_meier(OS_TIME[:8], OS_EVENT[:8])}
    fig = figures.plot_km(curves, xlabel="Months", ylabel="OS (%)", xticks_months=[0, 3, 6, 12, 18, 24])
    ax = axis(fig, "curves")
    ticks = ax.get_xticks()
    np.testing.assert_allclose(ticks, [0, 3, 6, 12, 18, 24])
    texts = risk_texts(fig)
    assert len(texts) == 2 * len(ticks)
    for row, km in enumerate(curves.values()):
        row_texts = [t for t in texts if t.get_position()[1] == row]
        np.testing.assert_allclose([t.get_position()[0] for t in row_texts], ticks)
        assert [int(t.get_text()) for t in row_texts] == km.at_risk_at(ticks * MONTH).tolist()
    table = figures.risk_table_data(curves, ticks * MONTH)
    assert table.loc["A"].tolist() == curves["A"].at_risk_at(ticks * MONTH).tolist()
    assert table.loc["A"].tolist() == [16, 14, 11, 7, 4, 1]  # counted by hand: times >= tick


def test_risk_table_lines_up_on_screen_in_subfigures_and_with_max_months():
    fig = plt.figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subfigures(1, 2)
    figures.plot_km(os_curves(), xlabel="Months", ylabel="OS (%)", fig=left)
    figures.plot_km(os_curves(), xlabel="Months", ylabel="OS (%)", max_months=20, fig=right)
    fig.canvas.draw()
    for sub in (left, right):
        ax = axis(sub, "curves")
        tick_px = [ax.transData.transform((x, 0))[0] for x in ax.get_xticks()]
        text_px = [t.get_window_extent().x0 + t.get_window_extent().width / 2 for t in risk_texts(sub)]
        np.testing.assert_allclose(text_px, tick_px, atol=0.6)
        assert max(ax.get_xticks()) <= ax.get_xlim()[1]
    assert max(axis(right, "curves").get_xticks()) <= 20


def test_default_ticks_cover_the_follow_up():
    fig = figures.plot_km(os_curves(), xlabel="Months", ylabel="OS (%)")
    ticks = axis(fig, "curves").get_xticks()
    assert ticks[0] == 0 and ticks[-1] >= max(OS_TIME) / MONTH and len(ticks) <= 9


# ------------------------------------------------------------------------------------------------ KM curves
def censor_marks(fig):
    return [ln for ln in axis(fig, "curves").lines if ln.get_gid() == "censor-marks"]


def test_censor_marks_one_per_censored_time_on_the_curve():
    km = kaplan_meier(OS_TIME, OS_EVENT)
    fig = figures.plot_km({"All": km}, xlabel="Months", ylabel="OS (%)")
    (marks,) = censor_marks(fig)
    assert len(marks.get_xdata()) == int((km.censored > 0).sum()) == 9
    np.testing.assert_allclose(marks.get_ydata(), 100 * km.estimate[km.censored > 0])


@pytest.mark.parametrize(
    ("time", "event"),
    [
        pytest.param([10, 20, 30], [0, 0, 0], id="all_censored"),
        pytest.param([10, 20, 30], [1, 1, 1], id="no_censoring"),
        pytest.param([100], [1], id="one_patient"),
        pytest.param([0, 0, 5], [1, 0, 1], id="event_at_time_zero"),
    ],
)
def test_km_edge_cases_draw(time, event, tmp_path):
    km = kaplan_meier(time, event)
    fig = figures.plot_km({"Cohort": km}, xlabel="Months", ylabel="OS (%)", landmarks_months=[1])
    assert len(censor_marks(fig)) == (1 if (km.censored > 0).any() else 0)
    assert risk_counts(fig) == km.at_risk_at(axis(fig, "curves").get_xticks() * MONTH).tolist()
    figures.save_figure(fig, tmp_path, "edge")


def test_nan_band_is_drawn_as_the_estimate():
    km = kaplan_meier([10, 20, 30, 40], [0, 0, 1, 0])  # S = 1 (NaN log-log band) until day 30
    assert np.isnan(km.ci_low[0])
    fig = figures.plot_km(km, xlabel="Months", ylabel="OS (%)", show_censored=False)
    (band,) = axis(fig, "curves").collections
    (path,) = band.get_paths()  # one polygon: NaN would split the band into pieces with a gap
    assert np.isfinite(path.vertices).all()
    assert path.vertices[:, 0].min() == 0 and path.vertices[:, 0].max() == pytest.approx(40 / MONTH)
    at_one = path.vertices[path.vertices[:, 0] < 30 / MONTH - 1e-9, 1]
    assert at_one.min() == pytest.approx(100)  # the band is 1 (100 %) where S = 1


def test_large_cohort_is_thinned_for_drawing_within_a_tenth_of_a_percent():
    rng = np.random.default_rng(0)
    time = np.round(rng.exponential(600, 20_000), 1)
    km = kaplan_meier(time, rng.random(20_000) < 0.6)
    fig = figures.plot_km(km, xlabel="Months", ylabel="OS (%)")
    ax = axis(fig, "curves")
    (line,) = [ln for ln in ax.lines if ln.get_label().startswith("All patients")]
    x, y = line.get_xdata(), line.get_ydata()
    assert len(x) < len(km.time) / 5
    drawn = y[np.searchsorted(x, km.time / MONTH, side="right") - 1]
    assert np.abs(drawn - 100 * km.estimate).max() < 0.1
    assert not censor_marks(fig)  # thousands of censored times: no marks
    assert risk_counts(fig) == km.at_risk_at(ax.get_xticks() * MONTH).tolist()


def test_no_risk_table_and_single_result():
    fig = figures.plot_km(kaplan_meier(OS_TIME, OS_EVENT), xlabel="Months", ylabel="OS (%)", risk_table=False)
    assert [ax.get_label() for ax in fig.axes] == ["curves"]
    assert "All patients (n = 16; 7 events)" in [t.get_text() for t in fig.legends[0].get_texts()]


# ------------------------------------------------------------------------------------------- competing risks
def test_cif_with_one_event_free_row():
    fig = figures.plot_cif(
        {"Relapse": RELAPSE, "Non-relapse mortality": NRM}, xlabel="Months since second HSCT"
    )
    ticks = axis(fig, "curves").get_xticks()
    assert risk_counts(fig) == RELAPSE.at_risk_at(ticks * MONTH).tolist()
    assert [t.get_text() for t in axis(fig, "risk_table").get_yticklabels()] == ["Event-free"]
    assert len(figures.risk_table_data({"R": RELAPSE, "N": NRM}, ticks * MONTH)) == 2


def test_cif_without_events_draws():
    none = fake_cif([30, 60], [0.0, 0.0], [0, 0], [0, 0], [1, 1], 2)
    fig = figures.plot_cif({"Relapse": none}, xlabel="Months")
    assert risk_counts(fig)[:1] == [2]


def test_state_stack_sums_to_100_percent():
    ax = figures.plot_state_stack(RELAPSE, NRM)
    tops = [np.concatenate([p.vertices for p in c.get_paths()])[:, 1].max() for c in ax.collections]
    assert len(ax.collections) == 3
    assert max(tops) == pytest.approx(100)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[1] == "Relapsed (alive or dead after relapse)"
    remission = ax.collections[0].get_paths()[0].vertices
    at_first_relapse = remission[np.isclose(remission[:, 0], 60 / MONTH), 1]
    assert 90 in np.round(at_first_relapse, 9)  # 1 − 10 % relapse − 0 % NRM from day 60 on


def test_real_cumulative_incidence_results_draw():
    from cartreport.stats import cif

    status = [2, 1, 0, 1, 0, 2, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0]  # 1 relapse, 2 death without relapse
    relapse = cif.aalen_johansen(OS_TIME, status, cause=1)
    nrm = cif.aalen_johansen(OS_TIME, status, cause=2)
    fig = figures.plot_cif(
        {"Relapse": relapse, "Non-relapse mortality": nrm}, xlabel="Months since second HSCT"
    )
    ticks = axis(fig, "curves").get_xticks()
    assert risk_counts(fig) == relapse.at_risk_at(ticks * MONTH).tolist()
    assert len(figures.plot_state_stack(relapse, nrm).collections) == 3


# ------------------------------------------------------------------------------------------------- swimmer
def test_swimmer_draws_every_patient_when_few():
    data = timeline(16)
    ax = figures.plot_swimmer(data)
    assert len(ax.patches) == 16
    assert ax.get_title(loc="left") == ""
    assert sorted(t.get_text() for t in ax.get_yticklabels()) == sorted(data["patient_id"])


def test_swimmer_samples_large_cohorts_deterministically_and_says_so():
    data = timeline(100_000)
    ax = figures.plot_swimmer(data, max_patients=60)
    assert len(ax.patches) == 60
    assert "60 of 100,000 patients" in ax.get_title(loc="left")
    again = figures.plot_swimmer(data.sample(frac=1, random_state=3), max_patients=60)
    np.testing.assert_array_equal([p.get_width() for p in ax.patches], [p.get_width() for p in again.patches])


def test_swimmer_one_patient_with_missing_columns():
    data = pd.DataFrame(
        {"patient_id": ["P1"], "diagnosis": ["T-ALL"], "end_months": [5.0], "censored": [True]}
    )
    ax = figures.plot_swimmer(data)
    assert len(ax.patches) == 1


# ---------------------------------------------------------------------------------------- diagrams and bars
def all_text(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_flow_numbers_come_from_the_dict():
    text = all_text(figures.plot_flow(FLOW))
    assert "n = 16" in text and "n = 15 (MRD-negative n = 14)" in text
    # the patient without CR and the one in CR without a second HSCT each leave where they do (the "Not analysed
    # (n = 2)" box on the arrow into "Analysed" counted the first twice)
    assert "No bone-marrow CR" in text and "No second HSCT" in text and "Not analysed" not in text


def _y_of(fig, start: str) -> float:
    """The height of the first text of ``fig`` that starts with ``start``."""
    return next(t.get_position()[1] for ax in fig.axes for t in ax.texts if t.get_text().startswith(start))


def test_flow_side_boxes_sit_where_the_patients_left_and_add_up():
    """Patients outside a subgroup or infused after the data cut-off were listed in a "Not analysed" box on the
    arrow into "Analysed", and patients without a second HSCT were counted there too though the non-responders
    among them had a box of their own: "Second allogeneic HSCT n = 4", "Not analysed (n = 12)", "Analysed n = 4".
    A CONSORT box sits on the arrow where its patients leave, and each box is the drop between two steps."""
    flow = {
        "enrolled": 16,
        "infused": 7,
        "bm_evaluable": 7,
        "bm_mrd_negative_cr": 6,
        "bm_cr": 6,
        "transplanted": 4,
        "analysed": 4,
        "time_origin": "second_hsct",
        "excluded": [
            {"reason": "outside the selected subgroup", "n": 5},
            {"reason": "infused after the data cut-off of 30 Jun 2021", "n": 4},
            {"reason": "no second HSCT", "n": 3},
        ],
    }
    fig = figures.plot_flow(flow)
    text = all_text(fig)
    assert "Not analysed" not in text
    assert "Excluded (n = 9)" in text and "• outside the selected\nsubgroup: n = 5" in text
    assert "cut-\noff" not in text  # wrapped at spaces, not inside "cut-off"
    assert _y_of(fig, "Received CD7 CAR-T") < _y_of(fig, "Excluded (n = 9)") < _y_of(fig, "Enrolled")
    assert (
        _y_of(fig, "Second allogeneic HSCT")
        < _y_of(fig, "No second HSCT")
        < _y_of(fig, "Bone-marrow complete")
    )
    side = [
        t for ax in fig.axes for t in ax.texts if t.get_position()[0] > 4
    ]  # the side boxes' lines, in order
    # each box's count: in its bold first line ("Excluded (n = 9)") or the line under it ("No second HSCT", "n = 2")
    heads = [
        " ".join(t.get_text() for t in side[i : i + 2])
        for i, t in enumerate(side)
        if t.get_fontweight() == "bold"
    ]
    left = [int(re.search(r"n = (\d+)", head).group(1)) for head in heads]
    assert sorted(left) == [1, 2, 9] and sum(left) == 16 - 4  # 7 − 6 without CR; 6 in CR − 4 transplanted


def test_flow_with_missing_steps():
    text = all_text(figures.plot_flow({"enrolled": 3, "analysed": 3, "excluded": []}))
    assert "Enrolled" in text and "Not analysed" not in text


def test_treatment_sequence_places_intervals_by_name():
    fig = figures.plot_treatment_sequence(
        INTERVALS + [{"name": "odd", "label": "Odd", "n": 1, "median_days": 4, "min_days": 4, "max_days": 4}]
    )
    text = all_text(fig)
    assert "210 d (95–870)\nn = 16" in text and "33 d (25–61)\nn = 14" in text
    assert "Odd: 4 d (4–4), n = 1" in text
    empty = figures.plot_treatment_sequence([{**INTERVALS[0], "median_days": None, "n": 0}])
    assert "d (" not in all_text(empty)


def test_responses_with_not_evaluable():
    ax = figures.plot_responses(RESPONSES)
    texts = [t.get_text() for t in ax.texts]
    assert "14/16" in texts and "15/16" in texts and "not evaluable" in texts
    assert len(ax.patches) == 2


def test_forest_rows_and_missing_values():
    rows = pd.DataFrame(
        {
            "name": ["run 1", "run 2", "run 3"],
            "estimate": [0.578, np.nan, 0.4],
            "ci_low": [0.286, np.nan, np.nan],
            "ci_high": [0.787, np.nan, np.nan],
        }
    )
    ax = figures.plot_forest(rows, xlabel="1-year OS (%)")
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["57.8 (28.6–78.7)", "not estimable", "40.0"]


# --------------------------------------------------------------------------------------------------- saving
def test_svg_byte_identical_and_png_written(tmp_path):
    paths = []
    for run in ("a", "b"):
        fig = figures.plot_km(os_curves(), xlabel="Months since second HSCT", ylabel="Overall survival (%)")
        paths.append(figures.save_figure(fig, tmp_path / run, "os", close=True))
        assert not plt.fignum_exists(fig.number)
    assert paths[0]["svg"].read_bytes() == paths[1]["svg"].read_bytes()
    assert paths[0]["png"].read_bytes() == paths[1]["png"].read_bytes()
    png = paths[0]["png"].read_bytes()
    assert png.startswith(b"\x89PNG") and b"Software" not in png
    assert b"<dc:date>" not in paths[0]["svg"].read_bytes()
    assert not list((tmp_path / "a").glob(".*partial"))


def test_save_figure_accepts_axes_and_rejects_paths(tmp_path):
    ax = figures.plot_responses(RESPONSES)
    assert figures.save_figure(ax, tmp_path, "responses", formats=("png",))["png"].exists()
    with pytest.raises(ValueError):
        figures.save_figure(ax, tmp_path, "../escape")


def test_theme_sets_palette_and_fonts():
    assert plt.rcParams["axes.prop_cycle"].by_key()["color"][0] == figures.PALETTE[0]
    assert plt.rcParams["font.size"] == 7 and not plt.rcParams["axes.spines.top"]
    assert math.isclose(figures.DAYS_PER_MONTH * 12, 365.25)


def test_dollar_signs_in_data_are_text_not_mathtext(tmp_path):
    """A subgroup value or patient id with ``$`` is drawn as written: mathtext would italicise ``$T$`` and fail
    on ``$x^$``, losing the figure."""
    curves = {
        "diagnosis = $x^$": os_curves()["All patients"],
        "diagnosis = $T$ <b>": os_curves()["All patients"],
    }
    fig = figures.plot_km(curves, xlabel="Months", ylabel="OS (%)")
    svg = figures.save_figure(fig, tmp_path, "km", close=True)["svg"].read_text(encoding="utf-8")
    assert "diagnosis = $x^$" in svg and "diagnosis = $T$ &lt;b&gt;" in svg


# ------------------------------------------------------------------------------------- publication layout
def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _legend_and_data(fig):
    fig.canvas.draw()
    legend = (fig.legends or [ax.get_legend() for ax in fig.axes if ax.get_legend()])[0]
    return legend.get_window_extent(), axis(fig, "curves").get_window_extent()


@pytest.mark.parametrize("kind", ["km", "cif", "km_groups"])
def test_curve_legends_sit_above_the_data(kind):
    if kind == "cif":
        fig = figures.plot_cif({"Relapse": RELAPSE, "Non-relapse mortality": NRM}, xlabel="Months")
    else:
        curves = os_curves() if kind == "km" else {"T-ALL": os_curves()["All patients"], "T-LBL": km_b()}
        fig = figures.plot_km(curves, xlabel="Months", ylabel="OS (%)", landmarks_months=[6, 12, 24])
    legend, data = _legend_and_data(fig)
    assert not _overlaps(legend, data)
    assert legend.y0 >= data.y1 - 1e-6


def km_b():
    return kaplan_meier([20, 90, 130, 400, 610], [1, 0, 1, 0, 0])


def test_several_bands_have_no_fill_and_each_its_own_hatch():
    fig = figures.plot_km({"A": os_curves()["All patients"], "B": km_b()}, xlabel="Months", ylabel="OS (%)")
    bands = [c for c in axis(fig, "curves").collections if c.get_gid() == "ci-band"]
    assert len(bands) == 2
    assert all(c.get_facecolor().size == 0 or c.get_facecolor()[0][3] == 0 for c in bands)
    assert len({c.get_hatch() for c in bands}) == 2


def test_group_labels_plurals_legend_title_and_test_note():
    fig = figures.plot_km(
        {"T-ALL": os_curves()["All patients"], "T-LBL": kaplan_meier([30, 200], [1, 0])},
        xlabel="Months",
        ylabel="OS (%)",
        legend_title="diagnosis",
        note="Log-rank test: p = 0.5",
    )
    legend = fig.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    assert "T-ALL (n = 16; 7 events)" in texts and "T-LBL (n = 2; 1 event)" in texts
    assert legend.get_title().get_text() == "diagnosis"
    assert axis(fig, "curves").get_title(loc="right") == "Log-rank test: p = 0.5"


def test_figures_are_drawn_at_journal_column_widths():
    single, double = 85 / 25.4, 174 / 25.4
    assert math.isclose(figures.plot_km(os_curves(), xlabel="M", ylabel="OS").get_figwidth(), single)
    assert math.isclose(figures.plot_state_stack(RELAPSE, NRM).figure.get_figwidth(), single)
    assert math.isclose(figures.plot_swimmer(timeline(16)).figure.get_figwidth(), double)
    assert math.isclose(figures.plot_flow(FLOW).get_figwidth(), double)


def test_swimmer_time_axis_follows_the_six_month_rule_and_shows_the_infusion_whole():
    data = timeline(16)
    ax = figures.plot_swimmer(data)
    ticks = ax.get_xticks()
    assert np.allclose(np.diff(ticks), 6.0) and ticks[0] == 0  # follow-up up to 30 months: 6-month steps
    assert ax.get_xlim()[0] < 0
    infusion = next(line for line in ax.lines if line.get_marker() == "D")
    assert not infusion.get_clip_on()
    (legend,) = ax.figure.legends
    ax.figure.canvas.draw()
    assert legend.get_window_extent().y0 >= ax.get_window_extent().y1 - 1e-6


def test_swimmer_markers_close_in_time_are_spread_on_the_bar():
    data = pd.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "diagnosis": ["T-ALL", "T-ALL"],
            "end_months": [12.0, 20.0],
            "second_hsct_months": [1.0, 1.0],
            "relapse_months": [11.9, 8.0],
            "death_months": [12.0, np.nan],
            "censored": [False, True],
        }
    )
    ax = figures.plot_swimmer(data)
    y_of = {}
    for line in ax.lines:
        for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True):
            if np.isfinite(x):
                y_of[(line.get_marker(), round(float(x), 3), round(float(y)))] = float(y)
    relapse_p1 = next(v for (m, x, row), v in y_of.items() if m == "X" and x == 11.9)
    death_p1 = next(v for (m, x, row), v in y_of.items() if m == "s" and x == 12.0)
    relapse_p2 = next(v for (m, x, row), v in y_of.items() if m == "X" and x == 8.0)
    assert relapse_p1 != death_p1 and abs(relapse_p1 - death_p1) <= 0.5  # spread, still on the patient's row
    assert relapse_p2 == 0.0  # alone: on the centre line of its bar (row 0: P2 has the longest follow-up)


def test_save_figure_writes_print_png_svg_and_pdf(tmp_path):
    from PIL import Image

    fig = figures.plot_km(os_curves(), xlabel="Months", ylabel="OS (%)")
    paths = figures.save_figure(fig, tmp_path, "os")
    assert set(paths) == {"png", "svg", "pdf"}
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    with Image.open(paths["png"]) as image:
        assert abs(image.width - 85 / 25.4 * 300) <= 1
        assert round(image.info["dpi"][0]) == 300


@pytest.mark.parametrize(
    ("n", "choices"),
    [
        (500, [0.0, 1.5, 3.0, 12.25, np.nan]),
        (3_001, [7.0]),  # one follow-up time for all: every row is a tie
        (3_001, [np.nan]),
        (61, [0.0, -0.0, 2.0, np.inf, -np.inf, np.nan]),  # one more than drawn
        (20_000, list(np.round(np.arange(400) / 30.4375, 6)) + [np.nan]),
    ],
    ids=["few-times", "all-equal", "all-missing", "61-rows", "many-times"],
)
def test_swimmer_sample_is_the_sort_by_follow_up_then_id_as_text(n, choices):
    """The sample's order is sort_values(["end_months", id as text], ascending=[False, True], mergesort): ties in
    follow-up by id, ids compared as Python compares text, missing follow-up last. A large cohort is not sorted
    whole (only the tied rows at the drawn positions are); the rows drawn are those of the whole sort."""
    from cartreport.report.figures.patients import _systematic_sample

    rng = np.random.default_rng(7)
    ids = np.array(
        [rng.choice(["P", "p", "é", "Z", "ä", "10", "9", "\U0001f600"]) + str(i) for i in range(n)],
        dtype=object,
    )
    ids[3] = 42  # not text: compared as its text
    ends = rng.choice(choices, size=n)
    timeline = pd.DataFrame(
        {"patient_id": ids, "end_months": ends, "diagnosis": "T-ALL"}, index=range(5, n + 5)
    )
    expected = (
        timeline.assign(_id=timeline["patient_id"].astype(str))
        .sort_values(["end_months", "_id"], ascending=[False, True], kind="mergesort")
        .drop(columns="_id")
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(_systematic_sample(timeline, n), expected)
    drawn = np.unique(np.round(np.linspace(0, n - 1, 60)).astype(int))
    pd.testing.assert_frame_equal(
        _systematic_sample(timeline, 60), expected.iloc[drawn].reset_index(drop=True)
    )


def test_a_long_curve_name_wraps_in_the_risk_table_and_the_plot_keeps_its_width(tmp_path):
    """The chronic GVHD figure named a curve "Moderate–severe chronic GVHD": on one line in the risk table it
    narrowed the axes until constrained layout gave up ("axes sizes collapsed to zero") and the legend ran off."""
    import warnings

    curves = {
        "Chronic GVHD": kaplan_meier(OS_TIME, OS_EVENT),
        "Moderate\u2013severe chronic GVHD": kaplan_meier(OS_TIME, OS_EVENT),
    }
    fig = figures.plot_km(curves, xlabel="Months since second allogeneic HSCT", ylabel="Probability (%)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a layout that gives up fails the test
        figures.save_figure(fig, tmp_path, "long", formats=("png",))
    labels = [t.get_text() for t in axis(fig, "risk_table").get_yticklabels()]
    assert labels == ["Chronic GVHD", "Moderate\u2013severe\nchronic GVHD"]
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0] if fig.legends else next(ax.get_legend() for ax in fig.axes if ax.get_legend())
    assert fig.bbox.contains(*legend.get_window_extent(renderer).p1)
    plt.close(fig)


def _embedded_fonts(pdf: bytes) -> list:
    """The TrueType fonts embedded in a PDF written by matplotlib (each ``/FontFile2`` stream, Flate-decoded)."""
    import io
    import re
    import zlib

    from fontTools.ttLib import TTFont

    fonts = []
    for number in re.findall(rb"/FontFile2 (\d+) 0 R", pdf):
        body = re.search(rb"\n" + number + rb" 0 obj\n(.*?)stream\n", pdf, re.DOTALL)
        start = body.end()
        length = int(re.search(rb"/Length (\d+)", body.group(1)).group(1))
        fonts.append(TTFont(io.BytesIO(zlib.decompress(pdf[start : start + length]))))
    return fonts


def test_the_pdf_embeds_its_fonts_without_layout_tables_and_leaves_fonttools_as_it_was(tmp_path):
    """A PDF places every glyph itself (kerning included, from matplotlib's layout), so the embedded subset needs
    no OpenType layout tables; fontTools parsing DejaVu Sans' GSUB and GPOS for every PDF was a third of its time.
    The tables are dropped for cartreport's PDFs only: fontTools' defaults are as they were afterwards."""
    from fontTools import subset

    before = list(subset.Options().drop_tables)
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_title("Overall survival, fi ff ffi")
    figures.save_figure(fig, tmp_path, "f", formats=("pdf",), close=True)
    fonts = _embedded_fonts((tmp_path / "f.pdf").read_bytes())
    assert fonts and all("glyf" in font for font in fonts)
    assert not any(tag in font for font in fonts for tag in ("GSUB", "GPOS", "GDEF", "kern"))
    assert list(subset.Options().drop_tables) == before


@pytest.mark.parametrize(
    "attached", [True, False], ids=["pyplot figure", "figure without a canvas of its own"]
)
def test_the_screen_image_is_quantized_from_the_drawing_without_a_png_round_trip(monkeypatch, attached):
    """The report's screen images (``palette=True``) used to be encoded as a full-colour PNG, decoded again by
    Pillow and quantized: a quarter of a figure's screen time went on the PNG in between. The drawing's pixels
    are now quantized directly; the image is the one the PNG route gives (the route is the reference here)."""
    import io

    from matplotlib.figure import Figure
    from PIL import Image

    def draw():  # a new figure each time: a second drawing can differ (constrained layout starts from the first)
        if attached:
            return figures.plot_km(
                os_curves(), xlabel="Months since second HSCT", ylabel="Overall survival (%)"
            )
        # matplotlib.figure.Figure(): savefig lends it an Agg canvas only while it draws
        fig = Figure(figsize=(3, 2), layout="constrained")
        fig.add_subplot().plot([0, 1, 2], [1, 0.6, 0.5], label="Overall survival")
        return fig

    full = io.BytesIO()
    draw().savefig(full, format="png", dpi=240)
    fig = draw()
    with Image.open(full) as image:
        expected = np.asarray(
            image.convert("RGB")
            .quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
            .convert("RGB")
        )
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    screen = io.BytesIO()
    figures.save_png(fig, screen, dpi=240, palette=True)
    monkeypatch.undo()
    # a PNG decoded only for a figure that Agg does not draw for us (the fallback)
    assert len(opened) == (0 if attached else 1)
    with Image.open(io.BytesIO(screen.getvalue())) as image:
        assert image.mode == "P" and image.info.get("dpi") == pytest.approx((240, 240), abs=0.01)
        assert np.array_equal(np.asarray(image.convert("RGB")), expected)
    plt.close("all")


def test_the_print_files_share_the_layout_of_the_first_and_the_figure_keeps_its_engine(tmp_path, monkeypatch):
    """Each print file ran constrained layout again: a fifth of the SVG's and PDF's time. The PNG is laid out; the SVG
    and PDF are drawn with its layout. Afterwards the figure lays itself out again as before (its engine restored,
    also when a save fails)."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    fig = figures.plot_km(os_curves(), xlabel="Months since second HSCT", ylabel="Overall survival (%)")
    engine = fig.get_layout_engine()
    assert isinstance(engine, ConstrainedLayoutEngine)
    runs = []
    real = ConstrainedLayoutEngine.execute
    monkeypatch.setattr(ConstrainedLayoutEngine, "execute", lambda self, f: runs.append(f) or real(self, f))
    paths = figures.save_figure(fig, tmp_path, "os")
    assert sorted(paths) == ["pdf", "png", "svg"] and all(p.stat().st_size > 0 for p in paths.values())
    assert len(runs) == 1, "laid out once, for the PNG"
    assert fig.get_layout_engine() is engine
    runs.clear()
    fig.canvas.draw()
    assert len(runs) == 1, "the figure lays itself out again"

    def refuse(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(fig.canvas), "print_svg", refuse, raising=False)
    with pytest.raises(OSError):
        figures.save_figure(fig, tmp_path, "again")
    assert fig.get_layout_engine() is engine
    plt.close(fig)


# ------------------------------------------------------------------------------------- text from the data, bounded
def _drawn_without_warnings(fig):
    """Draw ``fig``; fail on any warning (constrained layout gives up with a UserWarning when labels crowd out the
    axes)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    return fig


def _inside(artist, fig, tol: float = 1.0) -> bool:
    box, page = artist.get_window_extent(), fig.bbox
    return (
        box.x0 >= page.x0 - tol
        and box.x1 <= page.x1 + tol
        and box.y0 >= page.y0 - tol
        and box.y1 <= page.y1 + tol
    )


def test_swimmer_keeps_its_bars_when_an_id_or_a_diagnosis_is_very_long():
    """A 10,000-character patient_id (a notes column mapped by mistake) and a sentence-long diagnosis squeezed the
    bars to nothing: constrained layout gave up (a UserWarning on the user's terminal), the id ran off the figure
    and the BM / EMD column was cut. Text from the data is now clipped in the middle to 40 characters (the ends,
    where ids differ, are kept); ids of a usual length are drawn whole."""
    data = timeline(16)
    usubjid = "STUDY-CD7CART-2023-SITE01-SUBJECT-0001"  # 38 characters: a CDISC USUBJID is drawn whole
    data.loc[0, "patient_id"] = "X" * 9_990 + "-TAIL-0001"
    data.loc[1, "patient_id"] = usubjid
    data.loc[2, "diagnosis"] = "T-lymphoblastic lymphoma with mediastinal mass and CNS involvement at relapse"
    ax = figures.plot_swimmer(data)
    fig = _drawn_without_warnings(ax.figure)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert max(map(len, labels)) == 40
    assert usubjid in labels and "P04" in labels
    clipped = next(label for label in labels if label.startswith("XXX"))
    assert clipped.endswith("-TAIL-0001") and "…" in clipped
    assert ax.get_position().width > 0.45  # the bars keep more than 45% of the figure's width
    (legend,) = fig.legends
    assert _inside(legend, fig)
    assert any(
        t.get_text().startswith("T-lymphoblastic lym") and "…" in t.get_text() for t in legend.get_texts()
    )
    assert all(_inside(t, fig) for t in ax.texts)  # the BM / EMD column
    plt.close(fig)


def test_swimmer_with_more_diagnoses_than_colours_groups_the_rarest():
    """Colours were reused beyond eight diagnoses, so two diagnoses shared a colour and the legend could not tell
    them apart, and a third diagnosis was drawn in black, hiding the black event markers. Seven colours, black left
    out: with more diagnoses the six most frequent keep one each and the rest are one grey "Other" entry that
    counts them."""
    data = timeline(30)
    data["diagnosis"] = ["T-ALL"] * 10 + ["T-LBL"] * 6 + [f"Rare {i}" for i in range(14)]
    ax = figures.plot_swimmer(data)
    fig = _drawn_without_warnings(ax.figure)
    names = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "T-ALL" in names and "T-LBL" in names
    other = [name for name in names if name.startswith("Other")]
    assert other == [
        "Other diagnoses (10)"
    ]  # T-ALL, T-LBL and 4 of the 14 rare ones (name order) keep a colour
    colours = {tuple(p.get_facecolor()) for p in ax.patches}
    assert len(colours) == 7 and (0.0, 0.0, 0.0, 1.0) not in colours  # 6 diagnoses and the grey; never black
    palette = {matplotlib.colors.to_rgba(c) for c in figures.PALETTE}
    assert len(colours - palette) == 1  # the report's one palette, and the grey
    plt.close(fig)


def test_km_legend_and_risk_table_stay_on_the_figure_with_a_very_long_group_name():
    """A subgroup value is text from the data: 10,000 characters wrapped into 455 risk-table lines. Clipped to 40
    characters first, then wrapped as a long name always was."""
    long_name = "Y" * 10_000
    km = kaplan_meier(OS_TIME, OS_EVENT)
    fig = figures.plot_km({long_name: km, "T-LBL": km}, xlabel="Months", ylabel="Overall survival (%)")
    fig = _drawn_without_warnings(fig)
    assert fig.get_size_inches()[1] < 5
    risk = next(ax for ax in fig.axes if ax.get_label() == "risk_table")
    assert max(len(t.get_text()) for t in risk.get_yticklabels()) <= 45  # 40 characters and line breaks
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert any(t.startswith("YYYY") and "…" in t and "(n = 16; 7 events)" in t for t in texts)
    assert all(_inside(legend, fig) for legend in fig.legends)
    plt.close(fig)


@pytest.mark.parametrize(
    ("column", "title"),
    [("diagnosis", "Diagnosis"), ("donor_type", "Donor of the second HSCT"), ("site", "site")],
)
def test_the_subgroup_legend_is_titled_as_table_1_names_the_column(column, title, tmp_path):
    """The legend of the curves by subgroup was titled "diagnosis" (lower case, the prose's form of the name) over
    "ETP-ALL", "T-ALL": a legend title starts a line, as Table 1's "Diagnosis" does. A column of the user's own file
    ("site") is shown as written."""
    from cartreport import api
    from cartreport.cohorts.synthetic import synthetic_cohort

    data = synthetic_cohort(30, seed=2).assign(site=["Paris", "Lyon", "Nantes"] * 10)
    data.to_csv(tmp_path / "cohort.csv", index=False)
    analysis = api.load_analysis(data=str(tmp_path / "cohort.csv"), subgroup_by=column)
    for endpoint in ("os", "relapse"):
        fig = figures.subgroup_figure(analysis, endpoint)
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
        assert [legend.get_title().get_text() for legend in legends] == [title]
        plt.close(fig)


def test_values_that_clip_alike_are_told_apart():
    """Two patient ids of 60 characters that share their first 19 and last 20 (a site prefix and a sequence suffix
    around a differing middle) were drawn with the same clipped label: two rows of the swimmer plot, one name. Values
    that differ keep different labels; the rest are as ``data_label`` draws them."""
    from cartreport.report.figures.style import data_label, data_labels

    first, second = "SITE-0001-" + "A" * 20 + "-x-" + "B" * 27, "SITE-0001-" + "A" * 20 + "-y-" + "B" * 27
    assert data_label(first) == data_label(second)  # the collision, as clipped
    labels = data_labels([first, "T-ALL", second, first])
    assert len(set(labels[:3])) == 3 and labels[3] == labels[0]  # the same value keeps its one label
    assert labels[1] == "T-ALL" and all(len(label) <= 45 for label in labels)
    assert data_labels(["T-ALL", "T-LBL"]) == ["T-ALL", "T-LBL"]
    # values that differ only in runs of white space, drawn alike on one line, are told apart too
    assert len(set(data_labels(["T  ALL", "T ALL"]))) == 2


def test_a_group_without_events_reads_no_events_as_the_prose_and_legend_say():
    """Non-relapse mortality by diagnosis: the plot's key read "T-LBL (0 events)" where the paragraph says "(no
    events)" and the figure's legend "no deaths"."""
    fig = figures.plot_km(
        {"T-ALL": os_curves()["All patients"], "T-LBL": kaplan_meier([30, 200], [0, 0])},
        xlabel="Months",
        ylabel="OS (%)",
    )
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "T-LBL (n = 2; no events)" in texts, texts
    fig = figures.plot_cif({"Relapse": RELAPSE, "Non-relapse mortality": NRM}, xlabel="Months")
    assert all(" 0 events" not in t.get_text() for t in _legend_texts(fig))


def _legend_texts(fig):
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    return [t for legend in legends for t in legend.get_texts()]


def test_flow_shows_patients_transplanted_without_cr():
    """The diagram drew "Bone-marrow complete remission n = 15 → Second allogeneic HSCT n = 15" without a box when
    one patient in CR had no transplant and one non-responder had one. The HSCT box says how many came without CR,
    and the "No second HSCT" box counts the patients in CR who had none."""
    flow = {**FLOW, "bm_cr": 15, "transplanted": 15, "transplanted_without_cr": 1, "analysed": 15}
    flow["excluded"] = [{"reason": "no second HSCT", "n": 1}]
    fig = figures.plot_flow(flow)
    lines = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "n = 15 (1 without bone-marrow CR)" in lines
    assert lines[lines.index("No second HSCT") + 1] == "n = 1"  # 15 in CR − 14 of them transplanted
    assert (
        _y_of(fig, "Second allogeneic HSCT")
        < _y_of(fig, "No second HSCT")
        < _y_of(fig, "Bone-marrow complete")
    )
