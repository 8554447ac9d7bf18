"""The Calls resource, driven by the ``twilio`` package's own Client (in-process): calls
placed at the account's pace, their progress callbacks, redirects and ends, Twilio's
errors, and recordings served where their URL says."""
from __future__ import annotations

import base64
import io
import threading
import wave
from typing import Any, Iterator
from urllib.parse import urlencode

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from werkzeug.test import run_wsgi_app

from hoiivr.simulator import WSGIAdapter

from .conftest import (ANSWERS, APP_URL, BUSY, FAILED, NUMBER, SID, SIM_URL, TOKEN,
                       UNANSWERED, TwimlWorld, twiml)


def client_for(world: TwimlWorld, sid: str = SID, token: str = TOKEN) -> Client:
    http = TwilioHttpClient()
    assert http.session is not None
    http.session.trust_env = False
    http.session.mount(SIM_URL + "/", WSGIAdapter(world.sim.wsgi_app))
    # A mapping of its own (not empty: Client falls back to os.environ then), so that no
    # TWILIO_EDGE or TWILIO_REGION of the environment rewrites the simulator's host.
    client = Client(sid, token, http_client=http, environment={"HOIIVR": "simulator"})
    client.api.base_url = SIM_URL
    return client


@pytest.fixture
def client(world: TwimlWorld) -> Iterator[Client]:
    client = client_for(world)
    yield client
    client.http_client.session.close()


def place(client: Client, to: str = ANSWERS, **options: Any) -> Any:
    options.setdefault("url", APP_URL + "/answered")
    return client.calls.create(to=to, from_=NUMBER, **options)


def test_a_call_is_queued_then_rings_and_runs_its_url_when_answered(
        world: TwimlWorld, client: Client) -> None:
    world.app.on("/answered", twiml('<Gather numDigits="1" action="/menu"><Say>Hello.</Say>'
                                    "</Gather>"))
    world.app.on("/menu", twiml("<Say>Bye.</Say>"))
    call = place(client, status_callback=APP_URL + "/status",
                 status_callback_event=["initiated", "ringing", "answered", "completed"])
    assert call.status == "queued" and call.sid.startswith("CA")
    assert (call.to, call._from, call.direction) == (ANSWERS, NUMBER, "outbound-api")
    assert call.duration is None and call.uri.endswith(f"/Calls/{call.sid}.json")
    world.sim.settle(call.sid)
    fetched = client.calls(call.sid).fetch()
    assert fetched.status == "in-progress" and fetched.start_time is not None
    (answered,) = world.app.at("/answered")
    assert answered["CallStatus"] == "in-progress" and answered["Direction"] == "outbound-api"
    assert answered.signed_by(TOKEN)
    world.sim.press(call.sid, "3")
    world.sim.settle(call.sid)
    events = [(hit["CallStatus"], hit["SequenceNumber"]) for hit in world.app.at("/status")]
    assert events == [("initiated", "0"), ("ringing", "1"), ("in-progress", "2"),
                      ("completed", "3")]
    done = client.calls(call.sid).fetch()
    assert done.status == "completed" and done.duration == "2" and done.end_time is not None
    assert world.info(call.sid)["prompts"] == ["Hello.", "Bye."]


def test_twiml_given_inline_runs_and_may_not_use_relative_urls(
        world: TwimlWorld, client: Client) -> None:
    good = client.calls.create(to=ANSWERS, from_=NUMBER, twiml="<Response><Say>Inline."
                               "</Say></Response>")
    bad = client.calls.create(to=ANSWERS, from_=NUMBER, twiml="<Response><Redirect>/next"
                              "</Redirect></Response>")
    world.sim.settle()
    assert world.info(good.sid)["prompts"] == ["Inline."]
    (error,) = world.entries(bad.sid, "twiml_error")
    assert error["code"] == 11100


@pytest.mark.parametrize("number, status, default_only", [
    (BUSY, "busy", True), (FAILED, "failed", True), (UNANSWERED, "no-answer", False)])
def test_a_call_nobody_answers_ends_with_its_status(world: TwimlWorld, client: Client,
                                                    number: str, status: str,
                                                    default_only: bool) -> None:
    call = place(client, to=number, status_callback=APP_URL + "/status", timeout=20)
    world.sim.advance(60)
    world.sim.settle(call.sid)
    assert client.calls(call.sid).fetch().status == status
    assert [hit["CallStatus"] for hit in world.app.at("/status")] == [status]
    assert not world.app.at("/answered")
    if status == "no-answer":                       # after the call's own Timeout
        assert world.entries(call.sid, "ended")[0]["at"] == 20.0


def test_calls_leave_at_the_accounts_pace(world: TwimlWorld, client: Client) -> None:
    world.sim.add_twilio_account(SID, TOKEN, cps=2)
    world.app.on("/answered", twiml("<Hangup/>"))
    sids = [place(client).sid for _ in range(5)]
    world.sim.settle()
    assert [world.entries(sid, "initiated")[0]["at"] + world.info(sid)["timeline"][0]["at"]
            for sid in sids] == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_a_call_queued_over_a_day_fails(world: TwimlWorld, client: Client) -> None:
    world.sim.add_twilio_account(SID, TOKEN, cps=0.00001)      # one call every 28 hours
    world.app.on("/answered", twiml("<Hangup/>"))
    first, second = place(client), place(client)
    world.sim.advance(24 * 3600)
    world.sim.settle()
    assert client.calls(first.sid).fetch().status == "completed"
    assert client.calls(second.sid).fetch().status == "failed"
    assert world.entries(second.sid, "twiml_error")[0]["code"] == 22005


def test_a_call_past_the_concurrent_call_limit_fails_10004() -> None:
    world = TwimlWorld(max_concurrent_calls=1)
    client = client_for(world)
    try:
        world.app.on("/answered", twiml(f"<Dial>{ANSWERS}</Dial>"))     # a long call
        first = place(client)
        world.sim.settle(first.sid)
        second = place(client, status_callback=APP_URL + "/status")
        world.sim.settle(second.sid)
        assert client.calls(second.sid).fetch().status == "failed"
        assert world.entries(second.sid, "twiml_error")[0]["code"] == 10004
        assert world.app.at("/status")[0]["CallStatus"] == "failed"
        assert client.calls(first.sid).fetch().status == "in-progress"
        figures = world.sim.stats()["accounts"][SID]
        assert figures == {"peak_concurrent_calls": 1, "refused_over_limit": 1, "calls": 1}
    finally:
        client.http_client.session.close()
        world.close()


def test_a_live_call_is_redirected_or_hung_up(world: TwimlWorld, client: Client) -> None:
    world.app.on("/answered", twiml('<Gather action="/menu"><Say>Waiting.</Say></Gather>'))
    world.app.on("/elsewhere", twiml('<Say>Moved.</Say><Pause length="30"/>'))
    call = place(client)
    world.sim.settle(call.sid)
    client.calls(call.sid).update(url=APP_URL + "/elsewhere", method="POST")
    world.sim.advance(1)
    assert world.info(call.sid)["prompts"] == ["Waiting.", "Moved."]
    client.calls(call.sid).update(twiml="<Response><Say>Inline now.</Say><Pause length="
                                  '"30"/></Response>')
    world.sim.advance(1)
    assert world.info(call.sid)["prompts"][-1] == "Inline now."
    ended = client.calls(call.sid).update(status="completed")
    assert ended.status == "completed"
    with pytest.raises(TwilioRestException) as info:
        client.calls(call.sid).update(url=APP_URL + "/elsewhere")
    assert (info.value.status, info.value.code) == (400, 21220)


def test_an_incoming_call_waiting_for_its_first_document_is_redirected_at_once(
        world: TwimlWorld, client: Client) -> None:
    # What hoiivr does when an answer handler never returns: the apology goes out through
    # the Calls resource while the webhook is still unanswered; its late answer is dropped.
    def slow_voice(hit: Any) -> str:
        client.calls(hit["CallSid"]).update(twiml="<Response><Say>Sorry.</Say><Hangup/>"
                                                  "</Response>")
        return twiml("<Say>Too late.</Say>")

    world.app.on("/voice", slow_voice)
    sid = world.call()
    info = world.info(sid)
    assert info["prompts"] == ["Sorry."] and info["state"] == "ended"
    voice = [e for e in world.entries(sid, "webhook") if e["purpose"] == "voice"]
    assert voice[0]["ignored"] == "the call no longer waits for this request"


def test_an_update_sets_the_calls_time_limit_counted_from_the_answer(
        world: TwimlWorld, client: Client) -> None:
    world.app.on("/answered", twiml('<Pause length="600"/>'))
    call, shortened = place(client), place(client)
    world.sim.advance(10)                           # answered at 4 s and 5 s (1 call/s)
    assert world.info(call.sid)["answered_at"] == 4.0
    client.calls(call.sid).update(time_limit=30)
    world.sim.advance(23)
    assert client.calls(call.sid).fetch().status == "in-progress"
    world.sim.advance(1)                            # 30 s after the answer
    done = client.calls(call.sid).fetch()
    assert done.status == "completed" and done.duration == "30"
    assert world.info(call.sid)["end_reason"] == "its TimeLimit was reached"
    # A limit lowered below the time already talked ends the call at once.
    client.calls(shortened.sid).update(time_limit=5)
    world.sim.advance(0)
    assert client.calls(shortened.sid).fetch().status == "completed"
    for wrong in ("0", "abc", "\u00b2"):          # "²" is a digit to str.isdigit, not to int
        with pytest.raises(TwilioRestException) as info:
            client.calls(call.sid).update(time_limit=wrong)
        assert (info.value.status, info.value.code) == (400, 21200)


def test_canceled_ends_a_queued_or_ringing_call_but_not_an_answered_one(
        world: TwimlWorld, client: Client) -> None:
    world.app.on("/answered", twiml('<Pause length="60"/>'))
    ringing = place(client, to=UNANSWERED)
    world.sim.advance(1)
    answered = place(client)
    world.sim.advance(10)
    assert client.calls(ringing.sid).update(status="canceled").status == "canceled"
    assert client.calls(answered.sid).update(status="canceled").status == "in-progress"


@pytest.mark.parametrize("options, status, code", [
    ({"to": "", "from_": NUMBER, "url": APP_URL + "/a"}, 400, 21201),
    ({"to": ANSWERS, "from_": "", "url": APP_URL + "/a"}, 400, 21213),
    ({"to": "12345", "from_": NUMBER, "url": APP_URL + "/a"}, 400, 21211),
    ({"to": ANSWERS, "from_": "+6569999999", "url": APP_URL + "/a"}, 400, 21210),
    ({"to": ANSWERS, "from_": NUMBER, "url": "not a url"}, 400, 21205),
    ({"to": ANSWERS, "from_": NUMBER}, 400, 21200),
    ({"to": ANSWERS, "from_": NUMBER, "application_sid": "AP123"}, 400, 21200),
    ({"to": ANSWERS, "from_": NUMBER, "url": APP_URL + "/a", "machine_detection": "Enable"},
     400, 21200),
    ({"to": ANSWERS, "from_": NUMBER, "twiml": "<Response>" + "x" * 4000 + "</Response>"},
     400, 21200),
    ({"to": ANSWERS, "from_": NUMBER, "url": APP_URL + "/a", "method": "PUT"}, 400, 21200),
    ({"to": ANSWERS, "from_": NUMBER, "url": APP_URL + "/a", "timeout": "\u00b2"}, 400, 21200),
    ({"to": ANSWERS, "from_": NUMBER, "url": APP_URL + "/a", "time_limit": "\u00b3"},
     400, 21200),
    ({"to": ANSWERS, "from_": NUMBER, "url": APP_URL + "/a",
      "status_callback_event": ["hung-up"]}, 400, 21200),
])
def test_bad_requests_get_twilios_errors(client: Client, options: dict[str, Any],
                                         status: int, code: int) -> None:
    with pytest.raises(TwilioRestException) as info:
        client.calls.create(**options)
    assert (info.value.status, info.value.code) == (status, code)
    assert info.value.uri.endswith("/Calls.json")


def test_credentials_and_sids_are_checked(world: TwimlWorld, client: Client) -> None:
    for wrong in (client_for(world, token="wrong"), client_for(world, sid="AC" + "1" * 32)):
        with pytest.raises(TwilioRestException) as info:
            place(wrong)
        assert (info.value.status, info.value.code) == (401, 20003)
    with pytest.raises(TwilioRestException) as info:
        client.calls("CA" + "f" * 32).fetch()
    assert (info.value.status, info.value.code) == (404, 20404)
    other = world.sim.add_twilio_account()
    foreign = place(client)
    with pytest.raises(TwilioRestException) as info:
        client_for(world, other.sid, other.auth_token).calls(foreign.sid).fetch()
    assert info.value.code == 20404
    raw = requests.Session()
    raw.mount(SIM_URL + "/", WSGIAdapter(world.sim.wsgi_app))
    reply = raw.post(f"{SIM_URL}/2010-04-01/Accounts/{SID}/Calls.json")
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"].startswith("Basic")
    assert reply.json() == {"code": 20003, "message": reply.json()["message"], "status": 401,
                            "more_info": "https://www.twilio.com/docs/errors/20003"}


def test_the_request_and_its_reply_are_in_the_calls_timeline(world: TwimlWorld,
                                                             client: Client) -> None:
    call = place(client, status_callback=APP_URL + "/status")
    (entry,) = world.entries(call.sid, "request")
    assert entry["endpoint"] == "Calls" and entry["params"]["To"] == ANSWERS
    assert entry["reply"] == {"status": 201, "sid": call.sid}


def test_a_recording_is_served_at_its_url_as_wav(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Record action="/saved"/>'))
    world.app.on("/saved", twiml("<Hangup/>"))
    sid = world.call()
    world.sim.speak(sid, 3)
    world.sim.settle(sid)
    world.sim.press(sid, "#")
    world.sim.settle(sid)
    url = world.app.at("/saved")[0]["RecordingUrl"]
    for each in (url, url + ".wav"):
        reply = world.rest.get(each)
        assert reply.status_code == 200 and reply.headers["Content-Type"] == "audio/wav"
        with wave.open(io.BytesIO(reply.content)) as wav:
            assert wav.getnframes() / wav.getframerate() == pytest.approx(3.0)
    assert world.rest.get(url + ".mp3").status_code == 404
    other = url.replace(SID, "AC" + "1" * 32)
    assert world.rest.get(other).status_code == 404
    assert world.rest.get(url.replace("/Recordings/RE", "/Recordings/RF")).json()["code"] == \
        20404


def test_the_whole_call_recorded_with_record_true(world: TwimlWorld, client: Client) -> None:
    world.app.on("/answered", twiml('<Pause length="10"/>'))
    call = place(client, record=True, status_callback=APP_URL + "/status")
    world.sim.advance(20)
    world.sim.settle(call.sid)
    (status,) = world.app.at("/status")
    assert status["RecordingSid"].startswith("RE") and status["RecordingDuration"] == "10"
    assert world.rest.get(status["RecordingUrl"]).status_code == 200


def test_injected_rest_faults_strike_the_calls_resource(world: TwimlWorld,
                                                        client: Client) -> None:
    world.sim.set_faults(rest_error=1.0)
    with pytest.raises(TwilioRestException) as info:
        place(client)
    assert (info.value.status, info.value.code) == (500, 20500)
    world.sim.set_faults(rest_error=0.0, rest_drop=1.0)
    with pytest.raises(requests.ConnectionError):
        place(client)
    world.sim.clear_faults()
    calls = [s for s in world.sim.calls() if s["kind"] == "twiml"]
    assert len(calls) == 1                # the dropped request was carried out, once
    (fault,) = world.entries(calls[0]["session"], "fault")
    assert fault["fault"] == "rest_drop"


class SlowBody:
    """A request body that arrives when the test says: ``reading`` is set once the
    simulator waits on it, ``release`` lets it through."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.reading, self.release = threading.Event(), threading.Event()

    def read(self, size: int = -1) -> bytes:
        self.reading.set()
        assert self.release.wait(10)
        body, self.body = self.body, b""
        return body if size < 0 else body[:size]


def test_too_many_requests_at_once_are_refused_with_429(world: TwimlWorld,
                                                         client: Client) -> None:
    """A request still sending its body holds the account's only slot: the next is 429."""
    world.sim.add_twilio_account(SID, TOKEN, rest_concurrency=1)
    body = urlencode({"To": ANSWERS, "From": NUMBER, "Url": APP_URL + "/a"}).encode()
    slow = SlowBody(body)
    auth = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": f"/2010-04-01/Accounts/{SID}/Calls.json",
               "SERVER_NAME": "twilio.sim", "SERVER_PORT": "80", "HTTP_HOST": "twilio.sim",
               "HTTP_AUTHORIZATION": f"Basic {auth}", "wsgi.input": slow,
               "CONTENT_TYPE": "application/x-www-form-urlencoded",
               "CONTENT_LENGTH": str(len(body)), "wsgi.url_scheme": "http",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.errors": io.StringIO()}
    replies: list[Any] = []
    first = threading.Thread(target=lambda: replies.append(
        run_wsgi_app(world.sim.wsgi_app, environ, buffered=True)))
    first.start()
    assert slow.reading.wait(10)                    # the first request holds the slot
    with pytest.raises(TwilioRestException) as info:
        place(client)
    assert (info.value.status, info.value.code) == (429, 20429)
    slow.release.set()
    first.join(10)
    assert replies[0][1].startswith("201")          # the slow one was served
    assert place(client).status == "queued"         # and the slot is free again
