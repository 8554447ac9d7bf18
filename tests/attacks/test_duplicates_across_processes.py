"""Every notification delivered several times at once to two app processes that share a
store (``hoiivr run``, real HTTP): each step's block goes out exactly once."""
from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from fakes import FakeHoiio

from hoiivr.carriers.hoiio import compute_signature

TOKEN = "dup-token"
PUBLIC = "http://127.0.0.1:9"
APP = '''
from flask import Flask
from hoiivr import IVR, Gather, Hangup, Play

app = Flask(__name__)
ivr = IVR(app)

@ivr.on_answer
def answer(call):
    return [Play("Welcome."), Gather("Press 1.", max_digits=1, name="menu")]

@ivr.on_gather("menu")
def menu(call):
    return Hangup("Bye.")
'''


@pytest.fixture(params=["sqlite", "redis"])
def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    app = tmp_path / "dup_app.py"
    app.write_text(APP)
    store = (f"sqlite:///{tmp_path / 'calls.sqlite3'}" if request.param == "sqlite" else
             f"redis://127.0.0.1:6379/0?prefix={request.getfixturevalue('redis_prefix')}")
    with FakeHoiio() as hoiio:
        env = {"HOIIO_APP_ID": "dup-app", "HOIIO_ACCESS_TOKEN": TOKEN, "SECRET_KEY": "dup",
               "HOIIVR_STORE": store, "PATH": "/usr/bin:/bin"}
        workers = [subprocess.Popen(
            [sys.executable, "-c", "from hoiivr.cli import main; main()", "run", str(app),
             "--port", "0", "--public-url", PUBLIC, "--api-url", hoiio.url],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True) for _ in range(2)]
        try:
            urls = [_served_at(worker) for worker in workers]
            yield urls, hoiio
        finally:
            for worker in workers:
                worker.terminate()
                worker.communicate(timeout=10)


def _served_at(worker: subprocess.Popen[str]) -> str:
    assert worker.stdout is not None
    said = []
    for line in worker.stdout:
        said.append(line)
        found = re.search(r"Serving .* on (http://127\.0\.0\.1:\d+)", line)
        if found:
            return found.group(1)
    raise AssertionError("the worker did not start:\n" + "".join(said))


def _deliver(urls: list[str], path: str, fields: dict[str, str], copies: int) -> list[int]:
    """POST the same signed body ``copies`` times to each worker, all at once."""
    body = urlencode(fields).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Hoiio-Signature": compute_signature(body, TOKEN)}
    barrier = threading.Barrier(copies * len(urls))
    statuses: list[int] = []

    def post(url: str) -> None:
        with requests.Session() as http:
            barrier.wait()
            statuses.append(http.post(url + path, data=body, headers=headers,
                                      timeout=30).status_code)

    threads = [threading.Thread(target=post, args=(url,)) for url in urls for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_each_step_goes_out_once_across_two_processes(two_workers: Any, tally: Any) -> None:
    urls, hoiio = two_workers
    call = {"session": "S700000001", "txn_ref": "AA-C-700000001"}
    steps = [("/hoiio/answer", {"call_state": "ringing", "ivr_block": "answer", "tag": "",
                                "from": "+6591234567", "to": "+6560000000"}),
             (None, {"call_state": "ongoing", "ivr_block": "play"}),
             (None, {"call_state": "ongoing", "ivr_block": "gather", "digits": "1"})]
    sent_per_step = []
    for path, fields in steps:
        before = len(hoiio.hits)
        if path is None:                      # the notify URL and tag of the last block
            last = hoiio.hits[-1].form
            path, fields = last["notify_url"][len(PUBLIC):], {**fields, "tag": last["tag"]}
        statuses = _deliver(urls, path, {**call, **fields}, copies=4)
        assert set(statuses) <= {200, 503}, statuses   # 503: busy in the other process
        sent_per_step.append(len(hoiio.hits) - before)
    tally.add("a notification delivered 4x to each of 2 processes at once", 8 * len(steps),
              sum(abs(n - 1) for n in sent_per_step))
    assert sent_per_step == [1, 1, 1]                  # play, gather, hangup: once each
    assert [hit.path.rsplit("/", 1)[-1] for hit in hoiio.hits] == ["play", "gather", "hangup"]
