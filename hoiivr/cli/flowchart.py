"""``hoiivr routes APP --format mermaid|dot``: the call flow, drawn from the source.

The graph is read from the same source ``hoiivr routes`` checks (:mod:`ast`, never run):
each handler, and every block it can return, directly or through a helper function of
its module that it calls. An edge goes from a handler to the handler that receives the
result of the step it returns (``Gather(name="menu")`` -> ``@ivr.on_gather("menu")``), or
to the end of the call. What the source does not show is marked: a computed ``name=``
(dashed, to the bare handler that would receive it, if any), a handler whose blocks come
from somewhere not visible (dashed, to ``?``), a step no handler receives (to a red
"no handler" node).
"""
from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from .. import blocks
from ..dispatch import RESULT_EVENTS
from ..ivr import IVR
from ..flow import UNTIL_LAST
from ..lint import BLOCK_NAMES, ends_of
from .loader import LoadedApp
from .source import BLOCK_EVENTS, DYNAMIC, IVR_CALL_EVENTS, app_modules, continues_on_failure, \
    name_keyword, unwrap

__all__ = ["Edge", "Flow", "Node", "build_flow", "to_dot", "to_mermaid"]

#: Blocks drawn, besides those whose result goes to a handler.
ENDING = ("Hangup", "Hold")
#: Any other block whose result goes to a handler (a kind added later is drawn too).
_OTHER_STEPS = {cls.__name__: RESULT_EVENTS.get(cls.kind, cls.kind)
                for cls in blocks.BLOCKS.values()
                if cls.hands_back and cls.stage == "middle" and cls.__name__ not in BLOCK_EVENTS}
#: Events whose handler returns nothing: an empty one is no unknown.
FINAL_EVENTS = ("hangup", "dial_failed")


@dataclass(frozen=True)
class Node:
    """One box: ``kind`` is start, handler, end, gap or unknown."""

    id: str
    label: str
    kind: str


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    dashed: bool = False


@dataclass
class Flow:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def node(self, key: str, label: str, kind: str) -> str:
        if key not in self.nodes:
            self.nodes[key] = Node(f"n{len(self.nodes) + 1}", label, kind)
        return self.nodes[key].id

    def edge(self, source: str, target: str, label: str, dashed: bool = False) -> None:
        """Add an edge; one between the same two nodes gets the label added to its own
        (drawn apart, the two would lie on top of each other)."""
        for index, edge in enumerate(self.edges):
            if (edge.source, edge.target, edge.dashed) == (source, target, dashed):
                if label not in edge.label.split(" / "):
                    self.edges[index] = Edge(source, target, f"{edge.label} / {label}", dashed)
                return
        self.edges.append(Edge(source, target, label, dashed))


@dataclass(frozen=True)
class Use:
    """A block (or ivr call) in a function: which, its step name, whether a Transfer
    continues after failing (None: computed)."""

    what: str
    step: str | None
    continues: bool | None = False


# -- reading each module --------------------------------------------------------------------


@dataclass
class _Function:
    uses: list[Use] = field(default_factory=list)
    calls: set[str] = field(default_factory=set)


class _FlowFinder(ast.NodeVisitor):
    """Each function's block uses and the module functions it calls, by name."""

    def __init__(self, module: ModuleType, ivr: IVR) -> None:
        self.module, self.ivr = module, ivr
        self.functions: dict[str, _Function] = {}
        self.stack: list[_Function] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        function = self.functions.setdefault(node.name, _Function())
        self.stack.append(function)
        self.generic_visit(node)
        self.stack.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        if self.stack:
            use = self._use(node)
            if use is not None:
                self.stack[-1].uses.append(use)
            elif isinstance(node.func, ast.Name):
                self.stack[-1].calls.add(node.func.id)
        self.generic_visit(node)

    def _use(self, node: ast.Call) -> Use | None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else \
            func.attr if isinstance(func, ast.Attribute) else None
        if name in BLOCK_EVENTS or name in ENDING or name in _OTHER_STEPS:
            ours = BLOCK_NAMES.get(str(name)) or getattr(blocks, str(name))
            if isinstance(func, ast.Name) and vars(self.module).get(name, ours) is not ours:
                return None     # a class of the user's own with the same name
            return Use(str(name), name_keyword(node),
                       continues_on_failure(node) if name == "Transfer" else False)
        if isinstance(func, ast.Attribute) and func.attr in IVR_CALL_EVENTS:
            receiver = vars(self.module).get(func.value.id) \
                if isinstance(func.value, ast.Name) else None
            if receiver is self.ivr:
                return Use(f"ivr.{func.attr}", name_keyword(node))
        return None


def _read(module: ModuleType, ivr: IVR) -> dict[str, _Function]:
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return {}
    finder = _FlowFinder(module, ivr)
    finder.visit(tree)
    return finder.functions


def _reachable(functions: dict[str, _Function], name: str) -> list[Use]:
    """The uses of ``name`` and of every module function it calls, transitively."""
    seen, todo, uses = {name}, [name], []
    while todo:
        function = functions.get(todo.pop())
        if function is None:
            continue
        uses += function.uses
        for callee in sorted(function.calls - seen):
            seen.add(callee)
            todo.append(callee)
    return uses


# -- building the graph ---------------------------------------------------------------------


def build_flow(loaded: LoadedApp) -> Flow:
    """The call flow of ``loaded``'s app, as far as its source shows it."""
    ivr, flow = loaded.ivr, Flow()
    modules = {m.__name__: _read(m, ivr) for m in app_modules(loaded)}
    start = flow.node("start:call", "incoming call", "start")
    flow.edge(start, _handler_node(flow, ivr, "answer", None), "rings")
    for (event, step), handler in ivr.handlers.items():
        _from_handler(flow, ivr, modules, handler, _handler_node(flow, ivr, event, step), event)
    for exc_class, handler in ivr.error_handlers:
        node = flow.node(f"error:{exc_class.__name__}", f"{_name(handler)}()<br/>errorhandler("
                         f"{exc_class.__name__})", "handler")
        flow.edge(flow.node("start:error", "a handler raises", "start"), node,
                  exc_class.__name__, dashed=True)
        _from_handler(flow, ivr, modules, handler, node, "error")
    _dials(flow, ivr, modules)
    hangup = ivr.find_handler("hangup", None)
    if hangup is not None:
        flow.edge(flow.node("end:hangup", "call ends", "end"),
                  _handler_node(flow, ivr, "hangup", None), "on_hangup")
    return flow


def _handler_node(flow: Flow, ivr: IVR, event: str, step: str | None) -> str:
    handler = ivr.find_handler(event, step)
    if handler is None:
        where = f'on_{event}("{step}")' if step else f"on_{event}"
        return flow.node(f"gap:{event}:{step}", f"no handler: {where}<br/>the caller hears "
                         "Goodbye", "gap")
    registered = (event, step) if (event, step) in ivr.handlers else (event, None)
    decorator = f"on_{event}('{registered[1]}')" if registered[1] else f"on_{event}"
    return flow.node(f"handler:{event}:{registered[1]}", f"{_name(handler)}()<br/>{decorator}",
                     "handler")


def _name(handler: Any) -> str:
    return str(getattr(unwrap(handler), "__name__", None) or repr(handler))


def _function_of(modules: dict[str, dict[str, _Function]],
                 handler: Any) -> tuple[dict[str, _Function], str] | None:
    func = unwrap(handler)
    functions = modules.get(getattr(func, "__module__", None) or "")
    name = getattr(func, "__name__", None)
    return (functions, name) if functions is not None and name in functions else None


def _from_handler(flow: Flow, ivr: IVR, modules: dict[str, dict[str, _Function]],
                  handler: Any, node: str, event: str) -> None:
    found = _function_of(modules, handler)
    uses = [u for u in _reachable(*found) if u.what != "ivr.dial"] if found else []
    drawn = False
    for use in uses:
        drawn = _draw(flow, ivr, node, use) or drawn
    for end in ends_of(handler):
        # An unnamed Play (or Monitor) returned last is a step of its own: its end goes
        # to the bare on_play, or to no handler.
        if end.block.kind in UNTIL_LAST and "name" not in end.options:
            what = end.block.__name__
            _to_result(flow, ivr, node, end.block.kind, Use(what, None), f"{what} (last)")
            drawn = True
    if not drawn and event not in FINAL_EVENTS:
        flow.edge(node, flow.node("unknown", "? not visible in the code", "unknown"),
                  "returns", dashed=True)


def _draw(flow: Flow, ivr: IVR, node: str, use: Use) -> bool:
    """Draw the edges of one block use; False if it is not a step of its own (an unnamed
    Play or Monitor flows on to the next block)."""
    label = f"{use.what}: {use.step}" if use.step not in (None, DYNAMIC) else use.what
    if use.what == "Hangup":
        flow.edge(node, flow.node("end:hangup", "call ends", "end"), label)
        return True
    if use.what == "Hold":
        flow.edge(node, flow.node("end:hold", "on hold<br/>until ivr.unhold", "end"), label)
        return True
    if use.what == "Transfer":
        flow.edge(node, flow.node("end:transferred", "transferred", "end"), label)
        if use.continues is False:
            return True
        label += " fails" if use.continues else " fails (if on_failure='continue')"
        _to_result(flow, ivr, node, "transfer_failed", use, label)
        return True
    event = BLOCK_EVENTS.get(use.what) or _OTHER_STEPS.get(use.what) or \
        IVR_CALL_EVENTS[use.what.split(".")[-1]]
    if use.step is None and use.what in ("Play", "Monitor"):
        return False
    _to_result(flow, ivr, node, event, use, label)
    return True


def _to_result(flow: Flow, ivr: IVR, node: str, event: str, use: Use, label: str) -> None:
    if use.step == DYNAMIC:
        bare = ivr.find_handler(event, None)
        target = _handler_node(flow, ivr, event, None) if bare is not None else \
            flow.node("unknown", "? not visible in the code", "unknown")
        flow.edge(node, target, f"{label} (computed name)", dashed=True)
        return
    flow.edge(node, _handler_node(flow, ivr, event, use.step), label)


def _dials(flow: Flow, ivr: IVR, modules: dict[str, dict[str, _Function]]) -> None:
    """Each ``ivr.dial(name=...)`` starts a call: to on_dial_answered, or on_dial_failed."""
    for functions in modules.values():
        for name, function in functions.items():
            for use in function.uses:
                if use.what != "ivr.dial":
                    continue
                shown = use.step if use.step not in (None, DYNAMIC) else "(computed name)" \
                    if use.step == DYNAMIC else ""
                start = flow.node(f"start:dial:{name}:{use.step}",
                                  f"{name}() places a call<br/>ivr.dial {shown}".rstrip(),
                                  "start")
                _to_result(flow, ivr, start, "dial_answered", use, "answered")
                if use.step == DYNAMIC or ivr.find_handler("dial_failed", use.step):
                    _to_result(flow, ivr, start, "dial_failed", use,
                               "busy, unanswered or failed")


# -- drawing ---------------------------------------------------------------------------------


_MERMAID_SHAPES = {"start": ('(["', '"])'), "handler": ('["', '"]'), "end": ('(("', '"))'),
                   "gap": ('{{"', '"}}'), "unknown": ('{{"', '"}}')}


#: Mermaid's class of each kind of node ("end" is a keyword of its grammar).
_MERMAID_CLASSES = {"start": "callstart", "end": "callend", "gap": "gap", "unknown": "unknown"}


def to_mermaid(flow: Flow) -> str:
    """A Mermaid flowchart (``flowchart TD``)."""
    lines = ["flowchart TD"]
    for node in flow.nodes.values():
        left, right = _MERMAID_SHAPES[node.kind]
        lines.append(f"    {node.id}{left}{_mermaid_text(node.label)}{right}")
    for edge in flow.edges:
        arrow = "-.->" if edge.dashed else "-->"
        lines.append(f'    {edge.source} {arrow}|"{_mermaid_text(edge.label)}"| {edge.target}')
    lines += [f"    class {n.id} {_MERMAID_CLASSES[n.kind]}" for n in flow.nodes.values()
              if n.kind != "handler"]
    lines += ["    classDef gap fill:#fdd,stroke:#c00", "    classDef unknown fill:#eee,"
              "stroke:#888,stroke-dasharray:4", "    classDef callstart fill:#def,stroke:#36c",
              "    classDef callend fill:#efe,stroke:#393"]
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


_DOT_SHAPES = {"start": 'shape=oval, style=filled, fillcolor="#ddeeff"',
               "handler": "shape=box",
               "end": 'shape=doublecircle, style=filled, fillcolor="#eeffee"',
               "gap": 'shape=hexagon, style=filled, fillcolor="#ffdddd", color="#cc0000"',
               "unknown": 'shape=hexagon, style="dashed"'}


def to_dot(flow: Flow) -> str:
    """A Graphviz ``digraph``."""
    lines = ["digraph call_flow {", '    node [fontname="Helvetica"];',
             '    edge [fontname="Helvetica", fontsize=10];']
    for node in flow.nodes.values():
        lines.append(f'    {node.id} [label="{_dot_text(node.label)}", {_DOT_SHAPES[node.kind]}];')
    for edge in flow.edges:
        style = ", style=dashed" if edge.dashed else ""
        lines.append(f'    {edge.source} -> {edge.target} [label="{_dot_text(edge.label)}"'
                     f"{style}];")
    return "\n".join(lines + ["}"]) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("<br/>", "\\n")


def lines_of(flow: Flow) -> Iterator[str]:
    """The edges as text, one a line (for tests and quick looks)."""
    labels = {n.id: n.label.replace("<br/>", " ") for n in flow.nodes.values()}
    for edge in flow.edges:
        arrow = "-.->" if edge.dashed else "-->"
        yield f"{labels[edge.source]} {arrow} [{edge.label}] {labels[edge.target]}"
