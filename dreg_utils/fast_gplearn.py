"""gplearn 0.4.3 with two per-program overheads removed; every fitted program is unchanged.

A gplearn fit at its default budget (1000 programs x 20 generations) spends about two thirds
of its time on two pieces of bookkeeping per program, not on evolving or evaluating formulas:

* ``_Program.get_all_indices`` saves a copy of the program's random state (624 words), then
  copies it into NumPy's *global* generator and draws the out-of-bag sample, even when every
  sample is used (``max_samples=1.0``, gplearn's default and ours), where the answer is all
  indices and no out-of-bag ones whatever the state;
* ``_parallel_evolve`` builds a new ``numpy.random.RandomState(seed)`` for every program
  (about 60 us each, almost all of it constructing the bit generator), used only while that
  program is made.

:func:`fit` replaces both for the duration of one fit: the first returns the same
indices without the round trip (and no longer overwrites NumPy's global generator), the
second re-seeds one generator per thread, which yields the same stream because a program's
generator is never used after the next program's is made. ``tests/test_symbolic.py`` checks
that fits with and without it give identical programs, fitness histories and predictions;
``benchmarks/bench_gplearn.py`` measures the gain.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
from gplearn import genetic
from gplearn._program import _Program

_ORIGINAL_INDICES = _Program.get_all_indices
_ORIGINAL_CHECK = genetic.check_random_state
_per_thread = threading.local()
_NO_INDICES = np.empty(0, dtype=np.int64)
_ANY_STATE = np.random.RandomState(0).get_state()  # valid for set_state; unused: no out-of-bag draw


def _all_indices(self: _Program, n_samples=None, max_samples=None, random_state=None):
    """gplearn's ``get_all_indices``; when every sample is used, (all indices, none) at once."""
    if n_samples is not None and self._n_samples is None:
        self._n_samples = n_samples
    if max_samples is not None and self._max_samples is None:
        self._max_samples = max_samples
    if self._n_samples is None or self._max_samples != self._n_samples:
        return _ORIGINAL_INDICES(self, n_samples, max_samples, random_state)
    if self._indices_state is None:
        if random_state is None:
            raise ValueError("The program has not been evaluated for fitness yet, indices not available.")
        self._indices_state = _ANY_STATE
    return np.arange(self._n_samples, dtype=np.int64), _NO_INDICES


def _reseeded(seed):
    """``check_random_state`` for the per-program seeds (NumPy integers): this thread's one
    generator re-seeded, the stream of ``RandomState(seed)``; any other argument as gplearn."""
    if not isinstance(seed, np.integer):
        return _ORIGINAL_CHECK(seed)
    generator = getattr(_per_thread, "generator", None)
    if generator is None:
        generator = _per_thread.generator = np.random.RandomState(0)
    generator.seed(seed)
    return generator


@contextlib.contextmanager
def _patched() -> Iterator[None]:
    previous = (_Program.get_all_indices, genetic.check_random_state)
    _Program.get_all_indices, genetic.check_random_state = _all_indices, _reseeded
    try:
        yield
    finally:
        _Program.get_all_indices, genetic.check_random_state = previous


def fit(estimator: genetic.BaseSymbolic, x: np.ndarray, y: np.ndarray) -> genetic.BaseSymbolic:
    """``estimator.fit(x, y)`` without the two overheads above (same programs, same results).

    A NumPy-integer ``random_state`` is passed on as a Python int (the same stream): the
    re-seeded generator serves only the per-program seeds, which gplearn draws as NumPy integers."""
    if isinstance(estimator.random_state, np.integer):
        estimator.set_params(random_state=int(estimator.random_state))
    with _patched():
        return estimator.fit(x, y)
