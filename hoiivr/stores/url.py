""":func:`store_from_url`: the store named by ``HOIIVR_STORE``."""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConfigError
from .base import Store
from .memory import MemoryStore
from .redis import RedisStore, import_redis, masked, unencoded
from .sqlite import SQLiteStore

__all__ = ["store_from_url"]

_FORMS = ("memory://", "sqlite:///relative/path.sqlite3", "sqlite:////absolute/path.sqlite3",
          "redis://host:6379/0?prefix=hoiivr:")


def store_from_url(url: str) -> Store:
    """Make the store a URL names.

    - ``memory://``: one process only.
    - ``sqlite:///relative/path.sqlite3`` or ``sqlite:////absolute/path.sqlite3`` (as in
      SQLAlchemy: three slashes then a path relative to the working directory, four for an
      absolute path): the processes of one host.
    - ``redis://[:password@]host:port/db?prefix=hoiivr:`` (or ``rediss://`` for TLS): many
      hosts; needs ``pip install -e '.[redis]'``.

    :raises ConfigError: the URL has none of these forms, or redis is not installed.
    """
    if not isinstance(url, str) or "://" not in url:
        raise _bad_url(url, "it is not a URL")
    scheme, rest = url.split("://", 1)
    make = _MAKERS.get(scheme.lower())
    if make is None:
        raise _bad_url(url, f"unknown scheme {scheme!r}")
    return make(url, rest)


def _bad_url(url: object, why: str) -> ConfigError:
    shown = masked(url) if isinstance(url, str) else url
    return ConfigError(f"store URL {shown!r} cannot be used: {why}. Accepted forms: "
                       + ", ".join(_FORMS))


def _memory(url: str, rest: str) -> Store:
    if rest:
        raise _bad_url(url, "memory:// takes no host, path or options")
    return MemoryStore()


def _sqlite(url: str, rest: str) -> Store:
    if not rest.startswith("/"):
        raise _bad_url(url, "a sqlite URL has no host; write sqlite:/// and then the path")
    path = rest[1:]
    if not path:
        raise _bad_url(url, "the sqlite URL has no file path")
    if "?" in path:
        raise _bad_url(url, "sqlite URLs take no options")
    return SQLiteStore(path)


def _redis(url: str, rest: str) -> Store:
    import_redis()  # first, so a missing package is reported as such
    if unencoded(url):
        raise _bad_url(url, unencoded(url))
    parts = urlsplit(url)
    options = parse_qsl(parts.query, keep_blank_values=True)
    prefixes = [value for name, value in options if name == "prefix"]
    if len(prefixes) > 1:
        raise _bad_url(url, "prefix is given more than once")
    if parts.path.strip("/") and not parts.path.strip("/").isdigit():
        # redis-py would quietly use database 0.
        raise _bad_url(url, f"the database {parts.path.strip('/')!r} is not a number")
    query = urlencode([(name, value) for name, value in options if name != "prefix"])
    plain = urlunsplit(parts._replace(query=query))
    return RedisStore(plain, prefix=prefixes[0] if prefixes else "hoiivr:")


_MAKERS: dict[str, Callable[[str, str], Store]] = {
    "memory": _memory,
    "sqlite": _sqlite,
    "redis": _redis,
    "rediss": _redis,
}
