"""Two-rank gloo jobs for test_distributed.py: every scenario runs on each rank and saves what it saw.

``spawn(out, scenarios)`` starts ``world_size`` CPU processes (torch.multiprocessing, torchrun's environment
variables set by hand) that run the named scenarios one after another and write ``<scenario>_rank<r>.pt`` to
``out``; ``registry`` names another module whose ``SCENARIOS`` to run (``distributed_search_worker``). Run as
a script under torchrun (``python -m torch.distributed.run --nproc_per_node=2 distributed_worker.py OUT
STEP_DELAY``) it trains the smoke config through the pipeline, as `nas train` does, slowly enough to be killed,
and rank 0 saves the final weights.
"""

from __future__ import annotations

import functools
import importlib
import os
import socket
import sys
import time
import traceback
from pathlib import Path

import torch
import torch.multiprocessing as mp

from nas.data import synthetic
from nas.data.splits import TensorSplit
from nas.errors import ConfigError, DivergenceError
from nas.few_shot import FewShotSchedule
from nas.losses import KLDistillation
from nas.training import Distributed, OneShot, Optimization, Trainer, TrainerCallback

SMALL_SPACE = dict(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
VIT_SPACE = dict(in_channels=1, num_classes=4, input_size=8, patch_size=4, embed_dims=(8, 12), depths=(1, 2),
                 num_heads=(1, 2), mlp_ratios=(1, 2), head_dim=4)
"""A BatchNorm-free (LayerNorm) elastic ViT: 2 ranks x B/2 and 1 rank x B compute the same gradients."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(out: Path, scenarios: list[str], world_size: int = 2, registry: str = __name__) -> None:
    """Run ``scenarios`` (of module ``registry``'s ``SCENARIOS``) on ``world_size`` gloo ranks; a failing rank
    fails the call with its traceback."""
    mp.spawn(_rank_main, args=(world_size, free_port(), str(out), scenarios, registry), nprocs=world_size, join=True)


def _rank_main(rank: int, world_size: int, port: int, out: str, scenarios: list[str], registry: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world_size), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    Distributed(backend="gloo")  # joins the process group once; later instances reuse it
    registered = importlib.import_module(registry).SCENARIOS
    for name in scenarios:
        result = registered[name](Path(out) / name, rank)
        torch.save(result, Path(out) / f"{name}_rank{rank}.pt")


# -- pieces ---------------------------------------------------------------------------------------------------
class ArchRecorder(TrainerCallback):
    """Keeps the children of every step, as the participants heard them."""

    def __init__(self) -> None:
        self.archs: list[list[str]] = []

    def observe(self, feedback) -> None:
        self.archs.append([str(a) for a in feedback.archs])


class UnusedWatcher(TrainerCallback):
    """After every step, checks that each parameter left with ``grad None`` (no rank used it) kept its value and
    its momentum buffer since the step before."""

    def __init__(self) -> None:
        self.before: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self.checked = 0
        self.worst = 0.0

    def on_step_end(self, trainer: Trainer) -> None:
        optimizer = trainer.method.optimizer
        for param in trainer.supernet.parameters():
            momentum = optimizer.state.get(param, {}).get("momentum_buffer")
            if param.grad is None and id(param) in self.before:
                value, buffer = self.before[id(param)]
                self.checked += 1
                self.worst = max(self.worst, float((param.detach() - value).abs().max()))
                if (buffer is None) != (momentum is None):
                    self.worst = float("inf")
                elif buffer is not None:
                    self.worst = max(self.worst, float((momentum - buffer).abs().max()))
            self.before[id(param)] = (param.detach().clone(), None if momentum is None else momentum.clone())


class KillAt(TrainerCallback):
    """Stops training with an error after ``step`` (no checkpoint: as if the job were killed)."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, trainer: Trainer) -> None:
        if trainer.state.step == self.step:
            raise RuntimeError(f"killed at step {self.step}")


def nb201_trainer(out: Path, path_sampler_of, data_sampler=None, callbacks=(), check_every: int = 1,
                  method: type[OneShot] = OneShot, **loop) -> Trainer:
    from samplers import UniformDataSampler
    from search_spaces.nb201 import NB201SearchSpace

    torch.manual_seed(0)
    data = synthetic(train_size=128)
    space = NB201SearchSpace(**SMALL_SPACE)
    optimization = Optimization(functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=5e-4))
    trained = method(space.build_supernet(), path_sampler_of(space), optimization)
    options = dict(epochs=2, batch_size=32, progress=False, tensorboard=False, checkpoint_every=0)
    options.update(loop)
    return Trainer(trained, data.train, data_sampler or UniformDataSampler(len(data.train), seed=0), out,
                   callbacks=list(callbacks), distributed=Distributed(check_every=check_every), **options)


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in trainer.supernet.state_dict().items() if torch.is_tensor(v)}


# -- scenarios ------------------------------------------------------------------------------------------------
def sequences(out: Path, rank: int) -> dict:
    """The children the stateless samplers pick for 20 steps (a pure function of (seed, step))."""
    from samplers import CostBucketPathSampler, SandwichPathSampler, StrictFairPathSampler, UniformPathSampler
    from search_spaces.nb201 import NB201SearchSpace

    space = NB201SearchSpace(**SMALL_SPACE)
    samplers = {"uniform": UniformPathSampler(space, seed=3), "strict_fair": StrictFairPathSampler(space, seed=3),
                "sandwich": SandwichPathSampler(space, seed=3), "cost_bucket": CostBucketPathSampler(space, seed=3)}
    return {name: [[str(a) for a in s.sample(step)] for step in range(20)] for name, s in samplers.items()}


def pada(out: Path, rank: int) -> dict:
    """PA&DA path and data importance over 3 epochs; what each rank's samplers hold, the children of every step,
    and the check of parameters that no rank used."""
    from samplers import PADADataSampler, PADAPathSampler

    constant = {"shape": "constant", "end": 1.0}
    path_sampler = None

    def path_of(space):
        nonlocal path_sampler
        path_sampler = PADAPathSampler(space, seed=0, update_every=2, ramp=constant)
        return path_sampler

    data_sampler = PADADataSampler(128, seed=0, ramp=constant, floor=0.1)
    recorder, watcher = ArchRecorder(), UnusedWatcher()
    trainer = nb201_trainer(out, path_of, data_sampler, [recorder, watcher], epochs=3)
    trainer.fit()
    return {"archs": recorder.archs, "path_probs": path_sampler.probabilities(),
            "importance": {k: v.copy() for k, v in path_sampler.importance.items()},
            "data_scores": data_sampler.scores.clone(), "data_probs": data_sampler.probabilities.clone(),
            "weights": weights(trainer), "unused_checked": watcher.checked, "unused_worst": watcher.worst}


def reducer(out: Path, rank: int) -> dict:
    """``reduce_gradients`` on hand-made gradients: a used on both ranks, b on rank 0 only, c on rank 1 only,
    d on neither, e (float64) on both; then one SGD step with momentum and weight decay."""
    a, b, c, d = (torch.nn.Parameter(torch.ones(n)) for n in (2, 3, 1, 2))
    e = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    grads = {0: {"a": 1.0, "b": 2.0, "e": 1.0}, 1: {"a": 3.0, "c": 5.0, "e": 3.0}}[rank]
    params = {"a": a, "b": b, "c": c, "d": d, "e": e}
    for name, value in grads.items():
        params[name].grad = torch.full_like(params[name], value)
    optimizer = torch.optim.SGD(params.values(), lr=0.1, momentum=0.9, weight_decay=0.1)
    Distributed().reduce_gradients([p for group in optimizer.param_groups for p in group["params"]])
    result = {name: None if p.grad is None else p.grad.clone() for name, p in params.items()}
    optimizer.step()
    result["d_after_step"] = d.detach().clone()
    result["d_has_state"] = d in optimizer.state
    return result


def divergence(out: Path, rank: int) -> dict:
    """Ranks made to diverge (each rank's path sampler has its own seed): the check must stop them."""
    from samplers import UniformPathSampler

    trainer = nb201_trainer(out, lambda space: UniformPathSampler(space, seed=rank), check_every=2)
    try:
        trainer.fit()
    except DivergenceError as exc:
        return {"error": str(exc), "step": trainer.state.step}
    return {"error": None, "step": trainer.state.step}


def resume(out: Path, rank: int) -> dict:
    """An uninterrupted run; a run stopped at step 5 (last checkpoint at step 3) and resumed from its folder."""
    from samplers import UniformPathSampler

    def uniform(space):
        return UniformPathSampler(space, seed=0)

    reference_recorder, resumed_recorder = ArchRecorder(), ArchRecorder()
    reference = nb201_trainer(out / "reference", uniform, callbacks=[reference_recorder], checkpoint_every=3)
    reference.fit()
    killed = nb201_trainer(out / "killed", uniform, callbacks=[ArchRecorder(), KillAt(5)], checkpoint_every=3)
    try:
        killed.fit()
    except RuntimeError:
        pass
    resumed = nb201_trainer(out / "killed", uniform, callbacks=[resumed_recorder], checkpoint_every=3)
    resumed.fit()
    return {"reference": weights(reference), "resumed": weights(resumed), "reference_archs": reference_recorder.archs,
            "resumed_archs": resumed_recorder.archs, "steps": (reference.state.step, resumed.state.step)}


def few_shot(out: Path, rank: int) -> dict:
    """A gradient-matching split after epoch 1: rank 0 decides it, every rank applies it."""
    from samplers import UniformPathSampler
    from search_spaces.nb201 import NB201SearchSpace

    space = NB201SearchSpace(**SMALL_SPACE)
    schedule = FewShotSchedule(space, split_epochs=[1], sub_supernets=2, gm_batches=2, gm_batch_size=16, seed=0)
    trainer = nb201_trainer(out, lambda s: UniformPathSampler(s, seed=0), callbacks=[schedule])
    trainer.fit()
    return {"history": schedule.history, "weights": weights(trainer)}


def sandwich_vit(out: Path, rank: int, batch_size: int = 16) -> dict:
    """The sandwich rule with in-place distillation on a BatchNorm-free ViT in float64; the final weights."""
    from samplers import SandwichPathSampler, UniformDataSampler
    from search_spaces.elastic_vit import ElasticViTSearchSpace

    torch.manual_seed(0)
    data = synthetic(train_size=64)
    train = TensorSplit(data.train.x.double(), data.train.y)
    space = ElasticViTSearchSpace(**VIT_SPACE)
    supernet = space.build_supernet().double()
    optimization = Optimization(functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=5e-4),
                                grad_clip_norm=5.0)
    initial = {k: v.detach().clone() for k, v in supernet.state_dict().items()}
    method = OneShot(supernet, SandwichPathSampler(space, seed=0, num_random=1), optimization,
                     distillation=KLDistillation())
    trainer = Trainer(method, train, UniformDataSampler(len(train), seed=0), out, epochs=2, batch_size=batch_size,
                      progress=False, tensorboard=False, checkpoint_every=0, distributed=Distributed(check_every=2))
    trainer.fit()
    return {"weights": weights(trainer), "initial": initial, "steps": trainer.state.step}


class NotReady(OneShot):
    """A method that does not say it runs on several ranks."""

    distributed_ready = False


def refusals(out: Path, rank: int) -> dict:
    """What the trainer refuses on two ranks: a global batch that does not split evenly, a method that is not
    ``distributed_ready``, an ENAS reward batch that does not split evenly."""
    from samplers import UniformPathSampler

    messages = {}
    for name, build in {
        "odd_batch": lambda: nb201_trainer(out, lambda space: UniformPathSampler(space, seed=0), batch_size=33),
        "not_ready": lambda: nb201_trainer(out, lambda space: UniformPathSampler(space, seed=0), method=NotReady),
        "odd_reward_batch": lambda: enas_trainer(out, reward_batch_size=7),
    }.items():
        try:
            build()
        except ConfigError as exc:
            messages[name] = str(exc)
    return messages


def enas_trainer(out: Path, **method) -> Trainer:
    """ENAS on the small NB201 space (``method``: ``ControllerTraining``'s options)."""
    from nas.training import ControllerTraining
    from samplers import ENASPathSampler, UniformDataSampler
    from search_spaces.nb201 import NB201SearchSpace

    space = NB201SearchSpace(**SMALL_SPACE)
    method = ControllerTraining(space.build_supernet(), ENASPathSampler(space, seed=0),
                                Optimization(functools.partial(torch.optim.SGD, lr=0.1)), **method)
    train = method.bind_data(synthetic(train_size=128).train)
    return Trainer(method, train, UniformDataSampler(len(train), seed=0), out, epochs=1, batch_size=16,
                   progress=False, tensorboard=False)


SCENARIOS = {"sequences": sequences, "pada": pada, "reducer": reducer, "divergence": divergence, "resume": resume,
             "few_shot": few_shot, "sandwich_vit": sandwich_vit, "refusals": refusals}


# -- under torchrun: the pipeline, slowly ------------------------------------------------------------------
def _torchrun_main(out: Path, delay: float) -> None:
    from hydra import compose, initialize_config_dir

    from nas.cli.common import CONF_DIR
    from nas.pipeline import build_distributed, setup, train_stage
    from nas.run_folder import RunFolder
    from nas.pipeline import training_fingerprint

    torch.set_num_threads(1)
    original = Trainer.train_step

    def slow_step(self, *args, **kwargs):
        time.sleep(delay)
        return original(self, *args, **kwargs)

    Trainer.train_step = slow_step
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="train"):
        cfg = compose("train", overrides=["preset=smoke", "trainer.epochs=3", "trainer.checkpoint_every=2",
                                          "trainer.distributed.check_every=2", "progress=false",
                                          "trainer.tensorboard=false"])
    distributed = build_distributed(cfg)
    folder = RunFolder(out)
    with distributed.main_enters(lambda: folder.claim(cfg, "train", training_fingerprint, overrides=[])):
        data, space = setup(cfg)
        trainer = train_stage(cfg, out, data, space, distributed)
    if distributed.is_main:
        torch.save(weights(trainer), out / "final_weights.pt")
        print("finished", trainer.state.step, flush=True)


if __name__ == "__main__":
    try:
        _torchrun_main(Path(sys.argv[1]), float(sys.argv[2]))
    except Exception:
        traceback.print_exc()
        sys.exit(1)
