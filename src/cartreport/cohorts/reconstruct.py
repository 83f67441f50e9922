"""Seeded reconstruction of a patient table consistent with a study's published aggregate figures.

The flagship study (CD7 CAR-T followed by a second allo-HSCT in T-ALL/LBL relapsed after a first HSCT, ASH 2023)
published aggregates only: 16 patients, 100% bone-marrow MRD-negative CR, 75% CR of extramedullary lesions, all
proceeding to a second HSCT, 1-year OS 58.5% and LFS 51.4% from the second HSCT. :func:`reconstruct_cohort` builds a
plausible 16-patient table reproducing every one of those figures when analysed by this package. It is **not** patient
data: every assumption the source does not state is listed in :data:`ASSUMPTIONS` and in ``data/README.md``.

How it works (deterministic for a given seed):

1. *Order of deaths and censorings before the landmark.* A product-limit estimate over ``n`` patients takes only
   finitely many values; :func:`os_pattern` enumerates orderings of deaths (D) and censorings (C) before 12 months
   and keeps the one with the fewest censorings, then fewest deaths, whose Kaplan–Meier value rounds to the published
   OS. For 16 patients and 58.5% that is ``C D D C C C D C D D`` (S = 14/15 · 13/14 · 9/10 · 7/8 · 6/7 = 0.585
   exactly); the other six patients are alive beyond 12 months.
2. *Relapses.* Seeded draws place relapses (before deaths, in censored patients, in long-term survivors) until the
   LFS estimate rounds to the published LFS, with 3–5 relapses and at least one death without relapse.
3. *Days and dates.* Seeded draws give days consistent with that order, then dates: censored patients were
   transplanted late enough to be censored by the data cut-off (administrative censoring), survivors earlier; CAR-T
   precedes the second HSCT by weeks; the relapse after the first HSCT precedes CAR-T by weeks.
4. *Check.* The table is analysed with :mod:`cartreport.analysis.endpoints` and :mod:`cartreport.stats.km`; a mismatch with any
   published figure raises :class:`ReconstructionError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from cartreport.analysis.endpoints import DAYS_PER_MONTH, derive_endpoints
from cartreport.errors import ReconstructionError
from cartreport.formatting import percents_match
from cartreport.shipped import COHORT_FILE, DATA_DIR, DEFAULT_SEED
from cartreport.stats.km import kaplan_meier

__all__ = [
    "ASSUMPTIONS",
    "COHORT_FILE",
    "DATA_DIR",
    "DEFAULT_SEED",
    "PublishedFigures",
    "check_published_figures",
    "load_published_figures",
    "os_pattern",
    "reconstruct_cohort",
]

PUBLISHED_FIGURES_FILE = DATA_DIR / "published_figures.json"

#: Every assumption the published text does not state (data/README.md repeats them; a test checks it does).
ASSUMPTIONS: dict[str, str] = {
    "data_cutoff": "data cut-off 2023-06-30, before the abstract deadline; follow-up ends there for patients alive",
    "enrolment": "second HSCTs between 2020-09 and 2023-05; patients alive without 12 months of follow-up are censored "
    "administratively at the cut-off",
    "diagnosis": "11 T-ALL and 5 T-LBL",
    "emd_denominator": "8 patients had extramedullary disease before CAR-T (all 5 T-LBL and 3 T-ALL); "
    "6 of 8 reached CR of the extramedullary lesions (75%), 1 PR, 1 PD",
    "bm_response": "all 16 reached MRD-negative CR in bone marrow (the published 100%), assessed about day 28",
    "second_hsct": "all 16 proceeded to a second HSCT 30–75 days after CAR-T infusion",
    "relapse_after_first_hsct": "relapse after the first HSCT 20–60 days before CAR-T; first HSCT 4–24 months "
    "before that relapse",
    "demographics": "age at CAR-T drawn from a log-normal distribution centred at 25 years, limited to 9–52 years; "
    "11 male, 5 female",
    "donor": "second-HSCT donors mostly haploidentical (the centres' usual practice)",
    "events": "the order of deaths and censorings before 12 months is the simplest one reproducing 58.5% "
    "(5 deaths, 5 censored); relapses are placed by seeded draws reproducing 51.4%; patients alive beyond "
    "12 months have no later events",
    "causes_of_death": "death after relapse attributed to relapse; deaths without relapse to infection, GVHD or "
    "thrombotic microangiopathy",
}

_CUTOFF = pd.Timestamp("2023-06-30")
_ENROLMENT_START = pd.Timestamp("2020-09-01")
_LANDMARK_DAYS = 12 * DAYS_PER_MONTH


@dataclass(frozen=True)
class PublishedFigures:
    """The aggregate figures a reconstruction must reproduce (``data/published_figures.json``)."""

    n_patients: int
    bm_mrd_negative_cr_rate: float
    emd_cr_rate: float
    second_hsct_n: int
    os_12_months: float
    lfs_12_months: float
    source: dict

    @property
    def targets(self) -> dict[str, float]:
        return {
            "n_patients": self.n_patients,
            "bm_mrd_negative_cr_rate": self.bm_mrd_negative_cr_rate,
            "emd_cr_rate": self.emd_cr_rate,
            "second_hsct_n": self.second_hsct_n,
            "os_12_months": self.os_12_months,
            "lfs_12_months": self.lfs_12_months,
        }


def load_published_figures(path: Path = PUBLISHED_FIGURES_FILE) -> PublishedFigures:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return PublishedFigures(source=raw["source"], **{k: v["value"] for k, v in raw["figures"].items()})


def _rounds_to(value: float, target: float) -> bool:
    """``value`` as a percentage with one decimal equals ``target`` (a fraction) as published: the report's
    rule (:func:`cartreport.formatting.percents_match`, half-up), so a reconstruction matches where the
    report's published-vs-reproduced table says it does."""
    return percents_match(value, target)


def _km_before(sequence: str, n: int) -> float:
    s, at_risk = 1.0, n
    for step in sequence:
        if step == "D":
            s *= 1 - 1 / at_risk
        at_risk -= 1
    return s


def os_pattern(n: int, target: float, max_length: int = 14) -> str:
    """Simplest order of deaths (``D``) and censorings (``C``) whose KM value rounds to ``target``.

    Ordered by number of censorings, then length, then alphabetically: deterministic.

    >>> os_pattern(16, 0.585)
    'CDDCCCDCDD'
    """
    found = []
    for length in range(1, min(max_length, n) + 1):
        for seq in product("CD", repeat=length):
            sequence = "".join(seq)
            if sequence.endswith("D") and _rounds_to(_km_before(sequence, n), target):
                found.append((sequence.count("C"), length, sequence))
    if not found:
        raise ReconstructionError(f"no order of {n} patients gives a Kaplan–Meier value of {target:.1%}")
    return min(found)[2]


def _place_relapses(pattern: str, n: int, target: float, rng: np.random.Generator) -> list[float | None]:
    """Relapse positions (in units of the OS order: k + 0.5 lies between the k-th and (k+1)-th exit)."""
    n_early = len(pattern)
    for _ in range(100_000):
        relapse: list[float | None] = []
        for i in range(n):
            kind = pattern[i] if i < n_early else "A"
            chance = 0.15 if kind == "A" else 0.4
            if rng.random() < chance:
                # a survivor relapses before the landmark; others before their own exit at position i + 1
                last = n_early if kind == "A" else i
                relapse.append(int(rng.integers(0, last + 1)) + 0.5)
            else:
                relapse.append(None)
        deaths = [i for i in range(n_early) if pattern[i] == "D"]
        n_relapse = sum(r is not None for r in relapse)
        if not 3 <= n_relapse <= 5 or all(relapse[i] is not None for i in deaths):
            continue
        # LFS in "order units": exits at position i + 1 (alive beyond the landmark at 100), relapses at k + 0.5
        times, events = [], []
        for i in range(n):
            exit_position = i + 1.0 if i < n_early else 100.0
            if relapse[i] is not None:
                times.append(relapse[i])
                events.append(1)
            else:
                times.append(exit_position)
                events.append(int(i < n_early and pattern[i] == "D"))
        if _rounds_to(kaplan_meier(times, events).at(99.0).estimate, target):
            return relapse
    raise ReconstructionError(f"could not place relapses reproducing LFS {target:.1%}")


def reconstruct_cohort(figures: PublishedFigures | None = None, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """A patient table (data-contract columns, dates as ISO text) reproducing ``figures``.

    Parameters
    ----------
    figures : the published aggregates; the flagship study's by default.
    seed : seed of every random draw; the shipped file uses :data:`DEFAULT_SEED`.
    """
    figures = figures or load_published_figures()
    n = figures.n_patients
    if figures.second_hsct_n != n or figures.bm_mrd_negative_cr_rate != 1.0:
        raise ReconstructionError(
            "this reconstruction assumes every patient reached MRD-negative CR and a second HSCT"
        )
    rng = np.random.default_rng(seed)
    pattern = os_pattern(n, figures.os_12_months)
    relapse_positions = _place_relapses(pattern, n, figures.lfs_12_months, rng)

    # days of exit (death or censoring) before the landmark, in the pattern's order
    n_early = len(pattern)
    exit_days = np.sort(rng.choice(np.arange(25, 355), size=n_early, replace=False)).astype(float)
    survivor_days = rng.integers(380, 1000, size=n - n_early).astype(float)
    boundaries = np.concatenate(([0.0], exit_days))

    rows = []
    for i in range(n):
        kind = pattern[i] if i < n_early else "A"
        follow_up = exit_days[i] if i < n_early else survivor_days[i - n_early]
        position = relapse_positions[i]
        relapse_day = None
        if position is not None:
            k = int(position - 0.5)
            low = boundaries[k]
            high = boundaries[k + 1] if k + 1 < len(boundaries) else min(follow_up, _LANDMARK_DAYS)
            relapse_day = float(rng.integers(int(low) + 1, max(int(high), int(low) + 2)))
            if kind in "DC":
                relapse_day = min(relapse_day, follow_up - 1)
        if kind == "D":
            latest = (_CUTOFF - pd.Timedelta(days=int(follow_up) + 1) - _ENROLMENT_START).days
            hsct2 = _ENROLMENT_START + pd.Timedelta(days=int(rng.integers(0, latest)))
            death = hsct2 + pd.Timedelta(days=int(follow_up))
            last_contact = death
        else:
            hsct2 = _CUTOFF - pd.Timedelta(days=int(follow_up))
            death = None
            last_contact = _CUTOFF
        rows.append(
            {
                "hsct2": hsct2,
                "death": death,
                "last_contact": last_contact,
                "relapse": None if relapse_day is None else hsct2 + pd.Timedelta(days=int(relapse_day)),
                "kind": kind,
            }
        )

    # enrolment order = order of second HSCT; patient ids follow it
    rows.sort(key=lambda r: r["hsct2"])
    diagnosis = np.array(["T-ALL"] * 11 + ["T-LBL"] * (n - 11))
    rng.shuffle(diagnosis)
    emd = diagnosis == "T-LBL"
    extra_emd = rng.choice(np.flatnonzero(~emd), size=8 - emd.sum(), replace=False)
    emd[extra_emd] = True
    emd_response = np.array([None] * n, dtype=object)
    emd_response[np.flatnonzero(emd)] = rng.permutation(["CR"] * 6 + ["PR", "PD"])
    ages = np.clip(np.round(rng.lognormal(np.log(25), 0.45, size=n)), 9, 52).astype(int)
    sex = rng.permutation(["male"] * 11 + ["female"] * (n - 11))
    donor = rng.choice(
        ["haploidentical", "matched unrelated", "matched sibling"], size=n, p=[0.75, 0.125, 0.125]
    )
    nrm_causes = ["infection", "GVHD", "thrombotic microangiopathy"]

    table = []
    for i, r in enumerate(rows):
        cart = r["hsct2"] - pd.Timedelta(days=int(rng.integers(30, 76)))
        relapse1 = cart - pd.Timedelta(days=int(rng.integers(20, 61)))
        hsct1 = relapse1 - pd.Timedelta(days=int(rng.integers(120, 721)))
        cause = None
        if r["death"] is not None:
            cause = (
                "relapse" if r["relapse"] is not None else nrm_causes[int(rng.integers(0, len(nrm_causes)))]
            )
        table.append(
            {
                "patient_id": f"CD7-{i + 1:02d}",
                "diagnosis": diagnosis[i],
                "sex": sex[i],
                "age_years": int(ages[i]),
                "first_hsct_date": hsct1,
                "relapse_after_first_hsct_date": relapse1,
                "cart_infusion_date": cart,
                "bm_response": "MRD-negative CR",
                "emd_at_baseline": "yes" if emd[i] else "no",
                "emd_response": emd_response[i],
                "second_hsct_date": r["hsct2"],
                "donor_type": donor[i],
                "relapse_date": r["relapse"],
                "death_date": r["death"],
                "cause_of_death": cause,
                "last_contact_date": r["last_contact"],
                "data_origin": "reconstruction",  # every row says what it is, wherever the file goes
            }
        )
    frame = pd.DataFrame(table)
    for name in frame.columns:
        if name.endswith("_date"):
            frame[name] = pd.to_datetime(frame[name]).dt.strftime("%Y-%m-%d")
    frame = frame.fillna("")
    check_published_figures(frame, figures)
    return frame


def check_published_figures(frame: pd.DataFrame, figures: PublishedFigures) -> dict[str, float]:
    """Analyse a reconstructed table and compare it with every published figure; raise on a mismatch.

    Returns the reproduced values, keyed like :attr:`PublishedFigures.targets`.
    """
    from cartreport.contract.coerce import coerce

    typed = coerce(frame.replace({"": None}))
    endpoints = derive_endpoints(typed, "second_hsct").analysed
    emd = typed[typed["emd_at_baseline"]]
    reproduced = {
        "n_patients": len(typed),
        "bm_mrd_negative_cr_rate": float((typed["bm_response"] == "MRD-negative CR").mean()),
        "emd_cr_rate": float((emd["emd_response"] == "CR").mean()),
        "second_hsct_n": int(typed["second_hsct_date"].notna().sum()),
        "os_12_months": kaplan_meier(endpoints["os_time_days"], endpoints["os_event"])
        .at(_LANDMARK_DAYS)
        .estimate,
        "lfs_12_months": kaplan_meier(endpoints["lfs_time_days"], endpoints["lfs_event"])
        .at(_LANDMARK_DAYS)
        .estimate,
    }
    for key, target in figures.targets.items():
        value = reproduced[key]
        ok = value == target if key in ("n_patients", "second_hsct_n") else _rounds_to(value, target)
        if not ok:
            raise ReconstructionError(f"{key}: reproduced {value!r}, published {target!r}")
    return reproduced
