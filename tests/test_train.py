"""The fit loop: every method trains, seeding is exact, the NaN guard, device choice."""
import math

import pytest
import torch

from dreg_utils import penalties
from dreg_utils.data.synthetic import make_family
from dreg_utils.models import CompactMLP, spectral_norm_options
from dreg_utils.train import METHODS, FitResult, evaluate, fit, task_loss
from dreg_utils.device import resolve_device


@pytest.fixture(scope="module")
def data():
    return make_family("smooth", n_train=256, n_val=64, n_test=64, seed=0)


def train(data, method="base", activation="relu", seed=0, hidden=(16, 16), **kwargs):
    model = CompactMLP.seeded(seed, 10, hidden, 1, activation=activation, **spectral_norm_options(method))
    options = dict(method=method, epochs=3, lr=1e-2, batch_size=64, seed=seed, device="cpu")
    options.update(kwargs)
    return fit(model, data.x_train, data.y_train, data.x_val, data.y_val, **options)


CASES = [("base", "relu", 0.0), ("dreg", "relu", 1e-2), ("dreg", "poly", 1e-2), ("igp", "relu", 1e-2),
         ("sn", "relu", 0.0), ("sn_hidden", "relu", 0.0), ("sn_scaled", "poly", 0.0), ("jacobian", "poly", 1e-2),
         ("jacobian_rp", "relu", 1e-2)]


def test_cases_cover_every_method():
    assert {m for m, _, _ in CASES} == set(METHODS)


@pytest.mark.parametrize("method, activation, lam", CASES)
def test_each_method_lowers_training_loss(data, method, activation, lam):
    model = CompactMLP.seeded(0, 10, (16, 16), 1, activation=activation, **spectral_norm_options(method))
    before = evaluate(model, data.x_train, data.y_train, "regression")["loss"]
    result = fit(model, data.x_train, data.y_train, data.x_val, data.y_val, method=method, lam=lam,
                 epochs=3, lr=1e-2, seed=0, device="cpu", n_projections=2)
    assert isinstance(result, FitResult) and result.model is model
    assert not result.diverged and result.diverged_reason is None
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    assert set(result.history[0]) == {"epoch", "train_task_loss", "val_loss"}
    losses = [row["train_task_loss"] for row in result.history]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]
    after = evaluate(model, data.x_train, data.y_train, "regression")["loss"]
    assert after < before
    assert result.seconds > 0


def test_classification_reports_accuracy():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 4, generator=gen)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = CompactMLP.seeded(0, 4, (8,), 2)
    result = fit(model, x, y, x, y, task="classification", method="igp", lam=1e-3, epochs=4, lr=2e-2,
                 device="cpu")
    assert set(result.history[-1]) == {"epoch", "train_task_loss", "val_loss", "val_accuracy"}
    assert result.history[-1]["train_task_loss"] < result.history[0]["train_task_loss"]
    assert result.history[-1]["val_accuracy"] > 0.8
    # evaluate's loss is the plain cross-entropy and accuracy the argmax hit rate
    with torch.no_grad():
        out = model(x)
    metrics = evaluate(model, x, y, "classification", batch_size=64)
    assert metrics["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(out, y)), rel=1e-5)
    assert metrics["accuracy"] == pytest.approx(float((out.argmax(1) == y).double().mean()))


def test_no_validation_data(data):
    model = CompactMLP.seeded(0, 10, (8,), 1)
    result = fit(model, data.x_train, data.y_train, epochs=2, device="cpu")
    assert set(result.history[0]) == {"epoch", "train_task_loss"}


@pytest.mark.parametrize("method, activation", [("base", "relu"), ("dreg", "relu"), ("dreg", "poly"),
                                                ("sn", "relu"), ("jacobian_rp", "poly")])
def test_seed_gives_bit_identical_results(data, method, activation):
    runs = [train(data, method, activation, seed=s, lam=1e-2, epochs=2) for s in (5, 5, 6)]
    a, b, c = runs
    assert a.history == b.history
    for pa, pb in zip(a.model.state_dict().values(), b.model.state_dict().values()):
        assert torch.equal(pa, pb)
    assert a.history != c.history
    assert not torch.equal(a.model.layers[0].weight, c.model.layers[0].weight)


def test_nan_guard_marks_divergence(data):
    result = train(data, "base", "poly", lr=1e6, epochs=5)
    assert result.diverged
    assert "non-finite" in result.diverged_reason and f"epoch {result.diverged_epoch}" in result.diverged_reason
    assert 1 <= result.diverged_epoch <= 5
    assert len(result.history) == result.diverged_epoch - 1
    assert all(math.isfinite(row["train_task_loss"]) for row in result.history)


@pytest.mark.parametrize("activation", ["relu", "poly"])
def test_dreg_lowers_the_cr_penalty(data, activation):
    plain = train(data, "dreg", activation, lam=0.0, epochs=3)
    regularised = train(data, "dreg", activation, lam=0.5, epochs=3)
    with torch.no_grad():
        cr_plain = float(penalties.dreg_penalty(plain.model, data.x_train))
        cr_reg = float(penalties.dreg_penalty(regularised.model, data.x_train))
    assert cr_reg < 0.9 * cr_plain


def test_dreg_lam_zero_equals_base(data):
    """lam = 0 adds nothing: dreg and base runs with one seed are identical."""
    base, dreg = train(data, "base", epochs=2), train(data, "dreg", lam=0.0, epochs=2)
    assert base.history == dreg.history


def test_sn_method_and_model_must_agree(data):
    plain = CompactMLP(10, (8,), 1)
    normalised = CompactMLP(10, (8,), 1, spectral_norm=True)
    with pytest.raises(ValueError, match=r"method='sn' with spectral_norm=False"):
        fit(plain, data.x_train, data.y_train, method="sn", device="cpu")
    for method in ("base", "dreg"):
        with pytest.raises(ValueError, match=rf"method='{method}' with spectral_norm=True"):
            fit(normalised, data.x_train, data.y_train, method=method, device="cpu")


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device().type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_resolve_device_cuda_unavailable():
    with pytest.raises(ValueError, match=r"device='cuda' was requested but CUDA is not available"):
        resolve_device("cuda")


def test_task_loss():
    out, y = torch.randn(5, 3), torch.randn(5, 3)
    assert torch.equal(task_loss(out, y, "regression"), torch.nn.functional.mse_loss(out, y))
    labels = torch.tensor([0, 2, 1, 1, 0])
    assert torch.equal(task_loss(out, labels, "classification"), torch.nn.functional.cross_entropy(out, labels))


def test_fit_reads_a_flat_target_of_a_one_output_model_as_a_column():
    """(n,) against an (n, 1) output would broadcast to an (n, n) loss and train to a constant."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=gen)
    y = x[:, 0] * 2.0 - x[:, 1]
    flat, column = (CompactMLP.seeded(0, 3, (8,), 1) for _ in range(2))
    fit(flat, x, y, epochs=3, batch_size=16, lr=1e-2, device="cpu")
    fit(column, x, y[:, None], epochs=3, batch_size=16, lr=1e-2, device="cpu")
    for a, b in zip(flat.parameters(), column.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("y_shape, task, pattern", [
    ((64, 2), "regression", r"y_train has shape \(64, 2\) but the model has 1 output\(s\): .*\(64, 1\)"),
    ((64, 1), "classification", r"y_train must hold one class index per row, shape \(64,\), got shape \(64, 1\)"),
])
def test_fit_refuses_targets_of_another_shape(y_shape, task, pattern):
    x = torch.randn(64, 3)
    y = torch.zeros(y_shape) if task == "regression" else torch.zeros(y_shape, dtype=torch.long)
    with pytest.raises(ValueError, match=pattern):
        fit(CompactMLP.seeded(0, 3, (8,), 1), x, y, task=task, epochs=1, device="cpu")


@pytest.mark.parametrize("x_train, y_train, x_val, y_val, pattern", [
    (torch.zeros(0, 3), torch.zeros(0, 1), None, None,
     r"x_train has no rows \(shape \(0, 3\)\); give at least one sample"),
    (torch.zeros(8, 3), torch.zeros(8, 1), torch.zeros(0, 3), torch.zeros(0, 1),
     r"x_val has no rows \(shape \(0, 3\)\); give at least one sample"),
    (torch.zeros(8, 3), torch.tensor([[0.0]] * 7 + [[float("nan")]]), None, None,
     r"y_train contains non-finite values \(NaN or inf\); targets must be finite"),
    (torch.zeros(8, 3), torch.zeros(8, 1), torch.zeros(4, 3), torch.full((4, 1), float("inf")),
     r"y_val contains non-finite values \(NaN or inf\); targets must be finite"),
])
def test_fit_refuses_empty_data_and_non_finite_targets(x_train, y_train, x_val, y_val, pattern):
    """Before: an empty training set was reported as "diverged ... a replay of the epoch did not
    reproduce the failing step", and NaN targets as a divergence at step 1."""
    with pytest.raises(ValueError, match=pattern):
        fit(CompactMLP.seeded(0, 3, (4,), 1), x_train, y_train, x_val, y_val, epochs=1, device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_fit_refuses_a_cuda_torch_device_without_cuda():
    """Before: "AssertionError: Torch not compiled with CUDA enabled" from inside model.to."""
    with pytest.raises(ValueError, match=r"device='cuda' was requested but CUDA is not available; use 'auto' or 'cpu'"):
        fit(CompactMLP.seeded(0, 3, (4,), 1), torch.zeros(8, 3), torch.zeros(8, 1), device=torch.device("cuda"))
    with pytest.raises(ValueError, match=r"device='cuda:1' was requested but CUDA is not available"):
        resolve_device(torch.device("cuda", 1))
