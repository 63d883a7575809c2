"""`nas searchboard`: run or collect the search-results board and write its section of LEADERBOARD.md.

Each row is a search method (`nas run method=darts ...`) or a supernet + searcher baseline (`experiment=spos
searcher=evolution`), over ``seeds``; a search-only row (``searches``) runs another searcher on a training row's
supernets (`nas search train_dir=<runs_dir>/<row>/seed<k> ...`). ``mode=run`` trains the rows' missing seeds (`nas
run -m ... seed=...` multiruns, as `nas leaderboard` does), then runs the search-only rows' missing seeds whose
supernet is finished; both modes then collect every finished run (from its folder, else its archive), look each
found architecture and each any-time argmax up in the benchmark's table (or an equivalent cell of it), train the
ones the table lacks stand-alone by the table's recipe (`nas bench build archs.file=...` into ``truth.output``;
``truth.build=false`` leaves them pending), and write the section, its CSV files, the any-time plot and the findings
into the board file between its markers.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from nas.atomic import write_text_atomic
from nas.benchmarks import TableOracle
from nas.benchmarks.oracle import build_oracle
from nas.cli.common import CONF_DIR, check_board_command, friendly_errors
from nas.cli.leaderboard import display_command, embed_section, run_command, saved_overrides
from nas.cli.truth import check_recipe as check_recipe_hash
from nas.cli.truth import group_overrides, table_recipe, train_missing, trained_truth
from nas.errors import ConfigError
from nas.searchboard import (
    GroundTruth,
    SearchOnly,
    SearchRun,
    aggregate,
    archive_search_run,
    build_order,
    curve_rows,
    curve_series,
    finished,
    read_archived_search_run,
    read_free_search_run,
    read_search_run,
    read_shared_search_run,
    render_section,
    run_rows,
    search_rows,
    splice,
)
from nas.searchboard.table import markers, write_csvs


def board_rows(cfg: DictConfig, searches: dict[str, SearchOnly]) -> list[tuple[str, list[str]]]:
    """Every row of the board with its `nas run` overrides, in the board's order: each training row of ``rows``
    followed by the search-only rows on its supernets (with their `nas search` overrides), then the free-ranker
    rows."""
    rows = []
    for name, overrides in (cfg.rows or {}).items():
        rows.append((name, list(overrides)))
        rows += [(s.name, s.command_overrides(cfg.runs_dir)) for s in searches.values() if s.supernet == name]
    rows += [(s.name, s.command_overrides(cfg.runs_dir)) for s in searches.values() if s.is_free]
    return rows


def selected_rows(cfg: DictConfig, rows: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """The rows of ``rows`` that ``only`` names (all when null)."""
    if cfg.only is None:
        return rows
    unknown = sorted(set(cfg.only) - {name for name, _ in rows})
    if unknown:
        raise ConfigError(f"only={unknown} names no row of the board; rows are {[name for name, _ in rows]}")
    return [(name, overrides) for name, overrides in rows if name in cfg.only]


def assets_dir(cfg: DictConfig) -> Path:
    return Path(cfg.assets_dir)


def archive_path(cfg: DictConfig, row: str, seed: int) -> Path:
    return assets_dir(cfg) / "runs" / row / f"seed{seed}.json"


def run_folder(cfg: DictConfig, row: str, seed: int) -> Path:
    return Path(cfg.runs_dir) / row / f"seed{seed}"


def todo(cfg: DictConfig, row: str) -> list[int]:
    """The seeds of ``row`` with neither a finished run nor an archive."""
    return [int(s) for s in cfg.seeds
            if not finished(run_folder(cfg, row, s)) and not archive_path(cfg, row, s).is_file()]


def train_rows(cfg: DictConfig, rows: list[tuple[str, list[str]]]) -> None:
    """`nas run -m <overrides> seed=<missing seeds>` per row, one after the other (each resumes)."""
    for name, overrides in rows:
        seeds = todo(cfg, name)
        if not seeds:
            continue
        command = run_command(cfg, name, overrides, seeds)
        print(f"[{name}] running seeds {seeds}: {shlex.join(command[2:])}", flush=True)
        done = subprocess.run(command)
        if done.returncode != 0:
            raise ConfigError(f"row {name!r} failed (exit {done.returncode}); rerun `nas searchboard` to resume it")


def run_searches(cfg: DictConfig, searches: list[SearchOnly]) -> None:
    """`nas search -m train_dir=<supernet's run> <overrides> seed=<seeds>` per search-only row, for its missing seeds
    whose supernet run is finished; a seed whose supernet is not is skipped with one line. A free-ranker row's seeds
    need no supernet: `nas search -m <overrides> seed=<seeds>`."""
    for row in searches:
        ready = []
        for seed in todo(cfg, row.name):
            supernet = row.train_dir(cfg.runs_dir, seed)
            if supernet is None or finished(supernet):
                ready.append(seed)
                continue
            archived = archive_path(cfg, row.supernet, seed)
            retrain = f"delete its archive {archived}, then " if archived.is_file() else ""
            print(f"[{row.name}] seed {seed} skipped: its supernet {supernet} is not a finished run of row "
                  f"{row.supernet!r} ({retrain}`nas searchboard only=[{row.supernet}]` trains it)", flush=True)
        if not ready:
            continue
        overrides = row.command_overrides(cfg.runs_dir)
        if row.is_free:  # no supernet brings the board's dataset and search space: pass them
            overrides = [*board_space_overrides(), *overrides]
        command = run_command(cfg, row.name, overrides, ready, app="search")
        what = "a free ranker" if row.is_free else f"{row.supernet}'s supernets"
        print(f"[{row.name}] searching {what} of seeds {ready}: {shlex.join(command[2:])}", flush=True)
        done = subprocess.run(command)
        if done.returncode != 0:
            raise ConfigError(f"row {row.name!r} failed (exit {done.returncode}); rerun `nas searchboard` to resume it")


def board_space_overrides() -> list[str]:
    """``dataset=<choice> search_space=<choice>`` of this board (with this command's overrides of their keys): what
    a free-ranker row searches, the board's own space."""
    hydra_cfg = HydraConfig.get()
    return [o for o in group_overrides(hydra_cfg.runtime.choices, hydra_cfg.overrides.task)
            if o.split("=", 1)[0].lstrip("+~").split(".")[0] in ("dataset", "search_space")]


def collect_runs(cfg: DictConfig, rows: list[tuple[str, list[str]]],
                 searches: dict[str, SearchOnly]) -> dict[str, list[SearchRun]]:
    """Every finished run of every row (its folder, else its archive); each collected folder is archived. A
    search-only row's run is read beside its supernet's run of the same seed (collected first: ``rows`` is in the
    board's order), whose training it shares."""
    collected: dict[str, list[SearchRun]] = {}
    for name, overrides in rows:
        for seed in (int(s) for s in cfg.seeds):
            folder, archived = run_folder(cfg, name, seed), archive_path(cfg, name, seed)
            if finished(folder) and name in searches and searches[name].is_free:
                run = read_free_search_run(folder, name, seed, saved_overrides(folder) or overrides)
                archive_search_run(run, archived)
            elif finished(folder) and name in searches:
                row = searches[name]
                supernet = next((r for r in collected.get(row.supernet, []) if r.seed == seed), None)
                if supernet is None:
                    print(f"[{name}] seed {seed} skipped: its supernet's run ({row.supernet} seed {seed}) is neither "
                          "finished nor archived, so its training cost is unknown", flush=True)
                    continue
                saved = row.recorded_overrides(saved_overrides(folder), cfg.runs_dir)
                run = read_shared_search_run(folder, supernet, name, saved or overrides)
                archive_search_run(run, archived)
            elif finished(folder):
                run = read_search_run(folder, name, seed, saved_overrides(folder) or overrides)
                archive_search_run(run, archived)
            elif archived.is_file():
                run = read_archived_search_run(archived)
            else:
                continue
            collected.setdefault(name, []).append(run)
    return collected


def extra_truth(cfg: DictConfig, space) -> TableOracle | None:
    """The cells the board trained (``truth.output``) with every seed of ``truth.seeds``; None while there are none."""
    return trained_truth(cfg.truth.output, space, len(cfg.truth.seeds))


def bench_overrides(cfg: DictConfig, archs_file: Path) -> list[str]:
    """The `nas bench build` overrides that train ``archs_file``'s cells by the board's recipe into
    ``truth.output``: the board's dataset, search space and recipe (with this command's overrides of their keys)."""
    hydra_cfg = HydraConfig.get()
    seeds = ",".join(str(int(s)) for s in cfg.truth.seeds)
    return [*group_overrides(hydra_cfg.runtime.choices, hydra_cfg.overrides.task), f"archs.file={archs_file}",
            f"seeds=[{seeds}]", f"output={cfg.truth.output}", f"workers={cfg.truth.workers}"]


def check_recipe(cfg: DictConfig, space, truth: GroundTruth) -> None:
    """The board's recipe must be the one that built its table: otherwise the cells trained for the board would
    not compare with the table's."""
    table_recipe(truth.oracle, "the board's table", "set truth.build=false to leave their truth pending")
    data = instantiate(cfg.dataset)
    ours = instantiate(cfg.recipe).fingerprint(space, data.name)
    check_recipe_hash(ours, truth.oracle, "the board's recipe, dataset and search space",
                      "set the table's recipe (recipe=<its conf/recipe>, dataset=..., search_space=...), or "
                      "truth.build=false")


def build_truth(cfg: DictConfig, space, truth: GroundTruth, archs: list[str]) -> bool:
    """Train ``archs`` stand-alone (those whose class has no truth) with `nas bench build`; whether it trained."""
    missing = truth.missing(archs)
    if not missing:
        return False
    check_recipe(cfg, space, truth)
    archs_file = Path(cfg.truth.output).with_suffix(".archs.txt")
    train_missing(missing, archs_file, bench_overrides(cfg, archs_file), bool(cfg.progress))
    return True


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="searchboard")
@friendly_errors
def main(cfg: DictConfig) -> None:
    check_board_command(cfg, "the search board needs ground truth to judge the found architectures: "
                             "benchmark=fmnist201 (or another table of `nas bench build`), not benchmark=none")
    try:
        markers(cfg.marker)
    except ValueError as error:
        raise ConfigError(f"marker: {error}") from None
    if not cfg.rows:
        raise ConfigError("the board has no rows: list them under `rows:` of its config (conf/searchboard/)")
    searches = search_rows(cfg)  # each names a training row and only search settings
    every = board_rows(cfg, searches)
    selected = selected_rows(cfg, every)  # `only` limits what trains and searches; the board collects every row
    space = instantiate(cfg.search_space)
    oracle = build_oracle(cfg.benchmark, space)  # a table of another space fails before any training
    if cfg.mode == "run":
        train_rows(cfg, [(name, overrides) for name, overrides in selected if name not in searches])
        run_searches(cfg, [searches[name] for name, _ in selected if name in searches])  # after their supernets

    runs = collect_runs(cfg, every, searches)
    truth = GroundTruth(space, oracle, extra_truth(cfg, space))
    found = [run.arch for rs in runs.values() for run in rs]
    curves = [[arch for _, arch in run.anytime] for rs in runs.values() for run in rs]
    wanted = build_order(space, found, curves, cfg.anytime.max_archs)
    if cfg.truth.build and build_truth(cfg, space, truth, wanted):
        truth = GroundTruth(space, oracle, extra_truth(cfg, space))
    pending = len(truth.missing(wanted))
    capped = len(truth.missing(build_order(space, found, curves, None))) - pending
    write_board(cfg, every, runs, truth, pending_truth=pending, capped_truth=capped, searches=searches)


def write_board(cfg: DictConfig, rows: list[tuple[str, list[str]]], runs: dict[str, list[SearchRun]],
                truth: GroundTruth, pending_truth: int, capped_truth: int = 0,
                searches: dict[str, SearchOnly] | None = None) -> None:
    assets = assets_dir(cfg)
    assets.mkdir(parents=True, exist_ok=True)
    aggregated = []
    for name, overrides in rows:
        if name in runs:
            row_runs = runs[name]
            command = display_command(row_runs[0].overrides or overrides, [run.seed for run in row_runs],
                                      app="search" if name in (searches or {}) else "run")
            aggregated.append(aggregate(name, row_runs, truth, command))
    every_run = [run for name, _ in rows for run in runs.get(name, [])]
    curves = curve_rows(every_run, truth)
    write_csvs(assets, aggregated, run_rows(every_run, truth), curves)
    series = curve_series(curves)
    if series:
        from nas import plots

        plots.anytime_curves(series, truth.best(), assets / "anytime.png")
    section_file = Path(cfg.section)
    link = Path(os.path.relpath(assets, section_file.parent)).as_posix()
    link = "" if link == "." else link + "/"
    findings = Path(cfg.findings) if cfg.findings else None
    text = render_section(
        cfg.title, aggregated, truth, command=cfg.command, runs_dir=cfg.runs_dir,
        assets_dir=Path(cfg.assets_dir).as_posix(), assets_link=link,
        notes=[line for note in cfg.board_notes or [] for line in (note, "")],  # a paragraph each
        pending=[name for name, _ in rows if name not in runs], pending_truth=pending_truth,
        capped_truth=(capped_truth, cfg.anytime.max_archs),
        findings=embed_section(findings, section_file.parent) if findings and findings.is_file() else None,
        plot=bool(series), anchors=cfg.anchors, marker=cfg.marker)
    write_text_atomic(section_file, text)
    if cfg.board_file:
        board = Path(cfg.board_file)
        splice(board, embed_section(section_file, board.parent), marker=cfg.marker)
    print(text)
    print(f"wrote {section_file}{f' and its section of {cfg.board_file}' if cfg.board_file else ''}; {assets}/")
