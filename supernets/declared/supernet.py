"""DeclaredSupernet: the supernet of a network whose decision-dependent places are declared."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from nas.architecture import Architecture, Option
from supernets.base import Supernet
from supernets.declared.child import chosen, export_module
from supernets.declared.choice import Choice
from supernets.declared.module import ArchitectureContext, DeclaredModule
from supernets.declared.places import collect_decisions, find_places


class DeclaredSupernet(Supernet):
    """Runs any child of a declared network: ``forward(x, arch)`` sets the architecture every declared place
    reads, then runs the author's own ``forward``; ``subnet(arch)`` exports the child as plain modules with
    copies of the inherited weights (same outputs).

    ``kind`` is ``"entangled"`` when any decision is an elastic size or depth, else ``"shared"``.
    ``option_parameters()`` (shared spaces): (decision, option) -> the parameters of that option's modules
    in every place that reads the decision. ``validate`` checks an architecture before it is exported
    (``SearchSpace.validate``).

    Example:
        >>> from supernets.declared import Choice, Elastic, Linear
        >>> hidden = Elastic("hidden", (4, 8))
        >>> supernet = DeclaredSupernet(nn.Sequential(
        ...     Linear(3, hidden), Choice("act", {"relu": nn.ReLU(), "tanh": nn.Tanh()}), Linear(hidden, 2)))
        >>> supernet.kind, sorted(supernet.decisions)
        ('entangled', ['act', 'hidden'])
        >>> arch = {"hidden": 4, "act": "tanh"}
        >>> x = torch.randn(5, 3)
        >>> torch.allclose(supernet(x, arch), supernet.subnet(arch)(x))
        True
    """

    def __init__(self, network: nn.Module, validate: Callable[[Architecture], Architecture] | None = None):
        super().__init__()
        self.network = network
        self.places = find_places(network)
        self.decisions, self.entangled_decisions = collect_decisions(self.places)
        self.kind = "entangled" if self.entangled_decisions else "shared"
        self.context = ArchitectureContext()
        for module in network.modules():
            if isinstance(module, DeclaredModule):
                module.bind(self.context)
        self._validate = validate

    def forward(self, x: torch.Tensor, arch: Mapping[str, Option]) -> torch.Tensor:
        with self.context.running(arch):
            return self.network(x)

    def subnet(self, arch: Mapping[str, Option]) -> nn.Module:
        if self._validate is not None:
            arch = self._validate(arch)
        return export_module(self.network, chosen(arch)).train(self.training)

    def option_parameters(self) -> dict[tuple[str, Option], list[nn.Parameter]]:
        if self.entangled_decisions:
            raise NotImplementedError(
                f"decisions {sorted(self.entangled_decisions)} are elastic: their options are slices of one "
                "stored weight, so no parameter belongs to one option")
        owned: dict[tuple[str, Option], list[nn.Parameter]] = {(d, o): [] for d, opts in self.decisions.items()
                                                               for o in opts}
        for place in self.places:
            if isinstance(place.module, Choice):
                for option, module in place.module.option_modules().items():
                    known = {id(p) for p in owned[(place.module.decision, option)]}
                    owned[(place.module.decision, option)].extend(p for p in module.parameters() if id(p) not in known)
        return owned
