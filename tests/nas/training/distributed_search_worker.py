"""Two-rank gloo jobs for test_distributed_search.py: the bilevel methods (DARTS first and second order, RARTS)
and ENAS' controller on 2 ranks; each scenario saves what its rank holds at the end.

Run through ``distributed_worker.spawn(out, names, registry=__name__)``. The scenarios that the test also runs
in one process with the global batch (``bilevel_vit``, ``enas_vit``) train a BatchNorm-free elastic ViT in
float64, where 2 ranks x B and 1 rank x 2B compute the same gradients up to rounding.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from nas.data import synthetic
from nas.data.splits import TensorSplit
from nas.errors import DivergenceError
from nas.training import Bilevel, ControllerTraining, Distributed, Optimization, RARTS, Trainer, TrainerCallback
from tests.nas.training.distributed_worker import SMALL_SPACE, VIT_SPACE, ArchRecorder, KillAt, weights

BILEVEL = ("first", "second", "rarts")
"""The architecture-search variants ``bilevel_vit`` runs: first- and second-order DARTS (TangleNAS: the ViT is
entangled), RARTS."""


def alphas(method) -> dict[str, torch.Tensor]:
    return {name: logits.detach().clone() for name, logits in zip(method.alphas.decisions, method.alphas.logits)}


def vit_train(train_size: int) -> TensorSplit:
    data = synthetic(train_size=train_size)
    return TensorSplit(data.train.x.double(), data.train.y)


def search_method(variant: str, supernet, weight_map=None):
    """A bilevel variant with SGD (momentum, decay, clipping) on the weights and Adam on the architecture."""
    sgd = Optimization(functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=5e-4), grad_clip_norm=5.0)
    adam = Optimization(functools.partial(torch.optim.Adam, lr=0.05, betas=(0.5, 0.999), weight_decay=1e-3),
                        grad_clip_norm=None)
    if variant == "rarts":
        return RARTS(supernet, sgd, adam, weight_map=weight_map, coupling=0.1)
    return Bilevel(supernet, sgd, adam, weight_map=weight_map, order=variant, require_kind=supernet.kind)


def bilevel_vit(out: Path, rank: int, variant: str = "first", batch_size: int = 16) -> dict:
    """``variant`` of ``BILEVEL`` on the float64 ViT for 6 steps; weights and architecture parameters."""
    from samplers import UniformDataSampler
    from search_spaces.elastic_vit import ElasticViTSearchSpace

    torch.manual_seed(0)
    space = ElasticViTSearchSpace(**VIT_SPACE)
    method = search_method(variant, space.build_supernet().double())
    method.alphas.double()
    initial = alphas(method)
    train = method.bind_data(vit_train(64))  # 32 train the weights, 32 the architecture
    trainer = Trainer(method, train, UniformDataSampler(len(train), seed=0), out, epochs=3, batch_size=batch_size,
                      progress=False, tensorboard=False, checkpoint_every=0, distributed=Distributed(check_every=2))
    trainer.fit()
    return {"weights": weights(trainer), "alphas": alphas(method), "initial": initial, "steps": trainer.state.step,
            "found": str(method.found_architecture())}


def bilevel_trainer(out: Path, map_name: str, callbacks=(), check_every: int = 2, **loop) -> Trainer:
    """A bilevel method (``map_name``: darts | gdas) on the small NB201 space (BatchNorm), 2 epochs of 4 steps."""
    from samplers import UniformDataSampler
    from search_spaces.nb201 import NB201SearchSpace
    from supernets.weight_maps import GumbelSoftmax, Softmax

    torch.manual_seed(0)
    space = NB201SearchSpace(**SMALL_SPACE)
    method = search_method("first", space.build_supernet(), {"darts": Softmax(), "gdas": GumbelSoftmax()}[map_name])
    train = method.bind_data(synthetic(train_size=128).train)
    options = dict(epochs=2, batch_size=16, progress=False, tensorboard=False, checkpoint_every=0)
    options.update(loop)
    return Trainer(method, train, UniformDataSampler(len(train), seed=0), out, callbacks=list(callbacks),
                   distributed=Distributed(check_every=check_every), **options)


def bilevel_resume(out: Path, rank: int) -> dict:
    """Per weight map (DARTS, GDAS): an uninterrupted 2-rank run; one stopped at step 5 (last checkpoint at step 3)
    and resumed from its folder."""
    result = {}
    for map_name in ("darts", "gdas"):
        reference_recorder, resumed_recorder = ArchRecorder(), ArchRecorder()
        reference = bilevel_trainer(out / map_name / "reference", map_name, [reference_recorder], checkpoint_every=3)
        initial = alphas(reference.method)
        reference.fit()
        killed = bilevel_trainer(out / map_name / "killed", map_name, [KillAt(5)], checkpoint_every=3)
        try:
            killed.fit()
        except RuntimeError:
            pass
        resumed = bilevel_trainer(out / map_name / "killed", map_name, [resumed_recorder], checkpoint_every=3)
        resumed.fit()
        result[map_name] = {
            "reference": {**weights(reference), **alphas(reference.method)},
            "resumed": {**weights(resumed), **alphas(resumed.method)}, "initial": initial,
            "alphas": alphas(resumed.method), "reference_archs": reference_recorder.archs,
            "resumed_archs": resumed_recorder.archs, "steps": (reference.state.step, resumed.state.step)}
    return result


class NudgeAlphas(TrainerCallback):
    """On rank 1 only, adds 1e-7 to one architecture logit after step 2: too little to change the argmax (the
    children), enough to change the bits."""

    def __init__(self, rank: int):
        self.rank = rank

    def on_step_end(self, trainer: Trainer) -> None:
        if self.rank == 1 and trainer.state.step == 2:
            with torch.no_grad():
                trainer.method.alphas.logits[0][0] += 1e-7


def alpha_divergence(out: Path, rank: int) -> dict:
    """Architecture parameters made to differ on rank 1 after step 2: the check at step 3 must stop both ranks."""
    trainer = bilevel_trainer(out, "darts", [NudgeAlphas(rank)])
    try:
        trainer.fit()
    except DivergenceError as exc:
        return {"error": str(exc), "step": trainer.state.step}
    return {"error": None, "step": trainer.state.step}


class RewardLog(TrainerCallback):
    """Records every REINFORCE update's children and rewards (wraps the sampler's ``reinforce``)."""

    def __init__(self, sampler) -> None:
        self.updates: list[tuple[list[str], list[float]]] = []
        reinforce = sampler.reinforce

        def logged(archs, rewards):
            self.updates.append(([str(a) for a in archs], [float(r) for r in rewards]))
            return reinforce(archs, rewards)

        sampler.reinforce = logged


def enas_vit(out: Path, rank: int, batch_size: int = 16) -> dict:
    """ENAS with the memory buffer on the float64 ViT: 3 epochs of 4 steps, a controller phase of 2 updates of 2
    children every 2 steps, rewards on a global batch of 8 held-out images."""
    from samplers import ENASPathSampler, UniformDataSampler
    from search_spaces.elastic_vit import ElasticViTSearchSpace

    torch.manual_seed(0)
    space = ElasticViTSearchSpace(**VIT_SPACE)
    sampler = ENASPathSampler(space, seed=0, lr=0.05, buffer_size=4, buffer_batch=2)
    optimization = Optimization(functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=5e-4))
    method = ControllerTraining(space.build_supernet().double(), sampler, optimization, valid_fraction=0.2,
                                controller_every=2, controller_steps=2, controller_batch=2, reward_batch_size=8)
    train = method.bind_data(vit_train(80))  # 64 train the weights, 16 reward the controller
    recorder, rewards = ArchRecorder(), RewardLog(sampler)
    trainer = Trainer(method, train, UniformDataSampler(len(train), seed=0), out, epochs=3, batch_size=batch_size,
                      progress=False, tensorboard=False, checkpoint_every=0, callbacks=[recorder],
                      distributed=Distributed(check_every=2))
    trainer.fit()
    controller = {k: v.clone() for k, v in sampler.controller.state_dict().items()}
    return {"weights": weights(trainer), "controller": controller,
            "baseline": sampler.baseline, "buffer": [(str(a), r) for a, r in sampler.buffer], "archs": recorder.archs,
            "updates": rewards.updates, "steps": trainer.state.step}


SCENARIOS = {**{f"bilevel_vit_{v}": functools.partial(bilevel_vit, variant=v) for v in BILEVEL},
             "bilevel_resume": bilevel_resume, "alpha_divergence": alpha_divergence, "enas_vit": enas_vit}
