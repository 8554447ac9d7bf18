"""The engine's clocks: time in seconds since the clock started, plus timers.

:class:`VirtualClock` moves only when told (:meth:`VirtualClock.advance`), firing every
timer that falls due, in order, in the caller's thread: a 60 s wait or a 15 s gather
timeout takes no real time, and a run is the same every time. :class:`RealClock` fires
timers from one scheduler thread at their real time (optionally sped up).

Both give :meth:`Clock.wall`, the wall-clock time of a clock reading, for the ``date``
Hoiio puts in billing.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from datetime import datetime, timedelta
from typing import Callable, ClassVar

from ..protocol import HOIIO_TZ
from .errors import SimulatorError

log = logging.getLogger("hoiivr.simulator")

Action = Callable[[], None]


class Timer:
    """A scheduled action; :meth:`cancel` it and it never runs."""

    __slots__ = ("when", "seq", "action", "cancelled")

    def __init__(self, when: float, seq: int, action: Action) -> None:
        self.when = when
        self.seq = seq
        self.action = action
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: Timer) -> bool:
        # Timers due at the same moment run in the order they were set.
        return (self.when, self.seq) < (other.when, other.seq)

    def __repr__(self) -> str:
        return f"<Timer at {self.when:.3f}{' cancelled' if self.cancelled else ''}>"


class Clock:
    """What the engine needs of time. Subclasses implement the timer queue."""

    virtual: ClassVar[bool] = False

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start if start is not None else datetime.now(HOIIO_TZ)
        self._heap: list[Timer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        """Seconds since the clock started."""
        raise NotImplementedError

    def wall(self, at: float | None = None) -> datetime:
        """The wall-clock time (GMT+8) of the clock reading ``at`` (default: now)."""
        return self._start + timedelta(seconds=self.now() if at is None else at)

    def call_at(self, when: float, action: Action) -> Timer:
        """Run ``action`` once the clock reads ``when`` (at once if that is past)."""
        raise NotImplementedError

    def call_later(self, delay: float, action: Action) -> Timer:
        return self.call_at(self.now() + max(0.0, delay), action)

    def close(self) -> None:
        """Stop firing timers (and the scheduler thread, if any)."""

    def _pop_cancelled(self) -> None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)


class VirtualClock(Clock):
    """A clock that stands still until :meth:`advance` moves it.

    ``start`` is the wall-clock time of reading 0 (default 2025-01-01 09:00 GMT+8, so that
    billing dates are the same on every run). Listeners added with :meth:`add_listener` run
    after each timer fires, before time moves on; the simulator delivers the notifications
    a timer produced there, so they arrive at the moment they were sent.
    """

    virtual = True
    DEFAULT_START = datetime(2025, 1, 1, 9, 0, 0, tzinfo=HOIIO_TZ)

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(start or self.DEFAULT_START)
        self._now = 0.0
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._runner: int | None = None
        self._listeners: list[Action] = []

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, action: Action) -> Timer:
        with self._lock:
            timer = Timer(max(when, self._now), next(self._seq), action)
            heapq.heappush(self._heap, timer)
            return timer

    def add_listener(self, listener: Action) -> None:
        """Run ``listener()`` before time moves on: after each timer that fires, and at the
        start of every :meth:`advance`."""
        self._listeners.append(listener)

    def next_at(self) -> float | None:
        """When the next pending timer is due, or ``None`` if none is pending."""
        with self._lock:
            self._pop_cancelled()
            return self._heap[0].when if self._heap else None

    def pending(self) -> int:
        """How many timers are waiting to fire."""
        with self._lock:
            return sum(not t.cancelled for t in self._heap)

    @property
    def running_here(self) -> bool:
        """True inside :meth:`advance` in this thread (a timer or listener is running)."""
        return self._runner == threading.get_ident()

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every timer due on the way, in order."""
        if not math.isfinite(seconds) or seconds < 0:
            raise SimulatorError(f"advance({seconds!r}): time moves forward by a finite, "
                                 "non-negative number of seconds")
        try:
            self.wall(self._now + seconds)
        except OverflowError:
            # Every later call's times would be past the calendar's end: refused, not
            # kept to break each request after it.
            raise SimulatorError(f"advance({seconds!r}): that is past the year 9999; "
                                 "advance by at most a few years") from None
        with self._running():
            target = self._now + seconds
            # Listeners may set timers that are already due (a block of no duration), so
            # the loop ends only when a listener round leaves nothing due.
            while True:
                self._notify_listeners()
                if not self._fire_next(target):
                    break
            self._now = max(self._now, target)

    def step(self, until: float = math.inf) -> bool:
        """Fire the next timer if it is due by ``until``; False if there was none."""
        with self._running():
            fired = self._fire_next(until)
            self._notify_listeners()
            return fired

    def _fire_next(self, until: float) -> bool:
        with self._lock:
            self._pop_cancelled()
            if not self._heap or self._heap[0].when > until:
                return False
            timer = heapq.heappop(self._heap)
            self._now = max(self._now, timer.when)
        timer.action()
        return True

    def _notify_listeners(self) -> None:
        for listener in self._listeners:
            listener()

    def _running(self) -> _Running:
        if self.running_here:
            raise SimulatorError("the virtual clock cannot be advanced from inside a timer or "
                                 "a notification handler; advance it from the test instead")
        return _Running(self)


class _Running:
    """Marks the clock as advancing in this thread (one thread at a time)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock

    def __enter__(self) -> None:
        self.clock._run_lock.acquire()
        self.clock._runner = threading.get_ident()

    def __exit__(self, *exc: object) -> None:
        self.clock._runner = None
        self.clock._run_lock.release()


class RealClock(Clock):
    """Real time, with timers fired by one scheduler thread.

    ``speed`` > 1 runs the model faster than real time (``speed=10``: a 60 s wait takes 6 s),
    for demos and quick tests. The thread starts with the first timer and stops on
    :meth:`close`.
    """

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if not speed > 0:
            raise SimulatorError(f"RealClock(speed={speed!r}): speed must be positive")
        super().__init__(start)
        self.speed = speed
        self._t0 = time.monotonic()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def call_at(self, when: float, action: Action) -> Timer:
        with self._cond:
            timer = Timer(when, next(self._seq), action)
            heapq.heappush(self._heap, timer)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="hoiivr-sim-clock",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
            return timer

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def _run(self) -> None:
        while True:
            timer = self._next_due()
            if timer is None:
                return
            try:
                timer.action()
            except Exception:  # one broken timer must not stop every call's clock
                log.exception("simulator timer %r failed", timer)

    def _next_due(self) -> Timer | None:
        with self._cond:
            while not self._closed:
                self._pop_cancelled()
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = (self._heap[0].when - self.now()) / self.speed
                if delay <= 0:
                    return heapq.heappop(self._heap)
                self._cond.wait(delay)
            return None
