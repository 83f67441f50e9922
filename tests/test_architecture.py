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
ENTRY = {"api", "cli", "interrupts", "__main__", "batch", "batch_workers"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "cartreport").rglob("*.py"):
        parts = path.relative_to(SRC / "cartreport").with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__")
        out[name] = path
    return out


def _package_of(path: Path) -> str:
    """The package a module's relative imports start from ("" for cartreport itself)."""
    parts = path.relative_to(SRC / "cartreport").parts[:-1]
    return ".".join(parts)


def _runtime_imports(path: Path, modules: dict[str, Path], source: str | None = None) -> set[str]:
    """cartreport modules imported when ``path`` (or ``source`` in its place) runs (imports under
    ``if TYPE_CHECKING:`` are not)."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in node.body
        for n in ast.walk(child)
    }
    found = set()
    package = _package_of(path)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:  # relative: from its package (or a parent of it)
            parts = package.split(".")[: len(package.split(".")) - node.level + 1] if package else []
            base = ".".join([*parts, *([node.module] if node.module else [])]).strip(".")
            for alias in node.names:
                child = f"{base}.{alias.name}".lstrip(".")
                found.add(child if child in modules else base)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "cartreport":
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


def _graph() -> dict[str, set[str]]:
    """Each module's runtime imports of cartreport modules, with the packages whose ``__init__`` such an import runs
    (when that ``__init__`` imports anything of cartreport: ``import cartreport.render.kernel`` runs render's)."""
    modules = _modules()
    direct = {name: _runtime_imports(path, modules) - {name} for name, path in modules.items()}
    for name, deps in direct.items():
        for dep in list(deps):
            parts = dep.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if direct.get(parent) and parent != name and not name.startswith(parent + "."):
                    deps.add(parent)
    return direct


GRAPH = _graph()


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


def test_no_module_is_named_like_a_package_the_code_imports():
    """A module ``render/docx.py`` that imports python-docx's ``docx`` reads as if it imported itself."""
    imported = set()
    for path in _modules().values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    imported.discard("cartreport")
    assert sorted(m for m in GRAPH if m and m.split(".")[-1] in imported) == []


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


def test_every_module_the_architecture_page_names_exists():
    import re

    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z_/]+\.py)`", page))
    existing = {str(p.relative_to(SRC / "cartreport")) for p in (SRC / "cartreport").rglob("*.py")}
    outside = {n for n in named if (ROOT / n).is_file()}  # e.g. benchmarks/plain_report.py
    assert sorted(named - existing - outside) == []


def test_relative_imports_are_resolved():
    """The graph sees ``from .x import y`` too (none are used today; this keeps the check honest)."""
    path = SRC / "cartreport" / "render" / "execute.py"
    source = "from .kernel import _Kernel\nfrom ..errors import SectionFailed\nfrom . import output\n"
    assert _runtime_imports(path, _modules(), source) == {"render.kernel", "errors", "render.output"}


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
