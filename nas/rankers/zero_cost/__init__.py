"""Zero-cost proxies: scores of a freshly initialised network from a few training batches, no training.

Each proxy is a function ``proxy(model, batches) -> float`` (higher predicts better);
:class:`ZeroCostRanker` applies one to a fresh model of every child.
"""

from nas.rankers.zero_cost.activations import ActivationCodes
from nas.rankers.zero_cost.fisher import fisher
from nas.rankers.zero_cost.grad_norm import grad_norm
from nas.rankers.zero_cost.jacob_cov import jacob_cov, jacobian_score
from nas.rankers.zero_cost.layers import batchnorm_as_identity, weighted_layers
from nas.rankers.zero_cost.naswot import activation_kernel, naswot
from nas.rankers.zero_cost.ranker import PROXIES, Proxy, ZeroCostRanker, draw_batches
from nas.rankers.zero_cost.snip import snip
from nas.rankers.zero_cost.synflow import synflow

__all__ = [
    "PROXIES",
    "ActivationCodes",
    "Proxy",
    "ZeroCostRanker",
    "activation_kernel",
    "batchnorm_as_identity",
    "draw_batches",
    "fisher",
    "grad_norm",
    "jacob_cov",
    "jacobian_score",
    "naswot",
    "snip",
    "synflow",
    "weighted_layers",
]
