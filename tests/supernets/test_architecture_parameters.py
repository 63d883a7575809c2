"""ArchitectureParameters: logits per decision, weights, regulariser, argmax discretisation, state_dict."""

from __future__ import annotations

import pytest
import torch

from nas.errors import ConfigError
from supernets.architecture_parameters import ArchitectureParameters
from supernets.weight_maps import Dirichlet, Softmax

DECISIONS = {"1<-0": ("none", "skip_connect", "nor_conv_3x3"), "width": (0.5, 1.0)}


def test_derive_is_the_argmax_per_decision_and_table_records_logits_and_weights():
    alphas = ArchitectureParameters(DECISIONS, init_std=0.0)
    with torch.no_grad():
        alphas.logit("1<-0").copy_(torch.tensor([0.1, -1.0, 0.4]))
        alphas.logit("width").copy_(torch.tensor([0.3, 0.2]))
    assert alphas.derive() == {"1<-0": "nor_conv_3x3", "width": 0.5}
    table = alphas.table(Softmax())
    assert table["1<-0"]["nor_conv_3x3"]["logit"] == pytest.approx(0.4)
    assert sum(v["weight"] for v in table["1<-0"].values()) == pytest.approx(1.0)
    assert table["width"]["0.5"]["weight"] == pytest.approx(float(torch.softmax(torch.tensor([0.3, 0.2]), 0)[0]))


def test_weights_regulariser_and_state_round_trip():
    torch.manual_seed(0)
    alphas = ArchitectureParameters(DECISIONS)
    assert all(float(p.detach().abs().max()) < 0.01 for p in alphas.parameters())  # DARTS' init: 1e-3 * N(0, 1)
    weights = alphas.weights(Softmax(), 0.0)
    assert set(weights) == set(DECISIONS) and weights["1<-0"].shape == (3,)
    drnas = Dirichlet(kl_weight=1.0)
    expected = sum(drnas.regulariser(p) for p in alphas.parameters())
    assert float(alphas.regulariser(drnas).detach()) == pytest.approx(float(expected.detach()))
    other = ArchitectureParameters(DECISIONS)
    other.load_state_dict(alphas.state_dict())
    assert other.derive() == alphas.derive()
    assert all(torch.equal(a, b) for a, b in zip(alphas.parameters(), other.parameters()))


def test_bad_decisions_are_refused():
    with pytest.raises(ConfigError, match="at least one decision"):
        ArchitectureParameters({})
    with pytest.raises(ConfigError, match="no architecture parameters for decision 'depth'"):
        ArchitectureParameters(DECISIONS).logit("depth")
