"""An end that waits for the result it overtook.

Twilio reports a caller hanging up during a ``<Record>`` twice: the verb's action brings
the recording, the status callback the duration, and Twilio does not promise which comes
first. ``on_hangup`` runs once, with both. When the status callback comes first, the
dispatcher keeps its end in the call's record (:func:`end_fields`) and waits for the
action, for at most ``HOIIVR_ACTION_WAIT`` seconds (:class:`Deadlines`); a recording with
nothing in it requests no action, so it waits the whole time. A process that stops ends
its waiting calls first; one that is killed leaves the action to end the call when it
comes, and if none does, ``on_hangup`` does not run.
"""
from __future__ import annotations

import atexit
import contextlib
import heapq
import logging
import threading
import time
import weakref
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, ContextManager

from .notification import Notification

log = logging.getLogger("hoiivr")

_TIMES, _AMOUNTS = ("date",), ("rate", "debit")
_FIELDS = frozenset(f.name for f in fields(Notification))


def end_fields(notification: Notification) -> dict[str, Any]:
    """The fields ``notification`` has, as JSON values, for the call's record."""
    kept: dict[str, Any] = {}
    for f in fields(Notification):
        value = getattr(notification, f.name)
        if value is None or f.name == "final":
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        kept[f.name] = value
    return kept


def end_notification(kept: dict[str, Any]) -> Notification:
    """The notification :func:`end_fields` kept (the fields this version knows: a worker
    of another version may have kept it)."""
    values = {name: value for name, value in kept.items() if name in _FIELDS}
    for name in _TIMES:
        if name in values:
            values[name] = datetime.fromisoformat(values[name])
    for name in _AMOUNTS:
        if name in values:
            values[name] = Decimal(values[name])
    return Notification(**values)


class Deadlines:
    """Runs each function given to :meth:`at` when its time comes, inside ``context()``
    (the app's context: handlers may use Flask's ``current_app``).

    One thread for all of them, started by the first: a burst of callers who hang up at the
    beep waits in a heap, not in a thread each. What is still pending when the interpreter
    exits (a worker stopped, gracefully) runs then, rather than never.
    """

    def __init__(self, context: Callable[[], ContextManager[Any]] | None = None) -> None:
        self.context = context or contextlib.nullcontext
        self._pending: dict[str, tuple[float, Callable[[], None]]] = {}
        self._due: list[tuple[float, str]] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def __contains__(self, session: str) -> bool:
        return session in self._pending

    def at(self, seconds: float, session: str, run: Callable[[], None]) -> None:
        """Run ``run()`` for the call ``session`` in ``seconds`` (once: a second one for the
        same call is ignored)."""
        with self._changed:
            if session in self._pending:
                return
            due = time.monotonic() + seconds
            self._pending[session] = due, run
            heapq.heappush(self._due, (due, session))
            _waiting.add(self)
            if self._thread is None or not self._thread.is_alive():
                # Started here, not at import: a thread does not survive a worker's fork.
                self._thread = threading.Thread(target=self._loop, name="hoiivr-deadlines",
                                                daemon=True)
                self._thread.start()
            self._changed.notify()

    def run_now(self, session: str, due: float | None = None) -> None:
        """Run the call's pending function now, if it has one (a test's simulator has
        delivered all it will); with ``due``, only the one that was due then."""
        with self._changed:
            pending = self._pending.get(session)
            if pending is None or due not in (None, pending[0]):
                return
            del self._pending[session]
        self._call(pending[1])

    def run_all(self) -> None:
        """Run every pending function now: the process is stopping."""
        with self._changed:
            sessions = list(self._pending)
        for session in sessions:
            self.run_now(session)

    def _loop(self) -> None:
        while True:
            with self._changed:
                while not self._due:
                    if not self._changed.wait(60):
                        self._thread = None       # idle: the next at() starts another
                        return
                due, session = self._due[0]
                wait = due - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                heapq.heappop(self._due)
            self.run_now(session, due)         # gone already if it ran early

    def _call(self, run: Callable[[], None]) -> None:
        try:
            with self.context():
                run()
        except Exception:  # noqa: BLE001 -- a timer thread has no one else to tell
            log.exception("a call's awaited end failed")


#: Every Deadlines that has had something to run (weakly: a test suite makes thousands).
_waiting: weakref.WeakSet[Deadlines] = weakref.WeakSet()


@atexit.register
def _run_at_exit() -> None:
    for deadlines in list(_waiting):
        deadlines.run_all()
