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

from collections.abc import Iterable

from cartreport import formatting as fmt
from cartreport.escape import Markdown, md

__all__ = [
    "REFERENCES",
    "competing_risks_paragraph",
    "design_paragraph",
    "methods_markdown",
    "reconstruction_notice",
    "responses_paragraph",
    "subgroup_paragraph",
    "summary_paragraph",
    "survival_paragraph",
    "title_block",
]

NOT_FOLLOWED = "not estimable (no patient followed that long)"
#: what an event is called, by endpoint
EVENT_NOUNS = {"os": ("death", "deaths"), "lfs": ("event", "events")}
#: headline landmark for single-value statements (relapse/NRM in the summary, subgroups), when requested
HEADLINE_MONTHS = 12

#: the methods' references, in the order the methods section cites them
REFERENCES: dict[str, str] = {
    "km": "Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. "
    "J Am Stat Assoc 1958;53:457–481.",
    "greenwood": "Greenwood M. The natural duration of cancer. Reports on Public Health and Medical Subjects 33. "
    "London: HMSO; 1926.",
    "median_ci": "Brookmeyer R, Crowley J. A confidence interval for the median survival time. "
    "Biometrics 1982;38:29–41.",
    "cif": "Aalen OO, Johansen S. An empirical transition matrix for non-homogeneous Markov chains based on "
    "censored observations. Scand J Stat 1978;5:141–150.",
    "gray": "Gray RJ. A class of K-sample tests for comparing the cumulative incidence of a competing risk. "
    "Ann Stat 1988;16:1141–1154.",
    "response_ci": "Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the case of "
    "the binomial. Biometrika 1934;26:404–413.",
    "follow_up": "Schemper M, Smith TL. A note on quantifying follow-up in studies of failure time. "
    "Control Clin Trials 1996;17:343–346.",
    "test": "Mantel N. Evaluation of survival data and two new rank order statistics arising in its "
    "consideration. Cancer Chemother Rep 1966;50:163–170.",
}
_CITES = {
    "km": "(Kaplan & Meier 1958; Greenwood 1926)",
    "median_ci": "(Brookmeyer & Crowley 1982)",
    "cif": "(Aalen & Johansen 1978; Gray 1988)",
    "response_ci": "(Clopper & Pearson 1934)",
    "follow_up": "",  # results["methods"]["follow_up"] cites Schemper & Smith itself
    "test": "(Mantel 1966)",
}
_METHOD_ORDER = ("response_ci", "km", "median_ci", "cif", "follow_up", "test")
_SENTENCES = Markdown(" ")  # joins a paragraph's sentences, escaping each


# --- small helpers -------------------------------------------------------------------------------------------


def _lower_first(text: str) -> str:
    """``"Overall survival"`` → ``"overall survival"``; acronyms (``"CR of …"``, ``"HSCT"``) unchanged."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def _join(items: Iterable[str], last: str = "and") -> str:
    """``["a", "b", "c"]`` → ``"a, b and c"``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


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
    """``"1 death"``, ``"5 deaths"``, ``"7 events"``."""
    one, many = EVENT_NOUNS.get(key, ("event", "events"))
    return f"{fmt.count(n)} {one if n == 1 else many}"


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


def _diagnoses(results: dict) -> str:
    rows = [r for r in results["baseline"]["rows"] if r["variable"] == "diagnosis"]
    return _join(f"{fmt.count(r['n'])} {r['level']}" for r in rows)


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
    return Markdown(
        "## Published and reproduced figures\n\n"
        "Each figure of the presentation beside the value this report computes from the reconstructed cohort; "
        "they agree when equal at the published precision of 0.1 percentage point."
    )


def reconstruction_notice(results: dict) -> Markdown:
    """A visible notice that the shipped cohort is a reconstruction; ``""`` for real data."""
    if not results.get("is_reconstruction"):
        return Markdown()
    return Markdown(
        "> **Reconstructed data — not patient records.** The study published aggregate figures only. The cohort "
        "analysed here is a reconstruction consistent with those published aggregates: individual rows, dates, "
        "ages and causes of death are invented. Statements about individual patients describe the "
        "reconstruction, not the study; only the published figures describe the study."
    )


def summary_paragraph(results: dict) -> Markdown:
    """Abstract-style summary: cohort, response rates, landmark survival, medians, follow-up, relapse and NRM."""
    level = _level(results)
    diagnoses = _diagnoses(results)
    parts = [
        f"The analysis includes {fmt.counted(results['n_patients'], 'patient')}"
        + (f" ({diagnoses})." if diagnoses else ".")
    ]
    rates = [
        f"{_lower_first(r['label'])} {fmt.rate(r['responders'], r['evaluable'], r['rate'], r['ci_low'], r['ci_high'], level)}"
        for key, r in results["responses"].items()
        if key in ("bm_mrd_negative_cr", "emd_cr") and r["evaluable"]
    ]
    if rates:
        parts.append(f"Response rates: {_join(rates)}.")
    for key in ("os", "lfs"):
        block = results["endpoints"][key]
        landmarks = _join(_landmark_phrases(results, block["landmarks"]))
        parts.append(
            f"{block['label']} from the {_origin(results)} was {landmarks}; {_median_phrase(results, block)}."
        )
    follow = results["follow_up"]
    parts.append(
        f"Median follow-up was {fmt.months(follow['median_months'], missing=fmt.NOT_ESTIMABLE)} "
        f"({fmt.months_ci(follow['ci_low'], follow['ci_high'], level)}; {follow['method']})."
    )
    incidence = []
    for key in ("relapse", "nrm"):
        block = results["endpoints"][key]
        lm = _headline(block["landmarks"])
        if lm is not None:
            estimate = fmt.estimate_ci(lm["estimate"], lm["ci_low"], lm["ci_high"], level)
            incidence.append(f"{_lower_first(block['label'])} {_at(lm)} was {estimate}")
    if incidence:
        parts.append(f"The {_join(incidence)}.")
    return _SENTENCES.join(parts)


def design_paragraph(results: dict) -> Markdown:
    """Patient flow, intervals between treatment steps (median (range) days) and Table 1 highlights."""
    flow = results["flow"]
    parts = [
        f"Of {fmt.counted(flow['enrolled'], 'patient')} enrolled, {fmt.count(flow['infused'])} received the CAR-T "
        f"infusion{_by_cutoff(results)}; {fmt.count(flow['bm_mrd_negative_cr'])} of {fmt.count(flow['bm_evaluable'])} with an evaluable "
        f"bone marrow reached MRD-negative complete remission, {fmt.count(flow['transplanted'])} proceeded to a "
        f"second HSCT and {fmt.count(flow['analysed'])} were analysed from the {_origin(results)}."
    ]
    if flow["excluded"]:
        reasons = _join(f"{e['reason']} ({fmt.count(e['n'])})" for e in flow["excluded"])
        parts.append(f"Not analysed: {reasons}.")
    intervals = [
        f"{_lower_first(r['label'])} {fmt.median_range(r['median_days'], r['min_days'], r['max_days'], 'days')}"
        for r in results["intervals"]
        if r["n"]
    ]
    if intervals:
        parts.append(f"Intervals, median (range): {'; '.join(intervals)}.")
    highlights = _baseline_highlights(results["baseline"]["rows"])
    if highlights:
        parts.append(f"Baseline characteristics (Table 1): {'; '.join(highlights)}.")
    return _SENTENCES.join(parts)


def _baseline_highlights(rows: list[dict]) -> list[str]:
    """One phrase per Table 1 variable: ``"sex: male 11 (68.8%), female 5 (31.3%)"``."""
    phrases: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    for r in rows:
        labels[r["variable"]] = _lower_first(r["label"])
        if r["kind"] == "continuous":
            value = f"median {fmt.median_range(r['median'], r['min'], r['max'])}"
        else:
            value = f"{r['level']} {fmt.n_percent(r['n'], r['percent'])}"
        phrases.setdefault(r["variable"], []).append(value)
    return [f"{labels[v]}: {', '.join(values)}" for v, values in phrases.items()]


def responses_paragraph(results: dict) -> Markdown:
    """Every response rate with its exact interval, and the best-response counts by site."""
    level = _level(results)
    rates = [
        f"{r['label']}: {fmt.rate(r['responders'], r['evaluable'], r['rate'], r['ci_low'], r['ci_high'], level)}."
        for r in results["responses"].values()
    ]
    counts = results["response_counts"]
    bm = ", ".join(f"{code} {fmt.count(n)}" for code, n in counts.get("bm", {}).items())
    emd = ", ".join(f"{code} {fmt.count(n)}" for code, n in counts.get("emd", {}).items())
    n_emd = sum(counts.get("emd", {}).values())
    parts = [*rates, f"Best bone-marrow response: {bm}."]
    if n_emd:
        parts.append(
            f"Extramedullary responses are among the {fmt.counted(n_emd, 'patient')} with extramedullary disease "
            f"before CAR-T: {emd}."
        )
    else:
        parts.append("No patient had extramedullary disease before CAR-T.")
    methods = sorted({r["method"] for r in results["responses"].values()})
    if methods:
        parts.append(f"Confidence intervals: {'; '.join(methods)}.")
    return _SENTENCES.join(parts)


def survival_paragraph(results: dict) -> Markdown:
    """OS and LFS: events, landmark estimates with CIs, medians, and the median follow-up."""
    parts = []
    for key in ("os", "lfs"):
        block = results["endpoints"][key]
        landmarks = _join(_landmark_phrases(results, block["landmarks"]))
        parts.append(
            f"{block['label']} ({block['definition']}): {_events(block['events'], key)} among "
            f"{fmt.counted(block['n'], 'patient')}; {landmarks}; {_median_phrase(results, block)}."
        )
    follow = results["follow_up"]
    parts.append(
        f"Median follow-up by the {follow['method']} method was "
        f"{fmt.months(follow['median_months'], missing=fmt.NOT_ESTIMABLE)} "
        f"({fmt.months_ci(follow['ci_low'], follow['ci_high'], _level(results))})."
    )
    parts.append(f"Times are from the {_origin(results)}. Method: {results['endpoints']['os']['method']}.")
    return _SENTENCES.join(parts)


def competing_risks_paragraph(results: dict) -> Markdown:
    """Cumulative incidence of relapse and non-relapse mortality (competing risks) at each landmark."""
    relapse, nrm = results["endpoints"]["relapse"], results["endpoints"]["nrm"]
    parts = [
        f"Among {fmt.counted(relapse['n'], 'patient')}, {fmt.count(relapse['events'])} relapsed and "
        f"{fmt.count(relapse['competing_events'])} died without prior relapse."
    ]
    for block in (relapse, nrm):
        landmarks = _join(_landmark_phrases(results, block["landmarks"]))
        parts.append(f"{block['label']} ({block['definition']}): {landmarks}.")
    parts.append(f"Method: {relapse['method']}.")
    return _SENTENCES.join(parts)


def subgroup_paragraph(results: dict) -> Markdown:
    """Survival and incidence by subgroup at the headline landmark, test p-values and the small-numbers caution."""
    sub = results.get("subgroups")
    if not sub:
        return Markdown()
    level = _level(results)
    parts = []
    for key in ("os", "lfs", "relapse", "nrm"):
        label = results["endpoints"][key]["label"]
        groups = []
        for group in sub["groups"]:
            lm = _headline(group[key]["landmarks"])
            estimate = (
                f"{fmt.estimate_ci(lm['estimate'], lm['ci_low'], lm['ci_high'], level)} {_at(lm)}"
                if lm
                else NOT_FOLLOWED
            )
            groups.append(
                f"{group['value']} (n = {fmt.count(group['n'])}, {_events(group[key].get('events'), key)}) "
                f"{estimate}"
            )
        test = sub.get("tests", {}).get(key)
        tested = f" ({test['method']} {fmt.p_value(test['p_value'])})" if test else ""
        parts.append(f"{label} by {sub['column']}: {_join(groups)}{tested}.")
    if sub.get("caution"):
        parts.append(sub["caution"])
    return _SENTENCES.join(parts)


def methods_markdown(results: dict) -> Markdown:
    """The methods section: endpoints, statistical methods with references, parameters, data file and SHA-256."""
    params = results["parameters"]
    endpoints = [md("- **{}**: {}.", b["label"], b["definition"]) for b in results["endpoints"].values()]
    methods = results["methods"]
    cited = [k for k in _METHOD_ORDER if k in methods and (k != "test" or results.get("subgroups"))]
    statistics = [_cite(methods[k], _CITES.get(k, "")) for k in cited]
    refs = [REFERENCES[r] for r in _references(cited)]
    cutoff = params.get("data_cutoff") or "none (follow-up to each patient's last contact)"
    landmarks = _join(fmt.number(m) for m in params["landmarks_months"])
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
    if results.get("is_reconstruction"):
        data.append(
            "The shipped reconstructed cohort, consistent with the published aggregates (not patient records)"
        )
    notes = results.get("data_notes") or []
    data += [f"As read: {note}" for note in notes] or ["Read as written; nothing was normalised"]
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


def _cite(sentence: str, citation: str) -> str:
    """The citation inside the sentence's final full stop."""
    return f"{sentence.rstrip('.')} {citation}." if citation else sentence


def _references(cited: list[str]) -> list[str]:
    keys = []
    for k in cited:
        keys.extend({"km": ["km", "greenwood"], "cif": ["cif", "gray"]}.get(k, [k]))
    return keys


def _subgroup_text(params: dict) -> str:
    subgroup = params.get("subgroup") or {}
    if not subgroup:
        return "all patients"
    return "; ".join(f"{column} in {', '.join(values)}" for column, values in subgroup.items())
