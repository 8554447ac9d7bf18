"""What each backend promises beyond the contract: storage layout, limits, cleanup."""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from hoiivr.errors import ConfigError, LeaseLost, LockTimeout, StoreError
from hoiivr.simulator.clock import VirtualClock
from hoiivr.stores import MemoryStore, RedisStore, SQLiteStore
from hoiivr.stores import sqlite as sqlite_module
from redis_relay import Relay

KEY = "S3839"


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the store's file with a connection of its own, as another program would."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


# -- memory ----------------------------------------------------------------------------

def test_memory_store_forgets_lease_slots_nobody_holds_or_waits_for() -> None:
    clock = VirtualClock()
    with MemoryStore(clock=clock) as store:
        for n in range(100):
            with store.lock(f"call-{n}"):
                pass
        with store.lock(KEY), pytest.raises(LockTimeout):
            store.lock(KEY, wait=0.01).__enter__()
        abandoned = store.lock("dead", lease=30)
        abandoned.__enter__()
        clock.advance(30)
        store.purge_interval = 0  # sweep on the next write
        store.put("any", {})
        assert store._slots == {}


def test_memory_store_sweeps_expired_records_once_a_purge_interval_has_passed() -> None:
    clock = VirtualClock()
    with MemoryStore(clock=clock) as store:
        store.put("old", {}, ttl=30)
        clock.advance(30)
        store.put("new", {})
        assert sorted(store._records) == ["new", "old"]    # not on every write
        clock.advance(store.purge_interval - 30)
        store.put("newer", {})
        assert sorted(store._records) == ["new", "newer"]


@pytest.mark.parametrize("clock", [time.monotonic, 12.5, object],
                         ids=["a-function", "a-number", "a-class-without-now"])
def test_stores_refuse_a_clock_without_now(clock: object, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"now\(\) method .*VirtualClock"):
        MemoryStore(clock=clock)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"now\(\) method .*VirtualClock"):
        SQLiteStore(tmp_path / "calls.sqlite3", clock=clock)  # type: ignore[arg-type]


# -- SQLite ----------------------------------------------------------------------------

@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "calls.sqlite3"


@pytest.fixture
def sqlite_store(sqlite_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(sqlite_path) as store:
        yield store


def test_sqlite_store_uses_wal_and_the_documented_tables(
        sqlite_store: SQLiteStore, sqlite_path: Path) -> None:
    assert query(sqlite_path, "PRAGMA journal_mode") == [("wal",)]
    assert [(name, kind) for _, name, kind, *_ in query(sqlite_path, "PRAGMA table_info(calls)")] \
        == [("key", "TEXT"), ("value", "TEXT"), ("expires", "REAL")]
    assert [name for _, name, *_ in query(sqlite_path, "PRAGMA table_info(leases)")] \
        == ["key", "token", "expires"]


def test_sqlite_tables_are_keyed_by_the_call_without_a_rowid_index(
        sqlite_store: SQLiteStore, sqlite_path: Path) -> None:
    # One B-tree per table: a rowid table would keep its key in a second one, and every
    # lease taken or given back would write two pages instead of one.
    tables = query(sqlite_path, "SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    assert [name for name, _ in tables] == ["calls", "leases"]
    assert all(str(sql).endswith("WITHOUT ROWID") for _, sql in tables)
    assert query(sqlite_path, "SELECT name FROM sqlite_master WHERE type = 'index'") == []


def test_sqlite_store_works_on_a_file_made_with_rowid_tables(sqlite_path: Path) -> None:
    # The tables as hoiivr made them before they went WITHOUT ROWID.
    with closing(sqlite3.connect(sqlite_path)) as conn, conn:
        conn.executescript(
            "CREATE TABLE calls (key TEXT PRIMARY KEY, value TEXT, expires REAL);"
            "CREATE TABLE leases (key TEXT PRIMARY KEY, token TEXT, expires REAL);")
        conn.execute("INSERT INTO calls VALUES (?, ?, ?)", (KEY, '{"seq": 1}', time.time() + 60))
    with SQLiteStore(sqlite_path) as store:
        lease = store.lock(KEY, lease=30)
        with lease as record:
            assert record == {"seq": 1}
            lease.commit({"seq": 2})
        with store.lock(KEY, lease=30) as record:
            assert record == {"seq": 2}
    assert query(sqlite_path, "SELECT * FROM leases") == []
    assert "WITHOUT ROWID" not in str(query(sqlite_path, "SELECT sql FROM sqlite_master"))


def test_sqlite_commit_is_one_statement_that_leaves_the_files_schema_alone(
        sqlite_store: SQLiteStore, sqlite_path: Path) -> None:
    statements: list[str] = []
    sqlite_store._last_purge = time.time()     # no sweep of expired rows in between
    lease = sqlite_store.lock(KEY, lease=30)
    with lease:
        sqlite_store._conn().set_trace_callback(statements.append)
        lease.commit({"seq": 1}, ttl=60)
        sqlite_store._conn().set_trace_callback(None)
    # SQLite reports the trigger's own steps under the text of the statement that ran it.
    assert statements and all(s.startswith("INSERT INTO lease_writes ") for s in statements)
    assert query(sqlite_path, "SELECT * FROM leases") == []
    [(value, expires)] = query(sqlite_path, "SELECT value, expires FROM calls")
    assert json.loads(str(value)) == {"seq": 1} and float(expires) > time.time() + 50
    # The view and trigger behind it live in each connection's TEMP schema, not the file.
    assert query(sqlite_path, "SELECT type, name FROM sqlite_master WHERE type != 'index'") \
        == [("table", "calls"), ("table", "leases")]


def test_sqlite_store_keeps_json_text_with_an_expiry(
        sqlite_store: SQLiteStore, sqlite_path: Path) -> None:
    sqlite_store.put(KEY, {"seq": 1}, ttl=60)
    [(value, expires)] = query(sqlite_path, "SELECT value, expires FROM calls")
    assert json.loads(str(value)) == {"seq": 1}
    assert 50 < float(expires) - time.time() <= 60  # type: ignore[arg-type]


def test_sqlite_lease_is_a_row_not_an_open_transaction(
        sqlite_store: SQLiteStore, sqlite_path: Path) -> None:
    with sqlite_store.lock(KEY, lease=30), SQLiteStore(sqlite_path) as other_process:
        [(_, expires)] = query(sqlite_path, "SELECT token, expires FROM leases")
        assert 25 < float(expires) - time.time() <= 30  # type: ignore[arg-type]
        start = time.monotonic()
        other_process.put("other-call", {"seq": 1})
        assert time.monotonic() - start < 2  # not stuck behind a write transaction (5 s)
        with pytest.raises(LockTimeout):
            other_process.lock(KEY, wait=0.05).__enter__()
    assert query(sqlite_path, "SELECT * FROM leases") == []


def test_sqlite_store_refuses_a_library_without_upserts(
        sqlite_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 22, 0))
    with pytest.raises(ConfigError, match="3.24"):
        SQLiteStore(sqlite_path)


def hold_write_lock(path: Path, seconds: float) -> threading.Thread:
    """Another program holds SQLite's write lock on ``path`` for ``seconds``."""
    locked = threading.Event()

    def hold() -> None:
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.execute("BEGIN IMMEDIATE")
            locked.set()
            time.sleep(seconds)
            conn.execute("COMMIT")
    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(5)
    return thread


def test_sqlite_writes_wait_for_another_writers_transaction(
        sqlite_store: SQLiteStore) -> None:
    sqlite_store.put("warm", {})                       # this thread's connection is open
    holder = hold_write_lock(Path(sqlite_store.path), 0.3)
    start = time.monotonic()
    with sqlite_store.lock(KEY) as record:
        took = time.monotonic() - start
        sqlite_store.put(KEY, {"seq": 1})
    holder.join()
    assert record is None
    assert took >= 0.25                                 # it did wait for the holder
    assert sqlite_store.get(KEY) == {"seq": 1}


def test_sqlite_store_gives_up_on_a_file_locked_past_busy_timeout(
        sqlite_store: SQLiteStore) -> None:
    sqlite_store.busy_timeout = 0.2
    holder = hold_write_lock(Path(sqlite_store.path), 1.0)
    try:
        start = time.monotonic()
        with pytest.raises(StoreError, match="stayed locked .* 0.2 s"):
            sqlite_store.put(KEY, {"seq": 1})
        assert 0.2 <= time.monotonic() - start < 0.9
    finally:
        holder.join()
    sqlite_store.put(KEY, {"seq": 1})                   # and works again once it is free


def test_a_sqlite_file_another_program_keeps_locked_is_named_as_locked_not_unwritable(
        sqlite_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SQLiteStore, "busy_timeout", 0.2)
    holder = hold_write_lock(sqlite_path, 1.0)          # a new file, not yet in WAL mode
    try:
        with pytest.raises(ConfigError, match="stayed locked by another process") as info:
            SQLiteStore(sqlite_path)
        assert "writable" not in str(info.value)
    finally:
        holder.join()
    SQLiteStore(sqlite_path).close()                    # and opens once it is free


def test_sqlite_a_busy_file_when_a_thread_first_connects_is_tried_again(
        sqlite_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(sqlite_path)
    real_connect, failures = store._connect, [sqlite3.OperationalError("database is locked")]

    def connect(timeout: float = 0) -> sqlite3.Connection:
        if failures:
            raise failures.pop()
        return real_connect(timeout)
    monkeypatch.setattr(store, "_connect", connect)
    with store:
        store.put(KEY, {"seq": 1})                      # no StoreError: the open is retried
        assert store.get(KEY) == {"seq": 1}
    assert failures == []


def test_sqlite_a_busy_read_after_taking_the_lease_does_not_lock_the_taker_out(
        sqlite_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_store.put(KEY, {"seq": 1})
    real_read, failures = sqlite_module._read, [sqlite3.OperationalError("database is locked")]

    def read(conn: sqlite3.Connection, key: str, now: float) -> str | None:
        if failures:
            raise failures.pop()                        # the lease is ours by now
        return real_read(conn, key, now)
    monkeypatch.setattr(sqlite_module, "_read", read)
    with sqlite_store.lock(KEY, wait=0.5) as record:   # retried, and taken again at once
        assert record == {"seq": 1}
    assert failures == []
    with sqlite_store.lock(KEY, wait=0) as record:     # and given back
        assert record == {"seq": 1}


def test_sqlite_threads_of_one_process_take_turns_instead_of_meeting_busy(
        sqlite_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    busy: list[str] = []
    real_is_busy = sqlite_module._is_busy

    def is_busy(exc: sqlite3.OperationalError) -> bool:
        busy.append(str(exc))
        return real_is_busy(exc)
    monkeypatch.setattr(sqlite_module, "_is_busy", is_busy)

    def turns(n: int) -> None:
        for i in range(200):
            with sqlite_store.lock(f"call-{n}-{i % 5}") as record:
                sqlite_store.put(f"call-{n}-{i % 5}", {"seq": (record or {}).get("seq", 0) + 1})
    threads = [threading.Thread(target=turns, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert busy == []                   # without the turns: hundreds, each a sleep and a retry
    assert sqlite_store.get("call-7-4") == {"seq": 40}


def test_sqlite_store_carries_on_in_a_forked_child(sqlite_store: SQLiteStore) -> None:
    # A pre-loading server forks after the app (and its store) exist. The child must not
    # touch the parent's connection, nor wait for a lock a parent thread held at the fork.
    sqlite_store.put(KEY, {"seq": 1})                   # the parent has a connection
    with sqlite_store._turn:                            # and is mid-statement at the fork
        pid = os.fork()
        if pid == 0:                                    # the child: never back into pytest
            code = 1
            try:
                with sqlite_store.lock(KEY, wait=1) as record:
                    sqlite_store.put(KEY, {"seq": record["seq"] + 1})
                sqlite_store.close()                    # its own connection, not the parent's
                code = 0
            finally:
                os._exit(code)
    deadline = time.monotonic() + 10
    while not (done := os.waitpid(pid, os.WNOHANG))[0]:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on a lock held at the fork")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert sqlite_store.get(KEY) == {"seq": 2}          # and the parent carries on too


def test_sqlite_store_purges_expired_rows_once_a_purge_interval_has_passed(
        sqlite_path: Path) -> None:
    clock = VirtualClock()
    with SQLiteStore(sqlite_path, clock=clock) as store:
        store.put("old", {}, ttl=30)                    # the first write sweeps, at 0
        store.lock("dead", lease=30).__enter__()
        clock.advance(30)
        store.put("new", {})
        assert len(query(sqlite_path, "SELECT key FROM calls")) == 2  # not on every write
        clock.advance(store.purge_interval - 30)
        store.put("newer", {})
    assert query(sqlite_path, "SELECT key FROM calls ORDER BY key") == [("new",), ("newer",)]
    assert query(sqlite_path, "SELECT key FROM leases") == []


def test_sqlite_store_writes_the_expiry_times_of_its_clock(sqlite_path: Path) -> None:
    clock = VirtualClock()
    clock.advance(1000)
    with SQLiteStore(sqlite_path, clock=clock) as store, store.lock(KEY, lease=30):
        store.put(KEY, {"seq": 1}, ttl=60)
        assert query(sqlite_path, "SELECT expires FROM calls") == [(1060.0,)]
        assert query(sqlite_path, "SELECT expires FROM leases") == [(1030.0,)]


def test_sqlite_store_threads_share_the_process_connection(sqlite_store: SQLiteStore) -> None:
    # A connection's page cache lasts until another connection writes: with one connection
    # per thread, each statement first re-read what the other threads had just written.
    seen: list[sqlite3.Connection] = []

    def use() -> None:
        with sqlite_store._turn:
            seen.append(sqlite_store._conn())
    for _ in range(2):
        thread = threading.Thread(target=use)
        thread.start()
        thread.join()
    assert seen[0] is seen[1] is sqlite_store._conn()


def test_closed_sqlite_store_raises_store_error(sqlite_path: Path) -> None:
    store = SQLiteStore(sqlite_path)
    store.put(KEY, {})
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get(KEY)


@pytest.mark.parametrize("name", ["", ":memory:", "file:calls.sqlite3?mode=memory"])
def test_sqlite_store_refuses_paths_that_are_not_files(name: str) -> None:
    with pytest.raises(ConfigError, match="memory://"):
        SQLiteStore(name)


def test_sqlite_store_reports_a_path_it_cannot_open(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    (tmp_path / "not-a-db.sqlite3").write_text("this is not a database, " * 100)
    with pytest.raises(ConfigError, match="cannot open the SQLite store"):
        SQLiteStore(tmp_path / "a-file" / "calls.sqlite3")
    with pytest.raises(ConfigError, match="cannot open the SQLite store"):
        SQLiteStore(tmp_path)
    with pytest.raises(ConfigError, match="not a database"):
        SQLiteStore(tmp_path / "not-a-db.sqlite3")


# -- Redis -----------------------------------------------------------------------------

@pytest.fixture
def redis_store(redis_prefix: str) -> Iterator[RedisStore]:
    with RedisStore("redis://127.0.0.1:6379/0", prefix=redis_prefix) as store:
        yield store


def test_redis_store_writes_prefixed_json_with_a_ttl(
        redis_store: RedisStore, redis_client: redis.Redis, redis_prefix: str) -> None:
    redis_store.put(KEY, {"seq": 1}, ttl=60)
    name = f"{redis_prefix}call:{KEY}"
    assert redis_store.key_for("call", KEY) == name
    assert json.loads(redis_client.get(name)) == {"seq": 1}  # type: ignore[arg-type]
    assert 55_000 < redis_client.pttl(name) <= 60_000
    redis_store.put(KEY, {"seq": 2})
    assert redis_client.pttl(name) > 86_000_000  # default_ttl, never persistent


def test_redis_lease_is_a_prefixed_key_with_an_expiry(
        redis_store: RedisStore, redis_client: redis.Redis, redis_prefix: str) -> None:
    name = f"{redis_prefix}lease:{KEY}"
    with redis_store.lock(KEY, lease=30):
        assert 25_000 < redis_client.pttl(name) <= 30_000
    assert redis_client.exists(name) == 0
    assert sorted(redis_client.scan_iter(match=f"{redis_prefix}*")) == []


def test_redis_taking_our_own_lease_again_succeeds(redis_store: RedisStore) -> None:
    """What a client that retries a pipeline whose reply was lost does: no self-lockout."""
    redis_store.put(KEY, {"seq": 1})
    assert redis_store._take_lease(KEY, "our-token", 30_000) == (True, b'{"seq":1}')
    assert redis_store._take_lease(KEY, "our-token", 30_000) == (True, b'{"seq":1}')
    assert redis_store._take_lease(KEY, "their-token", 30_000)[0] is False


def test_redis_a_commit_run_twice_by_a_retrying_client_counts_as_written(
        redis_prefix: str) -> None:
    """The commit reached Redis and ran, its reply was lost, and the client's retry policy
    sent it again: the second run finds the lease given back by the first. It must say
    "written" (it was), not "lapsed", or the block written ahead is never sent."""
    relay = Relay()
    client = redis.Redis(port=relay.port, retry=Retry(NoBackoff(), 3),
                         retry_on_error=[redis.ConnectionError])
    try:
        with RedisStore(client, prefix=redis_prefix) as store:
            store.put(KEY, {"seq": 1})
            lease = store.lock(KEY)
            with lease:
                relay.lose_reply_to(b"EVAL")
                lease.commit({"seq": 2})            # no LeaseLost
            assert relay.lost == 1 and store.get(KEY) == {"seq": 2}
            with store.lock(KEY, wait=0.5) as record:   # and the lease was given back
                assert record == {"seq": 2}
            # A lease that lapsed is still refused, its commit retried or not.
            lapsed = store.lock(KEY, lease=0.05)
            with lapsed:
                time.sleep(0.1)
                taker = store.lock(KEY)
                with taker:
                    taker.commit({"seq": 3})
                relay.lose_reply_to(b"EVAL")
                with pytest.raises(LeaseLost):
                    lapsed.commit({"seq": 99})
            assert relay.lost == 2 and store.get(KEY) == {"seq": 3}
    finally:
        client.close()
        relay.close()


def test_redis_error_reply_part_way_through_an_exchange_leaves_the_store_usable(
        redis_store: RedisStore, redis_client: redis.Redis, redis_prefix: str) -> None:
    """The lease's SET succeeds, the record's GET fails: no reply is left for the next use."""
    redis_client.rpush(f"{redis_prefix}call:{KEY}", "not a record")
    with pytest.raises(StoreError, match="WRONGTYPE"):
        with redis_store.lock(KEY):
            pass
    redis_client.delete(f"{redis_prefix}call:{KEY}", f"{redis_prefix}lease:{KEY}")
    redis_store.put("other", {"seq": 7})
    with redis_store.lock("other") as record:
        assert record == {"seq": 7}
    assert redis_store.get(KEY) is None


def test_redis_store_reconnects_after_the_server_dropped_its_connection(
        redis_store: RedisStore, redis_client: redis.Redis) -> None:
    redis_store.put(KEY, {"seq": 1})
    redis_client.client_kill_filter(_id=redis_store._client.client_id())
    with redis_store.lock(KEY) as record:
        assert record == {"seq": 1}


def test_redis_store_leaves_a_client_it_was_given_open(
        redis_client: redis.Redis, redis_prefix: str) -> None:
    with RedisStore(redis_client, prefix=redis_prefix) as store:
        store.put(KEY, {"seq": 1})
    assert redis_client.ping()


def test_redis_store_reports_an_unreachable_server_as_store_error() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with RedisStore(f"redis://127.0.0.1:{port}/0") as store, \
            pytest.raises(StoreError, match="redis-server"):
        store.get(KEY)
