"""The clocks: virtual time that moves only when told, and a real scheduler thread."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from hoiivr.protocol import HOIIO_TZ
from hoiivr.simulator import RealClock, SimulatorError, VirtualClock


def test_virtual_timers_fire_in_order_when_time_is_advanced() -> None:
    clock = VirtualClock()
    fired: list[tuple[str, float]] = []
    for name, when in [("c", 3.0), ("a", 1.0), ("b", 1.0), ("d", 10.0)]:
        clock.call_at(when, lambda name=name: fired.append((name, clock.now())))
    cancelled = clock.call_later(2.0, lambda: fired.append(("x", clock.now())))
    cancelled.cancel()
    assert clock.now() == 0.0 and clock.pending() == 4
    clock.advance(3.0)
    assert fired == [("a", 1.0), ("b", 1.0), ("c", 3.0)] and clock.now() == 3.0
    assert clock.next_at() == 10.0
    clock.advance(100.0)
    assert fired[-1] == ("d", 10.0) and clock.now() == 103.0 and clock.next_at() is None


def test_timers_set_by_timers_and_listeners_fire_in_the_same_advance() -> None:
    clock = VirtualClock()
    fired: list[str] = []
    queued: list[str] = []

    def listener() -> None:
        while queued:
            fired.append(queued.pop())
            clock.call_later(0.0, lambda: fired.append("zero-delay"))

    clock.add_listener(listener)
    clock.call_at(1.0, lambda: queued.append("from-timer"))
    clock.advance(1.0)
    assert fired == ["from-timer", "zero-delay"]


def test_virtual_wall_time_and_past_timers() -> None:
    start = datetime(2030, 5, 1, 12, 0, tzinfo=HOIIO_TZ)
    clock = VirtualClock(start)
    clock.advance(90.0)
    assert clock.wall() == start + timedelta(seconds=90)
    assert VirtualClock().wall(0) == VirtualClock.DEFAULT_START
    late = clock.call_at(5.0, lambda: None)              # in the past: due now
    assert late.when == 90.0


def test_virtual_clock_refuses_bad_or_reentrant_advances() -> None:
    clock = VirtualClock()
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(SimulatorError):
            clock.advance(bad)
    errors: list[Exception] = []

    def nested() -> None:
        try:
            clock.advance(1.0)
        except SimulatorError as exc:
            errors.append(exc)
    clock.call_at(1.0, nested)
    clock.advance(1.0)
    assert len(errors) == 1 and clock.running_here is False


def test_real_clock_fires_on_its_thread_and_stops() -> None:
    clock = RealClock(speed=50.0)                      # 1 s of model time is 20 ms
    done = threading.Event()
    order: list[str] = []
    clock.call_later(1.0, lambda: (order.append("late"), done.set()))
    clock.call_later(0.5, lambda: order.append("early"))
    clock.call_later(0.7, lambda: 1 / 0)               # a failing timer does not stop others
    assert done.wait(5)
    assert order == ["early", "late"]
    clock.close()
    assert clock._thread is not None and not clock._thread.is_alive()
    assert clock.wall().tzinfo is not None


def test_real_clock_speed_must_be_positive() -> None:
    with pytest.raises(SimulatorError):
        RealClock(speed=0)
