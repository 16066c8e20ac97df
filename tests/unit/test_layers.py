"""The house's structure: imports run one way, with no cycle, between the layers of
docs/architecture.md.

The import graph is read from the source (every ``import`` and ``from ... import``,
also those inside functions), so a lazy import cannot hide a cycle or a wrong
dependency.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

#: package -> the packages it may import (besides itself); "udb" alone is udb/__init__
ALLOWED: dict[str, set[str]] = {
    "udb.ns": set(),
    "udb.safexml": set(),
    "udb.domain": set(),
    "udb.contract": {"udb.ns", "udb.safexml"},
    "udb.formats": {"udb.domain"},
    "udb.synthetic": {"udb.domain"},
    "udb.wssecurity": {"udb.ns", "udb.safexml", "udb.domain"},
    "udb.storage": {"udb.domain"},
    "udb.service": {"udb.domain", "udb.storage", "udb.formats"},
    "udb.demo": {"udb.domain", "udb.service", "udb.storage"},
    "udb.soap": {
        "udb.ns",
        "udb.safexml",
        "udb.contract",
        "udb.domain",
        "udb.wssecurity",
        "udb.service",
    },
    "udb.config": {"udb.wssecurity"},
    "udb.api": {
        "udb",
        "udb.ns",
        "udb.safexml",
        "udb.contract",
        "udb.domain",
        "udb.wssecurity",
        "udb.service",
        "udb.storage",
        "udb.soap",
        "udb.config",
    },
    "udb.client": {"udb", "udb.ns", "udb.safexml", "udb.contract", "udb.domain", "udb.wssecurity"},
}
#: what the SDK must never pull in, whatever the table above says
SERVER_SIDE = ("udb.storage", "udb.service", "udb.api", "udb.soap", "udb.formats", "udb.cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


@cache
def imports() -> dict[str, frozenset[str]]:
    """Each module of src/udb and the udb modules it imports (a name imported from a
    package counts as the submodule when it is one, else as the package)."""
    known = modules()
    graph: dict[str, frozenset[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.split(".")[0] == "udb")
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                if target.split(".")[0] != "udb":
                    continue
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
                found.update(subs)
                if len(subs) < len(node.names):
                    found.add(target)
        graph[name] = frozenset(m for m in found if m in known and m != name)
    return graph


def _layer(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph = imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_the_graph_is_read() -> None:
    graph = imports()
    assert (
        "udb.storage.sql.repositories"
        in graph["udb.storage.sqlite"] | graph["udb.storage.sql.unit_of_work"]
    )
    assert "udb.domain.model" in graph["udb.domain.rules"]


def test_no_import_cycle_anywhere_in_src() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    allowed = ALLOWED[layer] | {layer}
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in imports().items()
        if _layer(module) == layer
        for target in targets
        if _layer(target) not in allowed
    )
    assert wrong == []


def test_the_client_sdk_reaches_no_server_module() -> None:
    graph = imports()
    seen: set[str] = set()
    todo = [m for m in graph if m == "udb.client" or m.startswith("udb.client.")]
    todo = [m for m in todo if not m.startswith("udb.client.cli")]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(graph[module])
    assert sorted(m for m in seen if _layer(m) in SERVER_SIDE) == []


def test_no_two_public_types_share_a_name() -> None:
    """A public class (no leading underscore) is defined once in all of src/udb."""
    where: dict[str, list[str]] = {}
    for module, path in modules().items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where.setdefault(node.name, []).append(module)
    assert {name: found for name, found in where.items() if len(found) > 1} == {}
