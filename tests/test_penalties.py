"""The CR-penalty, IGP and Jacobian penalties against independent float64 computations."""
import pytest
import torch
from torch.func import grad, jacrev, vmap

import reference as ref
from dreg_utils import penalties
from dreg_utils.models import CompactMLP

pytestmark = pytest.mark.usefixtures("float64")

SHAPES = [(3, (5,), 1), (6, (7, 4), 3), (4, (8, 3, 6), 2), (10, (16, 16), 1)]
ACTIVATIONS = ["relu", "poly"]


def make_model(seed, d, hidden, k, activation, spread=1.0):
    """A float64 CompactMLP with weights scaled so units sit on both sides of the kink."""
    model = CompactMLP.seeded(seed, d, hidden, k, activation=activation)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(spread)
    return model


def rel_err(a, b):
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max())


def grad_or_zero(p):
    """A parameter's .grad, or zeros where the loss does not depend on it."""
    return torch.zeros_like(p) if p.grad is None else p.grad


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_layer_terms_match_jacrev(activation, shape):
    """Each E_b[d_l] equals the batch mean of ||J^(l)||_F^2 computed by jacrev."""
    d, hidden, k = shape
    gen = torch.Generator().manual_seed(len(hidden) * 100 + d)
    model = make_model(d + k, d, hidden, k, activation, spread=1.5)
    x = torch.randn(37, d, generator=gen) * 2.0
    expected = ref.layer_jacobian_sq(model, x).mean(dim=0)
    got = penalties.dreg_layer_terms(model, x)
    assert got.shape == (len(hidden) + 1,)
    assert rel_err(got, expected) < 1e-10
    # the output layer's map is linear: its term is ||W_L||_F^2
    w_last = model.layers[-1].weight
    assert float(got[-1].detach()) == pytest.approx(float((w_last.detach() ** 2).sum()), rel=1e-12)
    # the same from a trace, and the penalty is the mean over layers (eq. 5)
    from_trace = penalties.dreg_layer_terms(model, trace=model.trace(x))
    assert rel_err(from_trace, expected) < 1e-10
    assert float(penalties.dreg_penalty(model, x).detach()) == pytest.approx(float(expected.detach().mean()), rel=1e-10)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_dreg_per_sample_matches_jacrev(activation, shape):
    """dreg_per_sample(x)_i = (1/L) sum_l ||J^(l)(x_i)||_F^2, and its mean is the penalty."""
    d, hidden, k = shape
    gen = torch.Generator().manual_seed(7 + d)
    model = make_model(3 * d, d, hidden, k, activation, spread=1.3)
    x = torch.randn(23, d, generator=gen) * 2.0
    expected = ref.layer_jacobian_sq(model, x).mean(dim=1)
    got = penalties.dreg_per_sample(model, x)
    assert got.shape == (23,)
    assert rel_err(got, expected) < 1e-10
    assert float(got.detach().mean()) == pytest.approx(float(penalties.dreg_penalty(model, x).detach()), rel=1e-12)


def test_relu_terms_count_active_units():
    """For ReLU, d_l is the squared norm of the rows of W whose unit is active."""
    model = make_model(1, 4, (6,), 1, "relu")
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(2))
    w, b = model.layers[0].weight.detach(), model.layers[0].bias.detach()
    active = (x @ w.T + b > 0).double()
    expected = (active * (w ** 2).sum(dim=1)).sum(dim=1).mean()
    got = penalties.dreg_layer_terms(model, x)[0].detach()
    assert float(got) == pytest.approx(float(expected), rel=1e-12)


def test_layer_terms_need_input_or_trace():
    model = make_model(0, 3, (4,), 1, "relu")
    with pytest.raises(ValueError, match="needs the input batch x or a forward trace"):
        penalties.dreg_layer_terms(model)


@pytest.mark.parametrize("hidden", [(5,), (6, 4), (3, 7, 5)])
def test_relu_dreg_gradient_by_hand(hidden):
    """dCR/dW_j^(l) = (2/L) a_j W_j (a_j: fraction of the batch where unit j is active); output 2 W_L / L."""
    model = make_model(11, 4, hidden, 2, "relu", spread=1.5)
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(3))
    penalties.dreg_penalty(model, x).backward()
    L = len(hidden) + 1
    _, inputs = ref.forward(model, x)
    for l, layer in enumerate(model.layers):
        w, b = layer.weight, layer.bias
        if l < L - 1:
            fraction = (inputs[l] @ w.T + b > 0).double().mean(dim=0)
            assert ((fraction > 0) & (fraction < 1)).any()  # a non-trivial mix of active units
            expected = 2.0 * fraction.unsqueeze(1) * w / L
        else:
            expected = 2.0 * w / L
        torch.testing.assert_close(layer.weight.grad, expected, rtol=1e-12, atol=1e-15)
        assert layer.bias.grad is None or torch.all(layer.bias.grad == 0)


@pytest.mark.parametrize("lam", [0.0, 1e-3, 0.5, 7.0])
def test_add_relu_dreg_gradient_equals_backprop(lam):
    """The graph-free ReLU gradient equals back-propagating task + lam * CR."""
    x = torch.randn(30, 5, generator=torch.Generator().manual_seed(4))
    y = torch.randn(30, 2, generator=torch.Generator().manual_seed(5))
    auto = make_model(21, 5, (8, 6), 2, "relu", spread=1.5)
    fast = make_model(21, 5, (8, 6), 2, "relu", spread=1.5)

    trace = auto.trace(x)
    (torch.nn.functional.mse_loss(trace.output, y) + lam * penalties.dreg_penalty(auto, trace=trace)).backward()

    trace = fast.trace(x)
    torch.nn.functional.mse_loss(trace.output, y).backward()
    penalties.add_relu_dreg_gradient_(fast, trace, lam)

    for (name, pa), pf in zip(auto.named_parameters(), fast.parameters()):
        torch.testing.assert_close(pf.grad, pa.grad, rtol=1e-12, atol=1e-15, msg=name)


def test_add_relu_dreg_gradient_creates_grad():
    """Without a prior backward pass the gradient is created from zero."""
    model = make_model(2, 3, (4,), 1, "relu")
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(0))
    penalties.add_relu_dreg_gradient_(model, model.trace(x), 2.0)
    reference_model = make_model(2, 3, (4,), 1, "relu")
    (2.0 * penalties.dreg_penalty(reference_model, x)).backward()
    for p, q in zip(model.layers, reference_model.layers):
        torch.testing.assert_close(p.weight.grad, q.weight.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kwargs", [dict(activation="poly"), dict(activation="relu", spectral_norm=True)])
def test_add_relu_dreg_gradient_rejects_other_models(kwargs):
    model = CompactMLP(3, (4,), 1, **kwargs)
    x = torch.randn(5, 3)
    with pytest.raises(ValueError, match="ReLU CompactMLP without spectral_norm"):
        penalties.add_relu_dreg_gradient_(model, model.trace(x), 1.0)


def test_poly_dreg_gradient_matches_torch_func():
    """For poly, the CR gradient (through phi'(z)) equals torch.func.grad of the jacrev-based penalty."""
    model = make_model(8, 4, (6, 5), 2, "poly")
    x = torch.randn(25, 4, generator=torch.Generator().manual_seed(9))
    params = ref.named_params(model)

    def cr(p):
        return ref.layer_jacobian_sq(model, x, ref.params_list(model, p)).mean(dim=0).mean()

    expected = grad(cr)(params)
    penalties.dreg_penalty(model, x).backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(grad_or_zero(p), expected[name], rtol=1e-10, atol=1e-12, msg=name)


# ---------------------------------------------------------------------------
# input-gradient and Jacobian penalties


def jacobian_penalty_ref(model, x, params=None):
    return ref.input_jacobian(model, x, params).pow(2).sum(dim=(1, 2)).mean()


def igp_ref(model, x, y, loss, params=None):
    return ref.loss_input_gradient(model, x, y, loss, params).pow(2).sum(dim=1).mean()


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("k", [1, 3])
def test_jacobian_penalty_matches_jacrev(activation, k):
    """Exact Jacobian penalty = E_b ||J_x f||_F^2, and so is IGP without targets; gradients match."""
    model = make_model(5, 4, (7, 5), k, activation, spread=1.3)
    x = torch.randn(20, 4, generator=torch.Generator().manual_seed(1))
    params = ref.named_params(model)
    value = jacobian_penalty_ref(model, x)
    expected_grad = grad(lambda p: jacobian_penalty_ref(model, x, ref.params_list(model, p)))(params)
    for fn in (penalties.jacobian_penalty, penalties.input_gradient_penalty):
        model.zero_grad(set_to_none=True)
        got = fn(model, x)
        assert float(got.detach()) == pytest.approx(float(value.detach()), rel=1e-10)
        got.backward()
        for name, p in model.named_parameters():
            torch.testing.assert_close(grad_or_zero(p), expected_grad[name], rtol=1e-9, atol=1e-12, msg=name)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_input_gradient_penalty_with_targets(activation, loss):
    """IGP with targets = E_b ||grad_x loss_i||^2, and its parameter gradient matches torch.func."""
    k = 3
    model = make_model(6, 5, (8, 4), k, activation, spread=1.3)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(16, 5, generator=gen)
    y = torch.randint(0, k, (16,), generator=gen) if loss == "ce" else torch.randn(16, k, generator=gen)
    params = ref.named_params(model)
    value = igp_ref(model, x, y, loss)
    expected_grad = grad(lambda p: igp_ref(model, x, y, loss, ref.params_list(model, p)))(params)
    got = penalties.input_gradient_penalty(model, x, y, loss=loss)
    assert float(got.detach()) == pytest.approx(float(value.detach()), rel=1e-10)
    got.backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(grad_or_zero(p), expected_grad[name], rtol=1e-9, atol=1e-12, msg=name)


def test_jacobian_penalty_directional_derivative():
    """d/dt penalty(theta + t v) at t=0 by central differences equals <grad, v> (poly, smooth)."""
    model = make_model(12, 3, (6, 6), 2, "poly")
    x = torch.randn(15, 3, generator=torch.Generator().manual_seed(6))
    gen = torch.Generator().manual_seed(7)
    direction = [torch.randn(p.shape, generator=gen) for p in model.parameters()]
    penalties.jacobian_penalty(model, x).backward()
    analytic = sum(float((grad_or_zero(p) * v).sum()) for p, v in zip(model.parameters(), direction))
    step = 1e-6

    def at(t):
        shifted = make_model(12, 3, (6, 6), 2, "poly")
        with torch.no_grad():
            for p, v in zip(shifted.parameters(), direction):
                p.add_(t * v)
        return float(penalties.jacobian_penalty(shifted, x).detach())

    numeric = (at(step) - at(-step)) / (2 * step)
    assert numeric == pytest.approx(analytic, rel=1e-6)


def test_projected_jacobian_penalty_with_gaussian_projections():
    """With n projections the penalty is mean_i mean_r ||v_ir^T J_i||^2 for the generator's v."""
    model = make_model(13, 4, (6,), 3, "poly")
    x = torch.randn(9, 4, generator=torch.Generator().manual_seed(8))
    jac = ref.input_jacobian(model, x)  # (n, k, d)
    gen = torch.Generator().manual_seed(123)
    vs = [torch.randn(9, 3, generator=gen) for _ in range(4)]
    expected = torch.stack([torch.einsum("nk,nkd->nd", v, jac).pow(2).sum(dim=1) for v in vs]).mean()
    got = penalties.jacobian_penalty(model, x, n_projections=4, generator=torch.Generator().manual_seed(123),
                                     distribution="gaussian")
    assert float(got.detach()) == pytest.approx(float(expected.detach()), rel=1e-10)
    got.backward()  # differentiable
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.layers[0].parameters())


def test_jacobian_penalty_rejects_zero_projections():
    model = CompactMLP(3, (4,), 2)
    with pytest.raises(ValueError, match="n_projections=0 is not valid"):
        penalties.jacobian_penalty(model, torch.randn(4, 3), n_projections=0)


def test_the_functional_and_loop_forms_share_one_default_projection():
    """Both default to Rademacher v (entries +-1 from the generator): the same value for one seed
    (before: jacobian_penalty drew Gaussian v and Regulariser Rademacher)."""
    from dreg_utils.regulariser import Regulariser

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 6), torch.nn.Tanh(), torch.nn.Linear(6, 4))
    x = torch.randn(8, 10, generator=torch.Generator().manual_seed(1))
    jac = vmap(jacrev(lambda v: model(v.unsqueeze(0)).squeeze(0)))(x)  # (n, k, d)
    v = 2.0 * torch.randint(0, 2, (8, 4), generator=torch.Generator().manual_seed(0)) - 1.0
    expected = torch.einsum("nk,nkd->nd", v, jac).pow(2).sum(dim=1).mean()
    functional = penalties.jacobian_penalty(model, x, n_projections=1, generator=torch.Generator().manual_seed(0))
    _, loop = Regulariser("jacobian", n_projections=1, generator=torch.Generator().manual_seed(0))(model, x)
    torch.testing.assert_close(functional, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(loop, functional, rtol=0, atol=0)


def unflattened():
    """Outputs of shape (n, 2, 3): Linear(10, 6) -> Tanh -> Linear(6, 6) -> Unflatten."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(10, 6), torch.nn.Tanh(), torch.nn.Linear(6, 6),
                               torch.nn.Unflatten(1, (2, 3)))


def flat_output():
    """Outputs of shape (n,): a regression model whose output is flattened."""
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(10, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1), torch.nn.Flatten(0))


@pytest.mark.parametrize("make", [unflattened, flat_output], ids=["(n,2,3)", "(n,)"])
def test_penalties_flatten_each_samples_output(make):
    """Jacobian penalty and IGP of (n,) and (n, 2, 3) outputs against vmap(jacrev) of each sample's
    flattened output (before: wrong values for (n, 2, 3), IndexError for (n,))."""
    model = make()
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(8, 10, generator=gen)
    out = model(x)
    y = torch.randn(out.shape, generator=gen)

    def one(v):
        return model(v.unsqueeze(0)).squeeze(0).reshape(-1)

    exact = vmap(jacrev(one))(x).pow(2).sum(dim=(1, 2)).mean()
    igp = vmap(jacrev(lambda v, t: (one(v) - t.reshape(-1)).pow(2).mean()))(x, y).pow(2).sum(dim=1).mean()
    torch.testing.assert_close(penalties.jacobian_penalty(model, x), exact, rtol=1e-12, atol=0)
    torch.testing.assert_close(penalties.input_gradient_penalty(model, x), exact, rtol=1e-12, atol=0)
    torch.testing.assert_close(penalties.input_gradient_penalty(model, x, y), igp, rtol=1e-12, atol=0)
    estimate = penalties.jacobian_penalty(model, x, n_projections=2000, generator=gen)
    torch.testing.assert_close(estimate, exact, rtol=0.05, atol=0)
    # the CR-penalty does not depend on the output's shape
    torch.testing.assert_close(penalties.dreg_penalty(model, x),
                               penalties.dreg_penalty(torch.nn.Sequential(*list(model)[:-1]), x), rtol=0, atol=0)


def test_cross_entropy_igp_of_class_scores_with_more_dimensions():
    """(n, classes, 3) scores with (n, 3) labels: the per-sample loss is the mean over the 3
    positions, written out by hand."""
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.Tanh(), torch.nn.Linear(6, 12),
                                torch.nn.Unflatten(1, (4, 3)))
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(9, 5, generator=gen)
    labels = torch.randint(0, 4, (9, 3), generator=gen)

    def loss(v, t):
        scores = model(v.unsqueeze(0)).squeeze(0)  # (classes, positions)
        picked = scores.gather(0, t.unsqueeze(0)).squeeze(0)
        return (torch.logsumexp(scores, dim=0) - picked).mean()

    expected = vmap(jacrev(loss))(x, labels).pow(2).sum(dim=1).mean()
    got = penalties.input_gradient_penalty(model, x, labels, loss="ce")
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)


SEQ = lambda: torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))  # noqa: E731
CALLS = {
    "dreg_penalty": lambda m, x, y: penalties.dreg_penalty(m, x),
    "jacobian_penalty": lambda m, x, y: penalties.jacobian_penalty(m, x),
    "jacobian_penalty(n_projections=2)": lambda m, x, y: penalties.jacobian_penalty(m, x, n_projections=2),
    "input_gradient_penalty": lambda m, x, y: penalties.input_gradient_penalty(m, x),
    "input_gradient_penalty(y)": lambda m, x, y: penalties.input_gradient_penalty(m, x, y),
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("model", [SEQ, lambda: make_model(0, 4, (5,), 2, "poly")], ids=["sequential", "compact"])
def test_an_empty_batch_is_refused(name, model):
    """Before: a NaN penalty (the mean of no samples)."""
    with pytest.raises(ValueError, match=r"x has no rows \(shape \(0, 4\)\); a penalty is a batch mean"):
        CALLS[name](model(), torch.zeros(0, 4), torch.zeros(0, 2))


def test_a_trace_of_an_empty_batch_is_refused():
    model = make_model(0, 4, (5,), 2, "poly")
    with pytest.raises(ValueError, match=r"the trace is of an empty batch"):
        penalties.dreg_penalty(model, trace=model.trace(torch.zeros(0, 4)))


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: penalties.input_gradient_penalty(SEQ(), torch.randn(3, 4), torch.tensor([[0.0, float("nan")]] * 3)),
     ValueError, r"y contains non-finite values \(NaN or inf\); targets must be finite"),
    (lambda: penalties.input_gradient_penalty(SEQ(), torch.randn(3, 4), torch.zeros(3, 3)), ValueError,
     r"y has shape \(3, 3\) but the model's output has shape \(3, 2\): loss='mse' needs 2 target value\(s\)"),
    (lambda: penalties.input_gradient_penalty(SEQ(), torch.randn(3, 4), torch.zeros(2, 2)), ValueError,
     r"y must be a tensor with one row per row of x: x has 3 rows but y has 2 \(shape \(2, 2\)\)"),
    (lambda: penalties.input_gradient_penalty(SEQ(), torch.randn(3, 4), loss="hinge"), ValueError,
     r"loss='hinge' is not valid; choose one of \['mse', 'ce'\]"),
    (lambda: penalties.jacobian_penalty(SEQ(), torch.randn(3, 7)), ValueError,
     r"x has 7 features \(shape \(3, 7\)\) but the model's first Linear layer takes in_features=4"),
    (lambda: penalties.dreg_penalty(SEQ(), torch.randn(3, 7)), ValueError,
     r"x has 7 features \(shape \(3, 7\)\) but the model's first Linear layer takes in_features=4"),
    (lambda: penalties.jacobian_penalty(SEQ(), torch.randn(3, 4), n_projections=1, distribution="uniform"),
     ValueError, r"distribution='uniform' is not valid; choose one of \['gaussian', 'rademacher', 'sphere'\]"),
    (lambda: penalties.jacobian_penalty(SEQ(), torch.randn(3, 4), distribution="bogus"),  # exact: before, accepted
     ValueError, r"^distribution='bogus' is not valid; choose one of \['gaussian', 'rademacher', 'sphere'\]$"),
    (lambda: penalties.jacobian_penalty(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Flatten(0)),
                                        torch.randn(3, 4)),
     ValueError, r"the model's output has shape \(6,\) for x of shape \(3, 4\); the penalties need one output row"),
])
def test_bad_inputs_are_refused_in_one_line(call, error, pattern):
    """Before: raw torch errors (shape mismatches inside matmul or reshape) or a NaN penalty."""
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode], ids=["no_grad", "inference_mode"])
def test_penalties_without_autograd_are_refused_or_need_none(mode):
    """The input-derivative penalties need autograd and say so (before: "element 0 of tensors does
    not require grad"); the CR-penalty of a CompactMLP needs none, that of a Sequential runs under
    no_grad (phi' by autograd inside) and refuses inference_mode."""
    model, compact, x = SEQ(), make_model(0, 4, (5,), 2, "poly"), torch.randn(3, 4)
    expected = {"seq": penalties.dreg_penalty(model, x).detach(),
                "compact": penalties.dreg_penalty(compact, x).detach()}
    name = "no_grad\\(\\) switches off" if mode is torch.no_grad else "inference_mode\\(\\) forbids"
    with mode():
        for what, call in [("jacobian_penalty", lambda: penalties.jacobian_penalty(model, x)),
                           ("input_gradient_penalty", lambda: penalties.input_gradient_penalty(model, x, x[:, :2]))]:
            with pytest.raises(RuntimeError, match=rf"{what} differentiates through x, which torch.{name}"):
                call()
        assert torch.equal(penalties.dreg_penalty(compact, x), expected["compact"])
        if mode is torch.no_grad:
            assert torch.equal(penalties.dreg_penalty(model, x), expected["seq"])
        else:
            with pytest.raises(RuntimeError, match=r"takes phi' of torch.nn activations by autograd, which "
                                                   r"torch.inference_mode\(\) forbids; call it under torch.no_grad"):
                penalties.dreg_penalty(model, x)


def inference_tensor(t: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return t.clone()


SCORES = lambda: torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))  # noqa: E731
DTYPE = r"^x has dtype torch.float64 but the model's parameters have dtype torch.float32; make them match: " \
        r"model.double\(\) or x.float\(\)$"
INFERENCE = r"^x was created under torch.inference_mode\(\) and is used outside it with gradients enabled, but " \
            r"inference tensors cannot be used for autograd: pass x.clone\(\) made outside inference_mode$"


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: penalties.input_gradient_penalty(SCORES(), torch.randn(3, 4), torch.tensor([0, 5, 1]), loss="ce"),
     ValueError, r"^y holds class index 5 but the model's output has 3 classes \(axis 1\): loss='ce' needs class "
                 r"indices in 0\.\.2$"),
    (lambda: penalties.input_gradient_penalty(SCORES(), torch.randn(3, 4), torch.tensor([0, -100, 1]), loss="ce"),
     ValueError, r"^y holds class index -100 but .*in 0\.\.2$"),
    (lambda: penalties.input_gradient_penalty(SCORES(), torch.randn(3, 4), torch.ones(3, 3, dtype=torch.bool)),
     ValueError, r"^y has dtype torch.bool, which no loss takes: loss='mse' needs floating-point \(or integer\) "
                 r"targets, loss='ce' integer class indices or floating-point class probabilities$"),
    (lambda: penalties.input_gradient_penalty(SCORES(), torch.randn(3, 4), torch.ones(3, dtype=torch.bool), loss="ce"),
     ValueError, r"^y has dtype torch.bool, which no loss takes"),
    (lambda: penalties.input_gradient_penalty(SCORES(), torch.randn(3, 4), torch.ones(3, 3, dtype=torch.complex64)),
     ValueError, r"^y has dtype torch.complex64, which no loss takes"),
    (lambda: penalties.jacobian_penalty(SCORES().float(), torch.randn(3, 4)), ValueError, DTYPE),
    (lambda: penalties.input_gradient_penalty(SCORES().float(), torch.randn(3, 4)), ValueError, DTYPE),
    (lambda: penalties.dreg_penalty(SCORES().float(), torch.randn(3, 4)), ValueError, DTYPE),
    (lambda: penalties.dreg_penalty(make_model(0, 4, (5,), 3, "poly").float(), torch.randn(3, 4)),
     ValueError, DTYPE),
    (lambda: penalties.jacobian_penalty(SCORES(), inference_tensor(torch.randn(3, 4))), RuntimeError, INFERENCE),
    (lambda: penalties.input_gradient_penalty(SCORES(), inference_tensor(torch.randn(3, 4)), torch.zeros(3, 3)),
     RuntimeError, INFERENCE),
    (lambda: penalties.dreg_penalty(SCORES(), inference_tensor(torch.randn(3, 4))), RuntimeError, INFERENCE),
    (lambda: penalties.dreg_penalty(make_model(0, 4, (5,), 3, "poly"), inference_tensor(torch.randn(3, 4))),
     RuntimeError, INFERENCE),
    (lambda: penalties.input_gradient_penalty(SCORES(), torch.randn(3, 4), inference_tensor(torch.tensor([0, 2, 1])),
                                              loss="ce"),
     RuntimeError, r"^y was created under torch.inference_mode\(\), and cross-entropy saves its class indices for "
                   r"backward, which inference tensors cannot be: pass y.clone\(\) made outside inference_mode$"),
])
def test_bad_targets_dtypes_and_inference_tensors_are_refused_in_one_line(call, error, pattern):
    """Before: raw torch errors ("Target 5 is out of bounds", "Subtraction ... with a bool tensor",
    "mat1 and mat2 must have the same dtype", "Setting requires_grad=True on inference tensor")."""
    with pytest.raises(error, match=pattern) as raised:
        call()
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_class_indices_at_the_ends_of_the_range_and_of_any_integer_dtype_are_accepted():
    """Indices 0 and classes - 1 are valid; int32 (before: "expected target dtype to be Long or
    Byte") and uint8 give the int64 penalty bit for bit, which equals torch.func's."""
    model, x = SCORES(), torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 2, 2, 0, 1, 2])
    def one(xi, yi):
        return grad(lambda v: torch.nn.functional.cross_entropy(model(v.unsqueeze(0)), yi.unsqueeze(0)))(xi)

    expected = vmap(one)(x, labels).pow(2).sum(dim=1).mean()
    got = penalties.input_gradient_penalty(model, x, labels, loss="ce")
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)
    for dtype in (torch.int32, torch.uint8):
        assert torch.equal(penalties.input_gradient_penalty(model, x, labels.to(dtype), loss="ce"), got)


def test_an_inference_tensor_is_accepted_where_autograd_does_not_need_it():
    """Inside inference_mode (CompactMLP) and under no_grad the CR-penalty of an inference-mode x
    equals that of an ordinary x: the refusal is only for autograd."""
    model, compact, x = SCORES(), make_model(0, 4, (5,), 3, "poly"), torch.randn(3, 4)
    with torch.no_grad():
        assert torch.equal(penalties.dreg_penalty(model, inference_tensor(x)), penalties.dreg_penalty(model, x))
    with torch.inference_mode():
        assert torch.equal(penalties.dreg_penalty(compact, inference_tensor(x)), penalties.dreg_penalty(compact, x))
