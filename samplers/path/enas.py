"""ENASPathSampler: the children of a step drawn by a learned LSTM controller (ENAS), with a memory buffer switch."""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from nas.architecture import Architecture
from nas.errors import ConfigError
from nas.search_space import SearchSpace
from samplers.path.base import PathSampler
from samplers.path.controller import LSTMController


class ENASPathSampler(PathSampler):
    """ENAS (Pham et al. 2018): an LSTM controller (``LSTMController``) emits each child decision by decision and
    learns by REINFORCE from the rewards the training method measures (``nas.training.ControllerTraining``:
    the supernet's accuracy on a held-out validation batch, in phases alternating with weight training).

    ``sample(step)`` draws ``num_paths`` children from the current controller with a generator seeded by
    (seed, step): a pure function of (seed, step, controller weights), so resume is exact. ``propose(key, n)``
    draws the controller phase's children from another stream. ``reinforce(archs, rewards)`` is one Adam
    step (``lr``, beta1 = 0 as in ENAS' controller) on ``-mean((R - b) log pi(arch)) - entropy_weight * mean(H)``, the entropies summed over the
    decisions, with the baseline ``b`` a moving average of the rewards (``b <- decay * b + (1 - decay) *
    mean(R)``, started at the first batch's mean; updated before the advantage is taken, as ENAS does).

    The memory buffer ("Understanding Neural Architecture Search Techniques", Adam & Lorraine 2019:
    ``buffer_size > 0``): every rewarded architecture joins a FIFO buffer of the last ``buffer_size``, and each
    update adds the same REINFORCE term over ``buffer_batch`` architectures replayed from the buffer (uniformly,
    seeded by (seed, update)) with their stored rewards against the current baseline, so the controller keeps
    being trained on the structure of what it sampled before. The paper states the idea, not its loss: this
    replay form is our reconstruction.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> sampler = ENASPathSampler(NB201SearchSpace(), seed=0, lr=0.05)
        >>> sampler.sample(3) == sampler.sample(3)
        True
        >>> archs = sampler.propose(0, 4)
        >>> stats = sampler.reinforce(archs, [0.1, 0.2, 0.3, 0.4])
        >>> round(stats["baseline"], 2), sampler.updates
        (0.25, 1)
    """

    learns_from_reward: ClassVar[bool] = True

    def __init__(self, space: SearchSpace, seed: int = 0, num_paths: int = 1, hidden_size: int = 64,
                 num_layers: int = 1, temperature: float = 5.0, tanh_constant: float | None = 2.5, lr: float = 3.5e-4,
                 entropy_weight: float = 1e-4, baseline_decay: float = 0.99, buffer_size: int = 0,
                 buffer_batch: int = 8):
        super().__init__(space, seed)
        if int(num_paths) < 1:
            raise ConfigError(f"num_paths must be at least 1, got {num_paths}")
        if not float(lr) > 0 or not float(entropy_weight) >= 0 or not 0.0 <= float(baseline_decay) < 1.0:
            raise ConfigError(f"the controller needs lr > 0, entropy_weight >= 0 and baseline_decay in [0, 1), got "
                              f"lr={lr}, entropy_weight={entropy_weight}, baseline_decay={baseline_decay}")
        if int(buffer_size) < 0 or (int(buffer_size) > 0 and int(buffer_batch) < 1):
            raise ConfigError(f"buffer_size must be >= 0 (0: no memory buffer) and buffer_batch >= 1 with a buffer, "
                              f"got buffer_size={buffer_size}, buffer_batch={buffer_batch}")
        self.num_paths = int(num_paths)
        self.options = {name: list(options) for name, options in space.decisions.items()}
        with torch.random.fork_rng(devices=[]):  # the controller's initial weights depend on the seed alone
            torch.manual_seed(self.seed)
            self.controller = LSTMController(self.options, hidden_size, num_layers, temperature, tanh_constant)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=float(lr), betas=(0.0, 0.999))
        self.entropy_weight = float(entropy_weight)
        self.baseline_decay = float(baseline_decay)
        self.buffer_size, self.buffer_batch = int(buffer_size), int(buffer_batch)
        self.buffer: deque[tuple[Architecture, float]] = deque(maxlen=max(1, self.buffer_size))
        self.baseline: float | None = None
        self.updates = 0

    # -- drawing ---------------------------------------------------------------------------------------------
    def _generator(self, *key: int) -> torch.Generator:
        return torch.Generator().manual_seed(int(np.random.default_rng([self.seed, *key]).integers(2**62)))

    def to_archs(self, choices: torch.Tensor) -> list[Architecture]:
        names = list(self.options)
        return [self.space.make({name: self.options[name][int(i)] for name, i in zip(names, row)})
                for row in choices.tolist()]

    def to_choices(self, archs: Sequence[Architecture]) -> torch.Tensor:
        return torch.tensor([[self.options[name].index(arch[name]) for name in self.options] for arch in archs])

    def sample(self, step: int) -> list[Architecture]:
        with torch.no_grad():
            return self.to_archs(self.controller(self.num_paths, generator=self._generator(step, 0)).choices)

    def propose(self, key: int, n: int, temperature: float = 1.0) -> list[Architecture]:
        """``n`` children of the controller phase's draw number ``key`` (a stream apart from ``sample``'s), the
        controller's logits divided by ``temperature`` (1: the policy as trained; ``ControllerSearch`` draws here)."""
        with torch.no_grad():
            return self.to_archs(self.controller(int(n), generator=self._generator(key, 1),
                                                 sampling_temperature=temperature).choices)

    def mode(self) -> Architecture:
        """The controller's greedy child (the most likely option at every decision)."""
        return self.to_archs(torch.tensor([self.controller.mode()]))[0]

    def hidden_states(self, archs: Sequence[Architecture]) -> torch.Tensor:
        """(len(archs), hidden size): the controller's top hidden state once it has read each whole architecture."""
        with torch.no_grad():
            return self.controller(choices=self.to_choices(archs)).hidden[:, -1]

    # -- learning --------------------------------------------------------------------------------------------
    def reinforce(self, archs: Sequence[Architecture], rewards: Sequence[float]) -> dict[str, float]:
        """One REINFORCE step on ``archs`` and their ``rewards`` (plus the buffer's replay); returns the batch's
        mean reward, the baseline, the mean entropy and the loss."""
        if len(archs) != len(rewards) or not archs:
            raise ValueError(f"reinforce needs one reward per architecture, got {len(archs)} and {len(rewards)}")
        reward = torch.tensor([float(r) for r in rewards])
        mean = float(reward.mean())
        self.baseline = mean if self.baseline is None else \
            self.baseline_decay * self.baseline + (1.0 - self.baseline_decay) * mean
        rollout = self.controller(choices=self.to_choices(archs))
        loss = -((reward - self.baseline) * rollout.log_prob).mean() - self.entropy_weight * rollout.entropy.mean()
        if self.buffer_size and self.buffer:
            rng = np.random.default_rng([self.seed, self.updates, 2])
            drawn = [self.buffer[int(i)] for i in rng.integers(len(self.buffer), size=self.buffer_batch)]
            replay = self.controller(choices=self.to_choices([arch for arch, _ in drawn]))
            stored = torch.tensor([r for _, r in drawn])
            loss = loss - ((stored - self.baseline) * replay.log_prob).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.buffer_size:
            self.buffer.extend(zip(archs, (float(r) for r in rewards)))
        self.updates += 1
        return {"reward": mean, "baseline": self.baseline, "entropy": float(rollout.entropy.detach().mean()),
                "loss": float(loss.detach())}

    # -- state -----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "controller": self.controller.state_dict(), "optimizer": self.optimizer.state_dict(),
                "baseline": self.baseline, "updates": self.updates,
                "buffer": [(str(arch), reward) for arch, reward in self.buffer] if self.buffer_size else []}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.controller.load_state_dict(state["controller"])
        self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))  # never share moments with the source
        self.baseline = state["baseline"]
        self.updates = int(state["updates"])
        self.buffer.clear()
        self.buffer.extend((self.space.parse(text), float(reward)) for text, reward in state["buffer"])
