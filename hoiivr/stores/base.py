"""The :class:`Store` interface every call-state backend implements.

A store keeps one JSON object (the call's *record*) per call id, each with a time to live,
and hands out a per-call *lease* lock, which comes with the record as it stood when the
lease was taken (Redis fetches both in one round trip)::

    with store.lock(session) as record:
        record = record or {}
        record["seq"] = record.get("seq", 0) + 1
        store.put(session, record)

The lock is a lease, not a database transaction: it may be held across a REST call, it
never blocks other calls, and if its holder dies it lapses after ``lease`` seconds. A holder
that is done with the call but has slow work left (a REST call) can store the record and
give the lease back in one step, before that work::

    lease = store.lock(session)
    with lease as record:
        ...
        lease.commit(record)      # stored, and the call unlocked
        send_the_block()
"""
from __future__ import annotations

import abc
import itertools
import json
import os
import random
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, TypeVar

from ..errors import LeaseLost, LockTimeout, StoreError

_S = TypeVar("_S", bound="Store")
_T = TypeVar("_T")

__all__ = ["Lease", "Store", "decode_record", "encode_record"]


#: One encoder for every record (json.dumps with options builds one per call).
#: allow_nan=False: NaN and Infinity are not JSON and other readers would choke.
_COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def encode_record(key: str, record: dict[str, Any]) -> str:
    """Serialise ``record`` to compact JSON, or raise :class:`StoreError` saying why not.

    JSON (never pickle) keeps stored state readable and unable to run code when loaded.
    """
    if not isinstance(record, dict):
        raise StoreError(f"call {key!r}: a record must be a dict, not {type(record).__name__}")
    try:
        return _COMPACT.encode(record)
    except (TypeError, ValueError, RecursionError) as exc:
        raise StoreError(f"call {key!r}: the record cannot be stored as JSON ({exc}); keep "
                         "only dict, list, str, int, float, bool and None in it") from exc


def decode_record(key: str, text: str | bytes) -> dict[str, Any]:
    """Parse a stored record; a value another program corrupted raises :class:`StoreError`."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as exc:     # the last: nested past any record
        raise StoreError(f"call {key!r}: the stored record is not valid JSON ({exc})") from exc
    if not isinstance(record, dict):
        raise StoreError(f"call {key!r}: the stored record is not a JSON object")
    return record


class Store(abc.ABC):
    """Call records with a time to live, and a per-call lease lock.

    Subclasses implement :meth:`get`, :meth:`put`, :meth:`delete`, :meth:`close` and the
    two lease primitives :meth:`_acquire` and :meth:`_release`; :meth:`lock` is shared, and
    :meth:`_commit` may be overridden to write and release in one round trip.
    A store is also a context manager that closes itself.

    When records expire and leases lapse is each backend's: the memory and SQLite stores
    read a clock they are given (:mod:`hoiivr.stores.clock`), Redis the server's. How long
    :meth:`lock` waits is real time whatever the backend.
    """

    #: Seconds a record lives when :meth:`put` is given no ``ttl``.
    default_ttl: float = 86400.0
    #: First and longest sleep, in seconds, between two tries for a busy lease.
    poll_min: float = 0.001
    poll_max: float = 0.02

    @abc.abstractmethod
    def __init__(self) -> None:
        # Wakes this process's lease waiters when a lease is given back (see _poll).
        self._released = threading.Condition()

    @abc.abstractmethod
    def get(self, key: str) -> dict[str, Any] | None:
        """Return a copy of the record of ``key``, or ``None`` if it is missing or expired."""

    @abc.abstractmethod
    def put(self, key: str, record: dict[str, Any], ttl: float | None = None) -> None:
        """Store a copy of ``record`` for ``ttl`` seconds (:attr:`default_ttl` if ``None``).

        :raises StoreError: the record is not a dict of JSON values.
        """

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the record of ``key``; a missing key is not an error."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""

    def lock(self, key: str, *, lease: float = 30.0,
             wait: float = 10.0) -> Lease:
        """Hold the exclusive lease of ``key`` for the duration of a ``with`` block.

        ``with store.lock(key) as record:`` gives the record as :meth:`get` would, read
        once the lease is held. Other keys are never blocked. The lock is not reentrant.
        :meth:`Lease.commit` writes the record and gives the lease back before the block ends.

        :param lease: seconds after which a holder that died loses the lease.
        :param wait: seconds to wait for a busy lease.
        :raises LockTimeout: the lease stayed busy for ``wait`` seconds.
        """
        if lease <= 0 or wait < 0:
            raise ValueError(f"lock({key!r}): lease must be > 0 and wait >= 0 "
                             f"(got lease={lease}, wait={wait})")
        return Lease(self, key, lease, wait)

    @abc.abstractmethod
    def _acquire(self, key: str, token: str, lease: float, wait: float) -> str | bytes | None:
        """Take the lease of ``key`` under ``token`` or raise :class:`LockTimeout`.

        Returns the stored JSON text of the record of ``key`` (``None`` if it is missing or
        expired), read with the lease held; a backend across a network fetches it in the
        same round trip as the lease.
        """

    @abc.abstractmethod
    def _release(self, key: str, token: str) -> None:
        """Give back the lease of ``key`` if ``token`` still holds it; otherwise do nothing."""

    @abc.abstractmethod
    def _commit(self, key: str, token: str, record: dict[str, Any], ttl: float | None,
                release: bool = True) -> bool:
        """Store ``record`` as :meth:`put` does and (if ``release``) give back the lease, only
        if ``token`` still holds the lease of ``key``: a compare-and-set on the lease.

        Returns False, having written nothing, when the lease lapsed (someone may have
        taken it over). A backend across a network does it all in one round trip.
        """

    def _ttl(self, ttl: float | None) -> float:
        """The effective time to live of a write: every write expires."""
        ttl = self.default_ttl if ttl is None else ttl
        if not ttl > 0:
            raise StoreError(f"ttl must be a positive number of seconds, not {ttl!r}")
        return float(ttl)

    def _poll(self, key: str, wait: float, attempt: Callable[[], tuple[bool, _T]]) -> _T:
        """Call ``attempt`` until it returns ``(True, value)``; return ``value``.

        Between tries it waits a little longer each time. For backends shared between
        processes, where no event crosses processes to announce a release. A release in
        this process does wake the waiters at once (most waits are two notifications of one
        call in one worker); the jitter keeps several waiters from retrying in lockstep.
        """
        start = time.monotonic()
        delay = self.poll_min
        while True:
            taken, value = attempt()
            if taken:
                return value
            waited = time.monotonic() - start
            if waited >= wait:
                raise LockTimeout(key, waited)
            with self._released:
                self._released.wait(min(delay * random.uniform(0.5, 1.5), wait - waited))
            delay = min(delay * 2, self.poll_max)

    def _announce_release(self) -> None:
        with self._released:
            self._released.notify_all()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _lease_token() -> str:
    """A token no other lease holds, in any process: this process's random prefix and a
    count (cheaper than fresh randomness for each of a call's notifications)."""
    return f"{_process[0]}{next(_process[1]):x}"


def _reseed() -> None:
    _process[:] = [secrets.token_hex(12) + ".", itertools.count()]


_process: list[Any] = []
_reseed()
os.register_at_fork(after_in_child=_reseed)   # a forked worker must not repeat its parent's


class Lease(AbstractContextManager["dict[str, Any] | None"]):
    """What :meth:`Store.lock` returns: one attempt to hold one key's lease.

    A class rather than a generator so that an abandoned lock object never releases
    anything when garbage-collected: only :meth:`commit` and ``__exit__`` do. ``held`` says
    whether the lease is held now.
    """

    def __init__(self, store: Store, key: str, lease: float, wait: float) -> None:
        self._store = store
        self._key = key
        self._lease = lease
        self._wait = wait
        # A token of its own proves ownership: release must never free a lease someone
        # else took over after ours expired.
        self._token = _lease_token()
        self.held = False

    def __enter__(self) -> dict[str, Any] | None:
        if self.held:
            raise StoreError(f"call {self._key!r}: this lease is held already; the lock is "
                             "not reentrant")
        text = self._store._acquire(self._key, self._token, self._lease, self._wait)
        self.held = True
        if text is None:
            return None
        try:
            return decode_record(self._key, text)
        except BaseException:
            self.__exit__(None, None, None)   # a corrupt record must not keep the lease
            raise

    def commit(self, record: dict[str, Any], ttl: float | None = None) -> None:
        """Store ``record`` (as :meth:`Store.put` would) and give back the lease now.

        For a holder with slow work left that must not keep the call locked, such as a
        request over the network; Redis does both in one round trip. The end of the
        ``with`` block then has nothing left to give back.

        :raises LeaseLost: the lease lapsed before the write (its holder took longer than
            the lease): nothing was written, and whoever took the lease over keeps it.
        :raises StoreError: the lease is not held, or the write failed (the lease is then
            still held, and the ``with`` block's end gives it back).
        """
        self._write(record, ttl, release=True)
        self._store._announce_release()

    def write(self, record: dict[str, Any], ttl: float | None = None) -> None:
        """Store ``record`` and keep the lease, as long as it is held.

        :raises LeaseLost: as :meth:`commit`.
        """
        self._write(record, ttl, release=False)

    def _write(self, record: dict[str, Any], ttl: float | None, release: bool) -> None:
        if not self.held:
            raise StoreError(f"call {self._key!r}: commit() or write() needs the lease held, "
                             "inside its with block and before any commit()")
        if not self._store._commit(self._key, self._token, record, ttl, release):
            self.held = False                 # it lapsed: nothing of ours is left to release
            raise LeaseLost(self._key)
        self.held = not release

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.held:
            self.held = False
            self._store._release(self._key, self._token)
            self._store._announce_release()
