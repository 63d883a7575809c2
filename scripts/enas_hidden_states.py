"""ENAS controller analysis ("Understanding Neural Architecture Search Techniques", Adam & Lorraine 2019): does
the controller's hidden state track graph similarity? With and without the memory buffer.

    nas run experiment=enas seed=0 run_dir=runs/enas             # or preset=smoke for a try in seconds
    nas run experiment=enas_buffer seed=0 run_dir=runs/enas_buffer
    python scripts/enas_hidden_states.py enas=runs/enas enas_buffer=runs/enas_buffer --samples 300

For each trained run folder (a `nas run` / `nas train` folder trained with path_sampler=enas or enas_buffer) the
controller is restored from checkpoints/last.pt, draws --samples children, and the Spearman / Kendall correlation
over all pairs between the cosine similarity of the controller's hidden states (after reading each whole child)
and minus the graph edit distance of the two distinct cells is printed (samplers/path/controller_analysis.py), beside the
same controller at its initial weights. The paper: no correlation for ENAS, a positive one with the buffer.
--output writes the table as markdown (atomically).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from hydra.utils import instantiate

from nas.checkpoint import load_checkpoint
from nas.errors import NASError
from nas.run_folder import RunFolder
from samplers.path.controller_analysis import hidden_state_correlation


def controllers(folder: Path):
    """(initial, trained) ENAS samplers of a trained run folder."""
    run = RunFolder(folder)
    cfg = run.saved_config()
    if cfg is None or not run.checkpoint.is_file():
        raise NASError(f"{folder} is not a trained run folder (no .hydra/config.yaml or checkpoints/last.pt): "
                       "train one with `nas run experiment=enas run_dir=...`")
    if "ENASPathSampler" not in str(cfg.path_sampler.get("_target_", "")):
        raise NASError(f"{folder} was not trained with the ENAS controller (path_sampler {cfg.path_sampler._target_}): "
                       "use a folder of path_sampler=enas or enas_buffer")
    space = instantiate(cfg.search_space)
    initial = instantiate(cfg.path_sampler, space=space)
    trained = instantiate(cfg.path_sampler, space=space)
    trained.load_state_dict(load_checkpoint(run.checkpoint)["path_sampler"])
    return initial, trained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="name=run_folder pairs")
    parser.add_argument("--samples", type=int, default=300, help="children drawn per controller")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write the table to")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = ["| run | controller | children (distinct) | Spearman | Kendall | 1 − cosine at distance 1 / 3 / 6 |",
            "| --- | --- | --- | --- | --- | --- |"]
    try:
        for item in args.runs:
            name, sep, path = item.partition("=")
            if not sep:
                raise NASError(f"{item!r}: give runs as name=run_folder, e.g. enas=runs/enas")
            initial, trained = controllers(Path(path))
            for label, sampler in (("initial", initial), (f"trained ({trained.updates} updates)", trained)):
                r = hidden_state_correlation(sampler, args.samples)
                at = " / ".join(f"{1 - r.get(f'cosine_at_distance_{d}', float('nan')):.2g}" for d in (1, 3, 6))
                rows.append(f"| {name} | {label} | {args.samples} ({r['distinct']}) | {r['spearman']:.3f} | "
                            f"{r['kendall']:.3f} | {at} |")
    except NASError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = "\n".join(rows)
    print(table)
    if args.output is not None:
        from nas.atomic import write_text_atomic

        write_text_atomic(args.output, table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
