"""The report's tables: tidy DataFrames built from the results dict, and one great_tables house style.

Every function takes the ``results`` dict (``docs/results.md``) and returns a :class:`pandas.DataFrame` of text
cells formatted by :mod:`cartreport.formatting` — these frames are the CSVs written to ``tables/``. Nothing here
computes a statistic: numbers are looked up in ``results`` and printed. A frame's title and footnote (the CI method,
how percentages are taken) travel in ``frame.attrs``; :func:`to_gt` renders any frame as a ``great_tables.GT``,
grouping rows when ``frame.attrs["group"]`` names a column. The HTML is self-contained: system fonts, no web fonts,
no links.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from great_tables import GT

from cartreport import formatting as fmt
from cartreport.analysis.baseline import APPLIES_WHEN
from cartreport.analysis.endpoints import DEFINITIONS
from cartreport.analysis.results import PUBLISHED_LANDMARKS
from cartreport.report.captions import table_title, the_origin
from cartreport.report.methods import small_numbers_caution

__all__ = [
    "baseline_table",
    "intervals_table",
    "landmark_rows",
    "landmark_table",
    "median_table",
    "published_vs_reproduced",
    "response_counts_table",
    "response_table",
    "risk_table",
    "subgroup_table",
    "to_gt",
]

SURVIVAL = ("os", "lfs")
COMPETING = ("relapse", "nrm")
FONTS = ["system-ui", "-apple-system", "Segoe UI", "Helvetica Neue", "Arial", "sans-serif"]


def _frame(rows: list[dict], columns: Sequence[str], **attrs: str | dict | None) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(columns))
    frame.attrs.update({k: v for k, v in attrs.items() if v})
    return frame


def _level(results: dict) -> float:
    return results["parameters"]["ci_level"]


def _ci_header(results: dict) -> str:
    return f"{fmt.level_label(_level(results))} CI"


def _landmark_header(months: float) -> str:
    return f"{fmt.number(months)} months"


def _not_applicable_notes(rows: list[dict]) -> list[str]:
    """``"Donor of the second HSCT: percentages over the patients with a second HSCT."``, once per characteristic
    that some patients cannot have (:data:`~cartreport.analysis.baseline.APPLIES_WHEN`)."""
    labels = dict.fromkeys((r["variable"], r["label"]) for r in rows if r.get("not_applicable"))
    return [f"{label}: percentages over the {APPLIES_WHEN[variable][2]}." for variable, label in labels]


def baseline_table(results: dict) -> pd.DataFrame:
    """Table 1: one group per characteristic, n (%) per level or median (range); header ``N = <n>``."""
    n_col = f"N = {results['n_patients']}"
    rows = []
    source = results["baseline"]["rows"]
    for i, r in enumerate(source):
        if r["kind"] == "continuous":
            level, value = "Median (range)", fmt.median_range(r["median"], r["min"], r["max"])
        else:
            level, value = r["level"], fmt.n_percent(r["n"], r["percent"])
        rows.append({"Characteristic": r["label"], "Level": level, n_col: value})
        last_of_variable = i + 1 == len(source) or source[i + 1]["variable"] != r["variable"]
        if last_of_variable and r.get("not_applicable"):  # no second HSCT: no donor, not an unknown one
            level = APPLIES_WHEN[r["variable"]][1]
            rows.append({"Characteristic": r["label"], "Level": level, n_col: fmt.count(r["not_applicable"])})
        if last_of_variable and r["missing"]:
            rows.append({"Characteristic": r["label"], "Level": "Unknown", n_col: fmt.count(r["missing"])})
    return _frame(
        rows,
        ["Characteristic", "Level", n_col],
        group="Characteristic",
        labels={"Level": "Characteristic"},  # the grouped rows carry the characteristic; levels sit under it
        footnote="n (%) with percentages over patients with a known value (unknown counted separately); "
        "continuous variables as median (range)."
        + "".join(f" {note}" for note in _not_applicable_notes(source)),
    )


def intervals_table(results: dict) -> pd.DataFrame:
    """Days between consecutive treatment steps: median (range) over patients with both dates."""
    rows = [
        {
            "Interval": r["label"],
            "Patients": fmt.count(r["n"]),
            "Median (range), days": fmt.median_range(r["median_days"], r["min_days"], r["max_days"]),
        }
        for r in results["intervals"]
    ]
    return _frame(rows, ["Interval", "Patients", "Median (range), days"])


def response_table(results: dict) -> pd.DataFrame:
    """Response rates: responders/evaluable, rate and its exact interval; the method in the footnote."""
    ci_col = _ci_header(results)
    rows = [
        {
            "Response": r["label"],
            "Responders/evaluable": f"{fmt.count(r['responders'])}/{fmt.count(r['evaluable'])}",
            "Rate": fmt.percent(r["rate"]),
            ci_col: fmt.interval(r["ci_low"], r["ci_high"]),
        }
        for r in results["responses"].values()
    ]
    methods = sorted({r["method"] for r in results["responses"].values()})
    footnote = f"{ci_col}: {'; '.join(methods)}." if methods else None
    return _frame(rows, ["Response", "Responders/evaluable", "Rate", ci_col], footnote=footnote)


def response_counts_table(results: dict) -> pd.DataFrame:
    """Best response by site: n (%) of the patients assessed at that site."""
    sites = {"bm": "Bone marrow", "emd": "Extramedullary disease"}
    rows = []
    for site, counts in results["response_counts"].items():
        total = sum(counts.values())
        for code, n in counts.items():
            share = n / total if total else None
            rows.append(
                {"Site": sites.get(site, site), "Response": code, "Patients, n (%)": fmt.n_percent(n, share)}
            )
    return _frame(
        rows,
        ["Site", "Response", "Patients, n (%)"],
        group="Site",
        footnote="Extramedullary responses among patients with extramedullary disease before CAR-T.",
    )


def landmark_rows(results: dict, keys, *, in_days: bool = False) -> list[dict]:
    """One row per endpoint and landmark of ``keys`` (those in the results): the landmark (``"Months"``, or
    ``"Day"`` with ``in_days``), the estimate, its confidence interval and the numbers at risk."""
    ci_col = _ci_header(results)
    rows = []
    for key in keys:
        block = results["endpoints"].get(key)
        for lm in block["landmarks"] if block else []:
            when = {"Day": fmt.count(lm["days"])} if in_days else {"Months": fmt.number(lm["months"])}
            rows.append(
                {
                    "Endpoint": block["label"],
                    **when,
                    "Estimate": fmt.percent(lm["estimate"]),
                    ci_col: fmt.interval(lm["ci_low"], lm["ci_high"]),
                    "At risk": fmt.count(lm["at_risk"]),
                }
            )
    return rows


def landmark_table(results: dict) -> pd.DataFrame:
    """Endpoint × landmark: estimate, confidence interval and numbers at risk (OS, LFS, relapse, NRM)."""
    ci_col = _ci_header(results)
    rows = landmark_rows(results, (*SURVIVAL, *COMPETING))
    footnote = f"Months from {the_origin(results)}; methods in the Methods section."
    return _frame(
        rows, ["Endpoint", "Months", "Estimate", ci_col, "At risk"], group="Endpoint", footnote=footnote
    )


def median_table(results: dict) -> pd.DataFrame:
    """Median OS and LFS in months with their intervals ("not reached" when the curve stays above 50%), and the
    median follow-up (reverse Kaplan–Meier) on the last row."""
    ci_col = f"{_ci_header(results)}, months"
    rows = []
    for key in SURVIVAL:
        block = results["endpoints"][key]
        rows.append(
            {
                "Endpoint": block["label"],
                "Events/patients": f"{fmt.count(block['events'])}/{fmt.count(block['n'])}",
                "Median, months": fmt.months(block["median_months"], unit=False),
                ci_col: fmt.months_interval(block["median_ci_low"], block["median_ci_high"]),
            }
        )
    follow = results["follow_up"]
    rows.append(
        {
            "Endpoint": "Follow-up (reverse Kaplan–Meier)",
            "Events/patients": "",
            "Median, months": fmt.months(follow["median_months"], unit=False),
            ci_col: fmt.months_interval(follow["ci_low"], follow["ci_high"]),
        }
    )
    footnote = "Medians in months; methods in the Methods section."
    return _frame(rows, ["Endpoint", "Events/patients", "Median, months", ci_col], footnote=footnote)


def _value(item: object) -> object:
    """A published figure as a number, whether stored bare or as ``{"value": …, "text": …}``."""
    return item.get("value") if isinstance(item, dict) else item


def _reproduced(results: dict, name: str) -> float | None:
    """A published survival figure's value in this report, at the figure's own time (not the report's
    landmarks, which may not include it)."""
    return (results.get("reproduced") or {}).get(name)


#: published figure → (label, kind, where the reproduced value is in results)
PUBLISHED = {
    "n_patients": ("Patients", "count", lambda r: r["n_patients"]),
    "bm_mrd_negative_cr_rate": (
        "Bone-marrow MRD-negative CR",
        "percent",
        lambda r: r["responses"]["bm_mrd_negative_cr"]["rate"],
    ),
    "emd_cr_rate": ("CR of extramedullary lesions", "percent", lambda r: r["responses"]["emd_cr"]["rate"]),
    "second_hsct_n": ("Proceeded to a second HSCT", "count", lambda r: r["flow"]["transplanted"]),
    **{
        name: (
            f"{DEFINITIONS[key][0]} at {fmt.number(months)} months",
            "percent",
            lambda r, name=name: _reproduced(r, name),
        )
        for name, (key, months) in PUBLISHED_LANDMARKS.items()
    },
}


def _matches(kind: str, published: object, reproduced: object) -> bool:
    if published is None or reproduced is None:
        return False
    if kind == "count":
        return int(published) == int(reproduced)
    return fmt.percents_match(published, reproduced)


def published_vs_reproduced(results: dict) -> pd.DataFrame:
    """Each published figure beside the value reproduced from the data; match at the published precision.

    Percentages match when equal after rounding to 0.1 percentage point (the published precision); counts when
    equal. An empty frame when ``results["published"]`` is null (data other than the shipped reconstruction).
    """
    columns = ["Figure", "Published", "Reproduced", "Match"]
    published = results.get("published") or {}
    published = published.get("figures", published)
    rows = []
    for key, (label, kind, locate) in PUBLISHED.items():
        if key not in published:
            continue
        value, reproduced = _value(published[key]), locate(results)
        show = fmt.count if kind == "count" else fmt.percent
        rows.append(
            {
                "Figure": label,
                "Published": show(value),
                "Reproduced": show(reproduced),
                "Match": "yes" if _matches(kind, value, reproduced) else "no",
            }
        )
    return _frame(
        rows,
        columns,
        footnote="Percentages match when equal after rounding to 0.1 percentage point, the published precision.",
    )


def subgroup_table(results: dict) -> pd.DataFrame:
    """OS, LFS, relapse and NRM by subgroup: patients, events and the estimate with its CI at each landmark.

    The footnote carries the log-rank and Gray's test p-values and the small-numbers caution. Empty when there is no subgroup.
    """
    sub = results.get("subgroups")
    if not sub:
        return _frame([], ["Endpoint", "Group", "Patients", "Events"])
    months = [lm["months"] for lm in sub["groups"][0]["os"]["landmarks"]] if sub["groups"] else []
    rows = []
    for key in (*SURVIVAL, *COMPETING):
        for group in sub["groups"]:
            row = {
                "Endpoint": results["endpoints"][key]["label"],
                "Group": str(group["value"]),
                "Patients": fmt.count(group["n"]),
                "Events": fmt.count(group[key].get("events")),
            }
            for lm in group[key]["landmarks"]:  # estimate and interval in cells of their own: no wrapping
                row[_landmark_header(lm["months"])] = fmt.percent(lm["estimate"])
                row[f"{_landmark_header(lm['months'])}, {_ci_header(results)}"] = (
                    fmt.interval(lm["ci_low"], lm["ci_high"]) if lm["estimate"] is not None else ""
                )
            rows.append(row)
    tests = [
        f"{results['endpoints'][k]['label']}: {t['method']}, {fmt.p_value(t['p_value'])}."
        for k, t in sorted(sub.get("tests", {}).items(), key=lambda kv: (*SURVIVAL, *COMPETING).index(kv[0]))
    ]
    caution = small_numbers_caution(sub)
    footnote = " ".join([*tests, *([caution] if caution else [])])
    landmark_columns = [
        (_landmark_header(m), f"{_landmark_header(m)}, {_ci_header(results)}") for m in months
    ]
    columns = ["Endpoint", "Group", "Patients", "Events", *(c for pair in landmark_columns for c in pair)]
    return _frame(rows, columns, title=table_title("subgroups", results), group="Endpoint", footnote=footnote)


def risk_table(results: dict) -> pd.DataFrame:
    """Numbers at risk (time ≥ t, as R's risk tables) of every endpoint at the figures' tick times: the counts
    printed under the curves, as data (``results["endpoints"][key]["risk_table"]``)."""
    rows = []
    for key in (*SURVIVAL, *COMPETING):
        block = results["endpoints"][key]
        rows.append(
            {
                "Endpoint": block["label"],
                **{fmt.number(r["months"]): fmt.count(r["at_risk"]) for r in block["risk_table"]},
            }
        )
    columns = list(dict.fromkeys(c for row in rows for c in row))
    return _frame(
        rows,
        columns,
        title="Numbers at risk",
        footnote=f"Patients at risk at the months shown, since {the_origin(results)}.",
    )


def to_gt(
    frame: pd.DataFrame, title: str | None = None, footnote: str | None = None, *, id: str | None = None
) -> GT:
    """Render a table frame in the house style: system fonts, compact rows, grouped rows, footnote as source note.

    ``title`` and ``footnote`` default to ``frame.attrs["title"]`` and ``frame.attrs["footnote"]``. ``id`` scopes
    the table's CSS (great_tables draws a random one otherwise, and the HTML then differs from run to run).
    """
    group = frame.attrs.get("group")
    table = GT(frame, groupname_col=group if group in frame.columns else None, id=id)
    title = title or frame.attrs.get("title")
    footnote = footnote or frame.attrs.get("footnote")
    if frame.attrs.get("labels"):
        table = table.cols_label(**frame.attrs["labels"])
    if title:
        table = table.tab_header(title=title)
    if footnote:
        table = table.tab_source_note(footnote)
    return table.tab_options(
        table_font_names=FONTS,
        table_font_size="14px",
        heading_align="left",
        column_labels_font_weight="bold",
        row_group_font_weight="bold",
        data_row_padding="4px",
        source_notes_font_size="12px",
        table_margin_left="0px",
    )
