"""`nas leaderboard`: run or collect the leaderboard's experiments and write LEADERBOARD.md."""

from __future__ import annotations

import json
import os
import re
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
    archive_run,
    flops_of,
    read_archived_run,
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
    return rows


def selected_rows(cfg: DictConfig, rows: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """The rows that ``only`` names (with their budget-curve rows); all rows when it is null."""
    if cfg.only is None:
        return rows
    unknown = set(cfg.only) - {name for name, _ in rows}
    if unknown:
        raise ConfigError(f"only={sorted(unknown)} names no row; rows are {[n for n, _ in rows]}")
    return [(n, o) for n, o in rows if n in cfg.only or n.split("@")[0] in cfg.only]


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


def saved_overrides(folder: Path) -> list[str]:
    """The `nas run` overrides a run folder was made with (from Hydra's record), seed and machine knobs left out."""
    saved = OmegaConf.load(folder / ".hydra" / "overrides.yaml")
    return [o for o in saved if o.split("=", 1)[0].lstrip("+~") not in ("seed", "progress", "threads")
            and not o.startswith("hydra")]


def display_command(overrides: list[str], seeds: list[int]) -> str:
    """The `nas run` command that trains a row's supernets over ``seeds``."""
    return shlex.join(["nas", "run", "-m", *overrides, f"seed={','.join(str(s) for s in seeds)}"])


def assets_dir(cfg: DictConfig) -> Path:
    """Where the CSV, plots and archived runs go (``assets_dir``, default ``<output_dir>/leaderboard``)."""
    return Path(cfg.get("assets_dir") or Path(cfg.output_dir) / "leaderboard")


def archive_path(cfg: DictConfig, row: str, seed: int) -> Path:
    return assets_dir(cfg) / "runs" / row.replace("@", "_") / f"seed{seed}.json"


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
    for name, overrides in selected_rows(cfg, plan):  # `only` limits what runs; the board collects every row
        todo = [s for s in seeds if not (runs_dir / name / f"seed{s}" / "summary.json").exists()
                and not archive_path(cfg, name, s).is_file()]  # an archived run counts as finished
        if todo and cfg.mode == "run":
            command = run_command(cfg, name, overrides, todo)
            print(f"[{name}] running seeds {todo}: {shlex.join(command[2:])}", flush=True)
            done = subprocess.run(command)
            if done.returncode != 0:
                raise ConfigError(f"row {name!r} failed (exit {done.returncode}); rerun `nas leaderboard` to resume it")

    space = instantiate(cfg.search_space)
    oracle = instantiate(cfg.benchmark.oracle, space=space)
    truth = {str(a): oracle(a) for a in oracle.architectures()}
    rows = [row for name, _ in plan if (row := collect_row(cfg, name, seeds, truth)) is not None]
    if not rows:
        print(f"no finished supernet run under {runs_dir} or archived in {assets_dir(cfg) / 'runs'} yet: "
              "writing the ground-truth rows only")
    finished = {row.name for row in rows}
    write_leaderboard(cfg, rows, oracle, truth, pending=[n for n, _ in plan if n not in finished and "@" not in n])


def collect_row(cfg: DictConfig, name: str, seeds: list[int], truth: dict[str, float]) -> Row | None:
    """A row's finished runs: from its run folders where they exist, otherwise from the archive."""
    row = Row(name, "")
    for seed in seeds:
        folder = Path(cfg.runs_dir) / name / f"seed{seed}"
        archived = archive_path(cfg, name, seed)
        if (folder / "summary.json").exists():
            ensure_scored(folder, cfg.benchmark.oracle, list(truth), bool(cfg.progress))
            run, overrides = read_run(folder, seed), saved_overrides(folder)
            epochs = float(OmegaConf.load(folder / ".hydra" / "config.yaml").trainer.epochs)
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


def write_leaderboard(cfg: DictConfig, rows: list[Row], oracle, truth: dict[str, float],
                      pending: list[str] = ()) -> None:
    out = Path(cfg.output_dir)
    assets = assets_dir(cfg)
    assets.mkdir(parents=True, exist_ok=True)
    link = Path(os.path.relpath(assets, out)).as_posix()  # image links are relative to the board's folder
    link = "" if link == "." else link + "/"
    limit = cfg.get("flops_limit")
    flops = flops_of(oracle, truth) if limit is not None else None
    results = [aggregate(row, truth, flops, limit) for row in rows] + baseline_rows(oracle, truth, limit)
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
    ]
    if limit is not None:
        lines += [f"*truth of predicted best ≤ {limit / 1e6:g} MFLOPs*: the ground-truth accuracy of the cell that the "
                  f"supernet scores highest among the cells of at most {limit:,.0f} FLOPs (the best child it would "
                  "pick under that budget).", ""]
    lines += [render_table(main_results, limit), ""]
    if pending:
        lines += [f"Rows without a finished run yet (`nas leaderboard only=[...]` trains them): "
                  f"{', '.join(f'`{name}`' for name in pending)}.", ""]
    if seed_ceiling is not None:
        lines += [f"The ceiling row ranks one ground-truth seed by the other: no supernet can be expected to agree "
                  f"with the table better than the table agrees with itself "
                  f"(Kendall tau {seed_ceiling['kendall_tau'][0]:.3f}).", ""]
    lines += [f"![Kendall tau per method]({link}tau.png)", ""]
    notes = Path(cfg.get("notes") or "")
    if notes.is_file():  # the hand-written reading of the table, right below it
        lines += [embed_section(notes, out), ""]
    if len(curve) > 1:
        lines += ["## Kendall tau against the supernet budget", "",
                  render_table(sorted(curve, key=lambda r: r["epochs"])), "",
                  f"![tau vs epochs]({link}tau_vs_epochs.png)", ""]
    if rows:
        lines += ["## Supernet accuracy against ground truth", ""]
        lines += [f"![{row.name}]({link}scatter_{row.name.replace('@', '_')}.png)" for row in rows]
    for extra in cfg.extra_sections:
        path = Path(extra)
        if path.is_file():
            lines += ["", embed_section(path, out)]
    write_text_atomic(out / "LEADERBOARD.md", "\n".join(lines) + "\n")
    print(render_table(main_results, limit))
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
