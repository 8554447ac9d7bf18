"""The Twilio carrier through the Flask test client: webhooks signed as Twilio signs them
(with the ``twilio`` package's own RequestValidator), TwiML answers read back as XML."""
from __future__ import annotations

import logging
import sqlite3
import xml.etree.ElementTree as ElementTree
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

import hoiivr
from hoiivr import IVR, Gather, Hangup, Play, Record, Transfer
from hoiivr.carriers.base import Inbound
from hoiivr.carriers.twilio import TwilioCarrier, parse_webhook, twiml
from hoiivr.errors import BlockError, SignatureError

SID, TOKEN = "AC" + "0" * 32, "twilio-token"
PUBLIC = "https://ivr.example"
CALL = "CA" + "1" * 32
SALES = "+6522222222"


def make_app(**config: Any) -> tuple[Flask, IVR]:
    app = Flask("twilio_app")
    app.config.update({"HOIIVR_CARRIER": "twilio", "TWILIO_ACCOUNT_SID": SID,
                       "TWILIO_AUTH_TOKEN": TOKEN, "SECRET_KEY": "secret",
                       "HOIIVR_PUBLIC_URL": PUBLIC, **config})
    ivr = IVR(app)
    seen: list[tuple[str, Any]] = []
    app.seen = seen  # type: ignore[attr-defined]

    @ivr.on_answer
    def answer(call: Any) -> Gather:
        seen.append(("answer", call.from_number))
        return Gather("Press 1 for sales.", max_digits=1, timeout=5, attempts=2, name="menu")

    @ivr.on_gather("menu")
    def menu(call: Any) -> Any:
        seen.append(("menu", call.digits))
        if call.digits == "1":
            return Transfer(SALES, msg="Connecting you.", on_failure="continue", name="sales")
        if call.digits == "9":
            # No TwiML verb, built where the source does not show it (the start-up check
            # cannot see it): an apology when it comes.
            return getattr(hoiivr, "Monitor")("Recording.")
        return [Play("Goodbye."), Hangup()]

    @ivr.on_transfer_failed("sales")
    def busy(call: Any) -> Record:
        seen.append(("busy", call.transfer_status))
        return Record("Leave a message.", max_duration=30, name="voicemail")

    @ivr.on_record("voicemail")
    def saved(call: Any) -> Hangup:
        seen.append(("saved", call.record_url))
        return Hangup("Thank you.")

    @ivr.on_hangup
    def ended(call: Any) -> None:
        seen.append(("ended", call.duration))

    return app, ivr


class Twilio:
    """Posts webhooks to ``app`` signed as Twilio signs them, reads back the TwiML."""

    def __init__(self, app: Flask, token: str = TOKEN, public: str = PUBLIC) -> None:
        self.http = app.test_client()
        self.token, self.public = token, public
        self.fields = {"CallSid": CALL, "AccountSid": SID, "From": "+6591234567",
                       "To": "+6560000000", "Direction": "inbound", "ApiVersion": "2010-04-01"}

    def post(self, path: str, sign: bool = True, signature: str | None = None,
             **fields: str) -> Any:
        params = {**self.fields, **fields}
        headers = {}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        elif sign:
            headers["X-Twilio-Signature"] = RequestValidator(self.token).compute_signature(
                self.public + path, params)
        return self.http.post(path, data=urlencode(params), headers=headers,
                              content_type="application/x-www-form-urlencoded")

    def ring(self) -> ElementTree.Element:
        return document(self.post("/twilio/answer", CallStatus="ringing"))


def document(response: Any) -> ElementTree.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ElementTree.fromstring(response.get_data())
    assert root.tag == "Response"
    return root


def path_of(url: str) -> str:
    assert url.startswith(PUBLIC + "/twilio/notify/"), url
    return url[len(PUBLIC):]


@pytest.fixture
def app() -> Flask:
    app, _ = make_app()
    return app


def test_a_whole_call_menu_busy_transfer_voicemail_and_hangup(app: Flask) -> None:
    twilio = Twilio(app)
    root = twilio.ring()
    gathers = root.findall("Gather")
    assert len(gathers) == 2                          # attempts=2: the prompt twice
    assert [g.get("actionOnEmptyResult") for g in gathers] == [None, "true"]
    assert gathers[0].get("numDigits") == "1" and gathers[0].get("timeout") == "5"
    assert gathers[0].find("Say").text == "Press 1 for sales."  # type: ignore[union-attr]
    menu = path_of(gathers[0].get("action", ""))

    root = document(twilio.post(menu, CallStatus="in-progress", Digits="1"))
    assert [e.tag for e in root] == ["Say", "Dial"]
    dial = root.find("Dial")
    assert dial is not None and dial.find("Number").text == SALES  # type: ignore[union-attr]

    root = document(twilio.post(path_of(dial.get("action", "")), CallStatus="in-progress",
                                DialCallStatus="busy"))
    assert [e.tag for e in root] == ["Say", "Record", "Redirect"]   # for an empty recording
    record = root.find("Record")
    assert record is not None and record.get("maxLength") == "30"
    assert record.get("finishOnKey") == "#" and record.get("timeout") == "0"
    assert record.get("trim") == "do-not-trim"

    url = "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1"
    root = document(twilio.post(path_of(record.get("action", "")), CallStatus="in-progress",
                                RecordingUrl=url, RecordingDuration="7", Digits="#"))
    assert [e.tag for e in root] == ["Say", "Hangup"]

    document(twilio.post("/twilio/answer", CallStatus="completed", CallDuration="75"))
    # The recording as a file a prompt can play back: Twilio serves it at its URL + ".wav".
    assert app.seen == [("answer", "+6591234567"), ("menu", "1"),  # type: ignore[attr-defined]
                        ("busy", "busy"), ("saved", url + ".wav"), ("ended", 2)]


def test_a_transfer_that_connected_and_ended_hangs_up_and_ends_the_call(app: Flask) -> None:
    twilio = Twilio(app)
    menu = path_of(twilio.ring().findall("Gather")[0].get("action", ""))
    dial = document(twilio.post(menu, CallStatus="in-progress", Digits="1")).find("Dial")
    assert dial is not None
    root = document(twilio.post(path_of(dial.get("action", "")), CallStatus="in-progress",
                                DialCallStatus="completed", DialCallDuration="40"))
    assert list(root) == []                            # no verbs: the call ends
    # on_hangup waits for the status callback, which reports the end with its duration.
    assert not any(name == "ended" for name, _ in app.seen)  # type: ignore[attr-defined]
    document(twilio.post("/twilio/answer", CallStatus="completed", CallDuration="75",
                         CallbackSource="call-progress-events"))
    assert app.seen[-1] == ("ended", 2)                # type: ignore[attr-defined]
    assert not any(name == "busy" for name, _ in app.seen)  # type: ignore[attr-defined]


def test_a_block_twilio_lacks_is_an_apology_not_silence(app: Flask) -> None:
    twilio = Twilio(app)
    menu = path_of(twilio.ring().findall("Gather")[0].get("action", ""))
    root = document(twilio.post(menu, CallStatus="in-progress", Digits="9"))
    assert [e.tag for e in root] == ["Say", "Hangup"]
    assert "Sorry, something went wrong" in (root.find("Say").text or "")  # type: ignore


def test_a_bare_hangup_on_a_ringing_call_rejects_it() -> None:
    app, ivr = make_app()
    ivr.handlers.clear()
    ivr.on_answer(lambda call: Hangup())
    root = Twilio(app).ring()
    assert [e.tag for e in root] == ["Reject"]


@pytest.mark.parametrize("signature", [None, "", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="])
def test_a_missing_or_wrong_signature_reaches_no_handler(app: Flask,
                                                         signature: str | None) -> None:
    twilio = Twilio(app)
    response = twilio.post("/twilio/answer", sign=False, signature=signature,
                           CallStatus="ringing")
    assert response.status_code == 403
    assert app.seen == []                              # type: ignore[attr-defined]


def test_an_altered_body_or_url_reaches_no_handler(app: Flask) -> None:
    twilio = Twilio(app)
    params = {**twilio.fields, "CallStatus": "ringing"}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/answer", params)
    altered = urlencode({**params, "From": "+6500000000"})
    response = twilio.http.post("/twilio/answer", data=altered,
                                headers={"X-Twilio-Signature": signature},
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 403
    ringing = twilio.ring()                            # a genuine one still works
    menu = ringing.findall("Gather")[0].get("action", "")
    # A genuine signature for one step's URL does not open another step's URL.
    other = path_of(menu).replace("/notify/", "/notify/x")
    response = twilio.post(other, signature=RequestValidator(TOKEN).compute_signature(
        PUBLIC + path_of(menu), {**twilio.fields, "CallStatus": "in-progress", "Digits": "1"}),
        CallStatus="in-progress", Digits="1")
    assert response.status_code == 403
    assert app.seen == [("answer", "+6591234567")]     # type: ignore[attr-defined]


def test_behind_a_proxy_the_public_url_is_the_one_checked_and_a_miss_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    app, _ = make_app(HOIIVR_PUBLIC_URL="https://abc.ngrok.app")
    with caplog.at_level(logging.WARNING, "hoiivr"):
        # Signed for the address the app listens on, not the one Twilio was given.
        wrong = Twilio(app, public="http://localhost").post("/twilio/answer",
                                                            CallStatus="ringing")
        Twilio(app, public="http://localhost").post("/twilio/answer", CallStatus="ringing")
    assert wrong.status_code == 403
    hints = [r.getMessage() for r in caplog.records if "Said once" in r.getMessage()]
    assert len(hints) == 1 and "https://abc.ngrok.app/twilio/answer" in hints[0]
    assert TOKEN not in caplog.text
    assert document(Twilio(app, public="https://abc.ngrok.app").post(
        "/twilio/answer", CallStatus="ringing")).findall("Gather")


def test_a_public_url_with_credentials_takes_webhooks_signed_without_them(
        caplog: pytest.LogCaptureFixture) -> None:
    app, _ = make_app(HOIIVR_PUBLIC_URL="https://user:pw@ivr.example:8443")
    response = Twilio(app, public="https://ivr.example").post("/twilio/answer",
                                                              CallStatus="ringing")
    assert document(response).findall("Gather")
    # Also signed with the port (TWIML.md §2): taken, and a duplicate, so it changes nothing.
    response = Twilio(app, public="https://ivr.example:8443").post("/twilio/answer",
                                                                   CallStatus="ringing")
    assert response.status_code == 200
    with caplog.at_level(logging.WARNING, "hoiivr"):
        wrong = Twilio(app, public="https://elsewhere.example").post("/twilio/answer",
                                                                    CallStatus="ringing")
    assert wrong.status_code == 403 and "pw" not in caplog.text   # the password is not logged


def test_shared_key_signatures_are_accepted_when_configured() -> None:
    app, _ = make_app(TWILIO_WEBHOOK_SHARED_KEYS="KS1=shared-secret")
    params = {"CallSid": CALL, "CallStatus": "ringing", "From": "+6591234567",
              "To": "+6560000000"}
    url = PUBLIC + "/twilio/answer"
    signature = RequestValidator("shared-secret").compute_signature(url, params, "HMAC_SHA256")
    response = app.test_client().post(
        "/twilio/answer", data=urlencode(params), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature,
                 "X-Twilio-Webhooks-Signature-Settings": "key=KS1,algorithm=HMAC_SHA256"})
    assert document(response).findall("Gather")
    unknown = app.test_client().post(
        "/twilio/answer", data=urlencode(params), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature,
                 "X-Twilio-Webhooks-Signature-Settings": "key=KS9,algorithm=HMAC_SHA256"})
    assert unknown.status_code == 403
    wrong = app.test_client().post(
        "/twilio/answer", data=urlencode(params), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "x" + signature[1:],
                 "X-Twilio-Webhooks-Signature-Settings": "key=KS1,algorithm=HMAC_SHA256"})
    said = wrong.get_data(as_text=True)   # the secret that was used, not the auth token
    assert wrong.status_code == 403 and "SharedKey 'KS1'" in said
    assert "TWILIO_AUTH_TOKEN" not in said


@pytest.mark.parametrize("path, headers", [
    ("/twilio/answer", {"X-Twilio-Webhooks-Signature-Settings":
                        "key=KS1,algorithm=\x1b[2J\x1b[HALL CLEAR"}),
    ("/twilio/notify/x%1b[2J%1b[H%0aforged line", {}),
])
def test_a_forged_webhook_cannot_write_control_characters_into_the_log(
        caplog: pytest.LogCaptureFixture, path: str, headers: dict[str, str]) -> None:
    """Anyone can send a request: what it says reaches the log escaped, so it can neither
    forge log lines nor repaint the terminal that shows them."""
    app, _ = make_app()
    with caplog.at_level(logging.WARNING, logger="hoiivr"):
        response = app.test_client().post(
            path, data={"CallSid": CALL, "CallStatus": "ringing"},
            headers={"X-Twilio-Signature": "AAAA", **headers})
    assert response.status_code == 403 and caplog.records
    logged = [record.getMessage() for record in caplog.records]
    assert not any("\x1b" in line or "\n" in line for line in logged), logged
    assert any("\\x1b[2J" in line for line in logged)


def test_a_shared_key_setting_without_its_id_is_refused_without_showing_it(
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    app, _ = make_app(TWILIO_WEBHOOK_SHARED_KEYS="a-long-secret-value")
    response = app.test_client().post("/twilio/answer")
    said = caplog.text + "".join(capsys.readouterr()) + response.get_data(as_text=True)
    assert response.status_code == 503 and "id=secret pairs" in said
    assert "a-long-secret-value" not in said


def test_the_documented_signature_vector_verifies() -> None:
    """TWIML.md §2's vector, from twilio-python's own tests."""
    carrier = TwilioCarrier(_client(), auth_token="12345")
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}
    request = Inbound("https://mycompany.com", "/myapp.php", "foo=1&bar=2",
                      {"X-Twilio-Signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
                      urlencode(params).encode())
    carrier.authenticate(request)
    with pytest.raises(SignatureError):
        carrier.authenticate(Inbound("https://mycompany.com", "/myapp.php", "foo=1&bar=3",
                                     request.headers, request.body))


def test_a_recording_the_app_plays_back_is_a_url_hoiio_markup_takes() -> None:
    """A RecordingUrl has no extension; Gather(msg="<url>...</url>") needs one."""
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"
    note = parse_webhook({"CallSid": CALL, "CallStatus": "in-progress", "RecordingUrl": url})
    assert note.record_url == url + ".wav"
    Gather(f"You said: <url>{note.record_url}</url>")          # accepted
    with pytest.raises(BlockError):
        Gather(f"You said: <url>{url}</url>")
    mp3 = parse_webhook({"CallSid": CALL, "CallStatus": "in-progress",
                         "RecordingUrl": url + ".mp3"})
    assert mp3.record_url == url + ".mp3"


@pytest.mark.parametrize("fields, state, extra", [
    ({"CallStatus": "ringing"}, "ringing", {}),
    ({"CallStatus": "in-progress", "Digits": "12"}, "ongoing", {"digits": "12"}),
    ({"CallStatus": "completed", "CallDuration": "61"}, "ended", {"duration": 2}),
    ({"CallStatus": "in-progress", "DialCallStatus": "no-answer"}, "ongoing",
     {"transfer_status": "unanswered"}),
    ({"CallStatus": "busy", "Direction": "outbound-api"}, "ended", {"dial_status": "busy"}),
    ({"CallStatus": "in-progress", "Direction": "outbound-api"}, "ongoing",
     {"dial_status": "answered"}),
])
def test_webhooks_become_notifications(fields: dict[str, str], state: str,
                                       extra: dict[str, Any]) -> None:
    note = parse_webhook({"CallSid": CALL, "From": "+6591234567", "To": "+6560000000", **fields})
    assert note.session == CALL and note.call_state == state
    for name, value in extra.items():
        assert getattr(note, name) == value


def _client() -> Any:
    from twilio.rest import Client
    return Client(SID, TOKEN)


def test_a_webhook_may_come_as_get_signed_over_its_url(app: Flask) -> None:
    """A number whose VoiceMethod is GET sends its parameters in the query string."""
    query = urlencode({"CallSid": CALL, "CallStatus": "ringing", "From": "+6591234567",
                       "To": "+6560000000"})
    signature = RequestValidator(TOKEN).compute_signature(f"{PUBLIC}/twilio/answer?{query}", {})
    response = app.test_client().get(f"/twilio/answer?{query}",
                                     headers={"X-Twilio-Signature": signature})
    assert document(response).findall("Gather")
    forged = app.test_client().get(f"/twilio/answer?{query.replace('ringing', 'completed')}",
                                   headers={"X-Twilio-Signature": signature})
    assert forged.status_code == 403


def test_a_failing_store_answers_the_apology_as_twiml() -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from hoiivr.stores import RedisStore
    with socket_closed_port() as port:
        client = redis.Redis(port=port, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
        app, ivr = make_app()
        ivr.init_app(app, store=RedisStore(client))
        root = Twilio(app).ring()
        client.close()
    assert [e.tag for e in root] == ["Say"]            # then the document ends: hang-up
    assert "Sorry, something went wrong" in (root.find("Say").text or "")  # type: ignore
    assert app.seen == []                              # type: ignore[attr-defined]


def socket_closed_port() -> Any:
    """A context giving a local port nothing listens on."""
    import contextlib
    import socket

    @contextlib.contextmanager
    def closed() -> Any:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            yield sock.getsockname()[1]            # bound, not listening: refused
    return closed()


def test_an_app_asking_for_what_twilio_lacks_is_refused_when_it_starts() -> None:
    from hoiivr import Hold, Monitor
    from hoiivr.errors import ConfigError
    app = Flask("lacking_app")
    app.config.update(HOIIVR_CARRIER="twilio", TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN,
                      SECRET_KEY="secret")
    ivr = IVR(app)

    @ivr.on_answer
    def answer(call: Any) -> Any:
        return [Monitor("This call is recorded."), Hold(), Transfer("room:sales")]

    ivr.on_unhold(lambda call: None)
    with pytest.raises(ConfigError) as error:
        ivr.runtime(app)
    message = str(error.value)
    assert "asks for what the twilio carrier cannot do" in message
    for words in ("Monitor at ", "Hold at ", "test_twilio:", "in answer()",
                  "conference rooms are not in the TwiML subset", "@ivr.on_unhold",
                  "HOIIVR_CARRIER"):
        assert words in message, words



@pytest.mark.parametrize("body", [b"CallSid=\xff\xfe&CallStatus=ringing", b"a=1&" * 200])
def test_a_body_that_is_no_form_is_refused_as_unsigned_not_a_server_error(
        app: Flask, body: bytes) -> None:
    response = app.test_client().post("/twilio/answer", data=body,
                                      content_type="application/x-www-form-urlencoded",
                                      headers={"X-Twilio-Signature": "c2lnbmVk"})
    assert response.status_code == 403
    assert "Twilio" in response.get_data(as_text=True)
    assert app.seen == []                              # type: ignore[attr-defined]


def _post_pairs(app: Flask, pairs: list[tuple[str, str]]) -> Any:
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/twilio/answer",
                                                          MultiDict(pairs))
    return app.test_client().post("/twilio/answer", data=urlencode(pairs),
                                  content_type="application/x-www-form-urlencoded",
                                  headers={"X-Twilio-Signature": signature})


def test_a_field_twilio_sends_once_refused_twice_and_another_name_twice_taken(
        app: Flask) -> None:
    base = [("CallSid", CALL), ("CallStatus", "ringing"), ("From", "+6591234567"),
            ("To", "+6560000000")]
    twice = _post_pairs(app, base + [("From", "+6500000000")])
    assert twice.status_code == 400 and "'From' is sent twice" in twice.get_data(as_text=True)
    assert app.seen == []                              # type: ignore[attr-defined]
    # Every value is signed: a name Twilio may repeat is read, its first value kept.
    document(_post_pairs(app, base + [("StirVerstat", "A"), ("StirVerstat", "B")]))
    assert app.seen == [("answer", "+6591234567")]     # type: ignore[attr-defined]


@pytest.mark.parametrize("options, error", [
    ({}, "TWILIO_FROM_NUMBER"),                     # no number to call from
    ({"caller_id": "private"}, "caller id"),
])
def test_a_dial_twilio_refuses_before_sending_leaves_no_record(
        tmp_path: Any, options: dict[str, Any], error: str) -> None:
    path = tmp_path / "calls.sqlite3"
    app, ivr = make_app(HOIIVR_STORE=f"sqlite:///{path}")
    with app.app_context(), pytest.raises(hoiivr.HoiivrError, match=error):
        ivr.dial("+6598765432", **options)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM calls").fetchone() == (0,)


@pytest.mark.parametrize("field, value", [
    ("CallDuration", "9" * 400),          # past what a float holds
    ("CallDuration", "9" * 5000),         # past what int() reads
    ("Duration", "1" * 10),
    ("CallDuration", "-1"),
    ("Timestamp", "Mon, 01 Jan 99999 00:00:00 +0000"),
    ("RecordingUrl", "http://[::1"),
])
def test_a_signed_webhook_with_a_malformed_field_is_a_400_that_runs_nothing(
        app: Flask, field: str, value: str) -> None:
    twilio = Twilio(app)
    twilio.ring()
    ended = _post_pairs(app, [("CallSid", CALL), ("CallStatus", "completed"), (field, value)])
    assert ended.status_code == 400 and f"{field}='{value[:12]}" in ended.get_data(as_text=True)
    assert app.seen == [("answer", "+6591234567")]     # type: ignore[attr-defined]


@pytest.mark.parametrize("blocks, ringing, reports", [
    ([Gather("Press 1. <speech gender='male' language='ja'>Ichi</speech>", max_digits=1,
             timeout=5, attempts=3, name="menu")], True, True),
    ([Play("Hello <url>https://cdn.example/a.wav</url> again"), Play("Bye & thanks")], False,
     True),
    ([Record("Leave a message.", max_duration=30)], False, True),
    ([Transfer(SALES, msg="Connecting.", caller_id="+6560000000", on_failure="continue")],
     False, True),
    ([Transfer(SALES)], False, False),
    ([Hangup()], True, False), ([Hangup()], False, False), ([Hangup("Bye.")], True, False),
    ([Hangup("Bye.", force=True)], False, False),
])
def test_a_kept_document_is_the_one_written_afresh_for_its_notify_url(
        blocks: list[Any], ringing: bool, reports: bool) -> None:
    """Documents are kept per turn and given each notify URL; one whose URL XML escapes is
    written afresh, so the two must agree but for the URL."""
    escaped = PUBLIC + "/twilio/notify/a?x=1&y=2"
    fresh = twiml.render(blocks, escaped, ringing)
    for url in (PUBLIC + "/twilio/notify/first", PUBLIC + "/twilio/notify/second"):
        assert twiml.render(blocks, url, ringing) == fresh.replace(
            escaped.replace("&", "&amp;"), url)
    root = ElementTree.fromstring(fresh)
    urls = {e.get("action") for e in root.iter() if e.get("action")} | {
        e.text for e in root.iter("Redirect")}
    assert urls == ({escaped} if reports else set())
