"""``redis://host:port/db``: call records in Redis, shared by every host of a deployment.

Records are JSON strings written with ``SET ... PX`` (a TTL on every write). The lease is
``SET lease-key token NX PX`` (one atomic command, never ``SETNX`` then ``EXPIRE``),
given back by a Lua compare-and-delete so that a lease someone else took over after ours
lapsed is left alone. The ``redis`` package is imported only when a store is made.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote_plus

from ..errors import ConfigError, StoreError, install_hint
from .base import Store, decode_record, encode_record

if TYPE_CHECKING:
    import redis as redis_py

__all__ = ["RedisStore"]

_T = TypeVar("_T")

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
# The record is written only while the lease (KEYS[2]) holds our token: a holder whose lease
# lapsed must not overwrite what the worker who took it over wrote. Then the lease is given
# back if ARGV[4] says so, and our token noted as committed (KEYS[3]): a client configured
# to retry sends the script again when its reply is lost, and that second run, finding the
# lease gone, must answer "written", not "lapsed", or the block it wrote is never sent.
_COMMIT = """
if redis.call('GET', KEYS[2]) ~= ARGV[3] then
    if ARGV[4] == '1' and redis.call('GET', KEYS[3]) == ARGV[3] then
        return 1
    end
    return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[4] == '1' then
    redis.call('DEL', KEYS[2])
    redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[5])
end
return 1
"""
#: How long a committed token is noted: far longer than any client's retries.
COMMITTED_MS = 60_000


def import_redis() -> ModuleType:
    """The ``redis`` package, or a :class:`ConfigError` saying how to install it."""
    try:
        import redis as redis_py
    except ImportError as exc:
        raise ConfigError("redis:// stores need the redis package: "
                          + install_hint("redis")) from exc
    return redis_py


def _send(conn: Any, commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
    """Write ``commands`` on ``conn`` at once and read every reply, in order.

    A failure part-way (a timeout, an error reply) leaves replies unread on the socket, so
    the connection is closed before the pool can hand it to anyone else.
    """
    try:
        conn.send_packed_command(conn.pack_commands(commands))
        return [conn.read_response() for _ in commands]
    except BaseException:
        conn.disconnect()
        raise


def _pooled_connection(module: ModuleType) -> Callable[[Any, str], Any]:
    """How this redis-py takes a connection from a pool, for a command named as given.

    The one place where redis-py's versions differ for this store: before 5.3,
    ``ConnectionPool.get_connection(command_name, *keys)`` requires the command's name (and
    ignores it); from 5.3 on it takes no arguments, and passing any is deprecated (a
    DeprecationWarning). ``setup.cfg`` allows both (``redis >= 4.5``); CI runs the Redis
    store's tests on the oldest and the newest.
    """
    if tuple(module.VERSION[:2]) >= (5, 3):
        return lambda pool, command_name: pool.get_connection()
    return lambda pool, command_name: pool.get_connection(command_name)


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _password(url: str) -> str:
    """The password of ``scheme://user:password@host...``: whatever lies between the
    first ``:`` after the scheme and the last ``@``, even where a character left
    unencoded (``/``, ``#``, ``?``) breaks the URL's parsing."""
    start = url.find("://") + 3
    at = url.rfind("@", start)
    if start < 3 or at < 0:
        return ""
    return url[start:at].partition(":")[2]


#: redis-py also takes the password as a query option, ``?password=...``.
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)


def masked(url: str) -> str:
    """``url`` with its passwords as ``***``, for messages and logs."""
    password = _password(url)
    if password:
        at = url.rfind("@")
        url = url[:at - len(password)] + "***" + url[at:]
    return _QUERY_PASSWORD.sub(lambda m: m.group(1) + "***" if m.group(2) else m.group(0), url)


def masked_in(text: str, url: str) -> str:
    """``text`` (a message about ``url``) with the URL's passwords as ``***``, and each
    piece of the userinfo one that a character left unencoded cut off."""
    password = _password(url)
    pieces = {password, *re.split(r"[/#?@]", password)}
    for given in _QUERY_PASSWORD.finditer(url):
        pieces |= {given.group(2), unquote_plus(given.group(2))}
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= 3:
            text = text.replace(piece, "***")
    return text


def unencoded(url: str) -> str:
    """Why the URL's password breaks its parsing ("": it does not)."""
    if any(char in _password(url) for char in "/#?"):
        return ("its password has a character that ends a URL's host (/, # or ?): "
                "percent-encode it (/ as %2F, # as %23, ? as %3F)")
    return ""


class RedisStore(Store):
    """Call records and leases in Redis, under keys that all start with ``prefix``.

    Records and leases expire by the server's clock (the ``PX`` of each ``SET``), which
    no clock in Python can move, so this store takes none (see :mod:`hoiivr.stores.clock`).
    What it promises is the time to live it gives each key; its tests read that back with
    ``PTTL``, and move a key's time on by shortening its ``PTTL`` rather than waiting.

    :param url_or_client: a ``redis://`` or ``rediss://`` URL, or a ready ``redis.Redis``
        (which :meth:`close` then leaves open: it belongs to the caller).
    :param prefix: put before every key, so several apps can share one database.
    """

    #: Socket timeouts, in seconds, for a client made from a URL (the URL may override).
    socket_timeout: float = 5.0

    def __init__(self, url_or_client: str | redis_py.Redis = "redis://127.0.0.1:6379/0", *,
                 prefix: str = "hoiivr:") -> None:
        super().__init__()
        module = import_redis()
        self.prefix = prefix
        self._owns_client = isinstance(url_or_client, str)
        if isinstance(url_or_client, str):
            self._client = self._connect(module, url_or_client)
        else:
            self._client = url_or_client
        self._errors: type[Exception] = module.RedisError
        self._get_connection = _pooled_connection(module)
        # Registered once; each call runs EVALSHA and loads the script only if missing.
        self._release_script = self._client.register_script(_RELEASE)

    def _connect(self, module: ModuleType, url: str) -> redis_py.Redis:
        try:
            client: redis_py.Redis = module.Redis.from_url(
                url, socket_timeout=self.socket_timeout,
                socket_connect_timeout=self.socket_timeout)
            # redis-py takes the query's options as they are and builds a connection with
            # them only when the first command needs one: a misspelt option would fail
            # every notification. One built now, unconnected, fails here instead.
            pool = client.connection_pool
            pool.connection_class(**pool.connection_kwargs)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"bad Redis URL {masked(url)!r}: "
                              f"{masked_in(str(exc), url).rstrip('.')}; "
                              "expected redis://[:password@]host:port/db, with redis-py's "
                              "connection options and hoiivr's prefix= in the query"
                              ) from None
        return client

    def key_for(self, kind: str, key: str) -> str:
        """The Redis key of a record (``kind="call"``), a lease (``kind="lease"``) or the
        last lease committed (``kind="committed"``)."""
        return f"{self.prefix}{kind}:{key}"

    def _run(self, command: Callable[[], _T]) -> _T:
        """Run one Redis command, translating the client's errors."""
        try:
            return command()
        except self._errors as exc:
            raise StoreError(f"Redis store failed: {exc}; check that redis-server is "
                             "running and reachable") from exc

    def get(self, key: str) -> dict[str, Any] | None:
        text = self._run(lambda: self._client.get(self.key_for("call", key)))
        return None if text is None else decode_record(key, text)

    def put(self, key: str, record: dict[str, Any], ttl: float | None = None) -> None:
        text, px = encode_record(key, record), _milliseconds(self._ttl(ttl))
        self._run(lambda: self._client.set(self.key_for("call", key), text, px=px))

    def delete(self, key: str) -> None:
        self._run(lambda: self._client.delete(self.key_for("call", key)))

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
            self._client.connection_pool.disconnect()

    def _acquire(self, key: str, token: str, lease: float, wait: float) -> bytes | None:
        px = _milliseconds(lease)
        return self._poll(key, wait, lambda: self._take_lease(key, token, px))

    def _take_lease(self, key: str, token: str, px: int) -> tuple[bool, bytes | None]:
        # One round trip: SET NX, then who holds the lease, then the record. A lease that
        # already holds our token counts as taken: a client configured to retry may send
        # this again after the first reply was lost, and must not wait for itself.
        lease = self.key_for("lease", key)
        _, holder, text = self._exchange(("SET", lease, token, "NX", "PX", px),
                                         ("GET", lease),
                                         ("GET", self.key_for("call", key)))
        return holder in (token, token.encode()), text

    def _commit(self, key: str, token: str, record: dict[str, Any], ttl: float | None,
                release: bool = True) -> bool:
        # One round trip, one script (EVAL, not the registered EVALSHA, which may need a
        # second round trip to load the script).
        text, px = encode_record(key, record), _milliseconds(self._ttl(ttl))
        [written] = self._exchange(("EVAL", _COMMIT, 3, self.key_for("call", key),
                                    self.key_for("lease", key), self.key_for("committed", key),
                                    text, px, token, "1" if release else "0", COMMITTED_MS))
        return bool(written)

    def _exchange(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Send ``commands`` in one write on one pooled connection; return their replies.

        What ``pipeline(transaction=False).execute()`` does, without its bookkeeping (on
        redis-py 8.1, about 20 us of CPU a pipeline; a notification makes two). The
        client's own retry policy still applies.
        """
        pool = self._client.connection_pool
        conn = self._run(lambda: self._get_connection(pool, commands[0][0]))
        try:
            return self._run(lambda: conn.retry.call_with_retry(
                lambda: _send(conn, commands), lambda error: conn.disconnect()))
        finally:
            pool.release(conn)

    def _release(self, key: str, token: str) -> None:
        name = self.key_for("lease", key)
        self._run(lambda: self._release_script(keys=[name], args=[token]))
