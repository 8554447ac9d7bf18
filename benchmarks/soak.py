"""Soak: many concurrent calls for minutes through gunicorn workers, with a slow provider.

Run: ``python benchmarks/soak.py [--calls 200] [--minutes 3] [--stores sqlite,redis]``
(short: ``--calls 20 --seconds 20``). Loopback only; Redis at 127.0.0.1:6379.

For each store (SQLite, then Redis) the app of ``benchmarks/apps.py`` (ringing -> Gather ->
gather -> Play -> play -> ... -> Hangup, ``--rounds`` Gather/Play pairs) is served by
gunicorn with ``--workers`` processes of ``--threads`` threads, against a
:class:`~hoiivr.simulator.SimulatorServer` on a real clock (``--speed`` x real time) whose
REST replies are each held ``--latency`` seconds (150 ms: a slow provider). ``--calls``
calls are kept going until time is up (a new one is placed as each ends); the caller
presses 1 at each Gather. Then, and it exits non-zero on any failure:

- every call ended as the flow says: the expected prompts, no apology, every
  notification answered 200, every block accepted;
- no block duplicated or lost: the ``seq`` in each block request's notify URL token runs
  1, 2, 3 ... with exactly one request per ``seq``;
- memory flat: each worker's RSS (from ``/proc``) grew by at most ``--max-growth-mb`` after
  it was warm: from the first sample past a third of the run at which it had served a
  quarter of its requests (gunicorn's access log names the worker of each request; kept-alive
  connections can leave a worker idle for a while, and its first calls' growth is not a
  leak);
- the store holds no live call at the end: only ended calls' tombstones, and no lease;
  and once the tombstones' time to live (``--tombstone-ttl``, the app's
  ``HOIIVR_TOMBSTONE_TTL``) has passed, nothing at all.
"""
from __future__ import annotations

import argparse
import json
import logging
import secrets
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apps import (APOLOGY, APP_ID, CONFIRM, GOODBYE, PIN_PROMPT, SECRET, TOKEN,  # noqa: E402
                  AppProcess, remove_redis_keys)

from hoiivr.errors import TokenError  # noqa: E402
from hoiivr.simulator import CallEnded, RealClock, Simulator, SimulatorServer  # noqa: E402
from hoiivr.simulator.errors import SimulatorError  # noqa: E402
from hoiivr.tokens import NotifyTokens  # noqa: E402

NUMBER = "+6560000002"
REDIS_URL = "redis://127.0.0.1:6379/0"
MB = 1024 * 1024


@dataclass
class Outcome:
    store: str
    placed: int = 0
    ended: int = 0
    notifications: int = 0
    blocks: int = 0
    failures: list[str] = field(default_factory=list)
    # (seconds into the run, RSS of each worker, requests each worker has served)
    rss: list[tuple[float, dict[int, int], Counter[int]]] = field(default_factory=list)
    elapsed: float = 0.0
    growth: dict[int, float] = field(default_factory=dict)
    store_records: int = 0
    records_after_ttl: int = 0
    latencies: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)

    def fail(self, message: str) -> None:
        if len(self.failures) < 1000:
            self.failures.append(message)


def with_latency(sim: Simulator, seconds: float) -> str:
    """Hold every REST reply ``seconds``: the simulator's own fault if it has it."""
    if hasattr(sim, "set_faults"):
        sim.set_faults(rest_latency=seconds)
        return "sim.set_faults(rest_latency=...)"
    inner = sim.wsgi_app

    def slow(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO", "").startswith("/open/"):
            time.sleep(seconds)
        return inner(environ, start_response)
    sim.wsgi_app = slow          # SimulatorServer serves sim.wsgi_app as it is at start()
    return "a WSGI middleware in benchmarks/soak.py"


class Checker:
    """What one finished call must look like."""

    def __init__(self, rounds: int) -> None:
        self.expected = [PIN_PROMPT, CONFIRM] * rounds + [GOODBYE]
        self.tokens = NotifyTokens(SECRET)

    def check(self, info: dict[str, Any], out: Outcome) -> None:
        session = info["session"]
        prompts = info["prompts"]
        if prompts != self.expected:
            out.fail(f"{session}: heard {prompts!r} ({info['end_reason']})")
        if any(APOLOGY in p for p in prompts):
            out.fail(f"{session}: apologised")
        seqs = []
        for entry in info["timeline"]:
            if entry["type"] == "notification":
                out.notifications += 1
                if entry["call_state"] != "ended" and entry["latency_ms"] is not None:
                    out.latencies.append(entry["latency_ms"])
                if not entry["delivered"] or entry["reply_status"] != 200:
                    out.fail(f"{session}: notification {entry['call_state']} answered "
                             f"{entry['reply_status']} ({entry['error']})")
            elif entry["type"] == "request":
                out.blocks += 1
                status = (entry.get("reply") or {}).get("status")
                if status != "success_ok":
                    out.fail(f"{session}: {entry['endpoint']} answered {status}")
                seqs.append(self.seq(entry["params"].get("notify_url", "")))
        if info["ended_at"] is not None:
            out.durations.append(info["ended_at"])
        if seqs != list(range(1, len(seqs) + 1)):
            out.fail(f"{session}: block seqs {seqs} (duplicated or lost blocks)")

    def seq(self, notify_url: str) -> int | None:
        token = urlsplit(notify_url).path.rsplit("/notify/", 1)[-1]
        try:
            return self.tokens.loads(token).seq
        except TokenError:
            return None


def drive(sim: Simulator, app: AppProcess, out: Outcome, calls: int, seconds: float,
          rounds: int) -> None:
    """Keep ``calls`` calls going for ``seconds``; press 1 whenever a call waits for keys."""
    checker = Checker(rounds)
    active: set[str] = set()
    began = time.monotonic()
    stop = began + seconds
    drain_until = stop + 120.0           # a bound: a call still going then has failed
    next_sample = began
    caller = 0
    while time.monotonic() < drain_until and (active or time.monotonic() < stop):
        now = time.monotonic()
        if now >= next_sample:
            out.rss.append((now - began, app.rss_bytes(), app.served()))
            next_sample = now + max(1.0, seconds / 30)
        # Place new calls (at most 20 per turn, so the first ones come in a ramp).
        for _ in range(min(20, calls - len(active)) if now < stop else 0):
            caller += 1
            try:
                active.add(sim.call(f"+659{caller % 10_000_000:07d}", NUMBER))
                out.placed += 1
            except SimulatorError as exc:
                out.fail(f"could not place a call: {exc}")
                break
        for session in list(active):
            if not sim.engine.at_rest(session):
                continue
            try:
                sim.press(session, "1")             # at rest and not ended: a Gather
            except CallEnded:
                active.discard(session)
                out.ended += 1
                checker.check(sim.get_call(session), out)
        time.sleep(0.02)
    out.elapsed = time.monotonic() - began
    out.rss.append((out.elapsed, app.rss_bytes(), app.served()))
    for session in active:
        out.fail(f"{session}: still going {out.elapsed - seconds:.0f} s after the end "
                 f"({sim.get_call(session)['state']})")


def memory_growth(out: Outcome, seconds: float) -> None:
    """Per worker: MB gained between the sample at which it was warm and the last."""
    _, last, total = out.rss[-1]
    for pid in last:
        warm = next(rss for at, rss, served in out.rss
                    if at >= seconds / 3 and served[pid] >= total[pid] / 4)
        out.growth[pid] = (last[pid] - warm.get(pid, 0)) / MB


def stored_records(store: str, url: str) -> tuple[list[dict[str, Any]], int]:
    """The unexpired call records in the store, and the number of unexpired leases."""
    if store == "sqlite":
        conn = sqlite3.connect(urlsplit(url).path[1:])
        try:
            rows = conn.execute("SELECT value FROM calls WHERE expires > ?",
                                (time.time(),)).fetchall()
            leases = conn.execute("SELECT COUNT(*) FROM leases WHERE expires > ?",
                                  (time.time(),)).fetchone()[0]
        finally:
            conn.close()
        return [json.loads(value) for (value,) in rows], leases
    prefix = url.split("prefix=", 1)[1]
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "call:*", count=1000))
        records = [json.loads(v) for v in client.mget(keys) if v is not None] if keys else []
        leases = list(client.scan_iter(match=prefix + "lease:*", count=1000))
        live_leases = sum(v is not None for v in client.mget(leases)) if leases else 0
    finally:
        client.close()
    return records, live_leases


def soak(store: str, url: str, args: argparse.Namespace) -> Outcome:
    out = Outcome(store)
    sim = Simulator(clock=RealClock(speed=args.speed), wait=60.0 * args.speed,
                    max_concurrent_calls=args.calls + 10,
                    notify_workers=min(args.calls, 64))
    sim.add_account(APP_ID, TOKEN, balance="10000000.000")
    how = with_latency(sim, args.latency)
    server = SimulatorServer(sim)
    app = None
    try:
        server.start()
        app = AppProcess("create_hoiivr_app", {"HOIIO_API_URL": server.url + "/open/",
                                               "HOIIVR_STORE": url,
                                               "HOIIVR_TOMBSTONE_TTL": str(args.tombstone_ttl),
                                               "BENCH_ROUNDS": str(args.rounds)},
                         workers=args.workers, threads=args.threads,
                         access_log=Path(args.workdir) / f"{store}-access.log")
        app.wait_ready()
        sim.add_number(NUMBER, app.url + "/hoiio/answer", app_id=APP_ID)
        print(f"[{store}] {args.calls} concurrent calls for {args.seconds:g} s; gunicorn "
              f"{args.workers} workers x {args.threads} threads; REST replies held "
              f"{args.latency * 1000:.0f} ms by {how}", flush=True)
        drive(sim, app, out, args.calls, args.seconds, args.rounds)
        last_write = time.time()         # every call's end was answered, its tombstone stored
    finally:
        if app is not None:
            app.stop()
        server.stop()
        sim.close()
    memory_growth(out, args.seconds)
    if set(out.rss[0][1]) != set(out.rss[-1][1]):
        out.fail(f"gunicorn workers were replaced during the run: {sorted(out.rss[0][1])} -> "
                 f"{sorted(out.rss[-1][1])} (a worker crashed or timed out)")
    for pid, grown in out.growth.items():
        if grown > args.max_growth_mb:
            out.fail(f"worker {pid} grew {grown:.1f} MB once warm")
    records, leases = stored_records(store, url)
    out.store_records = len(records)
    live = [r for r in records if r.get("ended") is not True or "state" in r]
    for record in live[:5]:
        out.fail(f"the store still holds a live call: {record}")
    if len(live) > 5:
        out.fail(f"... and {len(live) - 5} more live calls in the store")
    if leases:
        out.fail(f"the store still holds {leases} leases")
    time.sleep(max(0.0, last_write + args.tombstone_ttl + 1.0 - time.time()))
    records, leases = stored_records(store, url)
    out.records_after_ttl = len(records) + leases
    if records or leases:
        out.fail(f"the store still holds {len(records)} records and {leases} leases after "
                 f"the tombstones' {args.tombstone_ttl:g} s, e.g. {records[:1]}")
    return out


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def summary(out: Outcome) -> None:
    first, last = out.rss[0][1], out.rss[-1][1]
    print(f"[{out.store}] {out.placed} calls placed, {out.ended} ended, in {out.elapsed:.0f} s "
          f"({out.ended / out.elapsed:.1f} calls/s); {out.notifications} notifications, "
          f"{out.blocks} blocks ({out.notifications / out.elapsed:.0f} notifications/s)")
    print(f"[{out.store}] notification-to-next-block latency (includes the held REST reply) "
          f"ms: p50 {percentile(out.latencies, 50):.0f}, p99 {percentile(out.latencies, 99):.0f}"
          f"; call length (call clock, s): p50 {percentile(out.durations, 50):.1f}, "
          f"max {max(out.durations, default=float('nan')):.1f}")
    served = out.rss[-1][2]
    print(f"[{out.store}] worker RSS MB first -> last (growth once warm), requests served: "
          + ", ".join(f"{first.get(pid, 0) / MB:.1f} -> {last.get(pid, 0) / MB:.1f} "
                      f"({out.growth.get(pid, 0):+.1f}) {served[pid]}" for pid in sorted(last)))
    if any("store" in f for f in out.failures):
        print(f"[{out.store}] store at the end: {out.store_records} records (see failures)")
    else:
        print(f"[{out.store}] store at the end: {out.store_records} tombstones of ended calls, "
              f"no live call, no lease; {out.records_after_ttl} records once the tombstones' "
              "time to live had passed")
    verdict = "PASS" if not out.failures else f"FAIL ({len(out.failures)} failures)"
    print(f"[{out.store}] {verdict}")
    for failure in out.failures[:20]:
        print(f"[{out.store}]   {failure}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="concurrent calls")
    parser.add_argument("--minutes", type=float, default=3.0, help="length of each store's run")
    parser.add_argument("--seconds", type=float, default=None, help="length, in seconds")
    parser.add_argument("--stores", default="sqlite,redis", help="sqlite, redis or both")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--latency", type=float, default=0.15,
                        help="seconds each REST reply is held")
    parser.add_argument("--rounds", type=int, default=2, help="Gather/Play pairs per call")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="the simulator's clock, x real time (prompts last as spoken)")
    parser.add_argument("--max-growth-mb", type=float, default=10.0,
                        help="the most a worker's RSS may grow once warm")
    parser.add_argument("--tombstone-ttl", type=float, default=15.0,
                        help="the app's HOIIVR_TOMBSTONE_TTL: the run ends by checking that "
                             "the store is empty this long after the last call")
    args = parser.parse_args()
    args.seconds = args.seconds if args.seconds is not None else args.minutes * 60
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    tmp = tempfile.TemporaryDirectory(prefix="hoiivr-soak-")
    args.workdir = tmp.name
    urls = {"sqlite": f"sqlite:///{tmp.name}/soak.sqlite3",
            "redis": f"{REDIS_URL}?prefix=hoiivr-soak:{secrets.token_hex(4)}:"}
    outcomes = []
    try:
        for store in [s.strip() for s in args.stores.split(",") if s.strip()]:
            if store not in urls:
                parser.error(f"unknown store {store!r}: sqlite or redis")
            try:
                outcomes.append(soak(store, urls[store], args))
            finally:
                if store == "redis":
                    remove_redis_keys(REDIS_URL, urls[store].split("prefix=", 1)[1])
            summary(outcomes[-1])
    finally:
        tmp.cleanup()
    failed = [o.store for o in outcomes if o.failures]
    print("soak: " + ("PASS" if not failed else "FAIL on " + ", ".join(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
