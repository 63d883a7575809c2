"""Where a supernet row's ranking goes wrong on FMNIST-201: by conv depth of the cells.

A cell's conv depth is the largest number of convolutions on one live input-to-output path of its cell (0: a
parameter-free cell; 3: a path through both intermediate nodes with a convolution on every edge). For each board
row named, the mean score of its archived seeds (`leaderboard/runs/<row>/seed<k>.json`) is fitted linearly to the
ground truth; the mean residual of each depth group says whether the row under- (+) or over-rates (-) that depth,
and the Kendall tau inside each group says how well it orders cells of equal depth. The effective parameter count
is shown for comparison.

    python scripts/depth_residuals.py spos spos_distinct
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from scipy.stats import kendalltau

from nas.benchmarks import build_oracle
from nas.cli.common import CONF_DIR
from search_spaces.nb201.liveness import live_edges


def conv_depth(arch) -> int:
    """The most convolutions on one live input-to-output path of the cell (-1: no live path)."""
    live, best = live_edges(arch), {0: 0}
    for to in (1, 2, 3):
        reach = [best[src] + ("conv" in str(arch[f"{to}<-{src}"]))
                 for src in range(to) if f"{to}<-{src}" in live and src in best]
        if reach:
            best[to] = max(reach)
    return best.get(3, -1)


def report(name: str, scores: np.ndarray, truth: np.ndarray, depth: np.ndarray) -> str:
    design = np.column_stack([np.ones_like(scores), scores])
    residual = truth - design @ np.linalg.lstsq(design, truth, rcond=None)[0]
    groups = []
    for d in sorted(set(depth.tolist())):
        inside = depth == d
        tau = kendalltau(scores[inside], truth[inside]).statistic if inside.sum() > 2 else float("nan")
        groups.append(f"depth {d} (n={inside.sum()}): residual {residual[inside].mean():+.2f}, tau {tau:.3f}")
    return f"{name}: tau {kendalltau(scores, truth).statistic:.3f}; " + "; ".join(groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", nargs="+", help="board rows archived under leaderboard/runs/")
    parser.add_argument("--runs", default="leaderboard/runs")
    args = parser.parse_args()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("run")
    space = instantiate(cfg.search_space)
    oracle = build_oracle(cfg.benchmark, space)
    cells = list(oracle.architectures())
    truth = np.array([oracle(a) for a in cells])
    depth = np.array([conv_depth(a) for a in cells])
    effective = np.array([space.effective_cost(a)["params"] for a in cells], dtype=float)
    for row in args.rows:
        seeds = sorted(Path(args.runs, row).glob("seed*.json"))
        scores = np.mean([[json.loads(p.read_text())["scores"][str(a)] for a in cells] for p in seeds], axis=0)
        print(report(f"{row} (mean score of {len(seeds)} seeds)", scores, truth, depth))
    print(report("effective_params", effective, truth, depth))


if __name__ == "__main__":
    main()
