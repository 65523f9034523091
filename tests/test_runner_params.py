"""The runner's --param values: read by the type each page declares, checked by the page's settings
before any kernel starts, refused in one line (exit status 2)."""
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dreg_utils.book import runner
from dreg_utils.settings import parse_value

ROOT = Path(__file__).resolve().parents[1]
MNIST = "notebooks/02_mnist_sweep.md"


@pytest.mark.parametrize("text, kind, expected", [
    ("120", int, 120), ("-3", int, -3), (" 8 ", int, 8), ("0", int, 0),
    ("1e-3", float, 1e-3), ("1", float, 1.0), ("0.25", float, 0.25), (".5", float, 0.5), ("2.", float, 2.0),
    ("true", bool, True), ("False", bool, False),
    ("no", str, "no"), ("relu", str, "relu"), ("a b", str, "a b"), ("None", str, "None"),
    ("None", int | None, None), ("null", str | None, None), ("64", int | None, 64), ("data", str | None, "data"),
    ("[0.0, 0.1]", list[float], [0.0, 0.1]), ("[0, 1e-2]", list[float], [0.0, 0.01]),
    ("[0, 1]", list[int], [0, 1]), ("[]", list[int], []),
    ('["relu", \'poly\']', list[str], ["relu", "poly"]),
    ("[[32, 16], [64, 32]]", list[list[int]], [[32, 16], [64, 32]]),
    ("[0, 'a']", Any, [0, "a"]), ("3", Any, 3),
])
def test_parse_value_reads_each_declared_type(text, kind, expected):
    value = parse_value("x", text, kind)
    assert value == expected and repr(value) == repr(expected)  # 1.0, not 1; "no", not False


@pytest.mark.parametrize("text, kind, pattern", [
    ("010", int, r"x='010' is not valid; write a whole number in decimal digits without leading zeros"),
    ("1:30", int, r"x='1:30' is not valid"), ("0x10", int, r"x='0x10' is not valid"),
    ("1_000", int, r"x='1_000' is not valid"), ("1.5", int, r"x='1.5' is not valid"),
    ("1e3", int, r"x='1e3' is not valid"), ("true", int, r"x='true' is not valid"),
    ("0x10", float, r"x='0x10' is not valid; write a decimal number, e.g. 0.01 or 1e-3"),
    ("010", float, r"x='010' is not valid"), ("nan", float, r"x='nan' is not valid"),
    (".inf", float, r"x='.inf' is not valid"), ("1e-3e", float, r"x='1e-3e' is not valid"),
    ("yes", bool, r"x='yes' is not valid; write true or false"), ("1", bool, r"x='1' is not valid"),
    ("None", int, r"x='None' is not valid"), ("nil", int | None, r"x='nil' is not valid; .*, or None"),
    ("[0.1", list[float], r"x='\[0.1' is not valid; write a list in brackets"),
    ("0.1", list[float], r"x='0.1' is not valid; write a list in brackets"),
    ("(0, 1)", list[int], r"x='\(0, 1\)' is not valid; write a list in brackets"),
    ("[smooth]", list[str], r"x\[0\]='smooth' is not valid; write text items in quotes"),
    ("[0, 0x10]", list[int], r"x\[1\]='0x10' is not valid"),
    ("[[32, 16], [1:30]]", list[list[int]], r"x='\[\[32, 16\], \[1:30\]\]' is not valid"),
    ("[[32, 16], [0x10]]", list[list[int]], r"x\[1\]\[0\]='0x10' is not valid"),
    ("__import__('os')", Any, r"x=\"__import__\('os'\)\" is not valid; write a Python literal"),
])
def test_parse_value_refuses_a_text_that_does_not_fit_its_type(text, kind, pattern):
    with pytest.raises(ValueError, match=pattern):
        parse_value("x", text, kind)


def test_parse_value_refuses_a_type_it_cannot_read():
    with pytest.raises(TypeError, match="x: a parameter of type <class 'dict'> cannot be read from text"):
        parse_value("x", "{}", dict)
    with pytest.raises(TypeError, match=r"x: a parameter of type int \| float \| None cannot be read"):
        parse_value("x", "1", int | float | None)


def test_a_page_reads_each_value_by_its_knob_type():
    """Before: YAML 1.1 read epochs=010 as 8, 1:30 as 90 (base 60), lam=0x10 as 16, dataset=no as False."""
    source = ROOT / MNIST
    assert runner.read_parameters(source, {"dataset": "no"}) == {"dataset": "no"}
    values = runner.read_parameters(source, {"epochs": "10", "lam": "1e-3", "n_train": "None",
                                             "capacities": "[[32, 16]]", "results_dir": "/tmp/r"})
    assert values == {"epochs": 10, "lam": 1e-3, "n_train": None, "capacities": [[32, 16]], "results_dir": "/tmp/r"}
    for name, text in [("epochs", "010"), ("epochs", "1:30"), ("lam", "0x10")]:
        with pytest.raises(ValueError, match=f"{name}='{text}' is not valid"):
            runner.read_parameters(source, {name: text})


@pytest.fixture
def no_kernel(monkeypatch):
    """papermill that fails the test if the runner calls it."""
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")
    monkeypatch.setattr(runner.papermill, "execute_notebook", refuse)


@pytest.mark.parametrize("args, expected", [
    ([MNIST, "--param", "lam=-1"], "02_mnist_sweep.md: lam=-1.0 is not valid; it must be >= 0"),
    ([MNIST, "--param", "lam=[0.1"], "02_mnist_sweep.md: lam='[0.1' is not valid; write a decimal number"),
    ([MNIST, "--param", "epochs=010"], "02_mnist_sweep.md: epochs='010' is not valid; write a whole number"),
    ([MNIST, "--param", "epochs=1:30"], "02_mnist_sweep.md: epochs='1:30' is not valid"),
    ([MNIST, "--param", "lam=0x10"], "02_mnist_sweep.md: lam='0x10' is not valid"),
    ([MNIST, "--param", "dataset=no"], "dataset='no' is not valid; choose one of ['mnist', 'fashion-mnist']"),
    ([MNIST, "--param", "capacities=[[32, 0]]"], "capacities[0][1]=0 is not valid; it must be an integer >= 1"),
    ([MNIST, "--param", "epochs"], "--param 'epochs' is not valid; write NAME=VALUE"),
    ([MNIST, "--param", "epoch=3"], "02_mnist_sweep.md has no parameter 'epoch'; its parameters are ["),
    ([MNIST, "--param", "profile=paper"], "give the profile with --profile"),
    ([MNIST, "--profile", "huge"],
     "argument --profile: invalid choice: 'huge' (choose from 'smoke', 'default', 'paper')"),
    (["notebooks/nope.md"], "no such notebook: notebooks/nope.md"),
    ([MNIST, "--jobs", "0"], "jobs=0 is not valid; it must be an integer >= 1"),
    (["notebooks/06_performance.md", "--param", "bench_dir=no/such/folder"],
     "bench_dir='no/such/folder' is not a folder"),
    (["notebooks/01_synthetic_families.md", "--param", "results_dir=README.md"],
     "results_dir='README.md' is a file"),
    (["notebooks/01_synthetic_families.md", MNIST, "--param", "lam=-1"], "has no parameter 'lam'"),
])
def test_bad_input_is_refused_in_one_line_before_any_kernel_starts(tmp_path, monkeypatch, capsys, no_kernel,
                                                                  args, expected):
    """Before: lam=-1 was refused by the notebook after its kernel started (8-20 s, an 83-line
    traceback, the half-run page written over OUT's good one); a malformed value or a missing
    notebook gave a raw traceback."""
    monkeypatch.chdir(ROOT)  # relative paths as on the command line
    out = tmp_path / "out"
    out.mkdir()
    (out / "02_mnist_sweep.ipynb").write_text("a good page")
    start = time.perf_counter()
    with pytest.raises(SystemExit) as stop:
        runner.main([*args, "--out", str(out), "--cwd", str(ROOT)])
    seconds = time.perf_counter() - start
    error = capsys.readouterr().err
    assert stop.value.code == 2 and seconds < 2.0, (stop.value.code, seconds)
    assert error.startswith("dreg_utils.book.runner: error: ") and error.count("\n") == 1, error
    assert expected in error and "Traceback" not in error
    assert sorted(p.name for p in out.iterdir()) == ["02_mnist_sweep.ipynb"]
    assert (out / "02_mnist_sweep.ipynb").read_text() == "a good page"


def test_the_command_refuses_a_bad_value_in_one_line_without_a_kernel(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dreg_utils.book.runner", MNIST, "--out", str(tmp_path / "out"),
                           "--param", "lam=-1"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "executing" not in done.stdout
    assert done.stderr == ("dreg_utils.book.runner: error: 02_mnist_sweep.md: lam=-1.0 is not valid; "
                           "it must be >= 0.0\n")
    assert not (tmp_path / "out").exists()


def test_papermill_receives_the_typed_values(tmp_path, monkeypatch):
    received = {}

    def execute_notebook(source, output, parameters, **kwargs):
        received.update(parameters)
        Path(output).write_bytes(Path(source).read_bytes())

    monkeypatch.setattr(runner.papermill, "execute_notebook", execute_notebook)
    monkeypatch.chdir(ROOT)
    assert runner.main([MNIST, "--out", str(tmp_path), "--profile", "smoke", "--param", "epochs=3",
                        "--param", "lam=1e-3", "--param", "capacities=[[32, 16]]", "--param", "n_train=None",
                        "--param", "dataset=fashion-mnist", "--param", "data_dir=some folder",
                        "--param", 'activations=["relu"]']) == 0
    assert received == {"profile": "smoke", "epochs": 3, "lam": 1e-3, "capacities": [[32, 16]], "n_train": None,
                        "dataset": "fashion-mnist", "data_dir": "some folder", "activations": ["relu"]}
    assert repr(received["lam"]) == "0.001" and (tmp_path / "02_mnist_sweep.ipynb").is_file()


def test_a_page_that_is_not_a_chapter_reads_python_literals(tmp_path, capsys):
    from test_notebooks_runner import TINY

    source = tmp_path / "tiny.md"
    source.write_text(TINY)
    assert runner.read_parameters(source, {"epochs": "3"}) == {"epochs": 3}
    assert runner.read_parameters(source, {"epochs": "'three'"}) == {"epochs": "three"}
    with pytest.raises(SystemExit) as stop:
        runner.main([str(source), "--out", str(tmp_path / "out"), "--param", "epochs=three"])
    assert stop.value.code == 2
    assert "tiny.md: epochs='three' is not valid; write a Python literal" in capsys.readouterr().err
