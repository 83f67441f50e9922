"""Words and tables of the safety and transplant-outcome section, from ``results.json`` (never recomputed).

Each paragraph helper returns its own ``##`` heading with the text, or ``""`` when the cohort has none of its
columns, so a report shows no empty heading; :func:`transplant_intro` says what was not reported.
Numbers are printed by :mod:`cartreport.formatting`, the rule every other section uses.
"""

from __future__ import annotations

import pandas as pd

from cartreport import formatting as fmt
from cartreport.analysis.transplant_endpoints import TRANSPLANT_DEFINITIONS
from cartreport.escape import Markdown, md
from cartreport.report import numbering
from cartreport.report.prose import NOT_FOLLOWED_WHY
from cartreport.report.tables import landmark_rows

__all__ = [
    "engraftment_paragraph",
    "grfs_paragraph",
    "gvhd_paragraph",
    "safety_paragraph",
    "safety_table",
    "transplant_intro",
    "transplant_landmark_table",
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


def _level(results: dict) -> float:
    return results["parameters"]["ci_level"]


def _has(results: dict, key: str) -> bool:
    return key in results.get("safety", {}) or key in results["endpoints"]


def _landmarks(results: dict, block: dict) -> str:
    """``"78.6% (95% CI, 35.9–94.5) at day 100"``; beyond follow-up ``"not estimable at day 100 (no patient
    followed that long)"``."""
    level = _level(results)
    phrases = []
    before = None
    beyond: list[str] = []  # days in a row after the last follow-up: one phrase for them all

    def not_followed() -> str:
        days = f"day {beyond[0]}" if len(beyond) == 1 else f"days {fmt.listed(beyond)}"
        return f"not estimable at {days} ({NOT_FOLLOWED_WHY})"

    for lm in block["landmarks"]:
        when = f"at day {fmt.count(lm['days'])}"
        if lm["estimate"] is None:
            beyond.append(fmt.count(lm["days"]))
            continue
        if beyond:
            phrases.append(not_followed())
            beyond = []
        if before and all(lm[k] == before[k] for k in ("estimate", "ci_low", "ci_high")):
            phrases.append(f"unchanged {when}")
        else:
            phrases.append(f"{fmt.estimate_ci(lm['estimate'], lm['ci_low'], lm['ci_high'], level)} {when}")
        before = lm
    if beyond:
        phrases.append(not_followed())
    return fmt.listed(phrases)


def _flow(results: dict) -> str:
    """``"Transplant outcomes are timed from the second allogeneic HSCT, received by 14 patients (not analysed: no
    second HSCT, 1)."``, or ``""``; said once, in the section's introduction."""
    flow = results.get("transplant_flow")
    if not flow or not flow["transplanted"]:
        return ""
    excluded = "; ".join(f"{e['reason']}, {fmt.count(e['n'])}" for e in flow["excluded"])
    return (
        "Transplant outcomes are timed from the second allogeneic HSCT, received by "
        f"{fmt.counted(flow['transplanted'], 'patient')}"
        + (f" (not analysed: {excluded})." if excluded else ".")
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
        return md("{}", _flow(results))
    what = fmt.listed(missing)
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
    return md("{} (the data have no columns for them). {}", text, _flow(results))


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
            f"{s['label']} ({name}) was assessed in {fmt.counted(s['evaluable'], 'infused patient')}{not_assessed}."
        )
        parts.append(
            f"{name} of any grade occurred in {_of(a, level)}, of grade 3 or higher in {_of(g3, level)}."
        )
    refs = numbering.cite(numbering.figure("crs_icans_grades"), numbering.table("crs_icans"))
    parts[-1] = f"{parts[-1][:-1]} ({refs})."
    return md("## {}\n\n{}", "Cytokine release syndrome and neurotoxicity", " ".join(parts))


def _of(rate: dict, level: float) -> str:
    """``"12 (85.7%; 95% CI, 57.2–98.2)"``."""
    ci = fmt.ci(rate["ci_low"], rate["ci_high"], level)
    share = f"{fmt.percent(rate['rate'])}; {ci}" if rate["rate"] is not None else fmt.NOT_ESTIMABLE
    return f"{fmt.count(rate['responders'])} ({share})"


def _incidence_paragraph(results: dict, heading: str, keys: tuple[str, ...], figure: str) -> Markdown:
    blocks = [results["endpoints"][k] for k in keys if k in results["endpoints"]]
    if not blocks:
        return Markdown()
    parts = []
    for n, block in enumerate(blocks):
        ref = f" ({numbering.figure(figure)})" if n == 0 else ""
        among = fmt.among(block["n"], "patient")
        parts.append(f"{among[:1].upper()}{among[1:]}, {_occurred(block)}{ref}.")
        parts.append(f"Its cumulative incidence was {_landmarks(results, block)}.")
    body = " ".join(parts)
    return md("## {}\n\n{}", heading, body)


def _occurred(block: dict) -> str:
    """``"neutrophil engraftment occurred in 12 and 2 patients died without it"``; a count of 0 in words ("and no
    patient died without it", "did not occur")."""
    what, events, competing = _lower(block["label"]), block["events"], block["competing_events"]
    if block["n"] == 1:  # what happened to the one patient
        return (
            f"{what} occurred"
            if events
            else f"{what} did not occur; the patient died without it"
            if competing
            else f"{what} did not occur"
        )
    if not events:
        return (
            f"{what} did not occur; {fmt.counted(competing, 'patient')} died"
            if competing
            else f"{what} did not occur"
        )
    died = f"{fmt.counted(competing, 'patient')} died" if competing else "no patient died"
    return f"{what} occurred in {fmt.count(events)} and {died} without it"


def _lower(label: str) -> str:
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


def engraftment_paragraph(results: dict) -> Markdown:
    """Cumulative incidence of neutrophil and platelet engraftment at days 28 and 100."""
    return _incidence_paragraph(
        results, "Engraftment", ("neutrophil_engraftment", "platelet_engraftment"), "cif_engraftment"
    )


def gvhd_paragraph(results: dict) -> Markdown:
    """Cumulative incidence of acute GVHD II–IV and III–IV and of chronic GVHD (any, moderate–severe)."""
    acute = _incidence_paragraph(
        results, "Acute graft-versus-host disease", ("agvhd_2_4", "agvhd_3_4"), "cif_acute_gvhd"
    )
    chronic = _incidence_paragraph(
        results, "Chronic graft-versus-host disease", ("cgvhd", "cgvhd_moderate_severe"), "cif_chronic_gvhd"
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
    figure = numbering.figure("km_grfs_os_lfs")
    if results["parameters"]["time_origin"] == "second_hsct":
        figure += ", beside overall and leukemia-free survival"
    if block["n"] == 1:
        had = f"{fmt.the_one('patient')} had {'a' if block['events'] else 'no'} GRFS event"
    else:
        had = f"Among {fmt.counted(block['n'], 'patient')}, {fmt.count(block['events']) if block['events'] else 'none'} had a GRFS event"
    text = (
        f"{had[:1].upper()}{had[1:]} ({figure}). "
        f"GRFS was {_landmarks(results, block)} ({numbering.table('transplant_landmarks')}). "
        f"The median GRFS was {median} ({ci})."
    )
    body = text
    return md("## {}\n\n{}", "GVHD-free, relapse-free survival", body)


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
    rows = landmark_rows(results, TRANSPLANT_DEFINITIONS, in_days=True)
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    frame.attrs["footnote"] = (
        "Days from the second HSCT; numbers at risk are patients still followed and event-free."
    )
    return frame
