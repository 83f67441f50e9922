"""The same-work baseline: everything ``cartreport run`` computes and writes, as one plain Python process.

No kernel, no papermill, no nbconvert, no executed notebooks: the code of the report's notebooks runs top to
bottom in this process (``exec`` of each code cell, in order, parameters as ``cartreport run`` injects them), with
``display`` collecting what the cells show. It writes what the report writes: ``results.json``, ``tables/*.csv``,
``figures/*.{png,svg,pdf}`` (one after the other, as a plain script would), the same figures and tables in a
simple HTML page, and ``report.docx`` through the same Word writer. What it leaves out is exactly the notebook
machinery, so ``benchmarks/run.py`` measures that machinery's cost against it (goal: at most 1.15x).

It imports only what that work needs, as the report does: not nbformat, nbconvert, papermill or jupyter_client, and
seaborn without scipy.stats.

Usage: python benchmarks/plain_report.py OUTPUT_DIR [DATA_FILE]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from cartreport.render.kernel import import_seaborn_lean  # noqa: E402

import_seaborn_lean()  # as the report does: seaborn without the scipy.stats it needs only for density estimates

import mistune  # noqa: E402  (the Markdown renderer cartreport already depends on)

from cartreport.analysis.results import write_results  # noqa: E402
from cartreport.render.word import write_docx  # noqa: E402
from cartreport.report import notebook  # noqa: E402
from cartreport.shipped import NOTEBOOK_DIR  # noqa: E402


class Node(dict):
    """The attribute access of a notebook node, which the Word writer reads (``cell.cell_type``)."""

    __getattr__ = dict.__getitem__


def main(output: Path, data: str = "") -> None:
    output.mkdir(parents=True, exist_ok=True)
    shown: list[dict] = []

    def display(obj, metadata=None) -> None:  # what IPython's display would send to the notebook
        if hasattr(obj, "_repr_html_"):  # IPython's HTML; its Markdown has only _repr_markdown_
            data_ = {"text/html": obj.data}
        else:
            data_ = {"text/markdown": obj.data}
        shown.append(Node(output_type="display_data", data=data_, metadata=metadata or {}))

    notebook.display = display

    markdown = mistune.create_markdown()
    cells: list[Node] = []
    html: list[str] = []
    analysis = None
    for path in sorted(NOTEBOOK_DIR.glob("*.ipynb")):
        namespace: dict = {}
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "markdown":
                cells.append(Node(cell_type="markdown", source=source, metadata=cell.get("metadata", {})))
                html.append(markdown(source))
                continue
            shown.clear()
            exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - the report's own notebook code
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                namespace.update(data=data, output_dir=str(output))  # as cartreport run injects them
                continue
            analysis = namespace.get("analysis", analysis)  # computed once, as the notebooks ask for it
            outputs = list(shown)
            cells.append(Node(cell_type="code", source=source, metadata={}, outputs=outputs))
            for out in outputs:
                html.append(out["data"].get("text/html") or markdown(out["data"]["text/markdown"]))
    write_results(analysis.results, output / "results.json")
    title = analysis.results["title"]
    page = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
    (output / "report.html").write_text(page + "\n".join(html) + "</body></html>", encoding="utf-8")
    write_docx([Node(cells=cells)], title, output / "report.docx", base_dir=output)


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), sys.argv[2] if len(sys.argv) > 2 else "")
