"""Repeat: elastic depth, the first ``depth`` of the stored blocks run (once-for-all, BigNAS)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from nas.architecture import Option
from nas.errors import ConfigError
from supernets.declared.module import Condition, DeclaredModule
from supernets.declared.sizes import Choose, Elastic, Fixed, SizeLike, as_size


class Repeat(DeclaredModule):
    """``block(i)`` for ``i`` below the largest depth; a child runs the first ``depth`` blocks in sequence.

    The blocks are shared by every depth (block ``i`` serves every child at least ``i + 1`` deep), so
    depth is an entangled decision. Decisions inside block ``i`` are read only by children that run it.
    A depth of 0 skips the stack (the child keeps an empty ``nn.Sequential``).

    Example:
        >>> import torch
        >>> from supernets.declared import DeclaredSupernet, Elastic
        >>> stack = Repeat(lambda i: nn.Linear(4, 4), depth=Elastic("depth", (1, 2, 3)))
        >>> supernet = DeclaredSupernet(stack)
        >>> x = torch.randn(2, 4)
        >>> child = supernet.subnet({"depth": 2})
        >>> len(child), torch.equal(child(x), supernet(x, {"depth": 2}))
        (2, True)
    """

    def __init__(self, block: Callable[[int], nn.Module], depth: SizeLike):
        super().__init__()
        depth = as_size(depth)
        if not isinstance(depth, (Elastic, Fixed)):
            raise ConfigError(f"Repeat depth must be an int or one Elastic decision, got {depth!r}")
        values = depth.values()
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values):
            raise ConfigError(f"Repeat depth {depth!r} takes the values {list(values)}, which must be integers >= 0")
        self.depth = depth
        blocks = []
        for i in range(depth.largest):
            module = block(i)
            if not isinstance(module, nn.Module):
                raise ConfigError(f"Repeat block({i}) returned a {type(module).__name__}, not an nn.Module")
            blocks.append(module)
        self.blocks = nn.ModuleList(blocks)

    @property
    def entangled(self) -> bool:
        return isinstance(self.depth, Elastic)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks[: self.resolve(self.depth)]:
            x = block(x)
        return x

    def decision_options(self) -> dict[str, tuple[Option, ...]]:
        return self.depth.decision_options()

    def guarded_children(self) -> Iterator[tuple[str, nn.Module, Condition | None]]:
        for i, block in enumerate(self.blocks):
            condition = Condition(self.depth.decision, i + 1, at_least=True) if self.entangled else None
            yield f"blocks.{i}", block, condition

    def active_children(self, choose: Choose) -> list[nn.Module]:
        return list(self.blocks[: self.depth.resolve(choose)])

    def export(self, choose: Choose, export_child, fresh: bool) -> nn.Module:
        return nn.Sequential(*(export_child(block) for block in self.active_children(choose)))

    def extra_repr(self) -> str:
        return f"depth={self.depth!r}"
