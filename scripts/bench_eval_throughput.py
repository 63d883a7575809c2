"""Child evaluation throughput: children scored per minute with inherited weights, on FMNIST-201
(C=8, N=1): 2,000 valid images, BN recalibrated on 4 batches of 256 training images.
Target (BENCHMARK.md section 3): >= 60 children per minute on 2 CPU cores.

    python scripts/bench_eval_throughput.py
    python scripts/bench_eval_throughput.py --children 120 --threads 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from nas.cli.common import CONF_DIR
from nas.evaluator import Evaluator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--search-space", default="fmnist201")
    parser.add_argument("--dataset", default="fmnist201")
    parser.add_argument("--children", type=int, default=100)
    parser.add_argument("--valid-size", type=int, default=2000)
    parser.add_argument("--bn-policy", default="recalibrate")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3", job_name="bench"):
        cfg = compose("run", overrides=[f"search_space={args.search_space}", f"dataset={args.dataset}"])
    data = instantiate(cfg.dataset)
    space = instantiate(cfg.search_space)
    torch.manual_seed(0)
    supernet = space.build_supernet()
    evaluator = Evaluator(supernet, data.valid, data.train, valid_size=args.valid_size, bn_policy=args.bn_policy,
                          recalibration_batches=4, recalibration_batch_size=256, progress=True)
    rng = np.random.default_rng(0)
    archs = list(dict.fromkeys(space.sample(rng) for _ in range(args.children)))
    evaluator.score(archs[0])  # warm-up, not timed
    evaluator.clear()
    start = time.perf_counter()
    evaluator.score_many(archs)
    seconds = time.perf_counter() - start
    rate = 60.0 * len(archs) / seconds
    print(f"{len(archs)} children in {seconds:.1f} s on {torch.get_num_threads()} threads "
          f"({args.valid_size} valid images, BN policy {args.bn_policy}, 4 x 256 recalibration images)")
    print(f"throughput: {rate:.1f} children / minute  target >= 60: {'PASS' if rate >= 60 else 'FAIL'}")


if __name__ == "__main__":
    main()
