"""The "Use it in your own model" study (notebook 09): settings, data, measurements, tables."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.func import jacrev, vmap

from dreg_utils.book import own_model_text
from dreg_utils.studies import own_model as study


def tanh_model(outputs: int = 1) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, outputs))


def jacobians(model, x):
    return vmap(jacrev(lambda v: model(v.unsqueeze(0)).squeeze(0)))(x).detach()


def test_profiles_and_the_regularisers_they_build():
    smoke = study.OwnModelSettings.from_profile("smoke")
    assert smoke.seeds == [0] and smoke.hidden == [16, 16] and smoke.methods == ["none", "dreg", "jacobian", "igp"]
    made = study.regularisers(smoke.replace(methods=["none", "jacobian"], n_projections=2, distribution="sphere",
                                            jacobian_lam=0.5))
    assert list(made) == ["none", "jacobian"]
    reg, lam = made["jacobian"]
    assert (reg.method, reg.n_projections, reg.distribution, lam) == ("jacobian", 2, "sphere", 0.5)
    assert made["none"][1] == 0.0
    assert study.regularisers(smoke.replace(n_projections=None))["jacobian"][0].n_projections is None


def test_load_data_gives_the_family_with_the_requested_sizes():
    data = study.load_data(study.OwnModelSettings.from_profile("smoke", n_train=40, n_test=30))
    assert data.x_train.shape == (40, 10) and data.y_train.shape == (40, 1) and data.x_test.shape == (30, 10)
    assert "piecewise" in data.source and bool(((data.x_train >= -1) & (data.x_train <= 1)).all())


def test_measure_reads_the_test_split(float64):
    model = tanh_model()
    data = study.load_data(study.OwnModelSettings.from_profile("smoke", n_train=20, n_test=50))
    data = type(data)(*(t.double() for t in (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test,
                                              data.y_test)), source=data.source)
    got = study.measure(model.double(), data)
    norms = jacobians(model, data.x_test).pow(2).sum(dim=(1, 2)).sqrt().numpy()
    expected_mse = float(((model(data.x_test) - data.y_test) ** 2).mean().detach())
    assert got["test_mse"] == pytest.approx(expected_mse, rel=1e-12)
    assert got["grad_p99"] == pytest.approx(float(np.percentile(norms, 99)), rel=1e-10)
    assert got["grad_max"] == pytest.approx(float(norms.max()), rel=1e-10) and model.training


def test_summarize_divides_by_the_unregularised_run_of_the_same_activation(tmp_path):
    rows = [{"activation": a, "method": m, "lam": lam, "seed": s, "test_mse": mse + s * 0.01, "grad_mean": 1.0,
             "grad_p99": p99 * (1 + s), "grad_max": 5.0, "train_s": 0.1}
            for a, scale in (("relu", 1.0), ("tanh", 2.0))
            for m, lam, mse, p99 in (("none", 0.0, 0.2 * scale, 4.0 * scale), ("dreg", 0.01, 0.3 * scale, 1.0 * scale))
            for s in (0, 1)]
    summary = study.summarize(pd.DataFrame(rows))
    dreg = summary[summary["method"] == "dreg"].set_index("activation")
    assert dreg.loc["relu", "grad_p99_vs_none"] == pytest.approx(0.25) and dreg.loc["tanh", "grad_p99_vs_none"] == pytest.approx(0.25)
    assert dreg.loc["tanh", "test_mse_vs_none"] == pytest.approx(0.605 / 0.405)
    assert study.save_runs(pd.DataFrame(rows), tmp_path).read_text().startswith("activation,method,lam,seed")
    with pytest.raises(ValueError, match=r"the run table lacks the columns \['train_s'\]"):
        study.save_runs(pd.DataFrame(rows).drop(columns="train_s"), tmp_path)


@pytest.mark.parametrize("outputs, projections, tolerance", [(1, 1, 1e-12), (3, 20_000, 0.03)])
def test_conventions_jacobianreg_is_half_of_ours(float64, outputs, projections, tolerance):
    """JacobianReg's value is half the batch mean of ||J||_F^2: exactly with one output, in
    expectation with three."""
    model = tanh_model(outputs)
    x = torch.randn(16, 10)
    table = study.conventions(model, x, n_projections=projections, generator=torch.Generator().manual_seed(1))
    exact = float(jacobians(model, x).pow(2).sum(dim=(1, 2)).mean())
    assert table["value"].iloc[0] == pytest.approx(exact, rel=1e-12)
    assert table["value"].iloc[1] == pytest.approx(exact / 2, rel=tolerance)
    assert table["convention"].tolist() == ["jacobian", "jacobianreg", "dreg"]
    assert table["lambda_factor"].tolist() == [1.0, 2.0, 1.0]
    assert table["projections"].tolist() == [0, projections, 0]
    shown = own_model_text.conventions_display(table)
    assert shown["same objective with"].tolist() == ["lambda", "2 x lambda", "lambda"]
    assert shown["definition"].iloc[1] == f"(1/2) E_b k ||v^T J||^2, {projections} sphere projection(s)"
    assert shown["value"].tolist() == table["value"].tolist()
