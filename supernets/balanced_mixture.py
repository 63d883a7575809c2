"""Balanced Mixture of SuperNets: K supernets and a learned, balanced assignment of architectures to them.

"Balanced Mixture of SuperNets for Learning the CNN Pooling Architecture" (Javan Roshtkhari, Toews, Pedersoli,
2023): one supernet shares every weight among all architectures, and architectures that want different weights
(different downsampling positions) harm each other. K supernets, each architecture trained and scored on the one
it is assigned to, share less; the assignment is learned while training — an architecture goes to the supernet
where its loss is lowest — under a balance constraint, so that no supernet is left with (almost) nothing to train
and none with everything. K = 1 is the single supernet.

As built here: ``BalancedAssignment`` keeps, per (architecture, supernet), an exponential moving average of the
training loss measured when that architecture trained on that supernet (relative to the moving average of all
losses at the time, so that losses measured early and late in training compare). Training samples the supernet of an
architecture from the *balanced* soft assignment: ``softmax(-loss / temperature)`` over supernets, rescaled by
Sinkhorn iterations until every supernet's expected share of the architectures is ``N / K`` (within
``tolerance``). Scoring uses the *hard* balanced assignment: the assignment of least total estimated loss with
``floor(N / K)`` or ``ceil(N / K)`` architectures per supernet (a linear assignment problem). The paper tracks
validation accuracy on a held-out batch and rebalances by repeated division by the marginal; the training loss
costs no extra forward pass, and Sinkhorn is that same rebalancing run to a stated tolerance.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from nas.architecture import Architecture, Option
from nas.errors import CheckpointError, ConfigError, InvalidArchitectureError
from supernets.base import Supernet

ArchitectureKey = tuple[tuple[str, Option], ...]


def architecture_key(arch: Mapping[str, Option]) -> ArchitectureKey:
    """What identifies an architecture whatever its class: its (decision, option) pairs sorted by decision."""
    return tuple(sorted(arch.items(), key=lambda item: item[0]))


class BalancedAssignment(nn.Module):
    """Which of ``members`` supernets each of ``architectures`` trains and is scored on, learned from losses.

    ``observe(index, member, loss)`` folds one measured loss into the moving average ``loss[index, member]``
    (``decay``; the first measurement sets it). With ``relative`` (the default) what is averaged is the loss minus
    ``baseline``, the moving average (``baseline_decay``) of every loss observed: losses fall as training goes on,
    so a raw loss measured early would make a supernet an architecture has not visited since look worse than it
    is, and the first supernet an architecture trained on would keep it. ``estimates()`` fills what was never measured with the
    architecture's mean over the supernets it was measured on (0 where none). ``probabilities()`` is the
    balanced soft assignment (rows sum to 1, every column to ``N / K`` within ``tolerance``), ``sample(index,
    step, seed)`` draws a supernet from it as a pure function of its arguments (resume and DDP ranks agree),
    and ``assignment()`` is the hard balanced assignment (each supernet gets ``floor(N / K)`` or
    ``ceil(N / K)`` architectures, least total estimated loss). The table and counts are buffers: they travel
    in ``state_dict()`` exactly.

    Example:
        >>> a = BalancedAssignment(num_architectures=2, members=2, relative=False)
        >>> for index, member, loss in [(0, 0, 1.0), (0, 1, 0.2), (1, 0, 0.9), (1, 1, 0.3)]:
        ...     a.observe(index, member, loss)
        >>> a.assignment().tolist()   # both do better on supernet 1: it goes to the one that gains most
        [1, 0]
        >>> [round(float(s), 1) for s in a.probabilities().sum(0)]   # balanced: 1 architecture each
        [1.0, 1.0]
    """

    def __init__(self, num_architectures: int, members: int, temperature: float = 0.05, decay: float = 0.9,
                 tolerance: float = 0.01, relative: bool = True, baseline_decay: float = 0.98,
                 max_iterations: int = 1000):
        super().__init__()
        if members < 1 or num_architectures < members:
            raise ConfigError(f"a balanced mixture needs 1 <= supernets <= architectures, got {members} supernets "
                              f"for {num_architectures} architectures")
        if temperature <= 0 or not 0 <= decay < 1 or tolerance <= 0 or not 0 <= baseline_decay < 1:
            raise ConfigError(f"temperature and tolerance must be positive and decay, baseline_decay in [0, 1), got "
                              f"temperature={temperature}, decay={decay}, tolerance={tolerance}, "
                              f"baseline_decay={baseline_decay}")
        self.members, self.temperature, self.decay = int(members), float(temperature), float(decay)
        self.tolerance, self.max_iterations = float(tolerance), int(max_iterations)
        self.relative, self.baseline_decay = bool(relative), float(baseline_decay)
        self.register_buffer("loss", torch.zeros(num_architectures, members, dtype=torch.float64))
        self.register_buffer("count", torch.zeros(num_architectures, members, dtype=torch.int64))
        self.register_buffer("baseline", torch.zeros((), dtype=torch.float64))  # moving average of every loss
        self._cache: dict[str, torch.Tensor] = {}

    @property
    def num_architectures(self) -> int:
        return self.loss.shape[0]

    def observe(self, index: int, member: int, loss: float) -> None:
        """Fold one training loss of architecture ``index`` on supernet ``member`` into the table (with
        ``relative``, its difference from the moving average of every loss observed so far, ``baseline``)."""
        index, member, value = int(index), int(member), float(loss)
        if self.relative:
            first = int(self.count.sum()) == 0
            self.baseline.fill_(value if first else self.baseline_decay * float(self.baseline)
                                + (1 - self.baseline_decay) * value)
            value -= float(self.baseline)
        if self.count[index, member] == 0:
            self.loss[index, member] = value
        else:
            self.loss[index, member] = self.decay * self.loss[index, member] + (1 - self.decay) * value
        self.count[index, member] += 1
        self._cache.clear()

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._cache.clear()
        super()._load_from_state_dict(*args, **kwargs)

    def estimates(self) -> torch.Tensor:
        """The loss table, with unmeasured entries set to their architecture's mean over measured ones."""
        if "estimates" not in self._cache:
            seen = self.count > 0
            table = self.loss.clone()
            measured = seen.sum(1)
            means = torch.where(measured > 0, (table * seen).sum(1) / measured.clamp(min=1), torch.zeros_like(table[:, 0]))
            self._cache["estimates"] = torch.where(seen, table, means[:, None].expand_as(table)).cpu()
        return self._cache["estimates"]

    def probabilities(self) -> torch.Tensor:
        """The balanced soft assignment ``p[architecture, supernet]``: softmax of ``-estimates / temperature``
        over the supernets, then Sinkhorn scaling until every column sums to ``N / K`` within ``tolerance``
        (relative) while every row sums to 1."""
        if "probabilities" not in self._cache:
            p = torch.softmax(-self.estimates() / self.temperature, dim=1).clamp(min=1e-12)
            target = self.num_architectures / self.members
            for _ in range(self.max_iterations):
                p = p / p.sum(1, keepdim=True)
                if float((p.sum(0) - target).abs().max()) <= self.tolerance * target:
                    break
                p = p * (target / p.sum(0, keepdim=True))
            self._cache["probabilities"] = p / p.sum(1, keepdim=True)
        return self._cache["probabilities"]

    def sample(self, index: int, step: int, seed: int) -> int:
        """The supernet architecture ``index`` trains on at ``step``: drawn from its row of ``probabilities()``
        with a generator seeded by ``(seed, step, index)`` (never the global RNG)."""
        if self.members == 1:
            return 0
        u = np.random.default_rng([int(seed), int(step), int(index)]).random()
        cumulative = np.cumsum(self.probabilities()[index].numpy())
        return int(min(np.searchsorted(cumulative, u * cumulative[-1], side="right"), self.members - 1))

    def assignment(self) -> torch.Tensor:
        """The hard balanced assignment: supernet of each architecture (``floor(N / K)`` or ``ceil(N / K)`` per
        supernet) with the least total estimated loss; ties go to the lower supernet index."""
        if "assignment" not in self._cache:
            n, k = self.num_architectures, self.members
            cost = self.estimates().numpy()
            base, extra = divmod(n, k)
            big = 1.0 + 2.0 * (np.abs(cost).max() + 1.0) * n  # any mandatory slot beats every optional one
            columns, owners = [], []
            for member in range(k):
                for slot in range(base + (1 if extra else 0)):
                    columns.append(cost[:, member] - (big if slot < base else 0.0))
                    owners.append(member)
            rows, cols = linear_sum_assignment(np.stack(columns, axis=1))
            result = torch.empty(n, dtype=torch.int64)
            result[torch.as_tensor(rows)] = torch.as_tensor([owners[c] for c in cols])
            self._cache["assignment"] = result
        return self._cache["assignment"]

    def counts(self) -> list[int]:
        """How many architectures the hard assignment gives each supernet."""
        return torch.bincount(self.assignment(), minlength=self.members).tolist()


class BalancedMixtureSupernet(Supernet):
    """K supernets of one space and a ``BalancedAssignment`` of the space's architectures to them.

    In training mode ``forward(x, arch)`` runs ``arch`` on the supernet that ``assignment.sample`` draws for it
    at ``step`` (the trainer's step, set by ``nas.balanced_mixture.BalancedMixtureSchedule``); in eval mode —
    scoring, BN recalibration (which puts the network in eval mode with its BatchNorms training), export — on
    the supernet of the hard balanced assignment (``route``). ``subnet(arch)`` is that supernet's child. The
    list of architectures, K and the seed are the module's extra state (JSON), so a checkpoint says which
    structure it needs (``restore_mixture``); the assignment's table is a buffer. K = 1 is the member itself.

    Example:
        >>> from search_spaces.downsample import DownsampleSearchSpace
        >>> space = DownsampleSearchSpace(input_size=8, stem_channels=4, stage_widths=[4, 8], blocks_per_stage=2,
        ...                               first_positions=[0, 1], second_positions=[2, 3])
        >>> archs = list(space.enumerate())
        >>> single = space.build_supernet().eval()
        >>> mixture = BalancedMixtureSupernet([single], archs).eval()
        >>> x = torch.randn(2, 1, 8, 8)
        >>> torch.equal(mixture(x, archs[0]), single(x, archs[0]))
        True
        >>> mixture = BalancedMixtureSupernet([space.build_supernet() for _ in range(2)], archs)
        >>> mixture.assignment.counts()
        [2, 2]
    """

    def __init__(self, members: Sequence[Supernet], architectures: Iterable[Mapping[str, Option]], seed: int = 0,
                 temperature: float = 0.05, decay: float = 0.9, tolerance: float = 0.01, relative: bool = True,
                 baseline_decay: float = 0.98):
        super().__init__()
        kinds = {member.kind for member in members}
        if len(kinds) != 1:
            raise ConfigError(f"the supernets of a balanced mixture must be of one kind, got {sorted(kinds)}")
        self.kind = kinds.pop()
        self.members = nn.ModuleList(members)
        self.architectures = [dict(arch) for arch in architectures]
        self._index = {architecture_key(arch): i for i, arch in enumerate(self.architectures)}
        if len(self._index) != len(self.architectures):
            raise ConfigError("the architectures of a balanced mixture must be distinct")
        self.seed = int(seed)
        self.assignment = BalancedAssignment(len(self.architectures), len(members), temperature, decay, tolerance,
                                             relative, baseline_decay)
        self.step = 0  # the trainer's next step: which draw of the soft assignment training uses

    def index(self, arch: Mapping[str, Option]) -> int:
        """Position of ``arch`` in ``architectures``."""
        try:
            return self._index[architecture_key(arch)]
        except KeyError:
            raise InvalidArchitectureError(
                f"{dict(arch)} is not one of the {len(self.architectures)} architectures this balanced mixture "
                "assigns (the search space it was built for)") from None

    def training_member(self, arch: Mapping[str, Option], step: int) -> int:
        """The supernet ``arch`` trains on at ``step`` (drawn from the balanced soft assignment)."""
        return self.assignment.sample(self.index(arch), step, self.seed)

    def route(self, arch: Mapping[str, Option]) -> int:
        """The supernet that scores ``arch``: its member in the hard balanced assignment."""
        return int(self.assignment.assignment()[self.index(arch)])

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        member = self.training_member(arch, self.step) if self.training else self.route(arch)
        return self.members[member](x, arch)

    def subnet(self, arch: Architecture) -> nn.Module:
        return self.members[self.route(arch)].subnet(arch)

    def option_parameters(self) -> dict[tuple[str, Option], list[nn.Parameter]]:
        """(decision, option) -> that option's parameters in every member."""
        merged: dict[tuple[str, Option], list[nn.Parameter]] = {}
        for member in self.members:
            for key, params in member.option_parameters().items():
                merged.setdefault(key, []).extend(params)
        return merged

    def summary(self) -> dict[str, Any]:
        """Supernets, architectures per supernet (hard assignment) and how often each pair trained."""
        hard = self.assignment.assignment().tolist()
        return {"supernets": len(self.members), "counts": self.assignment.counts(),
                "assignment": {json.dumps(self.architectures[i], sort_keys=True): m for i, m in enumerate(hard)},
                "trained": self.assignment.count.sum(0).tolist()}

    # -- the structure travels with the weights ---------------------------------------------------------
    def structure_json(self) -> str:
        return json.dumps({"balanced_mixture": {"members": len(self.members), "seed": self.seed,
                                                "temperature": self.assignment.temperature,
                                                "decay": self.assignment.decay,
                                                "tolerance": self.assignment.tolerance,
                                                "relative": self.assignment.relative,
                                                "baseline_decay": self.assignment.baseline_decay,
                                                "architectures": self.architectures}}, sort_keys=True)

    def get_extra_state(self) -> str:
        return self.structure_json()

    def set_extra_state(self, state: Any) -> None:
        if state != self.structure_json():
            raise CheckpointError("the checkpoint's balanced mixture (supernets, architectures, settings) differs "
                                  "from this one: rebuild it with restore_mixture() before loading")


def restore_mixture(supernet: Supernet, structure: Mapping[str, Any]) -> BalancedMixtureSupernet:
    """The (untrained) mixture a saved ``structure`` (``structure_json()``, decoded) describes, its members fresh
    copies of ``supernet``: load the weights and the assignment afterwards."""
    spec = structure["balanced_mixture"]
    return BalancedMixtureSupernet([copy.deepcopy(supernet) for _ in range(int(spec["members"]))],
                                   spec["architectures"], seed=spec["seed"], temperature=spec["temperature"],
                                   decay=spec["decay"], tolerance=spec["tolerance"], relative=spec["relative"],
                                   baseline_decay=spec["baseline_decay"])
