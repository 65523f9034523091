"""train.make_step (the step fit runs and the benchmark times) and the graph-free DREG gradient.

The fast DREG path (penalties.dreg_forward: closed-form weight terms, analytic poly
backward) must give the gradient of task_loss + lam * dreg_penalty, computed here by
autograd of the penalty and, independently, by torch.func on jacrev Jacobians (float64).
"""
import copy
import pytest
import torch
from torch.func import grad
from torch.nn import functional as F

import reference as ref
from dreg_utils import penalties
from dreg_utils.jacobians import jacobian_sq_frobenius, loss_gradient_sq, projected_jacobian_sq
from dreg_utils.models import CompactMLP, spectral_norm_options
from dreg_utils.train import METHODS, fit, make_step, task_loss

SHAPES = [(3, (5,), 1), (6, (7, 4), 3), (4, (8, 3, 6), 2), (784, (32, 16), 10)]
TASKS = {"regression": "mse", "classification": "ce"}


def make_model(seed, d, hidden, k, activation, spread=1.5, **kwargs):
    """A CompactMLP with weights scaled so that units sit on both sides of the ReLU kink."""
    model = CompactMLP.seeded(seed, d, hidden, k, activation=activation, **kwargs)
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.mul_(spread)
            layer.bias.mul_(spread)
    return model


def make_batch(seed, n, d, k, task):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen)
    y = torch.randint(0, k, (n,), generator=gen) if task == "classification" else torch.randn(n, k, generator=gen)
    return x, y


def reference_grads(model, x, y, task, lam):
    """Gradients of task_loss + lam * dreg_penalty by plain autograd."""
    model.zero_grad(set_to_none=True)
    trace = model.trace(x)
    (task_loss(trace.output, y, task) + lam * penalties.dreg_penalty(model, trace=trace)).backward()
    return {name: p.grad.clone() if p.grad is not None else torch.zeros_like(p)
            for name, p in model.named_parameters()}


def fast_grads(model, x, y, task, lam):
    model.zero_grad(set_to_none=True)
    output, finish = penalties.dreg_forward(model, x, lam)
    task_loss(output, y, task).backward()
    finish()
    return {name: p.grad.clone() if p.grad is not None else torch.zeros_like(p)
            for name, p in model.named_parameters()}


def assert_grads_close(got, expected, rtol=1e-10, atol=1e-13):
    assert got.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=rtol, atol=atol, msg=name)


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("activation", ["relu", "poly"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("lam", [0.0, 1e-3, 0.7, 5.0])
def test_dreg_forward_gradient_equals_autograd_of_penalty(activation, shape, task, lam):
    d, hidden, k = shape
    model = make_model(1, d, hidden, k, activation)
    x, y = make_batch(2, 37, d, k, task)
    if activation == "relu":
        z = model.trace(x).preactivations[0]
        assert ((z > 0).float().mean(0) % 1 != 0).any()  # some units active on part of the batch only
    assert_grads_close(fast_grads(model, x, y, task, lam), reference_grads(model, x, y, task, lam))


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("activation", ["relu", "poly"])
def test_dreg_forward_gradient_matches_jacrev(activation):
    """Independently of dreg_penalty: torch.func.grad of task + lam * mean_l E_b ||J^(l)||_F^2 (jacrev)."""
    model = make_model(4, 5, (9, 6, 4), 3, activation)
    x, y = make_batch(5, 29, 5, 3, "regression")
    lam = 0.9
    params = ref.named_params(model)

    def objective(p):
        plist = ref.params_list(model, p)
        out, _ = ref.forward(model, x, plist)
        cr = ref.layer_jacobian_sq(model, x, plist).mean(dim=0).mean()
        return F.mse_loss(out, y) + lam * cr

    expected = grad(objective)(params)
    got = fast_grads(model, x, y, "regression", lam)
    assert_grads_close({n: got[n] for n in expected}, expected)


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("task", list(TASKS))
def test_dreg_forward_trainable_poly_coefficients(task):
    """Trainable c1, c2 get the task's and the penalty's gradient (the penalty depends on them via phi')."""
    model = make_model(6, 4, (7, 5), 3, "poly", trainable_poly=True)
    with torch.no_grad():  # distinct coefficients per layer
        model.activations[0].coefficients.copy_(torch.tensor([0.8, 0.3]))
        model.activations[1].coefficients.copy_(torch.tensor([1.2, -0.2]))
    x, y = make_batch(7, 31, 4, 3, task)
    expected = reference_grads(model, x, y, task, 0.6)
    assert expected["activations.0.coefficients"].abs().min() > 0
    assert_grads_close(fast_grads(model, x, y, task, 0.6), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("activation", ["relu", "poly"])
def test_dreg_forward_output_is_the_model_output(dtype, activation):
    model = make_model(8, 6, (10, 7), 2, activation).to(dtype)
    x = torch.randn(16, 6, dtype=dtype, generator=torch.Generator().manual_seed(0))
    output, _ = penalties.dreg_forward(model, x, 0.5)
    assert torch.equal(output, model(x))


@pytest.mark.usefixtures("float64")
def test_dreg_forward_finish_adds_the_weight_terms():
    """Without finish() only the pre-activation part is there; finish() adds (2 lam / L) E_b[phi'^2] W."""
    model = make_model(9, 3, (6,), 2, "poly")
    x, y = make_batch(1, 20, 3, 2, "regression")
    output, finish = penalties.dreg_forward(model, x, 0.4)
    task_loss(output, y, "regression").backward()
    before = model.layers[1].weight.grad.clone()
    finish()
    torch.testing.assert_close(model.layers[1].weight.grad - before, 2 * 0.4 * model.layers[1].weight / 2)


def test_dreg_forward_rejects_spectral_norm():
    model = CompactMLP(3, (4,), 1, spectral_norm=True)
    with pytest.raises(ValueError, match="without spectral_norm"):
        penalties.dreg_forward(model, torch.randn(5, 3), 1.0)


# ---------------------------------------------------------------------------
# make_step: the step of every method


def expected_step_grads(model, method, x, y, task, lam, generator=None):
    """Gradients of each method's training objective, written out with the public helpers."""
    loss = TASKS[task]
    model.zero_grad(set_to_none=True)
    if method == "dreg":
        trace = model.trace(x)
        total = task_loss(trace.output, y, task) + lam * penalties.dreg_penalty(model, trace=trace)
    elif method == "igp":
        sq, losses = loss_gradient_sq(model, x, y, loss, create_graph=True)
        total = losses.mean() + lam * sq.mean()
    elif method == "jacobian":
        sq, out = jacobian_sq_frobenius(model, x, create_graph=True)
        total = task_loss(out, y, task) + lam * sq.mean()
    elif method == "jacobian_rp":
        sq, out = projected_jacobian_sq(model, x, 2, generator, create_graph=True, distribution="gaussian")
        total = task_loss(out, y, task) + lam * sq.mean()
    else:
        total = task_loss(model(x), y, task)
    total.backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("activation", ["relu", "poly", "tanh"])
@pytest.mark.parametrize("task", list(TASKS))
def test_make_step_gradient_and_return_value(method, activation, task):
    """With lr = 0 the step leaves the weights alone and its .grad is the method's objective gradient."""
    k = 3
    x, y = make_batch(3, 24, 5, k, task)
    lam = 0.25
    models = [make_model(2, 5, (6, 4), k, activation, **spectral_norm_options(method)) for _ in range(2)]
    expected = expected_step_grads(models[0], method, x, y, task, lam, torch.Generator().manual_seed(11))
    model = models[1]
    weights = [p.detach().clone() for p in model.parameters()]
    before = copy.deepcopy(model)  # SN: its forward steps the power iteration from the same (u, v)
    step = make_step(model, torch.optim.SGD(model.parameters(), lr=0.0), method, lam, task,
                     n_projections=2, generator=torch.Generator().manual_seed(11))
    value = step(x, y)
    assert not value.requires_grad and value.shape == ()
    with torch.no_grad():
        torch.testing.assert_close(value, task_loss(before(x), y, task), rtol=1e-12, atol=0)
    for p, w, g in zip(model.parameters(), weights, expected):
        assert torch.equal(p, w)
        torch.testing.assert_close(p.grad, g, rtol=1e-10, atol=1e-13)


def test_make_step_zeroes_gradients_and_steps():
    """Each call starts from fresh gradients (no accumulation) and moves the weights."""
    model = CompactMLP.seeded(0, 4, (5,), 1)
    x, y = make_batch(0, 16, 4, 1, "regression")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    step = make_step(model, optimizer, "dreg", 0.5)
    step(x, y)
    first = [p.grad.clone() for p in model.parameters()]
    step(x, y)
    for p, g in zip(model.parameters(), first):
        assert torch.equal(p.grad, g)
    before = [p.detach().clone() for p in model.parameters()]
    make_step(model, torch.optim.AdamW(model.parameters(), lr=1e-2), "dreg", 0.5)(x, y)
    assert all(not torch.equal(p, b) for p, b in zip(model.parameters(), before))


@pytest.mark.parametrize("method, activation", [("base", "relu"), ("dreg", "relu"), ("dreg", "poly"),
                                                ("igp", "poly"), ("sn", "relu"), ("jacobian_rp", "relu")])
def test_fit_runs_make_step(method, activation):
    """fit's training is exactly a loop of make_step over its seeded minibatches."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(150, 6, generator=gen), torch.randn(150, 1, generator=gen)
    options = dict(method=method, lam=0.1, epochs=2, batch_size=32, lr=1e-2, weight_decay=1e-2, seed=3,
                   device="cpu", n_projections=2)
    fitted = CompactMLP.seeded(1, 6, (8, 5), 1, activation=activation, spectral_norm=method == "sn")
    result = fit(fitted, x, y, **options)

    manual = CompactMLP.seeded(1, 6, (8, 5), 1, activation=activation, spectral_norm=method == "sn")
    generator = torch.Generator().manual_seed(3)
    optimizer = torch.optim.AdamW(manual.parameters(), lr=1e-2, weight_decay=1e-2)
    step = make_step(manual, optimizer, method, 0.1, "regression", n_projections=2, generator=generator)
    for _ in range(2):
        order = torch.randperm(150, generator=generator)
        running = torch.zeros(())
        for i in range(0, 150, 32):
            xb, yb = x[order][i:i + 32], y[order][i:i + 32]
            running += step(xb, yb) * xb.shape[0]
    assert result.history[-1]["train_task_loss"] == float(running) / 150
    for p, q in zip(fitted.state_dict().values(), manual.state_dict().values()):
        assert torch.equal(p, q)


def test_make_step_rejects_bad_arguments():
    model = CompactMLP(3, (4,), 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="method='nope' is not valid"):
        make_step(model, optimizer, "nope")
    with pytest.raises(ValueError, match="task='ranking' is not valid"):
        make_step(model, optimizer, "base", task="ranking")
    with pytest.raises(ValueError, match="lam"):
        make_step(model, optimizer, "dreg", lam=-1.0)
    with pytest.raises(ValueError, match="method='sn' with spectral_norm=False"):
        make_step(model, optimizer, "sn")
    with pytest.raises(ValueError, match="n_projections"):
        make_step(model, optimizer, "jacobian_rp", 1.0, n_projections=0)
