"""``sqlite:///path``: call records in one SQLite file, shared by the processes of one host.

WAL lets readers and one writer proceed together; ``synchronous=NORMAL`` survives process
crashes at ~50k small transactions a second. WAL needs shared memory between processes,
so the file must live on a local disk, never a network filesystem.

The lock is a lease *row* (key, token, expiry) taken and given back in short
transactions: a write transaction held across a REST call would block every other call.

Each process has one connection, which its threads use in turn. SQLite runs one write at a
time anyway; and a connection's page cache is good only until another connection writes,
so with one connection per thread every statement first re-read the pages the others had
just written (6 reads per notification with 8 threads, 0 with one connection).
"""
from __future__ import annotations

import math
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from ..errors import ConfigError, StoreError
from .base import Store, decode_record, encode_record
from .clock import WALL, Clock, check_clock

__all__ = ["SQLiteStore"]

_T = TypeVar("_T")

# WITHOUT ROWID: each table is one B-tree keyed by the call, where a rowid table keeps the
# key in an index of its own. A lease taken or given back then writes one page to the WAL,
# not two, and a lookup searches one tree (a notification's SQLite work: 63 -> 50 us). Files
# made before, with rowid tables, keep them and work as they did: the statements are the same.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT, expires REAL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, token TEXT, expires REAL) WITHOUT ROWID;
"""
# Fixed statement texts, so each connection's statement cache prepares them once.
_GET = "SELECT value FROM calls WHERE key = ? AND expires > ?"
_DELETE = "DELETE FROM calls WHERE key = ?"
# One statement takes a free or lapsed lease and leaves someone else's live one alone: a
# single autocommit write where BEGIN, SELECT, INSERT and COMMIT took four trips into
# SQLite. Taking our own lease again succeeds, so a retried attempt cannot lock us out.
_TAKE_LEASE = ("INSERT INTO leases (key, token, expires) VALUES (?, ?, ?) "
               "ON CONFLICT (key) DO UPDATE SET token = excluded.token, "
               "expires = excluded.expires "
               "WHERE leases.expires <= ? OR leases.token = excluded.token")
_GIVE_BACK_LEASE = "DELETE FROM leases WHERE key = ? AND token = ?"
# Every write of a record is an insert into a view with no rows, which a trigger turns into
# an upsert of the record and, given a lease's token, that lease's release (token NULL
# matches no lease). So the write-ahead and the release are one statement: each statement
# gives up the GIL while SQLite runs it, and with busy threads getting it back costs more
# than the write. The upsert rewrites the row in place; INSERT OR REPLACE would delete and
# re-insert it, twice the B-tree work. View and trigger are TEMP, made by each connection
# for itself: the file's schema stays as every version has it.
# A write under a lease happens only while that lease is held (a compare-and-set: a holder
# whose lease lapsed must not overwrite what the worker who took it over wrote); whether it
# did shows in the connection's total_changes, which counts the trigger's rows.
_WRITES_VIEW = """
CREATE TEMP VIEW IF NOT EXISTS lease_writes (key, value, expires, token, now, release) AS
    SELECT NULL, NULL, NULL, NULL, NULL, NULL WHERE 0;
CREATE TEMP TRIGGER IF NOT EXISTS write_record INSTEAD OF INSERT ON lease_writes
WHEN NEW.token IS NULL OR EXISTS (SELECT 1 FROM leases WHERE key = NEW.key
                                  AND token = NEW.token AND expires > NEW.now)
BEGIN
    INSERT INTO calls (key, value, expires) VALUES (NEW.key, NEW.value, NEW.expires)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires;
    DELETE FROM leases WHERE NEW.release AND key = NEW.key AND token = NEW.token;
END;
"""
_WRITE = ("INSERT INTO lease_writes (key, value, expires, token, now, release) "
          "VALUES (?, ?, ?, ?, ?, ?)")
_PURGE_CALLS = "DELETE FROM calls WHERE expires <= ?"
_PURGE_LEASES = "DELETE FROM leases WHERE expires <= ?"


# Parent connections met in a forked child. SQLite forbids touching a connection across
# fork(), even to close it, so they are kept here, open and unused, until the child exits.
_inherited: list[sqlite3.Connection] = []


class SQLiteStore(Store):
    """Call records and leases in the SQLite file at ``path`` (its directory is created).

    Safe for many threads and processes on one host.

    :param clock: when records expire, leases lapse and sweeps run (see
        :mod:`hoiivr.stores.clock`); :attr:`default_clock` if ``None``. The expiry times
        are written into the file, so every process that opens it must read the same
        clock: a process whose clock ran ahead would take over leases still held.
    :raises ConfigError: the file cannot be opened or is not a SQLite database.
    """

    #: Seconds a statement waits for another connection's write to finish.
    busy_timeout: float = 5.0
    #: First and longest sleep, in seconds, between two tries of a statement that found
    #: the file busy.
    busy_min: float = 0.00005
    busy_max: float = 0.002
    #: Seconds between two deletions of expired rows by this process.
    purge_interval: float = 60.0
    #: The clock of a store made without one: the wall clock, which every process of a
    #: host shares (its expiry times in the file are seconds since the epoch).
    default_clock: ClassVar[Clock] = WALL

    def __init__(self, path: str | os.PathLike[str], *, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = self.default_clock if clock is None else check_clock(clock)
        self.path = os.fspath(path)
        if self.path in ("", ":memory:") or self.path.startswith("file:"):
            raise ConfigError(f"SQLiteStore needs a file path, not {self.path!r}; use "
                              "memory:// for a store that lives in memory")
        if sqlite3.sqlite_version_info < (3, 24):
            raise ConfigError(f"the SQLite store needs SQLite 3.24 or later (for upserts); "
                              f"this Python uses {sqlite3.sqlite_version}. Use a newer "
                              "Python build, or the redis:// store")
        self._connection: sqlite3.Connection | None = None
        self._turn = threading.Lock()     # held by the thread using the connection
        self._pid = os.getpid()
        self._closed = False
        self._last_purge = -math.inf  # the first write sweeps what earlier runs left
        self._create()

    def _create(self) -> None:
        """Create the directory, the tables and WAL mode, with a connection closed at once.

        No connection is kept, so a process that forks right after (a pre-loading
        server) hands none to its workers.
        """
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            mode = self._create_once()
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise ConfigError(f"the SQLite store {self.path!r} stayed locked by another "
                                  f"process for {self.busy_timeout:g} s ({exc}); is a "
                                  "program holding a write transaction on it?") from exc
            raise self._unusable(exc) from exc
        except (OSError, sqlite3.Error) as exc:
            raise self._unusable(exc) from exc
        if mode.lower() != "wal":
            raise ConfigError(f"SQLite store {self.path!r} cannot use WAL mode (got "
                              f"{mode!r}); put it on a local disk")

    def _unusable(self, exc: Exception) -> ConfigError:
        return ConfigError(f"cannot open the SQLite store {self.path!r}: {exc}; give a "
                           "writable file path as sqlite:///relative/path or "
                           "sqlite:////absolute/path")

    def _create_once(self) -> str:
        """WAL mode and the tables; the journal mode it got.

        Several workers may create the file at once. SQLite's own busy wait covers most
        of that, but not all: a connection that meets another's switch to WAL, or its
        recovery of the log, is told "locked" at once. So a busy file is tried again, as
        :meth:`_run` does, for up to :attr:`busy_timeout` seconds.
        """
        deadline, delay = time.monotonic() + self.busy_timeout, self.busy_min
        while True:
            try:
                conn = self._connect(timeout=self.busy_timeout)
                try:
                    mode: str = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                    conn.executescript(_SCHEMA)
                    return mode
                finally:
                    conn.close()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, self.busy_max)

    def _connect(self, timeout: float = 0) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; the lease code opens its own.
        # check_same_thread=False: the process's threads share the connection, one at a
        # time (_run holds _turn while one uses it).
        # timeout=0: a busy file raises at once and _run retries. SQLite's own busy handler
        # sleeps 1, 2, 5, 10... ms between tries, so a writer preempted for a moment while
        # holding the lock cost the others up to tens of ms.
        conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA temp_store=MEMORY")    # the TEMP view: no temporary file
            conn.executescript(_WRITES_VIEW)
        except BaseException:
            conn.close()
            raise
        return conn

    def _conn(self) -> sqlite3.Connection:
        """This process's connection, opened on first use; call it holding ``_turn``."""
        if self._closed:
            raise StoreError(f"the SQLite store {self.path!r} is closed")
        if self._connection is None:
            try:
                self._connection = self._connect()
            except sqlite3.OperationalError as exc:
                if _is_busy(exc):
                    raise        # a moment's contention on first use: _run tries again
                raise StoreError(f"cannot open the SQLite store {self.path!r}: {exc}") from exc
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the SQLite store {self.path!r}: {exc}") from exc
        return self._connection

    def _run(self, action: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``action`` on this process's connection, translating SQLite's errors.

        While another process's connection holds the write lock, ``action`` is tried again
        after a sleep that starts at 50 us and doubles, for up to :attr:`busy_timeout`
        seconds. Every action is one autocommit statement (or several that may run twice),
        which SQLite refuses before it changes anything when the file is busy.
        """
        self._adopt()
        deadline, delay = 0.0, self.busy_min
        while True:
            try:
                # One thread at a time: they share the connection. (Threads with their own
                # connections racing for the file lock each met "busy", slept and tried
                # again: with 8 threads in a loop, more busy errors than turns, 2x CPU.)
                with self._turn:
                    return action(self._conn())
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise StoreError(f"SQLite store {self.path!r} failed: {exc}") from exc
                now = time.monotonic()
                deadline = deadline or now + self.busy_timeout
                if now >= deadline:
                    raise StoreError(f"SQLite store {self.path!r} stayed locked by another "
                                     f"connection for {self.busy_timeout:g} s") from exc
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite store {self.path!r} failed: {exc}") from exc
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, self.busy_max)

    def get(self, key: str) -> dict[str, Any] | None:
        text = self._run(lambda c: _read(c, key, self.clock.now()))
        return None if text is None else decode_record(key, text)

    def put(self, key: str, record: dict[str, Any], ttl: float | None = None) -> None:
        self._write(key, record, ttl, None, False)

    def _commit(self, key: str, token: str, record: dict[str, Any], ttl: float | None,
                release: bool = True) -> bool:
        return self._write(key, record, ttl, token, release)

    def _write(self, key: str, record: dict[str, Any], ttl: float | None,
               token: str | None, release: bool) -> bool:
        """Write the record (under ``token``'s lease, if given); True if it was written."""
        text, seconds = encode_record(key, record), self._ttl(ttl)
        now = self.clock.now()
        written = self._run(lambda c: _changed(c, _WRITE, (key, text, now + seconds, token,
                                                           now, release)))
        if now - self._last_purge >= self.purge_interval:
            self._purge(now)
        return written

    def delete(self, key: str) -> None:
        self._run(lambda c: c.execute(_DELETE, (key,)))

    def close(self) -> None:
        self._adopt()
        with self._turn:                        # after the statement under way, if any
            self._closed = True
            conn, self._connection = self._connection, None
        if conn is not None:
            conn.close()

    def _adopt(self) -> None:
        """In a forked child, leave the parent's connection and lock alone.

        The lock may have been held by a parent thread, which the child does not have; the
        parent's connection is not the child's to use or close.
        """
        if self._pid != os.getpid():
            if self._connection is not None:
                _inherited.append(self._connection)
            self._pid, self._connection, self._turn = os.getpid(), None, threading.Lock()

    def _purge(self, now: float) -> None:
        # Occasional and per process: a full scan of two small tables, off the hot path.
        self._last_purge = now
        self._run(lambda c: _purge_expired(c, now))

    def _acquire(self, key: str, token: str, lease: float, wait: float) -> str | None:
        # The clock is read on each try: _run may run a try twice, _poll many times.
        return self._poll(key, wait, lambda: self._run(
            lambda c: _take_lease(c, key, token, lease, self.clock.now())))

    def _release(self, key: str, token: str) -> None:
        # One compare-and-delete statement: a lease someone else took over stays theirs.
        self._run(lambda c: c.execute(_GIVE_BACK_LEASE, (key, token)))


def _take_lease(conn: sqlite3.Connection, key: str, token: str, lease: float,
                now: float) -> tuple[bool, str | None]:
    """Take the lease of ``key`` if it is free or lapsed at ``now``: (taken, the record's
    text)."""
    # _run may run this twice: if the read below finds the file busy after the lease was
    # taken, the second run takes our own lease again.
    taken = conn.execute(_TAKE_LEASE, (key, token, now + lease, now)).rowcount == 1
    # The record is read by a second statement, not by RETURNING: a RETURNING statement
    # holds the write lock until Python steps it to its end, and between the two steps
    # the thread waits for the GIL, for milliseconds when 8 threads are busy, while every
    # other writer finds the file locked.
    return taken, _read(conn, key, now) if taken else None


def _changed(conn: sqlite3.Connection, statement: str, args: tuple[Any, ...]) -> bool:
    """Run ``statement``; True if it (or a trigger it fired) changed a row."""
    before = conn.total_changes
    conn.execute(statement, args)
    return conn.total_changes > before


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    # Python 3.11 has exc.sqlite_errorcode; 3.10 only the message.
    return "locked" in str(exc) or "busy" in str(exc)


def _read(conn: sqlite3.Connection, key: str, now: float) -> str | None:
    row = conn.execute(_GET, (key, now)).fetchone()
    return None if row is None else row[0]


def _purge_expired(conn: sqlite3.Connection, now: float) -> None:
    conn.execute(_PURGE_CALLS, (now,))
    conn.execute(_PURGE_LEASES, (now,))
