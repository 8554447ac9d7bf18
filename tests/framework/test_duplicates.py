"""Every notification delivered twice, one after the other and from 8 threads at once:
exactly one REST call per step, on every store backend."""
from __future__ import annotations

import threading
import time

import pytest

from hoiivr import Gather, Hangup, Play, Transfer


def _gather(session, digits):
    return {"session": session, "call_state": "ongoing", "ivr_block": "gather",
            "digits": digits, "tag": ""}


@pytest.fixture
def app(make_signed_app, store_url):
    app = make_signed_app(HOIIVR_STORE=store_url)
    app.calls = []

    @app.ivr.on_answer
    def answer(call):
        app.calls.append("answer")
        return [Play("Welcome."), Gather("Press 1.", max_digits=1, name="menu")]

    @app.ivr.on_gather("menu")
    def menu(call):
        app.calls.append("menu")
        return Transfer("+6522222222", on_failure="continue", name="sales")

    @app.ivr.on_transfer_failed("sales")
    def busy(call):
        app.calls.append("busy")
        return Hangup("Sorry.")

    return app


STEPS = [
    ("ring", None),
    ("play", {"call_state": "ongoing", "ivr_block": "play", "tag": ""}),
    ("gather", {"call_state": "ongoing", "ivr_block": "gather", "digits": "1", "tag": ""}),
    ("transfer", {"call_state": "ongoing", "ivr_block": "transfer", "transfer_status": "busy",
                  "tag": ""}),
]


def _deliver(app, fields, times, threads):
    """POST one notification ``times`` times, from ``threads`` threads at once."""
    path = "/hoiio/answer" if fields is None else app.last_path()
    body = fields or {"call_state": "ringing", "ivr_block": "answer", "from": "+6591234567",
                      "to": "+6560000000", "tag": ""}
    body = {"session": "S1", **body}
    if fields is not None:
        body["tag"] = app.echoed_tag(path)      # as Hoiio echoes it
    barrier = threading.Barrier(threads)
    statuses = []

    def worker(n):
        client = app.app.test_client()
        barrier.wait()
        for _ in range(n):
            statuses.append(client.post(path, data=_signed(app, body)[0],
                                        headers=_signed(app, body)[1]).status_code)

    per_thread = times // threads
    workers = [threading.Thread(target=worker, args=(per_thread,)) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return statuses


def _signed(app, fields):
    from urllib.parse import urlencode

    from hoiivr.carriers.hoiio import compute_signature
    body = urlencode(fields).encode()
    return body, {"X-Hoiio-Signature": compute_signature(body, app.access_token),
                  "Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("threads", [1, 8])
def test_each_step_sends_exactly_one_block_however_often_it_is_delivered(app, threads, tally):
    slow_send = app.client.send

    def send(*args, **kwargs):
        time.sleep(0.002)       # the provider's latency lets duplicates overlap
        return slow_send(*args, **kwargs)

    app.client.send = send
    for _, fields in STEPS:
        statuses = _deliver(app, fields, times=8, threads=threads)
        assert set(statuses) == {200}
    tally.add(f"each notification delivered 8x, {'serially' if threads == 1 else 'from 8 threads'}",
              8 * len(STEPS), abs(len(app.client.kinds) - 4) + abs(len(app.calls) - 3))
    assert app.client.kinds == ["play", "gather", "transfer", "hangup"]
    assert app.calls == ["answer", "menu", "busy"]
