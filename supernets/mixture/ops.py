"""Routed elastic ops: an elastic op whose weight is a mixture of ``experts`` full-size weights.

The routed weight of a child is ``sum_i alpha_i * W_i`` sliced as the elastic op slices its weight;
the ops slice each expert first and mix the slices (the same numbers, fewer operations). Expert 0 is
the op's own ``weight`` (and ``bias``), the others live in ``experts`` (and ``expert_bias``), so with
one expert the op is its elastic parent. The mixing weights (``routing``, an ``(experts, groups)``
tensor from a ``Router``: one group per layer, or one per output neuron) are set by the
Mixture-of-Supernets supernet for one forward (``MixtureOfSupernets.routed``); ``forward`` and
``export`` both read them, so an exported plain module holds the routed (materialised) weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from nas.errors import ConfigError
from supernets.elastic import ElasticConv2d, ElasticLinear
from supernets.elastic._checks import check_size


def mix_experts(own: torch.Tensor, experts: torch.Tensor | None, alpha: torch.Tensor) -> torch.Tensor:
    """``alpha[0] * own + sum_i alpha[i] * experts[i - 1]`` for the first ``own.shape[0]`` output rows.

    ``own`` is ``(out, ...)``, ``experts`` ``(m - 1, out, ...)`` (None: one expert, ``own`` as it is),
    ``alpha`` ``(m, groups)`` with one group for the whole layer or one per stored output neuron (the
    first ``out`` are used).
    """
    if experts is None:
        return own
    out = own.shape[0]
    if alpha.shape[1] != 1:
        alpha = alpha[:, :out]
    alpha = alpha.reshape(alpha.shape[0], alpha.shape[1], *([1] * (own.dim() - 1)))
    return own * alpha[0] + (experts * alpha[1:]).sum(dim=0)


def _check_experts(op: str, experts: int) -> int:
    if isinstance(experts, bool) or not isinstance(experts, int) or experts < 1:
        raise ConfigError(f"{op}: experts={experts!r}; use an integer >= 1 (1: the elastic op alone)")
    return experts


class _Routed:
    """What both routed ops share: the extra experts (and their initialisation), the experts count and the routing
    of the current forward. Listed before the elastic op in the bases, so ``reset_parameters`` covers both."""

    num_experts: int
    routing: torch.Tensor | None
    weight: nn.Parameter
    bias: nn.Parameter | None

    def _add_experts(self, experts: int) -> None:
        """``experts - 1`` more full-size weights (and biases where the op has one), each initialised afresh."""
        self.num_experts = _check_experts(type(self).__name__, experts)
        extra = self.num_experts - 1
        self.experts = nn.Parameter(torch.empty(extra, *self.weight.shape)) if extra else None
        self.expert_bias = nn.Parameter(torch.empty(extra, self.weight.shape[0])) \
            if extra and self.bias is not None else None
        self.routing = None
        self._reset_experts()

    def reset_parameters(self) -> None:
        super().reset_parameters()  # type: ignore[misc]  (the elastic op's)
        self._reset_experts()

    def _reset_experts(self) -> None:
        """Each expert initialised as the plain op (``nn.Linear`` / ``nn.Conv2d``) at the largest size, independently
        of the others: weights Kaiming-uniform, biases uniform within 1 / sqrt(fan-in)."""
        if getattr(self, "experts", None) is None:
            return
        for weight in self.experts:
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        if self.expert_bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.expert_bias, -bound, bound)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, experts={self.num_experts}"  # type: ignore[misc]

    def _alpha(self) -> torch.Tensor:
        if self.routing is None:
            raise RuntimeError(f"{type(self).__name__} has no routing: run it inside its supernet's "
                               "forward(x, arch) / subnet(arch) (MixtureOfSupernets.routed), or set .routing to an "
                               "(experts, groups) tensor of mixing weights")
        if self.routing.shape[0] != self.num_experts:
            raise RuntimeError(f"{type(self).__name__}: routing over {self.routing.shape[0]} experts, the op holds "
                               f"{self.num_experts}")
        return self.routing

    @property
    def max_outputs(self) -> int:
        """Output neurons at the largest size (the groups of a neuron-wise router)."""
        raise NotImplementedError


class RoutedLinear(_Routed, ElasticLinear):
    """An ``ElasticLinear`` whose weight and bias are mixtures of ``experts`` full-size ones.

    Example:
        >>> fc = RoutedLinear(8, 6, experts=2)
        >>> fc.routing = torch.tensor([[0.25], [0.75]])          # layer-wise: one mixing vector
        >>> x = torch.randn(3, 5)
        >>> mixed = 0.25 * fc.weight[:4, :5] + 0.75 * fc.experts[0, :4, :5]
        >>> bias = 0.25 * fc.bias[:4] + 0.75 * fc.expert_bias[0, :4]
        >>> torch.allclose(fc(x, 4), x @ mixed.T + bias)
        True
        >>> torch.allclose(fc.export(5, 4)(x), fc(x, 4))
        True
    """

    def __init__(self, max_in_features: int, max_out_features: int, bias: bool = True, *, experts: int = 2):
        super().__init__(max_in_features, max_out_features, bias)
        self._add_experts(experts)

    @classmethod
    def adopt(cls, linear: ElasticLinear, experts: int) -> "RoutedLinear":
        """A routed op whose expert 0 is ``linear``'s own weight and bias (the same parameters)."""
        routed = cls(linear.max_in_features, linear.max_out_features, linear.bias is not None, experts=experts)
        routed.weight, routed.bias = linear.weight, linear.bias
        return routed

    @property
    def max_outputs(self) -> int:
        return self.max_out_features

    def active(self, in_features: int, out_features: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The routed (weight, bias) of a child: each expert's slice, mixed by ``routing``."""
        weight, bias = super().active(in_features, out_features)
        alpha = self._alpha()
        if self.experts is None:
            return weight, bias
        weight = mix_experts(weight, self.experts[:, :out_features, :in_features], alpha)
        if bias is not None:
            bias = mix_experts(bias, self.expert_bias[:, :out_features], alpha)
        return weight, bias



class RoutedConv2d(_Routed, ElasticConv2d):
    """An ``ElasticConv2d`` whose weight (and bias) is a mixture of ``experts`` full-size ones; the kernel
    crop (and optional transform) applies to the mixed weight. The Mixture-of-Supernets routes the
    pointwise (1x1) convolutions.

    Example:
        >>> conv = RoutedConv2d(4, 8, experts=3)
        >>> conv.routing = torch.softmax(torch.randn(3, 8), dim=0)   # neuron-wise: one vector per output channel
        >>> x = torch.randn(2, 3, 5, 5)
        >>> conv(x, out_channels=6).shape
        torch.Size([2, 6, 5, 5])
        >>> torch.allclose(conv.export(3, 6)(x), conv(x, 6), atol=1e-6)
        True
    """

    def __init__(self, max_in_channels: int, max_out_channels: int, kernel_sizes: Sequence[int] = (1,),
                 stride: int = 1, padding: int | None = None, bias: bool = False, kernel_transform: bool = False,
                 *, experts: int = 2):
        super().__init__(max_in_channels, max_out_channels, kernel_sizes, stride, padding, bias, kernel_transform)
        self._add_experts(experts)

    @classmethod
    def adopt(cls, conv: ElasticConv2d, experts: int) -> "RoutedConv2d":
        """A routed op whose expert 0 is ``conv``'s own weight, bias and kernel transform (the same parameters)."""
        routed = cls(conv.max_in_channels, conv.max_out_channels, conv.kernel.kernel_sizes, conv.stride,
                     conv.padding, conv.bias is not None, conv.kernel.transform, experts=experts)
        routed.weight, routed.bias, routed.kernel = conv.weight, conv.bias, conv.kernel
        return routed

    @property
    def max_outputs(self) -> int:
        return self.max_out_channels

    def active_weight(self, in_channels: int, out_channels: int, kernel_size: int) -> torch.Tensor:
        """The routed weight of a child: each expert's channel slice, mixed by ``routing``, then cropped."""
        name = type(self).__name__
        check_size(name, "input channels", in_channels, self.max_in_channels)
        check_size(name, "output channels", out_channels, self.max_out_channels)
        alpha = self._alpha()
        own = self.weight[:out_channels, :in_channels]
        if self.experts is not None:
            own = mix_experts(own, self.experts[:, :out_channels, :in_channels], alpha)
        return self.kernel(own, kernel_size)

    def forward(self, x: torch.Tensor, out_channels: int | None = None, kernel_size: int | None = None
                ) -> torch.Tensor:
        out_channels = self.max_out_channels if out_channels is None else out_channels
        kernel_size = self.kernel.max_size if kernel_size is None else kernel_size
        weight = self.active_weight(x.shape[1], out_channels, kernel_size)
        return torch.nn.functional.conv2d(x, weight, self._active_bias(out_channels), self.stride,
                                          self._padding(kernel_size))

    def _active_bias(self, out_channels: int) -> torch.Tensor | None:
        if self.bias is None:
            return None
        bias = self.bias[:out_channels]
        return bias if self.experts is None else mix_experts(bias, self.expert_bias[:, :out_channels], self._alpha())

    @torch.no_grad()
    def export(self, in_channels: int, out_channels: int, kernel_size: int | None = None) -> nn.Conv2d:
        """A plain ``nn.Conv2d`` holding the routed weights."""
        conv = super().export(in_channels, out_channels, kernel_size)
        if conv.bias is not None:
            conv.bias.copy_(self._active_bias(out_channels))
        return conv
