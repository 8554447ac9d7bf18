"""Fixtures shared by the whole suite: every store backend, each on a fresh namespace; and
the ``tally`` of the adversarial tests.

An adversarial test records how many attempts it made and how many had a bad effect (a
handler run that should not have been, a block sent twice, a caller left in silence...);
a run ends with the table that ``docs/reliability.rst`` quotes::

    pytest tests/attacks tests/framework/test_security.py tests/properties -p no:cacheprovider
"""
from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis

from hoiivr.simulator.clock import VirtualClock
from hoiivr.stores import Store
from store_time import make_store, mover

pytest_plugins = ["pytester"]

REDIS_URL = "redis://127.0.0.1:6379/0"
BACKENDS = ["memory", "sqlite", "redis"]


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    """A client of the local Redis server; its absence fails the test, never skips it."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); start it with "
                    "`redis-server --port 6379` before running the store tests", pytrace=False)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"hoiivr-test:{secrets.token_hex(8)}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        redis_client.delete(*keys)


def url_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The store URL of ``backend``, fresh for this test."""
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'calls.sqlite3'}"  # absolute: four slashes
    prefix = request.getfixturevalue("redis_prefix")
    return f"{REDIS_URL}?prefix={quote(prefix)}"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return url_for(request.param, tmp_path, request)


@pytest.fixture(params=["sqlite", "redis"])
def shared_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a backend that several processes can share."""
    return url_for(request.param, tmp_path, request)


@pytest.fixture
def store_clock() -> VirtualClock:
    """The time of the memory and SQLite ``store``: it moves only when advanced."""
    return VirtualClock()


@pytest.fixture
def store(store_url: str, store_clock: VirtualClock) -> Iterator[Store]:
    with make_store(store_url, store_clock) as store:
        yield store


@pytest.fixture
def advance(store: Store, store_clock: VirtualClock,
            request: pytest.FixtureRequest) -> Callable[[float], None]:
    """``advance(seconds)``: the time of ``store`` moves on, and no real time passes."""
    return mover(store, store_clock, request)


@dataclass
class Tally:
    """Attempts and bad effects per attack, over the session."""

    rows: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, attack: str, attempts: int, bad: int) -> None:
        with self.lock:
            row = self.rows.setdefault(attack, [0, 0])
            row[0] += attempts
            row[1] += bad


TALLY = Tally()


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TALLY.rows:
        return
    write = terminalreporter.write_line
    write("")
    width = max(len(attack) for attack in TALLY.rows) + 2
    write(f"{'attack':<{width}}{'attempts':>9}{'bad effects':>13}")
    for attack, (attempts, bad) in sorted(TALLY.rows.items()):
        write(f"{attack:<{width}}{attempts:>9}{bad:>13}")
