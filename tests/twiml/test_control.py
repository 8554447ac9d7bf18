"""TwiML numbers through the control API and the ``hoiivr simulator`` command: the same
``/sim/`` routes drive calls of both kinds, and ``GET /sim/calls/<sid>`` shows them alike."""
from __future__ import annotations

from typing import Any

import requests
from click.testing import CliRunner
from twilio.rest import Client

from hoiivr.cli import main
from hoiivr.cli.timeline import Watch
from hoiivr.simulator import SimulatorServer

from .conftest import APP_URL, CALLER, NUMBER, SID, SIM_URL, TwimlWorld, twiml


def sim(world: TwimlWorld, verb: str, path: str, **body: Any) -> requests.Response:
    return world.rest.request(verb, f"{SIM_URL}/sim{path}", json=body or None)


def test_accounts_and_numbers_of_both_kinds(world: TwimlWorld) -> None:
    made = sim(world, "POST", "/accounts", kind="twilio", shared_key="KS9=s3cret", cps="5")
    assert made.status_code == 201
    account = made.json()
    assert account["account_sid"].startswith("AC") and len(account["auth_token"]) == 32
    assert (account["shared_key"], account["cps"]) == ("KS9", 5.0)
    number = sim(world, "POST", "/numbers", kind="twiml", number="+6560000009",
                 url=APP_URL + "/other", method="GET", account_sid=account["account_sid"],
                 status_callback=APP_URL + "/status")
    assert number.status_code == 201 and number.json()["voice_method"] == "GET"
    sim(world, "POST", "/accounts", app_id="APP", access_token="TOKEN")
    sim(world, "POST", "/numbers", number="+6560000008", forward_to=APP_URL + "/hoiio/answer")
    kinds = {n["number"]: n["kind"] for n in sim(world, "GET", "/numbers").json()["numbers"]}
    assert kinds == {NUMBER: "twiml", "+6560000009": "twiml", "+6560000008": "hoiio"}
    listed = sim(world, "GET", "/accounts").json()["accounts"]
    assert {a.get("kind", "hoiio") for a in listed} == {"hoiio", "twilio"}
    assert all("auth_token" not in a for a in listed)            # shown once, when made
    refused = sim(world, "POST", "/numbers", kind="sip", number="+6560000007")
    assert refused.status_code == 400 and "kind='sip'" in refused.json()["error"]
    missing = sim(world, "POST", "/numbers", kind="twiml", number="+6560000007")
    assert missing.status_code == 400 and "'url' is missing" in missing.json()["error"]


def test_a_twiml_call_is_driven_and_shown_as_a_hoiio_call_is(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Gather numDigits="1" action="/menu"><Say>Menu.</Say>'
                                 "</Gather>"))
    world.app.on("/menu", twiml('<Record action="/saved"/>'))
    world.app.on("/saved", twiml("<Say>Thanks.</Say>"))
    placed = sim(world, "POST", "/calls", **{"from": CALLER, "to": NUMBER})
    assert placed.status_code == 201
    sid = placed.json()["session"]
    sim(world, "POST", "/settle", session=sid)
    pressed = sim(world, "POST", f"/calls/{sid}/press", digits="1").json()
    assert pressed == {"session": sid, "state": "recording", "block": "record", "digits": "",
                       "ringing_phone": None}
    sim(world, "POST", f"/calls/{sid}/speak", seconds=2)
    sim(world, "POST", "/settle", session=sid)
    sim(world, "POST", f"/calls/{sid}/press", digits="#")
    sim(world, "POST", "/settle", session=sid)
    call = sim(world, "GET", f"/calls/{sid}").json()
    assert call["kind"] == "twiml" and call["app_id"] == SID and call["state"] == "ended"
    assert call["prompts"] == ["Menu.", "Thanks."]
    assert call["recordings"][0]["url"].startswith(f"{SIM_URL}/2010-04-01/Accounts/{SID}/")
    assert call["billing"]["currency"] == "USD"
    assert call["twiml"]["direction"] == "inbound"
    kinds = {e["type"] for e in call["timeline"]}
    assert {"webhook", "verb", "keys", "speech", "beep", "callback", "ended"} <= kinds
    listed = sim(world, "GET", "/calls").json()["calls"]
    assert [(c["session"], c["kind"]) for c in listed] == [(sid, "twiml")]
    recording = world.rest.get(f"{SIM_URL}/sim/recordings/{call['recordings'][0]['id']}.wav")
    assert recording.status_code == 200           # the inspector's link works for both kinds


def test_the_command_serves_twiml_numbers_and_the_calls_resource(monkeypatch: Any) -> None:
    seen: dict[str, Any] = {}

    def serve(self: SimulatorServer) -> None:
        self.start()
        client = Client("AC" + "1" * 32, "tok")
        client.api.base_url = self.url
        seen["placed"] = client.calls.create(to="+6522222222", from_="+6560000001",
                                             url="http://x.test/a").status
        seen["numbers"] = requests.get(self.url + "/sim/numbers").json()["numbers"]
        seen["index"] = requests.get(self.url + "/sim").json()
        client.http_client.session.close()
        self.stop()

    monkeypatch.setattr(SimulatorServer, "serve_forever", serve)
    result = CliRunner().invoke(main, [
        "simulator", "--port", "0", "--twiml-number", "+6560000001=http://127.0.0.1:5000/voice",
        "--voice-method", "GET", "--account-sid", "AC" + "1" * 32, "--auth-token", "tok",
        "--shared-key", "KS1=secret", "--status-callback", "http://127.0.0.1:5000/status"])
    assert result.exit_code == 0, result.output
    assert seen["placed"] == "queued"
    (number,) = seen["numbers"]
    assert (number["kind"], number["voice_method"], number["status_callback"]) == \
        ("twiml", "GET", "http://127.0.0.1:5000/status")
    assert "TwiML number +6560000001 -> GET http://127.0.0.1:5000/voice" in result.output
    assert f"client.api.base_url): {seen['index']['twilio_api']}" in result.output
    assert f"AccountSid={'AC' + '1' * 32}  auth token=tok" in result.output


def test_the_command_defaults_to_a_twilio_account_it_prints(monkeypatch: Any) -> None:
    monkeypatch.setattr(SimulatorServer, "serve_forever", lambda self: self.stop())
    result = CliRunner().invoke(main, ["simulator", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert f"AccountSid={'AC' + '0' * 32}  auth token=sim-auth-token" in result.output
    bad = CliRunner().invoke(main, ["simulator", "--port", "0", "--shared-key", "nokey"])
    assert bad.exit_code == 2 and "ID=SECRET" in bad.output
    bad = CliRunner().invoke(main, ["simulator", "--port", "0", "--twiml-number", "+65600"])
    assert bad.exit_code == 2 and "NUMBER=URL" in bad.output
    bad = CliRunner().invoke(main, ["simulator", "--port", "0", "--account-sid", "AC1"])
    assert bad.exit_code == 1 and "AccountSid" in bad.output


def test_the_terminal_timeline_tells_a_twiml_call(world: TwimlWorld) -> None:
    world.app.on("/voice", twiml('<Gather numDigits="1" action="/menu"><Say>Menu.</Say>'
                                 "</Gather>"))
    world.app.on("/menu", lambda hit: ("down", 503))
    sid = world.call()
    world.sim.press(sid, "1")
    world.sim.settle(sid)
    lines = [shown.render() for shown in Watch(sid).new(world.info(sid))]
    text = "\n".join(lines)
    assert f"ring   {CALLER} calls {NUMBER}, requesting {APP_URL}/voice" in text
    assert "→ app  voice POST CallStatus=ringing" in text and " 200 in " in text
    assert "twiml  <Gather> action=/menu method=POST timeout=5.0" in text
    assert "→ app  action POST CallStatus=in-progress Digits=1" in text
    assert "error  error 11217: " in text
    assert 'says   "We\'re sorry, but an application error has occurred. Goodbye!"' in text
