"""The layers of the project, checked on the source: who may import whom.

The rules (an import inside a function counts like one at the top of a module; so does
``importlib.import_module("...")`` with a literal name):

1. The core (``nas/``) never imports a concrete search space (``search_spaces``): it reaches spaces
   through the ``SearchSpace`` interface, the registry loads them through the entry-point group
   ``nas.search_spaces``, and configs name them by Hydra ``_target_``.
2. Only the CLI (``nas/cli/``, and ``nas/__main__.py`` for ``python -m nas``) imports ``nas.cli``:
   the apps sit on top of the library.
3. The library's lower layer (``nas/searchers/``, ``nas/benchmarks/``, ``nas/data/``, ``nas/metrics.py``,
   ``nas/architecture.py``, ``nas/search_space.py``) never imports the job on top of it
   (``nas.pipeline``, ``nas.report``, ``nas.leaderboard``, ``nas.cli``).
4. The building blocks (``samplers/``, ``supernets/``) never import the job (``nas.pipeline``,
   ``nas.cli``), the trainer (``nas.trainer``, the loop ``nas.training.loop`` and the methods over it)
   or a concrete space (``search_spaces``); the training hooks and feedback they implement are fine.
5. A search space never imports another search space, nor the job (``nas.pipeline``, ``nas.report``,
   ``nas.leaderboard``, ``nas.cli``, ``nas.trainer``).
6. No two modules import each other, directly or through others (an import circle): the elastic
   supernets get their space's ``validate`` at construction instead of importing the space.
   Imports under ``if TYPE_CHECKING:`` never run, so they make no circle; rules 1-5 count them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "samplers", "supernets", "search_spaces")


@dataclass(frozen=True)
class Edge:
    """``importer`` imports ``imported`` at ``path:line``."""

    importer: str
    imported: str
    path: str
    line: int
    type_only: bool = False  # under ``if TYPE_CHECKING:``

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module of ``from <module> import ...`` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def type_checking_nodes(tree: ast.AST) -> set[int]:
    """``id`` of every node under an ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``) block."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
                (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
                or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")):
            inside |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return inside


def imports_of(name: str, path: Path, known: set[str]) -> list[Edge]:
    """What ``name`` imports, anywhere in its file; ``from a import b`` counts ``a.b`` when that is a module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    rel = str(path.relative_to(ROOT))
    typing_only = type_checking_nodes(tree)
    edges: list[Edge] = []
    for node in ast.walk(tree):
        only = id(node) in typing_only
        if isinstance(node, ast.Import):
            edges += [Edge(name, alias.name, rel, node.lineno, only) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(name, path.name == "__init__.py", node)
            edges.append(Edge(name, target, rel, node.lineno, only))
            edges += [Edge(name, f"{target}.{alias.name}", rel, node.lineno, only) for alias in node.names
                      if f"{target}.{alias.name}" in known]
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            edges.append(Edge(name, node.args[0].value, rel, node.lineno, only))
    return edges


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    found = modules()
    return [edge for name, path in found.items() for edge in imports_of(name, path, set(found))]


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    """``module`` is one of ``prefixes`` or inside one of them (``nas.cli.run`` is within ``nas.cli``)."""
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(edges: list[Edge], importers: tuple[str, ...], forbidden: tuple[str, ...],
               exempt: tuple[str, ...] = ()) -> list[str]:
    return sorted({str(e) for e in edges if within(e.importer, importers) and not within(e.importer, exempt)
                   and within(e.imported, forbidden)})


JOB = ("nas.pipeline", "nas.report", "nas.leaderboard", "nas.cli")
LOWER = ("nas.searchers", "nas.benchmarks", "nas.data", "nas.metrics", "nas.architecture", "nas.search_space")


def test_the_scan_sees_every_package_and_function_level_imports(edges):
    names = modules()
    assert {"nas.pipeline", "nas.cli.run", "samplers.path.uniform", "supernets.base",
            "search_spaces.nb201.benchmark"} <= set(names)
    # nas.searchers.base imports nas.checkpoint inside Searcher.save: a function-level import the scan must see
    assert any(e.importer == "nas.searchers.base" and e.imported == "nas.checkpoint" for e in edges)
    assert any(e.importer == "nas.search_space" and e.imported == "supernets.base" and e.type_only for e in edges)
    assert any(e.importer == "search_spaces.nb201" and e.imported == "search_spaces.nb201.benchmark" for e in edges)


def test_violations_name_the_file_line_and_both_modules():
    bad = [Edge("nas.metrics", "nas.report", "nas/metrics.py", 7),
           Edge("nas.cli.run", "nas.report", "nas/cli/run.py", 3),  # the CLI may
           Edge("nas.searchers.pareto", "nas.reporting", "nas/searchers/pareto.py", 5)]  # a prefix is no match
    assert violations(bad, LOWER, JOB) == ["nas/metrics.py:7: nas.metrics imports nas.report"]


def test_rule_1_the_core_imports_no_concrete_search_space(edges):
    assert violations(edges, ("nas",), ("search_spaces",)) == []


def test_rule_1_the_registry_finds_spaces_through_entry_points():
    tree = ast.parse((ROOT / "nas" / "registry.py").read_text())
    imported = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
    assert ("importlib.metadata", "entry_points") in imported
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '[project.entry-points."nas.search_spaces"]' in pyproject
    for space in ("nb201", "elastic_conv", "elastic_vit", "downsample"):
        assert f'{space} = "search_spaces.{space}:' in pyproject


def test_rule_2_only_the_cli_imports_the_cli(edges):
    assert violations(edges, ("nas",), ("nas.cli",), exempt=("nas.cli", "nas.__main__")) == []  # python -m nas


def test_rule_3_the_lower_layer_never_imports_the_job(edges):
    assert violations(edges, LOWER, JOB) == []


def test_rule_4_samplers_and_supernets_import_neither_job_nor_trainer_nor_spaces(edges):
    assert violations(edges, ("samplers", "supernets"),
                      ("nas.pipeline", "nas.cli", "nas.trainer", "nas.training.loop", "nas.training.one_shot",
                       "search_spaces")) == []


def test_rule_5_a_space_imports_no_other_space_and_not_the_job(edges):
    spaces = sorted({m.split(".")[1] for m in modules() if m.count(".") >= 1 and m.startswith("search_spaces.")})
    assert spaces == ["downsample", "elastic_conv", "elastic_vit", "nb201"]
    for space in spaces:
        others = tuple(f"search_spaces.{s}" for s in spaces if s != space)
        assert violations(edges, (f"search_spaces.{space}",), (*others, *JOB, "nas.trainer")) == [], space


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the import circles (components of more than one module, or a self-import)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def import_graph(edges: list[Edge]) -> dict[str, set[str]]:
    """Module -> the project modules it imports (a package's ``__init__`` re-exporting its own
    submodules is not a circle: ``from pkg.sub import X`` inside ``pkg`` is how re-exports work)."""
    known = set(modules())
    graph: dict[str, set[str]] = {m: set() for m in known}
    for e in edges:
        if (not e.type_only and e.imported in known and e.imported != e.importer
                and not e.imported.startswith(e.importer + ".")):
            graph[e.importer].add(e.imported)
    return graph


def test_strongly_connected_finds_a_circle_and_only_that():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_rule_6_no_import_circles(edges):
    assert strongly_connected(import_graph(edges)) == []


def test_rule_6_the_elastic_supernets_do_not_import_their_spaces(edges):
    for space in ("elastic_conv", "elastic_vit"):
        assert violations(edges, (f"search_spaces.{space}.supernet",), (f"search_spaces.{space}.space",)) == []
