"""Scaling out, measured in one run: supernet training steps per second on 1 and 2 ranks (torchrun, DDP path of
`nas train`), and ground-truth runs per hour on 1 and 2 Ray workers (`nas bench build backend=ray`), as ratios.

    python scripts/bench_scaling.py                      # CPU: 2 gloo ranks, a local Ray cluster of 2 CPUs
    python scripts/bench_scaling.py --backend nccl       # a machine with 2 GPUs: 2 NCCL ranks, one GPU each
    python scripts/bench_scaling.py --epochs 60 --batch-size 512 --runs 24

Both ranks' counts use the same **global** batch (`trainer.batch_size`): 2 ranks each compute half of it, so the
ideal steps-per-second ratio is 2 (less the gradient all-reduce). Steps per second is the training loop's own
clock (`train_state.seconds` of the checkpoint: process start, process group and data loading excluded). Runs
per hour is the wall time of a build of `--runs` (architecture, seed) pairs on a warm Ray cluster (its workers
already started) with 1, then 2, runs in flight; the ideal ratio is 2. On a machine with other jobs the ratios are
lower bounds.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def steps_per_second(ranks: int, args: argparse.Namespace, folder: Path) -> tuple[float, int, float]:
    """(steps per second, steps, seconds) of one `nas train` on ``ranks`` torchrun ranks."""
    from nas.checkpoint import load_checkpoint
    from nas.run_folder import RunFolder

    run_dir = folder / f"ranks{ranks}"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}",
               "-m", "nas", "train", f"preset={args.preset}", f"trainer.epochs={args.epochs}",
               f"trainer.batch_size={args.batch_size}", f"trainer.distributed.backend={args.backend}",
               "trainer.checkpoint_every=1000000", f"threads={args.threads}", "progress=false", f"run_dir={run_dir}",
               *args.overrides]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    state = load_checkpoint(RunFolder(run_dir).checkpoint)["train_state"]
    return state["step"] / state["seconds"], int(state["step"]), float(state["seconds"])


def runs_per_hour(args: argparse.Namespace, folder: Path) -> dict[int, tuple[float, float]]:
    """workers -> (runs per hour, seconds) of ground-truth builds of ``args.runs`` pairs on a local Ray cluster."""
    import ray
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from nas.benchmarks import build_ground_truth, sample_distinct
    from nas.cli.bench import load_dataset
    from nas.cli.common import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("bench_build", overrides=["dataset=synthetic", "recipe=tiny", f"recipe.epochs={args.gt_epochs}"])
    space, recipe = instantiate(cfg.search_space), instantiate(cfg.recipe)
    load = functools.partial(load_dataset, OmegaConf.to_container(cfg.dataset, resolve=True))
    archs = sample_distinct(space, 2 * args.runs + 2, seed=0)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:  # warm-up: both Ray worker processes started, torch imported, data loaded once
        build_ground_truth(space, load, "synthetic", archs[:2], [0], folder / "warmup.jsonl", recipe, workers=2,
                           progress=False, backend="ray")
        result = {}
        for workers, chosen in ((1, archs[2:2 + args.runs]), (2, archs[2 + args.runs:])):
            start = time.perf_counter()
            build_ground_truth(space, load, "synthetic", chosen, [0], folder / f"gt{workers}.jsonl", recipe,
                               workers=workers, progress=False, backend="ray")
            seconds = time.perf_counter() - start
            result[workers] = (3600 * args.runs / seconds, seconds)
        return result
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["gloo", "nccl"], default="gloo",
                        help="torch.distributed backend of the ranks (nccl: one GPU per rank)")
    parser.add_argument("--preset", default="smoke", help="the `nas train` preset (smoke: 8x8 synthetic images)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=256, help="the global batch of both measurements")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    parser.add_argument("--runs", type=int, default=12, help="ground-truth runs per Ray measurement")
    parser.add_argument("--gt-epochs", type=int, default=10, help="epochs of each ground-truth run (recipe=tiny)")
    parser.add_argument("--skip-ray", action="store_true", help="only the torchrun measurement")
    parser.add_argument("overrides", nargs="*", help="more `nas train` overrides, e.g. search_space=elastic_conv")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_scaling_") as tmp:
        folder = Path(tmp)
        one, two = steps_per_second(1, args, folder), steps_per_second(2, args, folder)
        print(f"supernet training ({args.backend}, preset={args.preset}, global batch {args.batch_size}, "
              f"{args.threads} thread(s) per rank, {os.cpu_count()} CPUs):")
        print(f"  1 rank : {one[0]:7.2f} steps/s ({one[1]} steps in {one[2]:.1f} s)")
        print(f"  2 ranks: {two[0]:7.2f} steps/s ({two[1]} steps in {two[2]:.1f} s)")
        print(f"  ratio 2 ranks / 1 rank: {two[0] / one[0]:.2f} (ideal 2.00)")
        if args.skip_ray:
            return
        ray_result = runs_per_hour(args, folder)
        print(f"ground truth on Ray (dataset=synthetic, recipe=tiny, {args.gt_epochs} epochs, {args.runs} runs each, "
              "local cluster of 2 CPUs):")
        for workers, (rate, seconds) in ray_result.items():
            print(f"  {workers} worker{'s' if workers > 1 else ' '}: {rate:7.0f} runs/hour ({args.runs} runs in "
                  f"{seconds:.1f} s)")
        print(f"  ratio 2 workers / 1 worker: {ray_result[2][0] / ray_result[1][0]:.2f} (ideal 2.00)")


if __name__ == "__main__":
    main()
