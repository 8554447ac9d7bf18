"""The two apps the benchmarks serve, and how to serve one in its own process.

Both do the same fixed flow, one REST call per notification::

    ringing -> Gather "pin" -> gather -> Play "confirm" -> play -> Gather ... (ROUNDS times)
            -> Hangup -> ended

- :func:`create_hoiivr_app`: a hoiivr app (handlers return blocks; ``call.state`` counts
  the rounds; the store is ``HOIIVR_STORE``).
- :func:`create_baseline_app`: the same flow hand-written with Flask and requests, as a user
  of the old SDKs would write it: one ``requests.Session``, state in a dict, no signature or
  token checks, one notify URL for every block.

Both read their configuration from the environment (``HOIIO_APP_ID``,
``HOIIO_ACCESS_TOKEN``, ``HOIIO_API_URL``, ``HOIIVR_PUBLIC_URL``, ``BENCH_ROUNDS``), so
gunicorn can load either with ``apps:create_hoiivr_app()``. :class:`AppProcess` serves one
under gunicorn on a socket bound here (port 0, passed as a file descriptor) and reads its
CPU time and memory from ``/proc``.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
from flask import Flask, request

from hoiivr import IVR, Gather, Hangup, Play

HERE = Path(__file__).resolve().parent
APP_ID, TOKEN, SECRET = "AIDBENCH", "bench-token", "bench-secret-key"
PIN_PROMPT = "Enter your PIN."
CONFIRM = "Thank you."
GOODBYE = "Goodbye."
APOLOGY = "Sorry, something went wrong"


def rounds() -> int:
    return int(os.environ.get("BENCH_ROUNDS", "5"))


def create_hoiivr_app() -> Flask:
    app = Flask("bench_hoiivr")
    app.config.update(HOIIO_APP_ID=APP_ID, HOIIO_ACCESS_TOKEN=TOKEN, SECRET_KEY=SECRET)
    ivr = IVR(app)
    total = rounds()

    @ivr.on_answer
    def answer(call: Any) -> Gather:
        call.state["round"] = 1
        return Gather(PIN_PROMPT, max_digits=1, timeout=10, name="pin")

    @ivr.on_gather("pin")
    def pin(call: Any) -> Play:
        return Play(CONFIRM, name="confirm")

    @ivr.on_play("confirm")
    def confirmed(call: Any) -> Gather | Hangup:
        if call.state["round"] >= total:
            return Hangup(GOODBYE)
        call.state["round"] += 1
        return Gather(PIN_PROMPT, max_digits=1, timeout=10, name="pin")

    return app


def create_baseline_app(http: Any = None) -> Flask:
    """``http``: what to POST with (default: one ``requests.Session``)."""
    app = Flask("bench_baseline")
    api = os.environ["HOIIO_API_URL"]
    notify_url = os.environ["HOIIVR_PUBLIC_URL"].rstrip("/") + "/notify"
    app_id, token = os.environ.get("HOIIO_APP_ID", APP_ID), os.environ.get("HOIIO_ACCESS_TOKEN",
                                                                           TOKEN)
    http = http if http is not None else requests.Session()
    calls: dict[str, int] = {}
    total = rounds()

    def send(endpoint: str, session: str, **params: str) -> None:
        http.post(api + endpoint, data={"app_id": app_id, "access_token": token,
                                        "session": session, "notify_url": notify_url,
                                        **params}, timeout=10)

    def gather(session: str) -> None:
        send("ivr/middle/gather", session, msg=PIN_PROMPT, max_digits="1", timeout="10")

    @app.post("/answer")
    def answer() -> str:
        session = request.form["session"]
        if request.form["call_state"] == "ended":
            calls.pop(session, None)
            return "OK"
        calls[session] = 1
        gather(session)
        return "OK"

    @app.post("/notify")
    def notify() -> str:
        form = request.form
        session = form["session"]
        if form["call_state"] == "ended":
            calls.pop(session, None)
        elif form["ivr_block"] == "gather":
            send("ivr/middle/play", session, msg=CONFIRM)
        elif calls.get(session, total) >= total:
            send("ivr/end/hangup", session, msg=GOODBYE)
        else:
            calls[session] += 1
            gather(session)
        return "OK"

    return app


class AppProcess:
    """One app under gunicorn (``--workers W --threads T``, ``gunicorn.conf.py``) on a
    loopback port of its own."""

    def __init__(self, factory: str, env: dict[str, str], workers: int = 1, threads: int = 8,
                 sock: socket.socket | None = None, access_log: Path | None = None) -> None:
        self.sock = sock or listening_socket()
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        fd = self.sock.fileno()
        cmd = [sys.executable, "-m", "gunicorn", f"apps:{factory}()", "--bind", f"fd://{fd}",
               "--workers", str(workers), "--threads", str(threads),
               "--worker-class", "gthread" if threads > 1 else "sync",
               "--pythonpath", str(HERE), "--config", str(HERE / "gunicorn.conf.py"),
               "--log-level", "warning", "--timeout", "60",
               "--graceful-timeout", "5", *_no_control_socket()]
        if access_log is not None:     # one line per request: the serving worker's pid
            cmd += ["--access-logfile", str(access_log), "--access-logformat", "%(p)s"]
        self.access_log = access_log
        full_env = {**os.environ, "HOIIVR_PUBLIC_URL": self.url, **env}
        self.proc = subprocess.Popen(cmd, env=full_env, pass_fds=(fd,), cwd=HERE)
        self.workers = workers

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until every worker is up and the app answers (a GET: 404 or 405 is fine)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}")
            if len(self.worker_pids()) >= self.workers:
                try:
                    requests.get(self.url + "/", timeout=2)
                    return
                except requests.RequestException:
                    pass
            time.sleep(0.05)
        raise RuntimeError("the app did not start within %.0f s" % timeout)

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU time of gunicorn's master and workers so far."""
        return sum(cpu_seconds(pid) for pid in [self.proc.pid, *self.worker_pids()])

    def rss_bytes(self) -> dict[int, int]:
        """Resident memory of each worker."""
        return {pid: rss_bytes(pid) for pid in self.worker_pids()}

    def served(self) -> Counter[int]:
        """Requests each worker has answered so far (needs ``access_log``)."""
        assert self.access_log is not None, "AppProcess(access_log=...) counts requests"
        try:
            text = self.access_log.read_text()
        except FileNotFoundError:
            return Counter()
        return Counter(int(line.strip("<> ")) for line in text.splitlines() if line.strip())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.sock.close()


def _no_control_socket() -> list[str]:
    """gunicorn 27 opens a control socket at one fixed path per user: of several servers
    side by side, all but the first log that it is taken. None is needed here."""
    from gunicorn.config import KNOWN_SETTINGS
    return (["--no-control-socket"]
            if any(s.name == "control_socket_disable" for s in KNOWN_SETTINGS) else [])


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()   # fields from the 3rd on (state, ppid, ...)


def cpu_seconds(pid: int) -> float:
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK     # utime, stime


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:
        return 0


def children(parent: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if int(_stat(int(name))[1]) == parent:
                    pids.append(int(name))
            except (OSError, IndexError, ValueError):
                continue
    return sorted(pids)


def remove_redis_keys(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (expired or not), so that a run leaves no trace."""
    import redis                # here, not at the top: the apps gunicorn serves never need it
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
