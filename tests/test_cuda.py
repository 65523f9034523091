"""The CUDA path: the same training on the GPU as on the CPU, and no host-device sync inside a
training step. Runs where CUDA is available; elsewhere every test skips and says why."""
import pytest
import torch

from dreg_utils.ensemble import Member, build_group, fit_ensemble, make_group_step
from dreg_utils.models import CompactMLP
from dreg_utils.train import fit

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="CUDA is not available on this machine (the CPU path is tested elsewhere)")
MEMBERS = [Member(0, "base"), Member(1, "dreg", 0.1), Member(0, "igp", 0.1), Member(1, "sn")]


def data(n: int = 256):
    gen = torch.Generator().manual_seed(0)
    return torch.rand(n, 20, generator=gen), torch.randint(0, 10, (n,), generator=gen)


@pytest.mark.parametrize("activation", ["relu", "poly"])
def test_fit_ensemble_on_cuda_equals_the_cpu(activation):
    x, y = data()
    kwargs = dict(activation=activation, task="classification", out_features=10, epochs=2, batch_size=32)
    cpu = fit_ensemble(MEMBERS, x, y, (16, 8), device="cpu", **kwargs)
    gpu = fit_ensemble(MEMBERS, x, y, (16, 8), device="cuda", **kwargs)
    for a, b in zip(cpu, gpu):
        for pa, pb in zip(a.model.parameters(), b.model.parameters()):
            torch.testing.assert_close(pa.detach(), pb.detach().cpu(), rtol=1e-4, atol=1e-5)


def test_fit_on_cuda_equals_the_cpu():
    x, y = data()
    models = [CompactMLP.seeded(0, 20, (16, 8), 10) for _ in range(2)]
    for model, device in zip(models, ("cpu", "cuda")):
        fit(model, x, y, task="classification", method="dreg", lam=0.1, epochs=2, batch_size=32, device=device)
    for pa, pb in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(pa.detach(), pb.detach().cpu(), rtol=1e-4, atol=1e-5)


def test_a_group_step_does_not_synchronise_with_the_host():
    _, net, optimizer = build_group(MEMBERS, 20, (16, 8), 10, device="cuda")
    step = make_group_step(net, optimizer, MEMBERS)
    x, y = data(4 * 32)
    xb, yb = x.view(4, 32, 20).cuda(), y.view(4, 32).cuda()
    step(xb, yb)  # warm-up: first calls may allocate and synchronise
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            step(xb, yb)
    finally:
        torch.cuda.set_sync_debug_mode("default")
