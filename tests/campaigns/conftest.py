"""A campaign's world: the simulator over real HTTP on a sped-up real clock, the app
served by LiveServer, Redis under a prefix of its own, and real worker processes."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from hoiivr.campaigns.store import CampaignStore
from hoiivr.simulator import RealClock, Simulator, SimulatorServer, Timing
from hoiivr.testing import LiveServer

REDIS = "redis://127.0.0.1:6379/0"
APP_ID, TOKEN = "CAMPAIGN-APP", "campaign-token"
APP = str(Path(__file__).with_name("campaign_app.py"))
#: The hoiivr command of this environment.
HOIIVR = str(Path(sys.executable).with_name("hoiivr"))
#: Calls ring, are answered and end in well under a second of real time.
SPEED = 20.0
TIMING = Timing(answer_after=2.0, unanswered_after=10.0, busy_after=1.0, failed_after=0.5,
                words_per_second=5.0, prompt_padding=0.2)


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+659{start + i:07d}" for i in range(count)]


class World:
    """The simulator, the app and the campaigns' Redis keys, for one test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                 max_concurrent_calls: int = 8) -> None:
        self.tmp_path = tmp_path
        self.prefix = f"test-campaigns-{secrets.token_hex(6)}"
        self.redis = redis.Redis.from_url(REDIS, decode_responses=True)
        self.sim = Simulator(clock=RealClock(speed=SPEED), timing=TIMING,
                             max_concurrent_calls=max_concurrent_calls)
        self.sim.add_account(APP_ID, TOKEN, balance="100000")
        self.sim_server = SimulatorServer(self.sim)
        self.sim_server.start()
        from . import campaign_app
        self.app_module = campaign_app
        campaign_app.answered.clear()
        self.app_server = LiveServer(campaign_app.app).start()
        self.env = {"HOIIO_APP_ID": APP_ID, "HOIIO_ACCESS_TOKEN": TOKEN,
                    "HOIIO_API_URL": self.sim_server.url + "/open/",
                    "HOIIVR_PUBLIC_URL": self.app_server.url, "SECRET_KEY": "s" * 32,
                    "HOIIVR_STORE": f"{REDIS}?prefix={self.prefix}:calls:",
                    "HOIIVR_CAMPAIGNS_REDIS": REDIS, "HOIIVR_CAMPAIGNS_PREFIX": self.prefix}
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)
        campaign_app.app.config.update(self.env)
        self.store = CampaignStore.from_url(REDIS, self.prefix)
        self.workers: list[subprocess.Popen[bytes]] = []

    def csv(self, rows: list[str], header: str = "number,name,time") -> Path:
        path = self.tmp_path / "numbers.csv"
        path.write_text("\n".join([header, *rows]) + "\n")
        return path

    def hoiivr(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HOIIVR, *args], env=self._env(),
                              capture_output=True, text=True, timeout=120, **kwargs)

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.env, "PYTHONPATH": str(Path(APP).parent)}

    def start_workers(self, processes: int, heartbeat: float = 3.0,
                      threads: int = 8) -> subprocess.Popen[bytes]:
        with open(self.tmp_path / f"workers-{len(self.workers)}.log", "wb") as log:
            worker = subprocess.Popen(
                [HOIIVR, "campaign", "worker", APP, "--processes", str(processes),
                 "--threads", str(threads), "--heartbeat", str(heartbeat)],
                env=self._env(), stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(worker)
        return worker

    def worker_log(self) -> str:
        return "".join(p.read_text() for p in sorted(self.tmp_path.glob("workers-*.log")))

    def worker_pids(self, count: int, within: float = 60.0) -> list[int]:
        """The pids of the worker processes the supervisors started, as they log them."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            pids = [int(line.rsplit("pid ", 1)[1].rstrip(")"))
                    for line in self.worker_log().splitlines() if "started (pid" in line]
            if len(pids) >= count:
                return pids
            time.sleep(0.1)
        raise AssertionError("the workers did not start:\n" + self.worker_log())

    def wait_counts(self, name: str, reached: Callable[[dict[str, int]], bool],
                    within: float) -> dict[str, int]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            counts = self.store.counts(name)
            if reached(counts):
                return counts
            time.sleep(0.1)
        raise AssertionError(f"campaign {name}: {self.store.counts(name)}\n"
                             + self.worker_log()[-5000:])

    def wait_done(self, name: str, within: float) -> dict[str, int]:
        """The campaign's counts once every number is finished (bounded in time)."""
        deadline = time.monotonic() + within
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            counts = self.store.counts(name)
            done = counts.get("answered", 0) + counts.get("exhausted", 0) + counts.get("dnc", 0)
            if counts and done >= counts["total"] and counts.get("live", 0) == 0:
                return counts
            time.sleep(0.2)
        raise AssertionError(f"campaign {name} did not finish within {within} s: {counts}\n"
                             f"unfinished rows: {self.unfinished(name)}\n"
                             + self.worker_log()[-5000:])

    def unfinished(self, name: str) -> dict[str, dict[str, object]]:
        """The rows of ``name`` not yet done: their fields, and the calls the simulator saw
        placed to their number (what a stuck one shows)."""
        rows = {row_id: self.store.progress(name, row_id)
                for row_id in self.store.row_ids(name)}
        return {row_id: {**fields, "simulator": [call for call in self.sim.calls()
                                                  if call["dest"] == fields.get("number")]}
                for row_id, fields in rows.items() if fields.get("phase") != "done"}

    def dials(self) -> Counter[str]:
        """Calls the simulator saw placed, by number dialled."""
        return Counter(c["dest"] for c in self.sim.calls() if c["direction"] == "outbound")

    def answered(self) -> Counter[str]:
        return Counter(c["dest"] for c in self.sim.calls() if c["direction"] == "outbound"
                       and self.sim.get_call(c["session"]).get("answered_at") is not None)

    def close(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        self.app_server.stop()
        self.sim_server.stop()
        self.sim.close()
        self.app_module.app.extensions["hoiivr"].close()
        store = self.app_module.app.extensions.pop("hoiivr.campaigns", None)
        if store is not None:
            store.close()
        self.store.close()
        keys = list(self.redis.scan_iter(match=f"{self.prefix}*", count=1000))
        if keys:
            self.redis.delete(*keys)
        self.redis.close()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[World]:
    w = World(monkeypatch, tmp_path)
    yield w
    w.close()
