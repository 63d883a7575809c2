"""Does the ENAS controller's hidden state encode what it decided? Hidden-state similarity against graph similarity.

"Understanding Neural Architecture Search Techniques" (Adam & Lorraine 2019) asks whether architectures the
controller holds in similar hidden states are similar graphs; for ENAS they found no correlation, and training
with a memory buffer raised it. ``hidden_state_correlation`` measures it for an ``ENASPathSampler``: it draws
``n`` children, keeps the distinct ones, takes the controller's top hidden state after it has read each whole
child, and correlates, over all pairs of distinct children, the cosine similarity of the two states with minus the
graph edit distance of the two cells. Repeats are dropped because a trained controller that draws few children
would otherwise fill the pairs with copies (distance 0, cosine 1) and look correlated for that reason alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nas.architecture import Architecture
from nas.metrics import kendall_tau, spearman_rho


def edit_distance(a: Architecture, b: Architecture) -> int:
    """The graph edit distance of two cells of one space whose decisions label a fixed set of edges (NAS-Bench-
    201: the op on each of the 6 edges of a 4-node DAG): with the nodes and edges fixed, the cheapest edit is one
    substitution per edge whose op differs, so the distance is the number of differing decisions.

    Example:
        >>> edit_distance(Architecture({"e1": "conv", "e2": "skip"}), Architecture({"e1": "conv", "e2": "none"}))
        1
    """
    return sum(a[name] != b[name] for name in a)


def hidden_state_correlation(sampler, n: int = 200, key: int = 1_000_003) -> dict[str, float]:
    """Over all pairs of the distinct children among ``n`` drawn by ``sampler`` (``propose(key, n)``): Spearman
    and Kendall correlation of hidden-state cosine similarity with minus the edit distance, the mean cosine
    similarity of pairs at each edit distance, and how many children were distinct.

    Example:
        >>> from samplers import ENASPathSampler
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> result = hidden_state_correlation(ENASPathSampler(NB201SearchSpace(), seed=0), n=30)
        >>> result["pairs"], -1.0 <= result["spearman"] <= 1.0
        (435, True)
    """
    archs = list(dict.fromkeys(sampler.propose(key, n)))  # distinct, in the order drawn
    states = sampler.hidden_states(archs).double().numpy()
    return correlation_of(archs, states)


def correlation_of(archs: Sequence[Architecture], states: np.ndarray) -> dict[str, float]:
    """The statistics of ``hidden_state_correlation`` for given distinct children and their hidden states (n, h).

    Example:
        >>> archs = [Architecture({"e1": a, "e2": b}) for a, b in (("x", "x"), ("x", "y"), ("y", "y"))]
        >>> r = correlation_of(archs, np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))
        >>> r["pairs"], r["spearman"], round(r["cosine_at_distance_1"], 3), r["cosine_at_distance_2"]
        (3, 1.0, 0.707, 0.0)
    """
    if len(set(archs)) != len(archs):
        raise ValueError("correlation_of needs distinct children: drop the repeats first")
    unit = states / np.maximum(np.linalg.norm(states, axis=1, keepdims=True), 1e-12)
    cosine = unit @ unit.T
    i, j = np.triu_indices(len(archs), k=1)
    similarity = cosine[i, j]
    distance = np.array([edit_distance(archs[a], archs[b]) for a, b in zip(i, j)], dtype=float)
    by_distance = {f"cosine_at_distance_{int(d)}": float(similarity[distance == d].mean())
                   for d in np.unique(distance)}
    return {"pairs": int(len(i)), "distinct": len(set(archs)),
            "spearman": spearman_rho(similarity, -distance), "kendall": kendall_tau(similarity, -distance),
            **by_distance}
