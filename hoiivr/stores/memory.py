"""``memory://``: call records in a dict, for one process (tests, a single dev server)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import LockTimeout
from .base import Store, decode_record, encode_record
from .clock import MONOTONIC, Clock, check_clock

__all__ = ["MemoryStore"]


@dataclass
class _Slot:
    """The lease of one key, present only while someone holds or waits for it."""

    #: Made by the first thread that waits (most leases are never waited for).
    ready: threading.Condition | None = None
    token: str | None = None
    expires: float = 0.0
    waiters: int = 0

    def is_free(self, now: float) -> bool:
        return self.token is None or self.expires <= now


@dataclass
class _Record:
    text: str
    expires: float


class MemoryStore(Store):
    """Records and leases in this process's memory; thread-safe, lost on exit.

    Records are kept as JSON text, so :meth:`get` and :meth:`put` copy them and a value
    that is not JSON is refused at once, exactly as the shared backends would.
    Waiting for a lease uses a condition variable, not polling.

    :param clock: when records expire, leases lapse and sweeps run (see
        :mod:`hoiivr.stores.clock`); :attr:`default_clock` if ``None``. A thread already
        waiting for a lease sees a lapse the clock jumped to when it next wakes: at its
        ``wait`` deadline, or when the lease would have lapsed in real time.
    """

    #: Seconds between two sweeps of expired records and abandoned leases.
    purge_interval: float = 60.0
    #: The clock of a store made without one: monotonic, as only this process reads it.
    default_clock: ClassVar[Clock] = MONOTONIC

    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = self.default_clock if clock is None else check_clock(clock)
        self._mutex = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._slots: dict[str, _Slot] = {}
        self._last_purge = self.clock.now()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._mutex:
            text = self._text(key)
        return None if text is None else decode_record(key, text)

    def _text(self, key: str) -> str | None:
        """The stored text of ``key``'s record, if it has not expired (mutex held)."""
        record = self._records.get(key)
        if record is None:
            return None
        if record.expires <= self.clock.now():
            del self._records[key]
            return None
        return record.text

    def put(self, key: str, record: dict[str, Any], ttl: float | None = None) -> None:
        # Serialise outside the mutex: it is the slow part and needs no shared state.
        text, seconds = encode_record(key, record), self._ttl(ttl)
        now = self.clock.now()
        with self._mutex:
            self._store(key, text, now + seconds, now)

    def _commit(self, key: str, token: str, record: dict[str, Any], ttl: float | None,
                release: bool = True) -> bool:
        text, seconds = encode_record(key, record), self._ttl(ttl)
        now = self.clock.now()
        with self._mutex:
            slot = self._slots.get(key)
            if slot is None or slot.token != token or slot.expires <= now:
                return False
            self._store(key, text, now + seconds, now)
            if release:
                self._free(key, slot)
            return True

    def _store(self, key: str, text: str, expires: float, now: float) -> None:
        """Keep ``text`` until ``expires`` (mutex held)."""
        self._records[key] = _Record(text, expires)
        if now - self._last_purge >= self.purge_interval:
            self._purge(now)

    def delete(self, key: str) -> None:
        with self._mutex:
            self._records.pop(key, None)

    def close(self) -> None:
        with self._mutex:
            self._records.clear()

    def _acquire(self, key: str, token: str, lease: float, wait: float) -> str | None:
        start = time.monotonic()
        with self._mutex:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot()
            slot.waiters += 1
            try:
                self._wait_for(key, slot, start, wait)
                slot.token, slot.expires = token, self.clock.now() + lease
            finally:
                slot.waiters -= 1
                self._forget_if_idle(key, slot)
            return self._text(key)

    def _wait_for(self, key: str, slot: _Slot, start: float, wait: float) -> None:
        """Block (mutex held) until ``slot`` is free or ``wait`` real seconds have passed
        since ``start`` (a :func:`time.monotonic` reading)."""
        while True:
            now = self.clock.now()
            if slot.is_free(now):
                return
            waited = time.monotonic() - start
            if waited >= wait:
                raise LockTimeout(key, waited)
            # Wake at the deadline or when the holder's lease lapses, whichever is first;
            # a release in between wakes us through the condition.
            if slot.ready is None:
                slot.ready = threading.Condition(self._mutex)
            slot.ready.wait(min(wait - waited, slot.expires - now))

    def _release(self, key: str, token: str) -> None:
        with self._mutex:
            slot = self._slots.get(key)
            if slot is None or slot.token != token:
                return  # our lease lapsed; the key may belong to someone else now
            self._free(key, slot)

    def _free(self, key: str, slot: _Slot) -> None:
        """Give back ``slot``'s lease and wake one waiter (mutex held)."""
        slot.token = None
        if slot.ready is not None:
            slot.ready.notify()
        self._forget_if_idle(key, slot)

    def _forget_if_idle(self, key: str, slot: _Slot) -> None:
        # Dropping idle slots keeps memory flat however many calls come and go.
        if slot.waiters == 0 and slot.is_free(self.clock.now()):
            self._slots.pop(key, None)

    def _purge(self, now: float) -> None:
        """Drop expired records and leases abandoned by dead holders (mutex held)."""
        self._last_purge = now
        for key in [k for k, r in self._records.items() if r.expires <= now]:
            del self._records[key]
        for key in [k for k, s in self._slots.items() if s.waiters == 0 and s.is_free(now)]:
            del self._slots[key]
