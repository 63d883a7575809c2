"""Supernet step overhead: one training step of the supernet on a sampled child / the same step on
that child built as a plain standalone module (same batch, same threads). Target (BENCHMARK.md section 3):
median <= 1.10 for shared-weight supernets, <= 1.25 for entangled ones.

    python scripts/bench_step_overhead.py                  # FMNIST-201, 60 children, batch 256
    python scripts/bench_step_overhead.py --children 100 --threads 2
    python scripts/bench_step_overhead.py --search-space elastic_conv --threads 1   # weight-entangled spaces:
    python scripts/bench_step_overhead.py --search-space elastic_vit --threads 1    # also the memory ratio

For weight-entangled supernets it also prints the memory ratio: supernet parameters / parameters of
the largest child's standalone model (target <= 1.05).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from nas.cli.common import CONF_DIR


def one_step(model, optimizer, x, y, arch=None) -> None:
    optimizer.zero_grad(set_to_none=True)
    logits = model(x) if arch is None else model(x, arch)
    F.cross_entropy(logits, y).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--search-space", default="fmnist201", help="config of conf/search_space")
    parser.add_argument("--dataset", default="fmnist201", help="config of conf/dataset (only its shape is used)")
    parser.add_argument("--children", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per child and model (median)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="bench"):
        cfg = compose("run", overrides=[f"search_space={args.search_space}", f"dataset={args.dataset}"])
    space = instantiate(cfg.search_space)
    torch.manual_seed(args.seed)
    shape = (args.batch_size, cfg.dataset.channels, cfg.dataset.image_size, cfg.dataset.image_size)
    x = torch.randn(shape)
    y = torch.randint(cfg.dataset.num_classes, (args.batch_size,))
    supernet = space.build_supernet().train()
    super_opt = torch.optim.SGD(supernet.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    rng = np.random.default_rng(args.seed)
    ratios, super_times, plain_times = [], [], []
    for i in range(args.children):
        arch = space.sample(rng)
        plain = supernet.subnet(arch).train()
        plain_opt = torch.optim.SGD(plain.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
        for _ in range(2):  # warm up both (allocator, momentum buffers)
            one_step(supernet, super_opt, x, y, arch)
            one_step(plain, plain_opt, x, y)
        t_super, t_plain = [], []
        for _ in range(args.repeats):  # interleaved, so that machine noise hits both alike
            t_super.append(timed(lambda: one_step(supernet, super_opt, x, y, arch), 1))
            t_plain.append(timed(lambda: one_step(plain, plain_opt, x, y), 1))
        s, p = statistics.median(t_super), statistics.median(t_plain)
        super_times.append(s)
        plain_times.append(p)
        ratios.append(s / p)
        print(f"\r{i + 1}/{args.children} children, running median ratio {statistics.median(ratios):.3f}",
              end="", flush=True)
    print()
    q = np.quantile(ratios, [0.1, 0.5, 0.9])
    target = 1.10 if supernet.kind == "shared" else 1.25
    print(f"search space {args.search_space} ({supernet.kind} supernet), batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads, {args.children} children x {args.repeats} steps")
    print(f"median step: supernet {1e3 * statistics.median(super_times):.2f} ms, "
          f"standalone {1e3 * statistics.median(plain_times):.2f} ms")
    print(f"step overhead ratio (supernet / standalone): median {q[1]:.3f}  (p10 {q[0]:.3f}, p90 {q[2]:.3f})  "
          f"target <= {target:.2f}: {'PASS' if q[1] <= target else 'FAIL'}")
    if supernet.kind == "entangled":
        largest = sum(p.numel() for p in space.build_model(space.largest()).parameters())
        total = sum(p.numel() for p in supernet.parameters())
        print(f"memory ratio (supernet params / largest child params): {total:,} / {largest:,} = "
              f"{total / largest:.3f}  target <= 1.05: {'PASS' if total / largest <= 1.05 else 'FAIL'}")


if __name__ == "__main__":
    main()
