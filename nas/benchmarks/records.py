"""Ground-truth records: one JSON line per (architecture, seed), written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from nas.atomic import write_text_atomic
from nas.errors import ConfigError, NASError

REQUIRED = ("arch", "seed", "accuracy", "params", "flops", "seconds", "recipe")


class RecordsError(NASError, ValueError):
    """A ground-truth records file that is empty, truncated, malformed or from another recipe."""


def load_records(path: str | Path, recipe: str | None = None, allow_empty: bool = False) -> list[dict]:
    """Read a records file; fail clearly on truncation, bad lines or a recipe-hash mismatch."""
    path = Path(path)
    if not path.is_file():
        if allow_empty:
            return []
        raise RecordsError(f"ground-truth file {path} does not exist: build it with `nas bench build` or fix the path")
    text = path.read_text()
    if not text.strip():
        if allow_empty:
            return []
        raise RecordsError(f"ground-truth file {path} is empty: rebuild it with `nas bench build`")
    if not text.endswith("\n"):
        raise RecordsError(
            f"ground-truth file {path} is truncated (its last line has no newline): it was not written by this "
            "tool's atomic writer; delete the last line or rebuild it"
        )
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordsError(f"{path}:{number} is not valid JSON ({exc}); the file is damaged: rebuild it") from None
        missing = [key for key in REQUIRED if key not in record]
        if missing:
            raise RecordsError(f"{path}:{number} lacks fields {missing}; expected {list(REQUIRED)}")
        if recipe is not None and record["recipe"] != recipe:
            raise RecordsError(
                f"{path}:{number} was produced by recipe {record['recipe']}, not {recipe}: the file holds ground "
                "truth of another recipe, search space or dataset. Use another output file, or the recipe that "
                "built it; records of different recipes are never mixed."
            )
        records.append(record)
    return records


def write_records(path: str | Path, records: list[dict]) -> None:
    """Replace ``path`` with ``records`` atomically (temporary file, fsync, rename)."""
    write_text_atomic(path, "".join(json.dumps(record, sort_keys=True) + "\n" for record in records))


def mean_accuracy(records: list[dict]) -> dict[str, float]:
    """Architecture string -> accuracy averaged over its seeds."""
    sums: dict[str, list[float]] = {}
    for record in records:
        sums.setdefault(record["arch"], []).append(float(record["accuracy"]))
    if not sums:
        raise ConfigError("no ground-truth records to average")
    return {arch: sum(values) / len(values) for arch, values in sums.items()}
