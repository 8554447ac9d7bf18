"""Call-state stores: one JSON record per call, a TTL on every write, a per-call lease lock.

Pick one with :func:`store_from_url` (the ``HOIIVR_STORE`` setting):

- ``memory://``: :class:`MemoryStore`, one process (tests, a single dev server);
- ``sqlite:///path.sqlite3``: :class:`SQLiteStore`, the processes of one host (the default);
- ``redis://host:6379/0?prefix=hoiivr:``: :class:`RedisStore`, many hosts.
"""
from __future__ import annotations

from .base import Lease, Store
from .clock import Clock
from .memory import MemoryStore
from .redis import RedisStore
from .sqlite import SQLiteStore
from .url import store_from_url

__all__ = ["Clock", "Lease", "MemoryStore", "RedisStore", "SQLiteStore", "Store", "store_from_url"]
