"""Worker processes: ``hoiivr campaign worker APP --processes N`` runs N of these, on any
number of hosts. Each loads the app, then runs Dramatiq worker threads that place the
campaigns' calls through the app's ``ivr.dial``.

The parent only supervises: it starts the processes, starts again one that dies, and
stops them all on SIGTERM or Ctrl-C. A process that dies (even by SIGKILL) loses nothing:
its messages go back to the queue when its heartbeat lapses, and the calls it placed
report to the app as ever.
"""
from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from flask import Flask

from ..cli.loader import load
from ..config import Settings
from ..ivr import IVR
from .errors import CampaignError
from .hook import MARK, campaign_mark, installed, store_for
from .numbers import Row
from .queue import CampaignQueue
from .runner import Runner
from .settings import CampaignSettings
from .store import DEFAULT_PREFIX

log = logging.getLogger("hoiivr.campaigns")


def queue_for(app: Flask, heartbeat: float = 60.0) -> CampaignQueue:
    settings = Settings(app.config)
    return CampaignQueue(str(settings.get("HOIIVR_CAMPAIGNS_REDIS", "redis://127.0.0.1:6379/0")),
                         str(settings.get("HOIIVR_CAMPAIGNS_PREFIX", DEFAULT_PREFIX)),
                         heartbeat)


def check_app(ivr: IVR) -> None:
    if not installed(ivr):
        raise CampaignError("the app does not record its campaign calls' outcomes: add "
                            "`Campaigns(ivr)` (from hoiivr.campaigns) to the app module, "
                            "which the workers and the web server both load")


def dialer(app: Flask, ivr: IVR) -> Any:
    """Places a campaign's call through the app, marked so its webhooks report back."""
    def dial(settings: CampaignSettings, row: Row, attempt: int) -> str:
        state = {**row.state, MARK: campaign_mark(settings.name, settings.pool, row.id,
                                                  attempt)}
        placed = ivr.dial(row.number, msg=settings.msg, caller_id=settings.caller_id,
                          max_duration=settings.max_duration, name=settings.step,
                          state=state, app=app)
        return placed.session
    return dial


def work(spec: str, threads: int, heartbeat: float, stop: threading.Event) -> None:
    """One worker process: until ``stop`` is set."""
    loaded = load(spec)
    check_app(loaded.ivr)
    loaded.ivr.runtime(loaded.app)      # a configuration problem shows now, not per call
    queue = queue_for(loaded.app, heartbeat)
    queue.runner = Runner(store_for(loaded.app), dialer(loaded.app, loaded.ivr), queue.send)
    worker = queue.worker(threads)
    worker.start()
    try:
        stop.wait()
    finally:
        # Jobs still running after this go back to the queue when the heartbeat lapses.
        worker.stop(timeout=10_000)
        queue.close()


def child_main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hoiivr-campaign-worker")
    parser.add_argument("app")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--heartbeat", type=float, default=60.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    work(args.app, args.threads, args.heartbeat, stop)


class Supervisor:
    """Runs ``processes`` worker processes until told to stop."""

    #: A process that dies is started again, at most this often (seconds).
    restart_every = 1.0

    def __init__(self, spec: str, processes: int, threads: int, heartbeat: float) -> None:
        self.command = [sys.executable, "-m", __name__, spec, "--threads", str(threads),
                        "--heartbeat", str(heartbeat)]
        self.processes = processes
        self.children: list[subprocess.Popen[bytes]] = []
        self.stop = threading.Event()

    def spawn(self, index: int) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(self.command)
        log.info("campaign worker %d started (pid %d)", index + 1, child.pid)
        return child

    def run(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop.set())
        self.children = [self.spawn(i) for i in range(self.processes)]
        try:
            while not self.stop.wait(self.restart_every):
                for i, child in enumerate(self.children):
                    if child.poll() is not None:
                        log.warning("campaign worker %d (pid %d) died (exit status %s); its "
                                    "jobs go back to the queue when its heartbeat lapses; "
                                    "starting another", i + 1, child.pid, child.returncode)
                        self.children[i] = self.spawn(i)
        finally:
            self._stop_all()

    def _stop_all(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in self.children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


if __name__ == "__main__":
    child_main()
