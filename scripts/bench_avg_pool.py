"""NAS-Bench-201's avg_pool_3x3 on CPU: PyTorch's avg_pool2d kernels / the shifted-sum version the cells use
(search_spaces/nb201/pooling.py, the same bits), forward and backward, and what that does to a DARTS step on
FMNIST-201.

    python3 scripts/bench_avg_pool.py                 # batch 256 (the pool alone) and 128 (a DARTS half), 1 thread
    python3 scripts/bench_avg_pool.py --threads 2 --repeats 50

Both are timed in the same run, interleaved; printed in ms with their ratio (above 1: the shifted sums are faster).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from search_spaces.nb201 import NB201SearchSpace, pooling
from supernets.architecture_parameters import ArchitectureParameters
from supernets.weight_maps import Softmax


def native(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def interleaved(first: Callable[[], None], second: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Median ms of each, run alternately after two warm-up calls each."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(2):
        first(), second()
    for _ in range(repeats):
        for fn, out in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            fn()
            out.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times[0]), statistics.median(times[1])


def pool_rows(batch: int, repeats: int) -> list[tuple[str, float, float]]:
    rows = []
    for shape in [(batch, 8, 16, 16), (batch, 16, 8, 8), (batch, 32, 4, 4)]:
        x = torch.randn(*shape, requires_grad=True)
        grad = torch.randn(*shape)
        rows.append(("avg_pool_3x3 " + "x".join(map(str, shape)),
                     *interleaved(lambda: native(x).backward(grad), lambda: pooling.avg_pool_3x3(x).backward(grad),
                                  repeats)))
    return rows


def darts_step_row(batch: int, repeats: int) -> tuple[str, float, float]:
    """One forward-backward of FMNIST-201's DARTS mixed-op supernet (every op of every edge, softmax weights)."""
    torch.manual_seed(0)
    space = NB201SearchSpace(C=8, N=1, in_channels=1, num_classes=10, input_size=16, reduction="light")
    supernet = space.build_supernet().train()
    alphas = ArchitectureParameters(supernet.relaxed_decisions())
    x, y = torch.randn(batch, 1, 16, 16), torch.randint(0, 10, (batch,))

    def step() -> None:
        supernet.zero_grad(set_to_none=True)
        F.cross_entropy(supernet.forward_relaxed(x, alphas.weights(Softmax(), 0.0)), y).backward()

    def with_native() -> None:
        fast, pooling.avg_pool_3x3 = pooling.avg_pool_3x3, native
        try:
            step()
        finally:
            pooling.avg_pool_3x3 = fast

    return (f"DARTS step, batch {batch}", *interleaved(with_native, step, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [*pool_rows(256, args.repeats), darts_step_row(128, max(5, args.repeats // 3))]
    print(f"CPU, {args.threads} thread(s), forward + backward, median ms")
    print(f"{'what':<34}{'avg_pool2d':>12}{'shifted':>10}{'ratio':>8}")
    for name, slow, fast in rows:
        print(f"{name:<34}{slow:>12.2f}{fast:>10.2f}{slow / fast:>8.2f}")


if __name__ == "__main__":
    main()
