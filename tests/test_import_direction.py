"""Imports point one way and never form a cycle (DESIGN.md §2), read from the source with ``ast``.

Every ``.py`` file of ``spikedefense/`` and ``kernels/`` (installed as ``spikedefense.kernels``) is
parsed, and every import counts: module level, inside functions, under ``TYPE_CHECKING``,
relative ones, and ``importlib.import_module(...)`` calls whose name is a string literal,
``f"{__name__}.x"`` or ``f"{__package__}.x"`` (names built at run time are not followed). Each
module belongs to a layer, lowest first:

    private (spikedefense/_*.py)
    kernels
    leaves: models, data, viz, attacks (attacks may import models; no other edge among them)
    snn  <  convert  <  defenses  <  evaluation  <  studies  <  cli (cli.py, demo.py, the root)

A module may import its own layer and the layers :data:`ALLOWED` lists for it: everything below
it, except that a leaf imports no other leaf (but attacks -> models) and nothing of the chain
above. Independently of layers, the module graph (every import an edge to the deepest module it
names) must have no cycle. Failures name each offending edge with the file and line making it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: import name of a package root -> its folder in the source tree
SOURCES = {"spikedefense": ROOT / "spikedefense", "spikedefense.kernels": ROOT / "kernels"}

_BASE = {"private", "kernels"}
_BELOW_SNN = _BASE | {"models", "data", "viz", "attacks"}
#: layer -> the layers its modules may import (its own included)
ALLOWED: dict[str, frozenset[str]] = {
    "private": frozenset({"private"}),
    "kernels": frozenset(_BASE),
    "models": frozenset(_BASE | {"models"}),
    "data": frozenset(_BASE | {"data"}),
    "viz": frozenset(_BASE | {"viz"}),
    "attacks": frozenset(_BASE | {"attacks", "models"}),
    "snn": frozenset(_BELOW_SNN | {"snn"}),
    "convert": frozenset(_BELOW_SNN | {"snn", "convert"}),
    "defenses": frozenset(_BELOW_SNN | {"snn", "convert", "defenses"}),
    "evaluation": frozenset(_BELOW_SNN | {"snn", "convert", "defenses", "evaluation"}),
    "studies": frozenset(_BELOW_SNN | {"snn", "convert", "defenses", "evaluation", "studies"}),
    "cli": frozenset(_BELOW_SNN | {"snn", "convert", "defenses", "evaluation", "studies", "cli"}),
}
#: top-level modules of the command-line level (the package root counts as one of them)
CLI_MODULES = {"spikedefense", "spikedefense.cli", "spikedefense.demo", "spikedefense.__main__"}


class Edge(NamedTuple):
    """``source`` imports ``target`` at ``path:line``."""

    source: str
    target: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target}  ({self.path}:{self.line})"


def _modules() -> dict[str, Path]:
    """Module name -> file for every .py of the package (``pkg/__init__.py`` is ``pkg``)."""
    found = {}
    for root, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((root, *parts))] = path
    return found


MODULES = _modules()


def layer_of(module: str) -> str | None:
    """The layer of a package module; None for one no rule covers (which the test reports)."""
    parts = module.split(".")
    if module in CLI_MODULES:
        return "cli"
    if len(parts) >= 2 and parts[1] in ALLOWED:
        return parts[1]
    if len(parts) == 2 and parts[1].startswith("_"):
        return "private"
    return None


def _package(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _resolve(name: str) -> str | None:
    """The deepest package module that ``name`` (absolute) names, or None outside the package."""
    if name != "spikedefense" and not name.startswith("spikedefense."):
        return None
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _absolute(level: int, module: str | None, package: str) -> str:
    if not level:
        return module or ""
    base = package.split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _string_target(node: ast.AST, module: str, package: str) -> str | None:
    """The name in ``"a.b"``, ``__name__``, ``__package__``, ``f"{__name__}.x"`` or
    ``f"{__package__}.x"``; None for anything else (a name built at run time)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in ("__name__", "__package__"):
        return module if node.id == "__name__" else package
    if isinstance(node, ast.JoinedStr) and len(node.values) == 2:
        head, tail = node.values
        if (
            isinstance(head, ast.FormattedValue)
            and isinstance(head.value, ast.Name)
            and head.value.id in ("__name__", "__package__")
            and isinstance(tail, ast.Constant)
            and isinstance(tail.value, str)
        ):
            return (module if head.value.id == "__name__" else package) + tail.value
    return None


def _import_module_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module"
    )


def _targets(node: ast.AST, module: str, package: str) -> Iterator[str]:
    """The absolute names one AST node imports (empty for other nodes)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(node.level, node.module, package)
        for alias in node.names:
            # ``from pkg import sub`` imports the submodule when there is one.
            sub = f"{base}.{alias.name}"
            yield sub if _resolve(sub) == sub else base
    elif _import_module_call(node):
        assert isinstance(node, ast.Call)
        name = _string_target(node.args[0], module, package)
        if name is not None and name.startswith("."):
            anchor = node.args[1] if len(node.args) > 1 else None
            anchor_name = _string_target(anchor, module, package) if anchor else None
            if anchor_name is None:
                return
            level = len(name) - len(name.lstrip("."))
            name = _absolute(level, name.lstrip(".") or None, anchor_name)
        if name is not None:
            yield name


def _imports() -> list[Edge]:
    """Every import of the package as an edge to the absolute name it imports."""
    found = []
    for module, path in MODULES.items():
        package = _package(module, path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for name in _targets(node, module, package):
                found.append(Edge(module, name, str(path.relative_to(ROOT)), node.lineno))
    return found


IMPORTS = _imports()
#: the edges between package modules (each to the deepest module it names), without self-loops
EDGES = sorted(
    {e._replace(target=t) for e in IMPORTS if (t := _resolve(e.target)) not in (None, e.source)},
    key=lambda e: (e.source, e.target, e.line),
)


def _cycles(edges: list[Edge]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # the graph is a few hundred nodes: recursion is fine
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
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_scan_sees_the_package() -> None:
    """Guards the test itself: it finds the modules and the kinds of imports it claims to."""
    assert "spikedefense.kernels.dispatch" in MODULES and "spikedefense.cli" in MODULES
    targets = {(e.source, e.target) for e in EDGES}
    # a relative import, a function-level one and an import_module(f"{__name__}.x") call
    assert ("spikedefense.kernels.lif", "spikedefense.kernels.dispatch") in targets
    assert ("spikedefense.cli", "spikedefense.demo") in targets
    assert ("spikedefense.snn", "spikedefense.snn.network") in targets


def test_no_import_of_the_source_folder_name() -> None:
    """``kernels`` is installed as ``spikedefense.kernels``; the wheel has no top-level
    ``kernels``, so an import by the folder's name works only in a source checkout."""
    bare = [str(e) for e in IMPORTS if e.target == "kernels" or e.target.startswith("kernels.")]
    assert not bare, "imports of the bare folder name (use spikedefense.kernels):\n" + "\n".join(
        bare
    )


def test_every_module_has_a_layer() -> None:
    missing = sorted(m for m in MODULES if layer_of(m) is None)
    assert not missing, f"modules outside every layer (add them to ALLOWED/layer_of): {missing}"


def test_imports_point_down_the_layers() -> None:
    wrong = [
        f"{edge}   [{layer_of(edge.source)} may not import {layer_of(edge.target)}]"
        for edge in EDGES
        if layer_of(edge.target) not in ALLOWED.get(layer_of(edge.source) or "", frozenset())
    ]
    assert not wrong, "imports against the layer direction:\n" + "\n".join(wrong)


def test_no_import_cycles() -> None:
    reports = []
    for component in _cycles(EDGES):
        members = set(component)
        inside = [str(e) for e in EDGES if e.source in members and e.target in members]
        reports.append("cycle among " + ", ".join(component) + ":\n    " + "\n    ".join(inside))
    assert not reports, "import cycles (module-level graph, function-level imports included):\n" + (
        "\n".join(reports)
    )


@pytest.mark.parametrize("name", ["spikedefense.evaluation", "spikedefense.defenses"])
def test_layer_names_match_folders(name: str) -> None:
    assert name in MODULES and layer_of(name) == name.split(".")[1]
