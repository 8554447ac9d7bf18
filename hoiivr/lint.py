"""What an app asks of its carrier, read from its handlers' source before any call.

A block the carrier cannot deliver (a ``Monitor`` on Twilio), a handler for an event its
calls never produce (``on_unhold`` on Twilio), or an option it lacks (speech input on
Hoiio) would fail in the middle of a call; :func:`carrier_problems` finds them when the
app starts (the runtime refuses to start) and ``hoiivr routes`` lists them.
:func:`returned_last` finds the block each handler ends with (a lone ``Play`` whose end
no ``on_play`` receives is a gap of ``hoiivr routes``). The source is read with
:mod:`ast`, never run: what the code computes at run time is not seen.
"""
from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from . import blocks
from .ask import Ask
from .carriers.base import Carrier
from .registry import Handlers

#: The block classes of hoiivr, by the name the source calls them.
BLOCK_NAMES: dict[str, type[blocks.Block]] = {cls.__name__: cls for cls in
                                             (*blocks.BLOCKS.values(), Ask)}


@dataclass(frozen=True)
class BlockUse:
    """One block constructor in an app's source: which block, where, with which options,
    and the handler whose code reaches it (itself, or through a helper it calls)."""

    block: type[blocks.Block]
    where: str                      # module:line
    function: str
    options: dict[str, Any]         # the keyword arguments whose values are constants
    handler: str = ""

    @property
    def place(self) -> str:
        place = f"{self.where} in {self.function}()"
        if self.handler and self.handler != self.function:
            place += f", called by handler {self.handler}()"
        return place


def block_uses(handlers: Handlers) -> list[BlockUse]:
    """Every constructor of a hoiivr block in the app's handlers, and in the functions of
    their modules they call (a ``menu_prompt()`` helper), as far as the source shows; each
    once, named with the first handler that reaches it."""
    return list(_block_uses((*handlers.handlers.values(),
                             *(h for _, h in handlers.error_handlers))))


# Read once per set of handlers: every runtime built checks them (a test's Phone builds one
# for each test), and reading the source costs milliseconds.
@functools.lru_cache(maxsize=64)
def _block_uses(handlers: tuple[Any, ...]) -> tuple[BlockUse, ...]:
    seen: set[Any] = set()
    uses: list[BlockUse] = []
    for handler in handlers:
        root = _function(handler)
        pending = [root]
        while pending:
            func = pending.pop()
            if func in seen or not inspect.isfunction(func):
                continue
            seen.add(func)
            tree = _tree(func)
            if tree is not None:
                uses += _uses(tree, func, getattr(root, "__name__", ""))
                pending += _callees(tree, func)
    return tuple(uses)


def _function(handler: Any) -> Any:
    return inspect.unwrap(getattr(handler, "func", handler))


def _tree(func: Any) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return None                     # no source to read: nothing to check


def _uses(tree: ast.AST, func: Any, handler: str) -> Iterator[BlockUse]:
    first = func.__code__.co_firstlineno - 1
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            block = _block_of(node, func.__globals__)
            if block is not None:
                yield BlockUse(block, f"{func.__module__}:{first + node.lineno}",
                               func.__name__, _constants(node, block), handler)


def _constants(node: ast.Call, block: type[blocks.Block]) -> dict[str, Any]:
    """The arguments of a block's constructor that the source gives as constants, by name
    (``Transfer("room:x")`` gives ``dest``)."""
    positional = [p.name for p in inspect.signature(block).parameters.values()
                  if p.kind is p.POSITIONAL_OR_KEYWORD]
    found = {name: arg.value for name, arg in zip(positional, node.args)
             if isinstance(arg, ast.Constant)}
    found.update({k.arg: k.value.value for k in node.keywords
                  if k.arg and isinstance(k.value, ast.Constant)})
    return found


def _callees(tree: ast.AST, func: Any) -> list[Any]:
    """The functions of ``func``'s own module that it calls by name (module-level ones,
    and those of an enclosing function it closes over)."""
    names = {node.func.id for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    cells = dict(zip(func.__code__.co_freevars, func.__closure__ or ()))
    found = [_cell(cells[name]) if name in cells else func.__globals__.get(name)
             for name in names]
    return [f for f in found if inspect.isfunction(f) and f.__module__ == func.__module__]


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:                  # not bound yet
        return None


def _block_of(node: ast.Call, names: dict[str, Any]) -> type[blocks.Block] | None:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else \
        func.attr if isinstance(func, ast.Attribute) else None
    block = BLOCK_NAMES.get(name or "")
    if block is None:
        return None
    if isinstance(func, ast.Name) and names.get(func.id, block) is not block:
        return None                     # a class of the app's own with that name
    return block


def returned_last(handlers: Handlers) -> list[BlockUse]:
    """The block each handler returns last, where its source shows one: in each of its
    ``return`` statements (``return Play(...)``, ``return [..., Play(...)]``), or in those of
    a function of its module whose result it returns (``return goodbye()``).

    A block with a ``name=`` that is not a constant is left out: what it is named, and so
    which handler receives it, is not known here.
    """
    found: dict[tuple[str, type[blocks.Block]], BlockUse] = {}
    for handler in [*handlers.handlers.values(), *(h for _, h in handlers.error_handlers)]:
        for use in ends_of(handler):
            found.setdefault((use.where, use.block), use)
    return list(found.values())


def ends_of(handler: Any) -> list[BlockUse]:
    """The blocks one handler may return last, as far as its source shows
    (:func:`returned_last`)."""
    return list(_endings(_function(handler), set()))


def _endings(func: Any, seen: set[Any]) -> Iterator[BlockUse]:
    if func in seen or not inspect.isfunction(func):
        return
    seen.add(func)
    tree = _tree(func)
    if tree is None:
        return
    first = func.__code__.co_firstlineno - 1
    for node in _returns(tree):
        for last in _last_of(node.value):
            block = _block_of(last, func.__globals__)
            if block is not None and not any(k.arg == "name" and not isinstance(
                    k.value, ast.Constant) for k in last.keywords):
                yield BlockUse(block, f"{func.__module__}:{first + last.lineno}",
                               func.__name__, _constants(last, block))
            elif block is None and isinstance(last.func, ast.Name):
                callee = func.__globals__.get(last.func.id)
                if inspect.isfunction(callee) and callee.__module__ == func.__module__:
                    yield from _endings(callee, seen)


def _returns(tree: ast.AST) -> Iterator[ast.Return]:
    """The ``return`` statements of the function ``tree`` holds (not of the functions in
    it), in source order."""
    function = next((node for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    pending: list[ast.AST] = list(function.body) if function is not None else []
    found: list[ast.Return] = []
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Return):
            found.append(node)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                   ast.ClassDef)):
            pending += ast.iter_child_nodes(node)
    yield from sorted(found, key=lambda node: (node.lineno, node.col_offset))


def _last_of(value: ast.expr | None) -> list[ast.Call]:
    """The calls that may be the last block of a returned value."""
    if isinstance(value, ast.Call):
        return [value]
    if isinstance(value, (ast.List, ast.Tuple)) and value.elts:
        return _last_of(value.elts[-1])
    if isinstance(value, ast.IfExp):
        return _last_of(value.body) + _last_of(value.orelse)
    return []


def carrier_problems(handlers: Handlers, carrier: type[Carrier]) -> list[str]:
    """What the app asks that ``carrier`` lacks, one sentence each (empty: nothing)."""
    problems = [f"@ivr.on_{event} ({_name(handler)}): the {carrier.name} carrier has no "
                f"{event} event, so it would never run"
                for (event, _), handler in handlers.handlers.items()
                if event not in carrier.events]
    for use in block_uses(handlers):
        if use.block.kind not in carrier.blocks:
            problems.append(f"{use.block.__name__} at {use.place}: the {carrier.name} "
                            f"carrier cannot deliver it (it has "
                            f"{', '.join(sorted(carrier.blocks - {'dial'}))})")
        else:
            problems += [f"{use.block.__name__} at {use.place}: {why}"
                         for why in carrier.refuses(use.block, use.options)]
    return problems


def _name(handler: Any) -> str:
    return getattr(inspect.unwrap(handler), "__qualname__", None) or repr(handler)
