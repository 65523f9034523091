"""Independent float64 reference computations (torch.func), written without dreg_utils internals.

The polynomial activation is phi(z) = z + 0.1 z^2 (the documented default coefficients).
"""
import torch
from torch.func import jacrev, vmap
from torch.nn import functional as F

POLY_C1, POLY_C2 = 1.0, 0.1


def phi(name, z):
    """The activation written out by hand."""
    if name == "relu":
        return torch.clamp(z, min=0.0)
    if name == "tanh":
        e = torch.exp(2.0 * z)
        return (e - 1.0) / (e + 1.0)
    return POLY_C1 * z + POLY_C2 * z * z


def weights_and_biases(model):
    """(W, b) of every linear layer as the forward pass uses them."""
    return [(layer.weight, layer.bias) for layer in model.layers]


def forward(model, x, params=None):
    """Hand-written forward pass; returns (output, inputs of every layer h^(l-1))."""
    params = weights_and_biases(model) if params is None else params
    h, inputs = x, []
    for l, (w, b) in enumerate(params):
        inputs.append(h)
        z = h @ w.T + b
        h = z if l == len(params) - 1 else phi(model.activation_name, z)
    return h, inputs


def layer_map(model, l, params=None):
    """The map h^(l-1) -> phi(W h + b) of layer l (0-based); the output layer is linear."""
    params = weights_and_biases(model) if params is None else params
    w, b = params[l]
    last = l == len(params) - 1

    def f(h):
        z = w @ h + b
        return z if last else phi(model.activation_name, z)

    return f


def layer_jacobian_sq(model, x, params=None):
    """Per-sample ||J^(l)||_F^2 of every layer by jacrev, shape (n, L)."""
    params = weights_and_biases(model) if params is None else params
    _, inputs = forward(model, x, params)
    cols = []
    for l, h in enumerate(inputs):
        jac = vmap(jacrev(layer_map(model, l, params)))(h)  # (n, out, in)
        cols.append(jac.pow(2).sum(dim=(1, 2)))
    return torch.stack(cols, dim=1)


def input_jacobian(model, x, params=None):
    """Per-sample Jacobian d f(x_i) / d x_i, shape (n, k, d)."""

    def f(xi):
        out, _ = forward(model, xi.unsqueeze(0), params)
        return out.squeeze(0)

    return vmap(jacrev(f))(x)


def per_sample_loss_fn(model, loss, params=None):
    """Function (x_i, y_i) -> loss of one sample, written by hand."""

    def f(xi, yi):
        out, _ = forward(model, xi.unsqueeze(0), params)
        out = out.squeeze(0)
        if loss == "ce":
            return torch.logsumexp(out, dim=0) - (out * yi).sum()  # yi one-hot
        return (out - yi).pow(2).mean()

    return f


def loss_input_gradient(model, x, y, loss, params=None):
    """Per-sample d loss_i / d x_i by jacrev, shape (n, d)."""
    if loss == "ce":
        y = F.one_hot(y, num_classes=model.layers[-1].weight.shape[0]).to(x.dtype)
    return vmap(jacrev(per_sample_loss_fn(model, loss, params)))(x, y)


def central_difference_jacobian(fn, x, step=1e-6):
    """Central finite differences of a per-sample map fn: (n, d) -> (n, k), shape (n, k, d)."""
    n, d = x.shape
    cols = []
    with torch.no_grad():
        for j in range(d):
            e = torch.zeros_like(x)
            e[:, j] = step
            cols.append((fn(x + e) - fn(x - e)) / (2 * step))
    return torch.stack(cols, dim=2)


def named_params(model):
    """Trainable parameters as a detached dict (for torch.func.grad)."""
    return {k: v.detach().clone() for k, v in model.named_parameters()}


def params_list(model, p):
    """Turn a named-parameter dict of a plain CompactMLP into the [(W, b)] list."""
    return [(p[f"layers.{l}.weight"], p[f"layers.{l}.bias"]) for l in range(len(model.layers))]
