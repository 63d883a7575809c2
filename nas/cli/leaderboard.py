"""`nas leaderboard`: run or collect the leaderboard's experiments and write LEADERBOARD.md."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from nas.cli.common import CONF_DIR, friendly_errors
from nas.errors import ConfigError
from nas.leaderboard import (
    Row,
    aggregate,
    baseline_rows,
    plot_scatter,
    plot_tau_bars,
    plot_tau_vs_epochs,
    read_run,
    render_table,
    write_csv,
)
from nas.report import write_text_atomic


def planned_rows(cfg: DictConfig) -> list[tuple[str, list[str]]]:
    """(row name, `nas run` overrides) for every row, budget-curve rows included."""
    rows = [(name, list(overrides)) for name, overrides in cfg.rows.items()]
    curve = cfg.get("budget_curve")
    if curve and curve.row in cfg.rows:
        rows += [(f"{curve.row}@{e}ep", [*cfg.rows[curve.row], f"trainer.epochs={e}"]) for e in curve.epochs]
    if cfg.only is not None:
        unknown = set(cfg.only) - {name for name, _ in rows}
        if unknown:
            raise ConfigError(f"only={sorted(unknown)} names no row; rows are {[n for n, _ in rows]}")
        rows = [(n, o) for n, o in rows if n in cfg.only or n.split("@")[0] in cfg.only]
    return rows


def run_command(cfg: DictConfig, name: str, overrides: list[str], seeds: list[int]) -> list[str]:
    command = [sys.executable, "-m", "nas", "run", "-m", *overrides, *cfg.run_overrides,
               f"seed={','.join(str(s) for s in seeds)}",
               f"hydra.sweep.dir={Path(cfg.runs_dir) / name}", "hydra.sweep.subdir=seed${seed}",
               f"progress={str(bool(cfg.progress)).lower()}"]
    if cfg.threads:
        command.append(f"threads={cfg.threads}")
    if cfg.launcher == "joblib":
        command += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={cfg.jobs}"]
    elif cfg.launcher != "basic":
        raise ConfigError(f"launcher must be 'basic' or 'joblib', got {cfg.launcher!r}")
    return command


def display_command(folder: Path, seeds: list[int]) -> str:
    """The `nas run` command that produced a run folder (from its saved overrides), over ``seeds``."""
    saved = OmegaConf.load(folder / ".hydra" / "overrides.yaml")
    keep = [o for o in saved if o.split("=", 1)[0].lstrip("+~") not in ("seed", "progress", "threads")
            and not o.startswith("hydra")]
    return shlex.join(["nas", "run", "-m", *keep, f"seed={','.join(str(s) for s in seeds)}"])


def ensure_scored(folder: Path, oracle_cfg: DictConfig, truth_cells: list[str], progress: bool) -> None:
    """Score ground-truth cells that a run has not scored yet, from its checkpoint."""
    scores_file = folder / "benchmark_scores.json"
    rows = json.loads(scores_file.read_text()) if scores_file.exists() else []
    have = {r["arch"] for r in rows}
    missing = [a for a in truth_cells if a not in have]
    if not missing:
        return
    from nas.pipeline import build_evaluator, load_trained_supernet, setup

    run_cfg = OmegaConf.load(folder / ".hydra" / "config.yaml")
    run_cfg.progress = progress
    data, space = setup(run_cfg)
    supernet = load_trained_supernet(folder, space)
    evaluator = build_evaluator(run_cfg, supernet, data)
    oracle = instantiate(oracle_cfg, space=space)
    archs = [space.parse(a) for a in missing]
    scores = evaluator.score_many(archs, desc=f"scoring new ground-truth cells for {folder}")
    rows += [{"arch": str(a), "supernet_accuracy": s, "truth": oracle(a)} for a, s in zip(archs, scores)]
    write_text_atomic(scores_file, json.dumps(rows, indent=1) + "\n")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="leaderboard")
@friendly_errors
def main(cfg: DictConfig) -> None:
    if cfg.mode not in ("run", "collect"):
        raise ConfigError(f"mode must be 'run' or 'collect', got {cfg.mode!r}")
    if cfg.benchmark.get("oracle") is None:
        raise ConfigError("the leaderboard needs ground truth: benchmark=fmnist201 (or another table)")
    runs_dir, seeds = Path(cfg.runs_dir), [int(s) for s in cfg.seeds]
    plan = planned_rows(cfg)
    for name, overrides in plan:
        todo = [s for s in seeds if not (runs_dir / name / f"seed{s}" / "summary.json").exists()]
        if todo and cfg.mode == "run":
            command = run_command(cfg, name, overrides, todo)
            print(f"[{name}] running seeds {todo}: {shlex.join(command[2:])}", flush=True)
            done = subprocess.run(command)
            if done.returncode != 0:
                raise ConfigError(f"row {name!r} failed (exit {done.returncode}); rerun `nas leaderboard` to resume it")

    rows: list[Row] = []
    for name, overrides in plan:
        folders = [(s, runs_dir / name / f"seed{s}") for s in seeds]
        finished = [(s, f) for s, f in folders if (f / "summary.json").exists()]
        if not finished:
            print(f"[{name}] no finished run yet: skipped")
            continue
        epochs = OmegaConf.load(finished[0][1] / ".hydra" / "config.yaml").trainer.epochs
        rows.append(Row(name, display_command(finished[0][1], [s for s, _ in finished]), epochs=float(epochs)))
    if not rows:
        print(f"no finished supernet run under {runs_dir} yet: writing the ground-truth rows only")
    space = instantiate(cfg.search_space)
    oracle = instantiate(cfg.benchmark.oracle, space=space)
    truth = {str(a): oracle(a) for a in oracle.architectures()}
    for row in rows:
        for seed in seeds:
            folder = runs_dir / row.name / f"seed{seed}"
            if (folder / "summary.json").exists():
                ensure_scored(folder, cfg.benchmark.oracle, list(truth), bool(cfg.progress))
                row.runs.append(read_run(folder, seed))
    finished = {row.name for row in rows}
    write_leaderboard(cfg, rows, oracle, truth, pending=[n for n, _ in plan if n not in finished and "@" not in n])


def write_leaderboard(cfg: DictConfig, rows: list[Row], oracle, truth: dict[str, float],
                      pending: list[str] = ()) -> None:
    out = Path(cfg.output_dir)
    assets = out / "leaderboard"
    assets.mkdir(parents=True, exist_ok=True)
    results = [aggregate(row, truth) for row in rows] + baseline_rows(oracle, truth)
    main_results = [r for r in results if "@" not in r["name"]]
    curve = [r for r in results if r["kind"] == "supernet" and r["name"].split("@")[0] == cfg.budget_curve.row] \
        if cfg.get("budget_curve") else []
    write_csv(results, assets / "leaderboard.csv")
    per_seed = []
    for row in rows:
        plot_scatter(row, truth, assets / f"scatter_{row.name.replace('@', '_')}.png")
        for run in row.runs:
            target = assets / "scores" / row.name.replace("@", "_") / f"seed{run.seed}.json"
            write_text_atomic(target, json.dumps(run.scores, indent=0, sort_keys=True) + "\n")
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
        "Generated by `nas leaderboard` (it runs what is missing, then collects); the command in each row trains "
        "that row's supernets. Runs live in `runs/leaderboard/<row>/seed<k>/`; per-cell scores are kept in "
        "`leaderboard/scores/`.", "",
        render_table(main_results), "",
    ]
    if pending:
        lines += [f"Rows without a finished run yet (`nas leaderboard only=[...]` trains them): "
                  f"{', '.join(f'`{name}`' for name in pending)}.", ""]
    if seed_ceiling is not None:
        lines += [f"The ceiling row ranks one ground-truth seed by the other: no supernet can be expected to agree "
                  f"with the table better than the table agrees with itself "
                  f"(Kendall tau {seed_ceiling['kendall_tau'][0]:.3f}).", ""]
    lines += ["![Kendall tau per method](leaderboard/tau.png)", ""]
    if len(curve) > 1:
        lines += ["## Kendall tau against the supernet budget", "",
                  render_table(sorted(curve, key=lambda r: r["epochs"])), "",
                  "![tau vs epochs](leaderboard/tau_vs_epochs.png)", ""]
    if rows:
        lines += ["## Supernet accuracy against ground truth", ""]
        lines += [f"![{row.name}](leaderboard/scatter_{row.name.replace('@', '_')}.png)" for row in rows]
    for extra in cfg.extra_sections:
        path = Path(extra)
        if path.is_file():
            lines += ["", path.read_text().rstrip()]
    write_text_atomic(out / "LEADERBOARD.md", "\n".join(lines) + "\n")
    print(render_table(main_results))
    print(f"\nwrote {out / 'LEADERBOARD.md'} and {assets}/")
