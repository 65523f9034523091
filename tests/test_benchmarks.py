"""Smoke test of the benchmark scripts: they run, print and save their table (timings are not checked)."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_penalties_quick_prints_and_saves_the_table(tmp_path):
    script = ROOT / "benchmarks" / "bench_penalties.py"
    # One thread: on a busy machine, multi-threaded steps can stall for whole scheduler slices.
    done = subprocess.run([sys.executable, str(script), "--quick", "--threads", "1", "--out", str(tmp_path)],
                          cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("hidden"))
    assert header.split() == ["hidden", "params", "BASE", "ms", "DREG", "IGP", "SN", "JAC", "JAC-RP",
                              "DREG-poly", "BASE-poly", "ms"]
    rows = [line for line in lines if line.startswith("(")]
    assert [row.split(")")[0] + ")" for row in rows] == ["(32, 16)", "(128, 64)"]
    for row in rows:
        numbers = row.split(")", 1)[1].split()
        assert len(numbers) == 1 + 1 + 6 + 1  # params, BASE ms, six ratios, BASE-poly ms
        assert all(float(v) > 0 for v in numbers)
    assert any(line.startswith("target (DREG <= 1.2x BASE") for line in lines)
    saved = pd.read_csv(tmp_path / "penalties.csv")
    assert list(saved["hidden"].unique()) == ["32-16", "128-64"]
    assert set(saved["method"]) == {"BASE", "DREG", "IGP", "SN", "JAC", "JAC-RP", "BASE-poly", "DREG-poly"}
    assert (saved.loc[saved["method"] == "BASE", "ratio"] == 1.0).all()
    assert (saved["step_ms"] > 0).all()
    meta = json.loads((tmp_path / "penalties.meta.json").read_text())
    assert meta["quick"] is True and meta["torch_threads"] == 1 and meta["cpu"]
