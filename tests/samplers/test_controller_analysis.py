"""The ENAS hidden-state analysis: pairs of distinct children only, statistics equal to a hand computation."""

import numpy as np
import pytest

from nas.architecture import Architecture
from samplers.path.controller_analysis import correlation_of, edit_distance, hidden_state_correlation


class Repeating:
    """A stand-in controller that draws the same four cells over and over; its hidden state is one-hot by cell."""

    def __init__(self) -> None:
        self.cells = [Architecture({"e1": a, "e2": b}) for a, b in (("x", "x"), ("x", "y"), ("y", "x"), ("y", "y"))]

    def propose(self, key: int, n: int) -> list[Architecture]:
        return [self.cells[i % 4] for i in range(n)]

    def hidden_states(self, archs) -> "torch.Tensor":
        import torch

        return torch.tensor([[float(a["e1"] == "y"), float(a["e2"] == "y"), 1.0] for a in archs])


def test_repeats_are_dropped_before_pairing():
    result = hidden_state_correlation(Repeating(), n=40)
    assert (result["distinct"], result["pairs"]) == (4, 6)  # C(4, 2), not C(40, 2) pairs full of copies


def test_statistics_equal_a_hand_computation():
    sampler = Repeating()
    result = hidden_state_correlation(sampler, n=4)
    # hidden states (0,0,1) (0,1,1) (1,0,1) (1,1,1), one per cell; the six pairs by hand
    states = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
    unit = states / np.linalg.norm(states, axis=1, keepdims=True)
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    cosine = {p: float(unit[p[0]] @ unit[p[1]]) for p in pairs}
    distance = {p: edit_distance(sampler.cells[p[0]], sampler.cells[p[1]]) for p in pairs}
    assert [distance[p] for p in pairs] == [1, 1, 2, 2, 1, 1]
    at_one = np.mean([cosine[p] for p in pairs if distance[p] == 1])
    at_two = np.mean([cosine[p] for p in pairs if distance[p] == 2])
    assert result["cosine_at_distance_1"] == pytest.approx(at_one)
    assert result["cosine_at_distance_2"] == pytest.approx(at_two)
    # cosines at distance 1: 1/sqrt2, 1/sqrt2, sqrt(2/3), sqrt(2/3); at distance 2: 1/sqrt3 and 1/2
    assert at_one == pytest.approx((2 / np.sqrt(2) + 2 * np.sqrt(2 / 3)) / 4)
    assert at_two == pytest.approx((1 / np.sqrt(3) + 0.5) / 2)
    assert result["spearman"] > 0.8  # every distance-1 pair is more similar than every distance-2 pair


def test_repeated_children_are_refused():
    cell = Architecture({"e1": "x"})
    with pytest.raises(ValueError, match="distinct"):
        correlation_of([cell, cell], np.ones((2, 2)))
