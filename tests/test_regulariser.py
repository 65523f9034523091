"""Regulariser (one forward pass, output and penalty) against torch.func and the functional penalties."""
import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, jacrev, vmap
from torch.nn import functional as F

import dreg_utils
from dreg_utils import Regulariser
from dreg_utils.models import CompactMLP
from dreg_utils.penalties import dreg_penalty, input_gradient_penalty, jacobian_penalty

pytestmark = pytest.mark.usefixtures("float64")
LAM = 0.3


def sequential(activation: nn.Module, outputs: int = 3) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 7), activation, nn.Linear(7, 5), activation, nn.Linear(5, outputs))


MODELS = {
    "seq-relu": lambda: sequential(nn.ReLU()),
    "seq-tanh": lambda: sequential(nn.Tanh()),
    "compact-poly": lambda: CompactMLP.seeded(1, 4, (7, 5), 3, activation="poly"),
    "compact-relu": lambda: CompactMLP.seeded(2, 4, (7, 5), 3, activation="relu"),
}


def batch(n: int = 12, outputs: int = 3):
    gen = torch.Generator().manual_seed(5)
    return torch.randn(n, 4, generator=gen), torch.randn(n, outputs, generator=gen)


def per_sample(model: nn.Module, fn):
    """fn applied to one sample's model (x_i -> f(x_i)), vmapped over the batch."""
    return lambda params, x: vmap(lambda xi: fn(lambda v: functional_call(model, params, (v.unsqueeze(0),))[0], xi))(x)


def jacobian_sq_by_jacrev(model, params, x):
    """E_b ||J_x f(x_b)||_F^2 by torch.func.jacrev, per sample."""
    return per_sample(model, lambda f, xi: jacrev(f)(xi).pow(2).sum())(params, x).mean()


def igp_by_func(model, params, x, y):
    """E_b ||grad_x mean_k (f_k(x_b) - y_bk)^2||^2 by torch.func.grad, per sample."""
    def one(xi, yi):
        return grad(lambda v: (functional_call(model, params, (v.unsqueeze(0),))[0] - yi).pow(2).mean())(xi).pow(2).sum()
    return vmap(one)(x, y).mean()


def dreg_by_jacrev(model: nn.Sequential, params, x):
    """(1/L) sum_l E_b ||J^(l)(x_b)||_F^2 with J^(l) the jacrev of h -> phi(W^(l) h + b^(l))
    (the output layer h -> W^(L) h + b^(L)), DREG eqs. 3-5."""
    layers = list(model)
    linears = [i for i, m in enumerate(layers) if isinstance(m, nn.Linear)]
    total, h = 0.0, x
    for position, i in enumerate(linears):
        names = {f"{i}.weight", f"{i}.bias"}
        sub = {n[len(str(i)) + 1:]: p for n, p in params.items() if n in names}
        activation = layers[i + 1] if position < len(linears) - 1 else nn.Identity()

        def layer_map(hi, sub=sub, i=i, activation=activation):
            return activation(functional_call(layers[i], sub, (hi.unsqueeze(0),))[0])

        total = total + vmap(jacrev(layer_map))(h).pow(2).sum(dim=(1, 2)).mean()
        h = vmap(layer_map)(h)
    return total / len(linears)


def loop_gradients(model, reg, x, y):
    """The parameter gradients of mse(output, y) + LAM * penalty as the loop computes them."""
    model.zero_grad(set_to_none=True)
    output, penalty = reg(model, x, y)
    (F.mse_loss(output, y) + LAM * penalty).backward()
    return output.detach(), penalty.detach(), {n: p.grad.clone() if p.grad is not None else torch.zeros_like(p)
                                              for n, p in model.named_parameters()}


def assert_gradients_close(got, expected):
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-9, atol=1e-12, msg=name)


@pytest.mark.parametrize("activation", [nn.ReLU(), nn.Tanh()], ids=["relu", "tanh"])
@pytest.mark.parametrize("method", ["none", "dreg", "jacobian", "igp"])
def test_the_loop_form_matches_torch_func_value_and_gradients(activation, method):
    """Output = model(x); penalty and d(task + LAM penalty)/dtheta equal an independent torch.func computation."""
    model = sequential(activation)
    x, y = batch()
    output, penalty, grads = loop_gradients(model, Regulariser(method), x, y)
    params = {n: p.detach() for n, p in model.named_parameters()}
    independent = {"none": lambda p: torch.zeros(()), "dreg": lambda p: dreg_by_jacrev(model, p, x),
                   "jacobian": lambda p: jacobian_sq_by_jacrev(model, p, x),
                   "igp": lambda p: igp_by_func(model, p, x, y)}[method]
    torch.testing.assert_close(output, model(x).detach(), rtol=0, atol=0)
    torch.testing.assert_close(penalty, independent(params), rtol=1e-10, atol=1e-14)

    def objective(p):
        return F.mse_loss(functional_call(model, p, (x,)), y) + LAM * independent(p)

    assert_gradients_close(grads, grad(objective)(params))


@pytest.mark.parametrize("model_name", list(MODELS))
@pytest.mark.parametrize("reg, functional", [
    (Regulariser("dreg"), lambda m, x, y: dreg_penalty(m, x)),
    (Regulariser("jacobian"), lambda m, x, y: jacobian_penalty(m, x)),
    (Regulariser("igp"), lambda m, x, y: input_gradient_penalty(m, x, y)),
    (Regulariser("jacobian", n_projections=3, distribution="sphere", generator=torch.Generator().manual_seed(4)),
     lambda m, x, y: jacobian_penalty(m, x, 3, torch.Generator().manual_seed(4), distribution="sphere")),
], ids=["dreg", "jacobian", "igp", "jacobian-sphere-3"])
def test_the_loop_form_gives_the_functional_penalty_and_its_gradients(model_name, reg, functional):
    if reg.generator is not None:
        reg.generator.manual_seed(4)  # the same projections as the functional form draws
    model = MODELS[model_name]()
    x, y = batch()
    _, penalty, grads = loop_gradients(model, reg, x, y)
    model.zero_grad(set_to_none=True)
    expected = functional(model, x, y)
    (F.mse_loss(model(x), y) + LAM * expected).backward()
    torch.testing.assert_close(penalty, expected.detach(), rtol=1e-12, atol=0)
    assert_gradients_close(grads, {n: p.grad if p.grad is not None else torch.zeros_like(p)
                                   for n, p in model.named_parameters()})


@pytest.mark.parametrize("method", ["none", "dreg", "jacobian", "igp"])
@pytest.mark.parametrize("model_name", ["seq-tanh", "compact-poly"])
def test_one_forward_pass_per_call(method, model_name):
    """Every activation runs as often in one call as in one plain forward pass model(x)
    (CompactMLP's traced forward calls its linear layers functionally)."""
    model = MODELS[model_name]()
    calls = []
    for module in model.modules():
        if not list(module.children()) and not isinstance(module, nn.Linear):
            module.register_forward_hook(lambda *_: calls.append(1))
    x, y = batch()
    model(x)
    plain, calls[:] = len(calls), []
    Regulariser(method)(model, x, y)
    assert plain > 0 and len(calls) == plain


def test_the_projection_estimate_with_one_output_is_exact():
    """Rademacher and sphere projections of a one-output model give ||grad_x f||^2 exactly."""
    model = sequential(nn.Tanh(), outputs=1)
    x, y = batch(outputs=1)
    params = {n: p.detach() for n, p in model.named_parameters()}
    for distribution in ("rademacher", "sphere"):
        _, penalty = Regulariser("jacobian", n_projections=1, distribution=distribution)(model, x)
        torch.testing.assert_close(penalty.detach(), jacobian_sq_by_jacrev(model, params, x), rtol=1e-12, atol=0)


def test_cross_entropy_igp_matches_torch_func():
    model = sequential(nn.Tanh())
    x, _ = batch()
    labels = torch.tensor([0, 1, 2] * 4)
    params = {n: p.detach() for n, p in model.named_parameters()}

    def one(xi, yi):
        return grad(lambda v: F.cross_entropy(functional_call(model, params, (v.unsqueeze(0),)), yi.unsqueeze(0)))(xi)

    expected = vmap(one)(x, labels).pow(2).sum(dim=1).mean()
    _, penalty = Regulariser("igp", loss="ce")(model, x, labels)
    torch.testing.assert_close(penalty.detach(), expected, rtol=1e-10, atol=0)


def test_the_package_exports_the_regulariser():
    assert dreg_utils.Regulariser is Regulariser and "Regulariser" in dreg_utils.__all__
    assert repr(Regulariser("jacobian", n_projections=2)) == "Regulariser('jacobian', n_projections=2, distribution='rademacher')"
    assert repr(Regulariser("igp", loss="ce")) == "Regulariser('igp', loss='ce')"


def test_only_igp_has_a_loss_and_it_defaults_to_mse():
    """Before: Regulariser("dreg", loss="ce") was accepted and the loss silently ignored."""
    assert Regulariser("igp").loss == "mse" and Regulariser("igp", loss=None).loss == "mse"
    assert Regulariser("igp", loss="ce").loss == "ce"
    assert [Regulariser(method).loss for method in ("none", "dreg", "jacobian")] == [None, None, None]


def batch_norm() -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 3))


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: Regulariser("sn"), ValueError,
     r"method='sn' is not valid; choose one of \['base', 'none', 'dreg', 'igp', 'jacobian'\]"),
    (lambda: Regulariser("dreg", n_projections=2), ValueError,
     r"n_projections=2 applies only to method='jacobian', not method='dreg'"),
    (lambda: Regulariser("jacobian", n_projections=0), ValueError, r"n_projections=0 is not valid"),
    (lambda: Regulariser("jacobian", distribution="uniform"), ValueError, r"distribution='uniform' is not valid"),
    (lambda: Regulariser("igp", loss="hinge"), ValueError, r"loss='hinge' is not valid; choose one of \['mse', 'ce'\]"),
    (lambda: Regulariser("dreg", loss="ce"), ValueError,
     r"loss='ce' applies only to method='igp' \(the one method whose penalty uses the targets y\), not "
     r"method='dreg'; leave it out"),
    (lambda: Regulariser("jacobian", loss="mse"), ValueError, r"loss='mse' applies only to method='igp'.*'jacobian'"),
    (lambda: Regulariser("none", loss="mse"), ValueError, r"loss='mse' applies only to method='igp'.*'none'"),
    (lambda: Regulariser("jacobian", generator=3), TypeError, r"generator must be a torch.Generator or None, got int"),
    (lambda: Regulariser("dreg")(lambda v: v, batch()[0]), TypeError, r"model must be a torch.nn.Module, got function"),
    (lambda: Regulariser("igp")(sequential(nn.Tanh()), batch()[0], torch.zeros(5, 3)), ValueError,
     r"y must be a tensor with one row per row of x: x has 12 rows but y has 5 \(shape \(5, 3\)\)"),
    (lambda: Regulariser("dreg")(nn.Linear(4, 3), batch()[0]), TypeError,
     r"method='dreg' needs a CompactMLP or an nn.Sequential .*, got Linear"),
    (lambda: Regulariser("dreg")(batch_norm(), batch()[0]), TypeError, r"layer 1 of the Sequential is BatchNorm1d"),
    (lambda: Regulariser("jacobian")(batch_norm(), batch()[0]), ValueError, r"batch normalisation in training mode"),
    (lambda: Regulariser("igp")(batch_norm(), *batch()), ValueError, r"batch normalisation in training mode"),
    (lambda: Regulariser("dreg")(sequential(nn.Tanh()), torch.zeros(3, 4, dtype=torch.long)), ValueError,
     r"x must be a 2-D floating-point tensor"),
])
def test_bad_arguments_are_refused_by_name(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def reshaped(last: nn.Module, outputs: int) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 7), nn.Tanh(), nn.Linear(7, outputs), last)


@pytest.mark.parametrize("method", ["dreg", "jacobian", "igp"])
@pytest.mark.parametrize("last, outputs", [(nn.Flatten(0), 1), (nn.Unflatten(1, (2, 3)), 6)], ids=["(n,)", "(n,2,3)"])
def test_outputs_of_shape_n_and_with_more_dimensions(method, last, outputs):
    """The penalty of each sample's flattened output, against torch.func (before: IndexError for
    (n,); for (n, 2, 3) a Jacobian penalty over the first output axis only)."""
    model = reshaped(last, outputs)
    x, _ = batch()
    y = torch.randn(model(x).shape, generator=torch.Generator().manual_seed(6))
    output, penalty = Regulariser(method)(model, x, y)
    torch.testing.assert_close(output, model(x), rtol=0, atol=0)
    params = {n: p.detach() for n, p in model.named_parameters()}
    flat = nn.Sequential(*list(model)[:-1])  # the same layers without the reshape
    expected = {"dreg": lambda: dreg_by_jacrev(flat, params, x),
                "jacobian": lambda: jacobian_sq_by_jacrev(flat, params, x),
                "igp": lambda: igp_by_func(flat, params, x, y.reshape(12, -1))}[method]()
    torch.testing.assert_close(penalty, expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("method", ["none", "dreg", "jacobian", "igp"])
def test_an_empty_batch_is_refused_by_every_method(method):
    """Before: a NaN penalty (the mean of no samples), or a zero one for "none"."""
    with pytest.raises(ValueError, match=r"x has no rows \(shape \(0, 4\)\); a penalty is a batch mean"):
        Regulariser(method)(sequential(nn.Tanh()), torch.zeros(0, 4), torch.zeros(0, 3))


@pytest.mark.parametrize("method", ["none", "dreg", "jacobian", "igp"])
def test_non_finite_targets_are_refused_by_every_method(method):
    x, y = batch()
    y[3, 1] = float("inf")
    with pytest.raises(ValueError, match=r"y contains non-finite values \(NaN or inf\)"):
        Regulariser(method)(sequential(nn.Tanh()), x, y)


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode], ids=["no_grad", "inference_mode"])
@pytest.mark.parametrize("method", ["jacobian", "igp"])
def test_input_derivatives_without_autograd_are_refused(mode, method):
    """Before: "element 0 of tensors does not require grad and does not have a grad_fn"."""
    model, (x, y) = sequential(nn.Tanh()), batch()
    switched = r"torch.no_grad\(\) switches off" if mode is torch.no_grad else r"torch.inference_mode\(\) forbids"
    with mode(), pytest.raises(RuntimeError, match=rf"Regulariser\('{method}'\) differentiates through x, which "
                                                    rf"{switched}"):
        Regulariser(method)(model, x, y)


def test_the_cr_penalty_under_no_grad_is_the_value_with_gradients():
    model, (x, y) = sequential(nn.Tanh()), batch()
    with torch.no_grad():
        output, penalty = Regulariser("dreg")(model, x, y)
    assert not penalty.requires_grad
    torch.testing.assert_close(penalty, Regulariser("dreg")(model, x, y)[1].detach(), rtol=0, atol=0)


def wrapped(dropout: nn.Module) -> nn.Sequential:
    """sequential(nn.Tanh()) with pass-through layers and nesting around the same three Linear layers."""
    plain = sequential(nn.Tanh())
    return nn.Sequential(nn.Flatten(), nn.Sequential(plain[0], nn.Identity(), nn.Tanh()), dropout,
                         nn.Sequential(nn.Sequential(plain[2], nn.Tanh()), nn.Identity()), plain[4])


@pytest.mark.parametrize("method", ["dreg", "jacobian", "igp"])
def test_nested_sequentials_identity_flatten_and_eval_dropout_are_accepted(method):
    """The penalty equals that of the plain alternating model with the same Linear layers (before:
    dreg refused the nested Sequential, Identity, Flatten and Dropout)."""
    model, plain, (x, y) = wrapped(nn.Dropout(0.5)).eval(), sequential(nn.Tanh()), batch()
    output, penalty = Regulariser(method)(model, x, y)
    expected_output, expected = Regulariser(method)(plain, x, y)
    torch.testing.assert_close(output, expected_output, rtol=0, atol=0)
    torch.testing.assert_close(penalty, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("method", ["dreg", "jacobian", "igp"])
def test_dropout_in_training_mode_is_refused(method):
    x, y = batch()
    with pytest.raises(ValueError, match=r"Sequential has Dropout \(2\) in training mode: it draws new random "
                                         r"numbers on every call.*call model.eval\(\)"):
        Regulariser(method)(wrapped(nn.Dropout(0.5)), x, y)


def test_prelu_slopes_get_the_gradient_of_the_cr_penalty():
    """PReLU has one slope per unit; the CR-penalty's gradient in them (through phi'(z) = a_j for
    z <= 0) and in the weights equals torch.func.grad of the layer-Jacobian definition (jacrev per
    sample: torch.func's vmap of PReLU's backward fails in torch 2.13)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 7), nn.PReLU(7, init=0.3), nn.Linear(7, 5), nn.PReLU(), nn.Linear(5, 3))
    x, _ = batch()
    params = {n: p.detach() for n, p in model.named_parameters()}

    def definition(p):
        total, h = 0.0, x
        for i in (0, 2):
            def layer(hi, i=i):
                z = functional_call(model[i], {"weight": p[f"{i}.weight"], "bias": p[f"{i}.bias"]}, (hi,))
                return functional_call(model[i + 1], {"weight": p[f"{i + 1}.weight"]}, (z,))
            jac = torch.stack([jacrev(lambda hi, layer=layer: layer(hi.unsqueeze(0))[0])(hi) for hi in h])
            total = total + jac.pow(2).sum(dim=(1, 2)).mean()
            h = layer(h)
        return (total + p["4.weight"].pow(2).sum()) / 3

    model.zero_grad(set_to_none=True)
    _, penalty = Regulariser("dreg")(model, x)
    torch.testing.assert_close(penalty.detach(), definition(params), rtol=1e-12, atol=0)
    penalty.backward()
    expected = grad(definition)(params)
    for name, p in model.named_parameters():
        if name != "4.bias":
            torch.testing.assert_close(p.grad, expected[name], rtol=1e-10, atol=1e-14, msg=name)
    assert model[1].weight.grad.abs().min() > 0  # every unit's slope enters through some z <= 0
    model[0].requires_grad_(False)  # a frozen first layer: z^(1) needs no gradient, the slopes still do
    model.zero_grad(set_to_none=True)
    Regulariser("dreg")(model, x)[1].backward()
    torch.testing.assert_close(model[1].weight.grad, expected["1.weight"], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("call, pattern", [
    (lambda: Regulariser("igp")(sequential(nn.Tanh()), batch()[0], torch.zeros(12, 2)),
     r"y has shape \(12, 2\) but the model's output has shape \(12, 3\): loss='mse' needs 3 target value\(s\)"),
    (lambda: Regulariser("jacobian")(sequential(nn.Tanh()), torch.zeros(12, 5)),
     r"x has 5 features \(shape \(12, 5\)\) but the model's first Linear layer takes in_features=4"),
    (lambda: Regulariser("none")(wrapped(nn.Identity()), torch.zeros(12, 5)),
     r"x has 5 features \(shape \(12, 5\)\) but the model's first Linear layer takes in_features=4"),
    (lambda: Regulariser("igp", loss="ce")(reshaped(nn.Flatten(0), 1), batch()[0], torch.zeros(12, dtype=torch.long)),
     r"loss='ce' needs class scores of shape \(n, classes, ...\), but the model's output has shape \(12,\)"),
    (lambda: Regulariser("dreg")(reshaped(nn.Flatten(0), 3), batch()[0]),
     r"the model's output has shape \(36,\) for x of shape \(12, 4\); the penalties need one output row per sample"),
])
def test_inputs_that_do_not_fit_the_model_are_refused_in_one_line(call, pattern):
    """Before: raw torch errors from inside the forward pass or the loss."""
    with pytest.raises(ValueError, match=pattern):
        call()


def made_in_inference_mode(t: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return t.clone()


LABELS = torch.tensor([0, 1, 2] * 4)


@pytest.mark.parametrize("method, call, error, pattern", [
    ("igp", lambda: Regulariser("igp", loss="ce")(sequential(nn.Tanh()), batch()[0], LABELS + 2), ValueError,
     r"^y holds class index 4 but the model's output has 3 classes \(axis 1\): loss='ce' needs class indices "
     r"in 0\.\.2$"),
    ("igp", lambda: Regulariser("igp", loss="ce")(sequential(nn.Tanh()), batch()[0], LABELS - 1), ValueError,
     r"^y holds class index -1 but .*in 0\.\.2$"),
    ("igp", lambda: Regulariser("igp")(sequential(nn.Tanh()), batch()[0], batch()[1] > 0), ValueError,
     r"^y has dtype torch.bool, which no loss takes: loss='mse' needs floating-point \(or integer\) targets, "
     r"loss='ce' integer class indices or floating-point class probabilities$"),
    ("dreg", lambda: Regulariser("dreg")(sequential(nn.Tanh()), batch()[0], batch()[1] > 0), ValueError,
     r"^y has dtype torch.bool, which no loss takes"),
    ("jacobian", lambda: Regulariser("jacobian")(sequential(nn.Tanh()), batch()[0].float()), ValueError,
     r"^x has dtype torch.float32 but the model's parameters have dtype torch.float64; make them match: "
     r"model.float\(\) or x.double\(\)$"),
    ("dreg", lambda: Regulariser("dreg")(CompactMLP.seeded(1, 4, (7,), 3), batch()[0].float()), ValueError,
     r"^x has dtype torch.float32 but the model's parameters have dtype torch.float64"),
    ("none", lambda: Regulariser("none")(sequential(nn.Tanh()).float(), batch()[0]), ValueError,
     r"^x has dtype torch.float64 but the model's parameters have dtype torch.float32; make them match: "
     r"model.double\(\) or x.float\(\)$"),
    ("jacobian", lambda: Regulariser("jacobian")(sequential(nn.Tanh()), made_in_inference_mode(batch()[0])),
     RuntimeError, r"^x was created under torch.inference_mode\(\) and is used outside it with gradients enabled, "
                   r"but inference tensors cannot be used for autograd: pass x.clone\(\) made outside inference_mode$"),
    ("dreg", lambda: Regulariser("dreg")(sequential(nn.Tanh()), made_in_inference_mode(batch()[0])),
     RuntimeError, r"^x was created under torch.inference_mode\(\)"),
    ("igp", lambda: Regulariser("igp", loss="ce")(sequential(nn.Tanh()), batch()[0], made_in_inference_mode(LABELS)),
     RuntimeError, r"^y was created under torch.inference_mode\(\), and cross-entropy saves its class indices"),
])
def test_bad_targets_dtypes_and_inference_tensors_are_refused_in_one_line(method, call, error, pattern):
    """Before: raw torch errors ("Target 4 is out of bounds", "Subtraction ... with a bool tensor",
    "mat1 and mat2 must have the same dtype", "Inference tensors cannot be saved for backward")."""
    with pytest.raises(error, match=pattern) as raised:
        call()
    assert raised.value.__cause__ is None and raised.value.__context__ is None


def test_class_indices_of_any_integer_dtype_give_the_same_penalty():
    """int32 indices (before: "expected target dtype to be Long or Byte") and uint8 ones give the
    int64 penalty bit for bit; an inference-mode x still works under no_grad for the CR-penalty."""
    model, (x, _) = sequential(nn.Tanh()), batch()
    expected = Regulariser("igp", loss="ce")(model, x, LABELS)[1]
    for dtype in (torch.int32, torch.uint8):
        assert torch.equal(Regulariser("igp", loss="ce")(model, x, LABELS.to(dtype))[1], expected)
    with torch.no_grad():
        assert torch.equal(Regulariser("dreg")(model, made_in_inference_mode(x))[1], Regulariser("dreg")(model, x)[1])
