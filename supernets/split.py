"""SplitSupernet: a few-shot supernet, K sub-supernets that each own a part of the space."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from nas.architecture import Architecture, Option
from nas.errors import CheckpointError, ConfigError, InvalidArchitectureError
from supernets.base import Supernet

Constraint = dict[str, tuple[Option, ...]]
"""decision -> the options a sub-supernet owns; a decision it does not name is unconstrained."""

ParentMap = dict[nn.Parameter, nn.Parameter]
"""new parameter -> the parameter it was copied from (for inheriting optimizer state)."""


class SplitSupernet(Supernet):
    """K sub-supernets (copies of one parent), each owning the architectures its constraint allows.

    ``constraints[k]`` maps decisions to the options sub-supernet ``k`` owns; every architecture
    satisfies exactly one constraint and runs on that sub-supernet (``route``). Splitting a
    sub-supernet again refines its constraint (nested splits), so the structure is always a flat
    list of leaves. The list is part of ``state_dict()`` (extra state, JSON), so a checkpoint
    records its own partition; ``restore_split`` rebuilds the container before loading it.

    Example:
        >>> from search_spaces.nb201 import NB201SearchSpace
        >>> space = NB201SearchSpace(C=4, N=1, in_channels=1, num_classes=4, input_size=8, reduction="light")
        >>> parent = space.build_supernet().eval()
        >>> split, _ = split_supernet(parent, "1<-0", [("none", "skip_connect"),
        ...                                           ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")])
        >>> arch = space.sample(__import__("numpy").random.default_rng(0))
        >>> x = torch.randn(2, 1, 8, 8)
        >>> torch.equal(split.eval()(x, arch), parent(x, arch))
        True
        >>> len(split.leaves), split.route(space.make({**arch, "1<-0": "none"}))
        (2, 0)
    """

    def __init__(self, leaves: Sequence[Supernet], constraints: Sequence[Mapping[str, Sequence[Option]]]):
        super().__init__()
        if len(leaves) != len(constraints) or not leaves:
            raise ConfigError(f"a split supernet needs one constraint per sub-supernet, got {len(leaves)} "
                              f"sub-supernets and {len(constraints)} constraints")
        kinds = {leaf.kind for leaf in leaves}
        if len(kinds) != 1:
            raise ConfigError(f"sub-supernets of one split must be of one kind, got {sorted(kinds)}")
        self.kind = kinds.pop()
        self.leaves = nn.ModuleList(leaves)
        self.constraints: list[Constraint] = [{d: tuple(o) for d, o in c.items()} for c in constraints]
        self._allowed = [{d: frozenset(o) for d, o in c.items()} for c in self.constraints]

    # -- routing ---------------------------------------------------------------------------------
    def route(self, arch: Architecture) -> int:
        """Index of the one sub-supernet that owns ``arch``."""
        owners = [k for k, allowed in enumerate(self._allowed)
                  if all(arch[d] in options for d, options in allowed.items())]
        if len(owners) != 1:
            what = "no sub-supernet owns" if not owners else f"sub-supernets {owners} all own"
            raise InvalidArchitectureError(
                f"{what} {arch}; the split's constraints are {self.constraints}: a split must partition the "
                "options of its decision (every option in exactly one group)")
        return owners[0]

    def forward(self, x: torch.Tensor, arch: Architecture) -> torch.Tensor:
        return self.leaves[self.route(arch)](x, arch)

    def subnet(self, arch: Architecture) -> nn.Module:
        return self.leaves[self.route(arch)].subnet(arch)

    def option_parameters(self) -> dict[tuple[str, Option], list[nn.Parameter]]:
        """(decision, option) -> the option's parameters in every sub-supernet that owns the option."""
        merged: dict[tuple[str, Option], list[nn.Parameter]] = {}
        for leaf, allowed in zip(self.leaves, self._allowed):
            for (decision, option), params in leaf.option_parameters().items():
                owned = decision not in allowed or option in allowed[decision]
                merged.setdefault((decision, option), []).extend(params if owned else [])
        return merged

    # -- the partition travels with the weights ----------------------------------------------------
    def partition_json(self) -> str:
        return json.dumps([{d: list(o) for d, o in c.items()} for c in self.constraints], sort_keys=True)

    def get_extra_state(self) -> str:
        return self.partition_json()

    def set_extra_state(self, state: Any) -> None:
        if state != self.partition_json():
            raise CheckpointError(f"the checkpoint's split {state} differs from this supernet's "
                                  f"{self.partition_json()}: rebuild it with restore_split() before loading")


def split_supernet(supernet: Supernet, decision: str, groups: Sequence[Sequence[Option]], leaf: int = 0
                   ) -> tuple[SplitSupernet, ParentMap]:
    """Split sub-supernet ``leaf`` of ``supernet`` (the supernet itself when it is not split yet) on
    ``decision`` into one deep copy per group of options; return the new container and, for every
    parameter of the copies, the parameter it was copied from (other sub-supernets are reused as they are).
    """
    if isinstance(supernet, SplitSupernet):
        leaves, constraints = list(supernet.leaves), [dict(c) for c in supernet.constraints]
    else:
        leaves, constraints = [supernet], [{}]
    if not 0 <= leaf < len(leaves):
        raise ConfigError(f"there is no sub-supernet {leaf} to split; this supernet has {len(leaves)}")
    parent, constraint = leaves[leaf], constraints[leaf]
    groups = [tuple(g) for g in groups]
    flat = [o for g in groups for o in g]
    if len(groups) < 2 or any(not g for g in groups):
        raise ConfigError(f"a split of decision {decision!r} needs at least two non-empty groups of options, "
                          f"got {groups}")
    if len(set(flat)) != len(flat):
        raise ConfigError(f"the groups {groups} of decision {decision!r} overlap: each option goes to one group")
    if decision in constraint and set(flat) != set(constraint[decision]):
        raise ConfigError(f"the groups {groups} must partition the options {list(constraint[decision])} that "
                          f"sub-supernet {leaf} owns of decision {decision!r}")
    copies: list[Supernet] = []
    parents: ParentMap = {}
    for _ in groups:
        clone = copy.deepcopy(parent)
        parents.update(zip(clone.parameters(), parent.parameters()))
        copies.append(clone)
    new_constraints = [{**constraint, decision: g} for g in groups]
    if decision not in constraint:
        _check_covers(parent, decision, flat)
    split = SplitSupernet(leaves[:leaf] + copies + leaves[leaf + 1:],
                          constraints[:leaf] + new_constraints + constraints[leaf + 1:])
    split.train(supernet.training)
    return split, parents


def _check_covers(parent: Supernet, decision: str, options: list[Option]) -> None:
    """Where the supernet can say which options a decision has, the groups must cover all of them."""
    try:
        known = {o for d, o in parent.option_parameters() if d == decision}
    except NotImplementedError:
        return
    if known and known != set(options):
        raise ConfigError(f"the groups {options} must partition every option of decision {decision!r}: "
                          f"{sorted(map(str, known))}")


def restore_split(supernet: Supernet, state_dict: Mapping[str, Any]) -> Supernet:
    """The structure a saved ``state_dict`` needs: ``supernet`` itself, or the split container its
    partition describes (fresh copies of ``supernet``; load the weights afterwards), or the balanced mixture
    (``supernets.balanced_mixture``) its structure describes."""
    partition = state_dict.get("_extra_state")
    if partition is None:
        return supernet
    constraints = json.loads(partition)
    if isinstance(constraints, dict) and "balanced_mixture" in constraints:
        from supernets.balanced_mixture import restore_mixture
        return restore_mixture(supernet, constraints)
    return SplitSupernet([copy.deepcopy(supernet) for _ in constraints], constraints)
