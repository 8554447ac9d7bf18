"""The contract every store backend keeps: run against memory, SQLite and Redis."""
from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hoiivr.errors import LeaseLost, LockTimeout, StoreError
from hoiivr.stores import MemoryStore, RedisStore, SQLiteStore, Store

KEY = "S3839"

Advance = Callable[[float], None]


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    """Other threads; their exceptions come back through ``Future.result()``."""
    with ThreadPoolExecutor(max_workers=8) as executor:
        yield executor


def corrupt(store: Store, key: str, text: str = "{not json") -> None:
    """Store ``text``, which is not a record, under ``key``, as a buggy other program
    might."""
    if isinstance(store, MemoryStore):
        store.put(key, {})
        store._records[key].text = text
    elif isinstance(store, SQLiteStore):
        with closing(sqlite3.connect(store.path)) as conn, conn:
            conn.execute("INSERT INTO calls VALUES (?, ?, ?)", (key, text, time.time() + 60))
    else:
        assert isinstance(store, RedisStore)
        store._client.set(store.key_for("call", key), text.encode())


def try_lock(store: Store, key: str, wait: float) -> bool:
    """Whether ``key`` could be locked within ``wait`` seconds (released at once)."""
    try:
        with store.lock(key, wait=wait):
            return True
    except LockTimeout:
        return False


def increment(store: Store, key: str, times: int) -> None:
    """The framework's read-modify-write, ``times`` over."""
    for _ in range(times):
        with store.lock(key, wait=30) as record:
            record = record or {"n": 0}
            record["n"] += 1
            store.put(key, record)


# -- records ---------------------------------------------------------------------------

def test_put_then_get_returns_the_record(store: Store) -> None:
    record = {"seq": 3, "queue": [{"block": "play", "msg": "Héllo ☎"}],
              "state": {"none": None, "yes": True, "rate": 1.5, "empty": {}}}
    store.put(KEY, record)
    assert store.get(KEY) == record


def test_get_of_a_missing_key_returns_none(store: Store) -> None:
    assert store.get("no-such-call") is None


def test_put_replaces_the_record(store: Store) -> None:
    store.put(KEY, {"seq": 1, "old": True})
    store.put(KEY, {"seq": 2})
    assert store.get(KEY) == {"seq": 2}


def test_delete_removes_the_record_and_ignores_missing_keys(store: Store) -> None:
    store.put(KEY, {"seq": 1})
    store.put("other", {"seq": 1})
    store.delete(KEY)
    store.delete(KEY)
    store.delete("never-stored")
    assert store.get(KEY) is None
    assert store.get("other") == {"seq": 1}


@pytest.mark.parametrize("record", [
    {"digits": {1, 2}}, {"obj": object()}, {"raw": b"bytes"}, {"rate": float("nan")},
    ["not", "a", "dict"],
], ids=["set", "object", "bytes", "nan", "list"])
def test_put_refuses_what_is_not_a_json_object(store: Store, record: Any) -> None:
    with pytest.raises(StoreError, match=KEY):
        store.put(KEY, record)
    assert store.get(KEY) is None


def test_records_are_copies(store: Store) -> None:
    record = {"state": {"n": 1}}
    store.put(KEY, record)
    record["state"]["n"] = 2
    got = store.get(KEY)
    assert got == {"state": {"n": 1}}
    got["state"]["n"] = 3
    assert store.get(KEY) == {"state": {"n": 1}}


def test_every_write_expires_after_its_ttl(store: Store, advance: Advance) -> None:
    store.put("short", {"a": 1}, ttl=60)
    store.put("refreshed", {"a": 1}, ttl=60)
    store.put("refreshed", {"a": 2}, ttl=3600)
    store.default_ttl = 60  # a write without ttl expires too
    store.put("default", {"a": 1})
    advance(59)
    assert store.get("short") == {"a": 1}
    assert store.get("default") == {"a": 1}
    advance(1.5)
    assert store.get("short") is None
    assert store.get("default") is None
    assert store.get("refreshed") == {"a": 2}


@pytest.mark.parametrize("ttl", [0, -1.0])
def test_put_refuses_a_ttl_that_is_not_positive(store: Store, ttl: float) -> None:
    with pytest.raises(StoreError, match="ttl"):
        store.put(KEY, {"a": 1}, ttl=ttl)


# -- locks -----------------------------------------------------------------------------

def test_lock_excludes_other_threads_from_the_same_key_only(
        store: Store, pool: ThreadPoolExecutor) -> None:
    with store.lock(KEY):
        assert not pool.submit(try_lock, store, KEY, 0.05).result()
        assert pool.submit(try_lock, store, "other-call", 0).result()
        # Records stay writable from elsewhere: the lease is not a held transaction.
        pool.submit(store.put, "other-call", {"seq": 1}).result(timeout=3)
        assert pool.submit(store.get, "other-call").result(timeout=3) == {"seq": 1}
    assert pool.submit(try_lock, store, KEY, 0).result()


def test_a_waiting_thread_gets_the_lock_once_it_is_released(
        store: Store, pool: ThreadPoolExecutor) -> None:
    entered = threading.Event()

    def wait_for_lock() -> None:
        with store.lock(KEY, wait=5):
            entered.set()

    with store.lock(KEY):
        waiter = pool.submit(wait_for_lock)
        assert not entered.wait(0.1)
    waiter.result(timeout=2)
    assert entered.is_set()


def test_lock_raises_lock_timeout_after_wait(store: Store, pool: ThreadPoolExecutor) -> None:
    with store.lock(KEY), pytest.raises(LockTimeout) as info:
        pool.submit(lambda: store.lock(KEY, wait=0.2).__enter__()).result()
    assert info.value.key == KEY
    assert 0.2 <= info.value.waited < 4.0   # never early; a loaded machine may be late


def test_lock_is_released_when_the_block_raises(store: Store) -> None:
    with pytest.raises(RuntimeError), store.lock(KEY):
        raise RuntimeError("the handler failed")
    assert try_lock(store, KEY, 0)


def test_a_dead_holders_lease_lapses_and_is_taken_over(
        store: Store, advance: Advance) -> None:
    dead = store.lock(KEY, lease=30)
    dead.__enter__()  # its holder dies: __exit__ never runs
    advance(29)
    assert not try_lock(store, KEY, 0)
    advance(1.5)
    assert try_lock(store, KEY, 0)


def test_releasing_a_lapsed_lease_leaves_the_new_holders_lease(
        store: Store, advance: Advance, pool: ThreadPoolExecutor) -> None:
    late = store.lock(KEY, lease=30)
    late.__enter__()
    advance(31)
    with store.lock(KEY, wait=0):  # taken over: the first lease lapsed
        late.__exit__(None, None, None)  # the first holder comes back and releases
        assert not pool.submit(try_lock, store, KEY, 0).result()
    assert pool.submit(try_lock, store, KEY, 0).result()


def test_lock_gives_the_record_as_get_would(store: Store, advance: Advance) -> None:
    with store.lock(KEY) as record:
        assert record is None
        store.put(KEY, {"seq": 1, "state": {"pin": "1234"}})
    with store.lock(KEY) as record:
        assert record == {"seq": 1, "state": {"pin": "1234"}}
        record["seq"] = 2                      # a copy: nothing changes until put
    assert store.get(KEY) == {"seq": 1, "state": {"pin": "1234"}}
    store.put(KEY, {"seq": 3}, ttl=60)
    advance(61)
    with store.lock(KEY) as record:
        assert record is None                  # expired


@pytest.mark.parametrize("text", ["{not json", "[" * 100_000 + "]" * 100_000],
                         ids=["not-json", "nested-past-the-recursion-limit"])
def test_a_record_that_is_not_json_is_a_store_error_and_frees_the_lease(store: Store,
                                                                        text: str) -> None:
    corrupt(store, KEY, text)
    with pytest.raises(StoreError, match="not valid JSON"):
        store.get(KEY)
    with pytest.raises(StoreError, match="not valid JSON"):
        store.lock(KEY).__enter__()
    store.delete(KEY)
    assert try_lock(store, KEY, 0)             # the failed lock did not keep the lease


def test_lock_refuses_a_lease_that_is_not_positive(store: Store) -> None:
    with pytest.raises(ValueError, match="lease"):
        store.lock(KEY, lease=0)


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    """Switch threads every few microseconds, so that a missing lock loses updates even
    in the memory store, whose steps are too short to be interrupted otherwise."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("eager_thread_switches")
def test_locked_increments_from_8_threads_lose_no_update(store: Store) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(increment, store, KEY, 500) for _ in range(8)]:
            future.result()
    assert store.get(KEY) == {"n": 4000}


def test_a_release_in_this_process_wakes_a_waiter_at_once(store: Store) -> None:
    # Polling alone would make this waiter sleep its whole (huge) poll interval.
    store.poll_min = store.poll_max = 30.0
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with store.lock("call"):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(5)
    started = time.monotonic()
    threading.Timer(0.05, release.set).start()
    with store.lock("call", wait=10):
        waited = time.monotonic() - started
    thread.join(5)
    assert waited < 5, f"the waiter slept {waited:.1f}s after the lease was given back"


# -- commit: write and give back the lease in one step ---------------------------------

def test_commit_stores_the_record_and_gives_back_the_lease_at_once(
        store: Store, pool: ThreadPoolExecutor) -> None:
    lease = store.lock(KEY)
    with lease as record:
        assert record is None
        lease.commit({"seq": 1}, ttl=60)
        assert not lease.held
        # Another worker can take the call and sees the record, inside our with block.
        assert pool.submit(try_lock, store, KEY, 0).result()
        assert pool.submit(store.get, KEY).result() == {"seq": 1}
    assert store.get(KEY) == {"seq": 1}


def test_after_commit_the_with_blocks_end_leaves_the_next_holders_lease(
        store: Store, pool: ThreadPoolExecutor) -> None:
    lease = store.lock(KEY)
    with lease:
        lease.commit({"seq": 1})
        pool.submit(lambda: store.lock(KEY).__enter__()).result()   # the next holder
    assert not pool.submit(try_lock, store, KEY, 0).result()


def test_commit_wakes_a_waiter_at_once(store: Store, pool: ThreadPoolExecutor) -> None:
    store.poll_min = store.poll_max = 30.0
    lease = store.lock(KEY)
    with lease:
        waiter = pool.submit(try_lock, store, KEY, 10)
        time.sleep(0.05)
        started = time.monotonic()
        lease.commit({"seq": 1})
        assert waiter.result(timeout=5)
        assert time.monotonic() - started < 5


def test_commit_needs_the_lease_held(store: Store) -> None:
    lease = store.lock(KEY)
    with pytest.raises(StoreError, match="needs the lease held"):
        lease.commit({"seq": 1})
    with lease:
        lease.commit({"seq": 1})
        with pytest.raises(StoreError, match="needs the lease held"):
            lease.commit({"seq": 2})
    assert store.get(KEY) == {"seq": 1}


def test_a_lease_cannot_be_entered_twice(store: Store) -> None:
    lease = store.lock(KEY)
    with lease, pytest.raises(StoreError, match="not reentrant"):
        lease.__enter__()
    assert try_lock(store, KEY, 0)


def test_a_refused_commit_keeps_the_lease_until_the_with_blocks_end(
        store: Store, pool: ThreadPoolExecutor) -> None:
    lease = store.lock(KEY)
    with lease:
        with pytest.raises(StoreError, match="JSON"):
            lease.commit({"seq": object()})
        assert lease.held and not pool.submit(try_lock, store, KEY, 0).result()
    assert store.get(KEY) is None
    assert pool.submit(try_lock, store, KEY, 0).result()


# -- fencing: a holder whose lease lapsed writes nothing ---------------------------------------


@pytest.mark.parametrize("how", ["commit", "write"])
def test_a_lapsed_holder_writes_nothing_and_leaves_the_new_holders_lease(
        store: Store, advance: Advance, pool: ThreadPoolExecutor, how: str) -> None:
    slow = store.lock(KEY, lease=30)
    slow.__enter__()                          # a handler slower than its lease
    advance(31)
    with store.lock(KEY, wait=0) as record:   # a duplicate takes the call over
        assert record is None
        assert not pool.submit(try_lock, store, KEY, 0).result()
        with pytest.raises(LeaseLost, match="lease lapsed"):
            getattr(slow, how)({"seq": 1, "by": "slow"})
        assert not slow.held
        assert store.get(KEY) is None          # the slow holder's write did not happen
        assert not pool.submit(try_lock, store, KEY, 0).result()   # and the lease stays
    assert store.get(KEY) is None


def test_write_keeps_the_lease_and_commit_then_gives_it_back(
        store: Store, pool: ThreadPoolExecutor) -> None:
    lease = store.lock(KEY)
    with lease:
        lease.write({"seq": 1})
        assert lease.held and store.get(KEY) == {"seq": 1}
        assert not pool.submit(try_lock, store, KEY, 0).result()
        lease.commit({"seq": 2})
        assert not lease.held and store.get(KEY) == {"seq": 2}
        assert pool.submit(try_lock, store, KEY, 0).result()
