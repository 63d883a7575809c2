"""What every Hydra app of the `nas` command shares: config folder, resolvers, error reporting."""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable
from pathlib import Path

from omegaconf import OmegaConf

from nas.errors import NASError

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


def friendly_errors(task: Callable) -> Callable:
    """Turn the framework's own errors into one clear line and exit code 2 (no traceback)."""

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
            print(f"error: {cause}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted: rerun the same command to resume", file=sys.stderr)
            sys.exit(130)

    return wrapper
