"""What hoiivr costs over a hand-written Flask + requests app doing the same calls.

Run: ``python benchmarks/framework.py [--calls 8] [--seconds 2] [--repeat 16] [--paced-repeat 4]
[--paced-seconds 8] [--control] [--profile]`` (about six minutes with the defaults; loopback
only; Redis at 127.0.0.1:6379).

Two apps do the same fixed flow (``benchmarks/apps.py``): ringing -> Gather -> gather ->
Play -> play -> ... (``--rounds`` Gather/Play pairs) -> Hangup -> ended; one REST call per
notification, made inside the handler, as Hoiio requires.

1. Over real HTTP on loopback. The simulator (``SimulatorServer``, real clock) is the peer;
   its phones press a key at each Gather. Each app runs in its own process under the same
   server: gunicorn, 1 gthread worker with 8 threads, ``gunicorn.conf.py``. For each:
   notifications/s, p50/p99 notification-to-next-block latency (the simulator's delivery
   time, which includes the app's REST call) and the app process's CPU seconds per
   notification (utime + stime of gunicorn's processes from ``/proc``), with the ratio to
   the hand-written app. hoiivr runs once per store: memory, SQLite, Redis (127.0.0.1:6379).

   a. flat out: prompts take no time (``Timing``), so the loop is as fast as the two
      processes allow: throughput and CPU per notification. Every app and its simulator
      start once and stay up; runs go in short rounds that drive every app once, back to
      back (every other round in reverse order); each ratio is the median of the rounds'
      ratios, since this shared machine's speed drifts between rounds more than the apps
      differ (``--control`` adds a second copy of the hand-written app: its ratios to the
      first are that noise);
   b. paced: prompts take their spoken length on a clock 20x real time, so 8 calls do not
      saturate anything: the latency a caller would meet. Callers arrive spread over one
      call's length, not all at once (identical calls started together stay in lockstep,
      and every notification would queue behind seven others); p99 is the median of the
      rounds' p99s.
2. In-process, no network: the microseconds per notification of each app's WSGI callable
   (REST replaced by a canned reply in a fake ``requests.Session``), and of the core alone
   (signature, token, parsing, dispatch) against a plain function that parses and decides,
   and against that function hand-written to keep the same promises (``core_guarded``: the
   body's signature, a signed token per step, the tag's proof, the call's record as JSON
   read and written in one transaction, in a dict or a SQLite file).

Targets (PASS/MISS), each a ratio to a baseline measured in the same run (machines differ
from one session to the next; ratios in one run do not): app CPU per notification <= 1.1x
the hand-written app with the memory store and <= 1.2x with SQLite; throughput >= 0.9x; p99
with 8 paced calls <= 1.25x the hand-written app's; the core per notification <= 3x the
plain function on the memory store and <= 4x on SQLite.
"""
from __future__ import annotations

import argparse
import cProfile
import hashlib
import hmac
import io
import json
import logging
import math
import os
import pstats
import secrets
import sqlite3
import statistics
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode


sys.path.insert(0, str(Path(__file__).resolve().parent))

from apps import (APP_ID, CONFIRM, GOODBYE, PIN_PROMPT, TOKEN, AppProcess,  # noqa: E402
                  create_baseline_app, create_hoiivr_app, remove_redis_keys)

from werkzeug.datastructures import EnvironHeaders  # noqa: E402

from hoiivr.carriers.base import Inbound  # noqa: E402
from hoiivr.carriers.hoiio import HoiioClient, compute_signature  # noqa: E402
from hoiivr.carriers.hoiio.notifications import SIGNATURE_HEADER  # noqa: E402
from hoiivr.simulator import (CallEnded, RealClock, SettleTimeout, Simulator,  # noqa: E402
                              SimulatorServer, Timing)
from hoiivr.simulator.errors import SimulatorError  # noqa: E402
from hoiivr.stores import store_from_url  # noqa: E402

NUMBER = "+6560000001"
REDIS_URL = "redis://127.0.0.1:6379/0"
#: Prompts take no time: the measure is the app's, not the caller's listening.
FAST = Timing(words_per_second=1e9, prompt_padding=0.0)


# -- 1. over real HTTP ----------------------------------------------------------------------

@dataclass
class HttpResult:
    name: str
    notifications: int = 0
    calls: int = 0
    failed: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    #: Per round, this app's CPU per notification and rate over the hand-written app's.
    cpu_ratios: list[float] = field(default_factory=list)
    rate_ratios: list[float] = field(default_factory=list)
    #: Per round, the 99th percentile latency.
    p99s: list[float] = field(default_factory=list)

    @property
    def cpu_ratio(self) -> float:
        return statistics.median(self.cpu_ratios)

    @property
    def rate_ratio(self) -> float:
        return statistics.median(self.rate_ratios)

    @property
    def p99(self) -> float:
        """The median of the rounds' p99: a stall of the shared machine in one round moves
        that round's tail by tens of ms, whichever app happens to be running."""
        return statistics.median(self.p99s)

    @property
    def rate(self) -> float:
        return self.notifications / self.elapsed if self.elapsed else 0.0

    @property
    def cpu_per_note(self) -> float:
        return self.cpu / self.notifications if self.notifications else float("nan")

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Placed:
    """One call the driver placed: its session and when it began and ended (monotonic)."""

    session: str
    began: float
    ended: float = float("nan")


def drive(sim: Simulator, concurrent: int, seconds: float, steps: int,
          spread: float = 0.0) -> tuple[list[Placed], int]:
    """Keep ``concurrent`` calls going for ``seconds``; each caller presses 1 at each Gather.

    Caller ``i`` places its first call ``i * spread / concurrent`` seconds in, as real
    callers arrive at different moments; with ``spread=0`` all start at once and, every
    call taking the same time, stay in lockstep: each notification then lands with seven
    others and its latency measures that queue. Returns the calls placed and the number
    that got stuck.
    """
    placed: list[Placed] = []
    stuck = [0]
    lock = threading.Lock()
    start = time.monotonic()
    stop = start + seconds

    def caller(i: int) -> None:
        time.sleep(i * spread / concurrent)
        while time.monotonic() < stop:
            call = Placed(sim.call(f"+659{i:07d}", NUMBER), time.monotonic())
            with lock:
                placed.append(call)
            for _ in range(steps):
                try:
                    sim.settle(call.session, limit=30)
                    sim.press(call.session, "1")
                except CallEnded:
                    call.ended = time.monotonic()
                    break
                except (SettleTimeout, SimulatorError):
                    with lock:
                        stuck[0] += 1
                    break
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(concurrent)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return placed, stuck[0]


class LiveApp:
    """One app under gunicorn and its own simulator, started once and measured many times.

    Every app stays up for the whole table, so a round is a few seconds of driving warm
    processes, and the apps a round compares run seconds apart: on this machine, whose
    speed drifts within a minute, the ratio then compares the apps and not the moments.
    """

    def __init__(self, name: str, factory: str, env: dict[str, str], answer_path: str,
                 concurrent: int, rounds: int, speed: float | None) -> None:
        self.name, self.concurrent, self.rounds = name, concurrent, rounds
        self.steps = 2 * rounds + 5
        clock = RealClock() if speed is None else RealClock(speed=speed)
        self.sim = Simulator(clock=clock, wait=30.0 * (speed or 1),
                             max_concurrent_calls=4 * concurrent,
                             timing=FAST if speed is None else Timing(),
                             notify_workers=concurrent)
        self.sim.add_account(APP_ID, TOKEN, balance="1000000.000")
        self.server = SimulatorServer(self.sim)
        self.server.start()
        run = secrets.token_hex(4)
        env = {key: value.replace("{run}", run) for key, value in env.items()}
        try:
            self.app = AppProcess(factory, {"HOIIO_API_URL": self.server.url + "/open/",
                                            "BENCH_ROUNDS": str(rounds), **env})
        except BaseException:           # no app: the caller has nothing to close
            self.server.stop()
            self.sim.close()
            raise
        self.answer_path, self.speed, self.spread = answer_path, speed, 0.0

    def warm_up(self) -> None:
        """Until the app answers, then a second of calls (connections, caches, the file)."""
        self.app.wait_ready()
        self.sim.add_number(NUMBER, self.app.url + self.answer_path, app_id=APP_ID)
        placed, _ = drive(self.sim, self.concurrent, 1.0, self.steps)
        # Paced callers arrive spread over one call's length, and only calls placed once
        # all are in flight count for latency. Flat out, the load itself breaks lockstep.
        lengths = [c.ended - c.began for c in placed if math.isfinite(c.ended)]
        if self.speed is not None and lengths:
            self.spread = statistics.median(lengths)

    def measure(self, seconds: float) -> HttpResult:
        """``concurrent`` calls for ``seconds``: what they cost and how they went."""
        result = HttpResult(self.name)
        cpu, began = self.app.cpu_seconds(), time.monotonic()
        placed, stuck = drive(self.sim, self.concurrent, self.spread + seconds, self.steps,
                              self.spread)
        result.elapsed = time.monotonic() - began
        result.cpu = self.app.cpu_seconds() - cpu
        result.failed = stuck
        expected = [PIN_PROMPT, CONFIRM] * self.rounds + [GOODBYE]
        for call in placed:
            info = self.sim.get_call(call.session)
            result.calls += 1
            notes = [e for e in info["timeline"] if e["type"] == "notification"]
            result.notifications += len(notes)
            if call.began >= began + self.spread:
                result.latencies += [e["latency_ms"] for e in notes if e["call_state"] != "ended"
                                     and e["latency_ms"] is not None]
            if info["prompts"] != expected or any(not e["delivered"] for e in notes):
                result.failed += 1
        return result

    def close(self) -> None:
        self.app.stop()
        self.server.stop()
        self.sim.close()


# -- 2. in-process ----------------------------------------------------------------------------

class CannedReply:
    status_code = 200
    text = '{"status": "success_ok"}'

    def json(self) -> dict[str, str]:
        return {"status": "success_ok"}


class FakeHttp:
    """A ``requests.Session`` stand-in: every POST succeeds; remembers the notify URL."""

    def __init__(self) -> None:
        self.notify_url = self.tag = ""
        self.posts = 0
        self.reply = CannedReply()

    def post(self, url: str, data: dict[str, str], timeout: Any = None) -> CannedReply:
        # What Hoiio would echo: the next notification goes to notify_url, with this tag.
        self.notify_url, self.tag = data.get("notify_url", ""), data.get("tag", "")
        self.posts += 1
        return self.reply

    def request(self, method: str, url: str, params: Any = None, data: Any = None,
                timeout: Any = None, allow_redirects: bool = True) -> CannedReply:
        return self.post(url, data if data is not None else params, timeout)

    def close(self) -> None:
        pass


PUBLIC = "http://127.0.0.1:9"
FORM = "application/x-www-form-urlencoded"


def notification_forms(session: str, rounds: int) -> list[list[tuple[str, str]]]:
    """The fields of one call's notifications, in order (the tag is added as sent)."""
    base = [("session", session), ("txn_ref", "AA-C-" + session)]
    who = [("from", "+6591234567"), ("to", NUMBER)]
    forms = [[("call_state", "ringing"), ("ivr_block", "answer"), *base, *who]]
    for _ in range(rounds):
        forms.append([("call_state", "ongoing"), ("ivr_block", "gather"), *base, *who,
                      ("digits", "1")])
        forms.append([("call_state", "ongoing"), ("ivr_block", "play"), *base, *who])
    forms.append([("call_state", "ended"), ("ivr_block", "hangup"), *base, *who,
                  ("date", "2024-01-01 10:00:00"), ("duration", "1"), ("currency", "SGD"),
                  ("rate", "0.020"), ("debit", "0.020")])
    return forms


def signed(form: list[tuple[str, str]], tag: str) -> tuple[bytes, str]:
    """A notification's body, with the tag its block was sent with, and its signature."""
    body = urlencode([*form, ("tag", tag)]).encode()
    return body, compute_signature(body, TOKEN)


def calls_of(calls: int, rounds: int) -> list[list[list[tuple[str, str]]]]:
    return [notification_forms(f"S{secrets.token_hex(6)}", rounds) for _ in range(calls)]


def expect_posts(http: FakeHttp, posts: int, calls: int, rounds: int) -> None:
    """Every notification but the end made one REST request: none was refused (a refused
    one is answered 200 too, with no effect)."""
    if http.posts - posts != calls * (1 + 2 * rounds):
        raise RuntimeError(f"{calls * (1 + 2 * rounds) - (http.posts - posts)} notifications "
                           "had no effect (refused: see the log)")


def provider_loop(http: FakeHttp, calls: int, rounds: int,
                  handle: Callable[[bytes, str, str | None], None]) -> tuple[int, float]:
    """Feed ``calls`` whole calls to ``handle(body, signature, notify_url)`` (None: the
    answer URL), each body with the tag its block was sent with, as Hoiio echoes it;
    (notifications, CPU seconds, less the signing: that is the provider's work)."""
    posts, signing = http.posts, 0.0
    began = time.process_time()
    count = 0
    for script in calls_of(calls, rounds):
        for i, form in enumerate(script):
            before = time.process_time()
            body, signature = signed(form, http.tag if i else "")
            signing += time.process_time() - before
            handle(body, signature, http.notify_url if i else None)
            count += 1
    seconds = time.process_time() - began - signing
    expect_posts(http, posts, calls, rounds)
    return count, seconds


def wsgi_loop(app: Any, http: FakeHttp, answer_path: str, calls: int,
              rounds: int) -> tuple[int, float]:
    """Feed ``calls`` whole calls to ``app``'s WSGI callable; (notifications, seconds)."""
    template = {"REQUEST_METHOD": "POST", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "9",
                "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "SCRIPT_NAME": "",
                "QUERY_STRING": "", "CONTENT_TYPE": FORM, "HTTP_HOST": "127.0.0.1:9",
                "wsgi.errors": sys.stderr, "wsgi.multithread": True,
                "wsgi.multiprocess": False, "wsgi.run_once": False, "REMOTE_ADDR": "127.0.0.1"}
    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"a notification was refused: {status}")

    def handle(body: bytes, signature: str, notify_url: str | None) -> None:
        path = notify_url[len(PUBLIC):] if notify_url else answer_path
        environ = dict(template, PATH_INFO=path, CONTENT_LENGTH=str(len(body)),
                       HTTP_X_HOIIO_SIGNATURE=signature)
        environ["wsgi.input"] = io.BytesIO(body)
        for _ in app(environ, start_response):
            pass

    return provider_loop(http, calls, rounds, handle)


def hoiivr_inprocess(store_url: str) -> tuple[Any, FakeHttp]:
    """The hoiivr app with the real client, minus the network, and the store of the URL
    (close it with :func:`close_inprocess`)."""
    app = create_hoiivr_app()
    http = FakeHttp()
    client = HoiioClient(APP_ID, TOKEN, base_url="http://127.0.0.1:9/open/",
                         session=http)  # type: ignore[arg-type]
    app.extensions["hoiivr"].handlers.init_app(app, client=client, public_url=PUBLIC,
                                               store=store_from_url(store_url))
    return app, http


def close_inprocess(app: Any) -> None:
    app.extensions["hoiivr"].wiring.store.close()


def baseline_inprocess() -> tuple[Any, FakeHttp]:
    os.environ.update(HOIIO_API_URL="http://127.0.0.1:9/open/", HOIIVR_PUBLIC_URL=PUBLIC)
    http = FakeHttp()
    return create_baseline_app(http), http


def best_of(repeat: int, run: Callable[[], tuple[int, float]]) -> float:
    """Microseconds per notification, the best of ``repeat`` runs."""
    return min(seconds / count for count, seconds in (run() for _ in range(repeat))) * 1e6


def core_hoiivr(app: Any, http: FakeHttp, calls: int, rounds: int) -> tuple[int, float]:
    """Signature, token, parsing and dispatch, as the blueprint calls them: hoiivr minus
    Flask and WSGI."""
    runtime = app.extensions["hoiivr"].runtime
    carrier, dispatcher, tokens = runtime.carrier, runtime.dispatcher, runtime.tokens
    base = PUBLIC + "/hoiio/notify/"
    # The headers as the blueprint has them: Werkzeug's view of the WSGI environ.
    header = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")

    def handle(body: bytes, signature: str, notify_url: str | None) -> None:
        token = notify_url[len(base):] if notify_url else None
        inbound = Inbound(PUBLIC, "/hoiio/notify/" if token else "/hoiio/answer", "",
                          EnvironHeaders({header: signature}), body, token=token)
        carrier.authenticate(inbound)
        note = carrier.parse(inbound)
        if token is None:
            dispatcher.ringing(note, base)
        else:
            dispatcher.notify(note, tokens.loads(token), base)

    return provider_loop(http, calls, rounds, handle)


def core_baseline(calls: int, rounds: int) -> tuple[int, float]:
    """The same parse-and-decide in plain Python, with the same canned REST."""
    http = FakeHttp()
    api, notify_url = "http://127.0.0.1:9/open/", PUBLIC + "/notify"
    state: dict[str, int] = {}

    def send(endpoint: str, session: str, **params: str) -> None:
        http.post(api + endpoint, data={"app_id": APP_ID, "access_token": TOKEN,
                                        "session": session, "notify_url": notify_url,
                                        **params}, timeout=10).json()

    scripts = [[signed(form, "")[0] for form in forms] for forms in calls_of(calls, rounds)]
    began = time.process_time()
    count = 0
    for script in scripts:
        for body in script:
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            session = form["session"]
            if form["call_state"] == "ended":
                state.pop(session, None)
            elif form["call_state"] == "ringing":
                state[session] = 1
                send("ivr/middle/gather", session, msg=PIN_PROMPT, max_digits="1", timeout="10")
            elif form["ivr_block"] == "gather":
                send("ivr/middle/play", session, msg=CONFIRM)
            elif state[session] >= rounds:
                send("ivr/end/hangup", session, msg=GOODBYE)
            else:
                state[session] += 1
                send("ivr/middle/gather", session, msg=PIN_PROMPT, max_digits="1", timeout="10")
            count += 1
    return count, time.process_time() - began


class GuardedState:
    """Call records as JSON text, in a dict or in one SQLite table: what a store that
    outlives the process must do. ``update(key, change)`` reads, changes and writes a
    record in one transaction (SQLite's ``BEGIN IMMEDIATE``: the lock between workers)."""

    def __init__(self, path: str | None) -> None:
        self.rows: dict[str, str] = {}
        self.db = None
        if path is not None:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, "
                            "record TEXT NOT NULL)")

    def update(self, key: str, change: Callable[[dict[str, Any] | None], dict[str, Any] | None]
               ) -> None:
        if self.db is None:
            text = self.rows.get(key)
            new = change(json.loads(text) if text is not None else None)
            if new is not None:
                self.rows[key] = json.dumps(new, separators=(",", ":"))
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT record FROM calls WHERE key = ?", (key,)).fetchone()
            new = change(json.loads(row[0]) if row else None)
            if new is not None:
                self.db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?)",
                                (key, json.dumps(new, separators=(",", ":"))))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        if self.db is not None:
            self.db.close()


def core_guarded(calls: int, rounds: int, store: str) -> tuple[int, float]:
    """The plain function, hand-written to keep the promises hoiivr's core keeps: the
    body's signature checked, a signed token in each notify URL naming the call and step
    (a replayed, late or forged one has no effect), the tag proving that URL, and the
    call's record read and written as JSON in one transaction per notification. It has
    none of hoiivr's checks of what a handler returns, no filler, no apology, no logging."""
    http = FakeHttp()
    api = "http://127.0.0.1:9/open/"
    body_key, token_mac = TOKEN.encode(), hmac.new(b"bench-secret", digestmod="sha1")
    folder = tempfile.TemporaryDirectory() if store == "sqlite" else None
    state = GuardedState(folder.name + "/guarded.sqlite3" if folder else None)
    refused = 0

    def token_of(key: str, seq: int) -> str:
        mac = token_mac.copy()
        mac.update(f"{key}.{seq}".encode())
        return f"{key}.{seq}.{mac.hexdigest()}"

    def proof(token: str) -> str:
        return "|hv=" + hashlib.sha256(token.encode()).hexdigest()[:10]

    def send(key: str, record: dict[str, Any], endpoint: str, **params: str) -> None:
        record["seq"] += 1
        token = token_of(key, record["seq"])
        http.post(api + endpoint, data={"app_id": APP_ID, "access_token": TOKEN,
                                        "session": record["session"],
                                        "notify_url": PUBLIC + "/notify/" + token,
                                        "tag": proof(token), **params}, timeout=10).json()

    def step(form: dict[str, str], token: str | None, key: str, seq: int,
             record: dict[str, Any] | None) -> dict[str, Any] | None:
        """The call's new record (None: refused, nothing written)."""
        nonlocal refused
        if form["call_state"] == "ended":
            return {"ended": True}
        if token is None:                            # ringing
            if record is not None:
                refused += 1
                return None
            record = {"session": form["session"], "seq": 0, "rounds": 1}
            send(key, record, "ivr/middle/gather", msg=PIN_PROMPT, max_digits="1",
                 timeout="10")
            return record
        if (record is None or record.get("ended") or seq != record["seq"]
                or not form.get("tag", "").endswith(proof(token))):
            refused += 1
            return None
        if form["ivr_block"] == "gather":
            send(key, record, "ivr/middle/play", msg=CONFIRM)
        elif record["rounds"] >= rounds:
            send(key, record, "ivr/end/hangup", msg=GOODBYE)
        else:
            record["rounds"] += 1
            send(key, record, "ivr/middle/gather", msg=PIN_PROMPT, max_digits="1",
                 timeout="10")
        return record

    def handle(body: bytes, signature: str, notify_url: str | None) -> None:
        expected = hmac.new(body_key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise RuntimeError("a forged body")
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        token = notify_url.rpartition("/")[2] if notify_url else None
        key, seq = form["session"], 0
        if token is not None:
            key, seq_text, _ = token.split(".")
            seq = int(seq_text)
            if not hmac.compare_digest(token_of(key, seq), token):
                raise RuntimeError("a forged token")
        state.update(key, lambda record: step(form, token, key, seq, record))

    try:
        result = provider_loop(http, calls, rounds, handle)
    finally:
        state.close()
        if folder is not None:
            folder.cleanup()
    if refused:
        raise RuntimeError(f"{refused} notifications were refused")
    return result


def profile_inprocess(store_url: str, calls: int, rounds: int, top: int = 25) -> str:
    app, http = hoiivr_inprocess(store_url)
    profiler = cProfile.Profile()
    profiler.enable()
    wsgi_loop(app, http, "/hoiio/answer", calls, rounds)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    close_inprocess(app)
    return out.getvalue()


# -- the report -------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=8, help="concurrent calls over HTTP")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each HTTP run")
    parser.add_argument("--rounds", type=int, default=5, help="Gather/Play pairs per call")
    parser.add_argument("--repeat", type=int, default=16,
                        help="rounds of flat-out HTTP runs (each runs every app once)")
    parser.add_argument("--paced-repeat", type=int, default=4, help="rounds of paced runs")
    parser.add_argument("--paced-seconds", type=float, default=8.0,
                        help="length of each paced run: a p99 of fewer notifications is "
                             "one or two slow ones")
    parser.add_argument("--speed", type=float, default=20.0,
                        help="clock speed of the paced HTTP runs (1b)")
    parser.add_argument("--inprocess-calls", type=int, default=200,
                        help="calls per in-process run (best of 5)")
    parser.add_argument("--control", action="store_true",
                        help="also run a second copy of the hand-written app: its ratios to "
                             "the first are this machine's noise")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of hoiivr's in-process path (memory store)")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    n, secs, rounds = args.calls, args.seconds, args.rounds
    tmp = tempfile.TemporaryDirectory(prefix="hoiivr-bench-")
    prefix = f"hoiivr-bench:{secrets.token_hex(4)}:"
    stores = {"memory": "memory://",
              "sqlite": f"sqlite:///{tmp.name}/calls.sqlite3",
              "redis": f"{REDIS_URL}?prefix={prefix}"}
    try:
        report(n, secs, rounds, args.inprocess_calls, stores, args.repeat, args.paced_repeat,
               args.speed, args.paced_seconds, args.control)
        if args.profile:
            print("\ncProfile of hoiivr's WSGI path, memory store, no network (tottime):")
            print(profile_inprocess(stores["memory"], args.inprocess_calls, rounds))
    finally:
        remove_redis_keys(REDIS_URL, prefix)
        tmp.cleanup()


def pooled(runs: list[HttpResult]) -> HttpResult:
    """Several runs of one app as one: totals, and every latency."""
    total = HttpResult(runs[0].name)
    for r in runs:
        total.notifications += r.notifications
        total.calls += r.calls
        total.failed += r.failed
        total.elapsed += r.elapsed
        total.cpu += r.cpu
        total.latencies += r.latencies
        total.cpu_ratios += r.cpu_ratios
        total.rate_ratios += r.rate_ratios
        total.p99s += r.p99s
    return total


def http_table(title: str, runs: list[HttpResult]) -> None:
    if title.startswith("\n"):
        print()
    print(textwrap.fill(title.strip(), 92, subsequent_indent="    "))
    print(f"{'app':<28}{'notes/s':>8}{'ratio':>7}{'p50 ms':>7}{'p99 ms':>7}"
          f"{'CPU us/note':>12}{'ratio':>7}{'rounds':>11}{'calls':>6}{'failed':>7}")
    for r in runs:
        spread = f"{min(r.cpu_ratios):.2f}-{max(r.cpu_ratios):.2f}"
        print(f"{r.name:<28}{r.rate:>8.0f}{r.rate_ratio:>6.2f}x{r.percentile(50):>7.1f}"
              f"{r.p99:>7.1f}{r.cpu_per_note * 1e6:>12.0f}"
              f"{r.cpu_ratio:>6.2f}x{spread:>11}{r.calls:>6}{r.failed:>7}")
    print("(rounds: the lowest and highest of the rounds' CPU ratios)")


def http_runs(apps: list[tuple[str, str, dict[str, str], str]], n: int, secs: float,
              rounds: int, repeat: int, speed: float | None) -> list[HttpResult]:
    """Each app ``repeat`` times, in rounds that run every app once, back to back.

    The first app is the reference. This shared machine's speed drifts by 10 % or more
    within a minute, so each ratio is taken within a round, and the table shows the median
    over the rounds. Every other round runs the apps in reverse order, so that a drift
    within rounds favours no app: the last app would otherwise always run furthest from
    the reference. The apps start once, before the first round, so the runs of a round
    are seconds apart, not the tens of seconds that starting a server for each took.
    """
    live: list[LiveApp] = []
    results: dict[str, list[HttpResult]] = {name: [] for name, *_ in apps}
    try:
        for name, factory, env, path in apps:
            live.append(LiveApp(name, factory, env, path, n, rounds, speed))
        for app in live:
            app.warm_up()
        for i in range(repeat):
            order = live if i % 2 == 0 else live[::-1]
            this_round = {app.name: app.measure(secs) for app in order}
            base = this_round[live[0].name]
            for name, r in this_round.items():
                r.cpu_ratios.append(r.cpu_per_note / base.cpu_per_note)
                r.rate_ratios.append(r.rate / base.rate)
                r.p99s.append(r.percentile(99))
                results[name].append(r)
    finally:
        for app in live:
            app.close()
    return [pooled(runs) for runs in results.values()]


def report(n: int, secs: float, rounds: int, inproc_calls: int, stores: dict[str, str],
           repeat: int, paced_repeat: int, speed: float, paced_secs: float,
           control: bool = False) -> None:
    began = time.monotonic()
    apps = [("hand-written Flask+requests", "create_baseline_app", {}, "/answer")]
    if control:
        apps.append(("hand-written, second copy", "create_baseline_app", {}, "/answer"))
    for store, url in stores.items():
        # Each run gets a store of its own: every simulator numbers its calls from S1001.
        if store == "sqlite":
            url = url.replace("calls.sqlite3", "http-{run}.sqlite3")
        elif store == "redis":
            url += "{run}:"
        apps.append((f"hoiivr, {store} store", "create_hoiivr_app", {"HOIIVR_STORE": url},
                     "/hoiio/answer"))
    saturated = http_runs(apps, n, secs, rounds, repeat, None)
    paced = http_runs(apps, n, paced_secs, rounds, paced_repeat, speed)
    http_table(f"1a. Over HTTP on loopback, flat out: {n} concurrent calls, prompts take no "
               f"time; {repeat} rounds, each running every app once for ~{secs:g} s (a ratio "
               f"is the median of the rounds' ratios); {rounds} Gather/Play "
               f"rounds per call ({2 * rounds + 2} notifications, {2 * rounds + 1} REST calls); "
               f"each app under gunicorn, 1 gthread worker x 8 threads; the simulator in this "
               f"process; {os.cpu_count()} CPUs", saturated)
    http_table(f"\n1b. The same, paced like real calls: prompts timed as spoken, clock "
               f"{speed:g}x real time, callers arriving spread over one call's length; "
               f"{paced_repeat} rounds of ~{paced_secs:g} s (p99: the median of the rounds')",
               paced)

    print("\n" + textwrap.fill(f"2. In-process, no network (REST answered by a fake "
                              f"requests.Session), {inproc_calls} calls x {2 * rounds + 2} "
                              f"notifications, CPU time, best of 5", 92,
                              subsequent_indent="    "))
    print(f"{'path':<46}{'us/note':>9}{'overhead us':>13}{'ratio':>7}")
    logging.getLogger("hoiivr").setLevel(logging.WARNING)
    b_app, b_http = baseline_inprocess()
    wsgi_base = best_of(5, lambda: wsgi_loop(b_app, b_http, "/answer", inproc_calls, rounds))
    print(f"{'WSGI: hand-written Flask app':<46}{wsgi_base:>9.1f}")
    for store, url in stores.items():
        app, http = hoiivr_inprocess(url)
        us = best_of(5, lambda: wsgi_loop(app, http, "/hoiio/answer", inproc_calls, rounds))
        print(f"{'WSGI: hoiivr app, ' + store + ' store':<46}{us:>9.1f}{us - wsgi_base:>13.1f}"
              f"{us / wsgi_base:>6.2f}x")
        close_inprocess(app)
    core_base = best_of(5, lambda: core_baseline(inproc_calls, rounds))
    print(f"{'core: plain parse-and-decide function':<46}{core_base:>9.1f}")
    core: dict[str, float] = {}
    guarded: dict[str, float] = {}
    for store, url in stores.items():
        app, http = hoiivr_inprocess(url)
        us = best_of(5, lambda: core_hoiivr(app, http, inproc_calls, rounds))
        core[store] = us / core_base
        print(f"{'core: verify+token+parse+dispatch, ' + store:<46}{us:>9.1f}"
              f"{us - core_base:>13.1f}{us / core_base:>6.2f}x")
        close_inprocess(app)
        if store in ("memory", "sqlite"):
            hand = best_of(5, lambda: core_guarded(inproc_calls, rounds, store))
            guarded[store] = us / hand
            print(f"{'  hand-written, same guarantees, ' + store:<46}{hand:>9.1f}"
                  f"{hand - core_base:>13.1f}{hand / core_base:>6.2f}x"
                  f"   (hoiivr: {us / hand:.2f}x it)")

    print("\nTargets")
    by_store = {r.name.split(", ")[1].split()[0]: r for r in saturated
                if r.name.startswith("hoiivr")}
    paced_by_store = {r.name.split(", ")[1].split()[0]: r for r in paced
                      if r.name.startswith("hoiivr")}
    checks = [
        ("app CPU/notification, memory store <= 1.1x hand-written (1a)",
         by_store["memory"].cpu_ratio, 1.1, "<="),
        ("app CPU/notification, SQLite store <= 1.2x hand-written (1a)",
         by_store["sqlite"].cpu_ratio, 1.2, "<="),
    ]
    for store, r in by_store.items():
        checks.append((f"throughput, {store} store >= 0.9x hand-written (1a)",
                       r.rate_ratio, 0.9, ">="))
    # A ratio, not milliseconds: this machine's speed moves between sessions (3.8x once).
    paced_base = next(r for r in paced if r.name.startswith("hand-written"))
    for store, r in paced_by_store.items():
        checks.append((f"p99 latency, {store} store, {n} calls <= 1.25x hand-written (1b)",
                       r.p99 / paced_base.p99, 1.25, "<="))
    for store, limit in (("memory", 3.0), ("sqlite", 4.0)):
        if store in core:
            checks.append((f"core per notification, {store} <= {limit:g}x plain function (2)",
                           core[store], limit, "<="))
    checks.append(("no failed calls (1a, 1b)",
                   float(sum(r.failed for r in saturated + paced)), 0.0, "<="))
    for label, value, limit, op in checks:
        ok = value <= limit if op == "<=" else value >= limit if op == ">=" else value < limit
        print(f"  {verdict(ok)}  {label:<62} {value:.3f}")   # 0.899 is not 0.90
    for store, ratio in guarded.items():
        # Not a target: the core against the least code that keeps its promises (the
        # signature, the step's token and proof, the record stored in one transaction).
        print(f"  info  core, {store} store: {ratio:.2f}x the hand-written function with "
              "the same guarantees (2)")
    print(f"(run took {time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
