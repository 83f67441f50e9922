"""The baseline: the report's computations, figures, tables and prose as one plain Python script.

No notebooks, no kernel, no papermill, no nbconvert: the same cartreport helpers the notebooks call, run top to
bottom in one process, writing the same files and a simple HTML page (prose, tables and base64 PNG figures).
``benchmarks/run.py`` times ``cartreport run`` against this script in one run and reports the ratio.

Usage: python benchmarks/plain_report.py OUTPUT_DIR [DATA_FILE]
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import mistune  # noqa: E402  (nbconvert's Markdown renderer, a dependency of cartreport)

from cartreport import api  # noqa: E402
from cartreport.analysis.results import write_results  # noqa: E402
from cartreport.report import figures, prose, tables  # noqa: E402


def main(output: Path, data: str = "") -> None:
    figures.theme()
    output.mkdir(parents=True, exist_ok=True)
    (output / "figures").mkdir(exist_ok=True)
    (output / "tables").mkdir(exist_ok=True)
    analysis = api.load_analysis(data=data)
    results = analysis.results
    write_results(results, output / "results.json")
    md = mistune.create_markdown()
    parts: list[str] = []

    def text(markdown: str) -> None:
        if markdown:
            parts.append(md(markdown))

    def table(frame, name: str) -> None:
        if frame is None or frame.empty:
            return
        frame.to_csv(output / "tables" / f"{name}.csv", index=False)
        parts.append(tables.to_gt(frame).as_raw_html())

    def figure(fig, name: str) -> None:
        if fig is None:
            return
        paths = figures.save_figure(fig, output / "figures", name)
        data64 = base64.b64encode(paths["png"].read_bytes()).decode()
        parts.append(f'<img src="data:image/png;base64,{data64}">')
        plt.close(fig)

    origin = f"Months since {results['time_origin_label']}"
    text(prose.title_block(results))
    text(prose.reconstruction_notice(results))
    text(prose.summary_paragraph(results))
    text(prose.published_intro(results))
    table(tables.published_vs_reproduced(results), "published_vs_reproduced")
    text(prose.design_paragraph(results))
    figure(figures.plot_treatment_sequence(results["intervals"]), "treatment_sequence")
    figure(figures.plot_flow(results["flow"]), "patient_flow")
    table(tables.baseline_table(results), "baseline_characteristics")
    table(tables.intervals_table(results), "intervals")
    figure(figures.plot_swimmer(api.patient_timeline(analysis)).figure, "swimmer")
    text(prose.responses_paragraph(results))
    table(tables.response_table(results), "response_rates")
    figure(figures.plot_responses(results["responses"]).figure, "response_rates")
    table(tables.response_counts_table(results), "response_counts")
    text(prose.survival_paragraph(results))
    km = {"Overall survival": analysis.survival["os"], "Leukemia-free survival": analysis.survival["lfs"]}
    lms = results["parameters"]["landmarks_months"]
    figure(figures.plot_km(km, xlabel=origin, ylabel="Probability (%)", landmarks_months=lms), "km_os_lfs")
    table(tables.landmark_table(results), "landmarks")
    table(tables.median_table(results), "medians")
    table(tables.risk_table(results), "numbers_at_risk")
    text(prose.competing_risks_paragraph(results))
    cif = {"Relapse": analysis.incidence["relapse"], "Non-relapse mortality": analysis.incidence["nrm"]}
    figure(figures.plot_cif(cif, xlabel=origin), "cif_relapse_nrm")
    figure(
        figures.plot_state_stack(analysis.incidence["relapse"], analysis.incidence["nrm"]).figure,
        "state_stack",
    )
    text(prose.subgroup_paragraph(results))
    table(tables.subgroup_table(results), "subgroups")
    figure(api.subgroup_figure(analysis, "os"), "os_by_subgroup")
    figure(api.subgroup_figure(analysis, "lfs"), "lfs_by_subgroup")
    figure(api.subgroup_figure(analysis, "relapse"), "relapse_by_subgroup")
    text(prose.methods_markdown(results))
    table(api.provenance_table(results), "provenance")
    page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{results['title']}</title></head><body>"
    (output / "report.html").write_text(page + "\n".join(parts) + "</body></html>", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "")
