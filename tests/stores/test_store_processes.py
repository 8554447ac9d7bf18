"""Backends shared between processes: real child processes on one SQLite file or Redis."""
from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

import hoiivr
from hoiivr.errors import LockTimeout
from hoiivr.stores import Store, store_from_url
from hoiivr.stores.sqlite import SQLiteStore
from store_time import make_store, mover

KEY = "S3839"

# The child waits for "go" on stdin, so that every process works at the same time.
CHILD = """
import sys, time
from hoiivr.stores import store_from_url
url, key, mode, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with store_from_url(url) as store:
    if mode == "hold":
        store.lock(key, lease=n / 1000).__enter__()
        print("locked", flush=True)
        time.sleep(60)
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(n):
        with store.lock(key, wait=30):
            record = store.get(key) or {"n": 0}
            record["n"] += 1
            store.put(key, record)
"""


def start_child(url: str, mode: str, n: int) -> subprocess.Popen[str]:
    """``python -c CHILD`` with the hoiivr under test importable."""
    root = str(Path(hoiivr.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    return subprocess.Popen([sys.executable, "-c", CHILD, url, KEY, mode, str(n)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def expect_line(child: subprocess.Popen[str], line: str) -> None:
    assert child.stdout is not None
    got = child.stdout.readline().strip()
    if got != line:
        child.kill()
        _, err = child.communicate(timeout=10)
        raise AssertionError(f"child said {got!r}, not {line!r}; its stderr:\n{err}")


def test_locked_increments_from_two_processes_and_this_one_lose_no_update(
        shared_store_url: str) -> None:
    with ExitStack() as stack, store_from_url(shared_store_url) as store:
        children = [stack.enter_context(start_child(shared_store_url, "count", 500))
                    for _ in range(2)]
        for child in children:
            expect_line(child, "ready")
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        for _ in range(500):
            with store.lock(KEY, wait=30):
                record = store.get(KEY) or {"n": 0}
                record["n"] += 1
                store.put(KEY, record)
        for child in children:
            _, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
        assert store.get(KEY) == {"n": 1500}


class LaterClock:
    """The wall clock the other processes read, moved on by :meth:`advance`."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def now(self) -> float:
        return time.time() + self.ahead

    def advance(self, seconds: float) -> None:
        self.ahead += seconds


def try_lock(store: Store) -> bool:
    try:
        with store.lock(KEY, wait=0):
            return True
    except LockTimeout:
        return False


def test_the_lease_of_a_killed_process_lapses_and_is_taken_over(
        shared_store_url: str, request: pytest.FixtureRequest) -> None:
    with start_child(shared_store_url, "hold", 60_000) as child:     # a 60 s lease
        expect_line(child, "locked")
        child.kill()
        child.communicate(timeout=10)
    clock = LaterClock()
    with make_store(shared_store_url, clock) as store:
        advance = mover(store, clock, request)
        assert not try_lock(store)              # nothing gave it back
        advance(50)                             # Redis: real time has passed too, < 10 s
        assert not try_lock(store)
        advance(11)
        assert try_lock(store)                  # lapsed, and taken over


def _open_at_once(path: str, start: Any, results: Any) -> None:
    start.wait()
    try:
        SQLiteStore(path).close()
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 -- reported to the test
        results.put(repr(exc))


def test_workers_creating_one_sqlite_file_at_once_all_open_it(tmp_path: Path) -> None:
    # A connection that meets another's switch to WAL is told "locked" without SQLite's
    # busy wait: before the retry, 12 workers on a fresh file failed about one round in 13.
    fork = multiprocessing.get_context("fork")
    for round_ in range(50):        # ~98 % sure to meet the race at least once
        path = str(tmp_path / f"calls-{round_}.sqlite3")
        start, results = fork.Barrier(12), fork.Queue()
        workers = [fork.Process(target=_open_at_once, args=(path, start, results))
                   for _ in range(12)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=30) for _ in workers]
        for worker in workers:
            worker.join(10)
        assert outcomes == ["ok"] * 12, f"round {round_}: {outcomes}"
