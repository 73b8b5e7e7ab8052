"""The import graph keeps the layering: no cycle between subpackages, no library module
importing the CLI, a server that never imports the trainer, a wire schema free of the agent API.

Imports are read from the source (`ast`), function-level ones included, since they run
too; imports under `if TYPE_CHECKING:` are left out, as they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import rolloutctl

PACKAGE = Path(rolloutctl.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module_name(path): path
    for path in sorted(PACKAGE.rglob("*.py"))
    if "_examples" not in path.parts
}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def _imported(node: ast.AST) -> Iterator[str]:
    """The rolloutctl modules an import statement names: a `from` names its submodules, and
    the module itself where it takes a name defined there (`from pkg import sub` only runs
    `pkg/__init__`, as every import of a submodule does, so it is no way back into `pkg`)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        names = [f"{node.module}.{alias.name}" for alias in node.names]
        yield from names
        if any(name not in MODULES for name in names):
            yield node.module


def _imports(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    return {
        name
        for node in ast.walk(tree)
        if id(node) not in skipped
        for name in _imported(node)
        if name in MODULES and name != module
    }


GRAPH = {module: _imports(module) for module in MODULES}


def _part(module: str) -> str:
    """The subpackage a module belongs to (`rolloutctl.server`), or the module itself."""
    return ".".join(module.split(".")[:2])


def _part_graph() -> dict[str, set[str]]:
    parts: dict[str, set[str]] = {}
    for module, imported in GRAPH.items():
        targets = {_part(name) for name in imported} - {_part(module), "rolloutctl"}
        parts.setdefault(_part(module), set()).update(targets)
    return parts


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A path start -> ... -> start, if there is one (depth first)."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for target in sorted(graph.get(node, ())):
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def _reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in GRAPH[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_the_graph_is_read() -> None:
    assert "rolloutctl.server.rollout" in GRAPH["rolloutctl.server.manager"]
    assert "rolloutctl.errors" in GRAPH["rolloutctl.server.rollout"]
    assert "rolloutctl.server.store.redis_scripts" in GRAPH["rolloutctl.server.store.redis"]
    assert "rolloutctl.server.store" not in GRAPH["rolloutctl.server.store.redis"]
    assert "rolloutctl" in GRAPH["rolloutctl.cli.app"]  # `from rolloutctl import __version__`


def test_no_import_cycle_between_subpackages() -> None:
    graph = _part_graph()
    cycles = [cycle for part in sorted(graph) if (cycle := _cycle_from(part, graph))]
    assert cycles == []


def test_no_import_cycle_between_modules() -> None:
    """Module by module over the whole package, lazy imports included: a cycle is a piece
    that two modules share and that belongs in one of them (or a third)."""
    assert [cycle for module in sorted(GRAPH) if (cycle := _cycle_from(module, GRAPH))] == []


def test_no_library_module_imports_the_cli() -> None:
    library = [m for m in MODULES if not m.startswith(("rolloutctl.cli", "rolloutctl.__main__"))]
    assert {m for m in library if any(_part(n) == "rolloutctl.cli" for n in GRAPH[m])} == set()


def test_the_server_never_imports_the_trainer_nor_the_cli() -> None:
    server = [m for m in MODULES if _part(m) == "rolloutctl.server"]
    reached = {name for module in server for name in _reachable(module)}
    assert {n for n in reached if _part(n) in ("rolloutctl.trainer", "rolloutctl.cli")} == set()


def test_the_wire_schema_does_not_import_the_agent_api() -> None:
    assert {_part(name) for name in _reachable("rolloutctl.protocol")} & {
        "rolloutctl.agent",
        "rolloutctl.server",
    } == set()
