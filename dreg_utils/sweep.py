"""Grid runner: one row per run, a content-addressed cache, resume after interruption.

Each run's configuration (a JSON-able dict of content only: data fingerprints and sizes,
never paths or messages) plus its study's version (``STUDY_VERSION`` in the study's module,
bumped whenever the code its runs execute changes what a run computes:
:mod:`dreg_utils.studies.code_fingerprints` makes the tests fail until someone does, or
records that results are unchanged) is hashed into its cache key; a cache written before a
bump is ignored, so its runs are recomputed rather than silently reused. A finished run is
written to ``<cache_dir>/<key>.json`` atomically (temporary file + ``os.replace``, with the
mode the umask gives new files), so a killed sweep leaves only whole files behind and a
re-run recomputes just the configurations that have no file. Configurations that can be
trained together (e.g. the seeds of one setting, vectorised) are handed to ``run_group`` as
one list.

A record read back is used only when it is a regular file of at most
:data:`MAX_RECORD_BYTES` (never a FIFO or a device, which could block or never end), whole,
of this configuration and study version, and its result fits its study's
:class:`~dreg_utils.schema.ResultSchema` (exactly the fields a run's result holds and their
kinds, finite metrics unless the run diverged) and names none of the configuration's keys (so a
row's settings always come from its configuration); otherwise, whatever is wrong with it, the run
is recomputed, with one warning on the ``dreg_utils.sweep`` logger naming the file and the
reason, and the new record replaces whatever was at that path (the rename replaces a FIFO's
or a link's directory entry, never writing into it). A directory at a record's path is not
removed: run_grid stops before any run, naming it. A fresh result is checked against the
same schema, as it will be read back, before it is written.

Groups run in this process (``backend="serial"``), in local worker processes
(``"joblib"``: joblib's loky backend) or on a Dask cluster (``"dask"``: joblib's
dask backend on a ``dask.distributed.Client``). Whatever the backend, this process
writes every cache file as soon as its group's results arrive, so a killed sweep
loses at most the groups in flight, and the returned table is the same.

When the environment variable ``DREG_PROGRESS_FILE`` names a file, run_grid keeps it up to date
(atomically, as JSON: runs done and total, cached and trained, elapsed seconds and an estimate
of the seconds left): the book's runner reads it to show a sweep's progress from inside a
notebook's kernel.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from . import __version__
from .extras import require
from .files import atomic_write_text
from .schema import Schema
from .validation import check_choice, check_int

BACKENDS = ("serial", "joblib", "dask")
PROGRESS_ENV = "DREG_PROGRESS_FILE"  # where run_grid reports its progress, when set
STALE_TMP_SECONDS = 600.0  # a temporary cache file this old is left over from a killed writer
MAX_RECORD_BYTES = 32 * 2**20  # a cache record larger than this is not read (nor written)
RESERVED = ("run_key", "cached")  # columns run_grid adds to every row
log = logging.getLogger(__name__)


def _problem(schema: Schema, config: dict, result: object) -> str | None:
    """Why ``result`` cannot be the result of ``config``: a key that is also one of the
    configuration's (it would overwrite the run's settings in its row) or one run_grid adds,
    or it does not fit the schema of ``config``; None when it fits (or no schema)."""
    if isinstance(result, dict):
        clash = [name for name in result if name in config or name in RESERVED]
        if clash:
            return f"field {clash[0]!r:.60} is a key of the run's configuration or of run_grid's columns, not a result"
    declared = schema(config) if callable(schema) else schema
    return None if declared is None else declared.problem(result)


def config_key(config: dict, version: str = "1") -> str:
    """Stable 16-hex-digit hash of a configuration and its study's version."""
    payload = json.dumps({"config": config, "study_version": version}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def report_progress(desc: str, done: int, total: int, cached: int, started: float) -> None:
    """Write a sweep's progress to the file named by ``$DREG_PROGRESS_FILE`` (nothing when unset):
    runs ``done`` of ``total``, of which ``cached`` came from the cache, seconds since ``started``
    (a ``time.time()``) and the seconds left, ``(total - done) * elapsed / trained`` once a run
    was trained (else null)."""
    path = os.environ.get(PROGRESS_ENV)
    if not path:
        return
    elapsed = max(time.time() - started, 0.0)
    trained = done - cached
    left = (total - done) * elapsed / trained if trained > 0 else None
    record = {"desc": desc, "done": done, "total": total, "cached": cached, "trained": trained,
              "elapsed_s": round(elapsed, 1), "eta_s": None if left is None else round(left, 1),
              "updated": time.time()}
    atomic_write_text(path, json.dumps(record))


_FILE_TYPES = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
               stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}


def _file_type(mode: int) -> str:
    """What a file of ``mode`` (not a regular file) is, for a message."""
    return _FILE_TYPES.get(stat.S_IFMT(mode), "a special file")


class _Unusable(Exception):
    """A cache record that is not used; its message says why."""


def _read_record(path: Path) -> str | None:
    """The text at ``path``, None when nothing is there; :class:`_Unusable` when it is not a
    regular file (a link is followed to its target) or holds more than :data:`MAX_RECORD_BYTES`.
    A directory raises ``IsADirectoryError``: the record written later could not replace it."""
    try:
        if stat.S_ISDIR(path.lstat().st_mode):
            raise IsADirectoryError(f"cache path {path} is a directory, not a run record: move or remove it "
                                    "and run again (run_grid never deletes a directory)")
        info = path.stat()
    except FileNotFoundError:  # nothing there, or a link to nothing
        return None
    if not stat.S_ISREG(info.st_mode):
        raise _Unusable(f"{_file_type(info.st_mode)}, not a regular file")
    if info.st_size > MAX_RECORD_BYTES:
        raise _Unusable(f"{info.st_size} bytes, more than a record's {MAX_RECORD_BYTES}")
    # O_NONBLOCK: should a FIFO replace the file meanwhile, opening it does not wait for a writer
    with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise _Unusable("not a regular file")
        data = handle.read(MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        raise _Unusable(f"more than a record's {MAX_RECORD_BYTES} bytes")
    return data.decode("utf-8")


def _stored_result(text: str, config: dict, version: str, schema: Schema) -> dict:
    """The result of the record ``text``; :class:`_Unusable` when it is not the run of ``config``
    at study ``version`` with a result that fits ``schema`` (:func:`_problem`)."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise _Unusable(f"not valid JSON at character {error.pos} of {len(text)}: truncated or damaged") from None
    if not isinstance(record, dict) or not isinstance(record.get("result"), dict):
        raise _Unusable("not a run record (an object with a result object)")
    if json.dumps(record.get("config"), sort_keys=True, default=str) != \
            json.dumps(config, sort_keys=True, default=str):
        raise _Unusable("it records another configuration")
    if "study_version" not in record:
        raise _Unusable("it records no study version")
    if record["study_version"] != version:
        raise _Unusable(f"it records study version {record['study_version']!r:.40}, not {version!r}")
    problem = _problem(schema, config, record["result"])
    if problem:
        raise _Unusable(problem)
    return record["result"]


def _load_cached(path: Path, config: dict, version: str, schema: Schema) -> dict | None:
    """The result stored for ``config`` at ``path``; None (the run is redone) when the file is
    missing, or, with one warning naming the file and the reason, when it is not a regular file
    or too large, unreadable, not a record, records another configuration or study version (or
    none), or its result does not fit ``schema`` or names a key of ``config``: whatever fails
    while it is read and checked, it is a bad record, never an error of the sweep. A directory
    at ``path`` raises ``IsADirectoryError`` naming it."""
    try:
        text = _read_record(path)
        return None if text is None else _stored_result(text, config, version, schema)
    except IsADirectoryError:
        raise
    except _Unusable as error:
        return _reject(path, str(error))
    except (OSError, UnicodeDecodeError) as error:
        return _reject(path, f"unreadable ({type(error).__name__})")
    except RecursionError:
        return _reject(path, "nested too deeply")
    except Exception as error:  # noqa: BLE001 - whatever a crafted record makes fail: a bad record
        return _reject(path, f"not a valid record ({type(error).__name__}: {str(error)[:80]})")


def _reject(path: Path, reason: str) -> None:
    """Log (one line) that the cache file at ``path`` is not used, and why."""
    log.warning("cache file %s is not used (%s); its run is recomputed", path, reason)
    return None


def remove_stale_temp_files(cache_dir: str | Path, older_than: float = STALE_TMP_SECONDS) -> list[Path]:
    """Delete temporary cache files (``.<key>.json.*.tmp``) last modified more than
    ``older_than`` seconds ago, i.e. left by a writer killed mid-write; return them.

    Younger ones may belong to a sweep writing into the same directory right now.
    They are never read as results either way: only ``<key>.json`` files are.
    """
    removed = []
    now = time.time()
    for tmp in Path(cache_dir).glob(".*.json.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:
            pass  # its writer finished (or another sweep removed it) meanwhile
    return removed


def check_backend(backend: str, n_jobs: int | None, scheduler: str | None) -> None:
    """Check run_grid's backend arguments; raise naming the bad value and what is valid."""
    check_choice("backend", backend, BACKENDS)
    if n_jobs is not None:
        check_int("n_jobs", n_jobs, minimum=1)
        if backend != "joblib":
            aside = " (a Dask cluster runs as many tasks as its workers have threads)"
            raise ValueError(f"n_jobs={n_jobs!r} applies only to backend='joblib', not "
                             f"backend={backend!r}{aside if backend == 'dask' else ''}")
    if scheduler is not None:
        if not isinstance(scheduler, str):
            raise TypeError(f"scheduler must be an address string such as 'tcp://host:8786' "
                            f"or None, got {scheduler!r}")
        if backend != "dask":
            raise ValueError(f"scheduler={scheduler!r} applies only to backend='dask', "
                             f"not backend={backend!r}")


def local_backend(n_jobs: int) -> tuple[str, int | None]:
    """(backend, n_jobs) for ``n_jobs`` local processes: this process when it is 1, else joblib."""
    return ("serial", None) if n_jobs == 1 else ("joblib", n_jobs)


def _run_task(run_group: Callable[[list[dict]], list[dict]], position: int,
              group: list[dict]) -> tuple[int, list[dict]]:
    """Worker side: run one group with torch on one thread; return its position and results."""
    import torch

    torch.set_num_threads(1)
    return position, run_group(group)


@contextmanager
def _dask_client(scheduler: str | None) -> Iterator:
    """A client connected to ``scheduler`` (closed afterwards), or the active client if None."""
    distributed = require("distributed", "dask", "backend='dask'")
    Client, default_client = distributed.Client, distributed.default_client

    if scheduler is not None:
        with Client(scheduler, set_as_default=False) as client:
            yield client
        return
    try:
        client = default_client()
    except ValueError:
        raise RuntimeError("backend='dask' with scheduler=None needs an active dask.distributed "
                           "Client: create one first (Client('tcp://host:8786') or "
                           "Client(LocalCluster())), or pass scheduler='tcp://host:8786'") from None
    yield client


def _finished_groups(groups: list[list[dict]], run_group: Callable[[list[dict]], list[dict]],
                     backend: str, n_jobs: int | None,
                     scheduler: str | None) -> Iterator[tuple[int, list[dict]]]:
    """Yield ``(position in groups, results)`` as each group finishes: in order for
    "serial", in completion order for the parallel backends (one task per group)."""
    if not groups:
        return  # all cached: no workers needed
    if backend == "serial":
        for position, group in enumerate(groups):
            yield position, run_group(group)
        return
    from joblib import Parallel, delayed, parallel_config

    tasks = (delayed(_run_task)(run_group, position, group) for position, group in enumerate(groups))
    if backend == "joblib":
        yield from Parallel(n_jobs=-1 if n_jobs is None else n_jobs, backend="loky", batch_size=1,
                            return_as="generator_unordered")(tasks)
        return
    with _dask_client(scheduler) as client, parallel_config(backend="dask", client=client):
        yield from Parallel(batch_size=1, return_as="generator_unordered")(tasks)


def run_grid(
    configs: list[dict],
    run_group: Callable[[list[dict]], list[dict]],
    cache_dir: str | Path,
    group_key: Callable[[dict], Hashable] | None = None,
    progress: bool = True,
    desc: str = "runs",
    backend: str = "serial",
    n_jobs: int | None = None,
    scheduler: str | None = None,
    version: str = "1",
    schema: Schema = None,
) -> pd.DataFrame:
    """Run every configuration not yet cached and return all rows as a DataFrame.

    ``run_group(configs) -> results`` receives configurations with equal
    ``group_key(config)`` (each alone when ``group_key`` is None) and returns one
    result dict per configuration, in order. Rows are ``{**config, **result,
    "run_key": key, "cached": bool}``, in the order of ``configs``.

    ``backend`` is "serial" (this process), "joblib" (``n_jobs`` loky worker
    processes, default all cores) or "dask" (the cluster at ``scheduler``, e.g.
    "tcp://host:8786", or the active ``dask.distributed.Client`` when None).
    Workers run torch on one thread; ``run_group`` must be picklable by cloudpickle
    (lambdas and closures are). This process writes the cache files. ``version`` is the
    study's version, part of every cache key. ``schema`` (a :class:`ResultSchema`, or a
    function giving a configuration's) is what every result must fit, and no result holds a
    key of its configuration (nor ``run_key`` or ``cached``): a cached record that does not
    is recomputed (one warning), a fresh result that does not raises ``RuntimeError``. A
    directory where a record belongs raises ``IsADirectoryError`` before any run.
    """
    check_backend(backend, n_jobs, scheduler)
    keys = [config_key(c, version) for c in configs]
    if len(set(keys)) != len(keys):
        raise ValueError("run_grid got duplicate configurations; each run must be distinct")
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(cache_dir)
    results: dict[str, dict] = {}
    cached: set[str] = set()
    for config, key in zip(configs, keys):
        stored = _load_cached(cache_dir / f"{key}.json", config, version, schema)
        if stored is not None:
            results[key] = stored
            cached.add(key)
    todo: dict[Hashable, list[int]] = {}
    for i, (config, key) in enumerate(zip(configs, keys)):
        if key not in results:
            todo.setdefault(group_key(config) if group_key else i, []).append(i)
    groups = list(todo.values())
    started, done = time.time(), len(cached)
    report_progress(desc, done, len(configs), len(cached), started)
    finished = _finished_groups([[configs[i] for i in indices] for indices in groups],
                                run_group, backend, n_jobs, scheduler)
    with tqdm(total=len(configs), initial=len(cached), desc=desc, disable=not progress) as bar, \
            closing(finished):  # on an error, stop the workers and release the cluster at once
        for position, outputs in finished:
            indices = groups[position]
            if len(outputs) != len(indices):
                raise RuntimeError(f"run_group returned {len(outputs)} results for {len(indices)} configs")
            for i, output in zip(indices, outputs):
                text = json.dumps({"config": configs[i], "result": output, "study_version": version,
                                   "dreg_utils": __version__}, default=str)
                problem = _problem(schema, configs[i], json.loads(text)["result"])  # as it will be read
                if len(text.encode()) > MAX_RECORD_BYTES:
                    problem = f"its record would take more than {MAX_RECORD_BYTES} bytes"
                if problem:
                    raise RuntimeError(f"run_group's result for {configs[i]} does not fit the study's "
                                       f"result schema: {problem}")
                atomic_write_text(cache_dir / f"{keys[i]}.json", text)
                results[keys[i]] = output
            bar.update(len(indices))
            done += len(indices)
            report_progress(desc, done, len(configs), len(cached), started)
    rows = [{**c, **results[k], "run_key": k, "cached": k in cached} for c, k in zip(configs, keys)]
    return pd.DataFrame(rows)
