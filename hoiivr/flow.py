"""The call-flow grammar a handler's return value must follow.

A handler returns a block, a list of blocks, or ``None``. A list is Middle blocks, then at
most one block that hands control back (Gather, Record, Transfer, Hangup), last. Checking
it when the handler returns, not when Hoiio refuses a block later, puts the error on the
line of code that made it.
"""
from __future__ import annotations

from typing import Any, Callable

from .blocks import BLOCKS, Block, Dial, Hold, Monitor, Unhold
from .errors import CallFlowError


def handler_name(handler: Callable[..., Any] | None) -> str:
    return getattr(handler, "__qualname__", None) or repr(handler)


def check_flow(result: Any, handler: Callable[..., Any] | None) -> list[Block]:
    """``result`` as a list of blocks, or :class:`CallFlowError` naming the handler."""
    if result is None:
        return []
    blocks = list(result) if isinstance(result, (list, tuple)) else [result]
    name = handler_name(handler)
    for index, block in enumerate(blocks):
        _check_one(block, index == len(blocks) - 1, name)
    if sum(isinstance(block, Monitor) for block in blocks) > 1:
        raise CallFlowError(f"handler {name} returned Monitor twice: a call is recorded by one "
                            "Monitor at a time (Hoiio answers error_monitor_in_progress)",
                            name, blocks)
    return blocks


def _check_one(block: Any, last: bool, name: str) -> None:
    if not isinstance(block, Block):
        raise CallFlowError(f"handler {name} returned {block!r} ({type(block).__name__}); return "
                            "a block such as Play(...), a list of blocks, or None", name, block)
    label = type(block).__name__
    if isinstance(block, Dial):
        raise CallFlowError(f"handler {name} returned Dial: a call has one start block; to "
                            "place another call use ivr.dial(...)", name, block)
    if isinstance(block, Unhold):
        raise CallFlowError(f"handler {name} returned Unhold, but a handler never runs while "
                            "the call is on hold; call ivr.unhold(call_key) instead", name, block)
    if not last and (block.hands_back or isinstance(block, Hold)):
        raise CallFlowError(f"handler {name} returned {label} before other blocks: {label} "
                            "must be the last block of the list, since what follows it is "
                            "decided when its result comes back", name, block)


#: Blocks whose end reaches a handler only when they are the last returned: what has
#: happened when it does, and how to fix such a step that no handler receives.
UNTIL_LAST = {"play": ("which has played", "end with Hangup(...) or add {decorator}"),
              "monitor": ("which has started", "add the blocks that follow it, or add "
                                                "{decorator}")}


def no_handler(event: str, step: str | None, goodbye: str) -> str:
    """The warning for a step whose result reached no handler, and how to fix it."""
    decorator = f'@ivr.on_{event}("{step}")' if step else f"@ivr.on_{event}"
    which = f"{event} step {step!r}" if step else event
    if event in UNTIL_LAST:
        done, fix = UNTIL_LAST[event]
        which += f" (a handler's blocks ended with a {event.title()}, {done})"
    else:
        fix = "add {decorator}"
    return (f'no handler for {which}; the caller hears "{goodbye}" and is hung up: '
            + fix.format(decorator=decorator))


def pack(blocks: list[Block]) -> list[dict[str, Any]]:
    """Blocks as JSON for the store's queue: their Hoiio parameters, step name and, when
    set, their options (a prompt's voice, a Gather's speech input)."""
    packed = []
    for b in blocks:
        item = {"kind": b.kind, "params": b.to_params(), "name": getattr(b, "name", None)}
        options = b.options()
        if options:
            item["options"] = {k: list(v) if isinstance(v, tuple) else v
                               for k, v in options.items()}
        packed.append(item)
    return packed


def unpack(item: dict[str, Any]) -> Block:
    block = BLOCKS[item["kind"]].from_params(item["params"])
    changes = dict(item.get("options") or {})
    if item.get("name"):
        changes["name"] = item["name"]
    return block.replace(**changes) if changes else block
