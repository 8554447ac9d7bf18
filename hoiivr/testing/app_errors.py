"""The app's side of a call's timeline: the errors its handlers raised.

The simulator's timeline is the wire: ringing, notifications, the app's requests, prompts,
keys. A handler that raised shows there only as the apology that followed. An
:class:`AppErrors` listens to the app's runtime (``runtime.on_failure(errors)``) and
places each error in its call's timeline, after the entries the call had when the
handler raised (the notification it was handling, and what the handler had sent before
it raised): the test :class:`~hoiivr.testing.Phone` shows them in a call's timeline (and
so in a failing test's report), and ``hoiivr dev`` in the terminal phone's.
"""
from __future__ import annotations

import os
import sysconfig
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..dispatch import Failure
from ..flow import handler_name
from ..simulator.errors import UnknownCall

__all__ = ["AppError", "AppErrors", "OUTCOMES"]

#: What the caller got, by :attr:`Failure.outcome <hoiivr.dispatch.Failure.outcome>`.
OUTCOMES = {"apology": "the caller hears the apology", "ended": "the call had ended"}
#: Where the code is not the app's: hoiivr, Python, the installed libraries.
_NOT_THE_APP = tuple({str(Path(__file__).resolve().parents[1]) + os.sep} |
                     {os.path.join(sysconfig.get_path(name), "")
                      for name in ("stdlib", "purelib", "platlib")})


@dataclass(frozen=True)
class AppError:
    """One handler's error, where it falls in its call's timeline."""

    failure: Failure
    at: float           # the call's time then, in seconds since it began
    after: int          # how many timeline entries the call had then

    @property
    def entry(self) -> dict[str, Any]:
        """The error as a timeline entry (``type`` ``app_error``)."""
        failure, error = self.failure, self.failure.error
        outcome = OUTCOMES.get(failure.outcome) or \
            f"error handler {handler_name(failure.error_handler)} answered"
        return {"at": self.at, "type": "app_error", "handler": handler_name(failure.source),
                "step": failure.step, "error": f"{type(error).__name__}: {error}",
                "where": raised_at(error), "outcome": outcome}


class AppErrors:
    """The errors of an app's handlers, by call; ``calls(session)`` is the simulator's
    view of a call (``Simulator.get_call``). Pass it to ``runtime.on_failure``."""

    def __init__(self, calls: Callable[[str], dict[str, Any]]) -> None:
        self._calls = calls
        self._lock = threading.Lock()
        self._by_call: dict[str, list[AppError]] = {}

    def __call__(self, failure: Failure) -> None:
        if failure.session is None:
            return                      # a call the provider never knew: no timeline
        try:
            timeline = self._calls(failure.session)["timeline"]
        except UnknownCall:             # a call this simulator never saw, or has forgotten
            return
        at = timeline[-1]["at"] if timeline else 0.0
        with self._lock:
            self._by_call.setdefault(failure.session, []).append(
                AppError(failure, at, len(timeline)))

    def of(self, session: str) -> list[AppError]:
        """The errors of one call, in the order they were raised."""
        with self._lock:
            return list(self._by_call.get(session, ()))

    def timeline(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        """The call ``info``'s timeline with its app errors in their places. An error that
        follows more entries than ``info`` has is left out: ``info`` was read before the
        notification whose handler raised (the error shows in a later reading), and
        putting it in now would move the entries after it when they come."""
        timeline = list(info["timeline"])
        known = len(timeline)
        for error in reversed(self.of(info["session"])):
            if error.after <= known:
                timeline.insert(error.after, error.entry)
        return timeline


def raised_at(error: BaseException | None) -> str | None:
    """``file:line`` of the innermost frame of the app's own code that ``error`` went
    through (not hoiivr's, Python's or a library's), the file relative to the working
    directory if it is under it; None if it went through none."""
    frames = traceback.extract_tb(error.__traceback__) if error is not None else []
    for frame in reversed(frames):
        path = os.path.abspath(frame.filename)
        if not frame.filename.startswith("<") and not path.startswith(_NOT_THE_APP):
            relative = os.path.relpath(path)
            return f"{path if relative.startswith('..') else relative}:{frame.lineno}"
    return None
