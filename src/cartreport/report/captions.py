"""Figure legends and table titles that read like a journal's: what is plotted, what the bands and marks mean, the
method — and a specific alternative text for every figure.

Like :mod:`cartreport.report.prose`, everything is written from ``results`` alone (every number computed, none typed).
The numbers themselves ("Figure 3") come from :mod:`cartreport.report.numbering` when the figure or table is shown.

Examples
--------
>>> from cartreport.api import load_analysis
>>> caption = figure("km_os_lfs", load_analysis().results)
>>> caption.title
'Overall and leukemia-free survival'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cartreport import formatting as fmt
from cartreport.report import numbering

__all__ = [
    "FLOW_STEPS",
    "Caption",
    "flow_steps",
    "figure",
    "p_value_note",
    "table_title",
    "the_origin",
    "without_cr",
]

#: main boxes of the patient flow, in order: (key in ``flow``, title)
FLOW_STEPS: tuple[tuple[str, str], ...] = (
    ("enrolled", "Enrolled"),
    ("infused", "Received CD7 CAR-T"),
    ("bm_evaluable", "Evaluable for bone-marrow response"),
    ("bm_cr", "Bone-marrow complete remission"),
    ("transplanted", "Second allogeneic HSCT"),
    ("analysed", "Analysed for survival"),
)


def flow_steps(flow: dict) -> tuple[tuple[str, str], ...]:
    """:data:`FLOW_STEPS` as the diagram and its alternative text name them for this flow: timed from the CAR-T
    infusion, the last box says that patients are analysed whether transplanted or not."""
    if flow.get("time_origin") != "cart_infusion":
        return FLOW_STEPS
    analysed = "Analysed for survival from the CAR-T infusion (transplanted or not)"
    return tuple((k, analysed if k == "analysed" else t) for k, t in FLOW_STEPS)


SURVIVAL = ("os", "lfs")


@dataclass(frozen=True)
class Caption:
    """A figure's legend: ``title`` (one phrase), ``legend`` (the sentences after it) and ``alt`` (the text read
    out in place of the image, saying what it shows)."""

    title: str
    legend: str
    alt: str


def _level(results: dict) -> str:
    return fmt.level_label(results["parameters"]["ci_level"])


def the_origin(results: dict) -> str:
    """Time zero as a sentence names it, after "from" or "since": "the second allogeneic HSCT" (as the prose)."""
    return f"the {results.get('time_origin_label') or results['parameters']['time_origin']}"


def subgroup_title(column: str) -> str:
    """A ``subgroup_by`` column as a title names it (a legend's, starting a line): a contract column as Table 1
    does (``donor_type`` → "Donor of the second HSCT"), the user's own column as written ("site")."""
    from cartreport.analysis.baseline import CATEGORICAL_LABELS

    return CATEGORICAL_LABELS.get(column, column)


def subgroup_name(column: str) -> str:
    """A ``subgroup_by`` column as the report's sentences name it: a contract column as Table 1 does, in lower case
    (``donor_type`` → "donor of the second HSCT"), the user's own column as written ("site")."""
    from cartreport.analysis.baseline import CATEGORICAL_LABELS

    title = subgroup_title(column)
    return title[:1].lower() + title[1:] if column in CATEGORICAL_LABELS else title


def subgroup_members(column: str, value: object) -> str:
    """The patients of one subgroup, after "the n patients": "with T-ALL" for a diagnosis, else "whose donor of
    the second HSCT was haploidentical"."""
    return f"with {value}" if column == "diagnosis" else f"whose {subgroup_name(column)} was {value}"


def _patients(n: int) -> str:
    return fmt.counted(n, "patient")


def _tick_step(block: dict) -> str | None:
    months = [row["months"] for row in block.get("risk_table", [])]
    return fmt.number(months[1] - months[0]) if len(months) > 1 else None


def _ticks_sentence(block: dict, what: str) -> str:
    step = _tick_step(block)
    every = "" if not step else ", every month" if step == "1" else f", every {step} months"
    return f"Numbers under the plot: {what} at each tick of the time axis{every}."


def _landmarks_phrase(results: dict) -> str:
    months = results["parameters"].get("landmarks_months") or []
    if not months:
        return ""
    listed = [fmt.number(m) for m in months]
    joined = listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} and {listed[-1]}"
    return f" Dotted vertical lines: the landmark{'s' * (len(listed) != 1)} at {joined} months."


def _at_landmark(block: dict) -> str:
    """``"57.8% at 12 months"`` (the last landmark with an estimate), or ``""``."""
    found = [lm for lm in block.get("landmarks", []) if lm.get("estimate") is not None]
    if not found:
        return ""
    lm = found[-1]
    return f"{fmt.percent(lm['estimate'])} at {fmt.number(lm['months'])} months"


def _events(n: int, one: str = "event", many: str = "events") -> str:
    """``"5 deaths"``, ``"1 event"``; none in words, as the prose writes it: ``"no deaths"``."""
    return fmt.counted(n, one, many, zero="no")


# ------------------------------------------------------------------------------------------------- figures
def p_value_note(test: dict | None) -> str | None:
    """The note a by-subgroup figure prints on its plot: ``"Log-rank test: p = 0.42"`` from a test of
    ``results["subgroups"]["tests"]``; ``None`` without a test."""
    if not test:
        return None
    return f"{test['method'][:1].upper()}{test['method'][1:]}: {fmt.p_value(test['p_value'])}"


def _treatment_sequence(results: dict) -> Caption:
    shown = [i for i in results.get("intervals", []) if i.get("median_days") is not None]
    steps = "; ".join(f"{i['label']}: median {fmt.number(i['median_days'])} days" for i in shown)
    return Caption(
        "Treatment sequence",
        "The steps of treatment in order, from the first allogeneic HSCT to follow-up. Brackets under the steps: "
        "median (range) days between two steps over the patients with both dates (n).",
        "Diagram of the treatment sequence: first HSCT, relapse, CD7 CAR-T, response assessment, second HSCT, "
        f"follow-up{'. ' + steps if steps else ''}.",
    )


def without_cr(flow: dict) -> str:
    """``" (1 without bone-marrow CR)"`` after the count of patients with a second HSCT when some reached it
    without bone-marrow CR (the flow's steps are not nested there); ``""`` otherwise."""
    n = flow.get("transplanted_without_cr") or 0
    return f" ({fmt.count(n)} without bone-marrow CR)" if n else ""


def _patient_flow(results: dict) -> Caption:
    flow = results["flow"]
    steps = "; ".join(
        f"{title}: {fmt.count(flow[key])}{without_cr(flow) if key == 'transplanted' else ''}"
        for key, title in flow_steps(flow)
        if flow.get(key) is not None
    )
    return Caption(
        "Patient flow",
        "Patients at each step from enrolment to analysis; boxes at the side give the patients who left between two "
        "steps, and why.",
        f"Flow diagram of patient numbers. {steps}.",
    )


def _swimmer(results: dict) -> Caption:
    n = results["n_patients"]
    return Caption(
        "Course of each patient after CD7 CAR-T",
        f"One bar per patient ({_patients(n)}), sorted by follow-up, from the CD7 CAR-T infusion (month 0, "
        "diamond) to death or last contact, coloured by diagnosis. Triangle: second HSCT; cross: relapse; square: "
        "death; open arrowhead: alive at last contact. Markers of one patient that fall close together are spread "
        "across the bar's height. Right: best bone-marrow (BM) / extramedullary (EMD) response; a dash means not "
        "assessed or no extramedullary disease at baseline.",
        f"Swimmer plot of {_patients(n)}: one horizontal bar per patient from CAR-T infusion to death or last "
        "contact, with second HSCT, relapse and death marked.",
    )


def _response_rates(results: dict) -> Caption:
    items = list(results.get("responses", {}).values())
    rates = "; ".join(
        f"{i['label']} {fmt.count(i['responders'])}/{fmt.count(i['evaluable'])}"
        + (f" ({fmt.percent(i['rate'])})" if i.get("rate") is not None else "")
        for i in items
    )
    return Caption(
        "Response rates after CD7 CAR-T",
        "Bars: proportion of evaluable patients responding; whiskers: confidence intervals; right: responders / "
        f"evaluable patients. {results['methods']['response_ci']}",
        f"Horizontal bar chart of response rates: {rates}.",
    )


def _km_os_lfs(results: dict) -> Caption:
    os_, lfs = results["endpoints"]["os"], results["endpoints"]["lfs"]
    params = results["parameters"]
    at = [f"{b['label'].lower()} {_at_landmark(b)}" for b in (os_, lfs) if _at_landmark(b)]
    return Caption(
        "Overall and leukemia-free survival",
        f"Kaplan–Meier estimates for {_patients(os_['n'])} from {the_origin(results)} ({_events(os_['events'], 'death', 'deaths')}; "
        f"{_events(lfs['events'])} of relapse or death). Hatched areas between dashed lines: pointwise "
        f"{_level(results)} confidence intervals ({params['ci_method']}, Greenwood variance); vertical ticks: "
        f"censored observations.{_landmarks_phrase(results)} {_ticks_sentence(os_, 'patients at risk')}",
        f"Kaplan–Meier curves of overall and leukemia-free survival over months since {the_origin(results)}"
        + (f"; {' and '.join(at)}." if at else "."),
    )


def _cif_relapse_nrm(results: dict) -> Caption:
    relapse, nrm = results["endpoints"]["relapse"], results["endpoints"]["nrm"]
    at = [f"{b['label'].lower()} {_at_landmark(b)}" for b in (relapse, nrm) if _at_landmark(b)]
    return Caption(
        "Cumulative incidence of relapse and non-relapse mortality",
        f"Aalen–Johansen estimates for {_patients(relapse['n'])} from {the_origin(results)}, with relapse "
        f"({_events(relapse['events'], 'relapse', 'relapses')}) and death without relapse "
        f"({_events(nrm['events'], 'death', 'deaths')}) as competing risks. Hatched areas between dashed lines: "
        f"pointwise {_level(results)} confidence intervals (log-log, Gray's variance as R cmprsk::cuminc). "
        f"{_ticks_sentence(relapse, 'patients alive without relapse')}",
        f"Cumulative incidence curves of relapse and non-relapse mortality over months since {the_origin(results)}"
        + (f"; {' and '.join(at)}." if at else "."),
    )


def _state_stack(results: dict) -> Caption:
    return Caption(
        "Patients' state over time",
        f"Share of patients alive without relapse (green), relapsed whatever happened after relapse (orange) and "
        f"dead without relapse (grey) at each time since {the_origin(results)}, stacked to 100%, from the "
        f"Aalen–Johansen estimates of {numbering.figure('cif_relapse_nrm')}.",
        f"Stacked area chart of the share of patients alive without relapse, relapsed and dead without relapse over "
        f"months since {the_origin(results)}.",
    )


def _by_subgroup(key: str) -> Callable[[dict], Caption | None]:
    def caption(results: dict) -> Caption | None:
        sub = results.get("subgroups")
        if not sub:
            return None
        label = results["endpoints"][key]["label"]
        test = sub.get("tests", {}).get(key)
        by = (
            test["method"]
            if test and test["method"].startswith("Gray")
            else f"the {test['method']}"
            if test
            else ""
        )
        tested = f" Compared by {by}, {fmt.p_value(test['p_value'])}." if test else ""
        groups = ", ".join(f"{g['value']} ({_patients(g['n'])})" for g in sub["groups"])
        if key in SURVIVAL:
            method = (
                f"Kaplan–Meier estimates by {subgroup_name(sub['column'])}: {groups}. Hatched areas between dashed lines: pointwise "
                f"{_level(results)} confidence intervals; vertical ticks: censored observations."
                f"{_landmarks_phrase(results)}"
            )
        else:
            method = (
                f"Aalen–Johansen estimates by {subgroup_name(sub['column'])}, with the competing risk as in "
                f"{numbering.figure('cif_relapse_nrm')}: {groups}. Hatched areas between dashed lines: pointwise "
                f"{_level(results)} confidence intervals."
            )
        return Caption(
            f"{label} by {subgroup_name(sub['column'])}",
            f"{method}{tested} Numbers under the plot: patients at risk in each group.",
            f"{label} curves by {subgroup_name(sub['column'])} ({groups}){'; ' + fmt.p_value(test['p_value']) if test else ''}.",
        )

    return caption


def _grades(results: dict) -> Caption | None:
    safety = results.get("safety") or {}
    if not safety:
        return None
    shown = "; ".join(
        f"{key.upper()}: {_patients(s['evaluable'])} assessed, any grade {fmt.percent(s['any']['rate'])}"
        for key, s in safety.items()
    )
    return Caption(
        "Cytokine release syndrome and neurotoxicity by grade",
        "Patients assessed by ASTCT consensus grade, from grade 0 (none, light grey) to grade 5 (fatal), as a "
        "percentage of the infused patients assessed for each syndrome; numbers in the bars: patients.",
        f"Stacked bar chart of CRS and ICANS grades. {shown}.",
    )


def _lower_first(label: str) -> str:
    """``"Acute GVHD grade II–IV"`` → ``"acute GVHD grade II–IV"``; ``"GRFS"`` unchanged."""
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def _landmark_days(days: list[int], keys: tuple[str, ...]) -> str:
    """Landmark days as the figure's axis reads them: ``"days 100 and 180"`` on an axis in days, ``"1 and 2 years
    (days 365 and 730)"`` on one in months (:data:`~cartreport.analysis.transplant_results.FIGURE_GROUPS`)."""
    from cartreport.analysis.transplant_results import FIGURE_GROUPS

    in_days = f"day{'s' * (len(days) != 1)} {fmt.listed(fmt.count(d) for d in days)}"
    unit = next((unit for group, unit, _ in FIGURE_GROUPS.values() if group[0] == keys[0]), 1.0)
    if unit == 1.0 or any(d % 365 for d in days):
        return in_days
    years = [d // 365 for d in days]
    return f"{fmt.listed(fmt.count(y) for y in years)} year{'s' * (years != [1])} ({in_days})"


def _transplant_curves(name: str, keys: tuple[str, ...], title: str) -> Callable[[dict], Caption | None]:
    def caption(results: dict) -> Caption | None:
        blocks = [results["endpoints"][k] for k in keys if k in results["endpoints"]]
        if not blocks:
            return None
        n = blocks[0]["n"]
        events = "; ".join(f"{_lower_first(b['label'])}: {_events(b['events'])}" for b in blocks)
        if name == "km_grfs_os_lfs":
            method = (
                f"Kaplan–Meier estimates for {_patients(n)} from the second allogeneic HSCT ({events}); overall and "
                "leukemia-free survival are drawn beside GRFS when timed from the same origin. Bands: "
                f"pointwise {_level(results)} confidence intervals; vertical ticks: censored observations."
            )
        else:
            method = (
                f"Aalen–Johansen estimates for {_patients(n)} from the second allogeneic HSCT ({events}), with "
                f"death without the event as the competing risk. Bands: pointwise {_level(results)} "
                "confidence intervals."
            )
        at = "; ".join(
            f"{_lower_first(b['label'])} {fmt.percent(lm['estimate'])} at day {fmt.count(lm['days'])}"
            for b in blocks
            for lm in b["landmarks"][-1:]
            if lm["estimate"] is not None
        )
        days = [lm["days"] for lm in blocks[0]["landmarks"]]  # the lines the figure draws
        lines = (
            f" Dotted vertical lines: the landmark{'s' * (len(days) != 1)} at {_landmark_days(days, keys)}."
            if days
            else ""
        )
        return Caption(
            title,
            f"{method}{lines} Numbers under the plot: patients at risk at each tick of the time axis.",
            f"{title} curves since the second allogeneic HSCT" + (f"; {at}." if at else "."),
        )

    return caption


_FIGURES: dict[str, Callable[[dict], Caption | None]] = {
    "crs_icans_grades": _grades,
    "cif_engraftment": _transplant_curves(
        "cif_engraftment",
        ("neutrophil_engraftment", "platelet_engraftment"),
        "Neutrophil and platelet engraftment",
    ),
    "cif_acute_gvhd": _transplant_curves(
        "cif_acute_gvhd",
        ("agvhd_2_4", "agvhd_3_4"),
        "Cumulative incidence of acute graft-versus-host disease",
    ),
    "cif_chronic_gvhd": _transplant_curves(
        "cif_chronic_gvhd",
        ("cgvhd", "cgvhd_moderate_severe"),
        "Cumulative incidence of chronic graft-versus-host disease",
    ),
    "km_grfs_os_lfs": _transplant_curves("km_grfs_os_lfs", ("grfs",), "GVHD-free, relapse-free survival"),
    "treatment_sequence": _treatment_sequence,
    "patient_flow": _patient_flow,
    "swimmer": _swimmer,
    "response_rates": _response_rates,
    "km_os_lfs": _km_os_lfs,
    "cif_relapse_nrm": _cif_relapse_nrm,
    "state_stack": _state_stack,
    **{f"{key}_by_subgroup": _by_subgroup(key) for key in ("os", "lfs", "relapse", "nrm")},
}


def figure(name: str, results: dict) -> Caption | None:
    """The caption of the report figure saved as ``name`` (``None`` when the figure does not apply, e.g. no
    subgroups). Unknown names raise ``KeyError``: a new figure gets its legend here."""
    return _FIGURES[name](results)


# -------------------------------------------------------------------------------------------------- tables
_TABLES: dict[str, str] = {
    "published_vs_reproduced": "Published figures and the values reproduced from the data",
    "baseline_characteristics": "Baseline characteristics",
    "intervals": "Days between treatment steps",
    "response_rates": "Response rates",
    "response_counts": "Best response, all categories",
    "landmarks": "Landmark estimates",
    "medians": "Median survival and follow-up",
    "numbers_at_risk": "Numbers at risk",
    "provenance": "Software and data",
    "crs_icans": "Cytokine release syndrome and neurotoxicity by grade",
    "transplant_landmarks": "Transplant outcomes at landmark days",
    "subgroups": "Outcomes by subgroup",
}


def table_title(name: str, results: dict) -> str:
    """The title of the report table saved as ``name`` (without its number)."""
    if name == "subgroups":
        sub = results.get("subgroups") or {}
        return f"Outcomes by {subgroup_name(sub['column']) if sub else 'subgroup'}"
    return _TABLES.get(name, name.replace("_", " ").capitalize())
