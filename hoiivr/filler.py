"""No dead air from slow handlers: a filler while a handler works, an apology if it never
returns.

A handler that waits on a slow database leaves the caller in silence, and carriers give up
on slow webhooks (Twilio after 15 s). So every handler of a live call is *watched*: if it
has not returned after ``HOIIVR_FILLER_AFTER`` seconds (default 2), the caller hears
``HOIIVR_FILLER`` (words, or ``<url>`` hold music) while it finishes, then its blocks; if
it has not returned after ``HOIIVR_HANDLER_TIMEOUT`` seconds (default 10), the caller hears
the apology and the call is hung up, whatever the handler does later.

The handler keeps running in the webhook's own thread: watching costs a push on a heap,
and the filler and the apology go out from the :class:`Watchdog`'s thread, *out of turn*,
through the carrier's REST API (:meth:`~hoiivr.carriers.base.Carrier.interject`). What
happens then is the dispatcher's (``hoiivr/dispatch.py``): the filler is a Play whose
notification carries the handler's blocks once it has returned.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from .blocks import Play
from .config import Settings
from .errors import BlockError, ConfigError

log = logging.getLogger("hoiivr")

#: The step name of the filler's Play: framework-made, so never a handler's.
FILLER_STEP = "hoiivr:filler"


def replay_step(replay: int) -> str:
    """The step of the filler played again for the ``replay``-th time: a notify URL of its
    own, so that a duplicate of one replay's notification is told from the next replay's."""
    return FILLER_STEP if replay == 0 else f"{FILLER_STEP}:{replay}"


def filler_replay(step: str | None) -> int | None:
    """Which replay of the filler ``step`` is (0: the first play); None: no filler's."""
    if step == FILLER_STEP:
        return 0
    head, _, count = (step or "").rpartition(":")
    return int(count) if head == FILLER_STEP and count.isascii() and count.isdigit() else None

FILLER = "One moment, please."
FILLER_AFTER, HANDLER_TIMEOUT = 2.0, 10.0
#: The most HOIIVR_HANDLER_TIMEOUT may be: the call's lease (60 s) must outlive a handler
#: and the apology sent after it, and a notification that waits for the lease gives up
#: after 45 s.
MAX_HANDLER_TIMEOUT = 30.0


@dataclass(frozen=True)
class Patience:
    """How long a caller is left waiting for a handler: ``filler`` is played after
    ``filler_after`` seconds (``None``: never), the apology after ``timeout``."""

    filler: Play | None = Play(FILLER, name=FILLER_STEP)
    filler_after: float | None = FILLER_AFTER
    timeout: float = HANDLER_TIMEOUT

    @classmethod
    def from_settings(cls, settings: Settings) -> Patience:
        """``HOIIVR_FILLER_AFTER`` (seconds, or ``off``), ``HOIIVR_FILLER`` (words, or a
        :class:`Play`) and ``HOIIVR_HANDLER_TIMEOUT`` (seconds)."""
        timeout = settings.seconds("HOIIVR_HANDLER_TIMEOUT", HANDLER_TIMEOUT)
        if timeout > MAX_HANDLER_TIMEOUT:
            raise ConfigError(f"HOIIVR_HANDLER_TIMEOUT is at most {MAX_HANDLER_TIMEOUT:g} s, "
                              f"not {timeout:g}: a call's lock outlives its handler by no "
                              "more. Move slower work out of the handler (a queue, a thread)")
        after: float | None = None
        if settings.flag("HOIIVR_FILLER_AFTER", True):
            after = settings.seconds("HOIIVR_FILLER_AFTER", FILLER_AFTER)
            if after >= timeout:
                raise ConfigError(f"HOIIVR_FILLER_AFTER ({after:g} s) must be shorter than "
                                  f"HOIIVR_HANDLER_TIMEOUT ({timeout:g} s), or off")
        return cls(filler_block(settings.get("HOIIVR_FILLER", FILLER)), after, timeout)


def filler_block(value: Any) -> Play:
    """``HOIIVR_FILLER`` as the Play the caller hears."""
    if isinstance(value, Play):
        return Play(value.msg, tag=value.tag, name=FILLER_STEP)
    try:
        return Play(str(value).strip() or FILLER, name=FILLER_STEP)
    except BlockError as exc:
        raise ConfigError(f"HOIIVR_FILLER cannot be played: {exc} It takes words to say, or "
                          "<url>https://...</url> audio") from None


class Watch:
    """One handler being watched: what the watchdog does if it is slow (``fill``, ``None``
    where no filler applies) or never returns (``time_out``). :meth:`finish` ends the watch
    and says what the watchdog did meanwhile."""

    __slots__ = ("lock", "began", "fill", "time_out", "done", "filled", "timed_out", "record")

    def __init__(self, fill: Callable[[Watch], None] | None,
                 time_out: Callable[[Watch], None]) -> None:
        self.lock = threading.Lock()
        self.began = time.monotonic()
        self.fill, self.time_out = fill, time_out
        self.done = self.filled = self.timed_out = False
        #: The call's record as the filler left it: the apology is queued in it.
        self.record: dict[str, Any] | None = None

    def finish(self) -> str | None:
        """``None`` if nothing was done; ``"filled"`` or ``"timed out"``. Under the watch's
        lock, so an action is either wholly done or not begun."""
        with self.lock:
            self.done = True
            # Let go of what the actions would need (the call, its record): the watchdog
            # may hold the watch a moment longer.
            self.fill, self.time_out = None, _too_late
            if self.timed_out:
                return "timed out"
            return "filled" if self.filled else None


class Watchdog:
    """One thread that fills for, and times out, the handlers of one dispatcher.

    Watches begin in order and share their delays, so they wait in a deque: starting one
    is an append, and the thread looks only at the oldest, a few times a second.
    """

    def __init__(self, patience: Patience) -> None:
        self.patience = patience
        first = patience.filler_after if patience.filler_after is not None else patience.timeout
        self._first = first
        self._tick = min(0.1, first / 4)
        self._new: deque[Watch] = deque()
        self._slow: list[Watch] = []
        self._busy = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, fill: Callable[[Watch], None] | None,
              time_out: Callable[[Watch], None]) -> Watch:
        """Watch the handler about to run (in the caller's thread)."""
        watch = Watch(fill, time_out)
        self._new.append(watch)
        if not self._busy.is_set():
            self._wake()
        return watch

    def close(self) -> None:
        """Stop the thread (a later watch starts it again)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._busy.set()
        if thread is not None:
            thread.join(5)

    def _wake(self) -> None:
        with self._lock:
            if self._thread is None:
                # Started by the first watch, not at import: a thread does not survive the
                # fork of a gunicorn worker.
                self._stop.clear()
                self._thread = threading.Thread(target=self._loop, name="hoiivr-watchdog",
                                                daemon=True)
                self._thread.start()
            self._busy.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self._new and not self._slow:
                self._busy.clear()
                if not self._new:            # an append after the clear set it again
                    self._busy.wait()
                continue
            self._stop.wait(self._tick)
            self._check(time.monotonic())

    def _check(self, now: float) -> None:
        new = self._new
        # Most handlers return at once, in the order they began: drop those from the front
        # each tick, so that finished watches are not kept for the whole delay.
        while new and (new[0].done or now - new[0].began >= self._first):
            watch = new.popleft()
            if not watch.done:
                self._slow.append(watch)
        self._slow = [watch for watch in self._slow if not watch.done and self._act(watch, now)]

    def _act(self, watch: Watch, now: float) -> bool:
        """Do what is due for a slow ``watch``; whether to keep watching it."""
        late = now - watch.began
        if late >= self.patience.timeout:
            _safely(watch.time_out, watch)
            return False
        after = self.patience.filler_after
        if watch.fill is not None and after is not None and late >= after:
            fill, watch.fill = watch.fill, None        # once
            _safely(fill, watch)
        return True


def _too_late(watch: Watch) -> None:
    """A finished watch's time-out: the handler returned; nothing is left to do."""


def _safely(action: Callable[[Watch], None], watch: Watch) -> None:
    try:
        action(watch)
    except Exception:  # noqa: BLE001 -- the watchdog must outlive any one call
        log.exception("the watchdog's action for a slow handler failed")
