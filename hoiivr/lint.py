"""What an app asks of its carrier, read from its handlers' source before any call.

A block the carrier cannot deliver (a ``Monitor`` on Twilio), a handler for an event its
calls never produce (``on_unhold`` on Twilio), or an option it lacks (speech input on
Hoiio) would fail in the middle of a call; :func:`carrier_problems` finds them when the
app starts (the runtime refuses to start) and ``hoiivr routes`` lists them. The source is
read with :mod:`ast`, never run: what the code computes at run time is not seen.
"""
from __future__ import annotations

import ast
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
    seen: set[Any] = set()
    uses: list[BlockUse] = []
    for handler in [*handlers.handlers.values(), *(h for _, h in handlers.error_handlers)]:
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
    return uses


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
