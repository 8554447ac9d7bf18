"""How fast the simulator serves block requests and notifications over real HTTP.

Run: ``python benchmarks/simulator_throughput.py [--calls 8] [--seconds 5]``

Three measurements, all on loopback in one run, each bounded in time:

1. baseline: N client threads POSTing to a trivial Flask endpoint (constant JSON) served
   by werkzeug -- the cost of bare loopback HTTP with this stack;
2. REST only: the same N threads calling ``user/get_balance`` on a SimulatorServer;
3. calls: N concurrent incoming calls; a minimal receiver answers each notification by
   issuing the next Play (empty msg) from inside its handler, and hangs up after a fixed
   number of blocks; new calls replace finished ones until time is up. Block requests/s
   and notifications/s are counted at the receiver.
"""
from __future__ import annotations

import argparse
import logging
import threading
import time
from typing import Callable

import requests
from flask import Flask, request

from hoiivr.simulator import RealClock, Simulator, SimulatorServer
from hoiivr.testing import LiveServer

APP_ID, TOKEN, NUMBER, CALLER = "AIDBENCH", "bench-token", "+6560000001", "+6590000001"
BLOCKS_PER_CALL = 20


def hammer(threads: int, seconds: float, one: Callable[[requests.Session], None]) -> float:
    """Requests per second from ``threads`` threads each calling ``one`` for ``seconds``."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        with requests.Session() as http:
            while time.monotonic() < stop:
                one(http)
                counts[i] += 1
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.monotonic() - start)


def baseline(threads: int, seconds: float) -> float:
    app = Flask("baseline")
    app.add_url_rule("/open/user/get_balance", "b",
                     lambda: {"status": "success_ok", "currency": "SGD", "balance": "1.000"},
                     methods=["GET", "POST"])
    server = LiveServer(app).start()
    try:
        url = server.url + "/open/user/get_balance"
        return hammer(threads, seconds, lambda http: http.post(
            url, data={"app_id": APP_ID, "access_token": TOKEN}, timeout=10).raise_for_status())
    finally:
        server.stop()


def rest_only(sim_url: str, threads: int, seconds: float) -> float:
    url = sim_url + "/open/user/get_balance"

    def one(http: requests.Session) -> None:
        assert http.post(url, data={"app_id": APP_ID, "access_token": TOKEN},
                         timeout=10).json()["status"] == "success_ok"
    return hammer(threads, seconds, one)


class Receiver:
    """Answers every notification with the next block, from inside the handler."""

    def __init__(self, sim_url: str) -> None:
        self.open = sim_url + "/open/"
        self.local = threading.local()
        self.sessions: list[requests.Session] = []
        self.lock = threading.Lock()
        self.blocks = self.notifications = self.errors = self.ended = 0
        self.progress: dict[str, int] = {}
        self.done = threading.Condition(self.lock)
        self.url = ""
        self.draining = False           # time is up: hang up every call at its next step
        self.app = Flask("receiver")
        self.app.add_url_rule("/n", "n", self.notify, methods=["POST"])

    def http(self) -> requests.Session:
        if not hasattr(self.local, "http"):
            self.local.http = requests.Session()
            with self.lock:
                self.sessions.append(self.local.http)
        return self.local.http

    def notify(self) -> str:
        form = request.form
        session = form["session"]
        with self.lock:
            self.notifications += 1
            if form["call_state"] == "ended":
                self.ended += 1
                self.done.notify_all()
                return "OK"
            step = self.progress[session] = self.progress.get(session, 0) + 1
        last = step >= BLOCKS_PER_CALL or self.draining
        endpoint = "ivr/end/hangup" if last else "ivr/middle/play"
        try:
            reply = self.http().post(self.open + endpoint, data={
                "app_id": APP_ID, "access_token": TOKEN, "session": session,
                "notify_url": self.url + "/n"}, timeout=10).json()
        except requests.RequestException:
            reply = {"status": "error_transport"}
        with self.lock:
            self.blocks += 1
            self.errors += reply["status"] != "success_ok"
        return "OK"

    def close(self) -> None:
        for http in self.sessions:
            http.close()


def calls(sim: Simulator, sim_url: str, concurrent: int, seconds: float) -> dict[str, float]:
    receiver = Receiver(sim_url)
    server = LiveServer(receiver.app).start()
    receiver.url = server.url
    sim.add_number(NUMBER, server.url + "/n", app_id=APP_ID)
    started = 0
    try:
        with requests.Session() as control:
            def start_call() -> None:
                nonlocal started
                control.post(sim_url + "/sim/calls", data={"from": CALLER, "to": NUMBER},
                             timeout=10).raise_for_status()
                started += 1
            begin = time.monotonic()
            stop = begin + seconds
            for _ in range(concurrent):
                start_call()
            with receiver.done:
                while time.monotonic() < stop:
                    receiver.done.wait(stop - time.monotonic())
                    while started - receiver.ended < concurrent and time.monotonic() < stop:
                        receiver.done.release()
                        try:
                            start_call()
                        finally:
                            receiver.done.acquire()
                elapsed = time.monotonic() - begin
                blocks, notes = receiver.blocks, receiver.notifications
                ended, errors = receiver.ended, receiver.errors
                # Let the calls still running finish (each hangs up at its next step).
                receiver.draining = True
                drain_until = time.monotonic() + 5
                while receiver.ended < started and time.monotonic() < drain_until:
                    receiver.done.wait(drain_until - time.monotonic())
    finally:
        server.stop()
        receiver.close()
    return {"blocks": blocks / elapsed, "notifications": notes / elapsed,
            "calls": ended / elapsed, "errors": errors, "elapsed": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=8, help="concurrent calls/threads")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)   # no line per request
    n, secs = args.calls, args.seconds

    base = baseline(n, secs)
    sim = Simulator(clock=RealClock(), wait=10.0, max_concurrent_calls=max(64, 4 * n))
    sim.add_account(APP_ID, TOKEN, balance="1000000.000")
    server = SimulatorServer(sim, host="127.0.0.1", port=0)
    server.start()
    try:
        url = server.url.rstrip("/")
        rest = rest_only(url, n, secs)
        flow = calls(sim, url, n, secs)
    finally:
        server.stop()
        sim.close()

    rows = [
        ("baseline: Flask constant JSON", base, "requests/s", 1.0),
        ("simulator: user/get_balance", rest, "requests/s", rest / base),
        ("simulator calls: block requests", flow["blocks"], "requests/s", flow["blocks"] / base),
        ("simulator calls: notifications", flow["notifications"], "notifications/s",
         flow["notifications"] / base),
        ("simulator calls: completed calls", flow["calls"], "calls/s", None),
    ]
    print(f"loopback, {n} concurrent clients/calls, {secs:.0f} s per run, "
          f"{BLOCKS_PER_CALL} blocks per call")
    print(f"{'measure':<36}{'rate':>12}  {'unit':<16}{'vs baseline':>12}")
    for name, rate, unit, ratio in rows:
        rel = f"{ratio:.2f}x" if ratio is not None else ""
        print(f"{name:<36}{rate:>12.1f}  {unit:<16}{rel:>12}")
    print(f"block requests refused: {flow['errors']}")


if __name__ == "__main__":
    main()
