"""The data contract: one row per patient.

This module is the single source of truth for the patient table's columns, their codes and the rules between
dates. ``data/README.md`` embeds :func:`contract_markdown` verbatim (``tests/test_schema.py`` keeps the two in
agreement), the validator (:mod:`cartreport.contract.validate`) checks a table against :data:`COLUMNS`, and
:func:`cartreport.contract.coerce.coerce` turns a validated table into typed columns. This module is declaration only
(it imports nothing of cartreport): readers and validators apply it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "BM_COMPLETE_RESPONSES",
    "BM_RESPONSES",
    "CGVHD_SEVERITIES",
    "COLUMNS",
    "CONTACT_EVENTS",
    "DATA_ORIGINS",
    "DATE_COLUMNS",
    "DATE_LABELS",
    "DATE_ORDER_RULES",
    "EARLIEST_DATE",
    "EMD_RESPONSES",
    "OPTIONAL_COLUMNS",
    "OUTCOME_DATES",
    "OrderRule",
    "REQUIRED_COLUMNS",
    "XPT_ALIASES",
    "ColumnSpec",
    "column",
    "contract_markdown",
    "made_up",
    "made_up_words",
    "origin_counts",
]

BM_RESPONSES: tuple[str, ...] = ("MRD-negative CR", "MRD-positive CR", "NR", "NE")
#: the bone-marrow responses that count as complete remission (CR)
BM_COMPLETE_RESPONSES: tuple[str, ...] = ("MRD-negative CR", "MRD-positive CR")
EMD_RESPONSES: tuple[str, ...] = ("CR", "PR", "SD", "PD", "NE")
YES_NO: tuple[str, ...] = ("yes", "no")
#: spellings accepted for yes/no columns (compared after stripping and lower-casing)
TRUE_WORDS = frozenset({"yes", "y", "true", "t", "1"})
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0"})
SEXES: tuple[str, ...] = ("male", "female")
DONOR_TYPES: tuple[str, ...] = (
    "matched sibling",
    "matched unrelated",
    "haploidentical",
    "cord blood",
    "other",
)
#: the earliest date a date column may hold (a year mistyped, 1021 for 2021, is refused; pandas holds no date
#: before 1677)
EARLIEST_DATE = "1900-01-01"
#: what a row is when it is not a patient's record: written by ``cartreport reconstruct`` and ``synthesize`` in
#: every row, so that every report built on such rows says so, wherever the file goes (a blank: patient records)
DATA_ORIGINS: tuple[str, ...] = ("reconstruction", "synthetic")
#: NIH global severity of chronic GVHD (Jagasia et al., BBMT 2015)
CGVHD_SEVERITIES: tuple[str, ...] = ("mild", "moderate", "severe")


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the patient table.

    Attributes
    ----------
    name : column name, exactly as in the file header.
    required : the column must be present.
    kind : ``"text"``, ``"date"``, ``"category"``, ``"yes/no"``, ``"number"`` or ``"integer"``.
    blank : what a blank cell means, or ``None`` when a blank is not allowed.
    values : allowed values for a category column.
    description : one line for data/README.md.
    """

    name: str
    required: bool
    kind: str
    blank: str | None
    description: str
    values: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def values_text(self) -> str:
        if self.values:
            return ", ".join(f"`{v}`" for v in self.values)
        if self.kind == "date":
            return "date `YYYY-MM-DD`"
        if self.kind == "number":
            return f"number {self.minimum:g}–{self.maximum:g}"
        if self.kind == "integer":
            return f"whole number {self.minimum:g}–{self.maximum:g}"
        return "text"


COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("patient_id", True, "text", None, "unique, non-empty pseudonymous identifier"),
    ColumnSpec("diagnosis", True, "text", None, "non-empty text; the study uses `T-ALL` and `T-LBL`"),
    ColumnSpec("cart_infusion_date", True, "date", None, "date of the CD7 CAR-T infusion"),
    ColumnSpec(
        "bm_response", True, "category", None, "best bone-marrow response after CAR-T", values=BM_RESPONSES
    ),
    ColumnSpec(
        "emd_at_baseline",
        True,
        "yes/no",
        None,
        "extramedullary disease before CAR-T (`true`/`false` accepted)",
        values=YES_NO,
    ),
    ColumnSpec(
        "emd_response",
        True,
        "category",
        "no extramedullary disease (must be blank then)",
        "best extramedullary response after CAR-T",
        values=EMD_RESPONSES,
    ),
    ColumnSpec(
        "second_hsct_date",
        True,
        "date",
        "not transplanted",
        "second allogeneic HSCT, on or after cart_infusion_date",
    ),
    ColumnSpec("relapse_date", True, "date", "no relapse", "first relapse after the CAR-T response"),
    ColumnSpec("death_date", True, "date", "alive", "death from any cause, on or after every other date"),
    ColumnSpec(
        "last_contact_date",
        True,
        "date",
        None,
        "last date known alive, or the death date for a patient who died",
    ),
    ColumnSpec("sex", False, "category", "unknown", "sex", values=SEXES),
    ColumnSpec(
        "age_years", False, "number", "unknown", "age at CAR-T infusion, years", minimum=0, maximum=120
    ),
    ColumnSpec("first_hsct_date", False, "date", "unknown", "first allogeneic HSCT"),
    ColumnSpec(
        "relapse_after_first_hsct_date",
        False,
        "date",
        "unknown",
        "relapse after the first HSCT (before CAR-T)",
    ),
    ColumnSpec("donor_type", False, "category", "unknown", "donor of the second HSCT", values=DONOR_TYPES),
    ColumnSpec(
        "cause_of_death", False, "text", "alive or unknown", "free text, e.g. `relapse`, `infection`, `GVHD`"
    ),
    # safety of the CAR-T infusion and outcomes of the second HSCT (optional; see cartreport.analysis.transplant_endpoints)
    ColumnSpec(
        "crs_grade",
        False,
        "integer",
        "not assessed",
        "worst cytokine release syndrome after CAR-T, ASTCT 2019 consensus grade (0 = none)",
        minimum=0,
        maximum=5,
    ),
    ColumnSpec(
        "icans_grade",
        False,
        "integer",
        "not assessed",
        "worst immune effector cell-associated neurotoxicity (ICANS), ASTCT 2019 grade (0 = none)",
        minimum=0,
        maximum=5,
    ),
    ColumnSpec(
        "neutrophil_engraftment_date",
        False,
        "date",
        "not engrafted",
        "neutrophil engraftment after the second HSCT",
    ),
    ColumnSpec(
        "platelet_engraftment_date",
        False,
        "date",
        "not engrafted",
        "platelet engraftment after the second HSCT",
    ),
    ColumnSpec(
        "agvhd_2_4_date",
        False,
        "date",
        "never",
        "first date acute GVHD reached grade II–IV after the second HSCT",
    ),
    ColumnSpec(
        "agvhd_3_4_date",
        False,
        "date",
        "never",
        "first date acute GVHD reached grade III–IV; needs agvhd_2_4_date, not after it",
    ),
    ColumnSpec("cgvhd_date", False, "date", "never", "onset of chronic GVHD after the second HSCT"),
    ColumnSpec(
        "cgvhd_severity",
        False,
        "category",
        "no chronic GVHD",
        "NIH global severity of chronic GVHD at its worst; required when cgvhd_date is given",
        values=CGVHD_SEVERITIES,
    ),
    ColumnSpec(
        "cgvhd_systemic_date",
        False,
        "date",
        "none",
        "start of systemic treatment for chronic GVHD, on or after cgvhd_date",
    ),
    ColumnSpec(
        "data_origin",
        False,
        "category",
        "patient records",
        "rows cartreport made up: `reconstruction` (`cartreport reconstruct`) or `synthetic` (`cartreport "
        "synthesize`); every report on them says they are not patient records",
        values=DATA_ORIGINS,
    ),
)


def origin_counts(table) -> dict[str, int]:
    """Rows of a validated (or coerced) table by what they are: ``{"patient records": …, "reconstruction": …,
    "synthetic": …}`` from its ``data_origin`` column (blank, or no such column: patient records). ``table`` is a
    pandas DataFrame (not imported here: this module is declaration only)."""
    if "data_origin" in table.columns:
        made = {origin: int((table["data_origin"] == origin).sum()) for origin in DATA_ORIGINS}
    else:
        made = dict.fromkeys(DATA_ORIGINS, 0)
    return {"patient records": len(table) - sum(made.values()), **made}


def made_up(counts: dict[str, int]) -> dict[str, int]:
    """The rows cartreport made up, by origin, of :func:`origin_counts` (origins without a row left out)."""
    return {origin: counts[origin] for origin in DATA_ORIGINS if counts.get(origin)}


def made_up_words(counts: dict[str, int]) -> str:
    """The made-up rows of :func:`origin_counts` in words: ``"1 reconstructed and 2 synthetic"``, ``"3 synthetic"``."""
    words = {"reconstruction": "reconstructed", "synthetic": "synthetic"}
    return " and ".join(f"{n:,} {words[origin]}" for origin, n in made_up(counts).items())


_BY_NAME = {c.name: c for c in COLUMNS}
REQUIRED_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if not c.required)
DATE_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind == "date")
INTEGER_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind == "integer")

#: The only 8-character names accepted in XPT files for contract columns whose names are longer than 8 characters
#: (XPT version 5 cannot hold longer names). Matched case-insensitively; CDISC-like where a CDISC name exists.
XPT_ALIASES: dict[str, str] = {
    "PATID": "patient_id",
    "DIAG": "diagnosis",
    "CARTDT": "cart_infusion_date",
    "BMRESP": "bm_response",
    "EMDBL": "emd_at_baseline",
    "EMDRESP": "emd_response",
    "HSCT2DT": "second_hsct_date",
    "RELDT": "relapse_date",
    "DTHDT": "death_date",
    "LSTCNDT": "last_contact_date",
    "AGE": "age_years",
    "HSCT1DT": "first_hsct_date",
    "RELH1DT": "relapse_after_first_hsct_date",
    "DONORTYP": "donor_type",
    "DTHCAUS": "cause_of_death",
    "CRSGR": "crs_grade",
    "ICANSGR": "icans_grade",
    "NEUTENDT": "neutrophil_engraftment_date",
    "PLTENDT": "platelet_engraftment_date",
    "AGVHD2DT": "agvhd_2_4_date",
    "AGVHD3DT": "agvhd_3_4_date",
    "CGVHDDT": "cgvhd_date",
    "CGVHDSEV": "cgvhd_severity",
    "CGVHDSDT": "cgvhd_systemic_date",
    "DATAORIG": "data_origin",
}

# The date rules, as data: ``between_columns`` and ``transplant_rules`` apply them (vectorised).

#: what each date is called in messages
DATE_LABELS: dict[str, str] = {
    "cart_infusion_date": "the CAR-T infusion",
    "second_hsct_date": "the second HSCT",
    "relapse_date": "the relapse",
    "death_date": "death",
    "last_contact_date": "the last contact",
    "first_hsct_date": "the first HSCT",
    "relapse_after_first_hsct_date": "the relapse after the first HSCT",
    "neutrophil_engraftment_date": "neutrophil engraftment",
    "platelet_engraftment_date": "platelet engraftment",
    "agvhd_2_4_date": "acute GVHD grade II–IV",
    "agvhd_3_4_date": "acute GVHD grade III–IV",
    "cgvhd_date": "the onset of chronic GVHD",
    "cgvhd_systemic_date": "systemic treatment of chronic GVHD",
}


class OrderRule(NamedTuple):
    """``column`` may not be ``relation`` ("before"/"after") ``other``; ``fix``: what to do, when more can be said
    than "check both dates"."""

    rule: str
    column: str
    other: str
    relation: str
    fix: str = ""


#: the rules between two dates of a patient (a blank or malformed date breaks none)
DATE_ORDER_RULES: tuple[OrderRule, ...] = (
    OrderRule("order-hsct-before-cart", "second_hsct_date", "cart_infusion_date", "before"),
    OrderRule("order-relapse-before-cart", "relapse_date", "cart_infusion_date", "before"),
    OrderRule("order-death-before-cart", "death_date", "cart_infusion_date", "before"),
    OrderRule("order-relapse-after-death", "relapse_date", "death_date", "after"),
    OrderRule("order-hsct-after-death", "second_hsct_date", "death_date", "after"),
    OrderRule("order-first-hsct-after-cart", "first_hsct_date", "cart_infusion_date", "after"),
    OrderRule(
        "order-first-relapse-after-cart", "relapse_after_first_hsct_date", "cart_infusion_date", "after"
    ),
    OrderRule(
        "order-first-relapse-before-first-hsct", "relapse_after_first_hsct_date", "first_hsct_date", "before"
    ),
    # the optional transplant outcomes (the rules between them and the second HSCT, death and the last contact
    # hold for every date of OUTCOME_DATES: cartreport.contract.transplant_rules)
    OrderRule(
        "agvhd-3-4-before-2-4",
        "agvhd_3_4_date",
        "agvhd_2_4_date",
        "before",
        "agvhd_2_4_date is the first date of grade II or higher, so on or before agvhd_3_4_date",
    ),
    OrderRule("cgvhd-treatment-before-onset", "cgvhd_systemic_date", "cgvhd_date", "before"),
)
#: events the last contact may not precede (for a patient without a death date)
CONTACT_EVENTS: tuple[str, ...] = ("cart_infusion_date", "second_hsct_date", "relapse_date")
#: dates of outcomes after the second HSCT: given only with second_hsct_date, on or after it, and not after
#: death or the last contact
OUTCOME_DATES: tuple[str, ...] = (
    "neutrophil_engraftment_date",
    "platelet_engraftment_date",
    "agvhd_2_4_date",
    "agvhd_3_4_date",
    "cgvhd_date",
    "cgvhd_systemic_date",
)


def column(name: str) -> ColumnSpec:
    """The :class:`ColumnSpec` of ``name`` (``KeyError`` if the contract has no such column)."""
    return _BY_NAME[name]


def contract_markdown() -> str:
    """The contract as the Markdown table embedded in ``data/README.md``."""
    lines = [
        "| column | required | blank means | values | description |",
        "|---|---|---|---|---|",
    ]
    for c in COLUMNS:
        blank = c.blank if c.blank is not None else "not allowed"
        lines.append(
            f"| `{c.name}` | {'yes' if c.required else 'no'} | {blank} | {c.values_text} | {c.description} |"
        )
    return "\n".join(lines)
