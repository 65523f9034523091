"""A sweep killed mid-run (SIGINT or SIGKILL) loses no finished run and resumes to the same table.

A child process runs a small synthetic sweep (serially, or on two joblib worker
processes); once ``K_DONE`` cache files exist it is killed while the next runs train. Whatever is in the cache once it is dead is
what it had finished: the re-run must reuse every one of those files unchanged and
end with the table of an uninterrupted sweep on the same backend.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from dreg_utils import sweep
from dreg_utils.studies import synthetic as synthetic_study
from dreg_utils.studies.synthetic import SyntheticSettings

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
K_DONE = 4  # finished runs to wait for before the kill: one family's group
# Three families, each one vectorised group of four runs (about a second each).
SETTINGS_TINY = dict(SyntheticSettings.from_profile("smoke"), families=["smooth", "piecewise", "sparse"],
                     lambdas=[0.0, 1e-1], seeds=[0, 1], epochs=6, device="cpu")
TIMING = ["train_seconds", "cached"]
CHILD = textwrap.dedent("""
    import json, sys
    from dreg_utils.studies import synthetic as synthetic_study
    synthetic_study.run_sweep(json.loads(sys.argv[1]), sys.argv[2], progress=False, **json.loads(sys.argv[3]))
""")


@pytest.fixture(scope="module")
def uninterrupted_sweeps(tmp_path_factory):
    """The uninterrupted sweep's table per backend, computed once each when first needed.

    A group's last bits depend on torch's thread count (joblib workers run on one thread,
    this process on all cores), so a resumed sweep is compared with one on its own backend.
    """
    tables = {}

    def table(backend: dict) -> pd.DataFrame:
        name = json.dumps(backend, sort_keys=True)
        if name not in tables:
            tables[name] = synthetic_study.run_sweep(SETTINGS_TINY, tmp_path_factory.mktemp("fresh"),
                                                     progress=False, **backend)
        return tables[name]
    return table


def kill_after(results_dir: Path, sig: signal.Signals, backend: dict, timeout: float = 120.0) -> None:
    """Start the sweep in a child process and send it ``sig`` once K_DONE runs are cached."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(SETTINGS_TINY), str(results_dir),
                              json.dumps(backend)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cache, deadline = results_dir / "cache", time.monotonic() + timeout
    try:
        while len(list(cache.glob("*.json"))) < K_DONE:
            assert child.poll() is None, f"the sweep ended before the kill: {child.stderr.read().decode()}"
            assert time.monotonic() < deadline, "no cache files appeared"
            time.sleep(0.02)
        child.send_signal(sig)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode != 0  # it was interrupted, it did not finish


def snapshot(cache: Path) -> dict[str, tuple[str, int]]:
    """Content and mtime (ns) of every cache file, by run key."""
    return {f.stem: (f.read_text(), f.stat().st_mtime_ns) for f in cache.glob("*.json")}


# SIGKILL on a joblib sweep is left out: its orphaned workers finish their task before
# exiting, taking CPU from the other tests; the parent's side is the same as with SIGINT.
@pytest.mark.parametrize("sig, backend", [(signal.SIGINT, {}), (signal.SIGKILL, {}),
                                          (signal.SIGINT, {"backend": "joblib", "n_jobs": 2})],
                         ids=["SIGINT-serial", "SIGKILL-serial", "SIGINT-joblib"])
def test_killed_sweep_resumes_without_losing_runs(tmp_path, uninterrupted_sweeps, sig, backend):
    uninterrupted = uninterrupted_sweeps(backend)
    kill_after(tmp_path, sig, backend)
    cache = tmp_path / "cache"
    at_kill = snapshot(cache)
    n_runs = len(uninterrupted)
    assert K_DONE <= len(at_kill) < n_runs  # killed in the middle of the sweep
    for text, _ in at_kill.values():  # whole files only: each parses and names its run
        record = json.loads(text)
        assert record["config"]["family"] in SETTINGS_TINY["families"] and "test_mse" in record["result"]
    # What a killed writer could leave behind: an old temporary file (removed by the
    # re-run) and a young one (kept, as a live writer may own it); neither is a result.
    key = uninterrupted["run_key"].iloc[-1]
    stale, young = cache / f".{key}.json.killed.tmp", cache / f".{key}.json.writing.tmp"
    for tmp in (stale, young):
        tmp.write_text('{"config": {"fam')
    old = time.time() - 2 * sweep.STALE_TMP_SECONDS
    os.utime(stale, (old, old))

    runs = synthetic_study.run_sweep(SETTINGS_TINY, tmp_path, progress=False, **backend)

    reused = set(runs.loc[runs["cached"], "run_key"])
    lost = sorted(set(at_kill) - reused)
    print(f"{sig.name}: {len(at_kill)} runs finished before the kill, {len(lost)} runs lost")
    assert lost == [] and reused == set(at_kill)
    assert {k: v for k, v in snapshot(cache).items() if k in at_kill} == at_kill  # untouched
    assert not stale.exists() and young.exists()
    assert sorted(f.stem for f in cache.glob("*.json")) == sorted(uninterrupted["run_key"])
    assert runs["run_key"].is_unique and len(runs) == n_runs
    pd.testing.assert_frame_equal(runs.drop(columns=TIMING), uninterrupted.drop(columns=TIMING),
                                  check_exact=True)
