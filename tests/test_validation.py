"""Bad parameters stop with a message naming the bad value and what is valid."""
import re

import numpy as np
import pytest
import torch

from dreg_utils import metrics, penalties, validation
from dreg_utils.activations import Poly, make_activation
from dreg_utils.data.synthetic import make_family, target_function
from dreg_utils.models import CompactMLP
from dreg_utils.train import fit
from dreg_utils.device import resolve_device

X, Y = torch.zeros(8, 3), torch.zeros(8, 1)


def model(**kwargs):
    return CompactMLP(3, (4,), 1, **kwargs)


def fit_with(**kwargs):
    options = dict(device="cpu", epochs=1)
    options.update(kwargs)
    net = options.pop("net", None) or model()
    return fit(net, X, Y, **options)


CASES = [
    # (id, call, exception, message pattern)
    ("unknown family", lambda: make_family("wavy"), ValueError,
     r"family='wavy' is not valid; choose one of \['smooth', 'piecewise', 'sparse', 'oscillatory', 'entangled'\]"),
    ("unknown family (target)", lambda: target_function("noisy", 3, np.random.default_rng(0)), ValueError,
     r"family='noisy' is not valid; choose one of \[.*'entangled'\]"),
    ("n_train=0", lambda: make_family("smooth", n_train=0), ValueError, r"n_train=0 is not valid; it must be an integer >= 1"),
    ("d=0", lambda: make_family("smooth", d=0), ValueError, r"d=0 is not valid; it must be an integer >= 1"),
    ("negative noise", lambda: make_family("smooth", noise=-0.1), ValueError, r"noise=-0.1 is not valid; it must be >= 0"),
    ("negative seed", lambda: make_family("smooth", seed=-1), ValueError, r"seed=-1 is not valid; it must be an integer >= 0"),
    ("float seed", lambda: make_family("smooth", seed=1.5), TypeError, r"seed must be an integer, got 1.5"),
    ("unknown activation", lambda: model(activation="gelu"), ValueError,
     r"activation='gelu' is not valid; choose one of \['relu', 'poly', 'tanh'\]"),
    ("unknown activation (make)", lambda: make_activation("gelu"), ValueError, r"activation='gelu' is not valid"),
    ("empty hidden", lambda: CompactMLP(3, (), 1), ValueError, r"hidden must be a non-empty list, got \(\)"),
    ("scalar hidden", lambda: CompactMLP(3, 4, 1), TypeError, r"hidden must be a non-empty list, got 4"),
    ("string hidden", lambda: CompactMLP(3, "32", 1), TypeError, r"hidden must be a non-empty list, got '32'"),
    ("float width", lambda: CompactMLP(3, (4, 2.5), 1), TypeError, r"hidden\[1\] must be an integer, got 2.5"),
    ("bool width", lambda: CompactMLP(3, (True,), 1), TypeError, r"hidden\[0\] must be an integer, got True"),
    ("zero width", lambda: CompactMLP(3, (4, 0), 1), ValueError, r"hidden\[1\]=0 is not valid; it must be an integer >= 1"),
    ("in_features=0", lambda: CompactMLP(0, (4,), 1), ValueError, r"in_features=0 is not valid"),
    ("out_features float", lambda: CompactMLP(3, (4,), 1.0), TypeError, r"out_features must be an integer, got 1.0"),
    ("negative model seed", lambda: CompactMLP.seeded(-3, 3, (4,), 1), ValueError, r"seed=-3 is not valid"),
    ("NaN poly coefficient", lambda: Poly(c1=float("nan")), ValueError, r"c1=nan is not valid; it must be finite"),
    ("unknown method", lambda: fit_with(method="l1"), ValueError,
     r"method='l1' is not valid; choose one of \['base', 'dreg', 'igp', 'sn', 'sn_hidden', 'sn_scaled', 'jacobian', "
     r"'jacobian_rp'\]"),
    ("unknown task", lambda: fit_with(task="ranking"), ValueError,
     r"task='ranking' is not valid; choose one of \['regression', 'classification'\]"),
    ("unknown device", lambda: fit_with(device="tpu"), ValueError,
     r"device='tpu' is not valid; choose one of \['auto', 'cpu', 'cuda'\]"),
    ("unknown device (resolve)", lambda: resolve_device("mps"), ValueError, r"device='mps' is not valid"),
    ("negative lam", lambda: fit_with(method="dreg", lam=-1), ValueError, r"lam=-1.0 is not valid; it must be >= 0"),
    ("NaN lam", lambda: fit_with(method="dreg", lam=float("nan")), ValueError, r"lam=nan is not valid; it must be finite"),
    ("inf lam", lambda: fit_with(method="dreg", lam=float("inf")), ValueError, r"lam=inf is not valid; it must be finite"),
    ("string lam", lambda: fit_with(method="dreg", lam="big"), TypeError, r"lam must be a real number, got 'big'"),
    ("epochs=0", lambda: fit_with(epochs=0), ValueError, r"epochs=0 is not valid; it must be an integer >= 1"),
    ("float epochs", lambda: fit_with(epochs=2.0), TypeError, r"epochs must be an integer, got 2.0"),
    ("batch_size=0", lambda: fit_with(batch_size=0), ValueError, r"batch_size=0 is not valid"),
    ("lr=0", lambda: fit_with(lr=0.0), ValueError, r"lr=0.0 is not valid; it must be > 0"),
    ("negative weight decay", lambda: fit_with(weight_decay=-1e-3), ValueError, r"weight_decay=-0.001 is not valid"),
    ("n_projections=0", lambda: fit_with(method="jacobian_rp", n_projections=0), ValueError,
     r"n_projections=0 is not valid; it must be an integer >= 1"),
    ("sn on plain model", lambda: fit_with(method="sn"), ValueError, r"method='sn' with spectral_norm=False"),
    ("row mismatch", lambda: fit(model(), X, Y[:5], device="cpu"), ValueError,
     r"y_train must be a tensor with one row per row of x_train \(8\), got torch.Size\(\[5, 1\]\)"),
    ("unknown loss (norms)", lambda: metrics.input_gradient_norms(model(), X, Y, loss="hinge"), ValueError,
     r"loss='hinge' is not valid; choose one of \['mse', 'ce'\]"),
    ("batch_size=0 (norms)", lambda: metrics.input_gradient_norms(model(), X, batch_size=0), ValueError,
     r"batch_size=0 is not valid"),
    ("empty tail_stats", lambda: metrics.tail_stats([]), ValueError, r"at least one value"),
    ("NaN tail_stats", lambda: metrics.tail_stats([1.0, float("nan")]), ValueError, r"non-finite values"),
    ("one seed", lambda: metrics.seed_stability([0.5]), ValueError, r"at least 2 seeds, got 1"),
    ("eps<0", lambda: metrics.local_linearity_error(model(), X, eps=-0.01), ValueError,
     r"eps=-0.01 is not valid; it must be > 0"),
    ("projections=0 (penalty)", lambda: penalties.jacobian_penalty(model(), X, n_projections=0), ValueError,
     r"n_projections=0 is not valid"),
    ("relu fast gradient on poly", lambda: penalties.add_relu_dreg_gradient_(
        model(activation="poly"), model(activation="poly").trace(X), 1.0), ValueError,
     r"needs a ReLU CompactMLP without spectral_norm"),
]


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_parameters(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_check_choice_and_choices():
    assert validation.check_choice("x", "a", ("a", "b")) == "a"
    assert validation.check_choices("xs", ("a", "b", "a"), ["a", "b"]) == ["a", "b", "a"]
    with pytest.raises(ValueError, match=re.escape("xs contains ['c'], which is not valid; choose from ['a', 'b']")):
        validation.check_choices("xs", ["a", "c"], ["a", "b"])
    with pytest.raises(ValueError, match="xs must be a non-empty list"):
        validation.check_choices("xs", [], ["a"])


def test_check_int_and_float_accept_numpy_scalars():
    assert validation.check_int("n", np.int64(3), minimum=1) == 3
    assert type(validation.check_int("n", np.int64(3))) is int
    assert validation.check_float("x", np.float32(0.5)) == 0.5
    assert validation.check_float("x", 2) == 2.0
    assert validation.check_float("x", 1.0, maximum=1.0) == 1.0
    with pytest.raises(ValueError, match=r"x=1.5 is not valid; it must be <= 1.0"):
        validation.check_float("x", 1.5, maximum=1.0)
    with pytest.raises(TypeError, match=r"x must be a real number, got True"):
        validation.check_float("x", True)
    assert validation.check_hidden("hidden", [np.int64(4), 2]) == (4, 2)
