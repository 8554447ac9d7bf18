"""A TwiML number's webhooks: Twilio's parameters and headers, signed as Twilio signs them,
GET or POST, credentials and cookies kept across a call's requests, HTTP redirects."""
from __future__ import annotations

import base64
import re

from flask import Response

from .conftest import APP_URL, CALLER, NUMBER, SID, TOKEN, TwimlWorld, twiml

GATHER = twiml('<Gather numDigits="1" action="/menu"><Say>Press one.</Say></Gather>')


def test_the_voice_request_carries_twilios_parameters_and_headers(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml("<Say>Hello.</Say>"))
    sid = world.call()
    assert re.fullmatch(r"CA[0-9a-f]{32}", sid)
    (hit,) = world.app.at("/voice")
    assert hit.method == "POST"
    assert dict(hit.form) == {"AccountSid": SID, "ApiVersion": "2010-04-01", "CallSid": sid,
                              "CallStatus": "ringing", "Called": NUMBER, "Caller": CALLER,
                              "Direction": "inbound", "From": CALLER, "To": NUMBER}
    assert hit.headers["User-Agent"] == "TwilioProxy/1.1"
    assert hit.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert hit.signed_by(TOKEN) and not hit.signed_by("another-token")
    assert re.fullmatch(r"[0-9a-f-]{36}", hit.headers["I-Twilio-Idempotency-Token"])


def test_later_requests_are_in_progress_and_each_has_its_own_token(world: TwimlWorld) -> None:
    world.app.on("/voice", GATHER)
    world.app.on("/menu", twiml("<Say>Bye.</Say>"))
    sid = world.call()
    world.sim.press(sid, "1")
    world.sim.settle(sid)
    voice, menu = world.app.at("/voice")[0], world.app.at("/menu")[0]
    assert menu["CallStatus"] == "in-progress" and menu["CallSid"] == sid
    assert (menu["Digits"], menu["FinishedOnKey"]) == ("1", "")
    assert menu.signed_by(TOKEN)
    tokens = {voice.headers["I-Twilio-Idempotency-Token"],
              menu.headers["I-Twilio-Idempotency-Token"]}
    assert len(tokens) == 2


def test_a_get_number_sends_the_parameters_in_the_query_string_signed_with_the_url() -> None:
    world = TwimlWorld()
    try:
        world.sim.add_twiml_number(NUMBER, APP_URL + "/voice?lang=en", method="GET")
        world.app.on("/voice", twiml("<Say>Hi.</Say>"))
        sid = world.call()
        (hit,) = world.app.at("/voice")
        assert hit.method == "GET" and hit.form == {} and "Content-Type" not in hit.headers
        assert hit.query["lang"] == "en" and hit.query["CallSid"] == sid
        assert hit.signed_by(TOKEN)
    finally:
        world.close()


def test_a_shared_key_signs_with_hmac_sha256_and_says_so() -> None:
    world = TwimlWorld()
    try:
        world.sim.add_twilio_account(SID, TOKEN, shared_key=("KS1", "shared-secret"))
        world.app.on("/voice", twiml("<Say>Hi.</Say>"))
        world.call()
        (hit,) = world.app.at("/voice")
        assert hit.headers["X-Twilio-Webhooks-Signature-Settings"] == \
            "key=KS1,algorithm=HMAC_SHA256"
        from twilio.request_validator import RequestValidator
        assert RequestValidator("shared-secret").validate(
            hit.url, hit.form, hit.headers["X-Twilio-Signature"], algorithm="HMAC_SHA256")
        assert not hit.signed_by(TOKEN)
    finally:
        world.close()


def test_credentials_in_a_url_log_the_call_in_for_its_later_requests(world: TwimlWorld) -> None:
    world.sim.add_twiml_number(NUMBER, "http://ivr:s%40cret@app.test/voice")
    world.app.on("/voice", GATHER)
    world.app.on("/menu", twiml("<Say>Bye.</Say>"))
    sid = world.call()
    world.sim.press(sid, "1")
    world.sim.settle(sid)
    login = "Basic " + base64.b64encode(b"ivr:s@cret").decode()
    voice, menu = world.app.at("/voice")[0], world.app.at("/menu")[0]
    assert voice.url == APP_URL + "/voice"           # no credentials in the URL itself
    assert voice.headers["Authorization"] == menu.headers["Authorization"] == login
    assert voice.signed_by(TOKEN) and menu.signed_by(TOKEN)


def test_cookies_last_for_the_call_and_belong_to_it(world: TwimlWorld) -> None:
    def voice(hit: object) -> Response:
        response = Response(GATHER, content_type="text/xml")
        response.set_cookie("cart", "sid-" + str(len(world.app.at("/voice"))))
        return response
    world.app.on("/voice", voice)
    world.app.on("/menu", twiml("<Redirect>/next</Redirect>"))
    world.app.on("/next", twiml("<Say>Bye.</Say>"))
    first, second = world.call(), world.call()
    for sid in (first, second):
        world.sim.press(sid, "1")
        world.sim.settle(sid)
    assert [hit.cookies for hit in world.app.at("/voice")] == [{}, {}]
    assert [hit.cookies for hit in world.app.at("/menu")] == [{"cart": "sid-1"},
                                                              {"cart": "sid-2"}]
    assert [hit.cookies for hit in world.app.at("/next")] == [{"cart": "sid-1"},
                                                              {"cart": "sid-2"}]
    assert all(hit.cookies == {} for hit in world.app.at("/status"))
    assert world.info(first)["twiml"]["cookies"] == []       # dropped at the call's end


def test_http_redirects_are_followed_as_twilio_follows_them(world: TwimlWorld) -> None:
    world.app.on("/voice", lambda hit: Response("", 302, {"Location": "/moved?x=1"}))
    world.app.on("/moved", lambda hit: Response("", 307, {"Location": APP_URL + "/final"}))
    world.app.on("/final", twiml("<Say>Here.</Say>"))
    sid = world.call()
    moved, final = world.app.at("/moved")[0], world.app.at("/final")[0]
    assert moved.method == "GET" and moved.query["x"] == "1" and moved.signed_by(TOKEN)
    assert final.method == "GET"                     # 307 keeps the method it was given
    assert world.info(sid)["prompts"] == ["Here."]


def test_a_relative_action_is_resolved_against_the_document(world: TwimlWorld) -> None:
    world.sim.add_twiml_number(NUMBER, APP_URL + "/ivr/start/voice")
    world.app.on("/ivr/start/voice", twiml('<Gather numDigits="1" action="../menu">'
                                          "<Say>Press.</Say></Gather>"))
    world.app.on("/ivr/menu", twiml('<Redirect method="GET">next?a=b</Redirect>'))
    world.app.on("/ivr/next", twiml("<Say>Done.</Say>"))
    sid = world.call()
    world.sim.press(sid, "5")
    world.sim.settle(sid)
    assert world.app.at("/ivr/menu")[0]["Digits"] == "5"
    assert world.app.at("/ivr/next")[0].query["a"] == "b"
    assert world.info(sid)["prompts"] == ["Press.", "Done."]


def test_the_timeline_shows_each_request_its_fields_and_the_twiml_returned(
        world: TwimlWorld) -> None:
    world.app.on("/voice", GATHER)
    sid = world.call()
    (webhook,) = world.entries(sid, "webhook")
    assert webhook["purpose"] == "voice" and webhook["method"] == "POST"
    assert webhook["url"] == APP_URL + "/voice" and webhook["reply_status"] == 200
    assert webhook["fields"]["CallStatus"] == "ringing"
    assert webhook["twiml"] == GATHER and webhook["content_type"].startswith("text/xml")
    (verb,) = world.entries(sid, "verb")
    assert verb["verb"] == "Gather" and verb["num_digits"] == 1 and verb["action"] == "/menu"
