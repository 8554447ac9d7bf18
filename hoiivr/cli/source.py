"""What the hoiivr commands read in an app's source (with :mod:`ast`, never running it):
which modules, which block constructors and ``ivr`` calls, and their ``name=``.

``hoiivr routes`` checks the steps against the handlers with it; ``--format mermaid|dot``
draws the call flow with it.
"""
from __future__ import annotations

import ast
import inspect
from types import ModuleType
from typing import Any

from .loader import LoadedApp

#: Block constructors whose result goes to a handler, and that handler's event.
BLOCK_EVENTS = {"Gather": "gather", "Ask": "gather", "Record": "record", "Play": "play",
                "Monitor": "monitor", "Transfer": "transfer_failed", "Unhold": "unhold"}
#: IVR methods that start a step, and the event of its result.
IVR_CALL_EVENTS = {"dial": "dial_answered", "unhold": "unhold"}
DYNAMIC = "<computed>"


def app_modules(loaded: LoadedApp) -> list[ModuleType]:
    """The app's module and its handlers' modules (hoiivr's own aside), once each."""
    handlers = [*loaded.ivr.handlers.values(), *(h for _, h in loaded.ivr.error_handlers)]
    modules = [loaded.module, *(inspect.getmodule(unwrap(h)) for h in handlers)]
    unique: dict[str, ModuleType] = {}
    for module in modules:
        if module is not None and not module.__name__.startswith("hoiivr."):
            unique.setdefault(module.__name__, module)
    return list(unique.values())


def name_keyword(node: ast.Call) -> str | None:
    """A call's ``name=``: the text, None if absent, :data:`DYNAMIC` if not a constant."""
    for keyword in node.keywords:
        if keyword.arg == "name":
            value = keyword.value
            if isinstance(value, ast.Constant) and (value.value is None or
                                                    isinstance(value.value, str)):
                return value.value
            return DYNAMIC
    return None


def continues_on_failure(node: ast.Call) -> bool | None:
    """Whether a Transfer has on_failure="continue": True, False, or None (computed)."""
    for keyword in node.keywords:
        if keyword.arg == "on_failure":
            if isinstance(keyword.value, ast.Constant):
                return keyword.value.value == "continue"
            return None
    return False


def unwrap(handler: Any) -> Any:
    """The function under a handler's decorators (and a ``functools.partial``)."""
    return inspect.unwrap(getattr(handler, "func", handler))
