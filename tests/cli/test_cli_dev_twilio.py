"""hoiivr dev on an app whose carrier is Twilio: the simulator gives it a TwiML number and
its Calls resource, and the terminal phone is the same."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from hoiivr import IVR, Gather, Hangup
from hoiivr.cli import dev, main
from hoiivr.cli.timeline import Watch
from hoiivr.testing import Phone

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FAST = ["--port", "0", "--sim-port", "0", "--speed", "20"]
MENU = "Press 1 for sales, 2 for support, or 0 to leave a message."


@pytest.fixture(autouse=True)
def on_twilio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOIIVR_CARRIER", "twilio")
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_URL",
                 "TWILIO_FROM_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    yield
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(str(EXAMPLES)):
            del sys.modules[name]


def test_a_twilio_app_takes_its_calls_on_a_twiml_number(runner) -> None:
    result = runner.invoke(main, ["dev", str(EXAMPLES / "auto_attendant.py"), *FAST],
                           input="7\n1\n/quit\n")
    out = result.output
    assert result.exit_code == 0 and "Traceback" not in out, out
    assert " * TwiML number +6560000000 rings the app." in out
    assert "Twilio Calls API:" in out and "/twilio/answer)" in out
    assert f'says   "{MENU}"' in out
    assert "→ app  voice POST CallStatus=ringing" in out
    assert "twiml  <Gather>" in out and "twiml  <Dial> +6522222222" in out
    # A verb's action is a signed notify URL: its token is not printed.
    assert "action=http://127.0.0.1:" in out and "/twilio/notify/... " in out
    assert "/twilio/notify/W" not in out
    assert 'says   "Sorry, that is not an option.' in out
    assert "xfer   connected to +6522222222: talking" in out
    assert "debit USD 0.014." in out and out.endswith("Stopped.\n")


def test_a_twilio_app_places_calls_through_the_simulator(runner, monkeypatch) -> None:
    seen: dict[str, Any] = {}
    banner = dev._banner

    def remember(app_spec, app_url, answer_url, sim_server, number) -> None:
        seen.update(app=app_url, sim=sim_server.url)
        banner(app_spec, app_url, answer_url, sim_server, number)

    def remind_then_ctrl_c() -> None:
        placed = requests.post(f"{seen['app']}/remind", data={"number": "+6598765432"},
                               timeout=10).json()
        requests.post(f"{seen['sim']}/sim/settle", json={"session": placed["session"]},
                      timeout=10)
        seen["call"] = requests.get(f"{seen['sim']}/sim/calls/{placed['session']}",
                                    timeout=10).json()

    monkeypatch.setattr(dev, "_banner", remember)
    monkeypatch.setattr(dev, "wait_for_interrupt", remind_then_ctrl_c)
    app = EXAMPLES / "appointment_reminder.py"
    result = runner.invoke(main, ["dev", str(app), *FAST, "--no-call"])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert " * TwiML number +6560000000 rings the app." in result.output
    call = seen["call"]
    assert (call["kind"], call["direction"], call["state"]) == ("twiml", "outbound",
                                                                "collecting")
    assert call["prompts"][0].startswith("Hello, this is City Clinic.")
    assert call["twiml"]["direction"] == "outbound-api" and call["from"] == "+6560000000"


def test_the_caller_says_words_to_an_app_that_listens(runner) -> None:
    result = runner.invoke(main, ["dev", str(EXAMPLES / "voice_menu.py"), *FAST],
                           input="/say\n/say billing\n/say technical support please\n/quit\n")
    out = result.output
    assert result.exit_code == 0 and "Traceback" not in out, out
    assert "your turn: the app listens for keys or words (/say WORDS)" in out
    assert "/say takes the words the caller says" in out
    assert 'speak  the caller says "billing"' in out
    assert 'says   "Sorry, I did not catch that.' in out
    assert ('heard  "technical support please" (as typed, confidence 1.0)' in out)
    assert "twiml  <Dial> +6533333333" in out


@pytest.mark.parametrize("command", [["dev", "--no-call"], ["routes"]])
def test_without_the_twilio_package_each_command_says_what_to_install(
        runner, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    """What a newcomer meets who set HOIIVR_CARRIER=twilio after a plain install."""
    for name in [name for name in sys.modules if name.split(".")[0] == "twilio"
                 or name.startswith("hoiivr.carriers.twilio")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "twilio", None)            # `import twilio` fails
    result = runner.invoke(main, [command[0], str(EXAMPLES / "auto_attendant.py"),
                                  *command[1:], *(FAST if command[0] == "dev" else [])])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert result.output.startswith("Error: HOIIVR_CARRIER=twilio needs the twilio package")
    assert "pip install -e '.[twilio]'" in result.output


def test_the_developer_s_own_twilio_credentials_give_way_to_the_simulator_s(
        runner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator signs with its account's token: the developer's real one, left in the
    environment, would have the app refuse every webhook (403)."""
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "the-developer-s-real-token")
    monkeypatch.setenv("TWILIO_WEBHOOK_SHARED_KEYS", "k1=the-developer-s-shared-key")
    result = runner.invoke(main, ["dev", str(EXAMPLES / "auto_attendant.py"), *FAST],
                           input="1\n/quit\n")
    out = result.output
    assert result.exit_code == 0 and "Traceback" not in out, out
    assert " 403 " not in out and "xfer   connected to +6522222222: talking" in out
    assert ("Note: the app's TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
            "TWILIO_WEBHOOK_SHARED_KEYS are set; hoiivr dev uses the simulator's Twilio "
            f"account ({dev.ACCOUNT_SID}) instead") in out
    assert "the-developer-s" not in out           # named, never shown


def test_a_calls_request_shows_its_verbs_and_no_signed_url() -> None:
    """A slow handler's filler is a Calls request whose Twiml redirects to a signed notify
    URL: its line names the verbs, and a reply the simulator did not keep is no error."""
    app = Flask("slow_twilio")
    app.config.update(HOIIVR_FILLER_AFTER="0.2", TWILIO_FROM_NUMBER="+6560000009")
    ivr = IVR(app)
    ivr.on_answer(lambda call: Gather("Press 1.", max_digits=1, name="menu"))

    @ivr.on_gather("menu")
    def menu(call: Any) -> Hangup:
        time.sleep(0.6)
        return Hangup("Bye.")

    with Phone(app) as phone:
        call = phone.call()
        call.press("1")
        call.settle()
        info = phone.sim.get_call(call.session)
    lines = Watch(call.session).new(info)
    [request] = [line for line in lines if line.label == "← app"]
    assert (request.text, request.style) == ("Calls Twiml=<Say><Redirect>", None)
    [redirected] = [line for line in lines if "redirected" in line.text]
    assert redirected.render() == f"{redirected.at:8.1f}s  call   redirected to the " \
                                  "request's TwiML (through the Calls resource)"
    assert all(line.render(arrows=False).isascii() for line in lines
               if line.style != "prompt")
