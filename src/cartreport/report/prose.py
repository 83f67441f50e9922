"""Manuscript-ready paragraphs (Markdown) written from the results dict alone.

Every number in the text is read from ``results`` (``docs/results.md``) and printed by :mod:`cartreport.formatting`;
none is typed here and nothing is recomputed, so the prose, the tables and ``results.json`` always agree. A
landmark is stated only when its estimate exists; otherwise the text says it is not estimable because no patient
was followed that long. Each function returns one paragraph (or ``""`` when it has nothing to say).

Data are text, never markup: sentences are built as plain ``str`` and become :class:`~cartreport.escape.Markdown`
only through :func:`~cartreport.escape.md` / :meth:`Markdown.join`, which escape them. Markdown syntax
(``**``, ``#``, ``- ``) appears only in those templates, so a diagnosis ``*T*<img …>`` is shown as written.
"""

from __future__ import annotations

from cartreport import formatting as fmt
from cartreport.analysis.baseline import APPLIES_WHEN, OUTSIDE_SUBGROUP
from cartreport.analysis.endpoints import ORIGINS
from cartreport.analysis.results import PUBLISHED_ORIGIN
from cartreport.contract.schema import DATA_ORIGINS, made_up, made_up_words
from cartreport.escape import Markdown, md
from cartreport.report import numbering
from cartreport.report.captions import subgroup_members, subgroup_name, without_cr
from cartreport.report.methods import small_numbers_caution, statistical_methods

__all__ = [
    "competing_risks_paragraph",
    "design_paragraph",
    "methods_markdown",
    "data_origin",
    "data_origin_text",
    "reconstruction_notice",
    "responses_paragraph",
    "subgroup_heading",
    "subgroup_paragraph",
    "summary_paragraph",
    "survival_paragraph",
    "title_block",
]

NOT_FOLLOWED_WHY = "no patient followed that long"
NOT_FOLLOWED = f"not estimable ({NOT_FOLLOWED_WHY})"
#: what an event is called, by endpoint
EVENT_NOUNS = {"os": ("death", "deaths"), "lfs": ("event", "events")}
#: headline landmark for single-value statements (relapse/NRM in the summary, subgroups), when requested
HEADLINE_MONTHS = 12

_SENTENCES = Markdown(" ")  # joins a paragraph's sentences, escaping each


# --- small helpers -------------------------------------------------------------------------------------------


def _lower_first(text: str) -> str:
    """``"Overall survival"`` → ``"overall survival"``; acronyms (``"CR of …"``, ``"HSCT"``) unchanged."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def _level(results: dict) -> float:
    return results["parameters"]["ci_level"]


def _origin(results: dict) -> str:
    return results.get("time_origin_label") or results["parameters"]["time_origin"]


def _landmark_phrases(results: dict, landmarks: list[dict]) -> list[str]:
    """``"58.5% (95% CI 26.1–80.7%) at 12 months"`` per landmark; not estimable ones say so."""
    level = _level(results)
    phrases = []
    for lm in landmarks:
        when = _at(lm)
        if lm["estimate"] is None:
            phrases.append(f"{when} {NOT_FOLLOWED}")
        else:
            phrases.append(f"{fmt.estimate_ci(lm['estimate'], lm['ci_low'], lm['ci_high'], level)} {when}")
    return phrases


def _headline(landmarks: list[dict]) -> dict | None:
    """The 12-month landmark when requested, else the latest estimable one (``None`` when none is)."""
    for lm in landmarks:
        if lm["months"] == HEADLINE_MONTHS and lm["estimate"] is not None:
            return lm
    estimable = [lm for lm in landmarks if lm["estimate"] is not None]
    return estimable[-1] if estimable else None


def _events(n: int | None, key: str = "lfs") -> str:
    """``"1 death"``, ``"5 deaths"``, ``"7 events"``, ``"no events"``."""
    one, many = EVENT_NOUNS.get(key, ("event", "events"))
    return fmt.counted(n, one, many, zero="no")


def _by_cutoff(results: dict) -> str:
    """``" by the data cut-off of 31 Dec 2022"``, or ``""`` without a cut-off."""
    cutoff = results["parameters"].get("data_cutoff")
    return f" by the data cut-off of {fmt.date(cutoff)}" if cutoff else ""


def _at(lm: dict) -> str:
    return f"at {fmt.number(lm['months'])} months"


def _median_phrase(results: dict, block: dict) -> str:
    """``"median not reached (95% CI 8.5 months to not reached)"`` or ``"median 14.2 months (95% CI …)"``."""
    ci = fmt.months_ci(block["median_ci_low"], block["median_ci_high"], _level(results))
    return f"median {fmt.months(block['median_months'])} ({ci})"


#: the summary lists the diagnoses when there are at most this many, and counts them beyond
LISTED_DIAGNOSES = 4


def _cohort(results: dict) -> str:
    """``"The analysis includes 16 patients: 12 with T-ALL and 4 with T-LBL"``; with more than
    :data:`LISTED_DIAGNOSES` diagnoses, ``"… 16 patients with 7 diagnoses, most often T-ALL (9)"`` (Table 1 lists
    them)."""
    rows = [r for r in results["baseline"]["rows"] if r["variable"] == "diagnosis"]
    cohort = f"The analysis includes {fmt.counted(results['n_patients'], 'patient')}"
    named = [r for r in rows if "other_values" not in r]
    distinct = len(named) + sum(r.get("other_values", 0) for r in rows)
    if not rows:
        return cohort
    if len(rows) == 1 and rows[0] is named[0]:  # one diagnosis: no count to break it down
        return f"{cohort} with {rows[0]['level']}"
    if distinct <= LISTED_DIAGNOSES:
        return cohort + ": " + fmt.listed(f"{fmt.count(r['n'])} with {r['level']}" for r in rows)
    top = max(named, key=lambda r: r["n"])  # the first of the most frequent: rows come most frequent first
    if top["n"] == 1:
        return cohort + f" with {fmt.count(distinct)} diagnoses, each in one patient"
    return (
        cohort + f" with {fmt.count(distinct)} diagnoses, most often {top['level']} ({fmt.count(top['n'])})"
    )


# --- paragraphs ----------------------------------------------------------------------------------------------


def title_block(results: dict) -> Markdown:
    """The report's title and what it is about: patients, time origin, cut-off, data file and its hash."""
    params = results["parameters"]
    sha = results.get("data_sha256") or ""
    facts = [
        fmt.counted(results["n_patients"], "patient"),
        f"time zero: {_origin(results)}",
        f"data cut-off: {params.get('data_cutoff') or 'none (last contact)'}",
        md("data: {}", results.get("data_file") or "not recorded")
        + (md(" (SHA-256 `{}…`)", sha[:12]) if sha else ""),
    ]
    title = " ".join((results.get("title") or "").split())  # bold needs no space at its edges
    title = md("**{}**\n\n", title) if title else Markdown()
    return title + Markdown(" · ").join(facts)


def published_intro(results: dict) -> Markdown:
    """Heading and one sentence for the published-versus-reproduced table; ``""`` when nothing was published."""
    if not results.get("published"):
        return Markdown()
    text = (
        "Each figure of the presentation is shown beside the value computed here from the reconstructed cohort; "
        "they agree when equal at the published precision of 0.1 percentage point."
    )
    params = results["parameters"]
    changed = []
    if params.get("data_cutoff"):
        changed.append(f"the data cut-off of {fmt.date(params['data_cutoff'])}")
    if params.get("subgroup"):
        changed.append(f"the restriction to {_subgroup_text(params)}")
    reasons = (
        [f"This report applies {fmt.listed(changed)}, which changes the patients or follow-up analysed."]
        if changed
        else []
    )
    # the published 12-month OS and LFS are from the second HSCT
    if params["time_origin"] != PUBLISHED_ORIGIN:
        reasons.append(
            f"This report times survival from the {_origin(results)}, whereas the published survival is timed "
            f"from the {ORIGINS[PUBLISHED_ORIGIN]}."
        )
    if reasons:
        explain = "These explain" if len(reasons) > 1 else "That explains"
        text = " ".join([text, *reasons, f"{explain} any difference from the published figures."])
    return md("## Published and reproduced figures\n\n{}", text)


def data_origin(results: dict) -> str:
    """What the data analysed are: ``"shipped reconstruction"`` (the shipped cohort or a copy of its bytes),
    ``"reconstruction"`` (every row marked so in ``data_origin``: ``cartreport reconstruct`` with any seed, or an
    edited copy), ``"synthetic"`` (every row marked so: ``cartreport synthesize``), ``"mixed"`` (made-up rows among
    others) or ``"patient records"``."""
    if results.get("is_reconstruction"):
        return "shipped reconstruction"
    origin = results.get("data_origin") or {}
    made = made_up(origin)
    if not made:
        return "patient records"
    if len(made) == 1 and sum(made.values()) == sum(origin.values()):
        return next(iter(made))
    return "mixed"


def data_origin_text(results: dict) -> str:
    """The data's origin in a few words, for the methods and the provenance table: ``"patient records"``,
    ``"reconstruction, not patient records"``, ``"3 of 12 patients made up by cartreport (1 reconstructed and 2
    synthetic)"``."""
    kind = data_origin(results)
    if kind == "patient records":
        return kind
    if kind == "shipped reconstruction":
        return (
            "the shipped reconstructed cohort, consistent with the published aggregates (not patient records)"
        )
    if kind in DATA_ORIGINS:
        return f"{kind}, not patient records (column data_origin)"
    origin = results["data_origin"]
    made = sum(made_up(origin).values())
    return (
        f"{fmt.count(made)} of {fmt.counted(sum(origin.values()), 'patient')} made up by cartreport "
        f"({made_up_words(origin)}; column data_origin), not patient records"
    )


def reconstruction_notice(results: dict) -> Markdown:
    """A visible notice that the data are not patient records (:func:`data_origin`); ``""`` for patient records."""
    kind = data_origin(results)
    if kind in ("shipped reconstruction", "reconstruction"):
        return Markdown(
            "> **Reconstructed data, not patient records.** The study published only aggregate figures. The cohort "
            "analysed here is a reconstruction consistent with those published aggregates; its individual rows, "
            "dates, ages and causes of death are invented. Findings about individual patients describe the "
            "reconstruction; only the published figures describe the study."
        )
    if kind == "synthetic":
        return Markdown(
            "> **Synthetic data, not patient records.** Every patient analysed here was generated at random by "
            "`cartreport synthesize` (column data_origin); the cohort models no real study, and no finding of this "
            "report describes patients."
        )
    if kind == "mixed":
        return Markdown(
            f"> **Not all rows are patient records.** {data_origin_text(results)}. Every count, estimate and "
            "figure of this report includes them."
        )
    return Markdown()


def _when(months: float) -> str:
    """``12 → "1-year"``, ``24 → "2-year"``, ``6 → "6-month"``: a landmark as an adjective."""
    years = months / 12
    if months >= 12 and years == int(years):
        return f"{fmt.number(years)}-year"
    return f"{fmt.number(months)}-month"


def _estimate(results: dict, lm: dict) -> str:
    """``"58.5% (95% CI, 26.1–80.7)"`` at one landmark."""
    return fmt.estimate_ci(lm["estimate"], lm["ci_low"], lm["ci_high"], _level(results))


def _other_landmarks(results: dict, block: dict, headline: dict | None) -> list[str]:
    """The landmarks the summary did not state: ``"86.7% (95% CI, …) at 6 months"``. Landmarks in a row that print
    the same value are one phrase: ``"100% (95% CI, not estimable) from 6 to 24 months"`` (a curve is flat between
    two equal values), or, after the summary's landmark, ``"unchanged at 24 months from the 1-year estimate"``;
    beyond follow-up ``"not estimable at 36 and 60 months (no patient followed that long)"``."""
    runs: list[tuple[str | None, list[dict]]] = []  # (printed value, landmarks in a row that print it)
    for lm in block["landmarks"]:
        value = None if lm["estimate"] is None else _estimate(results, lm)
        if runs and runs[-1][0] == value:
            runs[-1][1].append(lm)
        else:
            runs.append((value, [lm]))
    phrases = []
    for value, run in runs:
        months = [fmt.number(lm["months"]) for lm in run]
        if value is None:
            phrases.append(f"not estimable at {fmt.listed(months)} months ({NOT_FOLLOWED_WHY})")
        elif run[0] is headline:  # its value is in the summary, not in this sentence: name it
            if len(run) > 1:
                phrases.append(
                    f"unchanged at {fmt.listed(months[1:])} months from the {_when(headline['months'])} estimate"
                )
        else:
            span = f"at {months[0]} months" if len(run) == 1 else f"from {months[0]} to {months[-1]} months"
            phrases.append(f"{value} {span}")
    return phrases


def summary_paragraph(results: dict) -> Markdown:
    """Abstract-style summary: the cohort, the two headline response rates, survival and follow-up at the headline
    landmark, relapse and non-relapse mortality. The sections add detail without repeating these numbers."""
    level = _level(results)
    parts = [_cohort(results) + "."]
    for key in ("bm_mrd_negative_cr", "emd_cr"):
        r = results["responses"].get(key)
        if r and r["evaluable"]:
            rate = fmt.rate(r["responders"], r["evaluable"], r["rate"], r["ci_low"], r["ci_high"], level)
            parts.append(f"The rate of {_lower_first(r['label'])} was {rate}.")
    os_, lfs = (results["endpoints"][k] for k in ("os", "lfs"))
    follow, value = _follow_up(results, os_["n"])
    os_lm, lfs_lm = _headline(os_["landmarks"]), _headline(lfs["landmarks"])
    origin = f" from the {_origin(results)}"
    if os_["n"] < results["n_patients"]:  # survival is over fewer patients than "The analysis includes …"
        origin += f" ({fmt.counted(os_['n'], 'patient')} analysed)"
    if os_lm is not None and lfs_lm is not None and os_lm["months"] == lfs_lm["months"]:
        survival = (
            f"{_when(os_lm['months'])} {_lower_first(os_['label'])} was "
            f"{_estimate(results, os_lm)} and {_lower_first(lfs['label'])} {_estimate(results, lfs_lm)}."
        )
        if value:
            parts.append(f"At a {follow} of {value}{origin}, {survival}")
        else:
            parts += [f"The {follow}{origin} was {fmt.NOT_ESTIMABLE}.", survival]
    else:
        parts.append(f"The {follow}{origin} was {value or fmt.NOT_ESTIMABLE}.")
        for block, lm in ((os_, os_lm), (lfs, lfs_lm)):
            if lm is not None:
                parts.append(
                    f"{_when(lm['months'])} {_lower_first(block['label'])} was {_estimate(results, lm)}."
                )
    relapse, nrm = results["endpoints"]["relapse"], results["endpoints"]["nrm"]
    r_lm, n_lm = _headline(relapse["landmarks"]), _headline(nrm["landmarks"])
    if r_lm is not None and n_lm is not None and r_lm["months"] == n_lm["months"]:
        parts.append(
            f"The {_when(r_lm['months'])} {_lower_first(relapse['label'])} was {_estimate(results, r_lm)} and "
            f"{_lower_first(nrm['label'])} {_estimate(results, n_lm)}."
        )
    else:
        for block, lm in ((relapse, r_lm), (nrm, n_lm)):
            if lm is not None:
                parts.append(
                    f"The {_when(lm['months'])} {_lower_first(block['label'])} was {_estimate(results, lm)}."
                )
    return _SENTENCES.join(_capitalised(parts))


def _follow_up(results: dict, n: int) -> tuple[str, str]:
    """What the follow-up is called and its value: ``("median follow-up", "21.0 months (95% CI, 6.1–25.7)")``; one
    patient's is no median (``("follow-up", "29.3 months")``); ``""`` for a value not estimable."""
    follow = results["follow_up"]
    if follow["median_months"] is None:
        return ("follow-up" if n == 1 else "median follow-up"), ""
    if n == 1:
        return "follow-up", fmt.months(follow["median_months"])
    ci = fmt.months_ci(follow["ci_low"], follow["ci_high"], _level(results))
    return "median follow-up", f"{fmt.months(follow['median_months'])} ({ci})"


def _capitalised(sentences: list[str]) -> list[str]:
    return [s[:1].upper() + s[1:] for s in sentences]


def design_paragraph(results: dict) -> Markdown:
    """Intervals between treatment steps (Figure: treatment sequence), patient flow (Figure: flow) and the
    baseline characteristics worth a sentence (Table 1 holds the rest)."""
    flow = results["flow"]
    parts = []
    intervals = [r for r in results["intervals"] if r["n"]]
    for i, r in enumerate(intervals):
        start, _, stop = r["label"].partition(" → ")
        span = f"from {_lower_first(start)} to {_lower_first(stop)}" if stop else _lower_first(r["label"])
        ref = f" ({numbering.figure('treatment_sequence')})" if i == len(intervals) - 1 else ""
        values = (r["median_days"], r["min_days"], r["max_days"], r["n"])
        typical = _typical(f"time {span}", *values, "days", results["n_patients"], "with both dates")
        parts.append(f"{typical}{ref}.")
    parts.append(_enrolled(results))
    if flow["bm_evaluable"]:
        parts.append(
            "MRD-negative complete remission in the bone marrow was reached by "
            f"{fmt.count(flow['bm_mrd_negative_cr'])} of {fmt.counted(flow['bm_evaluable'], 'evaluable patient')}."
        )
    else:
        parts.append("No patient was evaluable for bone-marrow response.")
    transplanted = (
        f"A second allogeneic HSCT followed in {fmt.counted(flow['transplanted'], 'patient')}{without_cr(flow)}"
        if flow["transplanted"]
        else "No patient had a second allogeneic HSCT"
    )
    parts.append(
        f"{transplanted}, and {fmt.count(flow['analysed'])} {'was' if flow['analysed'] == 1 else 'were'} analysed "
        f"for survival ({numbering.figure('patient_flow')})."
    )
    if flow["excluded"]:
        reasons = fmt.listed(f"{e['reason']} ({fmt.count(e['n'])})" for e in flow["excluded"])
        parts.append(f"Patients not analysed for survival: {reasons}.")
    highlights = _baseline_highlights(results["baseline"]["rows"], results["n_patients"])
    if highlights:
        highlights[-1] = f"{highlights[-1]} ({numbering.table('baseline_characteristics')})"
        parts += [f"{h}." for h in highlights]
    return _SENTENCES.join(_capitalised(parts))


def _enrolled(results: dict) -> str:
    """Who of the patients enrolled (the file's rows) the report is about: every row was infused (the contract
    requires the date), so the patients left out are outside the subgroup, or infused after the data cut-off."""
    flow = results["flow"]
    enrolled = fmt.counted(flow["enrolled"], "patient")
    outside = sum(e["n"] for e in flow["excluded"] if e["reason"] == OUTSIDE_SUBGROUP)
    if outside:  # "Of the 16 patients enrolled, 5 received the CAR-T infusion" said 11 were never infused
        selected = flow["enrolled"] - outside
        text = (
            f"Of the {enrolled} enrolled, {fmt.count(selected)} {'was' if selected == 1 else 'were'} in the "
            f"selected subgroup ({_subgroup_text(results['parameters'])})"
        )
        if results["parameters"].get("data_cutoff"):
            text += f", of whom {fmt.count(flow['infused'])} received the CAR-T infusion{_by_cutoff(results)}"
        return f"{text}."
    if flow["enrolled"] == flow["infused"] == 1:
        return f"{fmt.the_one('patient')} enrolled received the CAR-T infusion{_by_cutoff(results)}."
    return (
        f"Of the {enrolled} enrolled, {fmt.count(flow['infused'])} received the CAR-T infusion"
        f"{_by_cutoff(results)}."
    )


def _typical(
    what: str, median: float, low: float, high: float, n: int, unit: str, total: int, known: str
) -> str:
    """The sentence of a median and its range over ``n`` of ``total`` patients: ``"The median time from … was 43.5
    days (range, 20–59)"``. One value has no median and no range (``"The time from … was 531 days"``), equal values
    no range (``"… was 31 days in both patients"``); ``known`` says which patients when not all (``"with both
    dates"``)."""
    value = f"{fmt.number(median)} {unit}".rstrip()
    whom = "" if n == total else f" {known}"
    if n == 1:
        return f"The {what} was {value}" + (f" in {fmt.the_one('patient')}{whom}" if whom else "")
    if low == high:
        return f"The {what} was {value} in {fmt.all_of(n, 'patient')}{whom}"
    return f"The median {what} was {value} (range, {fmt.number(low)}–{fmt.number(high)})"


def _among_known(top: dict, total: int) -> str:
    """Whom a Table 1 percentage is over, after "in": ``"8 patients"`` when over every patient, else with its
    denominator, ``"8 of the 10 patients with a second HSCT"`` or ``"5 of the 14 patients with a known value"``
    (8 of 11 patients is not 80.0%)."""
    applies = APPLIES_WHEN.get(top["variable"])
    known = total - top["missing"] - top.get("not_applicable", 0)
    if known == total:
        return fmt.counted(top["n"], "patient")
    whom = applies[2] if top.get("not_applicable") else "patients"
    if top["missing"]:
        whom += " and a known value" if top.get("not_applicable") else " with a known value"
    if known == 1:
        return fmt.the_one(whom.replace("patients", "patient", 1))
    return f"{fmt.count(top['n'])} of the {fmt.count(known)} {whom}"


def _baseline_highlights(rows: list[dict], total: int) -> list[str]:
    """One sentence per Table 1 variable except the diagnosis (the summary states it): the median of a
    continuous one, the most frequent level (or "present") of a categorical one."""
    sentences = []
    by_variable: dict[str, list[dict]] = {}
    for r in rows:
        by_variable.setdefault(r["variable"], []).append(r)
    for variable, found in by_variable.items():
        if variable == "diagnosis":
            continue
        first = found[0]
        name, _, unit = first["label"].partition(", ")
        if first["kind"] == "continuous":
            if first["median"] is None:
                continue
            values = (first["median"], first["min"], first["max"], first["n"])
            sentences.append(_typical(_lower_first(name), *values, unit, total, "with a known value"))
            continue
        yes = [r for r in found if str(r["level"]).lower() == "yes"]
        named = [r for r in found if "other_values" not in r]  # "9 other values" is no level to name
        if not yes and [str(r["level"]).lower() for r in found] == ["no"]:  # a yes/no nobody had
            sentences.append(f"{name} was present in no patient")
            continue
        if not yes and not named:
            continue
        top = yes[0] if yes else max(named, key=lambda r: r["n"])
        what = "present" if yes else top["level"]
        sentences.append(f"{name} was {what} in {_among_known(top, total)} ({fmt.percent(top['percent'])})")
    return sentences


def responses_paragraph(results: dict) -> Markdown:
    """The response rates the summary did not state, and the best response by site (zero categories left out)."""
    level = _level(results)
    parts = []
    counts = results["response_counts"]
    bm = [(code, n) for code, n in counts.get("bm", {}).items() if n]
    if bm:
        parts.append(
            "The best bone-marrow response was "
            + fmt.listed(
                f"{code} in {fmt.counted(n, 'patient') if i == 0 else fmt.count(n)}"
                for i, (code, n) in enumerate(bm)
            )
            + "."
        )
    headline = {
        k: results["responses"][k] for k in ("bm_mrd_negative_cr", "emd_cr") if k in results["responses"]
    }
    for key, r in results["responses"].items():
        if key in headline or not r["evaluable"]:
            continue
        same = [
            h
            for h in headline.values()
            if (h["responders"], h["evaluable"]) == (r["responders"], r["evaluable"])
        ]
        if same:  # stated in the summary already: say so rather than repeat the interval
            count = f"{fmt.count(r['responders'])}/{fmt.count(r['evaluable'])}"
            parts.append(f"The rate of {_lower_first(r['label'])} was also {count}.")
            continue
        rate = fmt.rate(r["responders"], r["evaluable"], r["rate"], r["ci_low"], r["ci_high"], level)
        parts.append(f"The rate of {_lower_first(r['label'])} was {rate}.")
    if parts:
        parts[-1] = (
            parts[-1][:-1]
            + f" ({numbering.cite(numbering.table('response_rates'), numbering.figure('response_rates'))})."
        )
    emd = [(code, n) for code, n in counts.get("emd", {}).items() if n]
    n_emd = sum(counts.get("emd", {}).values())
    if n_emd:
        best = fmt.listed(f"{code} in {fmt.count(n)}" for code, n in emd) if n_emd > 1 else emd[0][0]
        parts.append(
            f"{fmt.among(n_emd, 'patient', the=True)} with extramedullary disease before CAR-T, the best "
            f"extramedullary response was {best}."
        )
    else:
        parts.append("No patient had extramedullary disease before CAR-T.")
    return _SENTENCES.join(_capitalised(parts))


def survival_paragraph(results: dict) -> Markdown:
    """OS and LFS beyond the summary: events, the other landmarks, medians (figure and tables referenced)."""
    os_, lfs = results["endpoints"]["os"], results["endpoints"]["lfs"]
    one = os_["n"] == 1
    if one:  # one patient's events are what happened to the patient, and when: a median of one is its time
        happened = f"{fmt.the_one('patient')} {_course_of_one(results)}"
    else:
        happened = (
            f"Among {fmt.counted(os_['n'], 'patient')}, {_events(os_['events'], 'os')} and "
            f"{_events(lfs['events'], 'lfs')} of relapse or death occurred"
        )
    parts = [f"{happened} ({numbering.figure('km_os_lfs')})."]
    for block in (os_, lfs):
        others = _other_landmarks(results, block, _headline(block["landmarks"]))
        if others:
            parts.append(f"{block['label']} was {fmt.listed(others)}.")
    level = _level(results)
    for block in () if one else (os_, lfs):
        ci = fmt.months_ci(block["median_ci_low"], block["median_ci_high"], level)
        median = fmt.months(block["median_months"])
        verb = "was not reached" if block["median_months"] is None else f"was {median}"
        parts.append(f"Median {_lower_first(block['label'])} {verb} ({ci}).")
    parts[-1] = (
        parts[-1][:-1] + f" ({numbering.cite(numbering.table('landmarks'), numbering.table('medians'))})."
    )
    return _SENTENCES.join(_capitalised(parts))


def _course_of_one(results: dict) -> str:
    """What happened to a cohort's one patient, and when: ``"relapsed 3.2 months and died 10.9 months after the
    second allogeneic HSCT"`` (the medians of one patient's curves are the times of its events); without a time
    (not in the results), the events alone."""
    os_, lfs = results["endpoints"]["os"], results["endpoints"]["lfs"]
    relapsed = results["endpoints"]["relapse"]["events"] > 0
    after = f" after the {_origin(results)}"
    died, relapse = os_["median_months"], lfs["median_months"]
    if os_["events"]:
        if died is None:
            return "died"
        if relapsed and relapse is not None:
            return f"relapsed {fmt.months(relapse)} and died {fmt.months(died)}{after}"
        return f"died {fmt.months(died)}{after}"
    if lfs["events"]:
        return (
            "relapsed and was alive at last contact"
            if relapse is None
            else f"relapsed {fmt.months(relapse)}{after} and was alive at last contact"
        )
    return "was alive without relapse at last contact"


def competing_risks_paragraph(results: dict) -> Markdown:
    """Relapse and non-relapse mortality (competing risks) beyond the summary's headline landmark."""
    relapse, nrm = results["endpoints"]["relapse"], results["endpoints"]["nrm"]
    relapsed, died = relapse["events"], relapse["competing_events"]
    if relapse["n"] == 1:  # one patient's events are what happened to the patient
        course = (
            "relapsed" if relapsed else "died without prior relapse" if died else "neither relapsed nor died"
        )
        happened = f"{fmt.the_one('patient')} {course}"
    else:
        if relapsed or died:
            who = (
                f"{fmt.count(relapsed) if relapsed else 'none'} relapsed and "
                f"{fmt.count(died) if died else 'none'} died without prior relapse"
            )
        else:
            who = "none relapsed or died without prior relapse"
        happened = f"Among {fmt.counted(relapse['n'], 'patient')}, {who}"
    parts = [f"{happened} ({numbering.figure('cif_relapse_nrm')})."]
    for block in (relapse, nrm):
        others = _other_landmarks(results, block, _headline(block["landmarks"]))
        if others:
            parts.append(f"{block['label']} was {fmt.listed(others)}.")
    return _SENTENCES.join(_capitalised(parts))


def subgroup_heading(results: dict) -> Markdown:
    """The by-subgroup section's heading and its caution about small numbers; ``""`` without subgroups (the
    report then has no such section)."""
    sub = results.get("subgroups")
    if not sub:
        return Markdown()
    heading = md("## Outcomes by {}", subgroup_name(sub["column"]))
    caution = small_numbers_caution(sub)
    return heading + (md("\n\n{}", caution) if caution else Markdown())


def subgroup_paragraph(results: dict, key: str | None = None) -> Markdown:
    """One endpoint by subgroup under its own ``###`` heading: each group's estimate at the headline landmark and
    the test's p-value; without ``key``, every endpoint's in turn. ``""`` without subgroups."""
    sub = results.get("subgroups")
    if not sub:
        return Markdown()
    if key is None:
        return Markdown("\n\n").join(subgroup_paragraph(results, k) for k in ("os", "lfs", "relapse", "nrm"))
    label = results["endpoints"][key]["label"]
    parts = []
    for group in sub["groups"]:
        lm = _headline(group[key]["landmarks"])
        among = (
            f"{fmt.among(group['n'], 'patient', the=True)} {subgroup_members(sub['column'], group['value'])}"
        )
        events = _events(group[key].get("events"), key)
        if lm is None:
            parts.append(f"{label} was not estimable {among} ({events}; no patient followed long enough).")
        else:
            parts.append(f"{label} {_at(lm)} was {_estimate(results, lm)} {among} ({events}).")
    test = sub.get("tests", {}).get(key)
    if test:
        method = test["method"] if test["method"].startswith("Gray") else f"the {test['method']}"
        gave = "could not be computed" if test["p_value"] is None else f"gave {fmt.p_value(test['p_value'])}"
        parts.append(f"{method} {gave}.")
    parts[-1] = f"{parts[-1][:-1]} ({numbering.figure(f'{key}_by_subgroup')})."
    heading = md("### {} by {}", label, subgroup_name(sub["column"]))
    return heading + md("\n\n{}", _SENTENCES.join(_capitalised(parts)))


def methods_markdown(results: dict) -> Markdown:
    """The methods section: endpoints, statistical methods with references, parameters, data file and SHA-256."""
    params = results["parameters"]
    endpoints = [md("- **{}**: {}.", b["label"], b["definition"]) for b in results["endpoints"].values()]
    statistics, refs = statistical_methods(results)
    cutoff = params.get("data_cutoff") or "none (follow-up to each patient's last contact)"
    landmarks = fmt.listed(fmt.number(m) for m in params["landmarks_months"])
    settings = [
        f"Time origin: {_origin(results)}",
        f"Data cut-off: {cutoff}",
        f"Landmarks: {landmarks} months",
        f"Confidence level: {fmt.level_label(params['ci_level'])}; Kaplan–Meier intervals: {params['ci_method']}",
        f"Subgroup: {_subgroup_text(params)}",
        f"Survival compared by: {params.get('subgroup_by') or 'none'}",
    ]
    sha = results.get("data_sha256") or ""
    data = [
        f"File: {results.get('data_file') or 'not recorded'}",
        md("SHA-256: `{}`", sha) if sha else "SHA-256: not recorded",
    ]
    data.append(f"Origin: {data_origin_text(results)}")
    notes = results.get("data_notes") or []
    data += [f"As read: {note}" for note in notes]
    sections = {
        "Endpoints": Markdown("\n").join(endpoints),
        "Statistical methods": _bullets(statistics),
        "Parameters": _bullets(settings),
        "Data": _bullets(data),
        "References": Markdown("\n").join(md("{}. {}", i, ref) for i, ref in enumerate(refs, start=1)),
    }
    return Markdown("\n\n").join(md("#### {}\n\n{}", title, lines) for title, lines in sections.items())


def _bullets(lines: list[str | Markdown]) -> Markdown:
    """A Markdown bullet list, one line (escaped unless already Markdown) per item."""
    return Markdown("\n").join(md("- {}", line) for line in lines)


def _subgroup_text(params: dict) -> str:
    subgroup = params.get("subgroup") or {}
    if not subgroup:
        return "all patients"
    return "; ".join(f"{column} in {', '.join(values)}" for column, values in subgroup.items())
