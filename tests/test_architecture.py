"""The house keeps its shape: modules import only down the data's one-way trip, no import circles, and
docs/architecture.md names every module (issue #12).

The layers, in the order data flow through them (a module may import its own layer and those before it):

0. foundations every layer may use: the package's ``__version__``, ``errors``, ``formatting`` (numbers in words), ``escape`` (data are text),
   ``shipped`` (the package's own files), ``kernel_env`` (how a report kernel is told where things are), ``contract.schema`` (the data contract, declaration only)
1. ``read``: files to cleaned text cells
2. ``contract``: validation against the contract, typed columns
3. ``stats``: the estimators
4. ``analysis``: parameters, endpoints, the analysis and results.json
5. ``cohorts``: cohorts the package makes (reconstruction, synthetic)
6. ``report``: words, tables and figures from results
7. ``render``: notebooks on a kernel, HTML, Word, the output folder
8. entry points: ``api``, ``cli``, ``batch``, ``batch_workers``
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC.parent
FOUNDATIONS = {
    "",
    "errors",
    "formatting",
    "escape",
    "shipped",
    "kernel_env",
    "contract.schema",
}  # "": __version__
LAYERS = ["read", "contract", "stats", "analysis", "cohorts", "report", "render"]
ENTRY = {"api", "cli", "batch", "batch_workers"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "cartreport").rglob("*.py"):
        parts = path.relative_to(SRC / "cartreport").with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__")
        out[name] = path
    return out


def _runtime_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """cartreport modules imported when ``path`` runs (imports under ``if TYPE_CHECKING:`` are not)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in node.body
        for n in ast.walk(child)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "cartreport":
            base = node.module.removeprefix("cartreport").lstrip(".")
            for alias in node.names:
                child = f"{base}.{alias.name}".lstrip(".")
                found.add(child if child in modules else base)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cartreport":
                    found.add(alias.name.removeprefix("cartreport").lstrip("."))
    return {m for m in found if m in modules}


def layer(module: str) -> int:
    if module in FOUNDATIONS:
        return 0
    if module in ENTRY:
        return len(LAYERS) + 1
    return LAYERS.index(module.split(".")[0]) + 1


GRAPH = {name: _runtime_imports(path, _modules()) - {name} for name, path in _modules().items()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_run_down_the_flow_only(module):
    up = sorted(dep for dep in GRAPH[module] if layer(dep) > layer(module))
    assert not up, f"{module} (layer {layer(module)}) imports {up} from later layers"


def test_no_import_circles():
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in sorted(GRAPH[node]):
            if state.get(dep) == 1:
                raise AssertionError(" → ".join([*trail[trail.index(dep) :], dep]))
            if dep not in state:
                visit(dep, [*trail, dep])
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


def test_no_module_shadows_the_standard_library():
    import sys

    shadowing = sorted(m for m in GRAPH if m and m.split(".")[-1] in sys.stdlib_module_names)
    assert shadowing == []


def test_the_architecture_page_names_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = {m: ("__init__.py" if not m else m.replace(".", "/") + ".py") for m in GRAPH}
    missing = [
        m
        for m, path in named.items()
        if f"`{path}`" not in page
        and not m.endswith(
            ("read", "contract", "stats", "analysis", "cohorts", "report", "render", "figures")
        )
    ]
    assert missing == [], "docs/architecture.md does not name these modules"


def test_the_notebooks_call_api_only_to_load_their_analysis():
    """``api.analysis_for(globals())`` is a notebook's one line for its analysis; figures, tables and words come
    from the report (and the analysis object itself), not from the entry points."""
    import json
    import re

    calls = {}
    for path in sorted((SRC / "cartreport" / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        calls[path.stem] = sorted(set(re.findall(r"\bapi\.(\w+)", source)))
    assert calls and all(found == ["analysis_for"] for found in calls.values()), calls
