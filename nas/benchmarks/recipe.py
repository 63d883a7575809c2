"""Stand-alone training recipe: how one ground-truth record is produced."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass

import torch

from nas.architecture import Architecture
from nas.benchmarks.standalone import StandaloneTraining
from nas.data.splits import ImageDataset
from nas.errors import ConfigError
from nas.search_space import SearchSpace


@dataclass(frozen=True)
class StandaloneRecipe:
    """Train one architecture from scratch; defaults are FMNIST-201's recipe (BENCHMARK.md section 2).

    The first ``train_size`` images of *train* (the same ones every run), ``epochs`` epochs,
    reshuffled each epoch with the run's seed, SGD with Nesterov momentum, per-step cosine decay
    of ``lr`` to 0, weight decay on every parameter, then accuracy on ``eval_split`` in eval mode.

    Example:
        >>> StandaloneRecipe().steps_per_epoch
        40
    """

    train_size: int = 10_000
    epochs: int = 12
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    eval_split: str = "test"

    def __post_init__(self) -> None:
        if self.eval_split not in ("valid", "test"):
            raise ConfigError(f"recipe eval_split must be 'valid' or 'test', got {self.eval_split!r}")
        for name in ("train_size", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"recipe {name} must be positive, got {getattr(self, name)}")

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.train_size / self.batch_size)

    def fingerprint(self, space: SearchSpace, dataset_name: str) -> str:
        """A short hash of everything that decides a record's numbers: recipe, space, dataset."""
        payload = {"recipe": dataclasses.asdict(self), "space": space.spec(), "dataset": dataset_name}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def train_standalone(
    space: SearchSpace,
    arch: Architecture,
    data: ImageDataset,
    recipe: StandaloneRecipe,
    seed: int,
    device: str | torch.device = "cpu",
) -> dict:
    """Train ``arch`` from scratch with ``recipe`` and ``seed``; return its ground-truth record."""
    started = time.perf_counter()
    arch = space.validate(arch)
    evaluate_on = data.test if recipe.eval_split == "test" else data.valid
    torch.manual_seed(seed)
    training = StandaloneTraining(space.build_model(arch), data.train, recipe, seed, device)
    training.run()
    accuracy = training.evaluate(evaluate_on)
    return {
        "arch": str(arch),
        "seed": int(seed),
        "accuracy": accuracy,
        "train_accuracy": training.train_accuracy,
        "params": space.params(arch),
        "flops": space.flops(arch),
        "seconds": round(time.perf_counter() - started, 3),
        "recipe": recipe.fingerprint(space, data.name),
    }
