"""What a whole call in ``hoiivr.testing.Phone`` costs, against the floor of the HTTP
exchanges it needs, on each carrier.

Run: ``python benchmarks/phone.py [--rounds 15] [--calls 60] [--profile] [--carrier C]``

Each call is the three steps of a typical test: the call is answered with a Gather, the
caller presses 1 (the handler returns a Hangup), and the call ends -- with the test's
assertions on the prompts and the call state. Everything runs in this process on the
virtual clock, with no socket.

The floor is what the exchanges of such a call would cost with nothing in them: nine POSTs
through a bare Flask app's ``test_client`` to a route that answers "ok", each with the form
of the call's Gather notification (the notification and REST exchanges such a call needs).
Both are measured in the same run, in CPU seconds (which other programs on the machine
inflate less than wall time), in interleaved rounds, a fresh Phone each round (built
untimed). The verdict is on the best round of each (the cost with the least interference
from the rest of the machine); the medians are shown beside. Target: a Phone call costs at
most the floor (ratio <= 1.0), on both carriers.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time
from typing import Callable

from flask import Flask

from hoiivr import IVR, Gather, Hangup
from hoiivr.testing import Phone

TARGET = 1.0
CARRIERS = ("hoiio", "twilio")
#: The exchanges of the floor: what a three-step call needs.
EXCHANGES = 9
#: The figures of a whole test (a new Phone and a call) go under the carrier's name + this.
TEST = " test"


def create_app(carrier: str = "hoiio") -> Flask:
    app = Flask("phone_bench")
    app.config.update(HOIIVR_CARRIER=carrier, HOIIO_APP_ID="AID", HOIIO_ACCESS_TOKEN="token",
                      TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN="token",
                      SECRET_KEY="secret")
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


def floor_app() -> Flask:
    """The bare minimum on the other end of an exchange: a route that answers "ok"."""
    app = Flask("floor")

    @app.post("/hook")
    def hook() -> str:
        return "ok"

    return app


def floor_exchanges(client: object) -> Callable[[], None]:
    post = client.post  # type: ignore[attr-defined]
    form = {"call_state": "ongoing", "ivr_block": "gather", "session": "S" + "1" * 24,
            "txn_ref": "AA-C-" + "1" * 24, "tag": "|hv=vYxEAVsvVT", "from": "+6591234567",
            "to": "+6560000000", "digits": "1"}

    def nine() -> None:
        for _ in range(EXCHANGES):
            post("/hook", data=form)

    return nine


def cpu_per_run(run: Callable[[], None], times: int) -> float:
    began = time.process_time()
    for _ in range(times):
        run()
    return (time.process_time() - began) / times


def measure(rounds: int, calls: int, carriers: tuple[str, ...]) -> dict[str, list[float]]:
    """CPU seconds per call (and per floor of nine exchanges), one figure per round; the
    rounds interleave the floor and the carriers, so that a slow spell of the machine
    weighs on all of them."""
    nine = floor_exchanges(floor_app().test_client())
    apps = {carrier: create_app(carrier) for carrier in carriers}
    figures: dict[str, list[float]] = {"floor": [], **{c: [] for c in carriers},
                                       **{c + TEST: [] for c in carriers}}
    for _ in range(rounds + 1):                      # the first round warms up, unkept
        figures["floor"].append(cpu_per_run(nine, calls))
        for carrier, app in apps.items():
            with Phone(app) as phone:               # a fresh Phone a round, built untimed
                figures[carrier].append(cpu_per_run(lambda: one_call(phone), calls))
            figures[carrier + TEST].append(cpu_per_run(lambda: a_test(app), calls // 4 or 1))
    return {name: values[1:] for name, values in figures.items()}


def a_test(app: Flask) -> None:
    """What a test with the ``phone`` fixture does: a new Phone, one call, closed."""
    with Phone(app) as phone:
        one_call(phone)


def report(figures: dict[str, list[float]], carriers: tuple[str, ...]) -> None:
    floor, floor_median = min(figures["floor"]), statistics.median(figures["floor"])
    print("Phone, in-process: answer -> Gather, press 1 -> Hangup, ended; against the floor of "
          f"{EXCHANGES} bare Flask test_client POSTs")
    print(f"(CPU ms per call, best and median of {len(figures['floor'])} interleaved rounds)")
    print(f"{'':>8}{'best':>8}{'floor':>8}{'ratio':>7}{'median':>9}{'floor':>8}{'ratio':>7}"
          "  target (best)")
    for carrier in carriers:
        best, median = min(figures[carrier]), statistics.median(figures[carrier])
        ratio = best / floor
        verdict = "PASS" if ratio <= TARGET else "MISS"
        print(f"{carrier:>8}{best * 1000:>8.3f}{floor * 1000:>8.3f}{ratio:>7.2f}"
              f"{median * 1000:>9.3f}{floor_median * 1000:>8.3f}{median / floor_median:>7.2f}"
              f"  <= {TARGET:.1f}x: {verdict}")
    print("A test (a new Phone, as the phone fixture makes, one call, closed), CPU ms:")
    for carrier in carriers:
        best, median = min(figures[carrier + TEST]), statistics.median(figures[carrier + TEST])
        print(f"{carrier:>8}{best * 1000:>8.3f}{floor * 1000:>8.3f}{best / floor:>7.2f}"
              f"{median * 1000:>9.3f}{floor_median * 1000:>8.3f}"
              f"{median / floor_median:>7.2f}  (no target)")


def profile(carrier: str, calls: int) -> None:
    app = create_app(carrier)
    with Phone(app) as phone:
        for _ in range(20):                          # warm up: imports, first requests
            one_call(phone)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            one_call(phone)
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="rounds measured (default 15)")
    parser.add_argument("--calls", type=int, default=60,
                        help="calls (and floors) a round (default 60)")
    parser.add_argument("--carrier", choices=CARRIERS, action="append",
                        help="measure only this carrier (repeatable; default both)")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile (tottime) of --calls calls instead")
    args = parser.parse_args()
    carriers = tuple(args.carrier or CARRIERS)
    if args.profile:
        for carrier in carriers:
            print(f"-- {carrier}")
            profile(carrier, args.calls)
        return
    report(measure(args.rounds, args.calls, carriers), carriers)


if __name__ == "__main__":
    main()
