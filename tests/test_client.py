"""client.py against a fake Hoiio over real HTTP: fields sent, replies, failures, threads."""
from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any, Callable, Iterator

import pytest
import requests
import urllib3.util.connection

from fakes import DROP, STALL, FakeHoiio, Hit, Reply, hoiio_like
from hoiivr import protocol
from hoiivr.blocks import Dial, Gather, Hangup, Monitor, Play, Transfer
from hoiivr.carriers.hoiio.client import MASK
from hoiivr.client import Hoiio, HoiioClient, Response
from hoiivr.errors import ApiError, BlockError, ClientError, HoiivrError, InvalidResponse, \
    NetworkError

APP_ID = "AP-123"
TOKEN = "SECRET-TOKEN-9f8e"
SESSION = "S3839"
HOOK = "https://app.example.com/hoiio/notify/abc?app_state=x"
AUTH = {"app_id": APP_ID, "access_token": TOKEN}


@pytest.fixture
def fake() -> Iterator[FakeHoiio]:
    with FakeHoiio() as server:
        yield server


@pytest.fixture(params=["POST", "GET"])
def method(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def client(fake: FakeHoiio, method: str) -> Iterator[HoiioClient]:
    hoiio = HoiioClient(APP_ID, TOKEN, base_url=fake.url, timeout=2.0, method=method)
    yield hoiio
    hoiio.close()


@pytest.fixture
def quick(fake: FakeHoiio) -> Iterator[HoiioClient]:
    """A POST client with a 0.3 s timeout, for servers that stall."""
    hoiio = HoiioClient(APP_ID, TOKEN, base_url=fake.url, timeout=0.3)
    yield hoiio
    hoiio.close()


@pytest.fixture
def refused_url() -> str:
    """A loopback URL on which nothing listens (connecting is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/open/"


def only_hit(fake: FakeHoiio) -> Hit:
    assert len(fake.hits) == 1, fake.hits
    return fake.hits[0]


# -- the fields sent, endpoint by endpoint -----------------------------------------------------

ENDPOINTS: list[tuple[str, Callable[[HoiioClient], Response], str, dict[str, str]]] = [
    ("dial", lambda c: c.dial("+6511111111", msg="Hello", caller_id="+6522222222",
                              max_duration=60, tag="t1", notify_url=HOOK),
     "ivr/start/dial", {"dest": "+6511111111", "msg": "Hello", "caller_id": "+6522222222",
                        "max_duration": "60", "tag": "t1", "notify_url": HOOK}),
    ("dial-minimal", lambda c: c.dial("+6511111111"), "ivr/start/dial", {"dest": "+6511111111"}),
    ("play", lambda c: c.play(SESSION, "Hello", tag="t2", notify_url=HOOK),
     "ivr/middle/play", {"session": SESSION, "msg": "Hello", "tag": "t2", "notify_url": HOOK}),
    ("play-minimal", lambda c: c.play(SESSION), "ivr/middle/play", {"session": SESSION}),
    ("gather", lambda c: c.gather(SESSION, msg="Press 1", max_digits=1, timeout=60, attempts=3,
                                  tag="t3", notify_url=HOOK),
     "ivr/middle/gather", {"session": SESSION, "msg": "Press 1", "max_digits": "1",
                           "timeout": "60", "attempts": "3", "tag": "t3", "notify_url": HOOK}),
    ("gather-zero", lambda c: c.gather(SESSION, max_digits=0, notify_url=HOOK),
     "ivr/middle/gather", {"session": SESSION, "max_digits": "0", "notify_url": HOOK}),
    ("record", lambda c: c.record(SESSION, msg="Speak", max_duration=120, tag="t4",
                                  notify_url=HOOK),
     "ivr/middle/record", {"session": SESSION, "msg": "Speak", "max_duration": "120",
                           "tag": "t4", "notify_url": HOOK}),
    ("monitor", lambda c: c.monitor(SESSION, msg="Recorded", monitor_notify_url=HOOK + "&m=1",
                                    tag="t5", notify_url=HOOK),
     "ivr/middle/monitor", {"session": SESSION, "msg": "Recorded",
                            "monitor_notify_url": HOOK + "&m=1", "tag": "t5",
                            "notify_url": HOOK}),
    ("hold", lambda c: c.hold(SESSION, msg="Please hold"), "ivr/middle/hold",
     {"session": SESSION, "msg": "Please hold"}),
    ("hold-music", lambda c: c.hold(SESSION), "ivr/middle/hold", {"session": SESSION}),
    ("unhold", lambda c: c.unhold(SESSION, tag="t6", notify_url=HOOK), "ivr/middle/unhold",
     {"session": SESSION, "tag": "t6", "notify_url": HOOK}),
    ("transfer", lambda c: c.transfer(SESSION, "+6522222222", msg="Connecting",
                                      caller_id="private", on_failure="continue", tag="t7",
                                      notify_url=HOOK),
     "ivr/end/transfer", {"session": SESSION, "dest": "+6522222222", "msg": "Connecting",
                          "caller_id": "private", "on_failure": "continue", "tag": "t7",
                          "notify_url": HOOK}),
    ("transfer-room", lambda c: c.transfer(SESSION, "room:sales"), "ivr/end/transfer",
     {"session": SESSION, "dest": "room:sales"}),
    ("hangup", lambda c: c.hangup(SESSION, msg="Bye", tag="t8", notify_url=HOOK),
     "ivr/end/hangup", {"session": SESSION, "msg": "Bye", "tag": "t8", "notify_url": HOOK}),
    ("hangup-force", lambda c: c.hangup(SESSION, force=True), "ivr/end/hangup",
     {"session": SESSION, "force": "enabled"}),
    ("hangup-no-force", lambda c: c.hangup(SESSION, force=False), "ivr/end/hangup",
     {"session": SESSION}),
    ("update_forwarding", lambda c: c.update_forwarding("+6561234567", HOOK),
     "number/update_forwarding", {"number": "+6561234567", "forward_to": HOOK, "mode": "voice"}),
    ("get_active_numbers", lambda c: c.get_active_numbers(), "number/get_active", {}),
    ("query_status", lambda c: c.query_status("AA-C-2507650"), "voice/query_status",
     {"txn_ref": "AA-C-2507650"}),
    ("get_balance", lambda c: c.get_balance(), "user/get_balance", {}),
    ("send-play", lambda c: c.send(Play("Hi", tag="x", name="greet"), SESSION, HOOK),
     "ivr/middle/play", {"session": SESSION, "msg": "Hi", "tag": "x", "notify_url": HOOK}),
    ("send-dial", lambda c: c.send(Dial("+6511111111", max_duration=30)),
     "ivr/start/dial", {"dest": "+6511111111", "max_duration": "30"}),
    ("send-gather", lambda c: c.send(Gather(max_digits=4, name="pin"), SESSION, notify_url=HOOK),
     "ivr/middle/gather", {"session": SESSION, "max_digits": "4", "notify_url": HOOK}),
    ("send-monitor", lambda c: c.send(Monitor(), SESSION, HOOK), "ivr/middle/monitor",
     {"session": SESSION, "notify_url": HOOK}),
    ("send-transfer", lambda c: c.send(Transfer("room:"), SESSION), "ivr/end/transfer",
     {"session": SESSION, "dest": "room:"}),
    ("send-hangup", lambda c: c.send(Hangup(force=True), SESSION), "ivr/end/hangup",
     {"session": SESSION, "force": "enabled"}),
    ("request-none-dropped", lambda c: c.request("ivr/middle/play",
                                                 {"session": SESSION, "msg": None, "tag": ""}),
     "ivr/middle/play", {"session": SESSION, "tag": ""}),
]


@pytest.mark.parametrize("call, endpoint, fields", [e[1:] for e in ENDPOINTS],
                         ids=[e[0] for e in ENDPOINTS])
def test_fields_sent(client: HoiioClient, fake: FakeHoiio, method: str,
                     call: Callable[[HoiioClient], Response], endpoint: str,
                     fields: dict[str, str]) -> None:
    response = call(client)
    hit = only_hit(fake)
    assert hit.method == method
    assert hit.path == "/open/" + endpoint
    assert hit.form == {**AUTH, **fields}
    if method == "GET":
        assert hit.body == b""
    else:
        assert hit.query == ""
        assert hit.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert response.is_success() and response.endpoint == endpoint
    assert "Authorization" not in hit.headers


def test_plus_is_percent_encoded(client: HoiioClient, fake: FakeHoiio, method: str) -> None:
    client.dial("+6511111111", caller_id="+6522222222")
    hit = only_hit(fake)
    raw = hit.query if method == "GET" else hit.body.decode()
    assert raw == ("app_id=AP-123&access_token=SECRET-TOKEN-9f8e&dest=%2B6511111111"
                   "&caller_id=%2B6522222222")


def test_utf8_and_reserved_characters(client: HoiioClient, fake: FakeHoiio) -> None:
    msg = '<speech language="zh-CN">\u4f60\u597d &amp; 100%</speech> a=b+c; #?/'
    client.play(SESSION, msg, tag="caf\u00e9 #1", notify_url=HOOK)
    form = only_hit(fake).form
    assert form["msg"] == msg and form["tag"] == "caf\u00e9 #1" and form["notify_url"] == HOOK


def test_method_is_case_insensitive(fake: FakeHoiio) -> None:
    hoiio = HoiioClient(APP_ID, TOKEN, base_url=fake.url, method="get")
    try:
        hoiio.get_balance()
    finally:
        hoiio.close()
    assert only_hit(fake).method == "GET"


def test_default_method_is_post(fake: FakeHoiio) -> None:
    hoiio = HoiioClient(APP_ID, TOKEN, base_url=fake.url)
    try:
        hoiio.get_balance()
    finally:
        hoiio.close()
    assert only_hit(fake).method == "POST"
    assert HoiioClient.timeout[0] > 0 and HoiioClient.timeout[1] > 0


# -- refused before sending --------------------------------------------------------------------

@pytest.mark.parametrize("call, error", [
    (lambda c: c.play(""), ClientError),
    (lambda c: c.send(Play("x")), ClientError),
    (lambda c: c.gather(SESSION, msg="x"), ClientError),            # no notify_url
    (lambda c: c.record(SESSION), ClientError),
    (lambda c: c.monitor(SESSION), ClientError),
    (lambda c: c.send(Gather(), SESSION), ClientError),
    (lambda c: c.gather(SESSION, max_digits=256, notify_url=HOOK), BlockError),
    (lambda c: c.gather(SESSION, timeout="soon", notify_url=HOOK), BlockError),
    (lambda c: c.dial("6511111111"), BlockError),
    (lambda c: c.play(SESSION, "x" * 1001), BlockError),
    (lambda c: c.transfer(SESSION, "+6522222222", on_failure="maybe"), BlockError),
    (lambda c: c.gather(SESSION, max_digit=1, notify_url=HOOK), TypeError),   # misspelt
    (lambda c: c.play(SESSION, "x", name="step"), TypeError),                  # not an option
])
def test_refused_before_sending(client: HoiioClient, fake: FakeHoiio,
                                call: Callable[[HoiioClient], Response],
                                error: type[Exception]) -> None:
    with pytest.raises(error):
        call(client)
    assert fake.hits == []


def test_block_error_from_a_shortcut_names_the_limit(client: HoiioClient) -> None:
    with pytest.raises(BlockError) as info:
        client.gather(SESSION, attempts=11, notify_url=HOOK)
    assert info.value.status == "error_invalid_attempts"
    assert "Gather" in str(info.value) and "from 1 to 10" in str(info.value)


# -- replies -----------------------------------------------------------------------------------

def test_dial_response(client: HoiioClient) -> None:
    res = client.dial("+6511111111")
    assert res.status == "success_ok" and res.is_success()
    assert (res.txn_ref, res.session, res.room) == ("AA-C-1001", "S1001", None)
    assert res.json == {"status": "success_ok", "txn_ref": "AA-C-1001", "session": "S1001"}
    assert res.get("txn_ref") == "AA-C-1001" and res.get("nope", "d") == "d"
    assert '"txn_ref"' in res.text
    assert isinstance(res.response, requests.Response)
    assert res.raise_for_status() is res
    assert repr(res) == "<Response ivr/start/dial success_ok>"


def test_transfer_to_a_room_reports_the_room(client: HoiioClient) -> None:
    assert client.transfer(SESSION, "room:").room == "R-1"
    assert client.transfer(SESSION, "room:sales").room == "sales"


def test_response_params_mask_the_token(client: HoiioClient) -> None:
    res = client.play(SESSION, "hi")
    assert res.params == {"app_id": APP_ID, "access_token": MASK, "session": SESSION,
                          "msg": "hi"}


def test_private_attributes_are_not_reply_fields(client: HoiioClient) -> None:
    res = client.get_balance()
    with pytest.raises(AttributeError):
        res._secret  # noqa: B018


@pytest.mark.parametrize("status", ["error_invalid_session", "error_session_not_ready",
                                    "error_invalid_access_token", "error_insufficient_credit",
                                    "error_rate_limit_exceeded"])
def test_error_status(fake: FakeHoiio, client: HoiioClient, status: str) -> None:
    fake.respond = lambda hit: {"status": status}
    res = client.play(SESSION, "hi", notify_url=HOOK)
    assert res.status == status and not res.is_success()
    with pytest.raises(ApiError) as info:
        res.raise_for_status()
    error = info.value
    assert (error.status, error.endpoint, error.response) == (status, "ivr/middle/play", res)
    assert error.params == {"app_id": APP_ID, "access_token": MASK, "session": SESSION,
                            "msg": "hi", "notify_url": HOOK}
    assert status in str(error) and "ivr/middle/play" in str(error)
    assert TOKEN not in str(error) and TOKEN not in repr(error.params)
    assert isinstance(error, ClientError) and isinstance(error, HoiivrError)
    assert len(fake.hits) == 1


def test_an_error_message_does_not_show_the_signed_notify_url(fake: FakeHoiio,
                                                               client: HoiioClient) -> None:
    """Messages end up in logs and traces: the step's signed token and the tag's proof of
    it are cut from them; the error's data keeps them for a program."""
    fake.respond = lambda hit: {"status": "error_internal_server_error"}
    token, tag = "WyJTMzgzOSIsMiwiZ2F0aGVyIl0.aXb.qhnDdsaewGS", "mine|hv=JYuKbVzzY-"
    url = f"https://app.example.com/hoiio/notify/{token}"
    with pytest.raises(ApiError) as info:
        client.gather(SESSION, "Press 1.", notify_url=url, tag=tag).raise_for_status()
    said = str(info.value)
    assert token not in said and "JYuKbVzzY-" not in said
    assert "'https://app.example.com/hoiio/notify/...'" in said and "'mine|hv=...'" in said
    assert info.value.params["notify_url"] == url and info.value.params["tag"] == tag


def test_error_status_on_http_500_is_still_a_response(fake: FakeHoiio,
                                                      client: HoiioClient) -> None:
    fake.respond = lambda hit: Reply(b'{"status": "error_internal_server_error"}', code=500)
    res = client.get_balance()
    assert res.status == "error_internal_server_error" and not res.is_success()


@pytest.mark.parametrize("reply", [
    Reply(b"<html>Not Found</html>", code=404, content_type="text/html"),
    Reply(b"Service Unavailable", code=503, content_type="text/plain"),
    Reply(b"", code=200),
    Reply(b"not json", code=200),
    Reply(b'{"status": "success_ok"', code=200),
    Reply(b'{"txn_ref": "AA-C-1"}', code=200),                  # no status
    Reply(b'["success_ok"]', code=200),
    Reply(b'"success_ok"', code=200),
    Reply(b"null", code=200),
])
def test_invalid_response(fake: FakeHoiio, client: HoiioClient, reply: Reply) -> None:
    fake.respond = lambda hit: reply
    with pytest.raises(InvalidResponse) as info:
        client.play(SESSION, "hi")
    error = info.value
    assert error.endpoint == "ivr/middle/play"
    assert error.params["access_token"] == MASK and TOKEN not in str(error)
    assert "HOIIO_API_URL" in str(error)
    assert len(fake.hits) == 1


# -- failures: never sent twice ----------------------------------------------------------------

@pytest.mark.parametrize("code", [429, 503])
def test_a_busy_refusal_is_sent_again_after_its_retry_after(fake: FakeHoiio,
                                                            client: HoiioClient,
                                                            code: int) -> None:
    """Refused as busy, the request was not carried out: sending it again is safe, once the
    reply says (RELIABILITY.md: honour Retry-After on 429/503)."""
    soon = format_datetime(datetime.now(timezone.utc), usegmt=True)      # an HTTP date
    replies = iter([Reply(b"busy", code=code, content_type="text/plain",
                          headers=(("Retry-After", after),)) for after in ("0", soon)])
    fake.respond = lambda hit: next(replies, {"status": "success_ok"})
    assert client.play(SESSION, "hi").is_success()
    assert len(fake.hits) == 3


@pytest.mark.parametrize("headers", [(), (("Retry-After", "60"),), (("Retry-After", "soon"),)])
def test_a_busy_refusal_without_a_short_retry_after_is_not_sent_again(
        fake: FakeHoiio, client: HoiioClient, headers: tuple[tuple[str, str], ...]) -> None:
    fake.respond = lambda hit: Reply(b"busy", code=503, content_type="text/plain",
                                     headers=headers)
    with pytest.raises(InvalidResponse):
        client.play(SESSION, "hi")
    assert len(fake.hits) == 1


def test_a_request_still_busy_after_its_retries_is_an_error(fake: FakeHoiio,
                                                            client: HoiioClient) -> None:
    fake.respond = lambda hit: Reply(b"busy", code=429, content_type="text/plain",
                                     headers=(("Retry-After", "0"),))
    with pytest.raises(InvalidResponse):
        client.play(SESSION, "hi")
    assert len(fake.hits) == 1 + client.busy_retries


def test_stalled_server(fake: FakeHoiio, method: str) -> None:
    fake.respond = lambda hit: STALL
    hoiio = HoiioClient(APP_ID, TOKEN, base_url=fake.url, timeout=0.3, method=method)
    started = time.monotonic()
    try:
        with pytest.raises(NetworkError) as info:
            hoiio.gather(SESSION, msg="Press 1", notify_url=HOOK)
    finally:
        hoiio.close()
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 1.5
    assert info.value.sent is True
    assert info.value.endpoint == "ivr/middle/gather"
    assert "0.3" in str(info.value) and "not sent again" in str(info.value)
    assert TOKEN not in str(info.value) and info.value.params["access_token"] == MASK
    assert len(fake.hits) == 1


def test_stall_bounded_by_the_read_timeout_only(fake: FakeHoiio) -> None:
    fake.respond = lambda hit: STALL
    hoiio = HoiioClient(APP_ID, TOKEN, base_url=fake.url, timeout=(2.0, 0.3))
    started = time.monotonic()
    try:
        with pytest.raises(NetworkError):
            hoiio.transfer(SESSION, "+6522222222")
    finally:
        hoiio.close()
    assert time.monotonic() - started < 1.5
    assert len(fake.hits) == 1


def test_dropped_connection(fake: FakeHoiio, method: str) -> None:
    fake.respond = lambda hit: DROP
    hoiio = HoiioClient(APP_ID, TOKEN, base_url=fake.url, timeout=2.0, method=method)
    try:
        with pytest.raises(NetworkError) as info:
            hoiio.transfer(SESSION, "+6522222222", notify_url=HOOK)
    finally:
        hoiio.close()
    assert info.value.sent is True
    assert info.value.endpoint == "ivr/end/transfer"
    assert TOKEN not in str(info.value)
    assert len(fake.hits) == 1


def test_client_works_again_after_a_failure(fake: FakeHoiio, quick: HoiioClient) -> None:
    fake.respond = lambda hit: DROP
    with pytest.raises(NetworkError):
        quick.play(SESSION, "once")
    fake.respond = lambda hit: {"status": "success_ok"}
    assert quick.play(SESSION, "again").is_success()
    assert [h.form["msg"] for h in fake.hits] == ["once", "again"]


class ConnectCounter:
    """Counts urllib3's attempts to open a connection."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = urllib3.util.connection.create_connection

        def counting(*args: Any, **kwargs: Any) -> socket.socket:
            self.calls += 1
            return real(*args, **kwargs)
        monkeypatch.setattr(urllib3.util.connection, "create_connection", counting)


@pytest.mark.parametrize("retries", [None, 0, 3])
def test_connection_refused_is_retried_quickly(monkeypatch: pytest.MonkeyPatch,
                                               refused_url: str, method: str,
                                               retries: int | None) -> None:
    counter = ConnectCounter(monkeypatch)
    hoiio = HoiioClient(APP_ID, TOKEN, base_url=refused_url, method=method)
    if retries is not None:
        hoiio.connect_retries = retries
    expected = HoiioClient.connect_retries if retries is None else retries
    started = time.monotonic()
    try:
        with pytest.raises(NetworkError) as info:
            hoiio.play(SESSION, "hi")
    finally:
        hoiio.close()
    assert time.monotonic() - started < 1.5
    assert counter.calls == expected + 1
    assert info.value.sent is False
    assert "HOIIO_API_URL" in str(info.value) and TOKEN not in str(info.value)
    assert info.value.params["access_token"] == MASK


def test_requests_exceptions_do_not_escape(refused_url: str) -> None:
    hoiio = HoiioClient(APP_ID, TOKEN, base_url=refused_url)
    try:
        with pytest.raises(HoiivrError) as info:
            hoiio.get_balance()
    finally:
        hoiio.close()
    assert not isinstance(info.value, requests.RequestException)
    assert isinstance(info.value.__cause__, requests.RequestException)


# -- sessions and connections ------------------------------------------------------------------

def test_one_thread_reuses_its_connection(client: HoiioClient, fake: FakeHoiio) -> None:
    for n in range(5):
        client.play(SESSION, f"n{n}")
    assert len(fake.hits) == 5
    assert len(fake.connections) == 1


def test_threads_one_after_another_share_one_connection(client: HoiioClient,
                                                         fake: FakeHoiio) -> None:
    # A threaded dev server handles each notification on a new thread.
    for n in range(5):
        thread = threading.Thread(target=client.play, args=(SESSION, f"n{n}"))
        thread.start()
        thread.join(5)
    assert len(fake.hits) == 5
    assert len(fake.connections) == 1


def test_concurrent_threads_never_share_a_session(client: HoiioClient, fake: FakeHoiio) -> None:
    release = threading.Event()
    fake.respond = lambda hit: (release.wait(5), hoiio_like(hit))[1]
    threads = [threading.Thread(target=client.play, args=(SESSION, name)) for name in "ab"]
    for thread in threads:
        thread.start()
    for _ in range(100):
        if len(fake.hits) == 2:
            break
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(fake.hits) == 2
    assert len(fake.connections) == 2        # both requests were in flight at once


def test_the_pool_keeps_as_many_connections_as_threads_used_at_once(fake: FakeHoiio) -> None:
    """More threads than ``max_idle`` (a gunicorn worker with 32 threads and the default
    16, say; here 8 and 4): every round after the first reuses their connections rather
    than opening new ones."""
    # A timeout far longer than the wait for every request to be in flight, however
    # slow the machine.
    client = HoiioClient(APP_ID, TOKEN, base_url=fake.url, timeout=30.0)
    client.max_idle = 4
    threads = client.max_idle * 2
    try:
        for _ in range(3):
            arrived = threading.Barrier(threads + 1)
            fake.respond = lambda hit: (arrived.wait(20), hoiio_like(hit))[1]
            workers = [threading.Thread(target=client.get_balance) for _ in range(threads)]
            for worker in workers:
                worker.start()
            arrived.wait(20)                 # all of them in flight at once
            for worker in workers:
                worker.join(30)
    finally:
        client.close()
    assert len(fake.hits) == 3 * threads and len(fake.connections) == threads


def test_close_then_use_opens_a_new_connection(client: HoiioClient, fake: FakeHoiio) -> None:
    client.get_balance()
    client.close()
    client.get_balance()
    assert len(fake.connections) == 2


def test_a_shared_session_is_used_by_every_thread_and_left_open(fake: FakeHoiio) -> None:
    with requests.Session() as shared:
        hoiio = HoiioClient(APP_ID, TOKEN, base_url=fake.url, session=shared)
        used: list[requests.Session] = []
        real_request = shared.request
        shared.request = (  # type: ignore[method-assign]
            lambda *a, **k: used.append(shared) or real_request(*a, **k))
        thread = threading.Thread(target=hoiio.get_balance)
        thread.start()
        thread.join(5)
        assert hoiio.get_balance().is_success()
        hoiio.close()
        assert used == [shared, shared]
        assert hoiio.get_balance().is_success()      # close() left the shared session open
    assert len(fake.hits) == 3


def test_a_shared_session_keeps_its_own_settings(fake: FakeHoiio) -> None:
    with requests.Session() as shared:
        shared.headers["X-Trace"] = "t-1"
        shared.cookies.set("lb", "node-2")
        hoiio = HoiioClient(APP_ID, TOKEN, base_url=fake.url, session=shared)
        assert hoiio.get_balance().is_success()
    hit = only_hit(fake)
    assert hit.headers["X-Trace"] == "t-1" and hit.headers["Cookie"] == "lb=node-2"


def test_own_sessions_send_their_headers(client: HoiioClient, fake: FakeHoiio) -> None:
    client.get_balance()
    client.get_balance()                          # a second request on the pooled session
    for hit in fake.hits:
        assert hit.headers["User-Agent"] == "hoiivr"
        assert "Cookie" not in hit.headers


def test_a_redirect_is_not_followed(method: str) -> None:
    # Following it would re-send the request (as a GET without the body, for a 302).
    moved = Reply(b"", code=302, headers=(("Location", "/elsewhere/"),))
    with FakeHoiio(respond=lambda hit: moved) as fake:
        hoiio = HoiioClient(APP_ID, TOKEN, base_url=fake.url, method=method)
        try:
            with pytest.raises(InvalidResponse, match="HTTP 302"):
                hoiio.get_balance()
        finally:
            hoiio.close()
        assert len(fake.hits) == 1


# -- base URL ----------------------------------------------------------------------------------

def test_hoiio_api_url_env_var(monkeypatch: pytest.MonkeyPatch, fake: FakeHoiio) -> None:
    monkeypatch.setenv("HOIIO_API_URL", fake.url)
    hoiio = HoiioClient(APP_ID, TOKEN)
    try:
        assert hoiio.base_url == fake.url
        assert hoiio.get_balance().is_success()
    finally:
        hoiio.close()
    assert only_hit(fake).path == "/open/user/get_balance"


def test_base_url_argument_beats_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOIIO_API_URL", "http://env.example/open/")
    assert HoiioClient(APP_ID, TOKEN, base_url="http://arg.example/x/").base_url == \
        "http://arg.example/x/"


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOIIO_API_URL", raising=False)
    assert HoiioClient(APP_ID, TOKEN).base_url == protocol.DEFAULT_API_URL == \
        "https://secure.hoiio.com/open/"


def test_base_url_gets_a_trailing_slash(monkeypatch: pytest.MonkeyPatch,
                                        fake: FakeHoiio) -> None:
    monkeypatch.setenv("HOIIO_API_URL", fake.url.rstrip("/"))
    hoiio = HoiioClient(APP_ID, TOKEN)
    try:
        hoiio.get_balance()
    finally:
        hoiio.close()
    assert only_hit(fake).path == "/open/user/get_balance"


# -- the seed's facade -------------------------------------------------------------------------

@pytest.fixture
def facade(monkeypatch: pytest.MonkeyPatch, fake: FakeHoiio) -> Iterator[type[Hoiio]]:
    """``Hoiio`` with fresh class state, pointed at the fake through HOIIO_API_URL."""
    monkeypatch.setattr(Hoiio, "_client", None)
    monkeypatch.setattr(Hoiio, "prefix", None)
    monkeypatch.setenv("HOIIO_API_URL", fake.url)
    yield Hoiio
    if Hoiio._client is not None:
        Hoiio._client.close()


def test_facade_needs_init(facade: type[Hoiio]) -> None:
    with pytest.raises(ClientError) as info:
        facade.ivr.dial("+6511111111")
    assert "Hoiio.init" in str(info.value)


def test_seed_examples(facade: type[Hoiio], fake: FakeHoiio) -> None:
    Hoiio.init("APP_ID", "ACCESS_TOKEN")

    res = Hoiio.ivr.dial('+6511111111')
    assert res.is_success()
    session = res.session
    assert (res.txn_ref, session) == ("AA-C-1001", "S1001")

    max_duration = '60'
    res = Hoiio.ivr.dial('+6511111111', msg='Hello', caller_id='+6522222222',
                         max_duration=max_duration, tag='my tag',
                         notify_url='http://www.example.com/notify')
    assert res.is_success()

    assert Hoiio.ivr.play(session, 'Hello World', tag='my tag',
                          notify_url='http://www.example.com/notify').is_success()
    assert Hoiio.ivr.gather(session, msg='Press 1 for sales', max_digits=1, timeout=60,
                            attempts=3, tag='my tag',
                            notify_url='http://www.example.com/notify').is_success()
    assert Hoiio.ivr.record(session, msg='Leave a message', max_duration=120, tag='my tag',
                            notify_url='http://www.example.com/notify').is_success()
    assert Hoiio.ivr.monitor(session, msg='This call is recorded',
                             monitor_notify_url='http://www.example.com/monitor', tag='my tag',
                             notify_url='http://www.example.com/notify').is_success()
    assert Hoiio.ivr.transfer(session, '+6522222222', msg='Transferring', caller_id='private',
                              on_failure='continue', tag='my tag',
                              notify_url='http://www.example.com/notify').is_success()
    assert Hoiio.ivr.hangup(session, msg='Goodbye').is_success()

    sent = [(hit.path, hit.form) for hit in fake.hits]
    auth = {"app_id": "APP_ID", "access_token": "ACCESS_TOKEN"}
    notify = {"tag": "my tag", "notify_url": "http://www.example.com/notify"}
    assert sent == [
        ("/open/ivr/start/dial", {**auth, "dest": "+6511111111"}),
        ("/open/ivr/start/dial", {**auth, "dest": "+6511111111", "msg": "Hello",
                                  "caller_id": "+6522222222", "max_duration": "60", **notify}),
        ("/open/ivr/middle/play", {**auth, "msg": "Hello World", "session": "S1001", **notify}),
        ("/open/ivr/middle/gather", {**auth, "msg": "Press 1 for sales", "max_digits": "1",
                                     "timeout": "60", "attempts": "3", "session": "S1001",
                                     **notify}),
        ("/open/ivr/middle/record", {**auth, "msg": "Leave a message", "max_duration": "120",
                                     "session": "S1001", **notify}),
        ("/open/ivr/middle/monitor", {**auth, "msg": "This call is recorded",
                                      "monitor_notify_url": "http://www.example.com/monitor",
                                      "session": "S1001", **notify}),
        ("/open/ivr/end/transfer", {**auth, "dest": "+6522222222", "msg": "Transferring",
                                    "caller_id": "private", "on_failure": "continue",
                                    "session": "S1001", **notify}),
        ("/open/ivr/end/hangup", {**auth, "msg": "Goodbye", "session": "S1001"}),
    ]


def test_facade_base_url_argument(monkeypatch: pytest.MonkeyPatch, facade: type[Hoiio],
                                  fake: FakeHoiio) -> None:
    monkeypatch.delenv("HOIIO_API_URL")
    Hoiio.init("APP_ID", "ACCESS_TOKEN", base_url=fake.url)
    assert Hoiio.ivr.hold(SESSION).is_success()
    assert only_hit(fake).path == "/open/ivr/middle/hold"


@pytest.mark.parametrize("call, field, sent", [
    (lambda h: h.ivr.dial("11111111"), "dest", "+6511111111"),
    (lambda h: h.ivr.dial(dest="11111111"), "dest", "+6511111111"),
    (lambda h: h.ivr.dial("+4420000000"), "dest", "+4420000000"),
    (lambda h: h.ivr.dial("+6511111111", caller_id="22222222"), "caller_id", "+6522222222"),
    (lambda h: h.ivr.dial("+6511111111", caller_id="private"), "caller_id", "private"),
    (lambda h: h.ivr.transfer(SESSION, "22222222"), "dest", "+6522222222"),
    (lambda h: h.ivr.transfer(SESSION, dest="22222222"), "dest", "+6522222222"),
    (lambda h: h.ivr.transfer(SESSION, "room:sales"), "dest", "room:sales"),
    (lambda h: h.ivr.transfer(SESSION, "room:"), "dest", "room:"),
    (lambda h: h.number.update_forwarding("61234567", HOOK), "number", "+6561234567"),
    (lambda h: h.number.update_forwarding(number="61234567", forward_to=HOOK), "number",
     "+6561234567"),
])
@pytest.mark.parametrize("prefix", ["65", "+65"])
def test_prefix_adds_the_country_code(facade: type[Hoiio], fake: FakeHoiio,
                                      call: Callable[[type[Hoiio]], Response], field: str,
                                      sent: str, prefix: str) -> None:
    Hoiio.init("APP_ID", "ACCESS_TOKEN")
    Hoiio.prefix = prefix
    assert call(Hoiio).is_success()
    assert only_hit(fake).form[field] == sent


def test_without_prefix_numbers_are_sent_as_given(facade: type[Hoiio]) -> None:
    Hoiio.init("APP_ID", "ACCESS_TOKEN")
    with pytest.raises(BlockError) as info:
        Hoiio.ivr.dial("11111111")
    assert info.value.status == "error_dest_invalid"


def test_other_services(facade: type[Hoiio], fake: FakeHoiio) -> None:
    Hoiio.init("APP_ID", "ACCESS_TOKEN")
    assert Hoiio.voice.query_status("AA-C-1").is_success()
    assert Hoiio.account.get_balance().is_success()
    assert Hoiio.number.get_active_numbers().is_success()
    assert [hit.path for hit in fake.hits] == ["/open/voice/query_status",
                                               "/open/user/get_balance",
                                               "/open/number/get_active"]


@pytest.mark.parametrize("prefix, number, full", [
    (None, "61234567", "61234567"),
    ("65", "61234567", "+6561234567"),
    ("+65", "61234567", "+6561234567"),
    ("65", "+4420000000", "+4420000000"),
    ("65", "private", "private"),
    ("65", "room:", "room:"),
    ("65", "room:sales", "room:sales"),
    ("65", "", ""),
])
def test_full_number(monkeypatch: pytest.MonkeyPatch, prefix: str | None, number: str,
                     full: str) -> None:
    monkeypatch.setattr(Hoiio, "prefix", prefix)
    assert Hoiio.full_number(number) == full


def test_proxies_from_the_environment_are_read_once_per_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    hoiio = HoiioClient(APP_ID, TOKEN, base_url="https://secure.hoiio.com/open/")
    http = hoiio._new_session()
    try:
        assert http.trust_env is False
        assert http.proxies["https"] == "http://proxy.example:3128"
        assert http.verify == "/etc/ssl/corp.pem"
    finally:
        http.close()
    monkeypatch.setenv("NO_PROXY", "secure.hoiio.com")
    http = hoiio._new_session()
    try:
        assert "https" not in http.proxies
    finally:
        http.close()
