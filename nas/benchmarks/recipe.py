"""Stand-alone training recipe: how one ground-truth record is produced."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from nas.architecture import Architecture
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
    train = data.train.head(recipe.train_size).to(device)
    evaluate_on = (data.test if recipe.eval_split == "test" else data.valid).to(device)
    torch.manual_seed(seed)
    model = space.build_model(arch).to(device)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
        nesterov=recipe.nesterov, weight_decay=recipe.weight_decay,
    )
    total_steps = recipe.epochs * recipe.steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
    )
    shuffle = torch.Generator().manual_seed(seed)
    n = len(train)
    model.train()
    correct = seen = 0
    for epoch in range(recipe.epochs):
        order = torch.randperm(n, generator=shuffle).to(device)
        correct = seen = 0
        for start in range(0, n, recipe.batch_size):
            index = order[start : start + recipe.batch_size]
            x, y = train.x[index], train.y[index]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
    model.eval()
    hits = 0
    with torch.no_grad():
        for start in range(0, len(evaluate_on), 1000):
            x, y = evaluate_on.x[start : start + 1000], evaluate_on.y[start : start + 1000]
            hits += int((model(x).argmax(1) == y).sum())
    return {
        "arch": str(arch),
        "seed": int(seed),
        "accuracy": 100.0 * hits / len(evaluate_on),
        "train_accuracy": 100.0 * correct / max(seen, 1),
        "params": space.params(arch),
        "flops": space.flops(arch),
        "seconds": round(time.perf_counter() - started, 3),
        "recipe": recipe.fingerprint(space, data.name),
    }
