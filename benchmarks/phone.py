"""How many whole calls a second ``hoiivr.testing.Phone`` runs in-process.

Run: ``python benchmarks/phone.py [--seconds 5] [--profile]``

Each call is the three steps of a typical test: the call is answered with a Gather (one
ringing notification, one REST request), the caller presses 1 (one notification; the
handler returns a Hangup), and the call ends (one notification) -- with the test's
assertions on the last prompt and the call state. Everything runs in this process on the
virtual clock, through WSGI, with no socket. Target: at least 200 calls a second.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

from flask import Flask

from hoiivr import IVR, Gather, Hangup
from hoiivr.testing import Phone

TARGET = 200.0


def create_app() -> Flask:
    app = Flask("phone_bench")
    app.config.update(HOIIO_APP_ID="AID", HOIIO_ACCESS_TOKEN="token", SECRET_KEY="secret")
    ivr = IVR(app)

    @ivr.on_answer
    def answer(call):
        return Gather("Press 1 for sales.", max_digits=1, name="menu")

    @ivr.on_gather("menu")
    def menu(call):
        return Hangup("Goodbye.")

    return app


def one_call(phone: Phone) -> None:
    call = phone.call()
    assert call.last_prompt == "Press 1 for sales."
    call.press("1")
    assert call.call_state == "ended"
    assert call.last_prompt == "Goodbye."


def run(seconds: float, max_calls: int = 100_000) -> tuple[int, float, float]:
    """Calls completed within ``seconds`` (a fresh Phone every 500 calls), the seconds
    taken, and the CPU seconds taken (which other programs on the machine do not inflate)."""
    app = create_app()
    done = 0
    cpu = time.process_time()
    began = time.perf_counter()
    while done < max_calls and time.perf_counter() - began < seconds:
        with Phone(app) as phone:
            for _ in range(500):
                one_call(phone)
                done += 1
                if time.perf_counter() - began >= seconds:
                    break
    return done, time.perf_counter() - began, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the run")
    parser.add_argument("--profile", action="store_true", help="print a cProfile (tottime)")
    args = parser.parse_args()
    run(0.5)                                         # warm up: imports, first requests
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run(args.seconds)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())
        return
    calls, seconds, cpu = run(args.seconds)
    rate = calls / seconds
    print("Phone, in-process: answer -> Gather, press 1 -> Hangup, ended "
          "(3 notifications, 2 REST requests per call)")
    print(f"{'calls':>8}{'seconds':>9}{'calls/s':>9}{'ms/call':>9}{'calls/CPU-s':>13}  target")
    print(f"{calls:>8}{seconds:>9.2f}{rate:>9.1f}{1000 / rate:>9.2f}{calls / cpu:>13.1f}  "
          f">= {TARGET:.0f}/s: {'PASS' if rate >= TARGET else 'MISS'}")


if __name__ == "__main__":
    main()
