"""What every Hydra app of the `nas` command shares: config folder, resolvers, error reporting."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from nas.errors import ConfigError, NASError
from nas.validation import validate

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def slug(text: str) -> str:
    """A folder name for a set of overrides that is also a valid Hydra override value.

    ``"preset=smoke,seed=1"`` -> ``"preset-smoke_seed-1"``; ``""`` -> ``"default"``.
    """
    text = str(text or "").replace("=", "-").replace(",", "_")
    text = re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_")
    return text[:180] or "default"


OmegaConf.register_new_resolver("nas_slug", slug, replace=True)


def output_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def task_overrides(drop: tuple[str, ...] = ("run_dir",)) -> list[str]:
    """The command-line overrides of this run, minus ``drop`` keys."""
    from hydra.core.hydra_config import HydraConfig

    return [o for o in HydraConfig.get().overrides.task if o.split("=", 1)[0].lstrip("+~") not in drop]


def unknown_config_choice(overrides: list[str], conf_dir: str | Path = CONF_DIR) -> str | None:
    """The problem with the first ``group=choice`` override that names no file of ``conf_dir/group``, or None.

    Checked before Hydra composes (Hydra would print a listing of many lines and exit 1). Sweeps
    (``group=a,b``), ``+group=choice`` and ``group@package=choice`` are checked choice by choice; nested
    groups (``hydra/launcher=joblib``), sweep functions, interpolations and commands that add config
    folders (``--config-dir``, ``hydra.searchpath``) are left to Hydra.

    >>> unknown_config_choice(["path_sampler=nope", "seed=1"])   # doctest: +ELLIPSIS
    "path_sampler=nope: no config 'nope' in group 'path_sampler'; choose one of cost_bucket, ..., uniform"
    >>> unknown_config_choice(["path_sampler=uniform,sandwich", "trainer.epochs=3", "hydra/launcher=joblib"])
    """
    conf = Path(conf_dir)
    if any(o.startswith(("-cd", "--config-dir", "-cp", "--config-path")) or "hydra.searchpath" in o
           for o in overrides):
        return None
    for override in overrides:
        if override.startswith(("-", "~")) or "=" not in override:
            continue
        key, value = override.split("=", 1)
        group = key.lstrip("+").split("@", 1)[0]
        if not group or "/" in group or "." in group or not (conf / group).is_dir():
            continue
        if not value or any(c in value for c in "()$'\"\\"):
            continue
        choices = [c.strip() for c in value.strip("[]").split(",")]
        available = sorted(p.relative_to(conf / group).with_suffix("").as_posix()
                           for p in (conf / group).rglob("*.yaml"))
        for choice in choices:
            if choice and choice != "null" and choice not in available:
                return (f"{key}={value}: no config {choice!r} in group {group!r}; "
                        f"choose one of {', '.join(available)}")
    return None


def friendly_errors(task: Callable) -> Callable:
    """Turn the framework's own errors into one clear line each and exit code 2 (no traceback)."""

    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        try:
            return task(*args, **kwargs)
        except Exception as exc:
            cause = exc
            while cause is not None and not isinstance(cause, NASError):
                cause = cause.__cause__  # Hydra's instantiate wraps what a component raised
            if cause is None:
                raise
            for problem in getattr(cause, "problems", None) or [str(cause)]:  # validation: one line per value
                print(f"error: {problem}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted: rerun the same command to resume", file=sys.stderr)
            sys.exit(130)

    return wrapper


def run_subcommand(group: str, commands: dict[str, Callable[[], None]], usage: str) -> None:
    """``nas <group> <sub> [overrides]``: pops ``<sub>`` from ``sys.argv`` and runs its Hydra app; an unknown or
    missing ``<sub>`` prints ``usage`` and exits 2."""
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(f"usage: {usage}", file=sys.stderr)
        sys.exit(2)
    command = sys.argv.pop(1)
    sys.argv[0] = f"nas-{group}-{command}"
    commands[command]()


def check_board_command(cfg: DictConfig, needs_truth: str) -> None:
    """What a board command (`nas leaderboard`, `nas searchboard`) checks before any run starts: every value of
    ``cfg`` (nas.validation), ``mode`` run or collect, and a benchmark with ground truth (else ``needs_truth``)."""
    validate(cfg)  # every value's type, range and choice
    if cfg.mode not in ("run", "collect"):
        raise ConfigError(f"mode must be 'run' or 'collect', got {cfg.mode!r}")
    if cfg.benchmark.get("oracle") is None:
        raise ConfigError(needs_truth)
