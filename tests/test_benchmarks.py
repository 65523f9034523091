"""Smoke test of the benchmark scripts: they run and print their table (timings are not checked)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_penalties_quick_prints_the_table():
    script = ROOT / "benchmarks" / "bench_penalties.py"
    # One thread: on a busy machine, multi-threaded steps can stall for whole scheduler slices.
    done = subprocess.run([sys.executable, str(script), "--quick", "--threads", "1"], cwd=ROOT,
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
