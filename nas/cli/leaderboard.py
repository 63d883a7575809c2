"""`nas leaderboard`: run or collect the leaderboard's experiments and write LEADERBOARD.md.

``mode=run`` trains the rows that have no finished run (`nas run` multiruns), rescores the scoring-only rows from
their base rows' checkpoints and scores the free rankers with `nas rank` where their files are missing; then, as
``mode=collect`` alone does, it collects every finished run and writes the board: the trained rows, their seed
ensembles, their combinations with free rankers (mean rank; calibrated on k ground-truth cells), the free rows, the
no-training baselines and the ceiling.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from nas.architecture import Architecture
from nas.atomic import write_text_atomic
from nas.benchmarks.oracle import build_oracle
from nas.cli.common import CONF_DIR, check_board_command, friendly_errors
from nas.confidence import Bootstrap
from nas.errors import ConfigError
from nas.leaderboard import (
    CHOSEN_ON_TRUTH,
    FOOTNOTE_MARKS,
    Row,
    add_baseline_costs,
    add_p_values,
    aggregate,
    archive_run,
    baseline_rows,
    best_free,
    calibrated_rows,
    checkpoint_mib,
    flops_of,
    free_rows,
    mean_rank_row,
    plot_scatter,
    plot_tau_bars,
    plot_tau_vs_epochs,
    read_archived_run,
    read_free,
    read_run,
    render_table,
    seed_ensemble_row,
    write_csv,
)
from nas.leaderboard.rescore import Rescore, ensure_scored, rescore_run
from nas.leaderboard.scoring import truth_seed_keys
from nas.progress import progress_bar
from nas.rankers import RecordedRanker
from nas.run_folder import RunFolder


def planned_rows(cfg: DictConfig) -> list[tuple[str, list[str]]]:
    """(row name, `nas run` overrides) for every trained row, budget-curve rows included."""
    rows = [(name, list(overrides)) for name, overrides in cfg.rows.items()]
    curve = cfg.get("budget_curve")
    if curve and curve.row in cfg.rows:
        rows += [(f"{curve.row}@{e}ep", [*cfg.rows[curve.row], f"trainer.epochs={e}"]) for e in curve.epochs]
    return rows


def rescored_rows(cfg: DictConfig) -> dict[str, Rescore]:
    """The scoring-only rows (``rescore``: name -> base row and evaluator overrides), checked against ``rows``."""
    rescores = {name: Rescore.of(name, spec, list(cfg.rows)) for name, spec in (cfg.get("rescore") or {}).items()}
    clash = sorted(set(rescores) & set(cfg.rows))
    if clash:
        raise ConfigError(f"rescore rows {clash} are also trained rows: give the scoring-only row another name")
    return rescores


def check_board(cfg: DictConfig, names: list[str]) -> None:
    """Every row, free ranker and combination that the board's derived rows name must exist."""
    free = list(cfg.free.rankers)
    combined = cfg.combined
    checks = [("ensemble", cfg.ensemble, names), ("combined.rows", combined.rows, names)]
    if combined.rows:  # combinations are made only for these rows
        checks += [("combined.chosen_on_truth", combined.chosen_on_truth, list(combined.mean_rank)),
                   *[(f"combined.footnotes[{i}].combinations", note.combinations, list(combined.mean_rank))
                     for i, note in enumerate(combined.get("footnotes") or [])],
                   ("combined.calibrated.members", combined.calibrated.members if combined.calibrated else [], free),
                   *[(f"combined.mean_rank.{k}", v, free) for k, v in combined.mean_rank.items()]]
    footnotes = combined.get("footnotes") or []
    if len(footnotes) > len(FOOTNOTE_MARKS):
        raise ConfigError(f"combined.footnotes has {len(footnotes)} notes; a board can mark at most "
                          f"{len(FOOTNOTE_MARKS)}: merge them")
    noted = [key for note in footnotes for key in note.combinations]
    twice = sorted({key for key in noted if noted.count(key) > 1})
    if twice:
        raise ConfigError(f"combined.footnotes names {twice} in more than one note: a combination gets one mark")
    both = sorted(set(noted) & set(combined.chosen_on_truth))
    if both:
        raise ConfigError(f"combined.footnotes names {both}, which combined.chosen_on_truth already marks "
                          f"{CHOSEN_ON_TRUTH}: a combination gets one mark; drop it from one of the two")
    for key, listed, known in checks:
        unknown = [n for n in listed if n not in known]
        if unknown:
            what = "are not free.rankers" if known is free else "do not exist"
            raise ConfigError(f"{key} names {unknown}, which {what}; choose among {known}")
    if cfg.reference is not None and cfg.reference not in names:
        raise ConfigError(f"reference={cfg.reference}: the row that p-values compare with must be a row of the board; "
                          f"choose one of {names}")


def selected_rows(cfg: DictConfig, rows: list[tuple[str, list[str]]], rescores: dict[str, Rescore] | None = None
                  ) -> list[tuple[str, list[str]]]:
    """The rows that ``only`` names (with their budget-curve rows); all rows when it is null. Scoring-only rows
    are listed with no overrides."""
    every = [*rows, *((name, []) for name in rescores or {})]
    if cfg.only is None:
        return every
    unknown = set(cfg.only) - {name for name, _ in every}
    if unknown:
        raise ConfigError(f"only={sorted(unknown)} names no row; rows are {[n for n, _ in every]}")
    return [(n, o) for n, o in every if n in cfg.only or n.split("@")[0] in cfg.only]


def run_command(cfg: DictConfig, name: str, overrides: list[str], seeds: list[int], app: str = "run") -> list[str]:
    """The `nas <app> -m` multirun of a row's ``seeds`` into ``<runs_dir>/<name>/seed<k>/``, with the board's run
    overrides, threads and launcher (``app``: run, or search for `nas searchboard`'s search-only rows)."""
    command = [sys.executable, "-m", "nas", app, "-m", *overrides, *cfg.run_overrides,
               f"seed={','.join(str(s) for s in seeds)}",
               f"hydra.sweep.dir={Path(cfg.runs_dir) / name}", "hydra.sweep.subdir=seed${seed}",
               f"progress={str(bool(cfg.progress)).lower()}"]
    if cfg.threads:
        command.append(f"threads={cfg.threads}")
    if cfg.launcher == "joblib" and cfg.get("backend", "local") == "local":
        command += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={cfg.jobs}"]
    elif cfg.launcher != "basic":
        raise ConfigError(f"launcher must be 'basic' or 'joblib', got {cfg.launcher!r}")
    return command


def saved_overrides(folder: Path) -> list[str]:
    """The `nas run` overrides a run folder was made with (from Hydra's record), seed and machine knobs left out."""
    saved = RunFolder(folder).saved_overrides()
    return [o for o in saved if o.split("=", 1)[0].lstrip("+~") not in ("seed", "progress", "threads")
            and not o.startswith("hydra")]


def display_command(overrides: list[str], seeds: list[int], app: str = "run") -> str:
    """The `nas run` command that trains a row's supernets over ``seeds`` (``app="search"``: the `nas search` of a
    search-only row)."""
    return shlex.join(["nas", app, "-m", *overrides, f"seed={','.join(str(s) for s in seeds)}"])


def assets_dir(cfg: DictConfig) -> Path:
    """Where the CSV, plots and archived runs go (``assets_dir``, default ``<output_dir>/leaderboard``)."""
    return Path(cfg.get("assets_dir") or Path(cfg.output_dir) / "leaderboard")


def archive_path(cfg: DictConfig, row: str, seed: int) -> Path:
    return assets_dir(cfg) / "runs" / row.replace("@", "_") / f"seed{seed}.json"


def rank_overrides(cfg: DictConfig) -> list[str]:
    """The `nas rank` overrides that score the board's free rankers on the board's table into ``free.dir``: the
    board's dataset, search space and benchmark (with this command's overrides of their keys), one thread."""
    hydra_cfg = HydraConfig.get()
    choices = hydra_cfg.runtime.choices
    groups = ("dataset", "search_space", "benchmark")
    forwarded = [o for o in hydra_cfg.overrides.task
                 if "." in (key := o.split("=", 1)[0].lstrip("+~")) and key.split(".")[0] in groups]
    return [*(f"{g}={choices[g]}" for g in groups), *forwarded, f"ranker=[{','.join(cfg.free.rankers)}]",
            f"output_dir={cfg.free.dir}", "threads=1"]


def free_command(cfg: DictConfig) -> str:
    """The command that writes the free rankers' files (shown on the board)."""
    return shlex.join(["nas", "rank", *rank_overrides(cfg)])


def score_free(cfg: DictConfig) -> None:
    """Score every free ranker of the board on its table with `nas rank` (a subprocess, one thread)."""
    command = [sys.executable, "-m", "nas", "rank", *rank_overrides(cfg), f"progress={str(bool(cfg.progress)).lower()}",
               "hydra.output_subdir=null", "hydra/job_logging=disabled"]
    print(f"[free rankers] {free_command(cfg)}", flush=True)
    done = subprocess.run(command)
    if done.returncode != 0:
        raise ConfigError(f"scoring the free rankers failed (exit {done.returncode}): run `{free_command(cfg)}` to "
                          "see why")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="leaderboard")
@friendly_errors
def main(cfg: DictConfig) -> None:
    check_board_command(cfg, "the leaderboard needs ground truth: benchmark=fmnist201 (or another table)")
    runs_dir, seeds = Path(cfg.runs_dir), [int(s) for s in cfg.seeds]
    plan = planned_rows(cfg)
    rescores = rescored_rows(cfg)
    check_board(cfg, [*cfg.rows, *rescores])
    selected = selected_rows(cfg, plan, rescores)  # `only` limits what runs; the board collects every row

    rerun = set(cfg.get("rerun") or [])
    if rerun - {name for name, _ in plan}:
        raise ConfigError(f"rerun={sorted(rerun - {name for name, _ in plan})} names no trained row; rows are "
                          f"{[name for name, _ in plan]}")

    def todo(name: str) -> list[int]:  # an archived run counts as finished, unless its row is in `rerun`
        return [s for s in seeds if not RunFolder(runs_dir / name / f"seed{s}").summary.exists()
                and (name in rerun or not archive_path(cfg, name, s).is_file())]

    if cfg.mode == "run" and cfg.get("backend", "local") == "ray":
        run_on_ray(cfg, [(name, overrides, todo(name)) for name, overrides in selected
                         if name not in rescores and todo(name)])
    for name, overrides in selected:
        if name not in rescores and todo(name) and cfg.mode == "run" and cfg.get("backend", "local") == "local":
            command = run_command(cfg, name, overrides, todo(name))
            print(f"[{name}] running seeds {todo(name)}: {shlex.join(command[2:])}", flush=True)
            done = subprocess.run(command)
            if done.returncode != 0:
                raise ConfigError(f"row {name!r} failed (exit {done.returncode}); rerun `nas leaderboard` to resume it")

    space = instantiate(cfg.search_space)
    oracle = build_oracle(cfg.benchmark, space)
    archs = list(oracle.architectures())
    truth = {str(a): oracle(a) for a in archs}
    if cfg.mode == "run":
        for name, _ in selected:
            if name in rescores and todo(name):
                print(f"[{name}] rescoring {rescores[name].base}'s supernets of seeds {todo(name)} with "
                      f"{' '.join(rescores[name].overrides)} (no training)", flush=True)
                for seed in todo(name):
                    rescore_run(name, rescores[name], runs_dir, seed, cfg.benchmark, list(truth), bool(cfg.progress))
        if cfg.free.rankers and read_free(Path(cfg.free.dir), cfg.free.rankers, list(truth))[1]:
            score_free(cfg)
    rows = [row for name, _ in plan if (row := collect_row(cfg, name, seeds, truth)) is not None]
    rows += [row for name, spec in rescores.items()
             if (row := collect_row(cfg, name, seeds, truth, weights_row=spec.base)) is not None]
    if not rows:
        print(f"no finished supernet run under {runs_dir} or archived in {assets_dir(cfg) / 'runs'} yet: "
              "writing the rows without training only")
    finished = {row.name for row in rows}
    pending = [n for n, _ in plan if n not in finished and "@" not in n] + [n for n in rescores if n not in finished]
    write_leaderboard(cfg, rows, oracle, truth, pending=pending, archs=archs, rescores=rescores)


def collect_row(cfg: DictConfig, name: str, seeds: list[int], truth: dict[str, float],
                weights_row: str | None = None) -> Row | None:
    """A row's finished runs: from its run folders where they exist, otherwise from the archive. A scoring-only
    row's cells are scored with the checkpoints of ``weights_row``'s runs."""
    row = Row(name, "")
    for seed in seeds:
        folder = Path(cfg.runs_dir) / name / f"seed{seed}"
        archived = archive_path(cfg, name, seed)
        if RunFolder(folder).summary.exists():
            weights = Path(cfg.runs_dir) / weights_row / f"seed{seed}" if weights_row else None
            ensure_scored(folder, cfg.benchmark, list(truth), bool(cfg.progress), weights)
            run, overrides = read_run(folder, seed), saved_overrides(folder)
            if weights is not None and math.isnan(run.state_mib):  # a scoring-only row keeps its base's weights
                run.state_mib = checkpoint_mib(RunFolder(weights).checkpoint)
            epochs = float(RunFolder(folder).trained_config().trainer.epochs)
        elif archived.is_file():
            run, overrides, epochs = read_archived_run(archived)
        else:
            continue
        row.runs.append(run)
        row.overrides = row.overrides or overrides
        row.epochs = row.epochs if row.epochs is not None else epochs
    if not row.runs:
        print(f"[{name}] no finished run yet: skipped")
        return None
    row.command = display_command(row.overrides, [run.seed for run in row.runs])
    return row


def run_on_ray(cfg: DictConfig, rows: list[tuple[str, list[str], list[int]]]) -> None:
    """Train each (row, seed) of ``rows`` as one Ray task running `nas run` (``jobs`` at a time, ``threads`` CPUs
    each; ``ray.address`` or a local cluster): the run folders are the basic launcher's, and each run's output is
    in ``<runs_dir>/<row>/seed<k>.log``. A run folder resumes from its checkpoint when its run is started again,
    so a killed driver loses no finished run; on a cluster, ``runs_dir`` must be on a file system every node sees.
    """
    from nas.ray_backend import imap_unordered, ray_cluster

    runs = []
    for name, overrides, seeds in rows:
        for seed in seeds:
            command = [("progress=false" if part.startswith("progress=") else part)  # into a log file
                       for part in run_command(cfg, name, overrides, [seed])]
            log = (Path(cfg.runs_dir) / name / f"seed{seed}.log").resolve()
            print(f"[{name}] seed {seed} on Ray: {shlex.join(command[2:])}", flush=True)
            runs.append((name, seed, log, (command, os.getcwd(), str(log))))
    if not runs:
        return
    with ray_cluster(cfg.ray.address, cfg.ray.num_cpus):
        results = imap_unordered(_run_on_ray, runs, concurrency=int(cfg.jobs), num_cpus=int(cfg.threads or 1))
        bar = progress_bar(len(runs), "leaderboard runs on Ray", unit="run", enabled=bool(cfg.progress))
        try:
            for name, seed, log, code in results:
                if code != 0:
                    raise ConfigError(f"row {name!r} seed {seed} failed (exit {code}; its output is in {log}); rerun "
                                      "`nas leaderboard` to resume it")
                bar.update(1)
        finally:
            results.close()
            bar.close()


def _run_on_ray(run: tuple) -> tuple:
    """One (row, seed) of ``run_on_ray``, in a Ray worker: ``(name, seed, log, exit status)``."""
    from nas.ray_backend import run_logged

    name, seed, log, job = run
    return name, seed, log, run_logged(job)


def bootstrap_of(cfg: DictConfig) -> Bootstrap:
    b = cfg.bootstrap
    return Bootstrap(int(b.resamples), float(b.confidence), int(b.seed))


def footnote_marks(cfg: DictConfig) -> dict[str, str]:
    """The mark of each combination that a note of ``combined.footnotes`` names (‡ for the first note, ...)."""
    notes = cfg.combined.get("footnotes") or []
    return {key: mark for note, mark in zip(notes, FOOTNOTE_MARKS) for key in note.combinations}


def derived_results(cfg: DictConfig, rows: list[Row], free: dict[str, RecordedRanker], archs: list[Architecture],
                    truth: dict[str, float], flops: dict[str, float] | None, limit: float | None,
                    bootstrap: Bootstrap) -> list[dict]:
    """The rows computed from trained rows without training: seed ensembles, then every combination with free
    rankers by mean rank (no ground truth), then the calibrated rows (ground truth). A combination whose free
    rankers have no scores yet is left out."""
    by_name = {row.name: row for row in rows}
    results = [seed_ensemble_row(by_name[n], truth, flops, limit, bootstrap) for n in cfg.ensemble
               if n in by_name and len(by_name[n].runs) > 1]
    combined = cfg.combined
    bases = [by_name[n] for n in combined.rows if n in by_name]
    marks = footnote_marks(cfg)
    for base in bases:
        for key, members in combined.mean_rank.items():
            if all(m in free for m in members):
                results.append(mean_rank_row(base, [free[m] for m in members], archs, truth, flops, limit, bootstrap,
                                             chosen_on_truth=key in combined.chosen_on_truth,
                                             mark=marks.get(key, "")))
    calibrated = combined.calibrated
    if calibrated and all(m in free for m in calibrated.members):
        for base in bases:
            for result in calibrated_rows(base, [free[m] for m in calibrated.members], archs, truth,
                                          [int(k) for k in calibrated.ks], int(calibrated.splits),
                                          float(calibrated.alpha), flops, limit, bootstrap):
                result["marks"] = CHOSEN_ON_TRUTH if calibrated.get("chosen_on_truth") else ""
                results.append(result)
    return results


def reading_notes(cfg: DictConfig, results: list[dict], best: dict | None, stale: list[str],
                  rescores: dict[str, Rescore], shown: set[str]) -> list[str]:
    """How to read the table's kinds and columns, and what made the rows without training (below the table)."""
    b, reference = cfg.bootstrap, cfg.reference or "the reference row"
    share = f"{100 * b.confidence:g}%"
    lines = [
        "How to read it. **kind**: `supernet` — a supernet's own scores, no proxy and no ground truth (a "
        "`mean score of n seeds` row averages its seeds' scores of each cell: one ranking for n trainings); "
        "`baseline` and `free` — no training: an analytic count or a zero-cost proxy of a freshly initialised child; "
        "`free combined` — no training: the mean rank of several free rankers (not a candidate for the best free "
        "ranker below, which is a single one); "
        "`combined` — a supernet row's scores and free rankers by mean rank, per seed, no ground truth; "
        "`uses ground truth` — fit on k ground-truth cells and measured on the other cells only; `ceiling` — one "
        "ground-truth seed ranking the other.",
        "",
        f"**tau {share} CI**: percentile bootstrap over cells ({b.resamples:,} resamples, seed {b.seed}) of the row's "
        "mean tau over seeds (each resample recomputes every seed's tau on the drawn cells); for "
        f"`uses ground truth` rows, the central {share} of the held-out taus over seeds × splits (their "
        "± is the std over seeds × splits). "
        f"**p vs {reference}**: Welch's two-sided t-test of the row's per-seed taus against {reference}'s (a single "
        f"ranking: the one-sample t-test of {reference}'s seeds against its tau). **p > best free**: the one-sided "
        "one-sample t-test that the row's mean tau over seeds is above the best free ranker's"
        + (f" ({best['name']}, {best['kendall_tau'][0]:.3f}, taken as exact: its own interval is in its row)"
           if best else "")
        + ". **free s / child**: the measured seconds per child of the free rankers a row uses (1 CPU thread; a "
        "zero-cost proxy builds the fresh child and measures it); a supernet's own cost is its training and scoring.",
    ]
    if cfg.free.rankers:
        lines += ["", f"Free rows: every cell scored by `{free_command(cfg)}` (files in `{cfg.free.dir}/scores/`; "
                  "`nas leaderboard` runs it where they are missing, `mode=collect` only reads them)."]
    if stale:
        lines += ["", f"Free rankers without scores of every cell yet (so are the rows that combine them): "
                  f"{', '.join(f'`{n}`' for n in stale)}; `nas leaderboard` (mode=run) scores them."]
    if any(r.get("marks") == CHOSEN_ON_TRUTH for r in results):
        lines += ["", f"{CHOSEN_ON_TRUTH} The free rankers of these rows were chosen after looking at the free rows' "
                  "Kendall tau on this table: a selection on the free rows' ground truth, so their tau is optimistic. "
                  "The other combinations were fixed in advance."]
    used = {r.get("marks") for r in results}
    for note, mark in zip(cfg.combined.get("footnotes") or [], FOOTNOTE_MARKS):
        if mark in used:
            lines += ["", f"{mark} {' '.join(str(note.text).split())}"]
    calibrated = [r for r in results if r["kind"] == "uses ground truth"]
    if calibrated:
        c = cfg.combined.calibrated
        lines += ["", f"`calibrated on k=… cells` rows: ridge regression (alpha {c.alpha:g}) of ground truth on the "
                  "normalized ranks of one seed's supernet scores and the free rankers, fit on k random ground-truth "
                  f"cells and measured on all the other cells only, over {c.splits} seeded splits per seed."]
    for name, spec in rescores.items():
        if name in shown:
            lines += ["", f"`{name}` rescores the checkpoints of `{spec.base}` with `{' '.join(spec.overrides)}` (no "
                      f"training; its train minutes are `{spec.base}`'s): `nas leaderboard only=[{name}]` makes it "
                      f"from `{spec.base}`'s run folders."]
    return lines


def write_leaderboard(cfg: DictConfig, rows: list[Row], oracle, truth: dict[str, float],
                      pending: list[str] = (), archs: list[Architecture] | None = None,
                      rescores: dict[str, Rescore] | None = None) -> None:
    out = Path(cfg.output_dir)
    assets = assets_dir(cfg)
    assets.mkdir(parents=True, exist_ok=True)
    link = Path(os.path.relpath(assets, out)).as_posix()  # image links are relative to the board's folder
    link = "" if link == "." else link + "/"
    limit = cfg.get("flops_limit")
    flops = flops_of(oracle, truth) if limit is not None else None
    bootstrap = bootstrap_of(cfg)
    archs = archs if archs is not None else [oracle.space.parse(a) for a in truth]
    free, stale = read_free(Path(cfg.free.dir), list(cfg.free.rankers), list(truth))
    baselines = baseline_rows(oracle, truth, limit, bootstrap)
    add_baseline_costs(baselines, free)
    results = [aggregate(row, truth, flops, limit, bootstrap) for row in rows]
    results += derived_results(cfg, rows, free, archs, truth, flops, limit, bootstrap)
    results += [r for r in baselines if r["kind"] != "ceiling"] + free_rows(free, truth, flops, limit, bootstrap)
    results += [r for r in baselines if r["kind"] == "ceiling"]
    best = best_free(results)
    add_p_values(results, cfg.reference, best)
    main_results = [r for r in results if "@" not in r["name"]]
    curve = [r for r in results if r["kind"] == "supernet" and r["name"].split("@")[0] == cfg.budget_curve.row] \
        if cfg.get("budget_curve") else []
    write_csv(results, assets / "leaderboard.csv")
    per_seed = []
    for row in rows:
        plot_scatter(row, truth, assets / f"scatter_{row.name.replace('@', '_')}.png")
        for run in row.runs:
            archive_run(run, row.name, row.overrides, row.epochs, archive_path(cfg, row.name, run.seed))
    for r in results:
        for rep in r["per_seed"]:
            per_seed.append({"row": r["name"], **{k: v for k, v in rep.items()}})
    write_text_atomic(assets / "per_seed.json", json.dumps(per_seed, indent=1) + "\n")
    plot_tau_bars(main_results, assets / "tau.png")
    if len(curve) > 1:
        plot_tau_vs_epochs(curve + [r for r in results if r["kind"] == "baseline"], assets / "tau_vs_epochs.png")

    seed_ceiling = next((r for r in results if r["kind"] == "ceiling"), None)
    lines = [
        f"# {cfg.title}", "",
        "How well does each supernet training method rank child architectures against stand-alone training?",
        f"Ground truth: `{getattr(getattr(oracle, 'path', None), 'name', type(oracle).__name__)}` — {len(truth)} cells "
        f"(mean test accuracy over seeds of stand-alone training; see its data card). Every supernet scores every "
        "cell with inherited weights on the first 5,000 *valid* images, BatchNorm recalibrated on 4 batches of 256 "
        "training images (`bn_policy=recalibrate`). Mean ± std over seeds.", "",
        f"Generated by `{cfg.get('command', 'nas leaderboard')}` "
        "(it runs what is missing, then collects); the command in each row trains "
        f"that row's supernets. Runs live in `{cfg.runs_dir}/<row>/seed<k>/`; each collected run's cell scores and "
        f"costs are archived in `{assets.as_posix()}/runs/`, so the board can be collected again without them.", "",
        "*state (MiB)*: what training keeps between steps, the tensors of the run's final checkpoint (weights, "
        "optimizer state, samplers; every sub-supernet of a split or mixture). *peak memory (MiB)*: the training "
        "process's peak (resident memory on CPU, data and PyTorch included; allocated memory on a GPU). Both are "
        "blank for runs collected before they were recorded.", "",
    ]
    if limit is not None:
        lines += [f"*truth of predicted best ≤ {limit / 1e6:g} MFLOPs*: the ground-truth accuracy of the cell that the "
                  f"supernet scores highest among the cells of at most {limit:,.0f} FLOPs (the best child it would "
                  "pick under that budget).", ""]
    lines += [render_table(main_results, limit, cfg.reference, bootstrap.confidence), ""]
    lines += reading_notes(cfg, results, best, stale, rescores or {}, {row.name for row in rows}) + [""]
    if pending:
        lines += [f"Rows without a finished run yet (`nas leaderboard only=[...]` trains them): "
                  f"{', '.join(f'`{name}`' for name in pending)}.", ""]
    if seed_ceiling is not None:
        lines += [f"The ceiling row ranks one ground-truth seed by the other: no supernet can be expected to agree "
                  f"with the table better than the table agrees with itself "
                  f"(Kendall tau {seed_ceiling['kendall_tau'][0]:.3f}).", ""]
    half_ceiling = next((r for r in results if r["kind"] == "ceiling" and "mean of seeds" in r["name"]), None)
    if half_ceiling is not None:
        lines += [f"With {len(truth_seed_keys(oracle, truth))} seeds the table also ranks the mean of half its seeds "
                  f"by the mean of the other half (`{half_ceiling['name']}`: Kendall tau "
                  f"{half_ceiling['kendall_tau'][0]:.3f}); the mean over all seeds, which the rows are measured "
                  "against, is more reliable than either half, yet a ranker cannot be judged where that agreement "
                  "is near zero.", ""]
    lines += [f"![Kendall tau per method]({link}tau.png)", ""]
    notes = Path(cfg.get("notes") or "")
    if notes.is_file():  # the hand-written reading of the table, right below it
        lines += [embed_section(notes, out), ""]
    if len(curve) > 1:
        lines += ["## Kendall tau against the supernet budget", "",
                  render_table(sorted(curve, key=lambda r: r["epochs"]), None, cfg.reference, bootstrap.confidence), "",
                  f"![tau vs epochs]({link}tau_vs_epochs.png)", ""]
    if rows:
        lines += ["## Supernet accuracy against ground truth", ""]
        lines += [f"![{row.name}]({link}scatter_{row.name.replace('@', '_')}.png)" for row in rows]
    for extra in cfg.extra_sections:
        path = Path(extra)
        if path.is_file():
            lines += ["", embed_section(path, out)]
    write_text_atomic(out / "LEADERBOARD.md", "\n".join(lines) + "\n")
    print(render_table(main_results, limit, cfg.reference, bootstrap.confidence))
    print(f"\nwrote {out / 'LEADERBOARD.md'} and {assets}/")


def embed_section(path: Path, board_dir: Path) -> str:
    """``path``'s markdown as a section of the board in ``board_dir``: headings one level down, relative links
    rebased onto the board's folder.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp()); (root / "sub").mkdir()
    >>> _ = (root / "sub" / "b.md").write_text("# Other board\\n![tau](tau.png) [x](https://a.b/c.png)\\n")
    >>> print(embed_section(root / "sub" / "b.md", root))
    ## Other board
    ![tau](sub/tau.png) [x](https://a.b/c.png)
    """
    prefix = Path(os.path.relpath(path.parent, board_dir)).as_posix()
    text = re.sub(r"^(#+) ", r"#\1 ", path.read_text().rstrip(), flags=re.MULTILINE)
    if prefix == ".":
        return text
    return re.sub(r"\]\((?![a-z]+:|/|#)([^)]+)\)", lambda m: f"]({prefix}/{m.group(1)})", text)
