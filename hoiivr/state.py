"""``call.state``: a dict that keeps JSON values only, and says so where one is set.

A call's state is stored as JSON between notifications, and read back by whichever worker
handles the next one. A value JSON cannot hold (a ``datetime``, a ``set``, NaN) would
fail when the call is stored, far from the line that set it; :class:`State` refuses it on
that line, naming the key and what to store instead::

    call.state["when"] = datetime.now()
    # StateError: call.state["when"] cannot hold a datetime: call.state keeps JSON values
    # only (str, int, float, bool, None, and lists and dicts of them); store
    # when.isoformat(), and read it back with datetime.fromisoformat()

A value changed in place (``call.state["slots"].append(...)``) is checked when the
handler returns, with :func:`check_state`.
"""
from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import StateError

__all__ = ["State", "check_state"]

KEEPS = "call.state keeps JSON values only (str, int, float, bool, None, and lists and " \
        "dicts of them)"
#: Values that cannot change in place: checked when set, they stay fine (NaN is refused
#: when set).
_SCALARS = frozenset({str, int, float, bool, type(None)})
_STRICT = json.JSONEncoder(allow_nan=False)
#: The types JSON takes as keys (it writes each as text).
_KEY_TYPES = (str, int, float, bool, type(None))


class State(dict[str, Any]):
    """A dict of JSON values with text keys: each value set is checked
    (:class:`~hoiivr.errors.StateError` if JSON cannot hold it). Built from a stored
    record, it trusts what it is given."""

    def __setitem__(self, key: str, value: Any) -> None:
        problem = _key_problem(key, "call.state") or \
            _problem(value, _path("call.state", key), key)
        if problem is not None:
            raise StateError(problem, key, value)
        super().__setitem__(key, value)

    def update(self, *others: Any, **values: Any) -> None:
        for key, value in dict(*others, **values).items():
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def __ior__(self, other: Any) -> State:  # type: ignore[override,misc]
        self.update(other)
        return self


def check_state(state: Mapping[str, Any], name: str = "call.state") -> None:
    """Raise :class:`~hoiivr.errors.StateError` if JSON cannot hold ``state`` (a value
    changed in place since it was set, say), naming the first key that is the problem."""
    if type(state) is State and all(type(value) in _SCALARS for value in state.values()):
        return                      # each was checked when set, and none changes in place
    try:
        _STRICT.encode(state)
        return                      # the usual case: one pass in C
    except (TypeError, ValueError, RecursionError):
        pass
    for key, value in state.items():
        problem = _key_problem(key, name) or _problem(value, _path(name, key), key)
        if problem is not None:
            raise StateError(problem, key, value)


def _key_problem(key: Any, name: str) -> str | None:
    if isinstance(key, str):
        return None
    return (f"{name}[{key!r}]: the keys of {name} are text (JSON would turn {key!r} into "
            f"{json.dumps(str(key))}); use {json.dumps(str(key))}")


def _path(name: str, key: Any) -> str:
    return f"{name}[{json.dumps(key) if isinstance(key, str) else repr(key)}]"


def _problem(value: Any, path: str, key: Any) -> str | None:
    """Why JSON cannot hold ``value`` (at ``path``), or None if it can."""
    try:
        json.dumps(value, allow_nan=False)
        return None
    except (TypeError, ValueError, RecursionError):
        pass
    found = _first_bad(value, path, set())
    if found is None:               # json refused what no part of it explains: say so
        return f"{path} cannot be stored as JSON; {KEEPS}"
    where, bad, why = found
    name = key if isinstance(key, str) and key.isidentifier() and where == path else "value"
    return f"{where} {why}: {KEEPS}; {_advice(bad, name)}"


def _first_bad(value: Any, path: str, seen: set[int]) -> tuple[str, Any, str] | None:
    """The first part of ``value`` JSON cannot hold: (its path, it, why), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, value, f"cannot hold {value!r} (JSON has no NaN or infinity)"
    if value is None or isinstance(value, (str, int, float)):
        return None
    if id(value) in seen:
        return path, value, "contains itself"
    if isinstance(value, (list, tuple)):
        return _first_of(((f"{path}[{i}]", item) for i, item in enumerate(value)),
                         seen | {id(value)})
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, _KEY_TYPES):
                return path, k, f"has the key {k!r} ({type(k).__name__}); JSON keys are text"
        return _first_of(((_path(path, k), item) for k, item in value.items()),
                         seen | {id(value)})
    return path, value, f"cannot hold {_a(type(value).__name__)}"


def _first_of(parts: Iterable[tuple[str, Any]], seen: set[int]) -> tuple[str, Any, str] | None:
    for path, item in parts:
        found = _first_bad(item, path, seen)
        if found is not None:
            return found
    return None


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _advice(value: Any, name: str) -> str:
    """What to store instead of ``value``, a variable called ``name``."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        kind = type(value).__name__
        return f"store {name}.isoformat(), and read it back with {kind}.fromisoformat()"
    if isinstance(value, float):
        return "store None, or the text of it"
    if isinstance(value, decimal.Decimal):
        return f"store str({name}), and read it back with Decimal()"
    if isinstance(value, (set, frozenset)):
        return f"store sorted({name}), a list"
    if isinstance(value, (bytes, bytearray)):
        return f"store {name}.decode(), or its base64 text"
    if isinstance(value, enum.Enum):
        return f"store {name}.value"
    if dataclasses.is_dataclass(value):
        return f"store dataclasses.asdict({name})"
    return "store what it is made of (its fields as a dict, its text, or an id to look it " \
           "up by)"
