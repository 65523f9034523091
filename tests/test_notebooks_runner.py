"""The notebook runner: parameters parsed from the command line, the re-run note, bad input."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

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
    ("epochs=120", ("epochs", 120)), ("lam=1e-3", ("lam", 1e-3)),
    ("lambdas=[0.0, 0.1]", ("lambdas", [0.0, 0.1])), ("activation=relu", ("activation", "relu")),
])
def test_parse_param_reads_yaml_values(text, expected):
    assert notebooks.parse_param(text) == expected


@pytest.mark.parametrize("text", ["epochs", "=3", "two words=3"])
def test_parse_param_rejects_malformed(text):
    with pytest.raises(ValueError, match="write NAME=VALUE"):
        notebooks.parse_param(text)


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
    note = executed.cells[1].source
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
    assert notebooks.parameter_names(source) == ["profile", "epochs"]
    source.write_text(TINY.replace(":tags: [parameters]\n", ""))
    with pytest.raises(ValueError, match="has no cell tagged 'parameters'"):
        notebooks.parameter_names(source)


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
