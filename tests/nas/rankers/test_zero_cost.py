"""Each zero-cost proxy against an independent numpy computation on a tiny Linear-ReLU-Linear network."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from nas.rankers.zero_cost import (
    ActivationCodes,
    fisher,
    grad_norm,
    jacob_cov,
    naswot,
    snip,
    synflow,
)

IN, HIDDEN, OUT, N = 4, 16, 3, 6


@pytest.fixture
def weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {"w1": rng.normal(size=(HIDDEN, IN)), "b1": rng.normal(size=HIDDEN) * 0.3,
            "w2": rng.normal(size=(OUT, HIDDEN)), "b2": rng.normal(size=OUT) * 0.3,
            "x": rng.normal(size=(N, IN)), "y": rng.integers(0, OUT, size=N)}


def tiny_net(w: dict[str, np.ndarray]) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUT)).double()
    with torch.no_grad():
        for layer, key in ((net[0], "1"), (net[2], "2")):
            layer.weight.copy_(torch.from_numpy(w[f"w{key}"]))
            layer.bias.copy_(torch.from_numpy(w[f"b{key}"]))
    return net


def batch(w):
    return [(torch.from_numpy(w["x"]), torch.from_numpy(w["y"]).long())]


def backprop(w):
    """Forward and backward of the mean cross-entropy by hand: pre-activations and gradients."""
    x, y = w["x"], w["y"]
    z1 = x @ w["w1"].T + w["b1"]
    a = np.maximum(z1, 0.0)
    z2 = a @ w["w2"].T + w["b2"]
    p = np.exp(z2 - z2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    dz2 = (p - np.eye(OUT)[y]) / len(y)
    dw2 = dz2.T @ a
    dz1 = (dz2 @ w["w2"]) * (z1 > 0)
    dw1 = dz1.T @ x
    return {"z1": z1, "z2": z2, "dz1": dz1, "dz2": dz2, "dw1": dw1, "dw2": dw2}


def test_synflow_equals_the_hand_formula(weights):
    w1, b1, w2 = np.abs(weights["w1"]), np.abs(weights["b1"]), np.abs(weights["w2"])
    h = w1 @ np.ones(IN) + b1                       # all-ones input, positive: the ReLU passes it
    # R = 1^T (|W2| h + |b2|): dR/dW2[i, j] = h_j, dR/dW1[j, k] = sum_i |W2[i, j]|
    expected = (w2 * h[None, :]).sum() + (w1 * w2.sum(0)[:, None]).sum()
    assert synflow(tiny_net(weights), batch(weights)) == pytest.approx(expected, rel=1e-12)


def test_synflow_switches_batchnorm_off_and_uses_double_precision(weights):
    net = tiny_net(weights).float()  # a float32 model: synflow computes in float64 all the same
    with_norm = nn.Sequential(copy.deepcopy(net[0]), nn.BatchNorm1d(HIDDEN), nn.ReLU(), copy.deepcopy(net[2]))
    without = synflow(net, batch(weights))
    assert synflow(with_norm, batch(weights)) == pytest.approx(without, rel=1e-12)
    assert with_norm[0].weight.dtype == torch.float64
    assert without == pytest.approx(synflow(tiny_net(weights), batch(weights)), rel=1e-6)  # float32 weights


def test_snip_grad_norm_and_fisher_equal_hand_backprop(weights):
    g = backprop(weights)
    expected_snip = np.abs(weights["w1"] * g["dw1"]).sum() + np.abs(weights["w2"] * g["dw2"]).sum()
    expected_norm = np.linalg.norm(g["dw1"]) + np.linalg.norm(g["dw2"])
    # Fisher: per output channel k of each linear layer, 0.5 * mean_n (act_nk * dL/dact_nk)^2, times the
    # channel's weights (fan-in), as the zero-cost-proxies authors' per-parameter sum does
    channel1 = 0.5 * ((g["z1"] * g["dz1"]) ** 2).mean(0)
    channel2 = 0.5 * ((g["z2"] * g["dz2"]) ** 2).mean(0)
    expected_fisher = channel1.sum() * IN + channel2.sum() * HIDDEN
    assert snip(tiny_net(weights), batch(weights)) == pytest.approx(expected_snip, rel=1e-10)
    assert grad_norm(tiny_net(weights), batch(weights)) == pytest.approx(expected_norm, rel=1e-10)
    assert fisher(tiny_net(weights), batch(weights)) == pytest.approx(expected_fisher, rel=1e-10)


def test_gradient_proxies_accumulate_over_batches(weights):
    first = {k: (v[:3] if k in ("x", "y") else v) for k, v in weights.items()}
    second = {k: (v[3:] if k in ("x", "y") else v) for k, v in weights.items()}
    g1, g2 = backprop(first), backprop(second)
    dw1, dw2 = g1["dw1"] + g2["dw1"], g1["dw2"] + g2["dw2"]  # each batch's mean loss, gradients summed
    two = batch(first) + batch(second)
    assert snip(tiny_net(weights), two) == pytest.approx(
        np.abs(weights["w1"] * dw1).sum() + np.abs(weights["w2"] * dw2).sum(), rel=1e-10)
    assert grad_norm(tiny_net(weights), two) == pytest.approx(np.linalg.norm(dw1) + np.linalg.norm(dw2), rel=1e-10)


def test_jacob_cov_equals_the_authors_formula(weights):
    g = backprop(weights)
    # d(sum of outputs)/dx_n = W1^T (mask_n * W2^T 1): no BatchNorm, so examples do not interact
    jac = ((g["z1"] > 0) * weights["w2"].sum(0)[None, :]) @ weights["w1"]
    v, _ = np.linalg.eig(np.corrcoef(jac))
    expected = -np.sum(np.log(v.real + 1e-5) + 1.0 / (v.real + 1e-5))
    assert jacob_cov(tiny_net(weights), batch(weights)) == pytest.approx(expected, rel=1e-9)


def test_jacob_cov_of_an_output_independent_of_the_input_is_minus_infinity(weights):
    net = nn.Sequential(nn.Linear(IN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, OUT)).double()
    with torch.no_grad():
        net[0].weight.zero_()
    assert jacob_cov(net, batch(weights)) == -math.inf


def test_naswot_equals_the_log_determinant_of_hand_counted_agreements(weights):
    codes = backprop(weights)["z1"] > 0
    kernel = np.array([[np.sum(codes[i] == codes[j]) for j in range(N)] for i in range(N)], dtype=float)
    sign, expected = np.linalg.slogdet(kernel)
    assert sign > 0 and len({tuple(c) for c in codes}) == N
    assert naswot(tiny_net(weights), batch(weights)) == pytest.approx(expected, rel=1e-12)


def test_naswot_of_two_identical_codes_is_minus_infinity(weights):
    same = dict(weights, x=np.repeat(weights["x"][:1], N, axis=0))
    assert naswot(tiny_net(same), batch(same)) == -math.inf


class Functional(nn.Module):
    """ReLUs called three ways: a module, ``torch.relu`` and ``F.relu``."""

    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()

    def forward(self, x):
        return torch.nn.functional.relu(torch.relu(self.act(x) - 0.5) - 0.1)


def test_activation_codes_see_module_and_functional_relus_once_each():
    x = torch.tensor([[1.0, 0.2, -3.0]])
    with ActivationCodes() as recorder:
        Functional()(x)
    assert [c.tolist() for c in recorder.codes] == [[[1.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]]]


def test_activation_codes_record_relu6_but_not_other_hardtanh():
    x = torch.tensor([[-1.0, 2.0]])
    with ActivationCodes() as recorder:
        nn.ReLU6()(x)
        nn.Hardtanh(-1.0, 1.0)(x)
    assert [c.tolist() for c in recorder.codes] == [[[0.0, 1.0]]]


def test_naswot_without_rectifiers_is_a_clear_error(weights):
    from nas.errors import ConfigError

    with pytest.raises(ConfigError, match="no ReLU-like activation"):
        naswot(nn.Linear(IN, OUT).double(), batch(weights))
