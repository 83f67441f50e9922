"""Words and tables of the safety and transplant-outcome section, from ``results.json`` (never recomputed).

Each paragraph helper returns its own ``##`` heading with the text, or ``""`` when the cohort has none of its
columns, so a report shows no empty heading; :func:`transplant_intro` says what was not reported.
Numbers are printed by :mod:`cartreport.formatting`, the rule every other section uses.
"""

from __future__ import annotations

import pandas as pd

from cartreport import formatting as fmt
from cartreport.escape import Markdown, md
from cartreport.transplant_endpoints import TRANSPLANT_DEFINITIONS

__all__ = [
    "engraftment_paragraph",
    "grfs_paragraph",
    "gvhd_paragraph",
    "safety_paragraph",
    "safety_table",
    "transplant_intro",
    "transplant_landmark_table",
    "transplant_methods",
]

#: what each part of the section reports, and the results keys that carry it
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cytokine release syndrome (CRS)", ("crs",)),
    ("neurotoxicity (ICANS)", ("icans",)),
    ("neutrophil and platelet engraftment", ("neutrophil_engraftment", "platelet_engraftment")),
    ("acute GVHD", ("agvhd_2_4", "agvhd_3_4")),
    ("chronic GVHD", ("cgvhd", "cgvhd_moderate_severe")),
    ("GVHD-free, relapse-free survival (GRFS)", ("grfs",)),
)
_SYNDROMES = {"crs": "CRS", "icans": "ICANS"}


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _level(results: dict) -> float:
    return results["parameters"]["ci_level"]


def _has(results: dict, key: str) -> bool:
    return key in results.get("safety", {}) or key in results["endpoints"]


def _landmarks(results: dict, block: dict) -> str:
    level = _level(results)
    phrases = []
    for lm in block["landmarks"]:
        when = f"at day {lm['days']}"
        if lm["estimate"] is None:
            phrases.append(f"{when} not estimable (no patient followed that long)")
        else:
            phrases.append(f"{fmt.estimate_ci(lm['estimate'], lm['ci_low'], lm['ci_high'], level)} {when}")
    return _join(phrases)


def _flow(results: dict) -> str:
    flow = results.get("transplant_flow")
    if not flow:
        return ""
    excluded = "; ".join(f"{e['reason']}: {fmt.count(e['n'])}" for e in flow["excluded"])
    return f" Times are from the second HSCT ({fmt.count(flow['transplanted'])} patients" + (
        f"; not analysed — {excluded})." if excluded else ")."
    )


def transplant_intro(results: dict) -> Markdown:
    """What the section reports and, by name, what the data do not report (the reconstruction says why)."""
    missing = [name for name, keys in PARTS if not any(_has(results, k) for k in keys)]
    flow = results.get("transplant_flow")
    if flow and not flow["transplanted"]:
        return md(
            "{}",
            "No patient analysed had a second HSCT, so engraftment, GVHD and GVHD-free, relapse-free survival "
            "(timed from it) could not be estimated."
            + (" CRS and ICANS follow." if results.get("safety") else ""),
        )
    if not missing:
        return md("{}", "Safety of the CAR-T infusion and outcomes of the second allogeneic HSCT.")
    what = _join(missing)
    if len(missing) == len(PARTS):
        text = f"Safety and transplant outcomes — {what} — were not reported"
    else:
        text = f"Not reported: {what}"
    if results.get("is_reconstruction"):
        return md(
            "{}",
            text
            + ": the presentation reported none of them, and the reconstructed cohort does not invent them.",
        )
    return md("{} (the data have no columns for them; see data/README.md).", text)


def safety_paragraph(results: dict) -> Markdown:
    """CRS and ICANS: rates of any grade and of grade 3 or higher with exact intervals, among the assessed."""
    safety = results.get("safety") or {}
    if not safety:
        return Markdown()
    level = _level(results)
    parts = []
    for key, s in safety.items():
        name = _SYNDROMES[key]
        if not s["evaluable"]:
            parts.append(f"{name} was not assessed in any patient.")
            continue
        a, g3 = s["any"], s["grade_3_plus"]
        not_assessed = f" ({fmt.count(s['not_assessed'])} not assessed)" if s["not_assessed"] else ""
        parts.append(
            f"{s['label']} ({name}) among {fmt.count(s['evaluable'])} infused patients assessed{not_assessed}: "
            f"any grade {fmt.rate(a['responders'], a['evaluable'], a['rate'], a['ci_low'], a['ci_high'], level)}, "
            f"grade 3 or higher "
            f"{fmt.rate(g3['responders'], g3['evaluable'], g3['rate'], g3['ci_low'], g3['ci_high'], level)}."
        )
    parts.append("Grades by the ASTCT 2019 consensus; confidence intervals Clopper–Pearson exact.")
    return md("## {}\n\n{}", "Cytokine release syndrome and neurotoxicity", " ".join(parts))


def _incidence_paragraph(results: dict, heading: str, keys: tuple[str, ...]) -> Markdown:
    blocks = [results["endpoints"][k] for k in keys if k in results["endpoints"]]
    if not blocks:
        return Markdown()
    parts = []
    for block in blocks:
        parts.append(
            f"{block['label']} ({block['definition']}): {fmt.count(block['events'])} events and "
            f"{fmt.count(block['competing_events'])} competing deaths among {fmt.count(block['n'])} patients; "
            f"{_landmarks(results, block)}."
        )
    body = " ".join(parts) + _flow(results) + f" Method: {blocks[0]['method']}."
    return md("## {}\n\n{}", heading, body)


def engraftment_paragraph(results: dict) -> Markdown:
    """Cumulative incidence of neutrophil and platelet engraftment at days 28 and 100."""
    return _incidence_paragraph(results, "Engraftment", ("neutrophil_engraftment", "platelet_engraftment"))


def gvhd_paragraph(results: dict) -> Markdown:
    """Cumulative incidence of acute GVHD II–IV and III–IV and of chronic GVHD (any, moderate–severe)."""
    acute = _incidence_paragraph(results, "Acute graft-versus-host disease", ("agvhd_2_4", "agvhd_3_4"))
    chronic = _incidence_paragraph(
        results, "Chronic graft-versus-host disease", ("cgvhd", "cgvhd_moderate_severe")
    )
    return Markdown("\n\n").join(p for p in (acute, chronic) if p)


def grfs_paragraph(results: dict) -> Markdown:
    """GRFS at one and two years, beside OS and LFS when those are timed from the second HSCT too."""
    block = results["endpoints"].get("grfs")
    if not block:
        return Markdown()
    level = _level(results)
    median = fmt.months(block["median_months"])
    ci = fmt.months_ci(block["median_ci_low"], block["median_ci_high"], level)
    text = (
        f"{block['label']} ({block['definition']}; Holtan et al. 2015): {fmt.count(block['events'])} events among "
        f"{fmt.count(block['n'])} patients; {_landmarks(results, block)}; median {median} ({ci})."
    )
    if results["parameters"]["time_origin"] == "second_hsct":
        text += " The figure shows overall and leukemia-free survival from the same origin beside it."
    body = text + _flow(results) + f" Method: {block['method']}."
    return md("## {}\n\n{}", "GVHD-free, relapse-free survival", body)


def transplant_methods(results: dict) -> Markdown:
    """One sentence for the methods section, or ``""`` when the cohort has no transplant outcome."""
    keys = [k for k in TRANSPLANT_DEFINITIONS if k in results["endpoints"]]
    if not keys and not results.get("safety"):
        return Markdown()
    parts = []
    if results.get("safety"):
        parts.append(
            "CRS and ICANS were graded by the ASTCT 2019 consensus (Lee et al. 2019); rates among infused patients "
            "assessed, with exact Clopper–Pearson intervals."
        )
    incidence = [TRANSPLANT_DEFINITIONS[k][0] for k in keys if k != "grfs"]
    if incidence:
        named = _join([label[:1].lower() + label[1:] for label in incidence])
        parts.append(
            f"{named[:1].upper() + named[1:]}: cumulative incidence from the second HSCT by the Aalen–Johansen estimator "
            "(as R cmprsk::cuminc), death without the event as the competing risk."
        )
    if "grfs" in keys:
        parts.append(
            "GRFS (Holtan et al. 2015): Kaplan–Meier from the second HSCT; event the first of acute GVHD III–IV, "
            "chronic GVHD requiring systemic treatment, relapse or death."
        )
    return md("{}", " ".join(parts))


def safety_table(results: dict) -> pd.DataFrame | None:
    """Patients by grade (0–5) and the two rates with their intervals, one row per syndrome."""
    safety = results.get("safety") or {}
    if not safety:
        return None
    level = _level(results)
    ci = f"{fmt.level_label(level)} CI"
    rows = []
    for key, s in safety.items():
        row = {"Syndrome": _SYNDROMES[key], "Assessed": fmt.count(s["evaluable"])}
        row.update({f"Grade {g}": fmt.count(n) for g, n in s["counts"].items()})
        for kind, label in (("any", "Any grade"), ("grade_3_plus", "Grade ≥3")):
            r = s[kind]
            row[label] = f"{fmt.percent(r['rate'])} ({fmt.interval(r['ci_low'], r['ci_high'])})"
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["footnote"] = f"Rates with exact Clopper–Pearson {ci}s among the patients assessed."
    return frame


def transplant_landmark_table(results: dict) -> pd.DataFrame | None:
    """Endpoint × landmark day: estimate, interval and numbers at risk, for every transplant endpoint."""
    ci = f"{fmt.level_label(_level(results))} CI"
    rows = []
    for key in TRANSPLANT_DEFINITIONS:
        block = results["endpoints"].get(key)
        for lm in block["landmarks"] if block else []:
            rows.append(
                {
                    "Endpoint": block["label"],
                    "Day": fmt.count(lm["days"]),
                    "Estimate": fmt.percent(lm["estimate"]),
                    ci: fmt.interval(lm["ci_low"], lm["ci_high"]),
                    "At risk": fmt.count(lm["at_risk"]),
                }
            )
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    frame.attrs["footnote"] = (
        "Days from the second HSCT; numbers at risk are patients still followed and event-free."
    )
    return frame
