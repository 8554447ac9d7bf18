"""Where a store's "now" comes from: its *clock*, any object with ``now() -> float``.

The stores that keep expiry times themselves (memory, SQLite) read them from the clock
they were given, so a test can move their time instead of sleeping. The simulator's
:class:`~hoiivr.simulator.clock.VirtualClock` is such a clock: it stands still until it is
advanced::

    clock = VirtualClock()
    store = MemoryStore(clock=clock)
    store.put("S1", {"seq": 1}, ttl=60)
    clock.advance(60)
    assert store.get("S1") is None

A clock decides when records expire and leases lapse, never how long :meth:`Store.lock`
waits for a busy lease: a waiting thread blocks in real time. Only differences between
two readings matter, so any origin will do, as long as everything that shares the
store's data reads the same clock. The Redis store has no clock: Redis expires its keys
by the server's own time.
"""
from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "MONOTONIC", "WALL", "check_clock"]


class Clock(Protocol):
    """What a store needs of time."""

    def now(self) -> float:
        """The current time, in seconds."""
        ...


class _MonotonicClock:
    """:func:`time.monotonic`: never steps back with the wall clock, but means nothing to
    another process."""

    def now(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "MONOTONIC"


class _WallClock:
    """:func:`time.time`, seconds since the epoch: the time every process of a host shares."""

    def now(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "WALL"


#: The default of a store used by one process only.
MONOTONIC: Clock = _MonotonicClock()
#: The default of a store whose data other processes read too.
WALL: Clock = _WallClock()


def check_clock(clock: object) -> Clock:
    """``clock`` itself if it has a ``now()`` method, else a :class:`TypeError` saying so."""
    if not callable(getattr(clock, "now", None)):
        raise TypeError(f"a store's clock must be an object whose now() method returns "
                        f"seconds, such as hoiivr.simulator.clock.VirtualClock(); got "
                        f"{clock!r}")
    return clock  # type: ignore[return-value]
