"""Moving a store's time on in tests, taking no real time, whatever the backend."""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import pytest
import redis

from hoiivr.stores import Clock, MemoryStore, RedisStore, SQLiteStore, Store, store_from_url


class MovableClock(Clock, Protocol):
    """A clock a test moves on, such as :class:`~hoiivr.simulator.clock.VirtualClock`."""

    def advance(self, seconds: float) -> None: ...

# Time passing, for Redis keys: each key's time to live shortened by ARGV[1] ms, and a key
# whose time runs out deleted, as the server would expire it. Keys without one are kept.
_SHORTEN_TTLS = """
local ms = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
    local left = redis.call('PTTL', key)
    if left > ms then
        redis.call('PEXPIRE', key, left - ms)
    elseif left >= 0 then
        redis.call('DEL', key)
    end
end
return #KEYS
"""


def advance_redis(client: redis.Redis, prefix: str, seconds: float) -> None:
    """Move time on by ``seconds`` for the keys under ``prefix``, taking no real time.

    Redis expires keys by its own clock, which nothing outside it can move; but all a store
    sees of time is whether its keys still exist, so shortening every key's time to live
    is the same to it as time passing.
    """
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.eval(_SHORTEN_TTLS, len(keys), *keys, round(seconds * 1000))


def mover(store: Store, clock: MovableClock,
          request: pytest.FixtureRequest) -> Callable[[float], None]:
    """What moves the time of ``store`` on: its ``clock``, or for Redis its keys' TTLs."""
    if isinstance(store, RedisStore):
        client = request.getfixturevalue("redis_client")
        return lambda seconds: advance_redis(client, store.prefix, seconds)
    return clock.advance


def make_store(url: str, clock: Clock) -> Store:
    """The store ``url`` names, on ``clock`` where the backend takes one (not Redis)."""
    scheme, _, rest = url.partition("://")
    if scheme == "memory":
        return MemoryStore(clock=clock)
    if scheme == "sqlite":
        return SQLiteStore(rest[1:], clock=clock)
    return store_from_url(url)
