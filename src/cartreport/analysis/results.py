"""One analysis of a cohort: the fitted objects and the ``results.json`` dict built from them.

:func:`analyse` runs every statistic once and returns an :class:`Analysis`; figures draw from its fitted objects,
prose and tables read ``Analysis.results`` (the contract in ``docs/results.md``). Nothing downstream recomputes.
The dict holds data only: the sentences ``results.json`` also carries for its readers (``methods``,
``subgroups.caution``) are the report's words, added by :func:`cartreport.report.methods.with_wording` when
:func:`cartreport.api.load_analysis` builds the analysis.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from cartreport.analysis import baseline
from cartreport.analysis.blocks import cif_body, km_body, months_or_none
from cartreport.analysis.endpoints import (
    DAYS_PER_MONTH,
    DEFINITIONS,
    ORIGINS,
    TIMELINE_COLUMNS,
    EndpointData,
    at_cutoff,
    derive_endpoints,
    month_ticks,
    patient_timeline,
)
from cartreport.analysis.params import did_you_mean
from cartreport.analysis.transplant_results import TransplantAnalysis, analyse_transplant
from cartreport.contract.identifiers import looks_like_identifier
from cartreport.contract.schema import BM_RESPONSES, EMD_RESPONSES, origin_counts
from cartreport.errors import ParameterError
from cartreport.formatting import date
from cartreport.stats.cif import CIFResult, aalen_johansen
from cartreport.stats.compare import gray_test, logrank_test
from cartreport.stats.followup import median_follow_up
from cartreport.stats.km import KMResult, kaplan_meier
from cartreport.stats.proportions import clopper_pearson

__all__ = [
    "PUBLISHED_LANDMARKS",
    "PUBLISHED_ORIGIN",
    "Analysis",
    "analyse",
    "apply_subgroup",
    "small_groups",
    "write_results",
]

SCHEMA_VERSION = 1
SURVIVAL = ("os", "lfs")
#: competing-risk endpoints and their cause codes in ``cr_status``
COMPETING = {"relapse": 1, "nrm": 2}
#: a group with fewer patients than this, or fewer deaths than SMALL_EVENTS, is small (:func:`small_groups`)
SMALL_GROUP = 10
SMALL_EVENTS = 5
#: published survival figures → (endpoint, months): reproduced at their own time, whatever landmarks are asked for
PUBLISHED_LANDMARKS: dict[str, tuple[str, float]] = {"os_12_months": ("os", 12), "lfs_12_months": ("lfs", 12)}
#: the time origin of the published survival figures (the reconstruction reproduces them from there)
PUBLISHED_ORIGIN = "second_hsct"
#: most groups ``subgroup_by`` may make: a figure by subgroup gives each its own colour of the report's palette
#: (``report.figures.style.PALETTE``, Okabe–Ito)
MAX_SUBGROUPS = 8


@dataclass(frozen=True)
class Analysis:
    """Every fitted object of one report and the results dict built from them."""

    table: pd.DataFrame
    endpoints: EndpointData
    survival: dict[str, KMResult]
    incidence: dict[str, CIFResult]
    by_group: dict[str, dict[str, KMResult | CIFResult]]
    results: dict = field(repr=False)
    transplant: TransplantAnalysis | None = None  # safety and transplant outcomes (optional columns)

    def patient_timeline(self) -> pd.DataFrame:
        """Each patient's course in months since CAR-T, to the data cut-off (the swimmer plot's input;
        :func:`cartreport.analysis.endpoints.patient_timeline`)."""
        return patient_timeline(self.table, self.endpoints.data_cutoff)

    def for_notebooks(self) -> Analysis:
        """This analysis as the report's notebooks read it (what ``cartreport run`` hands to its kernel): the same
        results and fitted curves; the table reduced to the columns of
        :func:`~cartreport.analysis.endpoints.patient_timeline` (:data:`~cartreport.analysis.endpoints.TIMELINE_COLUMNS`);
        the per-patient endpoint rows, which no section reads, left out (their columns kept)."""
        table = self.table[[name for name in self.table.columns if name in TIMELINE_COLUMNS]]
        endpoints = replace(self.endpoints, patients=self.endpoints.patients.iloc[:0])
        transplant = self.transplant
        if transplant is not None:
            rows = transplant.endpoints.patients.iloc[:0]
            transplant = replace(transplant, endpoints=replace(transplant.endpoints, patients=rows))
        return replace(self, table=table, endpoints=endpoints, transplant=transplant)


def apply_subgroup(table: pd.DataFrame, subgroup: dict[str, list[str]]) -> pd.DataFrame:
    """Rows whose every listed column takes one of its listed values (compared as text)."""
    keep = pd.Series(True, index=table.index)
    for column, allowed in subgroup.items():
        if column not in table.columns:
            near = did_you_mean(column, table.columns)
            raise ParameterError("subgroup", subgroup, f"the data have no column {column!r}{near}")
        values = table[column]
        if values.dtype == bool:  # yes/no columns are compared as the file writes them
            values = values.map({True: "yes", False: "no"})
        keep &= values.astype(str).isin(allowed)
    if not keep.any():
        raise ParameterError("subgroup", subgroup, "no patient matches this subgroup")
    return table[keep].reset_index(drop=True)


def _clean(value):
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _landmarks(fit: KMResult | CIFResult, landmarks_months: list[float]) -> list[dict]:
    days = [m * DAYS_PER_MONTH for m in landmarks_months]
    at_risk = fit.at_risk_at(days) if fit.n else [0] * len(days)
    rows = []
    for m, d, n in zip(landmarks_months, days, at_risk, strict=True):
        e = fit.at(d)
        rows.append(
            {"months": m, "estimate": e.estimate, "ci_low": e.ci_low, "ci_high": e.ci_high, "at_risk": n}
        )
    return rows


def _reproduced(published: dict | None, survival: dict[str, KMResult]) -> dict | None:
    """The estimates the published survival figures are compared with, each at its own time
    (:data:`PUBLISHED_LANDMARKS`), as a landmark's is; ``None`` without published figures."""
    if not published:
        return None
    return {
        name: survival[key].at(months * DAYS_PER_MONTH).estimate
        for name, (key, months) in PUBLISHED_LANDMARKS.items()
        if name in published
    }


def _block_head(key: str, fit: KMResult | CIFResult, params: dict) -> dict:
    """What every endpoint block starts with: label, definition, origin, patients, events, landmarks."""
    label, definition = DEFINITIONS[key]
    return {
        "label": label,
        "definition": definition,
        "origin": params["time_origin"],
        "n": fit.n,
        "events": fit.n_events,
        "landmarks": _landmarks(fit, params["landmarks_months"]),
    }


def _km_block(key: str, fit: KMResult, params: dict) -> dict:
    return {**_block_head(key, fit, params), **km_body(fit)}


def _cif_block(key: str, fit: CIFResult, params: dict) -> dict:
    return {**_block_head(key, fit, params), **cif_body(fit)}


def _responses(table: pd.DataFrame, ci_level: float) -> dict:
    bm = baseline.bone_marrow_counts(table["bm_response"])
    emd = table.loc[table["emd_at_baseline"], "emd_response"]
    emd_counts = baseline.code_counts(emd)
    emd_evaluable = len(emd) - emd_counts.get("NE", 0)  # (emd != "NE").sum()
    specs = {
        "bm_mrd_negative_cr": (
            "Bone-marrow MRD-negative CR",
            bm["bm_mrd_negative_cr"],
            bm["bm_evaluable"],
        ),
        "bm_cr": ("Bone-marrow CR (MRD-negative or positive)", bm["bm_cr"], bm["bm_evaluable"]),
        "emd_cr": ("CR of extramedullary lesions", emd_counts.get("CR", 0), emd_evaluable),
        "emd_orr": (
            "Extramedullary response (CR or PR)",
            emd_counts.get("CR", 0) + emd_counts.get("PR", 0),
            emd_evaluable,
        ),
    }
    out = {}
    for key, (label, responders, evaluable) in specs.items():
        out[key] = {"label": label, **clopper_pearson(responders, evaluable, ci_level).to_dict()}
    return out


def _counts_of(values: pd.Series, codes) -> dict[str, int]:
    """``{code: (values == code).sum()}`` for each of ``codes``, in their order."""
    counts = baseline.code_counts(values)
    return {code: counts.get(code, 0) for code in codes}


def _subgroups(analysed: pd.DataFrame, table: pd.DataFrame, column: str, params: dict):
    """Per-group KM (OS, LFS) and Aalen–Johansen (relapse, NRM) fits; log-rank and Gray's tests."""
    if column not in table.columns:
        near = did_you_mean(column, table.columns)
        raise ParameterError("subgroup_by", column, f"the data have no such column{near}")
    if column == "patient_id" or looks_like_identifier(column):
        raise ParameterError(
            "subgroup_by", column, "identifies patients; choose a column that groups them, e.g. diagnosis"
        )
    values_by_patient = table.set_index("patient_id")[column]
    if values_by_patient.dtype == bool:
        values_by_patient = values_by_patient.map({True: "yes", False: "no"})
    group = analysed["patient_id"].map(
        values_by_patient.astype(object).where(values_by_patient.notna(), "unknown")
    )
    group = group.astype(str)
    values = sorted(group.unique())
    sizes = group.value_counts()
    singles = int((sizes == 1).sum())
    if len(sizes) > 1 and singles > len(sizes) / 2:
        raise ParameterError(
            "subgroup_by",
            column,
            f"{singles} of its {len(sizes)} groups hold a single patient; curves by this column would show "
            "individual patients and no test is meaningful; choose a column that groups patients",
        )
    if len(sizes) > MAX_SUBGROUPS:  # before any fit: a test between k groups needs a k x k matrix
        raise ParameterError(
            "subgroup_by",
            column,
            f"has {len(sizes):,} groups; a figure tells at most {MAX_SUBGROUPS} apart (one colour each); choose a "
            "column of fewer groups, or keep some with the subgroup parameter",
        )
    level, method = params["ci_level"], params["ci_method"]
    fits: dict[str, dict] = {}
    rows = []
    for value in values:
        g = analysed[group == value]
        fits[value] = {
            **{
                key: kaplan_meier(g[f"{key}_time_days"], g[f"{key}_event"], level, method) for key in SURVIVAL
            },
            **{
                key: aalen_johansen(g["cr_time_days"], g["cr_status"], cause=cause, ci_level=level)
                for key, cause in COMPETING.items()
            },
        }
        rows.append(
            {
                "value": value,
                "n": int(len(g)),
                **{
                    key: {"events": fit.n_events, "landmarks": _landmarks(fit, params["landmarks_months"])}
                    for key, fit in fits[value].items()
                },
            }
        )
    tests = {}
    if len(values) > 1:
        for key in SURVIVAL:
            t = logrank_test(analysed[f"{key}_time_days"], analysed[f"{key}_event"], group)
            tests[key] = {"method": t.method, "statistic": t.statistic, "df": t.df, "p_value": t.p_value}
        for key, cause in COMPETING.items():
            t = gray_test(analysed["cr_time_days"], analysed["cr_status"], group, cause=cause)
            tests[key] = {"method": t.method, "statistic": t.statistic, "df": t.df, "p_value": t.p_value}
    return fits, {"column": column, "groups": rows, "tests": tests}


def small_groups(groups: list[dict]) -> list[dict]:
    """The groups of ``results["subgroups"]["groups"]`` too small for precise estimates or a test with power:
    fewer than :data:`SMALL_GROUP` patients or :data:`SMALL_EVENTS` deaths (the report words the caution,
    :func:`cartreport.report.methods.small_numbers_caution`)."""
    return [g for g in groups if g["n"] < SMALL_GROUP or g["os"]["events"] < SMALL_EVENTS]


def analyse(
    table: pd.DataFrame,
    params: dict,
    *,
    data_file: str = "",
    data_sha256: str = "",
    is_reconstruction: bool = False,
    published: dict | None = None,
    data_notes: tuple[str, ...] = (),
) -> Analysis:
    """Analyse a coerced patient table with resolved parameters (:func:`cartreport.analysis.params.resolve_parameters`)."""
    enrolled = len(table)
    subgroup = apply_subgroup(table, params["subgroup"]) if params["subgroup"] else table
    # one population for every count, table, figure and sentence: the patients infused by the data cut-off
    selected = at_cutoff(subgroup, params["data_cutoff"] or None)
    if selected.empty:
        raise ParameterError(
            "data_cutoff",
            params["data_cutoff"],
            "no patient can be analysed (every patient was infused after it); choose a later data cut-off",
        )
    endpoints = derive_endpoints(selected, params["time_origin"], params["data_cutoff"] or None)
    analysed = endpoints.analysed
    if analysed.empty:
        reasons = "; ".join(f"{e['reason']}: {e['n']}" for e in endpoints.exclusions())
        raise ParameterError(
            "time_origin" if params["time_origin"] == "second_hsct" else "data_cutoff",
            params["time_origin"] if params["time_origin"] == "second_hsct" else params["data_cutoff"],
            f"no patient can be analysed ({reasons}); choose another time origin or a later data cut-off",
        )
    level, method = params["ci_level"], params["ci_method"]
    survival = {
        key: kaplan_meier(analysed[f"{key}_time_days"], analysed[f"{key}_event"], level, method)
        for key in ("os", "lfs")
    }
    incidence = {
        "relapse": aalen_johansen(analysed["cr_time_days"], analysed["cr_status"], cause=1, ci_level=level),
        "nrm": aalen_johansen(analysed["cr_time_days"], analysed["cr_status"], cause=2, ci_level=level),
    }
    follow = median_follow_up(analysed["os_time_days"], analysed["os_event"], level, method)
    flow = baseline.patient_flow(selected, endpoints, enrolled)
    if len(selected) < len(subgroup):
        reason = f"{baseline.INFUSED_AFTER_CUTOFF} of {date(params['data_cutoff'])}"
        flow["excluded"].insert(0, {"reason": reason, "n": len(subgroup) - len(selected)})
    if len(subgroup) < enrolled:
        flow["excluded"].insert(0, {"reason": baseline.OUTSIDE_SUBGROUP, "n": enrolled - len(subgroup)})

    by_group: dict[str, dict[str, KMResult | CIFResult]] = {}
    subgroups = None
    if params["subgroup_by"]:
        by_group, subgroups = _subgroups(analysed, selected, params["subgroup_by"], params)

    blocks = {
        **{key: _km_block(key, fit, params) for key, fit in survival.items()},
        **{key: _cif_block(key, fit, params) for key, fit in incidence.items()},
    }
    # numbers at risk at the figures' tick times (curves drawn together share one axis)
    for keys, fits in (((*SURVIVAL,), survival), ((*COMPETING,), incidence)):
        ticks, _ = month_ticks(
            max((fit.time[-1] for fit in fits.values() if fit.n), default=0) / DAYS_PER_MONTH
        )
        for key in keys:
            blocks[key]["risk_table"] = [
                {"months": float(m), "at_risk": int(n)}
                for m, n in zip(ticks, fits[key].at_risk_at(ticks * DAYS_PER_MONTH), strict=True)
            ]

    transplant = analyse_transplant(selected, params, survival)
    blocks.update(transplant.blocks)

    results = {
        "schema_version": SCHEMA_VERSION,
        "title": params["title"],
        "n_patients": len(selected),
        "data_file": data_file,
        "data_sha256": data_sha256,
        "is_reconstruction": is_reconstruction,
        "data_origin": origin_counts(selected),
        "published": published,
        "reproduced": _reproduced(published, survival),
        "data_notes": list(data_notes),
        "parameters": {k: v for k, v in params.items() if k != "output_dir"},
        "time_origin_label": ORIGINS[params["time_origin"]],
        "flow": flow,
        "baseline": {"rows": baseline.baseline_rows(selected)},
        "intervals": baseline.interval_rows(selected),
        "responses": _responses(selected, level),
        "response_counts": {
            "bm": _counts_of(selected["bm_response"], BM_RESPONSES),
            "emd": _counts_of(selected.loc[selected["emd_at_baseline"], "emd_response"], EMD_RESPONSES),
        },
        "endpoints": blocks,
        "follow_up": {
            "median_months": months_or_none(follow.estimate),
            "ci_low": months_or_none(follow.ci_low),
            "ci_high": months_or_none(follow.ci_high),
            "method": "reverse Kaplan–Meier",
        },
        "subgroups": subgroups,
    }
    if transplant.safety:  # only with the optional columns: a cohort without them reports as before
        results["safety"] = transplant.safety
    if transplant.flow:
        results["transplant_flow"] = transplant.flow
    return Analysis(
        table=selected,
        endpoints=endpoints,
        survival=survival,
        incidence=incidence,
        by_group=by_group,
        results=_clean(results),
        transplant=transplant,
    )


def write_results(results: dict, path: Path) -> None:
    """``results.json``: sorted keys, two-space indent, no NaN — byte-identical for identical input."""
    text = json.dumps(_clean(results), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
