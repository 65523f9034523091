"""The notebook runner: parameters parsed from the command line, the re-run note, bad input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dreg_utils.book import parameters
from dreg_utils.book import runner as notebooks

ROOT = Path(__file__).resolve().parents[1]
TINY = """---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---

# A tiny chapter

```{code-cell} ipython3
:tags: [parameters]

profile = None
epochs = None
```

```{code-cell} ipython3
import json
print(json.dumps({"profile": profile, "epochs": epochs}))
```
"""


@pytest.mark.parametrize("text, expected", [
    ("epochs=120", ("epochs", "120")), ("lambdas=[0.0, 0.1]", ("lambdas", "[0.0, 0.1]")),
    ("dataset=no", ("dataset", "no")), (" data_dir = a=b", ("data_dir", " a=b")),
])
def test_parse_param_splits_name_and_the_value_as_written(text, expected):
    """The value stays text: each page reads it by its declared type (test_runner_params.py)."""
    assert parameters.parse_param(text) == expected


@pytest.mark.parametrize("text", ["epochs", "=3", "two words=3"])
def test_parse_param_rejects_malformed(text):
    with pytest.raises(ValueError, match="write NAME=VALUE"):
        parameters.parse_param(text)


def test_parse_params_refuses_a_parameter_given_twice():
    """Before: --param lam=0.1 --param lam=0.2 ran with 0.2, silently."""
    assert parameters.parse_params(["lam=0.1", "epochs=3"]) == {"lam": "0.1", "epochs": "3"}
    with pytest.raises(ValueError, match=r"^--param lam is given twice \(lam='0.1' and lam=' 0.2'\); "
                                         r"give each parameter once$"):
        parameters.parse_params(["lam=0.1", "epochs=3", " lam= 0.2"])


def test_execute_injects_parameters_and_adds_the_rerun_note(tmp_path):
    source = tmp_path / "07_tiny.md"
    source.write_text(TINY)
    out = tmp_path / "out"
    timings = notebooks.execute([source], out, "smoke", tmp_path, {"epochs": 3})
    assert list(timings["notebook"]) == ["07_tiny"] and timings["seconds"].iloc[0] > 0
    executed = nbformat.read(out / "07_tiny.ipynb", as_version=4)
    printed = [o["text"] for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if o.get("name") == "stdout"]
    assert json.loads(printed[-1]) == {"profile": "smoke", "epochs": 3}
    assert executed.cells[0].source.startswith("# A tiny chapter")
    note = executed.cells[-1].source  # at the end: a page opens with its answer
    assert "Re-run this page" in note and "notebooks/07_tiny.md" in note and "--profile smoke" in note
    assert "| `07_tiny` |" in (out / "timings.md").read_text()
    assert not list(out.glob(".*.input.ipynb"))
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata["tags"]  # ran, but off the page


def test_bad_profile_and_missing_notebook_stop_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"profile='huge' is not valid"):
        notebooks.execute([ROOT / "notebooks" / "06_performance.md"], tmp_path / "a", "huge", ROOT)
    with pytest.raises(FileNotFoundError, match="no such notebook"):
        notebooks.execute([tmp_path / "nope.md"], tmp_path / "b", "smoke", ROOT)
    with pytest.raises(ValueError, match="give the profile with --profile"):
        notebooks.execute([ROOT / "notebooks" / "06_performance.md"], tmp_path / "c", "smoke", ROOT,
                          {"profile": "paper"})
    assert not any((tmp_path / d).exists() for d in "abc")


def test_command_line_rejects_a_malformed_param(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dreg_utils.book.runner", "notebooks/06_performance.md",
                           "--out", str(tmp_path), "--param", "epochs"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "write NAME=VALUE" in done.stderr


def test_parameter_names_reads_the_parameters_cell(tmp_path):
    source = tmp_path / "07_tiny.md"
    source.write_text(TINY)
    assert parameters.parameter_names(source) == ["profile", "epochs"]
    source.write_text(TINY.replace(":tags: [parameters]\n", ""))
    with pytest.raises(ValueError, match="has no cell tagged 'parameters'"):
        parameters.parameter_names(source)


@pytest.mark.parametrize("typo", ["epoch", "nonsense"])
def test_an_unknown_parameter_is_refused_before_any_notebook_runs(tmp_path, typo):
    source = tmp_path / "07_tiny.md"
    source.write_text(TINY)
    with pytest.raises(ValueError, match=rf"07_tiny.md has no parameter '{typo}'; its parameters are \['epochs'\]"):
        notebooks.execute([source], tmp_path / "out", "smoke", tmp_path, {typo: 3})
    assert not (tmp_path / "out").exists()


def test_command_line_refuses_a_parameter_the_page_lacks(tmp_path):
    done = subprocess.run([sys.executable, "-m", "dreg_utils.book.runner", "notebooks/02_mnist_sweep.md",
                           "--out", str(tmp_path / "out"), "--param", "epoch=3"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "02_mnist_sweep.md has no parameter 'epoch'" in done.stderr and "'epochs'" in done.stderr
    assert not (tmp_path / "out").exists()


def timed_page(name: str, needs: list[str] | None = None, fail: bool = False) -> str:
    """A page that sleeps 1.5 s and writes when it ran to NAME.json (in the kernel's cwd)."""
    front = f"dreg:\n  needs: {json.dumps(needs)}\n" if needs else ""
    body = "raise RuntimeError('this page fails')" if fail else (
        f"json.dump({{'start': start, 'end': time.time(), 'threads': os.environ.get('OMP_NUM_THREADS')}}, "
        f"open('{name}.json', 'w'))")
    return (f"---\nkernelspec: {{display_name: Python 3, language: python, name: python3}}\n{front}---\n\n"
            f"# Page {name}\n\n```{{code-cell}} ipython3\n:tags: [parameters]\n\nprofile = None\n```\n\n"
            f"```{{code-cell}} ipython3\nimport json, os, time\nstart = time.time()\ntime.sleep(1.5)\n{body}\n```\n")


def test_side_by_side_pages_overlap_and_a_page_waits_for_what_it_needs(tmp_path):
    pages = {"a": timed_page("a"), "b": timed_page("b"), "c": timed_page("c", needs=["a", "b"])}
    sources = []
    for name, text in pages.items():
        (tmp_path / f"{name}.md").write_text(text)
        sources.append(tmp_path / f"{name}.md")
    timings = notebooks.execute(sources, tmp_path / "out", "smoke", tmp_path, jobs=2)
    ran = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in pages}
    assert list(timings["notebook"]) == ["a", "b", "c"]
    assert ran["b"]["start"] < ran["a"]["end"] and ran["a"]["start"] < ran["b"]["end"]  # side by side
    assert ran["c"]["start"] > max(ran["a"]["end"], ran["b"]["end"])  # after both of its needs
    assert {r["threads"] for r in ran.values()} == {str(max(1, (os.cpu_count() or 1) // 2))}  # its share of the cores
    assert "Up to 2 notebooks ran side by side" in (tmp_path / "out" / "timings.md").read_text()
    assert all((tmp_path / "out" / f"{name}.ipynb").is_file() for name in pages)


def test_a_failing_page_stops_the_side_by_side_run(tmp_path):
    for name, text in {"a": timed_page("a", fail=True), "b": timed_page("b", needs=["a"])}.items():
        (tmp_path / f"{name}.md").write_text(text)
    with pytest.raises(notebooks.NotebookFailed, match="this page fails"):
        notebooks.execute([tmp_path / "a.md", tmp_path / "b.md"], tmp_path / "out", "smoke", tmp_path, jobs=2)
    assert not (tmp_path / "b.json").exists()
    assert (tmp_path / "out" / "a.failed.ipynb").is_file() and not (tmp_path / "out" / "a.ipynb").exists()


def test_a_failing_page_keeps_the_previous_good_output_and_its_own_notebook_beside_it(tmp_path, capsys):
    """Before: papermill wrote straight into OUT/a.ipynb, so a failure replaced the good page."""
    source, out = tmp_path / "a.md", tmp_path / "out"
    source.write_text(timed_page("a"))
    argv = [str(source), "--out", str(out), "--profile", "smoke", "--cwd", str(tmp_path)]
    assert notebooks.main(argv) == 0
    good = (out / "a.ipynb").read_bytes()
    source.write_text(timed_page("a", fail=True))
    capsys.readouterr()
    assert notebooks.main(argv) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert "a.md failed: cell [3] raised RuntimeError: this page fails" in error
    assert f"its executed notebook is {out / 'a.failed.ipynb'}" in error
    assert (out / "a.ipynb").read_bytes() == good
    failed = nbformat.read(out / "a.failed.ipynb", as_version=4)
    assert any(o.get("evalue") == "this page fails" for c in failed.cells for o in c.get("outputs", []))
    assert not list(out.glob(".a.*"))  # no temporary file left
    source.write_text(timed_page("a"))
    assert notebooks.main(argv) == 0
    assert not (out / "a.failed.ipynb").exists()  # a success removes the out-of-date failed copy


def test_needs_must_come_first(tmp_path):
    (tmp_path / "a.md").write_text(timed_page("a", needs=["b"]))
    (tmp_path / "b.md").write_text(timed_page("b"))
    with pytest.raises(ValueError, match=r"a.md needs \['b'\], which come\(s\) after it"):
        notebooks.execute([tmp_path / "a.md", tmp_path / "b.md"], tmp_path / "out", "smoke", tmp_path, jobs=2)
    (tmp_path / "a.md").write_text(timed_page("a", needs="b"))
    with pytest.raises(ValueError, match="dreg.needs must be a list of notebook names"):
        notebooks.notebook_needs(tmp_path / "a.md")
    with pytest.raises(ValueError, match="jobs=0"):
        notebooks.execute([tmp_path / "b.md"], tmp_path / "out", "smoke", tmp_path, jobs=0)
