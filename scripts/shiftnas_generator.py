"""How well ShiftNAS' architecture generator hits the requested complexity bin, per bin.

    python scripts/shiftnas_generator.py                          # FMNIST-201 (conf/search_space/fmnist201.yaml)
    python scripts/shiftnas_generator.py --space elastic_conv     # the elastic conv space
    python scripts/shiftnas_generator.py --decoding free          # the generator unmasked (path_sampler.decoding)

Composes the config as `nas run search_space=<space> path_sampler=shiftnas` does and builds its space and its
sampler (bins and generator, fit included), then draws --proposals
children per bin from the generator alone (no redraws) and prints the share that falls in the bin, how many are
distinct, the fit's time and the proposals' time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="fmnist201", help="a config of conf/search_space/")
    parser.add_argument("--proposals", type=int, default=1000, help="children drawn per bin")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--decoding", choices=("constrained", "free"), help="default: the config's")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        overrides = [f"search_space={args.space}", "path_sampler=shiftnas", f"seed={args.seed}"]
        if args.decoding:
            overrides.append(f"path_sampler.decoding={args.decoding}")
        cfg = compose("run", overrides=overrides)
    space = instantiate(cfg.search_space)
    started = time.perf_counter()
    sampler = instantiate(cfg.path_sampler, space=space)
    seconds = time.perf_counter() - started
    print(f"{args.space}: {sampler.bins.num_bins} {sampler.bins.cost} bins, edges {[int(e) for e in sampler.bins.edges]}, "
          f"bins and generator fitted in {seconds:.1f} s; decoding {cfg.path_sampler.decoding}"
          f"{'' if sampler.generator.constrained or cfg.path_sampler.decoding == 'free' else ' (cost not monotone)'}")
    print("bin  in bin   distinct")
    proposing = 0.0
    for b in range(sampler.bins.num_bins):
        started = time.perf_counter()
        archs = sampler.generator.propose([b] * args.proposals, torch.Generator().manual_seed(args.seed * 1000 + b))
        proposing += time.perf_counter() - started
        rate = sum(sampler.bins.bin_of(a) == b for a in archs) / len(archs)
        print(f"{b:>3}  {100 * rate:5.1f}%  {len(set(archs)):>6}")
    print(f"proposals: {1e3 * proposing / (args.proposals * sampler.bins.num_bins):.2f} ms per child "
          f"(batches of {args.proposals})")


if __name__ == "__main__":
    main()
