"""The words of the statistical methods: each method's sentence with its citation and references, the safety and
transplant methods, and the caution that small subgroups put on estimates and tests.

Written from results alone (the parameters, the endpoints present, the groups and their counts), like every other
sentence of the report. The Methods section (:func:`cartreport.report.prose.methods_markdown`), the by-subgroup
section and its table print these words; :func:`with_wording` adds the same words to the results dict, so that
``results.json`` carries them (``methods``, ``subgroups.caution``; ``docs/results.md``). The analysis decides only
which groups are small (:func:`cartreport.analysis.results.small_groups`).
"""

from __future__ import annotations

from cartreport import formatting as fmt
from cartreport.analysis.results import small_groups
from cartreport.analysis.transplant_endpoints import TRANSPLANT_DEFINITIONS
from cartreport.report.captions import subgroup_name

__all__ = [
    "REFERENCES",
    "method_sentences",
    "small_numbers_caution",
    "statistical_methods",
    "transplant_methods",
    "with_wording",
]

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
    "astct": "Lee DW, Santomasso BD, Locke FL, et al. ASTCT consensus grading for cytokine release syndrome and "
    "neurologic toxicity associated with immune effector cells. Biol Blood Marrow Transplant 2019;25:625–638.",
    "grfs": "Holtan SG, DeFor TE, Lazaryan A, et al. Composite end point of graft-versus-host disease-free, "
    "relapse-free survival after allogeneic hematopoietic cell transplantation. Blood 2015;125:1333–1338.",
}
_CITES = {
    "km": "(Kaplan & Meier 1958; Greenwood 1926)",
    "median_ci": "(Brookmeyer & Crowley 1982)",
    "cif": "(Aalen & Johansen 1978; Gray 1988)",
    "response_ci": "(Clopper & Pearson 1934)",
    "follow_up": "",  # its sentence cites Schemper & Smith itself
    "test": "(Mantel 1966)",
}
_METHOD_ORDER = ("response_ci", "km", "median_ci", "cif", "follow_up", "test")


def method_sentences(parameters: dict) -> dict[str, str]:
    """One sentence per statistical method (``km``, ``median_ci``, ``cif``, ``response_ci``, ``follow_up``,
    ``test``), with the confidence level and the Kaplan–Meier interval of the resolved ``parameters``."""
    level = fmt.level_label(parameters["ci_level"])
    ci_method = parameters["ci_method"]
    return {
        "km": f"Survival probabilities by the Kaplan–Meier method with Greenwood's variance and {level} "
        f'{ci_method} pointwise confidence intervals (as R survival::survfit, conf.type="{ci_method}").',
        "median_ci": "Confidence intervals for median survival by the Brookmeyer–Crowley method, inverting the "
        "pointwise band (as R survival's print.survfit).",
        "cif": f"Cumulative incidence of relapse and non-relapse mortality as competing risks by the Aalen–Johansen "
        f"estimator with tied times handled exactly, Gray's variance (as R cmprsk::cuminc) and {level} log-log "
        "confidence intervals.",
        "response_ci": f"Response rates with exact {level} Clopper–Pearson confidence intervals.",
        "follow_up": "Median follow-up by the reverse Kaplan–Meier method (Schemper & Smith 1996).",
        "test": "Survival between groups compared by the log-rank test (as R survival::survdiff), cumulative "
        "incidence by Gray's test (as R cmprsk::cuminc).",
    }


def transplant_methods(results: dict) -> list[tuple[str, tuple[str, ...]]]:
    """The methods section's sentences on safety and transplant outcomes, each with the keys of
    :data:`REFERENCES` it cites; ``[]`` when the cohort has none of them."""
    keys = [k for k in TRANSPLANT_DEFINITIONS if k in results["endpoints"]]
    sentences: list[tuple[str, tuple[str, ...]]] = []
    if results.get("safety"):
        sentences.append(
            (
                "Cytokine release syndrome (CRS) and immune effector cell-associated neurotoxicity syndrome "
                "(ICANS) were graded by the ASTCT 2019 consensus (Lee et al. 2019); their rates are among the "
                "infused patients assessed, with exact Clopper–Pearson confidence intervals.",
                ("astct", "response_ci"),
            )
        )
    incidence = [TRANSPLANT_DEFINITIONS[k][0] for k in keys if k != "grfs"]
    if incidence:
        named = fmt.listed([label[:1].lower() + label[1:] for label in incidence])
        sentences.append(
            (
                f"The cumulative incidence of {named} from the second "
                "allogeneic HSCT was estimated by the Aalen–Johansen estimator (as R cmprsk::cuminc), with death "
                "without the event as the competing risk (Aalen & Johansen 1978).",
                ("cif",),
            )
        )
    if "grfs" in keys:
        sentences.append(
            (
                "GVHD-free, relapse-free survival (GRFS) from the second allogeneic HSCT was estimated by the "
                "Kaplan–Meier method, the event being the first of acute GVHD grade III–IV, chronic GVHD requiring "
                "systemic treatment, relapse or death (Holtan et al. 2015).",
                ("km", "grfs"),
            )
        )
    return sentences


def statistical_methods(results: dict) -> tuple[list[str], list[str]]:
    """The methods section's sentences, each with its citation (the between-groups test only with subgroups;
    then the safety and transplant methods), and the references they cite, in the order first cited."""
    sentences = method_sentences(results["parameters"])
    cited = [k for k in _METHOD_ORDER if k != "test" or results.get("subgroups")]
    statistics = [_cite(sentences[k], _CITES.get(k, "")) for k in cited]
    transplant = transplant_methods(results)
    statistics += [sentence for sentence, _ in transplant]
    keys = _references(cited) + [k for _, ks in transplant for k in ks]
    return statistics, [REFERENCES[k] for k in dict.fromkeys(keys)]


def _cite(sentence: str, citation: str) -> str:
    """The citation inside the sentence's final full stop."""
    return f"{sentence.rstrip('.')} {citation}." if citation else sentence


def _references(cited: list[str]) -> list[str]:
    keys = []
    for k in cited:
        keys.extend({"km": ["km", "greenwood"], "cif": ["cif", "gray"]}.get(k, [k]))
    return keys


def small_numbers_caution(subgroups: dict | None) -> str | None:
    """``"Small numbers by diagnosis: T-LBL has 5 patients and 1 death; estimates are imprecise and the tests have
    little power."``, naming each small group; ``None`` without subgroups or when no group is small."""
    small = small_groups(subgroups["groups"]) if subgroups else []
    if not small:
        return None
    groups = ", ".join(
        f"{g['value']} has {fmt.counted(g['n'], 'patient')} and {fmt.counted(g['os']['events'], 'death', zero='no')}"
        for g in small
    )
    name = subgroup_name(subgroups["column"])
    return f"Small numbers by {name}: {groups}; estimates are imprecise and the tests have little power."


def with_wording(results: dict) -> dict:
    """The results dict with the words ``results.json`` carries for its readers: ``methods`` (one sentence per
    method, :func:`method_sentences`) after ``subgroups``, and ``subgroups.caution`` (:func:`small_numbers_caution`)."""
    worded = {}
    for key, value in results.items():
        worded[key] = value
        if key == "subgroups":
            if value:
                worded[key] = {**value, "caution": small_numbers_caution(value)}
            worded["methods"] = method_sentences(results["parameters"])
    return worded
