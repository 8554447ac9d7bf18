"""What hoiivr costs on Twilio over a hand-written Flask + ``twilio`` app doing the same calls.

Run: ``python benchmarks/twilio_framework.py [--calls 8] [--seconds 2] [--repeat 16]
[--control] [--profile]`` (about three minutes with the defaults; loopback only). Not
``twilio.py``: run as a script, this directory comes first on ``sys.path``, and a module
of that name would hide the ``twilio`` package from both apps.

Two apps do the same fixed flow on a TwiML number (``benchmarks/twilio_apps.py``): Voice
URL -> Gather (one key, the prompt inside) -> its action -> Say "Thank you." and Redirect
-> the redirect -> Gather ... (``--rounds`` times) -> Say "Goodbye." and Hangup -> the
number's status callback: ``2 * rounds + 2`` webhooks per call, the TwiML document the
webhook's answer. Every webhook is signed and both apps check the signature.

1. Over real HTTP on loopback. The simulator (``SimulatorServer``, real clock) is Twilio;
   its phones press a key at each Gather and prompts take no time (``Timing``), so the
   loop is as fast as the processes allow. Each app runs in its own process: gunicorn,
   1 gthread worker with 8 threads, ``gunicorn.conf.py``. For each: webhooks/s, p50
   webhook latency, and the app process's CPU time per webhook (utime + stime of
   gunicorn's processes from ``/proc``), with the ratio to the hand-written app. hoiivr
   runs once per store: memory and SQLite. Every app and its simulator start once and
   stay up; the runs go in rounds that drive every app once, back to back (every other
   round in reverse order), and each ratio is the median of the rounds' ratios, as in
   ``framework.py`` (``--control`` adds a second copy of the hand-written app: its ratios
   to the first are this machine's noise). Every call is checked: its prompts, and
   ``2 * rounds + 2`` webhooks, each answered 2xx.
2. In-process, no network: the CPU microseconds per webhook of each app's WSGI callable,
   and of the Twilio edge alone (hoiivr: the carrier's authenticate, parse and deliver;
   hand-written: the form parsed, ``RequestValidator.validate``, the ``VoiceResponse``
   built and written).

Targets (PASS/MISS): app CPU per webhook <= 1.1x the hand-written app with the memory
store and <= 1.2x with SQLite (1); both apps get the same webhooks per call; no failed call.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import re
import secrets
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apps import CONFIRM, GOODBYE, PIN_PROMPT  # noqa: E402
from framework import FAST, NUMBER, HttpResult, best_of, drive, pooled, verdict  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402
from twilio.twiml.voice_response import VoiceResponse  # noqa: E402
from twilio_apps import (GATHER_TIMEOUT, SID, TOKEN, VOICE, TwimlAppProcess,  # noqa: E402
                         create_baseline_app, create_hoiivr_app)
from werkzeug.datastructures import MultiDict  # noqa: E402

from hoiivr import Gather, Hangup, Play  # noqa: E402
from hoiivr.blocks import Block  # noqa: E402
from hoiivr.carriers.base import Inbound  # noqa: E402
from hoiivr.simulator import RealClock, Simulator, SimulatorServer  # noqa: E402

CALLER = "+6591234567"
#: (factory, Voice URL path, status callback path) of each app.
BASELINE = ("create_baseline_app", "/voice", "/status")
HOIIVR = ("create_hoiivr_app", "/twilio/answer", "/twilio/answer")


def webhooks_per_call(rounds: int) -> int:
    return 2 * rounds + 2


# -- 1. over real HTTP ----------------------------------------------------------------------

class LiveTwimlApp:
    """One app under gunicorn and its own simulator with a TwiML number, started once and
    measured many times (``framework.LiveApp``'s way, on Twilio)."""

    def __init__(self, name: str, app: tuple[str, str, str], env: dict[str, str],
                 concurrent: int, rounds: int) -> None:
        self.name, self.concurrent, self.rounds = name, concurrent, rounds
        self.steps = 2 * rounds + 5
        self.paths = app[1:]
        #: Calls by the number of webhooks they made (a call that differs fails).
        self.webhooks: Counter[int] = Counter()
        self.sim = Simulator(clock=RealClock(), wait=30.0, max_concurrent_calls=4 * concurrent,
                             timing=FAST, notify_workers=concurrent)
        self.sim.add_twilio_account(SID, TOKEN)
        self.server = SimulatorServer(self.sim)
        self.server.start()
        run = secrets.token_hex(4)
        env = {key: value.replace("{run}", run) for key, value in env.items()}
        try:
            self.app = TwimlAppProcess(app[0], {"BENCH_ROUNDS": str(rounds),
                                                "TWILIO_AUTH_TOKEN": TOKEN, **env})
        except BaseException:           # no app: the caller has nothing to close
            self.server.stop()
            self.sim.close()
            raise

    def warm_up(self) -> None:
        """Until the app answers, then a second of calls (connections, caches, the file)."""
        self.app.wait_ready()
        voice, status = (self.app.url + path for path in self.paths)
        self.sim.add_twiml_number(NUMBER, voice, status_callback=status)
        drive(self.sim, self.concurrent, 1.0, self.steps)

    def measure(self, seconds: float) -> HttpResult:
        """``concurrent`` calls for ``seconds``: what they cost and how they went."""
        result = HttpResult(self.name)
        cpu, began = self.app.cpu_seconds(), time.monotonic()
        placed, stuck = drive(self.sim, self.concurrent, seconds, self.steps)
        result.elapsed = time.monotonic() - began
        result.cpu = self.app.cpu_seconds() - cpu
        result.failed = stuck
        for call in placed:
            result.calls += 1
            result.failed += not self._check(call.session, result)
        return result

    def _check(self, session: str, result: HttpResult) -> bool:
        """Count the call's webhooks into ``result``; whether the call went as it should."""
        info = self.sim.get_call(session)
        hooks = [e for e in info["timeline"] if e["type"] in ("webhook", "callback")]
        result.notifications += len(hooks)
        result.latencies += [e["latency_ms"] for e in hooks
                             if e["type"] == "webhook" and e["latency_ms"] is not None]
        self.webhooks[len(hooks)] += 1
        expected = [PIN_PROMPT, CONFIRM] * self.rounds + [GOODBYE]
        return (info["prompts"] == expected and len(hooks) == webhooks_per_call(self.rounds)
                and all(e["delivered"] and e["reply_status"] < 300 for e in hooks))

    def close(self) -> None:
        self.app.stop()
        self.server.stop()
        self.sim.close()


def http_runs(apps: list[tuple[str, tuple[str, str, str], dict[str, str]]], n: int,
              secs: float, rounds: int, repeat: int) -> tuple[list[HttpResult],
                                                               dict[str, Counter[int]]]:
    """Each app ``repeat`` times, in rounds that run every app once, back to back, every
    other round in reverse order; the first app is the reference of each round's ratios
    (``framework.http_runs``, whose reasons hold here too). Also each app's calls by
    their number of webhooks."""
    live: list[LiveTwimlApp] = []
    results: dict[str, list[HttpResult]] = {name: [] for name, *_ in apps}
    try:
        for name, app, env in apps:
            live.append(LiveTwimlApp(name, app, env, n, rounds))
        for each in live:
            each.warm_up()
        for i in range(repeat):
            order = live if i % 2 == 0 else live[::-1]
            this_round = {each.name: each.measure(secs) for each in order}
            base = this_round[live[0].name]
            for name, r in this_round.items():
                r.cpu_ratios.append(r.cpu_per_note / base.cpu_per_note)
                r.rate_ratios.append(r.rate / base.rate)
                results[name].append(r)
    finally:
        for each in live:
            each.close()
    return ([pooled(runs) for runs in results.values()],
            {each.name: each.webhooks for each in live})


def http_table(title: str, runs: list[HttpResult]) -> None:
    print(textwrap.fill(title, 92, subsequent_indent="    "))
    print(f"{'app':<30}{'hooks/s':>8}{'ratio':>7}{'p50 ms':>7}{'CPU us/hook':>12}{'ratio':>7}"
          f"{'rounds':>11}{'calls':>6}{'failed':>7}")
    for r in runs:
        spread = f"{min(r.cpu_ratios):.2f}-{max(r.cpu_ratios):.2f}"
        print(f"{r.name:<30}{r.rate:>8.0f}{r.rate_ratio:>6.2f}x{r.percentile(50):>7.1f}"
              f"{r.cpu_per_note * 1e6:>12.0f}{r.cpu_ratio:>6.2f}x{spread:>11}{r.calls:>6}"
              f"{r.failed:>7}")
    print("(rounds: the lowest and highest of the rounds' CPU ratios)")


# -- 2. in-process ----------------------------------------------------------------------------

PUBLIC = "http://127.0.0.1:9"
FORM = "application/x-www-form-urlencoded"
#: Where a TwiML answer sends the call next: a Gather's action or a Redirect.
NEXT_URL = re.compile(r'<Gather action="([^"]+)"|<Redirect[^>]*>([^<]+)</Redirect>')
ENVIRON = {"REQUEST_METHOD": "POST", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "9",
           "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "SCRIPT_NAME": "",
           "QUERY_STRING": "", "CONTENT_TYPE": FORM, "HTTP_HOST": "127.0.0.1:9",
           "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
           "wsgi.run_once": False, "REMOTE_ADDR": "127.0.0.1"}


class Webhook:
    """One webhook as the simulator sends it: path, form and signature."""

    signer = RequestValidator(TOKEN)

    def __init__(self, path: str, params: dict[str, str]) -> None:
        self.path, self.params = path, params
        self.body = urlencode(params).encode()
        self.signature = self.signer.compute_signature(PUBLIC + path, params)

    def environ(self) -> dict[str, Any]:
        environ = dict(ENVIRON, PATH_INFO=self.path, CONTENT_LENGTH=str(len(self.body)),
                       HTTP_X_TWILIO_SIGNATURE=self.signature)
        environ["wsgi.input"] = io.BytesIO(self.body)
        return environ


class Caller:
    """One call's webhooks, each made from the app's answer to the one before."""

    def __init__(self, paths: tuple[str, str]) -> None:
        self.voice, self.status = paths
        self.fields = {"AccountSid": SID, "ApiVersion": "2010-04-01",
                       "CallSid": "CA" + secrets.token_hex(16), "Called": NUMBER,
                       "Caller": CALLER, "Direction": "inbound", "From": CALLER, "To": NUMBER}

    def first(self) -> Webhook:
        return Webhook(self.voice, {**self.fields, "CallStatus": "ringing"})

    def next(self, answer: str) -> Webhook | None:
        """The webhook ``answer`` leads to: its Gather's action (the caller pressed 1), its
        Redirect, or the status callback once it ends the call; None after that one."""
        if "<Hangup" in answer:
            return Webhook(self.status, {**self.fields, "CallStatus": "completed",
                                         "CallDuration": "3", "Duration": "1"})
        found = NEXT_URL.search(answer)
        if found is None:
            return None
        url = found.group(1) or found.group(2)
        fields = {**self.fields, "CallStatus": "in-progress"}
        if found.group(1):
            fields["Digits"] = "1"
        return Webhook(url.removeprefix(PUBLIC), fields)


def wsgi_loop(app: Any, paths: tuple[str, str], calls: int, rounds: int,
              profiler: cProfile.Profile | None = None) -> tuple[int, float]:
    """Feed ``calls`` whole calls to ``app``'s WSGI callable; (webhooks, CPU seconds of the
    app alone: signing each webhook and reading each answer are not counted, nor
    profiled by ``profiler``)."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    count, seconds = 0, 0.0
    for _ in range(calls):
        caller = Caller(paths)
        hook: Webhook | None = caller.first()
        while hook is not None:
            environ = hook.environ()
            began = time.process_time()
            if profiler is not None:
                profiler.enable()
            answer = b"".join(app(environ, start_response))
            if profiler is not None:
                profiler.disable()
            seconds += time.process_time() - began
            count += 1
            hook = caller.next(answer.decode())
    bad = [s for s in statuses if not s.startswith(("200", "204"))]
    if bad:
        raise RuntimeError(f"{len(bad)} webhooks refused, e.g. {bad[0]}")
    if count != calls * webhooks_per_call(rounds):
        raise RuntimeError(f"{count} webhooks for {calls} calls, not "
                           f"{webhooks_per_call(rounds)} each")
    return count, seconds


def hoiivr_inprocess(store_url: str) -> Any:
    """The hoiivr app with the store of the URL (close it with ``close_inprocess``)."""
    app = create_hoiivr_app()
    app.config.update(HOIIVR_STORE=store_url, HOIIVR_PUBLIC_URL=PUBLIC)
    return app


def close_inprocess(app: Any) -> None:
    app.extensions["hoiivr"].close()


def recorded_call(app: Any, paths: tuple[str, str]) -> list[tuple[Webhook, str]]:
    """One call's webhooks through ``app``, each with the app's answer."""
    caller = Caller(paths)
    hook: Webhook | None = caller.first()
    made: list[tuple[Webhook, str]] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        pass

    while hook is not None:
        answer = b"".join(app(hook.environ(), start_response)).decode()
        made.append((hook, answer))
        hook = caller.next(answer)
    return made


def edge_hoiivr(store_url: str, calls: int) -> Callable[[], tuple[int, float]]:
    """The Twilio carrier's part of each webhook: authenticate, parse, and deliver (the
    TwiML of the blocks the handler returned) or acknowledge."""
    app = hoiivr_inprocess(store_url)
    script = recorded_call(app, HOIIVR[1:])
    carrier = app.extensions["hoiivr"].runtime.carrier
    notify_url = PUBLIC + "/twilio/notify/" + "t" * 80
    steps: list[tuple[Inbound, list[Block] | None]] = []
    for hook, answer in script:
        inbound = Inbound(PUBLIC, hook.path, "", {"X-Twilio-Signature": hook.signature},
                          hook.body)
        blocks: list[Block] | None = (
            [Gather(PIN_PROMPT, max_digits=1, timeout=GATHER_TIMEOUT, name="pin")]
            if "<Gather" in answer else [Play(CONFIRM, name="confirm")]
            if "<Redirect" in answer else [Hangup(GOODBYE)] if "<Hangup" in answer else None)
        steps.append((inbound, blocks))
    close_inprocess(app)

    def run() -> tuple[int, float]:
        began = time.process_time()
        for _ in range(calls):
            for inbound, blocks in steps:
                carrier.authenticate(inbound)
                carrier.parse(inbound)
                if blocks is None:
                    carrier.acknowledge()
                else:
                    carrier.deliver(None, blocks, notify_url, ringing=blocks is steps[0][1])
        return calls * len(steps), time.process_time() - began
    return run


def edge_baseline(calls: int) -> Callable[[], tuple[int, float]]:
    """The same for the hand-written app: the form parsed (as werkzeug does), validated,
    and the answer built with ``VoiceResponse`` and written."""
    app = create_baseline_app()
    script = recorded_call(app, BASELINE[1:])

    def document(answer: str) -> str:
        response = VoiceResponse()
        if "<Gather" in answer:
            response.gather(action="/gather", method="POST", num_digits=1,
                            timeout=GATHER_TIMEOUT, finish_on_key="#",
                            action_on_empty_result=True).say(PIN_PROMPT, voice=VOICE)
        elif "<Redirect" in answer:
            response.say(CONFIRM, voice=VOICE)
            response.redirect("/confirmed", method="POST")
        elif "<Hangup" in answer:
            response.say(GOODBYE, voice=VOICE)
            response.hangup()
        return str(response)

    def run() -> tuple[int, float]:
        began = time.process_time()
        for _ in range(calls):
            for hook, answer in script:
                form = MultiDict(parse_qsl(hook.body.decode(), keep_blank_values=True))
                if not RequestValidator(TOKEN).validate(PUBLIC + hook.path, form,
                                                                  hook.signature):
                    raise RuntimeError("the hand-written app's signature check failed")
                if answer:
                    document(answer)
        return calls * len(script), time.process_time() - began
    return run


def profile_inprocess(store_url: str, calls: int, rounds: int, top: int = 30) -> str:
    app = hoiivr_inprocess(store_url)
    wsgi_loop(app, HOIIVR[1:], 5, rounds)
    profiler = cProfile.Profile()
    wsgi_loop(app, HOIIVR[1:], calls, rounds, profiler)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    close_inprocess(app)
    return out.getvalue()


def inprocess_report(stores: dict[str, str], calls: int, rounds: int) -> None:
    print("\n" + textwrap.fill(f"2. In-process, no network, {calls} calls x "
                              f"{webhooks_per_call(rounds)} webhooks, CPU time, best of 5",
                              92, subsequent_indent="    "))
    print(f"{'path':<50}{'us/hook':>9}{'overhead us':>13}{'ratio':>7}")
    logging.getLogger("hoiivr").setLevel(logging.WARNING)
    base = create_baseline_app()
    wsgi_base = best_of(5, lambda: wsgi_loop(base, BASELINE[1:], calls, rounds))
    print(f"{'WSGI: hand-written Flask + twilio app':<50}{wsgi_base:>9.1f}")
    for store, url in stores.items():
        app = hoiivr_inprocess(url)
        wsgi_loop(app, HOIIVR[1:], 5, rounds)       # builds the runtime
        us = best_of(5, lambda: wsgi_loop(app, HOIIVR[1:], calls, rounds))
        print(f"{'WSGI: hoiivr app, ' + store + ' store':<50}{us:>9.1f}{us - wsgi_base:>13.1f}"
              f"{us / wsgi_base:>6.2f}x")
        close_inprocess(app)
    edge_base = best_of(5, edge_baseline(calls))
    print(f"{'edge: hand-written: form, validate, VoiceResponse':<50}{edge_base:>9.1f}")
    edge = best_of(5, edge_hoiivr(stores["memory"], calls))
    print(f"{'edge: hoiivr carrier: authenticate, parse, deliver':<50}{edge:>9.1f}"
          f"{edge - edge_base:>13.1f}{edge / edge_base:>6.2f}x")


# -- the report -------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=8, help="concurrent calls over HTTP")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each HTTP run")
    parser.add_argument("--rounds", type=int, default=5, help="Gather/Say rounds per call")
    parser.add_argument("--repeat", type=int, default=16,
                        help="rounds of HTTP runs (each runs every app once)")
    parser.add_argument("--inprocess-calls", type=int, default=200,
                        help="calls per in-process run (best of 5)")
    parser.add_argument("--control", action="store_true",
                        help="also run a second copy of the hand-written app: its ratios to "
                             "the first are this machine's noise")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of hoiivr's in-process path (memory store)")
    args = parser.parse_args()
    os.environ["BENCH_ROUNDS"] = str(args.rounds)      # the in-process apps read it too
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    tmp = tempfile.TemporaryDirectory(prefix="hoiivr-twilio-bench-")
    stores = {"memory": "memory://", "sqlite": f"sqlite:///{tmp.name}/calls.sqlite3"}
    try:
        report(args, stores)
        if args.profile:
            print("\ncProfile of hoiivr's WSGI path on Twilio, memory store, no network "
                  "(tottime):")
            print(profile_inprocess(stores["memory"], args.inprocess_calls, args.rounds))
    finally:
        tmp.cleanup()


def report(args: argparse.Namespace, stores: dict[str, str]) -> None:
    began = time.monotonic()
    n, secs, rounds = args.calls, args.seconds, args.rounds
    apps: list[tuple[str, tuple[str, str, str], dict[str, str]]] = [
        ("hand-written Flask+twilio", BASELINE, {})]
    if args.control:
        apps.append(("hand-written, second copy", BASELINE, {}))
    for store, url in stores.items():
        # Each run gets a store of its own: every simulator's calls are new to it.
        url = url.replace("calls.sqlite3", "http-{run}.sqlite3")
        apps.append((f"hoiivr, {store} store", HOIIVR, {"HOIIVR_STORE": url}))
    runs, webhooks = http_runs(apps, n, secs, rounds, args.repeat)
    http_table(f"1. Over HTTP on loopback: {n} concurrent calls, prompts take no time; "
               f"{args.repeat} rounds, each running every app once for ~{secs:g} s (a ratio "
               f"is the median of the rounds' ratios); {rounds} Gather/Say rounds per call "
               f"({webhooks_per_call(rounds)} webhooks); each app under gunicorn, 1 gthread "
               f"worker x 8 threads; the simulator in this process; {os.cpu_count()} CPUs",
               runs)
    for name, counts in webhooks.items():
        print(f"  {name}: calls by webhooks per call: {dict(sorted(counts.items()))}")
    inprocess_report(stores, args.inprocess_calls, rounds)

    print("\nTargets")
    by_store = {r.name.split(", ")[1].split()[0]: r for r in runs if r.name.startswith("hoiivr")}
    base_counts = set(webhooks[apps[0][0]])
    checks = [
        ("app CPU/webhook, memory store <= 1.1x hand-written (1)",
         by_store["memory"].cpu_ratio, 1.1),
        ("app CPU/webhook, SQLite store <= 1.2x hand-written (1)",
         by_store["sqlite"].cpu_ratio, 1.2),
        ("every app got the same webhooks per call (1)",
         float(sum(set(c) != base_counts for c in webhooks.values())), 0.0),
        ("no failed calls (1)", float(sum(r.failed for r in runs)), 0.0),
    ]
    for label, value, limit in checks:
        print(f"  {verdict(value <= limit)}  {label:<62} {value:.3f}")
    print(f"(run took {time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
