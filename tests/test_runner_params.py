"""The runner's --param values: read by the type each page declares, checked by the page's settings
before any kernel starts, refused in one line (exit status 2)."""
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dreg_utils.book import parameters, runner
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
    ("1e-320", float, 1e-320), ("0e5", float, 0.0), ("-0.0", float, -0.0),
    ("[0, 'a']", Any, [0, "a"]), ("3", Any, 3), ("relu", Any, "relu"), ("2.", Any, 2.0),
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
    ("1e-400", float, r"x='1e-400' is not valid; it is too small for a float and would read as 0.0"),
    ("-2.5e-400", float, r"x='-2.5e-400' is not valid; it is too small"),
    ("1e999", float, r"x='1e999' is not valid; it is too large for a float"),
    ("[0.0, 1e-400]", list[float], r"x\[1\]='1e-400' is not valid; it is too small"),
    ("1" * 5000, int, r"x='1111.*\.\.\. \(5000 characters\) is not valid; it has too many digits"),
    ("__import__('os')", Any, r"x=\"__import__\('os'\)\" is not valid; write a whole number \(120\)"),
    ("0x10", Any, r"x='0x10' is not valid; write a whole number \(120\), a decimal number"),
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
    assert parameters.read_parameters(source, {"dataset": "no"}) == {"dataset": "no"}
    values = parameters.read_parameters(source, {"epochs": "10", "lam": "1e-3", "n_train": "None",
                                             "capacities": "[[32, 16]]", "results_dir": "/tmp/r"})
    assert values == {"epochs": 10, "lam": 1e-3, "n_train": None, "capacities": [[32, 16]], "results_dir": "/tmp/r"}
    for name, text in [("epochs", "010"), ("epochs", "1:30"), ("lam", "0x10")]:
        with pytest.raises(ValueError, match=f"{name}='{text}' is not valid"):
            parameters.read_parameters(source, {name: text})


@pytest.fixture
def no_kernel(monkeypatch):
    """papermill that fails the test if the runner calls it."""
    def refuse(*args, **kwargs):
        raise AssertionError("a kernel was started")
    monkeypatch.setattr(runner.papermill, "execute_notebook", refuse)


@pytest.mark.parametrize("args, expected", [
    ([MNIST, "--param", "lam=-1"], "02_mnist_sweep.md: lam=-1.0 is not valid; it must be >= 0"),
    ([MNIST, "--param", "lam=0.1", "--param", "lam=0.2"],
     "--param lam is given twice (lam='0.1' and lam='0.2'); give each parameter once"),
    ([MNIST, "--param", "lam=1e-400"], "02_mnist_sweep.md: lam='1e-400' is not valid; it is too small for a float"),
    ([MNIST, "--param", "lam=1e999"], "02_mnist_sweep.md: lam='1e999' is not valid; it is too large for a float"),
    ([MNIST, "--param", "epochs=99999999999999999999999"],
     "epochs=99999999999999999999999 is not valid; it must be an integer <= 100000 (a generous limit"),
    ([MNIST, "--param", "capacities=[[1000000000, 1000000000]]"],
     "capacities[0][0]=1000000000 is not valid; it must be an integer <= 65536"),
    ([MNIST, "--param", "capacities=[[65536, 65536]]"],
     "capacities[0]=[65536, 65536] is not valid; neighbouring widths 65536 and 65536 make a weight matrix"),
    ([MNIST, "--param", "seeds=[4294967296]"], "seeds[0]=4294967296 is not valid; it must be an integer <= 4294967295"),
    ([MNIST, "--param", "data_dir=/nonexistent"], "data_dir='/nonexistent' is not a folder; give the folder of"),
    ([MNIST, "--param", "results_dir=/proc/1"], "results_dir='/proc/1' is not valid; '/proc/1' cannot be written"),
    ([MNIST, "--param", "results_dir=README.md/results"],
     "results_dir='README.md/results' is not valid; '" + str(ROOT / "README.md") + "' is a file, not a folder"),
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
                        "--param", "dataset=fashion-mnist", "--param", f"data_dir={tmp_path}",
                        "--param", 'activations=["relu"]']) == 0
    assert received == {"profile": "smoke", "epochs": 3, "lam": 1e-3, "capacities": [[32, 16]], "n_train": None,
                        "dataset": "fashion-mnist", "data_dir": str(tmp_path), "activations": ["relu"]}
    assert repr(received["lam"]) == "0.001" and (tmp_path / "02_mnist_sweep.ipynb").is_file()


def copy_of(tmp_path: Path, text: str, name: str = "my_sweep.md") -> Path:
    """``text`` written to ``tmp_path / name``."""
    (tmp_path / name).write_text(text)
    return tmp_path / name


@pytest.mark.parametrize("param, expected", [
    ("lam=-1", "my_sweep.md: lam=-1.0 is not valid; it must be >= 0.0"),
    ("lam=0x10", "my_sweep.md: lam='0x10' is not valid; write a decimal number"),
    ("epochs=1_000", "my_sweep.md: epochs='1_000' is not valid; write a whole number"),
    ("dataset=no", "my_sweep.md: dataset='no' is not valid; choose one of"),
])
def test_a_chapter_copied_under_another_name_is_checked_as_the_original(tmp_path, capsys, no_kernel, param, expected):
    """Before: a copy of 02_mnist_sweep.md was not checked (its file name is not a chapter's): its values
    were read as Python literals (lam=0x10 as 16, epochs=1_000 as 1000) and lam=-1 started a kernel."""
    source = copy_of(tmp_path, (ROOT / MNIST).read_text())
    assert parameters.page_chapter(source) == "02_mnist_sweep"
    with pytest.raises(SystemExit) as stop:
        runner.main([str(source), "--out", str(tmp_path / "out"), "--cwd", str(ROOT), "--param", param])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.count("\n") == 1 and expected in error, error
    assert not (tmp_path / "out").exists()


CHAPTER_PAGE = """---
kernelspec: {{display_name: Python 3, language: python, name: python3}}
---

# A page

```{{code-cell}} ipython3
:tags: [parameters]

profile = None
lam = None
```

```{{code-cell}} ipython3
{body}
```
"""


@pytest.mark.parametrize("body, chapter", [
    ('from dreg_utils.book import open_chapter\nch = open_chapter("02_mnist_sweep", globals())', "02_mnist_sweep"),
    ('import dreg_utils.book as book\nch = book.open_chapter("07_synthetic_ablation", globals())',
     "07_synthetic_ablation"),
    ('%time ch = open_chapter("02_mnist_sweep", globals())', "02_mnist_sweep"),
    ('%%bash\necho open_chapter("03_statistical_tests", x)', "03_statistical_tests"),  # not Python: its text
    ('# open_chapter("02_mnist_sweep", globals()) is what a chapter calls\n'
     'x = "open_chapter(\'02_mnist_sweep\')"', None),  # a comment and a string open nothing
    ("print(1)", None),
])
def test_page_chapter_is_the_chapter_that_its_open_chapter_call_opens(tmp_path, body, chapter):
    assert parameters.page_chapter(copy_of(tmp_path, CHAPTER_PAGE.format(body=body), "page.md")) == chapter


@pytest.mark.parametrize("body, pattern", [
    ("name = '02_mnist_sweep'\nch = open_chapter(name, globals())",
     "page.md calls open_chapter without its name as text"),
    ('ch = open_chapter("02_mnist", globals())',
     r"page.md: open_chapter's name='02_mnist' is not valid; choose one of"),
    ('a = open_chapter("02_mnist_sweep", {})\nb = open_chapter("01_synthetic_families", {})',
     r"page.md opens 2 chapters, \['01_synthetic_families', '02_mnist_sweep'\]; a page opens one"),
])
def test_a_page_whose_chapter_cannot_be_told_is_refused(tmp_path, body, pattern):
    with pytest.raises(ValueError, match=pattern):
        parameters.page_chapter(copy_of(tmp_path, CHAPTER_PAGE.format(body=body), "page.md"))


@pytest.mark.parametrize("text, expected", [
    ("3", 3), ("-3", -3), ("1e3", 1000.0), ("0.5", 0.5), ("true", True), ("None", None), ("'three'", "three"),
    ("three", "three"), ("a b", "a b"), ("nan", "nan"), ("[0, 'a', [1.5, null]]", [0, "a", [1.5, None]]),
])
def test_a_page_that_is_not_a_chapter_reads_values_by_the_type_their_text_shows(tmp_path, text, expected):
    from test_notebooks_runner import TINY

    source = copy_of(tmp_path, TINY, "tiny.md")
    value = parameters.read_parameters(source, {"epochs": text})["epochs"]
    assert value == expected and repr(value) == repr(expected)


@pytest.mark.parametrize("text", ["0x10", "1_000", "010", "1:30", "1e-400", "1e999", "١٢", "[0.1", "[three]",
                                  "__import__('os')", "(0, 1)", ""])
def test_a_page_that_is_not_a_chapter_refuses_what_typed_parameters_refuse(tmp_path, capsys, no_kernel, text):
    """Before: a page that is not a chapter read values as Python literals: 0x10 as 16, 1_000 as 1000."""
    from test_notebooks_runner import TINY

    source = copy_of(tmp_path, TINY, "tiny.md")
    with pytest.raises(SystemExit) as stop:
        runner.main([str(source), "--out", str(tmp_path / "out"), "--param", f"epochs={text}"])
    error = capsys.readouterr().err
    assert stop.value.code == 2 and error.count("\n") == 1
    assert error.startswith("dreg_utils.book.runner: error: tiny.md: epochs") and "is not valid" in error, error
