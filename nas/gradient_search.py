"""The last stage of a gradient-based search run: the found architecture, exported, scored and recorded.

A training method that finds an architecture itself (``TrainingMethod.found_architecture``: DARTS, GDAS,
DrNAS, RARTS, TangleNAS) needs no searcher: `nas run` ends here. The argmax architecture is exported
through the supernet's ``subnet`` (``found_model.pt``), scored with the inherited weights by the evaluator,
looked up in the benchmark's table (or a functionally equivalent cell of it; else in the truth the run folder
trained stand-alone by the table's recipe, `nas run found_truth.build=true`: see nas.cli.truth), and recorded with
the method's architecture parameters (``found_architecture.json``), the cost and the peak memory, beside
``summary.json`` and ``report.md``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from omegaconf import DictConfig

from nas.architecture import Architecture
from nas.benchmarks.oracle import Oracle, build_oracle
from nas.benchmarks.records import load_records
from nas.data.splits import ImageDataset
from nas.run_folder import FoundArchitecture, RunFolder, Summary
from nas.search_space import SearchSpace
from nas.searchboard.truth import GroundTruth, Truth
from nas.training import Trainer
from nas.training.anytime import peak_memory_mib


def ground_truth(oracle: Oracle | None, space: SearchSpace, arch: Architecture,
                 trained: Oracle | None = None) -> Truth | None:
    """``arch``'s truth: its own record in the benchmark's table (``oracle``) or in the cells the run trained
    (``trained``), else a cell that computes the same function (``space.canonical``); None without either (or
    without a benchmark)."""
    if oracle is None:
        return None
    return GroundTruth(space, oracle, trained).lookup(arch)


def truth_fields(truth: Truth | None, trained: Oracle | None, folder: RunFolder) -> dict:
    """The truth keys of ``FoundArchitecture``: a trained truth also names its records (relative to the run
    folder) and the seeds it averages."""
    if truth is None:
        return {"truth": None, "truth_arch": None, "truth_source": None, "truth_records": None, "truth_seeds": None}
    fields = {"truth": truth.accuracy, "truth_arch": truth.cell, "truth_source": truth.source,
              "truth_records": None, "truth_seeds": None}
    if truth.source == "trained" and trained is not None:
        path = Path(trained.path)
        fields["truth_records"] = Path(os.path.relpath(path, folder.path)).as_posix()
        fields["truth_seeds"] = sorted(int(r["seed"]) for r in load_records(path) if r["arch"] == truth.cell)
    return fields


def record_found_architecture(cfg: DictConfig, folder: RunFolder, data: ImageDataset, space: SearchSpace,
                              trainer: Trainer, trained: Oracle | None = None) -> FoundArchitecture:
    """Export, score, look up and record the architecture ``trainer.method`` found (see the module docstring);
    ``trained``: the cells the run folder trained stand-alone so far (nas.cli.truth.found_truth_table)."""
    from nas.pipeline import build_evaluator  # the job layer's evaluator factory (with its BN policy)

    method = trainer.method
    arch = space.validate(method.found_architecture())
    supernet = trainer.supernet
    folder.write_found_model(str(arch), {k: v.detach().cpu() for k, v in supernet.subnet(arch).state_dict().items()})
    evaluator = build_evaluator(cfg, supernet, data)
    evaluator.progress = False
    evaluator.metric = "accuracy"  # the found child's inherited-weight accuracy, whatever the searchers score by
    oracle = build_oracle(cfg.benchmark, space)
    truth = truth_fields(ground_truth(oracle, space, arch, trained), trained, folder)
    cost = space.cost(arch)
    expected = getattr(method, "expected_weights", None)
    relaxed = float(evaluator.score_relaxed(expected())) if expected is not None else None
    found = FoundArchitecture(
        method=str(cfg.trainer.method._target_), arch=str(arch), **truth,
        supernet_accuracy=float(evaluator.score(arch)), params=int(cost["params"]), flops=int(cost["flops"]),
        train_seconds=float(trainer.state.seconds), train_steps=int(trainer.state.step),
        peak_memory_mib=peak_memory_mib(trainer.device), architecture=method.architecture_record() or {},
        benchmark=None if oracle is None else " ".join([type(oracle).__name__, Path(getattr(oracle, "path", "")).name]),
        relaxed_accuracy=relaxed,
    )
    write_found(cfg, folder, found)
    return found


def add_trained_truth(cfg: DictConfig, folder: RunFolder, space: SearchSpace, oracle: Oracle | None,
                      found: FoundArchitecture, trained: Oracle | None) -> FoundArchitecture:
    """``found`` with its truth looked up again, now also in ``trained`` (the cells the run trained stand-alone),
    and its record, summary and report rewritten (each file atomically)."""
    found = replace(found, **truth_fields(ground_truth(oracle, space, space.parse(found.arch), trained), trained,
                                          folder))
    write_found(cfg, folder, found)
    return found


def write_found(cfg: DictConfig, folder: RunFolder, found: FoundArchitecture) -> None:
    """``found_architecture.json``, ``summary.json`` and ``report.md`` of a gradient-based search run."""
    folder.write_found_architecture(found)
    folder.write_summary(Summary(
        train_seconds=found.train_seconds, train_steps=found.train_steps, child_evaluations=1,
        top=[{"arch": found.arch, "score": found.supernet_accuracy, "truth": found.truth, "params": found.params,
              "flops": found.flops}],
    ))
    folder.write_report("\n".join(report_lines(cfg, found)) + "\n")


def report_lines(cfg: DictConfig, found: FoundArchitecture) -> list[str]:
    """``report.md`` of a gradient-based search run."""
    lines = ["# NAS run report: gradient-based search", "",
             f"- method: `{found.method}` ({found.architecture.get('weight_map', '')}), "
             f"{found.train_steps} steps in {found.train_seconds:.0f} s",
             f"- found architecture: `{found.arch}` ({found.params:,} params, {found.flops:,} FLOPs)",
             f"- ground truth: {truth_text(found)}",
             f"- supernet accuracy (inherited weights, {cfg.evaluator.valid_size} valid images): "
             f"{found.supernet_accuracy:.2f}% for the found child alone{relaxed_text(found)}",
             f"- peak memory: {', '.join(f'{k} {v:.0f} MiB' for k, v in found.peak_memory_mib.items())}",
             f"- mean entropy of the architecture weights: {found.architecture.get('entropy', float('nan')):.3f} nats",
             "", "## Architecture weights (argmax marked)", "", "```"]
    for decision, options in found.architecture.get("parameters", {}).items():
        best = max(options, key=lambda o: options[o]["logit"])
        cells = "  ".join(f"{'*' if o == best else ' '}{o}={v['weight']:.3f}" for o, v in options.items())
        lines.append(f"{decision:<24} {cells}")
    return lines + ["```"]


def truth_text(found: FoundArchitecture, root: Path | None = None) -> str:
    """The ground truth in words; a trained truth names its records (under ``root``, the run folder, if given)."""
    if found.benchmark is None:
        return "no benchmark in this run (benchmark=none)"
    if found.truth is None:
        return ("not in the benchmark's table: rerun with found_truth.build=true to train it stand-alone by the "
                "table's recipe (`nas bench build`, into the run folder; the supernet is not trained again)")
    via = "" if found.truth_arch == found.arch else f" (of the equivalent cell `{found.truth_arch}`)"
    text = f"{found.truth:.2f}% test accuracy{via}"
    if found.truth_source == "trained":
        seeds = [str(s) for s in found.truth_seeds or []]
        seeds_text = f"seed {seeds[0]}" if len(seeds) == 1 else \
            f"seeds {', '.join(seeds[:-1])} and {seeds[-1]}" if seeds else "its seeds"
        records = found.truth_records if root is None else (Path(root) / found.truth_records).as_posix()
        text += f" (trained stand-alone by the table's recipe, {seeds_text}, in {records})"
    return text


def relaxed_text(found: FoundArchitecture) -> str:
    """``; <x>% for the relaxed supernet ...``: the accuracy before discretising, when it was scored."""
    if found.relaxed_accuracy is None:
        return ""
    return (f"; {found.relaxed_accuracy:.2f}% for the relaxed supernet, every option at its expected weight: "
            "what the search trained, before discretising")


def print_found(found: FoundArchitecture, folder: RunFolder) -> None:
    """What `nas run` prints at the end of a gradient-based search."""
    print(f"\nfound architecture: {found.arch}  ({found.params:,} params)")
    print(f"ground truth:       {truth_text(found, folder.path)}")
    print(f"supernet accuracy:  {found.supernet_accuracy:.2f}% (inherited weights, the found child alone"
          f"{relaxed_text(found)})")
    print(f"search cost:        {found.train_steps} steps, {found.train_seconds:.0f} s; peak memory "
          + ", ".join(f"{k} {v:.0f} MiB" for k, v in found.peak_memory_mib.items()))
    print(f"\nrecord:      {folder.found_architecture}")
    print(f"model:       {folder.found_model}")
    print(f"report:      {folder.report}")
