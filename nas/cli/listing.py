"""`nas list`: registered search spaces and the choices of every config group."""

from __future__ import annotations

from pathlib import Path

from nas.cli.common import CONF_DIR
from nas.registry import available_search_spaces


def main(argv: list[str] | None = None) -> None:
    print("search spaces (entry-point group nas.search_spaces):")
    for name, target in sorted(available_search_spaces().items()):
        print(f"  {name:<16} {target}")
    print("\nconfig groups (choose with group=option):")
    for group in sorted(p for p in Path(CONF_DIR).iterdir() if p.is_dir() and not p.name.startswith("_")):
        options = sorted(f.stem for f in group.glob("*.yaml"))
        print(f"  {group.name:<14} {', '.join(options)}")
