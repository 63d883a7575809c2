"""Peak memory of one training step: DARTS mixed op vs TangleNAS superposition vs a single path of the largest child.

    python3 scripts/bench_memory.py                      # FMNIST-201 sizes, batch 256, on CPU (or CUDA if present)
    python3 scripts/bench_memory.py --batch-size 64 --device cpu

One step = forward, cross-entropy, backward, on random 1x16x16 images. The same space in three forms:

- FMNIST-201 cell: the DARTS mixed op (``NB201Supernet.forward_relaxed``, softmax weights over the five ops of
  every edge), TangleNAS' superposition (``NB201EntangledSupernet.forward_relaxed``: 1x1 and 3x3 convolutions in
  one 3x3 weight), and the single path of the largest child (every edge ``nor_conv_3x3``), on the shared supernet
  (ReLU, convolution, BatchNorm as PyTorch modules: the reference, 1.00) and on the entangled one, whose
  convolutions keep a cell node once for all the edges leaving it instead of one ReLU output per edge;
- elastic conv and elastic ViT (entangled spaces): the superposition of every decision's options against the
  single path of the largest child (a DARTS-style mixed op over whole children does not exist there: every
  option would be a separate forward).

Memory: on CUDA the peak allocated during the step above what was allocated before it
(``torch.cuda.max_memory_allocated``); on CPU the bytes the step holds at its peak: parameters, their gradients
and every tensor autograd saves for the backward pass (distinct storages, counted through
``torch.autograd.graph.saved_tensors_hooks``), which is what grows with the number of options. Printed in MiB
and as a ratio to the single path.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from search_spaces.elastic_conv import ElasticConvSearchSpace
from search_spaces.elastic_vit import ElasticViTSearchSpace
from search_spaces.nb201 import NB201SearchSpace
from supernets.architecture_parameters import ArchitectureParameters
from supernets.weight_maps import Softmax


def step_memory(model: nn.Module, forward: Callable[[], torch.Tensor], labels: torch.Tensor,
                device: torch.device) -> int:
    """Bytes one training step of ``forward`` holds at its peak (see the module docstring)."""
    model.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        F.cross_entropy(forward(), labels).backward()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base + sum(p.numel() * p.element_size()
                                                                    for p in model.parameters())
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = F.cross_entropy(forward(), labels)
    loss.backward()
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return sum(storages.values()) + 2 * params


def measure(batch_size: int, device: torch.device) -> list[tuple[str, str, int, int]]:
    """(space, form, bytes, bytes of the single path) per row."""
    torch.manual_seed(0)
    x = torch.randn(batch_size, 1, 16, 16, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)
    rows = []

    def relaxed(supernet):
        alphas = ArchitectureParameters(supernet.relaxed_decisions()).to(device)
        return lambda: supernet.forward_relaxed(x, alphas.weights(Softmax(), 0.0))

    nb201 = dict(C=8, N=1, in_channels=1, num_classes=10, input_size=16, reduction="light")
    space = NB201SearchSpace(**nb201)
    shared = space.build_supernet().to(device).train()
    single = step_memory(shared, lambda: shared(x, space.largest()), y, device)
    entangled = NB201SearchSpace(**nb201, superposition=True).build_supernet().to(device).train()
    rows.append(("fmnist201", "single path (largest child)", single, single))
    rows.append(("fmnist201", "DARTS mixed op (5 ops per edge)", step_memory(shared, relaxed(shared), y, device),
                 single))
    entangled_single = step_memory(entangled, lambda: entangled(x, space.largest()), y, device)
    rows.append(("fmnist201", "single path, entangled supernet", entangled_single, single))
    rows.append(("fmnist201", "TangleNAS superposition", step_memory(entangled, relaxed(entangled), y, device),
                 single))
    for name, space in (("elastic_conv", ElasticConvSearchSpace(in_channels=1, input_size=16, stem_channels=8,
                                                                stem_stride=2, stage_channels=[8, 16, 24],
                                                                channel_divisor=2)),
                        ("elastic_vit", ElasticViTSearchSpace(in_channels=1, input_size=16))):
        supernet = space.build_supernet().to(device).train()
        largest = space.largest()
        single = step_memory(supernet, lambda: supernet(x, largest), y, device)
        rows.append((name, "single path (largest child)", single, single))
        rows.append((name, "TangleNAS superposition", step_memory(supernet, relaxed(supernet), y, device), single))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    what = "peak allocated (CUDA)" if device.type == "cuda" else "params + grads + saved activations"
    print(f"one training step, batch {args.batch_size}, 1x16x16, {device.type}: {what}")
    print(f"{'space':<14} {'form':<34} {'MiB':>9} {'x single path':>14}")
    for space, form, nbytes, single in measure(args.batch_size, device):
        print(f"{space:<14} {form:<34} {nbytes / 2**20:>9.2f} {nbytes / single:>14.2f}")


if __name__ == "__main__":
    main()
