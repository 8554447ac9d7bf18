"""The simulator package has no import circle, counting imports under TYPE_CHECKING and
inside functions: every module can be read (and changed) knowing only those below it."""
from __future__ import annotations

import ast
from pathlib import Path

import hoiivr.simulator
from hoiivr.simulator import Simulator, SimulatorServer
from hoiivr.simulator.core import SimulatorCore

PACKAGE = Path(hoiivr.simulator.__file__).parent
NAME = "hoiivr.simulator"


def imports_of(path: Path) -> set[str]:
    """The package's modules that ``path`` imports, anywhere in its text."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1:
                # "from . import rest" names modules; "from .core import X" one module.
                found |= {a.name for a in node.names if a.name in modules} if not base \
                    else {base.split(".")[0]}
            elif node.level == 0 and base.startswith(NAME + "."):
                found.add(base[len(NAME) + 1:].split(".")[0])
            elif node.level == 0 and base == NAME:
                found |= {a.name if a.name in modules else "__init__" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name[len(NAME) + 1:].split(".")[0] for a in node.names
                      if a.name.startswith(NAME + ".")}
    return (found & modules) - {path.stem}


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph``, as the modules around it, or None."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        trail.append(module)
        for other in sorted(graph.get(module, ())):
            if state.get(other) == "open":
                return trail[trail.index(other):] + [other]
            if other not in state and (found := visit(other)):
                return found
        state[module] = "done"
        trail.pop()
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_simulator_package_has_no_import_circle() -> None:
    graph = {path.stem: imports_of(path) for path in PACKAGE.glob("*.py")}
    assert "core" in graph["web"] and "web" not in graph["core"]
    assert circle(graph) is None, " -> ".join(circle(graph) or [])


def test_the_circle_finder_finds_one() -> None:
    assert circle({"control": {"core"}, "core": {"web"}, "web": {"control"}}) == [
        "control", "core", "web", "control"]
    assert circle({"a": {"b"}, "b": set()}) is None


def test_the_simulator_is_the_core_plus_its_wsgi_app() -> None:
    assert issubclass(Simulator, SimulatorCore) and not hasattr(SimulatorCore, "wsgi_app")
    with Simulator() as sim:
        assert sim.wsgi_app.name == "hoiivr.simulator"
        server = SimulatorServer(sim)
        assert server.sim is sim
