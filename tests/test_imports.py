"""The import graph of src/: no cycles, no upward imports, the labs on the public API only.

Imports are read from the source with :mod:`ast`, function-level ones included,
so an import that hides a circle inside a function is still seen.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src"

#: Modules another framework's front end could reuse: they must not need Flask.
FRAMEWORK_FREE = (
    "sessionkeeper.server.keys",
    "sessionkeeper.server.record",
    "sessionkeeper.server.saving",
    "sessionkeeper.server.locking",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / package).rglob("*.py"))}


ALL = {**modules("sessionkeeper"), **modules("sessionlab")}


def imported(name: str, path: Path) -> Iterator[tuple[str, list[str]]]:
    """Each module ``name`` imports (absolute), with the names taken from it."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [alias.name for alias in node.names]
            yield base, names
            for alias in names:  # ``from package import module``
                if f"{base}.{alias}" in ALL:
                    yield f"{base}.{alias}", []


def edges(package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports."""
    graph: dict[str, set[str]] = {}
    for name, path in modules(package).items():
        targets = {target for target, _ in imported(name, path)}
        graph[name] = {t for t in targets if t in ALL and t.split(".")[0] == package} - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_relative_imports_resolve_to_modules() -> None:
    graph = edges("sessionkeeper")
    assert "sessionkeeper.server.saving" in graph["sessionkeeper.server.interface"]
    assert "sessionkeeper.errors" in graph["sessionkeeper.server.record"]


@pytest.mark.parametrize("package", ["sessionkeeper", "sessionlab"])
def test_no_import_cycle(package: str) -> None:
    assert find_cycle(edges(package)) is None


def test_the_library_never_imports_the_labs() -> None:
    offenders = [
        (name, target)
        for name, path in modules("sessionkeeper").items()
        for target, _ in imported(name, path)
        if target.split(".")[0] == "sessionlab"
    ]
    assert offenders == []


def test_stores_do_not_import_the_service() -> None:
    graph = edges("sessionkeeper")
    offenders = [
        (name, target)
        for name, targets in graph.items()
        if name.startswith("sessionkeeper.stores")
        for target in targets
        if target.startswith("sessionkeeper.kv")
    ]
    assert offenders == []


def closure(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


@pytest.mark.parametrize("name", FRAMEWORK_FREE)
def test_record_keys_and_merge_need_no_flask(name: str) -> None:
    graph = edges("sessionkeeper")
    needed = closure(graph, name)
    foreign = {
        target.split(".")[0]
        for module in needed
        for target, _ in imported(module, ALL[module])
        if target
    }
    assert not foreign & {"flask", "werkzeug"}, sorted(needed)


def public(module: str) -> set[str]:
    return set(getattr(importlib.import_module(module), "__all__", ()))


def test_the_labs_use_only_the_public_api() -> None:
    offenders = []
    for name, path in modules("sessionlab").items():
        for target, names in imported(name, path):
            if target.split(".")[0] != "sessionkeeper":
                continue
            private = any(part.startswith("_") for part in target.split("."))
            unlisted = [n for n in names if n not in public(target)]
            if private or unlisted:
                offenders.append((name, target, unlisted))
    assert offenders == []
