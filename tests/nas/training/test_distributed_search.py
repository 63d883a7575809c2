"""The bilevel methods (DARTS first and second order / TangleNAS, RARTS, GDAS) and ENAS' controller on 2 gloo ranks.

The scenarios run once per module in one 2-rank job (``distributed_search_worker``); the comparisons with one
process and the global batch run that process here. ENAS is exactly comparable: its children are a function of
(seed, step, controller), and a reward is an accuracy on 4 + 4 or 8 images, a multiple of 1/8 that averaging over
the ranks gives exactly, so 2 ranks and 1 process take the same controller updates bit for bit (the shared weights
differ by rounding only; an argmax near a tie could flip a reward, which these fixed seeds do not meet).
"""

from __future__ import annotations

import pytest
import torch

from nas.training.distributed import Distributed, state_tensors, tensor_hash
from tests.nas.training import distributed_search_worker as worker
from tests.nas.training.distributed_worker import VIT_SPACE, spawn
from tests.nas.training.test_distributed import max_difference

SCENARIOS = [*worker.SCENARIOS]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> dict[str, list[dict]]:
    """scenario -> [rank 0's result, rank 1's result]."""
    out = tmp_path_factory.mktemp("two_ranks_search")
    spawn(out, SCENARIOS, registry=worker.__name__)
    return {name: [torch.load(out / f"{name}_rank{r}.pt", weights_only=False) for r in (0, 1)] for name in SCENARIOS}


@pytest.mark.parametrize("variant", worker.BILEVEL)
def test_two_ranks_of_b_equal_one_rank_of_2b_for_bilevel_search(ranks, tmp_path, variant):
    """Weights and architecture parameters after 6 steps, float64, BatchNorm-free ViT (DARTS on it is TangleNAS)."""
    first, second = ranks[f"bilevel_vit_{variant}"]
    one_rank = worker.bilevel_vit(tmp_path, rank=0, variant=variant)   # this process: the global batch of 16
    assert first["steps"] == one_rank["steps"] == 6
    assert all(v.dtype == torch.float64 for v in [*one_rank["weights"].values(), *one_rank["alphas"].values()])
    assert max_difference(first["alphas"], second["alphas"]) == 0.0
    assert max_difference(first["weights"], second["weights"]) == 0.0
    assert max_difference(first["alphas"], one_rank["alphas"]) <= 1e-6
    assert max_difference(first["weights"], one_rank["weights"]) <= 1e-6
    assert max_difference(one_rank["alphas"], one_rank["initial"]) > 0.1, "the architecture must have moved"
    assert first["found"] == second["found"] == one_rank["found"]


def test_a_killed_two_rank_bilevel_run_resumes_exactly(ranks):
    for result in ranks["bilevel_resume"]:
        for map_name in ("darts", "gdas"):  # GDAS: the Gumbel draws continue from rank 0's saved generator too
            run = result[map_name]
            assert run["steps"] == (8, 8)
            assert run["resumed_archs"] == run["reference_archs"][3:]  # resumed from the checkpoint at step 3
            assert max_difference(run["reference"], run["resumed"]) == 0.0
            assert max_difference(run["alphas"], run["initial"]) > 1e-3, "the architecture must have moved"
    first, second = ranks["bilevel_resume"]
    for map_name in ("darts", "gdas"):
        assert max_difference(first[map_name]["resumed"], second[map_name]["resumed"]) == 0.0


def test_architecture_parameters_that_differ_across_ranks_stop_the_run(ranks):
    for result in ranks["alpha_divergence"]:
        assert result["step"] == 3  # nudged after step 2 (index 1), caught at the check after index 3
        assert result["error"].startswith("ranks hold different architecture/")
        assert "after step 3 (hash of architecture/" in result["error"] and "ranks [1]" in result["error"]


def test_enas_ranks_hold_the_same_controller_and_draw_the_same_children(ranks):
    first, second = ranks["enas_vit"]
    assert first["steps"] == 12 and len(first["updates"]) == 12  # 6 phases of 2 updates
    assert first["archs"] == second["archs"] and first["updates"] == second["updates"]
    assert max_difference(first["controller"], second["controller"]) == 0.0
    assert first["baseline"] == second["baseline"] and first["buffer"] == second["buffer"]
    assert max_difference(first["weights"], second["weights"]) == 0.0
    rewards = {r for _, batch in first["updates"] for r in batch}
    assert any(r * 4 != int(r * 4) for r in rewards), "rewards average the two ranks' halves (multiples of 1/8)"


def test_enas_on_two_ranks_equals_one_process_with_the_global_batch(ranks, tmp_path):
    from samplers import ENASPathSampler
    from search_spaces.elastic_vit import ElasticViTSearchSpace

    two_ranks = ranks["enas_vit"][0]
    one = worker.enas_vit(tmp_path, rank=0)
    assert one["archs"] == two_ranks["archs"] and one["updates"] == two_ranks["updates"]
    assert max_difference(one["controller"], two_ranks["controller"]) == 0.0
    assert one["baseline"] == two_ranks["baseline"] and one["buffer"] == two_ranks["buffer"]
    assert max_difference(one["weights"], two_ranks["weights"]) <= 1e-6
    initial = ENASPathSampler(ElasticViTSearchSpace(**VIT_SPACE), seed=0).controller.state_dict()
    assert max_difference(one["controller"], initial) > 1e-3, "the controller must have learned"
    assert len({tuple(a) for a in one["archs"]}) > 1


def test_replicated_state_helpers():
    assert sorted(state_tensors({"a": torch.ones(1), "b": [0.5, None, "text"]}, "s")) == ["s.a", "s.b.0"]
    assert tensor_hash(torch.ones(2)) != tensor_hash(torch.ones(2, dtype=torch.float64))
    assert Distributed().average([torch.ones(2)])[0].tolist() == [1.0, 1.0]
