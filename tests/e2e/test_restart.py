"""A worker killed mid-call and restarted: the call continues from its stored state."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hoiivr.simulator import RealClock, Simulator, SimulatorServer

APP = Path(__file__).with_name("restart_app.py")
NUMBER = "+6560000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Worker:
    """The app in a process of its own, started again on the same port after a kill."""

    def __init__(self, port: int, env: dict[str, str]) -> None:
        self.port = port
        self.env = env
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> int:
        self.process = subprocess.Popen([sys.executable, str(APP), str(self.port)],
                                        env=self.env, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready"
        return self.process.pid

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process.stdout.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.kill()


@pytest.fixture(params=["sqlite", "redis"])
def store_for_restart(request, tmp_path, redis_prefix_factory):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'calls.sqlite3'}"
    return f"redis://127.0.0.1:6379/0?prefix={redis_prefix_factory()}"


@pytest.fixture
def redis_prefix_factory(redis_client):
    prefixes = []

    def make() -> str:
        prefixes.append(f"hoiivr-restart-{secrets.token_hex(6)}:")
        return prefixes[-1]
    yield make
    for prefix in prefixes:
        keys = list(redis_client.scan_iter(match=prefix + "*"))
        if keys:
            redis_client.delete(*keys)


@contextmanager
def app_and_simulator(store_url: str, speed: float) -> Iterator[tuple[Simulator, Worker]]:
    """A simulator on a real clock whose number rings a worker (not started yet)."""
    sim = Simulator(clock=RealClock(speed=speed))
    sim.add_account("restart-app", "restart-token")
    with SimulatorServer(sim) as server:
        port = free_port()
        env = {**os.environ, "HOIIO_APP_ID": "restart-app", "HOIIO_ACCESS_TOKEN": "restart-token",
               "SECRET_KEY": "restart-secret", "HOIIO_API_URL": server.url + "/open/",
               "HOIIVR_PUBLIC_URL": f"http://127.0.0.1:{port}", "HOIIVR_STORE": store_url}
        sim.add_number(NUMBER, f"http://127.0.0.1:{port}/hoiio/answer")
        worker = Worker(port, env)
        try:
            yield sim, worker
        finally:
            worker.stop()
            sim.close()


def test_a_killed_worker_is_replaced_and_the_call_goes_on(store_for_restart):
    with app_and_simulator(store_for_restart, speed=20) as (sim, worker):
        first = worker.start()
        session = sim.call("+6591234567", NUMBER)
        sim.settle(session, limit=20)
        assert sim.get_call(session)["state"] == "collecting"
        worker.kill()                        # mid-call, between two notifications
        second = worker.start()
        sim.press(session, "1")
        sim.settle(session, limit=20)
    call = sim.get_call(session)
    assert call["prompts"][-1] == f"Answered by {first}, finished by {second}."
    assert call["state"] == "ended"


def wait_for_state(sim: Simulator, session: str, state: str, limit: float = 10.0) -> None:
    """Poll, since settle() would wait for the ringing, unanswered while the reply stalls."""
    deadline = time.monotonic() + limit
    while sim.get_call(session)["state"] != state:
        assert time.monotonic() < deadline, sim.get_call(session)["state"]
        time.sleep(0.01)


def test_a_worker_killed_while_its_request_is_in_flight_leaves_the_call_unlocked(
        store_for_restart):
    # Hoiio carries out the Gather but its reply is held: the worker dies waiting for it.
    # The call's lease was given back with the write-ahead, so the replacement handles the
    # Gather's notification at once rather than after the dead worker's lease lapses.
    with app_and_simulator(store_for_restart, speed=5) as (sim, worker):
        first = worker.start()
        sim.set_faults(rest_stall=1.0, stall_seconds=60)
        session = sim.call("+6591234567", NUMBER)
        wait_for_state(sim, session, "collecting")
        worker.kill()                        # its REST request still unanswered
        sim.clear_faults()
        second = worker.start()
        started = time.monotonic()
        sim.press(session, "1")
        sim.settle(session, limit=20)
        took = time.monotonic() - started
    call = sim.get_call(session)
    assert call["prompts"][-1] == f"Answered by {first}, finished by {second}."
    assert call["state"] == "ended" and took < 5
