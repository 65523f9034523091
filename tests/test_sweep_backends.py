"""run_grid's parallel backends (joblib's loky processes, a Dask cluster) give the serial table."""
import json

import pandas as pd
import pytest

from dreg_utils import sweep
from dreg_utils.studies import synthetic as synthetic_study
from dreg_utils.studies.synthetic import SyntheticSettings

TIMING = ["train_seconds", "cached"]  # wall time differs between runs; cached is checked apart


@pytest.fixture(scope="module")
def settings():
    """Four synthetic runs: one family, lambda 0 and 1e-2, two seeds, two epochs, on the CPU."""
    return dict(SyntheticSettings.from_profile("smoke"), families=["piecewise"], epochs=2, device="cpu")


@pytest.fixture(scope="module")
def serial(settings, tmp_path_factory):
    return synthetic_study.run_sweep(settings, tmp_path_factory.mktemp("serial"), progress=False)


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(host="127.0.0.1", n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


def check_same(runs: pd.DataFrame, serial: pd.DataFrame, results_dir) -> None:
    """Every column but the timings equal exactly, rows in the order of the configurations,
    all freshly run, and one whole cache file per run."""
    assert not runs["cached"].any()
    pd.testing.assert_frame_equal(runs.drop(columns=TIMING), serial.drop(columns=TIMING), check_exact=True)
    files = sorted((results_dir / "cache").glob("*.json"))
    assert sorted(f.stem for f in files) == sorted(serial["run_key"])
    assert all(json.loads(f.read_text())["result"]["test_mse"] > 0 for f in files)


@pytest.mark.slow
def test_joblib_backend_gives_the_serial_table(settings, serial, tmp_path):
    runs = synthetic_study.run_sweep(settings, tmp_path, progress=False, backend="joblib", n_jobs=2)
    check_same(runs, serial, tmp_path)


@pytest.mark.slow
def test_dask_backend_gives_the_serial_table(settings, serial, cluster, tmp_path):
    from distributed import Client

    by_address = synthetic_study.run_sweep(settings, tmp_path / "address", progress=False, backend="dask",
                                           scheduler=cluster.scheduler_address)
    check_same(by_address, serial, tmp_path / "address")
    with Client(cluster):  # scheduler=None: the active client
        active = synthetic_study.run_sweep(settings, tmp_path / "active", progress=False, backend="dask")
    check_same(active, serial, tmp_path / "active")
    again = synthetic_study.run_sweep(settings, tmp_path / "active", progress=False, backend="dask")
    assert again["cached"].all()  # all cached: no cluster needed, none contacted


def test_dask_without_client_or_scheduler_says_what_to_do(tmp_path):
    pytest.importorskip("distributed")
    with pytest.raises(RuntimeError, match="needs an active dask.distributed Client"):
        sweep.run_grid([{"a": 1}], lambda g: [{}], tmp_path, progress=False, backend="dask")


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(backend="ray"), ValueError, r"backend='ray' is not valid; choose one of \['serial', 'joblib', 'dask'\]"),
    (dict(backend="joblib", n_jobs=0), ValueError, r"n_jobs=0 is not valid; it must be an integer >= 1"),
    (dict(backend="joblib", n_jobs=2.5), TypeError, r"n_jobs must be an integer, got 2.5"),
    (dict(n_jobs=2), ValueError, r"n_jobs=2 applies only to backend='joblib', not backend='serial'"),
    (dict(backend="dask", scheduler=8786), TypeError, r"scheduler must be an address string .* got 8786"),
    (dict(backend="joblib", scheduler="tcp://h:8786"), ValueError,
     r"scheduler='tcp://h:8786' applies only to backend='dask', not backend='joblib'"),
])
def test_bad_backend_arguments_are_named(tmp_path, kwargs, error, message):
    with pytest.raises(error, match=message):
        sweep.run_grid([{"a": 1}], lambda g: [{}], tmp_path, progress=False, **kwargs)
    assert not list(tmp_path.iterdir())  # rejected before anything ran or was written


@pytest.mark.slow
def test_study_sweeps_pass_the_backend_through(settings, tmp_path):
    with pytest.raises(ValueError, match=r"backend='mpi' is not valid"):
        synthetic_study.run_sweep(settings, tmp_path, progress=False, backend="mpi")
