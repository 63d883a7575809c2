"""Shared helpers of the elastic-space tests: perturbed weights, hooked MACs, parameter counts."""

from __future__ import annotations

import torch
from torch import nn

from supernets.elastic import SelfAttention


def perturb(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BN/LN affine parameters and BN running statistics (not the init values)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm2d, nn.LayerNorm)) or type(module).__name__ == "ElasticLayerNorm":
                n = module.weight.numel()
                module.weight.copy_(1 + 0.3 * torch.randn(n, generator=g))
                module.bias.copy_(0.3 * torch.randn(n, generator=g))
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(0.3 * torch.randn(n, generator=g))
                module.running_var.copy_(0.5 + torch.rand(n, generator=g))
    return model


def numel(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def hooked_macs(model: nn.Module, x: torch.Tensor) -> int:
    """MACs of every Conv2d and Linear (and the two attention products of SelfAttention) on ``x``."""
    total = 0

    def conv_hook(module: nn.Conv2d, inputs, output):
        nonlocal total
        kh, kw = module.kernel_size
        total += output.shape[-2] * output.shape[-1] * (module.in_channels // module.groups) * module.out_channels * kh * kw

    def linear_hook(module: nn.Linear, inputs, output):
        nonlocal total
        total += inputs[0].numel() // inputs[0].shape[-1] * module.in_features * module.out_features

    def attention_hook(module: SelfAttention, inputs, output):
        nonlocal total
        tokens = inputs[0].shape[1]
        total += 2 * tokens * tokens * module.num_heads * module.head_dim

    hooks = {nn.Conv2d: conv_hook, nn.Linear: linear_hook, SelfAttention: attention_hook}
    handles = [m.register_forward_hook(hooks[type(m)]) for m in model.modules() if type(m) in hooks]
    with torch.no_grad():
        model.eval()(x)
    for handle in handles:
        handle.remove()
    return total
