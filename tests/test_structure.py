"""The package stands in layers: no module of hoiivr imports, however indirectly, itself.

Every import statement counts, wherever it stands: at the top, inside a function, or under
``if TYPE_CHECKING:``. A circle ties its modules so that none can be read, tested or moved
without the others.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hoiivr"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The hoiivr modules that ``name``'s import statements name."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                # ``from .x import y``: y is a module of its own, or a name in x.
                target = f"{base}.{alias.name}" if base else alias.name
                yield target if target in known else base


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: {m for m in imports(name, path, known) if m in known and m != name}
            for name, path in found.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_circle_finder_finds_a_circle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(edges) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    known = {"hoiivr.blocks", "hoiivr.cli", "hoiivr.cli.run", "hoiivr.runtime"}
    source = PACKAGE / "cli" / "run.py"
    found = set(imports("hoiivr.cli.run", source, known | set(modules())))
    assert "hoiivr.runtime" in found


def test_no_module_imports_itself_through_others() -> None:
    found = circles(graph())
    assert found == [], "import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_simulator_is_its_core_plus_its_web_app() -> None:
    """The HTTP side of the simulator stands above its Python API, not beside it."""
    from hoiivr.simulator import Simulator
    from hoiivr.simulator.core import SimulatorCore
    edges = graph()
    assert "hoiivr.simulator.core" in edges["hoiivr.simulator.web"]
    assert "hoiivr.simulator.web" not in edges["hoiivr.simulator.core"]
    assert issubclass(Simulator, SimulatorCore) and not hasattr(SimulatorCore, "wsgi_app")
