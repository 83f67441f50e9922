"""Set-up files agree: pyproject and environment.yml list the same dependencies; the front door is documented."""

import json
import re
import tomllib
from pathlib import Path

import yaml

from cartreport import api

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {_name(d): d for d in project["dependencies"] + project["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = {_name(d): d for d in env["dependencies"] if isinstance(d, str)}
    conda.pop("python"), conda.pop("pip")
    assert conda == wanted
    assert "python=3.11" in env["dependencies"]


def test_every_package_the_code_imports_is_declared():
    """A package imported by cartreport's code is a dependency of its own, not one that comes along with another
    (jinja2 with nbconvert, IPython with ipykernel, ...): those may go when the other changes."""
    import ast
    import sys
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(d) for d in project["dependencies"]}
    providers = packages_distributions()
    imported: dict[str, set[str]] = {}
    for path in (ROOT / "src" / "cartreport").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "cartreport" and top not in sys.stdlib_module_names:
                    imported.setdefault(top, set()).add(path.name)
    undeclared = {
        top: sorted(files)
        for top, files in imported.items()
        if not {_name(d) for d in providers.get(top, [top])} & declared
    }
    assert undeclared == {}


def test_readme_shows_the_two_commands_and_ci_calls_make_test():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make report" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_notebooks_are_committed_without_outputs():
    import nbformat

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


def test_package_data_names_only_files_that_exist():
    package = ROOT / "src" / "cartreport"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["cartreport"]
    for pattern in patterns:
        assert [p for p in package.glob(pattern) if p.is_file()], f"package-data {pattern!r} names no file"


def test_top_level_notebooks_and_data_are_the_packaged_ones():
    """Users find notebooks/ and data/ at the top of the checkout; they are the package's (one copy)."""
    package = ROOT / "src" / "cartreport"
    for name in ("notebooks", "data"):
        assert (ROOT / name).resolve() == (package / name).resolve()
    assert sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")) == [
        f"{name}.ipynb" for name in api.SECTIONS
    ]


def test_pytest_runs_the_doctests_of_every_module():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"][
        "ini_options"
    ]
    assert "--doctest-modules" in options["addopts"].split() and "src" in options["testpaths"]


def test_a_built_wheel_runs_a_report_outside_the_checkout(tmp_path):
    """The wheel carries the notebooks, templates and shipped data: ``cartreport run`` works from any folder.

    The wheel is built from a copy of the checkout and installed (without dependencies) into a fresh venv that
    sees this environment's dependencies through a ``.pth`` path line; the editable install of the checkout is not
    visible there (``.pth`` files of a directory named by a path line are not processed), which the test checks.
    """
    import os
    import shutil
    import subprocess
    import sys
    import sysconfig

    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "reports", "*.egg-info", "__pycache__", ".*cache"
        ),
    )
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(wheels)]
    built = subprocess.run(build, capture_output=True, text=True, cwd=tmp_path)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = wheels.glob("cartreport-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    install = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "--no-deps",
        "--no-index",
        str(wheel),
    ]
    installed = subprocess.run(install, capture_output=True, text=True, cwd=tmp_path)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [python, "-c", "import cartreport; print(cartreport.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=elsewhere,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where  # the wheel's cartreport, not the checkout's

    # the dependencies' data files (nbconvert's base templates) are in this environment's prefix, not the new one's
    env = {**os.environ, "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}
    done = subprocess.run(
        [venv / "bin" / "cartreport", "run", "--output", "out"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((elsewhere / "out" / "results.json").read_text(encoding="utf-8"))
    assert results["n_patients"] == 16 and results["data_file"] == "ash2023_cd7_cart_cohort.csv"
    assert (elsewhere / "out" / "report.html").is_file()
