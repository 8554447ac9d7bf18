"""A campaign's shared state in Redis: its settings, its rows, their counts, and the
account's pool of call slots. Each change is one of the atomic scripts of
:mod:`.scripts`; keys come from :meth:`CampaignStore.key`, under one prefix, with a TTL.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

import redis

from ..protocol import e164_guess, is_e164
from ..stores.redis import masked, masked_in
from . import scripts
from .errors import CampaignError
from .numbers import Row
from .settings import CampaignSettings

#: How long a campaign's keys stay after their last change (30 days).
CAMPAIGN_TTL_MS = 30 * 86400 * 1000
DEFAULT_PREFIX = "hoiivr:campaigns"
#: The socket timeout of a redis-py client made without one (``Redis.from_url(url)``).
REDIS_PY_SOCKET_TIMEOUT = 5.0


class CampaignStore:
    """The campaigns under ``prefix`` in the Redis at ``client`` (which must decode
    responses: :meth:`from_url` makes one)."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX,
                 ttl_ms: int = CAMPAIGN_TTL_MS) -> None:
        self.client = client
        self.prefix = prefix.rstrip(":")
        self.ttl_ms = ttl_ms
        self._scripts = {name: client.register_script(getattr(scripts, name)) for name in
                         ("CLAIM", "REFRESH", "LET_GO", "START", "DIALED", "OUTCOME",
                          "RELEASE", "EXPIRE", "ADVANCE")}

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX) -> CampaignStore:
        try:
            client = redis.Redis.from_url(url, decode_responses=True)
        except ValueError as exc:
            raise CampaignError(f"campaign Redis URL {masked(url)!r}: "
                                f"{masked_in(str(exc), url)}; e.g. "
                                "redis://127.0.0.1:6379/0") from None
        return cls(client, prefix)

    def close(self) -> None:
        self.client.close()

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _run(self, name: str, keys: Sequence[str], args: Sequence[str | int | float]) -> Any:
        return self._scripts[name](keys=list(keys), args=list(args))

    # -- a campaign ---------------------------------------------------------------------

    def create(self, settings: CampaignSettings, rows: Sequence[Row]) -> bool:
        """Store a new campaign; False if one of that name exists with the same numbers
        (starting it again then only re-sends its unfinished rows), :class:`CampaignError`
        if it exists with others."""
        name = settings.name
        data = {row.id: json.dumps({"number": row.number, "state": row.state},
                                   sort_keys=True) for row in rows}
        if not self.client.set(self.key("c", name, "meta"), settings.to_json(), nx=True,
                               px=self.ttl_ms):
            if self.client.hgetall(self.key("c", name, "rows")) != data:
                raise CampaignError(f"a campaign named {name!r} exists with other numbers; "
                                    "choose another --name")
            return False
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.key("c", name, "rows"), mapping=cast("dict[Any, Any]", data))
            for row in rows:
                pipe.hset(self.key("c", name, "row", row.id),
                          mapping={"number": row.number, "attempt": "1", "phase": "pending",
                                   "not_before": "0", "final": "", "dials": "0"})
                pipe.pexpire(self.key("c", name, "row", row.id), self.ttl_ms)
            pipe.hset(self.key("c", name, "counts"), mapping={"total": len(rows)})
            for key in ("rows", "counts"):
                pipe.pexpire(self.key("c", name, key), self.ttl_ms)
            pipe.sadd(self.key("campaigns"), name)
            pipe.pexpire(self.key("campaigns"), self.ttl_ms)
            pipe.execute()
        return True

    def settings(self, name: str) -> CampaignSettings:
        text = self.client.get(self.key("c", name, "meta"))
        if text is None:
            raise CampaignError(f"there is no campaign {name!r} (under {self.prefix!r}); "
                                "start it with `hoiivr campaign start APP NUMBERS.csv --name "
                                f"{name}`")
        return CampaignSettings.from_json(cast(str, text))

    def row(self, name: str, row_id: str) -> Row:
        text = self.client.hget(self.key("c", name, "rows"), row_id)
        if text is None:
            raise CampaignError(f"campaign {name!r} has no row {row_id!r}")
        data = json.loads(cast(str, text))
        return Row(row_id, data["number"], data["state"])

    def row_ids(self, name: str) -> list[str]:
        return sorted(cast(list[str], self.client.hkeys(self.key("c", name, "rows"))), key=int)

    def progress(self, name: str, row_id: str) -> dict[str, str]:
        """A row's fields: attempt, phase, final, outcome, dials, session..."""
        return cast(dict[str, str], self.client.hgetall(self.key("c", name, "row", row_id)))

    def counts(self, name: str) -> dict[str, int]:
        raw = cast(dict[str, str], self.client.hgetall(self.key("c", name, "counts")))
        return {k: int(v) for k, v in raw.items()}

    # -- the do-not-call list --------------------------------------------------------------

    def do_not_call(self, numbers: Iterable[str]) -> int:
        """Add ``numbers`` to the do-not-call list (kept until removed: a person's wish not
        to be called does not expire); returns how many were new.

        :raises CampaignError: a number is not E.164: it would never match the number of
            a call, which is, so that person would still be called.
        """
        given = _e164(numbers)
        return int(self.client.sadd(self.key("dnc"), *given)) if given else 0

    def may_call_again(self, numbers: Iterable[str]) -> int:
        given = _e164(numbers)
        return int(self.client.srem(self.key("dnc"), *given)) if given else 0

    def is_do_not_call(self, number: str) -> bool:
        return bool(self.client.sismember(self.key("dnc"), number))

    # -- a row's turn ----------------------------------------------------------------------

    def _row_keys(self, name: str, row_id: str) -> tuple[str, str]:
        return self.key("c", name, "row", row_id), self.key("c", name, "holder", row_id)

    def _pool(self, pool: str, what: str) -> str:
        return self.key("p", pool, what)

    def claim(self, name: str, row_id: str, attempt: int, token: str,
              hold_ms: int) -> list[str]:
        return cast(list[str], self._run("CLAIM", self._row_keys(name, row_id),
                                         (token, attempt, hold_ms)))

    def refresh(self, name: str, row_id: str, token: str, hold_ms: int) -> bool:
        return bool(self._run("REFRESH", [self.key("c", name, "holder", row_id)],
                              (token, hold_ms)))

    def let_go(self, name: str, row_id: str, token: str) -> None:
        self._run("LET_GO", [self.key("c", name, "holder", row_id)], (token,))

    def start(self, settings: CampaignSettings, row: Row, attempt: int, token: str) -> list[str]:
        name, pool = settings.name, settings.pool
        interval = 0 if settings.cps is None else -(-1000 // settings.cps)
        keys = (*self._row_keys(name, row.id), self.key("c", name, "counts"),
                self._pool(pool, "live"), self._pool(pool, "numbers"),
                self._pool(pool, "pace"), self.key("dnc"))
        return cast(list[str], self._run("START", keys, (
            token, attempt, member(name, row.id, attempt), row.number,
            settings.concurrency or 0, int(interval), int(settings.lease * 1000),
            self.ttl_ms)))

    def dialed(self, name: str, row_id: str, attempt: int, session: str) -> str:
        return cast(str, self._run("DIALED", [self.key("c", name, "row", row_id)],
                                   (attempt, session)))

    def outcome(self, name: str, pool: str, row_id: str, attempt: int, number: str,
                event: str, status: str) -> str:
        keys = (self.key("c", name, "row", row_id), self.key("c", name, "counts"),
                self._pool(pool, "live"), self._pool(pool, "numbers"),
                self.key("c", name, "events", row_id), self._pool(pool, "freed"))
        return cast(str, self._run("OUTCOME", keys, (
            attempt, member(name, row_id, attempt), number, event, status, self.ttl_ms)))

    def _slot_keys(self, settings: CampaignSettings, row_id: str) -> tuple[str, ...]:
        pool = settings.pool
        return (*self._row_keys(settings.name, row_id),
                self.key("c", settings.name, "counts"), self._pool(pool, "live"),
                self._pool(pool, "numbers"), self._pool(pool, "freed"))

    def release(self, settings: CampaignSettings, row: Row, attempt: int, token: str,
                then: str) -> str:
        """Give the slot back after a request that did not place the call: ``then`` is
        ``pending`` (try again, uncounted) or the attempt's outcome."""
        return cast(str, self._run("RELEASE", self._slot_keys(settings, row.id), (
            token, attempt, member(settings.name, row.id, attempt), row.number, then)))

    def expire(self, settings: CampaignSettings, row: Row, attempt: int, token: str) -> str:
        return cast(str, self._run("EXPIRE", self._slot_keys(settings, row.id), (
            token, attempt, member(settings.name, row.id, attempt), row.number)))

    def advance(self, name: str, row_id: str, attempt: int, token: str, retry: bool,
                delay_ms: int) -> list[str]:
        keys = (*self._row_keys(name, row_id), self.key("c", name, "counts"))
        return cast(list[str], self._run("ADVANCE", keys, (
            token, attempt, "retry" if retry else "exhausted", delay_ms, self.ttl_ms)))

    # -- waiting -------------------------------------------------------------------------

    def wait_for_news(self, name: str, row_id: str, seconds: float) -> None:
        """Block until the app hears of the row's call, or ``seconds`` pass (or fewer)."""
        self._block(self.key("c", name, "events", row_id), seconds)

    def wait_for_slot(self, pool: str, seconds: float) -> None:
        """Block until a call of the pool ends, or ``seconds`` pass (or fewer)."""
        self._block(self._pool(pool, "freed"), seconds)

    def _block(self, key: str, seconds: float) -> None:
        # The client waits for any reply at most its socket timeout (redis-py's default: 5
        # s): a BLPOP as long as that raises TimeoutError instead of returning nothing, so
        # block for half of it at most (callers look again and wait more).
        limit = self.client.connection_pool.connection_kwargs.get("socket_timeout",
                                                                 REDIS_PY_SOCKET_TIMEOUT)
        if limit:
            seconds = min(seconds, float(limit) / 2)
        self.client.blpop([key], timeout=max(0.01, seconds))

    def live_calls(self, pool: str) -> int:
        """Calls of the pool in progress (within their lease), by Redis's clock."""
        seconds, micros = self.client.time()
        now = seconds * 1000 + micros // 1000
        return int(self.client.zcount(self._pool(pool, "live"), now, "+inf"))


def member(name: str, row_id: str, attempt: int) -> str:
    """The name of one call of a campaign in its pool: campaign, row and attempt."""
    return f"{name}/{row_id}/{attempt}"


def _e164(numbers: Iterable[str]) -> list[str]:
    """``numbers``, each E.164 as every campaign's numbers are; else a CampaignError that
    names each other one and what it was probably meant to be."""
    given = [number.strip() for number in numbers]
    bad = [f"{number!r}" + (f" (did you mean {e164_guess(number)!r}?)"
                            if e164_guess(number) else "")
           for number in given if not is_e164(number)]
    if bad:
        raise CampaignError("the do-not-call list takes E.164 numbers (+ and the country "
                            "code, e.g. +6591234567), as calls are placed to; not "
                            + ", ".join(bad))
    return given
