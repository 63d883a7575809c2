"""The `nas` command: dispatches to one Hydra app per subcommand."""

from __future__ import annotations

import importlib
import sys

from nas.cli.common import unknown_config_choice

COMMANDS = {
    "run": ("nas.cli.run", "train a supernet, rank its children, compare with ground truth, report"),
    "train": ("nas.cli.train", "train a supernet (resumable)"),
    "search": ("nas.cli.search", "rank the children of a trained supernet: nas search train_dir=..."),
    "rank": ("nas.cli.rank", "score a ground-truth table with free / combined rankers: tau [95% CI], cost per child"),
    "bench": ("nas.cli.bench", "nas bench build: stand-alone training of architectures -> ground-truth table"),
    "leaderboard": ("nas.cli.leaderboard", "train / collect the experiments of conf/experiment, write LEADERBOARD.md"),
    "searchboard": ("nas.cli.searchboard", "search results: what each method finds, its ground truth, cost, memory"),
    "export": ("nas.cli.export", "a run's best child (rank=k, arch=...) as PyTorch + TorchScript + ONNX files, checked"),
    "retrain": ("nas.cli.retrain", "train a run's child with a stand-alone recipe, several seeds, resumable"),
    "latency": ("nas.cli.latency", "nas latency build: a per-layer latency lookup table for this machine"),
    "list": ("nas.cli.listing", "registered search spaces and config-group choices"),
}

USAGE = "usage: nas <command> [hydra overrides...]   e.g. nas run seed=1 trainer.epochs=10\n\ncommands:\n" + "\n".join(
    f"  {name:<12} {text}" for name, (_, text) in COMMANDS.items()
) + ("\n\nEvery command but `list` is a Hydra app: `nas run --help` shows its config; `-m` runs sweeps.\n"
      "Several processes (train, run): torchrun --nproc_per_node=N -m nas train ...  (multi-node: `nas train`'s "
      "docstring, README)")


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    problem = unknown_config_choice(rest)  # one line, before Hydra composes (it would list every option)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(COMMANDS[command][0])
    sys.argv = [f"nas-{command}", *rest]
    module.main()


if __name__ == "__main__":
    main()
