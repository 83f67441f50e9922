"""The issue's plain script: what an analyst would write by hand instead of using cartreport.

It loads the patient table, fits Kaplan-Meier curves (overall and leukaemia-free survival) and cumulative incidence
curves (relapse, non-relapse mortality) with confidence intervals using lifelines, draws five figures and writes one
HTML page with them embedded. No validation, no tables, no print files, no Word document, no prose: far less than
the report does, which is the point of the comparison (issue #12: goal, the report within 1.5x of it).

Usage: python benchmarks/plain_minimal.py OUTPUT_DIR [DATA_FILE]
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from lifelines import AalenJohansenFitter, KaplanMeierFitter  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "ash2023_cd7_cart_cohort.csv"
DATES = ["second_hsct_date", "relapse_date", "death_date", "last_contact_date"]


def main(output: Path, data: str = "") -> None:
    output.mkdir(parents=True, exist_ok=True)
    table = pd.read_csv(data or SHIPPED, parse_dates=DATES)
    table = table[table["second_hsct_date"].notna()]
    start = table["second_hsct_date"]
    end = table[["relapse_date", "death_date", "last_contact_date"]].min(axis=1)
    months = lambda until: (until - start).dt.days / 30.4375  # noqa: E731
    os_time = months(table["death_date"].fillna(table["last_contact_date"]))
    lfs_time, relapsed, died = months(end), table["relapse_date"].notna(), table["death_date"].notna()
    lfs_event = relapsed | (died & (table["death_date"] <= end))
    # competing risks: 1 relapse, 2 death without relapse, 0 censored
    cause = relapsed.astype(int).where(relapsed, 2 * (died & ~relapsed))

    images = []

    def keep(fig) -> None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        images.append(base64.b64encode(buffer.getvalue()).decode())

    for name, time, event in (
        ("Overall survival", os_time, died),
        ("Leukemia-free survival", lfs_time, lfs_event),
    ):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        KaplanMeierFitter(label=name).fit(time, event).plot_survival_function(ax=ax, show_censors=True)
        ax.set_xlabel("Months since second HSCT")
        keep(fig)
    for code, name in ((1, "Relapse"), (2, "Non-relapse mortality")):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        AalenJohansenFitter(calculate_variance=True).fit(
            lfs_time, cause, event_of_interest=code, label=name
        ).plot(ax=ax)
        ax.set_xlabel("Months since second HSCT")
        keep(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    table["bm_response"].value_counts().plot.bar(ax=ax)
    ax.set_ylabel("Patients")
    keep(fig)
    body = "".join(f'<img src="data:image/png;base64,{image}">' for image in images)
    (output / "report.html").write_text(f"<!DOCTYPE html><html><body>{body}</body></html>", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")
