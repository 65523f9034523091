"""Vectorised training of several members equals training them one by one with fit (float64)."""
import re

import pytest
import torch

from dreg_utils.ensemble import ENSEMBLE_METHODS, Member, build_group, check_members, fit_ensemble, make_group_step
from dreg_utils.models import CompactMLP, spectral_norm_options
from dreg_utils.stacked import StackedMLP
from dreg_utils.train import fit

MEMBERS = [Member(0, "base"), Member(1, "dreg", 0.05), Member(2, "igp", 0.1), Member(3, "sn"),
           Member(1, "base"), Member(4, "dreg", 0.5), Member(5, "jacobian", 0.1), Member(6, "sn_hidden"),
           Member(7, "sn_scaled")]


@pytest.fixture(scope="module")
def blobs():
    """170 points in 6-D, 3 classes: 6 minibatches of 32 (the last one partial) per epoch."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(170, 6, generator=gen, dtype=torch.float64)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return x, y


def one_by_one(member, x, y, activation, **options):
    model = CompactMLP.seeded(member.seed, x.shape[1], (12, 8), 3, activation=activation,
                              **spectral_norm_options(member.method))
    return fit(model, x, y, task="classification", method=member.method, lam=member.lam,
               seed=member.seed, device="cpu", **options)


def test_members_cover_every_method():
    assert {m.method for m in MEMBERS} == set(ENSEMBLE_METHODS)


@pytest.mark.parametrize("activation", ["relu", "poly"])
def test_equals_fit_one_by_one(float64, blobs, activation):
    """~200 AdamW steps: parameters, SN vectors and loss histories agree to 1e-10."""
    x, y = blobs
    options = dict(epochs=34, batch_size=32, lr=1e-2, weight_decay=1e-2)
    together = fit_ensemble(MEMBERS, x, y, (12, 8), activation=activation, out_features=3,
                            device="cpu", **options)
    for member, result in zip(MEMBERS, together):
        reference = one_by_one(member, x, y, activation, **options)
        ours, theirs = result.model.state_dict(), reference.model.state_dict()
        assert list(ours) == list(theirs)  # same architecture, SN buffers included
        for key in theirs:
            torch.testing.assert_close(ours[key], theirs[key], rtol=1e-10, atol=1e-10, msg=key)
        assert [h["epoch"] for h in result.history] == list(range(1, 35))
        for a, b in zip(result.history, reference.history):
            assert a["train_task_loss"] == pytest.approx(b["train_task_loss"], rel=1e-10)
        assert not result.diverged and result.seconds > 0


def test_regression_task_equals_fit(float64):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(96, 4, generator=gen, dtype=torch.float64)
    y = x[:, :1] ** 2 - x[:, 1:2]
    members = [Member(5, "dreg", 0.1), Member(6, "igp", 0.1)]
    together = fit_ensemble(members, x, y, (8,), activation="poly", task="regression", epochs=5,
                            batch_size=16, lr=1e-2, device="cpu")
    for member, result in zip(members, together):
        model = CompactMLP.seeded(member.seed, 4, (8,), 1, activation="poly")
        fit(model, x, y, method=member.method, lam=member.lam, epochs=5, batch_size=16, lr=1e-2,
            seed=member.seed, device="cpu")
        for a, b in zip(result.model.parameters(), model.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_spectral_norm_members_apart_equal_fit(float64, blobs):
    """SN members that are not side by side (no single block of weights) train as fit does."""
    x, y = blobs
    members = [Member(0, "sn"), Member(1, "dreg", 0.05), Member(2, "sn")]
    options = dict(epochs=4, batch_size=32, lr=1e-2, weight_decay=1e-2)
    together = fit_ensemble(members, x, y, (12, 8), out_features=3, device="cpu", **options)
    for member, result in zip(members, together):
        reference = one_by_one(member, x, y, "relu", **options)
        for key, value in reference.model.state_dict().items():
            torch.testing.assert_close(result.model.state_dict()[key], value, rtol=1e-10, atol=1e-10, msg=key)


def test_dreg_terms_are_each_members_cr_penalty_and_detached_norms_keep_only_the_z_path(float64):
    """StackedMLP.dreg_terms equals penalties.dreg_penalty per member; with detach_norms the value
    is the same and its gradient plus the closed-form norm gradient is the full gradient."""
    from dreg_utils.penalties import dreg_penalty

    models = [CompactMLP.seeded(s, 5, (7, 6), 2, activation="poly") for s in range(3)]
    net = StackedMLP(models)
    x = torch.randn(11, 5, dtype=torch.float64)
    trace = net.trace(x.expand(3, *x.shape))
    expected = torch.stack([dreg_penalty(m, x) for m in models])
    torch.testing.assert_close(net.dreg_terms(trace), expected)
    torch.testing.assert_close(net.dreg_terms(trace, block=slice(1, 3)), expected[1:])
    lam = torch.tensor([0.0, 0.3, 0.7], dtype=torch.float64)
    full = torch.autograd.grad((lam * net.dreg_terms(trace)).sum(), list(net.weights), retain_graph=True)
    for w in net.weights:  # in a step the task loss gives every weight a gradient
        w.grad = torch.zeros_like(w)
    (lam * net.dreg_terms(trace, detach_norms=True)).sum().backward()
    net.add_dreg_gradient_(trace, lam.detach(), [1, 2])
    for ours, reference in zip(net.weights, full):
        torch.testing.assert_close(ours.grad, reference)


def test_exported_models_match_the_stack_in_eval_mode(float64, blobs):
    x, _ = blobs
    models = [CompactMLP.seeded(s, 6, (12, 8), 3, spectral_norm=s % 2 == 1) for s in range(4)]
    net = StackedMLP(models).eval()
    stacked = net(x.expand(4, *x.shape))
    for i, model in enumerate(models):
        copy = CompactMLP.seeded(99, 6, (12, 8), 3, spectral_norm=model.uses_spectral_norm).eval()
        net.copy_member_to_(i, copy)
        torch.testing.assert_close(copy(x), stacked[i])
        torch.testing.assert_close(model.eval()(x), stacked[i])


def test_build_group_stacks_the_seeded_models():
    members = [Member(3, "sn"), Member(4, "base")]
    models, net, optimizer = build_group(members, 5, (6,), 2, activation="poly", lr=0.5, weight_decay=0.1)
    assert [m.uses_spectral_norm for m in models] == [True, False] and net.training
    assert net.weights[0].shape == (2, 5, 6) and net.sn_index.tolist() == [0]
    assert optimizer.defaults["fused"] and optimizer.defaults["lr"] == 0.5
    reference = CompactMLP.seeded(4, 5, (6,), 2, activation="poly")
    torch.testing.assert_close(net.weights[0][1], reference.layers[0].weight.T)


def test_a_nan_member_does_not_touch_the_others(blobs):
    """Members share no arithmetic: NaN weights in one leave the others' steps unchanged."""
    x, y = blobs
    x = x.float()
    members = [Member(0, "igp", 0.1), Member(1, "dreg", 0.1)]

    def two_steps(poisoned: bool) -> list[torch.Tensor]:
        models = [CompactMLP.seeded(m.seed, 6, (12, 8), 3) for m in members]
        if poisoned:
            with torch.no_grad():
                models[1].layers[0].weight[0, 0] = float("nan")
        net = StackedMLP(models).train()
        step = make_group_step(net, torch.optim.AdamW(net.parameters(), lr=1e-2), members, "classification")
        for _ in range(2):
            losses = step(x[:32].expand(2, 32, 6), y[:32].expand(2, 32))
        assert torch.isnan(losses[1]) == poisoned
        return [w[0].clone() for w in net.weights]

    for clean, poisoned in zip(two_steps(False), two_steps(True)):
        assert torch.equal(clean, poisoned)


def test_divergence_is_reported_per_member_like_fit(blobs):
    x, y = blobs
    x = x.float()
    options = dict(epochs=4, batch_size=32, lr=1e6, weight_decay=1e-2)
    members = [Member(0, "base"), Member(1, "dreg", 0.1)]
    together = fit_ensemble(members, x, y, (12, 8), activation="poly", device="cpu", **options)
    for member, result in zip(members, together):
        reference = one_by_one(member, x, y, "poly", **options)
        assert result.diverged and reference.diverged
        assert result.diverged_epoch == reference.diverged_epoch
        assert f"epoch {result.diverged_epoch}" in result.diverged_reason
        assert len(result.history) == result.diverged_epoch - 1


@pytest.mark.parametrize("make, error, pattern", [
    (lambda: check_members([Member(0, "dropout")]), ValueError,
     r"method='dropout' is not valid; choose one of " + re.escape(str(list(ENSEMBLE_METHODS)))),
    (lambda: check_members([Member(0, "dreg", -1e-3)]), ValueError,
     r"^members\[0\].lam=-0.001 is not valid; it must be >= 0"),
    (lambda: build_group([Member(0), Member(-1)], 3, (4,), 2), ValueError, r"^members\[1\].seed=-1 is not valid"),
    (lambda: fit_ensemble([], torch.zeros(4, 2), torch.zeros(4).long(), (3,)), ValueError,
     r"members must be a non-empty list"),
    (lambda: fit_ensemble([(0, "base", 0.0)], torch.zeros(4, 2), torch.zeros(4).long(), (3,)), TypeError,
     r"members must be Member\(seed, method, lam\) objects, got \(0, 'base', 0.0\)"),
    (lambda: fit_ensemble([Member(0)], torch.zeros(4, 2), torch.zeros(4).long(), (3,), activation="gelu"),
     ValueError, r"activation='gelu' is not valid; choose one of \['relu', 'poly', 'tanh'\]"),
    (lambda: fit_ensemble([Member(0)], torch.zeros(4, 2), torch.zeros(5).long(), (3,)), ValueError,
     r"one row per target"),
    (lambda: fit_ensemble([Member(0)], torch.zeros(4, 2), torch.zeros(4).long(), (3,), epochs=0),
     ValueError, r"epochs=0 is not valid"),
    (lambda: StackedMLP([CompactMLP(3, (4,), 2), CompactMLP(3, (5,), 2)]), ValueError,
     r"models\[1\] differs from models\[0\]"),
    (lambda: StackedMLP([CompactMLP(3, (4,), 2, activation="relu"), CompactMLP(3, (4,), 2, activation="poly")]),
     ValueError, r"models\[1\] differs from models\[0\] in layer shapes or activation"),
    (lambda: StackedMLP([CompactMLP(3, (4,), 2, activation="poly", trainable_poly=True)]), ValueError,
     r"trainable polynomial coefficients"),
])
def test_bad_arguments(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


@pytest.mark.parametrize("activation", ["relu", "poly", "tanh"])
@pytest.mark.parametrize("in_features", [5, 9])  # fewer inputs than first-layer units (J itself), more (Gram)
def test_output_jacobian_penalty_equals_jacrev(float64, activation, in_features):
    """||d f / d x||_F^2 per member and sample against torch.func.jacrev of each member alone,
    SN members included (their forward divides by sigma)."""
    from torch.func import jacrev, vmap

    members = [Member(0, "jacobian", 0.1), Member(1, "sn"), Member(2, "base")]
    models, net, _ = build_group(members, in_features, (7, 6), 4, activation=activation)
    x = torch.randn(3, 9, in_features, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    ours = net.output_jacobian_sq(net.trace(x))
    for s, model in enumerate(models):
        model.train()  # SN: the same single power-iteration step as the stacked forward
        jac = vmap(jacrev(lambda v: model(v.unsqueeze(0)).squeeze(0)))(x[s])  # [B, out, in]
        torch.testing.assert_close(ours[s], jac.pow(2).sum(dim=(1, 2)), rtol=1e-10, atol=1e-12)
