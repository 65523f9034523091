"""End to end: a sweep inside a notebook's kernel shows its progress in the runner's output."""
from test_notebooks_runner import TINY

from dreg_utils.book import runner

HEADER = TINY.split("# A tiny chapter")[0]  # the jupytext header
SWEEP = HEADER + """# A chapter with a sweep

```{code-cell} ipython3
:tags: [parameters]

profile = None
```

```{code-cell} ipython3
import time
from dreg_utils.sweep import run_grid

def slow_square(group):
    time.sleep(1.5)
    return [{"y": c["x"] ** 2} for c in group]

runs = run_grid([{"x": i} for i in range(3)], slow_square, "cache", progress=False, desc="squares")
```
"""


def test_runner_prints_the_sweep_progress_of_the_kernel(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "PLAIN_PROGRESS_EVERY_S", 0.0)  # every change, not every 15 s
    source = tmp_path / "09_sweep.md"
    source.write_text(SWEEP)
    runner.execute([source], tmp_path / "out", "smoke", tmp_path)
    printed = capsys.readouterr().out
    lines = [line for line in printed.splitlines() if line.startswith("[1/1] 09_sweep |")]
    assert lines, printed
    assert "squares 3/3 (0 cached, 3 trained)" in lines[-1]  # the final line
    assert any("squares" in line and "left" in line for line in lines[:-1]), lines  # while it ran
    assert not list((tmp_path / "out").glob(".*.progress.json"))  # the channel is cleaned up
