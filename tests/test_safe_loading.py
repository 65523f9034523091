"""Safe loading: nothing in the product unpickles, a damaged result cache is recomputed (one log
line naming the file and why), a record that does not fit its study's schema is never used, and a
stored formula is never run.

The result caches are JSON. This scans the code of ``dreg_utils/``, ``benchmarks/``,
``notebooks/`` and ``book/`` (Python files, and the code cells and ``python`` blocks of
Markdown files) for calls that can execute code from a file: ``pickle``/``dill``/
``cloudpickle`` loads, ``joblib.load``, ``pandas.read_pickle``, ``shelve``, ``marshal``,
``numpy.load(..., allow_pickle=True)``, ``yaml.load`` without a safe loader, and
``torch.load`` without ``weights_only=True``. Serialising (``pickle.dumps``) is not loading
and is not flagged.
"""
from __future__ import annotations

import ast
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from dreg_utils import __version__, sweep
from dreg_utils.data.stored_formula import read_srepr
from dreg_utils.schema import FINITE, ResultSchema
from dreg_utils.studies import distillation, distillation_tables
from dreg_utils.studies import mnist as mnist_study
from dreg_utils.studies.mnist import MNISTSettings

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("dreg_utils", "benchmarks", "notebooks", "book")
NEVER = {f"{module}.{name}" for module in ("pickle", "_pickle", "cPickle", "dill", "cloudpickle")
         for name in ("load", "loads", "Unpickler")} | {
    "joblib.load", "pandas.read_pickle", "shelve.open", "marshal.load", "marshal.loads",
    "yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all"}
MARKDOWN_CODE = re.compile(r"^```(?:\{code-cell\}|python)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted module path, from every import in the tree."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    names[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(func: ast.expr, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    return ".".join([aliases.get(func.id, func.id), *reversed(parts)])


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_constant(node: ast.expr | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def unsafe_calls(source: str, where: str) -> list[str]:
    """``where:line: reason`` for every unsafe loading call in Python ``source``."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases) or ""
        reason = None
        if name in NEVER or name.endswith(".read_pickle"):
            reason = f"{name} can run code from the file"
        elif name in ("torch.load", "torch.serialization.load") and not _is_constant(
                _keyword(node, "weights_only"), True):
            reason = f"{name} without weights_only=True"
        elif name == "numpy.load" and _keyword(node, "allow_pickle") is not None and not _is_constant(
                _keyword(node, "allow_pickle"), False):
            reason = "numpy.load with allow_pickle"
        elif name == "yaml.load" and not (_dotted(_keyword(node, "Loader"), aliases) or "").endswith("SafeLoader"):
            reason = "yaml.load without a SafeLoader"
        if reason:
            found.append(f"{where}:{node.lineno}: {reason}")
    return found


def markdown_code(text: str) -> str:
    """The code cells and python blocks of a Markdown file as one module (so that imports in
    one cell resolve names in the next) on their own line numbers; prose, MyST options and
    IPython magics are blanked out."""
    lines = [""] * (text.count("\n") + 1)
    for match in MARKDOWN_CODE.finditer(text):
        first = text.count("\n", 0, match.start(1))
        cell = match.group(1).splitlines()
        start = 0
        if cell and cell[0].strip() == "---":  # a YAML block of cell options
            start = next(i for i in range(1, len(cell)) if cell[i].strip() == "---") + 1
        while start < len(cell) and cell[start].startswith(":"):  # ":key: value" options
            start += 1
        for i in range(start, len(cell)):
            if not cell[i].startswith(("%", "!")):
                lines[first + i] = cell[i]
    return "\n".join(lines)


def product_sources() -> Iterator[tuple[str, str]]:
    """(relative path, Python source) of every scanned file."""
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix == ".py":
                yield str(path.relative_to(ROOT)), path.read_text()
            elif path.suffix == ".md":
                yield str(path.relative_to(ROOT)), markdown_code(path.read_text())


def test_no_unsafe_loading_in_the_product():
    sources = list(product_sources())
    assert any(where.startswith("dreg_utils/") for where, _ in sources)
    assert any(where.startswith("notebooks/") for where, _ in sources)
    problems = [p for where, source in sources for p in unsafe_calls(source, where)]
    assert problems == [], "unsafe loading:\n" + "\n".join(problems)


@pytest.mark.parametrize("source", [
    "import torch\ntorch.load('m.pt')",
    "import torch\ntorch.load('m.pt', weights_only=False)",
    "from torch import load\nload('m.pt', map_location='cpu')",
    "import pickle\npickle.load(open('f', 'rb'))",
    "from pickle import loads as undo\nundo(b'')",
    "import pickle as p\np.Unpickler(f).load()",
    "import joblib\njoblib.load('model.joblib')",
    "import pandas as pd\npd.read_pickle('runs.pkl')",
    "frame = table.read_pickle('runs.pkl')",
    "import numpy as np\nnp.load('a.npy', allow_pickle=True)",
    "import numpy\nnumpy.load('a.npy', allow_pickle=flag)",
    "import dill\ndill.loads(blob)",
    "import yaml\nyaml.load(text, Loader=yaml.Loader)",
    "import shelve\nshelve.open('db')",
])
def test_scanner_flags_unsafe_loading(source):
    assert len(unsafe_calls(source, "snippet")) == 1


@pytest.mark.parametrize("source", [
    "import torch\ntorch.load('m.pt', weights_only=True)",
    "import numpy as np\nnp.load('a.npy')\nnp.load('b.npz', allow_pickle=False)",
    "import json\njson.loads(text)",
    "import yaml\nyaml.safe_load(text)\nyaml.load(text, Loader=yaml.SafeLoader)",
    "import pickle\nblob = pickle.dumps({'a': 1})",
    "import pandas as pd\npd.read_csv('runs.csv')",
])
def test_scanner_passes_safe_loading(source):
    assert unsafe_calls(source, "snippet") == []


def test_scanner_reads_markdown_code_cells():
    text = ("# Title\n\n```{code-cell} ipython3\n:tags: [parameters]\n\nimport torch\n%matplotlib inline\n```\n\n"
            "Prose with torch.load in it is not code.\n\n```{code-cell} ipython3\n---\nmystnb:\n  figure:\n"
            "    name: fig\n---\nmodel = torch.load('m.pt')\n```\n")
    assert unsafe_calls(markdown_code(text), "page.md") == ["page.md:18: torch.load without weights_only=True"]


# ------------------------------------------------------------------ damaged cache files

CONFIG = {"study": "fake", "a": 1}
OTHER = {"study": "fake", "a": 2}


def _record(config: dict, result: dict) -> str:
    return json.dumps({"config": config, "result": result, "study_version": "1", "dreg_utils": __version__})


def _run(cache_dir: Path) -> tuple[list, list[list[dict]]]:
    """run_grid on CONFIG and OTHER with a fake pure-Python run_group; returns rows and calls."""
    calls: list[list[dict]] = []

    def run_group(group: list[dict]) -> list[dict]:
        calls.append(group)
        return [{"value": 10 * c["a"]} for c in group]

    runs = sweep.run_grid([CONFIG, OTHER], run_group, cache_dir, progress=False)
    return runs[["a", "value", "cached"]].values.tolist(), calls


@pytest.mark.parametrize("content", [
    _record(CONFIG, {"value": 10})[:25],  # cut mid-record, as by a full disk
    _record(CONFIG, {"value": 10})[:-1],  # only the closing brace missing
    "",
    "\n",
], ids=["half", "last byte missing", "empty", "newline"])
def test_truncated_cache_file_is_treated_as_missing(tmp_path, content):
    path = tmp_path / f"{sweep.config_key(CONFIG)}.json"
    path.write_text(content)
    (tmp_path / f"{sweep.config_key(OTHER)}.json").write_text(_record(OTHER, {"value": 20}))
    rows, calls = _run(tmp_path)
    assert calls == [[CONFIG]]  # only the damaged run is redone
    assert rows == [[1, 10, False], [2, 20, True]]
    assert json.loads(path.read_text())["result"] == {"value": 10}  # and its file repaired
    rows, calls = _run(tmp_path)
    assert calls == [] and rows == [[1, 10, True], [2, 20, True]]


@pytest.mark.parametrize("content", [b"\xff\xfe\x00\x00garbage", b"[]", b"{}", b'{"result": 5}'],
                         ids=["binary", "list", "empty object", "result not a dict"])
def test_corrupt_cache_file_is_treated_as_missing(tmp_path, content):
    """Undecodable bytes, or JSON that is not a run record, mean the run is redone."""
    (tmp_path / f"{sweep.config_key(CONFIG)}.json").write_bytes(content)
    rows, calls = _run(tmp_path)
    assert calls == [[CONFIG], [OTHER]]
    assert rows == [[1, 10, False], [2, 20, False]]


def test_cache_record_of_another_configuration_is_not_trusted(tmp_path):
    """A file whose stored configuration differs from the requested one (a hash collision,
    or a file copied under the wrong name) is recomputed, not returned."""
    (tmp_path / f"{sweep.config_key(CONFIG)}.json").write_text(_record(OTHER, {"value": 99}))
    rows, calls = _run(tmp_path)
    assert calls == [[CONFIG], [OTHER]]
    assert rows == [[1, 10, False], [2, 20, False]]


def test_a_damaged_file_is_named_in_one_log_line(tmp_path, caplog):
    path = tmp_path / f"{sweep.config_key(CONFIG)}.json"
    path.write_text(_record(CONFIG, {"value": 10})[:25])
    with caplog.at_level(logging.WARNING, logger="dreg_utils.sweep"):
        _run(tmp_path)
    assert [r.getMessage() for r in caplog.records] == [
        f"cache file {path} is not used (not valid JSON at character 21 of 25: truncated or damaged); "
        "its run is recomputed"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="dreg_utils.sweep"):
        _run(tmp_path)  # repaired: read back silently
    assert caplog.records == []


def test_a_record_of_another_study_version_is_recomputed(tmp_path, caplog):
    record = json.loads(_record(CONFIG, {"value": 99}))
    (tmp_path / f"{sweep.config_key(CONFIG)}.json").write_text(json.dumps({**record, "study_version": "0"}))
    with caplog.at_level(logging.WARNING, logger="dreg_utils.sweep"):
        rows, calls = _run(tmp_path)
    assert calls == [[CONFIG], [OTHER]] and rows[0] == [1, 10, False]
    assert "it records study version '0', not '1'" in caplog.text


def test_a_record_without_a_study_version_is_recomputed(tmp_path, caplog):
    record = json.loads(_record(CONFIG, {"value": 99}))
    del record["study_version"]
    (tmp_path / f"{sweep.config_key(CONFIG)}.json").write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING, logger="dreg_utils.sweep"):
        rows, calls = _run(tmp_path)
    assert calls == [[CONFIG], [OTHER]] and rows[0] == [1, 10, False]
    assert "it records no study version" in caplog.text


VALUE = ResultSchema(always={"value": FINITE})


@pytest.mark.parametrize("text, reason", [
    ('{"a":' * 100000 + "1" + "}" * 100000, "nested too deeply"),
    (_record(CONFIG, {"value": 10**400}), f"field 'value' is {str(10**400)[:60]}, not a finite number"),
    (_record(CONFIG, {"value": 1.0, "study": "other"}), "field 'study' is a key of the run's configuration"),
    (_record(CONFIG, {"value": 1.0, "extra": 2}), "field 'extra' is not one of the study's result fields"),
    (_record(CONFIG, {"value": 0}).replace('"value": 0', '"value": ' + "[" * 100000 + "]" * 100000),
     "nested too deeply"),
], ids=["deep JSON", "400-digit metric", "a config key", "an undeclared key", "deep value"])
def test_a_crafted_record_is_recomputed_not_an_error(tmp_path, caplog, text, reason):
    """Reproductions: deeply nested JSON raised RecursionError and a 400-digit metric
    OverflowError out of run_grid; now each is a bad record, recomputed with one log line."""
    path = tmp_path / f"{sweep.config_key(CONFIG)}.json"
    path.write_text(text)
    with caplog.at_level(logging.WARNING, logger="dreg_utils.sweep"):
        runs = sweep.run_grid([CONFIG], lambda g: [{"value": 10.0}], tmp_path, progress=False, schema=VALUE)
    assert runs[["value", "cached"]].values.tolist() == [[10.0, False]]
    assert len(caplog.records) == 1 and f"cache file {path} is not used (" in caplog.text
    assert reason in caplog.text


def test_a_record_too_large_is_not_read(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(sweep, "MAX_RECORD_BYTES", 300)
    path = tmp_path / f"{sweep.config_key(CONFIG)}.json"
    path.write_text(_record(CONFIG, {"value": 1.0}) + " " * 300)  # valid JSON, but too long
    with caplog.at_level(logging.WARNING, logger="dreg_utils.sweep"):
        runs = sweep.run_grid([CONFIG], lambda g: [{"value": 2.0}], tmp_path, progress=False)
    assert runs["value"].tolist() == [2.0] and not runs["cached"].any()
    assert "bytes, more than a record's 300)" in caplog.text


CHILD = """
import json, logging, os, re, resource, sys
from pathlib import Path
from dreg_utils import sweep
from dreg_utils.schema import FINITE, ResultSchema
vm = int(re.search(r"VmSize:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, vm + 2**30))  # reading /dev/zero ends soon
logging.basicConfig(stream=sys.stdout, format="%(message)s")
root, kind = Path(sys.argv[1]), sys.argv[2]
config = {"a": 1}
path = root / f"{sweep.config_key(config)}.json"
os.mkfifo(path) if kind == "fifo" else os.symlink("/dev/zero", path)
runs = sweep.run_grid([config], lambda g: [{"m": 1.0}], root, progress=False,
                      schema=ResultSchema(always={"m": FINITE}))
print(runs["cached"].tolist(), json.loads(path.read_text())["result"], path.is_symlink())
"""


@pytest.mark.parametrize("kind, what", [("fifo", "a FIFO"), ("zero", "a character device")])
def test_a_fifo_or_a_device_is_never_read_and_is_replaced(tmp_path, kind, what):
    """Reproductions: a FIFO at a record's path hung the sweep for ever, a link to /dev/zero
    ended in MemoryError. Neither is opened now: one log line, the run recomputed and its
    record written in place of the FIFO or the link (never into what it leads to)."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), kind], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    path = tmp_path / f"{sweep.config_key({'a': 1})}.json"
    assert done.stdout.splitlines() == [
        f"cache file {path} is not used ({what}, not a regular file); its run is recomputed",
        "[False] {'m': 1.0} False"], done.stderr[-2000:]


def test_a_directory_at_a_record_path_stops_the_sweep_before_any_run(tmp_path):
    """Reproduction: a directory there was logged as unreadable, the run trained, then writing
    its record failed with a bare IsADirectoryError. It is not removed (it may hold anything):
    run_grid stops at once, naming it."""
    path = tmp_path / f"{sweep.config_key(CONFIG)}.json"
    (path / "inner").mkdir(parents=True)
    calls = []
    with pytest.raises(IsADirectoryError, match=f"cache path {re.escape(str(path))} is a directory, not a run "
                                                "record: move or remove it and run again"):
        sweep.run_grid([CONFIG], lambda g: calls.append(g) or [{"v": 1}], tmp_path, progress=False)
    assert calls == [] and (path / "inner").is_dir()


def test_a_link_to_a_record_is_followed(tmp_path):
    """A record reached through a symbolic link (a regular file) is read as any other."""
    target = tmp_path / "elsewhere.json"
    target.write_text(_record(CONFIG, {"value": 10}))
    os.symlink(target, tmp_path / f"{sweep.config_key(CONFIG)}.json")
    rows, calls = _run(tmp_path)
    assert rows[0] == [1, 10, True] and calls == [[OTHER]]


# ------------------------------------------------------------------ records that do not fit their study

def _mnist_settings():
    return mnist_study.validate(MNISTSettings.from_profile(
        "smoke", capacities=[[8, 4]], activations=["relu"], methods=["base", "dreg"], seeds=[0],
        epochs=1, device="cpu"))


def test_a_record_without_metrics_is_recomputed_not_read_as_nan(tmp_path, tiny_mnist, caplog):
    """Reproduction: a record ``{"diverged": false}`` was accepted, giving chapter 02 a NaN row."""
    settings = _mnist_settings()
    first = mnist_study.run_sweep(settings, tiny_mnist, tmp_path, progress=False)
    planted = tmp_path / "cache" / f"{first['run_key'].iloc[1]}.json"
    record = json.loads(planted.read_text())
    planted.write_text(json.dumps({**record, "result": {"diverged": False}}))
    with caplog.at_level(logging.WARNING, logger="dreg_utils.sweep"):
        again = mnist_study.run_sweep(settings, tiny_mnist, tmp_path, progress=False)
    assert again["cached"].tolist() == [True, False]
    assert again[list(mnist_study.METRICS)].notna().all().all()
    assert again["test_acc"].tolist() == first["test_acc"].tolist()
    assert [r.getMessage() for r in caplog.records] == [
        f"cache file {planted} is not used (field 'diverged_step' is missing); its run is recomputed"]


QUANTILES = f"not a list of {len(mnist_study.QUANTILE_LEVELS)} items each a list of 2 items each a finite number"


@pytest.mark.parametrize("change, reason", [
    ({"test_acc": float("nan")}, "field 'test_acc' is nan, not a finite number"),
    ({"ig_p99": None}, "field 'ig_p99' is None, not a finite number"),
    ({"ig_quantiles": "[[0, 1]]"}, f"field 'ig_quantiles' is '[[0, 1]]', {QUANTILES}"),
    ({"ig_quantiles": [1, 2]}, f"field 'ig_quantiles' is [1, 2], {QUANTILES}"),
    ({"ig_quantiles": [["a", "b", "c"]]}, f"field 'ig_quantiles' is [['a', 'b', 'c']], {QUANTILES}"),
    ({"test_acc": 10**400}, f"field 'test_acc' is {str(10**400)[:60]}, not a finite number"),
    ({"method": "dreg", "lam": 0.5}, "field 'method' is a key of the run's configuration"),
    ({"data_source": "x"}, "field 'data_source' is not one of the study's result fields"),
], ids=["nan", "null", "quantiles text", "quantiles flat", "quantiles text triples", "400-digit metric",
        "settings overwritten", "a column the study inserts"])
def test_a_record_with_a_bad_metric_is_recomputed(tmp_path, tiny_mnist, caplog, change, reason):
    """Reproductions (beyond the first two): quantiles [1, 2] or [["a", "b", "c"]] raised in
    mnist.run_configs, a 400-digit metric OverflowError, "method"/"lam" in a result showed a BASE run
    as DREG, and "data_source" collided with the column the study inserts."""
    settings = _mnist_settings()
    first = mnist_study.run_sweep(settings, tiny_mnist, tmp_path, progress=False)
    planted = tmp_path / "cache" / f"{first['run_key'].iloc[0]}.json"
    record = json.loads(planted.read_text())
    planted.write_text(json.dumps({**record, "result": {**record["result"], **change}}))
    with caplog.at_level(logging.WARNING, logger="dreg_utils.sweep"):
        again = mnist_study.run_sweep(settings, tiny_mnist, tmp_path, progress=False)
    assert again["cached"].tolist() == [False, True] and again["test_acc"].notna().all()
    assert again[["method", "lam"]].values.tolist() == first[["method", "lam"]].values.tolist()
    assert reason in caplog.text and len(caplog.records) == 1


DISTILLED = {"teacher_seconds": 1.0, "teacher_val_r2": 0.9, "teacher_test_r2": 0.9, "teacher_train_r2": 0.9,
             "teacher_jacobian_sq": 1.0, "gp_val_r2": 0.5, "gp_test_r2": 0.5, "gp_length": 3, "gp_seconds": 1.0,
             "gp_program": "add(X0, X1)", "gp_formula": "Add(Symbol('z_a', real=True), Float('0.5', precision=53))",
             "gp_fidelity_r2": 0.3, "tree_val_r2": 0.1, "tree_test_r2": 0.1, "tree_seconds": 1.0,
             "tree_fidelity_r2": 0.2}


SLOW = "Add(Symbol('z_a'), atan(tan(cosh(tan(acos(Float('1e-300')))))))"
NOT_STUDENT = "not sympy.srepr text of a formula over the inputs z_<name> (read_srepr)"


@pytest.mark.parametrize("change, problem", [
    ({}, None),
    ({"gp_seconds": 10**400}, f"field 'gp_seconds' is {str(10**400)[:60]}, not a finite number"),
    ({"gp_length": 10**400}, f"field 'gp_length' is {str(10**400)[:60]}, not an integer"),
    ({"gp_formula": "Symbol('k', real=True)"}, "field 'gp_formula' is \"Symbol('k', real=True)\", "
                                              f"{NOT_STUDENT}"),
    ({"gp_formula": SLOW}, f"field 'gp_formula' is {SLOW!r:.60}, {NOT_STUDENT}"),
], ids=["fits", "400-digit seconds", "400-digit length", "not a student's symbol", "slow constant"])
def test_the_distillation_schema_names_the_problem_of_a_record(change, problem):
    """Reproduction: a 400-digit gp_seconds raised OverflowError out of the schema check."""
    assert distillation.DISTILL_SCHEMA.problem({**DISTILLED, **change}) == problem


def test_the_surrogate_and_teacher_cost_schemas_check_their_lists():
    from dreg_utils.studies import surrogate, teacher_cost

    run = {"diverged": False, "diverged_step": None, "diverged_epoch": None, "diverged_reason": None,
           "train_seconds": 1.0, **{m: 0.5 for m in ("test_mse", "val_mse", "grad_p99", "grad_mean", "cos_mean", "cos_p5",
                                                    "cos_p10", "cos_negative", "grad_p99_over_mean")},
           **{f"{o}_{k}": v for o in surrogate.OPTIMIZERS
              for k, v in (("regret", [0.1, 0.2]), ("left", [False, True]), ("diverged", [False, False]),
                           ("paths", [[[0.0, 1.0], [0.5, 0.5]]]))}}
    assert surrogate.RESULT_SCHEMA.problem(run) is None
    assert surrogate.RESULT_SCHEMA.problem({**run, "gd_left": [False]}) == \
        "the per-start lists of gd differ in length ([1, 2])"
    assert "field 'lbfgs_paths' is [[0, 1, 2]]" in surrogate.RESULT_SCHEMA.problem({**run, "lbfgs_paths": [[0, 1, 2]]})
    cost = {"rows": [{"outputs": 1, "method": "base", "seconds": 1.0, "ratio_to_base": 1.0}], "wall_seconds": 2.0}
    assert teacher_cost.RESULT_SCHEMA.problem(cost) is None
    assert "field 'rows' is [1, 2], not a list of items each an object" in \
        teacher_cost.RESULT_SCHEMA.problem({**cost, "rows": [1, 2]})


# ------------------------------------------------------------------ stored formulas never run

def _payload(marker: Path) -> str:
    """A gp_formula that ``sympy.sympify`` would run: it creates ``marker``."""
    return f"lambdify.__globals__['__builtins__']['__import__']('os').system('touch {marker}')"


def test_a_planted_formula_is_never_run_by_the_formula_table(tmp_path):
    """Reproduction: distillation.formulas() rebuilt student formulas with sympify, so a
    cache record's gp_formula ran as code when chapter 04 was re-run."""
    marker = tmp_path / "X"
    runs = pd.DataFrame([{"dataset": "feynman_I_14_4", "kind": "distill", "seed": 0, "method": "base",
                          "lam": 0.0, "noise": 0.0, "diverged": False, "gp_formula": _payload(marker),
                          "gp_length": 3, "gp_test_r2": 0.5}])
    table = pd.DataFrame([{"dataset": "feynman_I_14_4", "lambda_validation": 0.0}])
    with pytest.raises(ValueError, match=r"stored formula .* is not valid: .* is not a sympy constructor call"):
        distillation_tables.formulas(runs, table)
    assert not marker.exists()


def test_a_planted_formula_in_a_cache_record_is_rejected_and_recomputed(tmp_path, caplog):
    marker = tmp_path / "X"
    config = {"kind": "direct", "dataset": "feynman_I_14_4", "noise": 0.0, "seed": 0}
    fresh = {"gp_val_r2": 0.9, "gp_test_r2": 0.8, "gp_length": 3, "gp_seconds": 0.1,
             "gp_program": "mul(X0, X1)",
             "gp_formula": "Mul(Symbol('z_k', real=True), Symbol('z_x', real=True))",
             "tree_val_r2": 0.7, "tree_test_r2": 0.6, "tree_seconds": 0.1, "boost_val_r2": 0.9,
             "boost_test_r2": 0.9, "boost_seconds": 0.1, "snr_proxy": 2.0}
    path = tmp_path / f"{sweep.config_key(config, distillation.STUDY_VERSION)}.json"
    path.write_text(json.dumps({"config": config, "result": {**fresh, "gp_formula": _payload(marker)},
                                "study_version": distillation.STUDY_VERSION}))
    calls = []

    def run_group(group):
        calls.append(group)
        return [fresh for _ in group]

    with caplog.at_level(logging.WARNING, logger="dreg_utils.sweep"):
        runs = sweep.run_grid([config], run_group, tmp_path, progress=False,
                              version=distillation.STUDY_VERSION, schema=distillation.result_schema)
    assert calls == [[config]] and runs["gp_formula"].tolist() == [fresh["gp_formula"]]
    assert "field 'gp_formula' is" in caplog.text and "not sympy.srepr text of a formula" in caplog.text
    assert str(read_srepr(runs["gp_formula"].iloc[0])) == "z_k*z_x"
    assert not marker.exists()
