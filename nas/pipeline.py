"""The stages of the main job, each resumable from the files the stage before wrote.

config -> data + search space -> supernet -> trainer -> checkpoint -> evaluator -> searcher ->
ranked children -> oracle (if any) -> ranking metrics -> report.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from nas.balanced_mixture import BalancedMixtureSchedule
from nas.benchmarks.oracle import Oracle, build_oracle
from nas.checkpoint import load_checkpoint
from nas.data.splits import ImageDataset
from nas.errors import CheckpointError, ConfigError
from nas.evaluator import Evaluator
from nas.latency import attach_latency
from nas.confidence import tau_interval
from nas.metrics import rank_report
from nas.progress import progress_bar
from nas.rankers.config import build_rankers, needs_data, ranker_specs
from nas.rankers.objective import RankerObjective, check_pointwise
from nas.report import format_table, score_axis, supernet_score_name
from nas.report_rankers import ReportRankers, ranking_table, top_table
from nas.run_folder import BenchmarkScore, RankingMetrics, RunFolder
from nas.search_space import SearchSpace
from nas.space_checks import check_fits_data, check_space, check_supernet
from nas.searchers.base import Objective, Trial
from nas.training import Distributed, SnapshotCallback, Trainer, load_snapshots
from nas.validation import search_budget, validate_against_space
from supernets.base import Supernet
from supernets.split import restore_split

if TYPE_CHECKING:
    from samplers.path.base import PathSampler

# Keys that change how a run looks, not what it computes: excluded from the training fingerprint (the
# distributed backend and check period change no weight; a run may resume on another number of ranks).
_COSMETIC = {"progress", "log_every", "checkpoint_every", "tensorboard", "device", "amp", "distributed"}


def training_fingerprint(cfg: DictConfig) -> str:
    """Hash of everything that decides the trained weights: data, space, samplers, the trainer with its
    method (optimizer, schedule, losses), the seed and the few-shot split; not the cosmetic loop keys."""
    parts = {key: OmegaConf.to_container(cfg[key], resolve=True)
             for key in ("dataset", "search_space", "path_sampler", "data_sampler", "trainer")}
    parts["trainer"] = {k: v for k, v in parts["trainer"].items() if k not in _COSMETIC}
    parts["seed"] = int(cfg.seed)
    if cfg.get("few_shot") is not None:  # one-shot runs hash no few-shot entry
        parts["few_shot"] = OmegaConf.to_container(cfg.few_shot, resolve=True)
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def search_fingerprint(cfg: DictConfig) -> str:
    """Hash of everything that decides a `nas search` folder's ranking (``search.budget`` aside: a larger one
    extends the search in its folder).

    objective=supernet: the trained folder (``train_dir``), the evaluator and the searcher; objective=oracle:
    the benchmark, the search space and the searcher; objective=ranker: the free ranker, the search space, the
    dataset (a zero-cost proxy reads its images) and the searcher. The seed in all.
    """
    def plain(node: Any) -> Any:
        value = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
        return {k: v for k, v in value.items() if k != "progress"} if isinstance(value, dict) else value

    objective = cfg.get("objective", "supernet")
    parts: dict[str, Any] = {"objective": objective, "seed": int(cfg.seed), "searcher": plain(cfg.searcher)}
    if cfg.get("latency") is not None:  # latency=table | measured: the latency_ms every constraint reads
        parts["latency"] = plain(cfg.latency)
    if objective == "oracle":
        parts.update(benchmark=plain(cfg.benchmark), search_space=plain(cfg.search_space))
    elif objective == "ranker":
        parts.update(free_ranker=cfg.get("free_ranker"), search_space=plain(cfg.search_space),
                     dataset=plain(cfg.dataset), device=cfg.get("device"))
    else:
        train_dir = cfg.get("train_dir")
        parts.update(train_dir=None if train_dir is None else os.path.realpath(str(train_dir)),
                     evaluator=plain(cfg.evaluator))
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class RunResult:
    """What a `nas run` produced, for printing and tests."""

    output_dir: Path
    trials: list[Trial] = field(default_factory=list)
    ranking: dict[str, Any] | None = None
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)  # free rankers, then the combined one
    combined: list[tuple[Trial, float]] = field(default_factory=list)    # the children by the combined ranker
    combined_name: str | None = None
    verdict: str | None = None  # does the supernet beat the free rankers (and what preset=full reaches)
    train_seconds: float = 0.0
    search_seconds: float = 0.0
    benchmark_seconds: float = 0.0


def build_space(cfg: DictConfig) -> SearchSpace:
    """The configured search space, checked (and given latency where ``latency`` asks), before any data is read."""
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    space = instantiate(cfg.search_space)
    if not isinstance(space, SearchSpace):
        raise ConfigError(f"search_space must build a SearchSpace, got {type(space).__name__}")
    check_space(cfg, space)  # a plugin's supernet, declared choices and cost functions: one line per problem
    attach_latency(cfg, space)  # latency=table | measured: space.cost() gains latency_ms
    validate_against_space(cfg, space)  # e.g. cost bounds that no child meets: refused before any data is loaded
    return space


def setup(cfg: DictConfig) -> tuple[ImageDataset, SearchSpace]:
    space = build_space(cfg)
    data = instantiate(cfg.dataset)
    check_fits_data(space, data)  # the model takes the dataset's examples and gives one logit per class
    return data, space


def train_stage(cfg: DictConfig, out: Path, data: ImageDataset, space: SearchSpace,
                distributed: Distributed | None = None) -> Trainer:
    """Train (or resume training) the supernet in ``out``: the training method (``trainer.method``) on the
    supernet and path sampler, run by the loop (``trainer``) with the data sampler and the few-shot callback.
    ``distributed``: this process's ranks (under torchrun); None builds ``trainer.distributed``."""
    torch.manual_seed(int(cfg.seed))
    supernet = check_supernet(space, space.build_supernet())  # a plugin's stub is refused before training
    path_sampler = instantiate(cfg.path_sampler, space=space)
    method = instantiate(cfg.trainer.method, supernet=supernet, path_sampler=path_sampler)
    train_data = method.bind_data(data.train)  # a bilevel method keeps a part for its architecture steps
    data_sampler = instantiate(cfg.data_sampler, num_examples=len(train_data))
    few_shot = cfg.get("few_shot")
    callbacks = [instantiate(few_shot, space=space, supernet=supernet)] if few_shot is not None else []
    if snapshot_count(cfg) > 1:  # a snapshot ensemble: keep the last epochs' weights (after any split)
        callbacks.append(SnapshotCallback(snapshot_count(cfg)))
    anytime = instantiate(cfg.anytime) if cfg.get("anytime") is not None else None
    if anytime is not None and anytime.wanted(method):  # a gradient-based search: its argmax every few epochs
        callbacks.append(anytime)
    trainer: Trainer = instantiate(
        cfg.trainer, method=method, train_data=train_data, data_sampler=data_sampler, output_dir=str(out),
        fingerprint=training_fingerprint(cfg), callbacks=callbacks,
        **({"distributed": distributed} if distributed is not None else {}),
    )
    trainer.fit()
    for callback in callbacks:  # a finished folder resumed by fit() trains nothing: its assignment file anyway
        if isinstance(callback, BalancedMixtureSchedule):
            callback.write_summary(trainer)
    return trainer


def build_distributed(cfg: DictConfig) -> Distributed:
    """This process's ranks (``trainer.distributed``; torchrun's environment decides how many): built before the
    run folder is claimed, since rank 0 alone claims it."""
    node = cfg.trainer.get("distributed")
    return instantiate(node) if node is not None else Distributed()


def load_trained_supernet(train_dir: Path, space: SearchSpace) -> Supernet:
    """The supernet of a finished `nas train` / `nas run` folder."""
    state = load_checkpoint(RunFolder(train_dir).checkpoint)
    if state["train_state"]["step"] < state["total_steps"]:
        raise CheckpointError(
            f"{train_dir} holds an unfinished training run (step {state['train_state']['step']} of "
            f"{state['total_steps']}): rerun `nas train` with the same overrides to finish it"
        )
    supernet = restore_split(space.build_supernet(), state["supernet"])  # a few-shot run's sub-supernets
    try:
        supernet.load_state_dict(state["supernet"])
    except RuntimeError as exc:
        raise CheckpointError(f"{train_dir}'s supernet does not fit this search space: {str(exc)[:300]}") from None
    return supernet


def searcher_needs_path_sampler(cfg: DictConfig) -> bool:
    """Whether ``cfg.searcher`` draws from the run's trained path sampler (``needs_path_sampler``:
    searcher=controller)."""
    return bool(getattr(get_class(cfg.searcher._target_), "needs_path_sampler", False))


def check_searcher_policy(cfg: DictConfig, path_sampler: type | None) -> None:
    """Refuse a searcher that draws from the run's trained path sampler when there is none to draw from:
    ``path_sampler`` is the class of the run's path sampler, None for objective=oracle (no run). `nas run` calls it
    before training, `nas search` before anything is loaded."""
    if not searcher_needs_path_sampler(cfg):
        return
    name = cfg.searcher._target_
    if path_sampler is None:
        raise ConfigError(f"searcher {name} draws children from a run's trained ENAS controller, and objective=oracle "
                          "has no run: search an ENAS run (`nas search train_dir=<a run of path_sampler=enas> "
                          "searcher=controller`), or use another searcher with objective=oracle (searcher=random)")
    if not callable(getattr(path_sampler, "propose", None)):
        raise ConfigError(f"searcher {name} draws children from the run's trained ENAS controller, and the run's path "
                          f"sampler {path_sampler.__name__} is no controller (no propose): train with "
                          "path_sampler=enas (experiment=enas), or use another searcher (searcher=random)")


def load_trained_path_sampler(train_dir: Path, trained: DictConfig, space: SearchSpace) -> PathSampler:
    """The trained path sampler of a finished `nas train` / `nas run` folder: its config's ``path_sampler`` (in
    ``trained``) with the state of its checkpoint (ENAS: the controller that searcher=controller draws from)."""
    sampler = instantiate(trained.path_sampler, space=space)
    state = load_checkpoint(RunFolder(train_dir).checkpoint)
    if "path_sampler" not in state:
        raise CheckpointError(f"{train_dir}'s checkpoint holds no path sampler state: it was not trained by "
                              "`nas train` or `nas run`; train it again")
    sampler.load_state_dict(state["path_sampler"])
    return sampler


def snapshot_count(cfg: DictConfig) -> int:
    """``evaluator.snapshots``: how many weights a snapshot ensemble averages (0 or 1: the final ones only)."""
    evaluator = cfg.get("evaluator")
    return int(evaluator.get("snapshots") or 0) if evaluator is not None else 0


def build_evaluator(cfg: DictConfig, supernet: Supernet, data: ImageDataset,
                    train_dir: Path | None = None) -> Evaluator:
    """The evaluator of ``supernet`` (the final weights); with ``evaluator.snapshots`` >= 2, also the last
    epochs' snapshots that the training run in ``train_dir`` kept."""
    count, extra = snapshot_count(cfg), {}
    if count > 1:
        if train_dir is None:
            raise ConfigError(f"evaluator.snapshots={count} needs the training run's folder to read its snapshots "
                              "from (build_evaluator(..., train_dir=...))")
        space = instantiate(cfg.search_space)
        extra["snapshot_supernets"] = load_snapshots(train_dir, space.build_supernet, count)
    return instantiate(cfg.evaluator, supernet=supernet, valid_data=data.valid, train_data=data.train, **extra)


def oracle_objective(cfg: DictConfig) -> tuple[Oracle, SearchSpace]:
    """``objective=oracle``: the benchmark's oracle and the space it covers; no supernet, no data.

    The oracle is searched on its own space (``Oracle.on_own_space``): NAS-Bench-201's is the
    benchmark's CIFAR network (C=16, N=5), so costs and constraints are that network's; a table
    built by ``nas bench build`` covers the configured search space and must hold every
    architecture of it.
    """
    oracle = build_oracle(cfg.benchmark, instantiate(cfg.search_space))
    if oracle is None:
        raise ConfigError("objective=oracle needs a benchmark with ground truth: add benchmark=nb201 "
                          "(NAS-Bench-201, every cell), or search a trained supernet with objective=supernet")
    oracle = oracle.on_own_space()
    space = attach_latency(cfg, oracle.space)  # latency=table | measured: space.cost() gains latency_ms
    if len(oracle) < space.size:
        raise ConfigError(f"the oracle {type(oracle).__name__} knows {len(oracle):,} of the {space.size:,} "
                          "architectures of its search space, so a searcher would propose unknown ones: "
                          "use objective=oracle with a complete table (benchmark=nb201)")
    return oracle, space


def ranker_objective(cfg: DictConfig) -> tuple[RankerObjective, SearchSpace]:
    """``objective=ranker``: the free ranker ``free_ranker`` (a ``conf/ranker/`` name) scores each child the
    searcher proposes, on the configured search space; no supernet is trained, and the dataset is read only by a
    ranker that needs training images (a zero-cost proxy; a parameter count reads none)."""
    name = str(cfg.get("free_ranker") or "")
    if not name:
        raise ConfigError("objective=ranker needs free_ranker=<a name of conf/ranker/>, e.g. free_ranker=params")
    specs = ranker_specs([name], int(cfg.get("seed", 0)), str(cfg.get("device") or "cpu"))
    check_pointwise(get_class(specs[name]._target_), name)  # before any data is read
    if needs_data(specs[name]):  # a zero-cost proxy: the model must take the dataset's images
        data, space = setup(cfg)
        train = data.train
    else:  # an analytic count reads no data
        space, train = build_space(cfg), None
    ranker = build_rankers(specs, space, lambda: train, bool(cfg.get("progress", False)))[name]
    return RankerObjective(ranker), space


def search_stage(cfg: DictConfig, out: Path, space: SearchSpace, objective: Evaluator | Objective,
                 path_sampler: PathSampler | None = None) -> tuple[list[Trial], float]:
    """Rank ``search.budget`` children with the searcher; reuse a finished ranking in ``out``.

    ``objective`` is the supernet's evaluator or any callable (an oracle). The searcher's state is
    saved as the search goes (``searcher_state.pt``), so a killed search resumes where it stopped;
    Optuna searchers keep their study in ``optuna_journal.log`` unless ``searcher.storage`` names one.
    ``path_sampler``: the run's trained path sampler, passed as ``policy`` to a searcher that draws from it
    (``needs_path_sampler``: searcher=controller), which is refused without one.
    """
    budget = search_budget(cfg, space)  # at most the space's size
    folder = RunFolder(out)
    score_key = getattr(objective, "score_key", "oracle_accuracy")  # a free ranker's: ranker_score
    if isinstance(objective, Evaluator):
        score_key = "supernet_loss" if objective.metric == "loss" else "supernet_accuracy"
    if folder.ranked_children.exists():
        rows = folder.read_ranking()
        if len(rows) == budget and all(r.score_key == score_key for r in rows):
            return [Trial(r.rank - 1, space.parse(r.arch), r.score, {"params": r.params, "flops": r.flops})
                    for r in rows], 0.0
    if isinstance(objective, Evaluator):
        if cfg.get("objective", "supernet") != "supernet":
            raise ConfigError(f"this command searches with the supernet it trains, not objective={cfg.objective}: "
                              "search a benchmark table with `nas search objective=oracle benchmark=nb201`")
        objective.progress = False
        score = objective.score
    else:
        score = objective
    out.mkdir(parents=True, exist_ok=True)
    extra = ({"storage": str(folder.optuna_journal)} if "storage" in cfg.searcher and cfg.searcher.storage is None
             else {})
    if searcher_needs_path_sampler(cfg):
        check_searcher_policy(cfg, None if path_sampler is None else type(path_sampler))
        extra["policy"] = path_sampler
    searcher = instantiate(cfg.searcher, space=space, **extra)
    state_path = folder.searcher_state
    if state_path.exists():
        searcher.load(state_path)
    started = time.perf_counter()
    with progress_bar(budget, "searching", unit="child", initial=len(searcher.history),
                      enabled=bool(cfg.progress)) as bar:
        history = searcher.search(score, budget, progress=lambda trial: bar.update(1), state_path=state_path)
    seconds = time.perf_counter() - started
    folder.write_ranking(history.trials, score_key)
    if getattr(searcher, "cost_objective", None) and history.trials:
        folder.write_pareto_front(history.trials, searcher.cost_objective,
                                  supernet_score_name(cfg) if isinstance(objective, Evaluator) else "accuracy")
    return history.trials, seconds


def benchmark_stage(cfg: DictConfig, out: Path, space: SearchSpace, evaluator: Evaluator,
                    rankers: ReportRankers | None = None) -> tuple[dict | None, dict, float]:
    """Score the oracle's cells with the supernet and compare the ranking with ground truth, beside ``rankers``
    (default: ``report.free_rankers`` that need no training images) and their combination with the supernet.

    Returns the supernet's report (with ``kendall_interval``, the bootstrap interval over cells), the reports of
    the other rankers by name, and the seconds the supernet's scoring took.
    """
    oracle = build_oracle(cfg.benchmark, space)
    if oracle is None:
        return None, {}, 0.0
    cells = oracle.architectures()
    limit = cfg.benchmark.get("max_cells")
    if limit is not None and limit < len(cells):
        pick = np.random.default_rng(0).permutation(len(cells))[: int(limit)]
        cells = [cells[int(i)] for i in sorted(pick)]
    started = time.perf_counter()
    evaluator.progress = bool(cfg.progress)
    predicted = evaluator.score_many(cells, desc="scoring ground-truth cells")
    seconds = time.perf_counter() - started
    truth = [oracle(c) for c in cells]
    report = rank_report(predicted, truth)
    report["scoring_seconds"] = seconds
    rankers = rankers if rankers is not None else ReportRankers.from_config(cfg, space)
    report["kendall_interval"] = list(tau_interval([predicted], truth, rankers.bootstrap))
    baselines = rankers.measure(predicted, cells, truth)
    folder = RunFolder(out)
    folder.write_benchmark_scores([BenchmarkScore(str(c), p, t) for c, p, t in zip(cells, predicted, truth)])
    folder.write_ranking_metrics(RankingMetrics(report, baselines))
    folder.plot_supernet_vs_truth(predicted, truth, f"Kendall tau {report['kendall_tau']:.3f}, Spearman "
                                  f"{report['spearman_rho']:.3f} ({len(cells)} cells)", score_axis(cfg))
    return report, baselines, seconds


def few_shot_lines(out: Path) -> list[str]:
    """The report's few-shot line (sub-supernets, partition, gradient-matching cost) when the run split."""
    summary = RunFolder(out).read_few_shot()
    if summary is None:
        return []
    parts = "; ".join(", ".join(f"{d} ∈ {{{', '.join(map(str, o))}}}" for d, o in c.items()) or "all"
                      for c in summary.partition)
    cost = (f"gradient-matching scoring {summary.gm_scoring_seconds:.0f} s = "
            f"{100 * summary.gm_fraction_of_training:.1f}% of supernet training"
            if summary.gm_scoring_seconds > 0 else "no gradient-matching scoring (the split decision was named)")
    return [f"- few-shot ({summary.method}, split at epochs {summary.split_epochs}): "
            f"{summary.sub_supernets} sub-supernets [{parts}]; {cost}"]


BALANCED_MIXTURE_ROWS = 100
"""The most configurations the report's assignment table lists (the file holds them all)."""


def balanced_mixture_lines(out: Path, report_dir: Path | None = None) -> tuple[list[str], list[str]]:
    """The report's line on a Balanced Mixture of SuperNets run (``few_shot=bmos``) and its section: the table of
    configuration -> supernet with the estimated losses, from the training folder ``out``'s
    ``balanced_mixture.json``; nothing for other runs. ``report_dir``: the report's folder when it is not ``out``
    (`nas search train_dir=...`): the file is named by its path."""
    folder = RunFolder(out)
    summary = folder.read_balanced_mixture()
    if summary is None:
        return [], []
    same = report_dir is None or Path(report_dir).resolve() == folder.path.resolve()
    name = folder.balanced_mixture.name if same else str(folder.balanced_mixture)
    k, settings = summary.supernets, summary.settings
    relative = bool(settings.get("relative", True))
    line = (f"- balanced mixture (few_shot=bmos): {k} supernets, configurations per supernet {summary.counts}, "
            f"child steps per supernet {summary.trained} (`{name}`)")
    losses = ("the moving average of its training loss on that supernet minus the moving average of all training "
              "losses (relative)" if relative else "the moving average of its training loss on that supernet")
    head = (["configuration", "supernet", *(f"loss on {m}" for m in range(k)), "child steps"])
    rows = sorted(enumerate(summary.configurations), key=lambda item: (item[1].supernet, item[0]))
    section = [
        "", "## Balanced mixture: configuration → supernet", "",
        f"{len(rows)} configurations on {k} supernets (temperature {float(settings.get('temperature', 0)):g}); "
        f"each is scored on its supernet of the hard balanced assignment, the one of least total estimated loss with "
        f"⌊N/K⌋ or ⌈N/K⌉ configurations per supernet: {summary.counts}. A loss is {losses}, lower is better; the "
        "assigned supernet's is in bold, and an entry with no child steps is the configuration's mean over the "
        f"supernets it trained on. Child steps per supernet: {summary.trained} of {summary.train_steps} steps.", "",
        "| " + " | ".join(head) + " |", "|" + " --- |" * len(head),
    ]
    for _, row in rows[:BALANCED_MIXTURE_ROWS]:
        cells = [f"**{v:+.4f}**" if m == row.supernet else f"{v:+.4f}" for m, v in enumerate(row.loss)]
        section.append(f"| `{row.arch}` | {row.supernet} | " + " | ".join(cells) + " | "
                       + " / ".join(map(str, row.steps)) + " |")
    if len(rows) > BALANCED_MIXTURE_ROWS:
        section += ["", f"… and {len(rows) - BALANCED_MIXTURE_ROWS:,} more in `{name}`."]
    return [line], section


def policy_lines(out: Path) -> list[str]:
    """The report's line on a search that drew from the trained controller (searcher=controller): how many of its
    children the controller proposed, and how many were uniform fallbacks (it proposed nothing new)."""
    path = RunFolder(out).searcher_state
    state = load_checkpoint(path) if path.is_file() else {}
    if "fallbacks" not in state:
        return []
    total, fallbacks = len(state["history"]), int(state["fallbacks"])
    return [f"- children from the trained controller (temperature {state['temperature']:g}): {total - fallbacks} of "
            f"{total}; {fallbacks} uniform fallbacks (the controller proposed no new child)"]


def write_run_report(cfg: DictConfig, result: RunResult, space: SearchSpace) -> Path:
    out = result.output_dir
    folder = RunFolder(out)
    folder.plot_accuracy_vs_params(result.trials, score_axis(cfg))
    lines = [
        "# NAS run report", "",
        f"- search space: `{space.name}` ({space.size:,} architectures), spec `{json.dumps(space.spec())}`",
        f"- dataset: `{cfg.dataset._target_}` {dict((k, v) for k, v in cfg.dataset.items() if k != '_target_')}",
        f"- path sampler: `{cfg.path_sampler._target_}`, data sampler: `{cfg.data_sampler._target_}`",
        f"- supernet training: {cfg.trainer.epochs} epochs, batch {cfg.trainer.batch_size}, "
        f"{result.train_seconds:.0f} s",
        f"- search: `{cfg.searcher._target_}`, {len(result.trials)} children scored on {cfg.evaluator.valid_size} "
        f"valid images, BN policy `{cfg.evaluator.bn_policy}`, {result.search_seconds:.0f} s",
    ]
    trained = Path(cfg.get("train_dir") or out)  # `nas search train_dir=...`: the training run's folder
    mixture_line, mixture_section = balanced_mixture_lines(trained, out)
    lines += few_shot_lines(trained) + mixture_line + policy_lines(out)
    if result.combined:
        lines += ["", f"## Top {cfg.search.top_k} children by {result.combined_name}", "",
                  f"The mean rank, among the {len(result.trials)} searched children, of the {supernet_score_name(cfg)} "
                  f"and the free rankers it names (no ground truth in the score); `{folder.ranked_children_csv.name}` "
                  "keeps the supernet's own order.",
                  "", "```", top_table(result.combined, cfg.search.top_k, cfg.evaluator.metric), "```"]
    lines += [
        "", f"## Top {cfg.search.top_k} children by {supernet_score_name(cfg)}", "", "```",
        format_table(result.trials, cfg.search.top_k, cfg.evaluator.metric), "```",
        "", f"![{supernet_score_name(cfg)} vs params]({folder.accuracy_vs_params_png.name})", "",
    ]
    if result.ranking is not None:
        r = result.ranking
        confidence = float(((cfg.get("report") or {}).get("bootstrap") or {}).get("confidence", 0.95))
        lines += [
            "## Ranking against ground truth", "",
            f"{r['n']} ground-truth cells scored in {result.benchmark_seconds:.0f} s; [{100 * confidence:g}% CI]: "
            "percentile bootstrap over cells; s / child: measured seconds per child of a ranker without training "
            "(a zero-cost proxy builds the fresh child and measures it).", "",
            *ranking_table(r, result.baselines, confidence),
        ]
        lines += ["", *([result.verdict, ""] if result.verdict else []),
                  f"![supernet vs ground truth]({folder.supernet_vs_truth_png.name})", ""]
    if mixture_section:
        lines += [*mixture_section[1:], ""]
    return folder.write_report("\n".join(lines))
