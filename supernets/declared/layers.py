"""Elastic layers of a declared network: sizes that are decisions, weights entangled (slices of the largest).

Each wraps one op of ``supernets.elastic`` stored at the largest size its sizes take, reads its active
sizes from the architecture being run, checks that its input has the size it declares (so a child never
silently differs from its export), and exports a plain torch layer.
"""

from __future__ import annotations

import torch
from torch import nn

from nas.architecture import Option
from nas.errors import InvalidArchitectureError
from supernets.declared.module import DeclaredModule
from supernets.declared.sizes import Choose, Size, SizeLike, as_size, check_sizes, resolved_decisions
from supernets.elastic import (
    ElasticBatchNorm2d,
    ElasticConv2d,
    ElasticDepthwiseConv2d,
    ElasticLayerNorm,
    ElasticLinear,
    ElasticSelfAttention,
)


class ElasticLayer(DeclaredModule):
    """Shared behaviour: the sizes a layer declares, and the input check."""

    def sizes(self) -> dict[str, Size]:
        raise NotImplementedError

    def decision_options(self) -> dict[str, tuple[Option, ...]]:
        return resolved_decisions(self.sizes())

    @property
    def entangled(self) -> bool:
        return bool(self.decision_options())

    def _expect(self, what: str, got: int, size: Size) -> int:
        wanted = self.resolve(size)
        if got != wanted:
            raise InvalidArchitectureError(
                f"{self._describe()} expects {wanted} {what} in this child, got {got}: declare the size of the "
                "layer before it with the same Elastic/size object")
        return wanted

    def _describe(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.sizes().items())})"

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.sizes().items())


def _fresh(module: nn.Module) -> nn.Module:
    """``module`` with newly initialised weights for its own size (torch's default initialisation)."""
    for sub in module.modules():
        if hasattr(sub, "reset_parameters"):
            sub.reset_parameters()
    return module


class Linear(ElasticLayer):
    """``nn.Linear`` whose features may be decisions.

    Example:
        >>> from supernets.declared import DeclaredSupernet, Elastic
        >>> hidden = Elastic("hidden", (4, 8))
        >>> supernet = DeclaredSupernet(nn.Sequential(Linear(3, hidden), nn.ReLU(), Linear(hidden, 2)))
        >>> x = torch.randn(5, 3)
        >>> child = supernet.subnet({"hidden": 4})
        >>> child[0], torch.allclose(child(x), supernet(x, {"hidden": 4}))
        (Linear(in_features=3, out_features=4, bias=True), True)
    """

    def __init__(self, in_features: SizeLike, out_features: SizeLike, bias: bool = True):
        super().__init__()
        self.in_features = check_sizes("Linear", "in_features", as_size(in_features))
        self.out_features = check_sizes("Linear", "out_features", as_size(out_features))
        self.bias = bool(bias)
        self.elastic = ElasticLinear(self.in_features.largest, self.out_features.largest, bias)

    def sizes(self) -> dict[str, Size]:
        return {"in_features": self.in_features, "out_features": self.out_features}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._expect("input features", x.shape[-1], self.in_features)
        return self.elastic(x, self.resolve(self.out_features))

    def export(self, choose: Choose, export_child, fresh: bool) -> nn.Module:
        layer = self.elastic.export(self.in_features.resolve(choose), self.out_features.resolve(choose))
        return _fresh(layer) if fresh else layer

    def own_params(self, choose: Choose) -> int:
        n_in, n_out = self.in_features.resolve(choose), self.out_features.resolve(choose)
        return n_in * n_out + (n_out if self.bias else 0)

    def positions(self, output: torch.Tensor) -> int:
        return output[0].numel() // output.shape[-1]

    def own_macs(self, choose: Choose, positions: tuple[int, ...]) -> int:
        return sum(positions) * self.in_features.resolve(choose) * self.out_features.resolve(choose)


class Conv2d(ElasticLayer):
    """``nn.Conv2d`` whose channels and (odd) kernel size may be decisions; padding ``k // 2`` by default.

    ``kernel_transform=True``: once-for-all's learned transform from each kernel size to the next smaller
    one (``supernets.elastic.ElasticKernel``) instead of the plain centre crop.

    Example:
        >>> from supernets.declared import DeclaredSupernet, Elastic
        >>> conv = Conv2d(1, Elastic("width", (4, 8)), kernel_size=Elastic("kernel", (3, 5)))
        >>> supernet = DeclaredSupernet(conv)
        >>> arch = {"width": 4, "kernel": 3}
        >>> x = torch.randn(2, 1, 6, 6)
        >>> supernet.subnet(arch), torch.allclose(supernet.subnet(arch)(x), supernet(x, arch))
        (Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False), True)
    """

    def __init__(self, in_channels: SizeLike, out_channels: SizeLike, kernel_size: SizeLike = 1, stride: int = 1,
                 padding: int | None = None, bias: bool = False, kernel_transform: bool = False):
        super().__init__()
        self.in_channels = check_sizes("Conv2d", "in_channels", as_size(in_channels))
        self.out_channels = check_sizes("Conv2d", "out_channels", as_size(out_channels))
        kernel = as_size(kernel_size)
        self.kernel_size = check_sizes("Conv2d", "kernel_size", kernel, odd=len(kernel.values()) > 1)
        self.bias = bool(bias)
        self.elastic = ElasticConv2d(self.in_channels.largest, self.out_channels.largest, self.kernel_size.values(),
                                     stride, padding, bias, kernel_transform)

    def sizes(self) -> dict[str, Size]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels, "kernel_size": self.kernel_size}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._expect("input channels", x.shape[1], self.in_channels)
        return self.elastic(x, self.resolve(self.out_channels), self.resolve(self.kernel_size))

    def export(self, choose: Choose, export_child, fresh: bool) -> nn.Module:
        layer = self.elastic.export(self.in_channels.resolve(choose), self.out_channels.resolve(choose),
                                    self.kernel_size.resolve(choose))
        return _fresh(layer) if fresh else layer

    def own_params(self, choose: Choose) -> int:
        c_in, c_out, k = (s.resolve(choose) for s in (self.in_channels, self.out_channels, self.kernel_size))
        return c_out * c_in * k * k + (c_out if self.bias else 0)

    def positions(self, output: torch.Tensor) -> int:
        return output.shape[-2] * output.shape[-1]

    def own_macs(self, choose: Choose, positions: tuple[int, ...]) -> int:
        c_in, c_out, k = (s.resolve(choose) for s in (self.in_channels, self.out_channels, self.kernel_size))
        return sum(positions) * c_in * k * k * c_out


class DepthwiseConv2d(ElasticLayer):
    """A depthwise ``nn.Conv2d`` (one filter per channel, no bias) whose channels and kernel may be decisions.

    Example:
        >>> from supernets.declared import DeclaredSupernet, Elastic
        >>> supernet = DeclaredSupernet(DepthwiseConv2d(6, Elastic("kernel", (3, 5)), stride=2))
        >>> x = torch.randn(2, 6, 8, 8)
        >>> torch.allclose(supernet.subnet({"kernel": 3})(x), supernet(x, {"kernel": 3}))
        True
    """

    def __init__(self, channels: SizeLike, kernel_size: SizeLike = 3, stride: int = 1, kernel_transform: bool = False):
        super().__init__()
        self.channels = check_sizes("DepthwiseConv2d", "channels", as_size(channels))
        kernel = as_size(kernel_size)
        self.kernel_size = check_sizes("DepthwiseConv2d", "kernel_size", kernel, odd=len(kernel.values()) > 1)
        self.elastic = ElasticDepthwiseConv2d(self.channels.largest, self.kernel_size.values(), stride,
                                              kernel_transform)

    def sizes(self) -> dict[str, Size]:
        return {"channels": self.channels, "kernel_size": self.kernel_size}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._expect("channels", x.shape[1], self.channels)
        return self.elastic(x, self.resolve(self.kernel_size))

    def export(self, choose: Choose, export_child, fresh: bool) -> nn.Module:
        layer = self.elastic.export(self.channels.resolve(choose), self.kernel_size.resolve(choose))
        return _fresh(layer) if fresh else layer

    def own_params(self, choose: Choose) -> int:
        return self.channels.resolve(choose) * self.kernel_size.resolve(choose) ** 2

    def positions(self, output: torch.Tensor) -> int:
        return output.shape[-2] * output.shape[-1]

    def own_macs(self, choose: Choose, positions: tuple[int, ...]) -> int:
        return sum(positions) * self.channels.resolve(choose) * self.kernel_size.resolve(choose) ** 2


class BatchNorm2d(ElasticLayer):
    """``nn.BatchNorm2d`` over channels that may be a decision; a child's statistics are the first channels'.

    Example:
        >>> from supernets.declared import DeclaredSupernet, Elastic
        >>> supernet = DeclaredSupernet(BatchNorm2d(Elastic("width", (4, 8)))).eval()
        >>> x = torch.randn(2, 4, 3, 3)
        >>> torch.allclose(supernet.subnet({"width": 4})(x), supernet(x, {"width": 4}))
        True
    """

    def __init__(self, num_features: SizeLike, eps: float = 1e-5, momentum: float | None = 0.1):
        super().__init__()
        self.num_features = check_sizes("BatchNorm2d", "num_features", as_size(num_features))
        self.elastic = ElasticBatchNorm2d(self.num_features.largest, eps, momentum)

    def sizes(self) -> dict[str, Size]:
        return {"num_features": self.num_features}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._expect("channels", x.shape[1], self.num_features)
        return self.elastic(x)

    def export(self, choose: Choose, export_child, fresh: bool) -> nn.Module:
        layer = self.elastic.export(self.num_features.resolve(choose))
        return _fresh(layer) if fresh else layer

    def own_params(self, choose: Choose) -> int:
        return 2 * self.num_features.resolve(choose)


class LayerNorm(ElasticLayer):
    """``nn.LayerNorm`` over a last dimension that may be a decision.

    Example:
        >>> from supernets.declared import DeclaredSupernet, Elastic
        >>> supernet = DeclaredSupernet(LayerNorm(Elastic("dim", (4, 8))))
        >>> x = torch.randn(2, 3, 4)
        >>> torch.allclose(supernet.subnet({"dim": 4})(x), supernet(x, {"dim": 4}))
        True
    """

    def __init__(self, dim: SizeLike, eps: float = 1e-5):
        super().__init__()
        self.dim = check_sizes("LayerNorm", "dim", as_size(dim))
        self.elastic = ElasticLayerNorm(self.dim.largest, eps)

    def sizes(self) -> dict[str, Size]:
        return {"dim": self.dim}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._expect("features", x.shape[-1], self.dim)
        return self.elastic(x)

    def export(self, choose: Choose, export_child, fresh: bool) -> nn.Module:
        layer = self.elastic.export(self.dim.resolve(choose))
        return _fresh(layer) if fresh else layer

    def own_params(self, choose: Choose) -> int:
        return 2 * self.dim.resolve(choose)


class SelfAttention(ElasticLayer):
    """Multi-head self-attention over ``(batch, tokens, dim)`` whose width and head count may be decisions.

    The head dimension is fixed; a child with ``h`` heads uses the first ``h`` stored heads (AutoFormer).

    Example:
        >>> from supernets.declared import DeclaredSupernet, Elastic
        >>> supernet = DeclaredSupernet(SelfAttention(8, heads=Elastic("heads", (1, 2)), head_dim=4))
        >>> x = torch.randn(2, 5, 8)
        >>> torch.allclose(supernet.subnet({"heads": 1})(x), supernet(x, {"heads": 1}), atol=1e-6)
        True
    """

    def __init__(self, dim: SizeLike, heads: SizeLike, head_dim: int):
        super().__init__()
        self.dim = check_sizes("SelfAttention", "dim", as_size(dim))
        self.heads = check_sizes("SelfAttention", "heads", as_size(heads))
        self.head_dim = int(head_dim)
        self.elastic = ElasticSelfAttention(self.dim.largest, self.heads.largest, self.head_dim)

    def sizes(self) -> dict[str, Size]:
        return {"dim": self.dim, "heads": self.heads}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._expect("features", x.shape[-1], self.dim)
        return self.elastic(x, self.resolve(self.heads))

    def export(self, choose: Choose, export_child, fresh: bool) -> nn.Module:
        layer = self.elastic.export(self.dim.resolve(choose), self.heads.resolve(choose))
        return _fresh(layer) if fresh else layer

    def own_params(self, choose: Choose) -> int:
        dim, inner = self.dim.resolve(choose), self.heads.resolve(choose) * self.head_dim
        return dim * 3 * inner + 3 * inner + inner * dim + dim

    def positions(self, output: torch.Tensor) -> int:
        return output.shape[1]

    def own_macs(self, choose: Choose, positions: tuple[int, ...]) -> int:
        dim, inner = self.dim.resolve(choose), self.heads.resolve(choose) * self.head_dim
        return sum(t * (dim * 3 * inner + inner * dim) + 2 * t * t * inner for t in positions)
