"""hoiivr dev: the app and the simulator on loopback, and the terminal as the caller's phone.

Each run here is the real thing on ports 0 (the simulator on a real clock, 20 times faster
than life) with stdin scripted: when stdin is not a terminal, each line waits until the
call waits for the caller, so the scripts need no sleeps, and end of input quits.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from cli_support import CONFIG, SETTINGS

from hoiivr.cli import dev
from hoiivr.cli import main
from hoiivr.cli.timeline import Watch, describe, summary

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ATTENDANT = str(EXAMPLES / "auto_attendant.py")
MENU = "Press 1 for sales, 2 for support, or 0 to leave a message."
#: The session id in "Calling ... (call S...)." (ids are random).
SESSION = re.compile(r"\(call (S[0-9]{24})\)\.")
FAST = ["--port", "0", "--sim-port", "0", "--speed", "20"]


@pytest.fixture(autouse=True)
def fresh_examples():
    """Each run imports its own copy of the example (the loader names it auto_attendant)."""
    yield
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(str(EXAMPLES)):
            del sys.modules[name]


def dev_run(runner, *args: str, input: str = "", app: str = ATTENDANT):
    result = runner.invoke(main, ["dev", app, *FAST, *args], input=input)
    assert "Traceback" not in result.output, result.output
    return result


def lines_with(output: str, text: str) -> list[str]:
    return [line for line in output.splitlines() if text in line]


# -- a whole call --------------------------------------------------------------------------


def test_the_caller_hears_the_menu_presses_1_and_is_transferred(runner):
    result = dev_run(runner, input="1\n/quit\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f'says   "{MENU}"' in out
    assert "> 1\n" in out and lines_with(out, "keys   1")
    assert lines_with(out, "→ app  gather ongoing digits=1")[0].rstrip().endswith("ms")
    assert lines_with(out, "← app  transfer dest=+6522222222 on_failure=continue → success_ok")
    assert 'says   "Connecting you to sales."' in out
    assert "xfer   connected to +6522222222: talking" in out
    # /quit hangs up first, so the app hears the end, and the bill is shown.
    assert "hangup the caller hangs up" in out
    assert lines_with(out, "→ app  transfer ended transfer_status=answered  ")
    [session] = SESSION.findall(out)
    assert f"Call {session} ended after " in out and "debit SGD 0.020." in out
    assert out.endswith("Stopped.\n")
    # In time order: the menu, then the key, then the transfer.
    assert out.index(MENU) < out.index("keys   1") < out.index("connected to +6522222222")


def test_the_banner_names_every_url(runner):
    result = dev_run(runner, input="/quit\n")
    out = result.output
    app_url = lines_with(out, " * App ")[0].split(" on ")[1].split()[0]
    sim_url = lines_with(out, " * Hoiio simulator on ")[0].split(" on ")[1]
    assert app_url.startswith("http://127.0.0.1:") and not app_url.endswith(":0")
    assert f"(answer URL {app_url}/hoiio/answer)" in out
    assert f"Hoiio API for any SDK:   {sim_url}/open/   (app_id=dev-app, " \
           "access_token=dev-token)" in out
    assert f"Control API:             {sim_url}/sim/" in out
    assert " * Hoiio Number +6560000000 rings the app." in out
    assert re.search(r"Calling \+6560000000 from \+6591234567 \(call S[0-9]{24}\)\.", out)


def test_voicemail_when_sales_is_busy(runner):
    script = "/busy +6522222222\n1\n/speak 3\n#\n"
    result = dev_run(runner, input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "+6522222222 will be busy." in out
    assert "xfer   +6522222222 did not connect: busy" in out
    assert lines_with(out, "→ app  transfer ongoing transfer_status=busy")
    assert "your turn: recording after the tone" in out
    assert "speak  the caller talks for 3 s" in out
    [notified] = lines_with(out, "→ app  record ongoing record_url=http://127.0.0.1:")
    assert re.search(r"/sim/recordings/rec-[0-9]{24}\.wav", notified)
    assert 'says   "Thank you. We will call you back. Goodbye."' in out
    assert "(the app hung up): 1 min billed" in out
    assert out.index("talks for 3 s") < out.index("keys   #") < out.index("Thank you")


def test_call_again_with_other_numbers(runner):
    script = "/hangup\n/call\n1\n"
    result = dev_run(runner, "--number", "+6561111111", "--from", "+6598765432", input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    first, second = SESSION.findall(out)
    assert f"Calling +6561111111 from +6598765432 (call {first})." in out
    assert f"Call {first} ended" in out and f"Call {second} ended" in out
    assert "ring   +6598765432 calls +6561111111" in out
    assert out.count(f'says   "{MENU}"') == 2
    assert "connected to +6522222222" in out.split(f"(call {second})")[1]


def test_mistakes_at_the_prompt_are_explained_and_the_call_goes_on(runner):
    script = ("/help\n/dance\nquit\n/busy 6522222222\n/speak forever\n/call\n"
              "/hangup\n5\n/speak 2\n/hangup\n")
    result = dev_run(runner, input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "/busy NUMBER" in out and "/quit" in out          # the help
    assert "/dance is not a command; /help lists them" in out
    assert "'quit' is not keys to press: type digits, * or #, or a command such as /quit" \
        in out
    assert "/busy takes one number in E.164 form, e.g. /busy +6522222222" in out
    assert "/speak takes a number of seconds from 0 to 3600, e.g. /speak 5" in out
    assert "A call is in progress; /hangup first." in out
    # After the call ended: keys, talking and hanging up need a call.
    assert out.count("There is no call in progress; /call to call again.") == 3
    assert "Stopped." in out


def test_end_of_input_hangs_up_and_stops_both_servers(runner):
    result = dev_run(runner, input="")
    assert result.exit_code == 0, result.output
    sim_url = lines_with(result.output, " * Hoiio simulator on ")[0].split(" on ")[1]
    app_url = lines_with(result.output, " * App ")[0].split(" on ")[1].split()[0]
    [session] = SESSION.findall(result.output)
    assert "the caller hangs up" in result.output and f"Call {session} ended" in result.output
    for url in (sim_url + "/sim", app_url + "/hoiio/answer"):
        with pytest.raises(requests.ConnectionError):
            requests.get(url, timeout=2)
    for name in SETTINGS:
        assert name not in os.environ


def test_the_app_is_wired_to_the_simulator_whatever_its_own_config_says(runner, write_app):
    path = write_app("pinned_dev.py", (
        "from flask import Flask\nfrom hoiivr import IVR, Hangup, Play\napp = Flask(__name__)\n"
        + CONFIG + "app.config.update(HOIIO_API_URL='https://secure.hoiio.com/open/', "
        "HOIIVR_PUBLIC_URL='https://old.example')\nivr = IVR(app)\n"
        "@ivr.on_answer\ndef answer(call):\n    return [Play('Closed today.'), Hangup()]\n"))
    result = dev_run(runner, input="", app=str(path))
    assert result.exit_code == 0, result.output
    assert "Note: the app's HOIIO_API_URL is https://secure.hoiio.com/open/; hoiivr dev uses " \
           "http://127.0.0.1:" in result.stderr
    assert "Note: the app's HOIIVR_PUBLIC_URL is https://old.example; hoiivr dev uses " \
           "http://127.0.0.1:" in result.stderr
    # The simulator's own account: the app's real credentials are never printed.
    assert "(app_id=dev-app, access_token=dev-token)" in result.output
    assert "access_token=token" not in result.output
    assert 'says   "Closed today."' in result.output
    assert "(the app hung up)" in result.output


def test_the_gaps_are_shown_before_the_call_and_the_call_goes_on(runner, write_app):
    path = write_app("gappy_dev.py", (
        "from flask import Flask\nfrom hoiivr import IVR, Gather, Play\napp = Flask(__name__)\n"
        "ivr = IVR(app)\n@ivr.on_answer\ndef answer(call):\n"
        "    return Gather('Press 1.', max_digits=1, name='menu')\n"
        "@ivr.on_gather('menu')\ndef menu(call):\n    return Play('We open at nine.')\n"))
    result = runner.invoke(dev.dev_command, [str(path), *FAST], input="1\n")
    assert result.exit_code == 0, result.output
    gaps = [' ! Gaps (1): no handler receives these; the caller hears "Goodbye." and is hung '
            "up (hoiivr routes APP tells more)",
            "     Play returned last at gappy_dev:10 in menu(): end with Hangup(...) or add "
            "@ivr.on_play"]
    assert result.stderr.splitlines()[:2] == gaps
    out = result.output
    assert out.index(gaps[0]) < out.index("Calling +6560000000")
    assert 'says   "We open at nine."' in out and 'says   "Goodbye."' in out


def test_an_app_with_no_gaps_shows_none(runner):
    result = dev_run(runner, input="/quit\n")
    assert " ! " not in result.output and "Gaps" not in result.output


def test_a_handlers_error_is_in_the_calls_timeline(runner, write_app):
    path = write_app("failing_dev.py", (
        "from flask import Flask\nfrom hoiivr import IVR, Gather\napp = Flask(__name__)\n"
        "ivr = IVR(app)\n@ivr.on_answer\ndef answer(call):\n"
        "    return Gather('Press 1.', max_digits=1, name='menu')\n"
        "@ivr.on_gather('menu')\ndef menu(call):\n    return int('x')\n"))
    result = runner.invoke(dev.dev_command, [str(path), *FAST], input="1\n")
    assert result.exit_code == 0, result.output
    out = result.output
    errors = lines_with(out, "  error  ")
    assert len(errors) == 1, out
    error = errors[0]
    assert error.split("s  ", 1)[1] == (
        "error  menu raised ValueError: invalid literal for int() with base 10: 'x' at "
        f"{path}:10; the caller hears the apology")
    # After the notification whose handler raised, before the apology.
    assert out.index("→ app  gather ongoing digits=1") < out.index(error) < \
        out.index('says   "Sorry, something went wrong.')


def test_speak_says_each_prompt_with_espeak_ng(runner, monkeypatch, tmp_path):
    said = tmp_path / "said.txt"
    program = tmp_path / "fake-espeak-ng"
    program.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$4\" >> {said}\n")
    program.chmod(0o755)
    monkeypatch.setattr("shutil.which", lambda name: str(program) if name == "espeak-ng"
                        else None)
    result = dev_run(runner, "--speak", input="1\n/quit\n")
    assert result.exit_code == 0, result.output
    # The welcome and the menu may arrive in one look at the fast call: a prompt that a
    # newer one replaces before it is said is not said.
    assert said.read_text().splitlines()[-2:] == [MENU, "Connecting you to sales."]


def test_no_call_serves_both_until_ctrl_c(runner, monkeypatch):
    seen: dict[str, object] = {}
    banner = dev._banner

    def remember(app_spec, app_url, answer_url, sim_server, number) -> None:
        seen.update(app=app_url, sim=sim_server.url)
        banner(app_spec, app_url, answer_url, sim_server, number)

    def use_them_then_ctrl_c() -> None:
        seen["sim_reply"] = requests.get(f"{seen['sim']}/sim", timeout=5).json()
        seen["app_status"] = requests.post(f"{seen['app']}/hoiio/answer", timeout=5).status_code

    monkeypatch.setattr(dev, "_banner", remember)
    monkeypatch.setattr(dev, "wait_for_interrupt", use_them_then_ctrl_c)
    result = dev_run(runner, "--no-call")
    assert result.exit_code == 0, result.output
    assert seen["sim_reply"]["clock"] == "real"
    assert seen["app_status"] == 403          # the app answers; an unsigned call is refused
    assert " * Press Ctrl-C to stop." in result.output and "Calling" not in result.output
    assert result.output.endswith("Stopped.\n")


# -- what goes wrong ---------------------------------------------------------------------------


def test_the_timeline_stops_quietly_once_its_reader_has_gone():
    """``hoiivr dev app.py | head``: the watcher's next line finds the pipe closed."""
    command = [sys.executable, "-c", "from hoiivr.cli import main; main()", "dev", ATTENDANT,
               *FAST]
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env) as dev_process:
        assert dev_process.stdout is not None
        for line in dev_process.stdout:
            if line.startswith("Type keys"):    # the last line before the watcher's
                break
        dev_process.stdout.close()
        time.sleep(3)                   # the call goes on: prompts, timeouts, lines
        _, errors = dev_process.communicate("/quit\n", timeout=60)
    assert "Traceback" not in errors and "Exception in thread" not in errors, errors


def test_no_such_app(runner, tmp_path):
    result = dev_run(runner, app=str(tmp_path / "nope.py"))
    assert result.exit_code == 2
    assert "Error: no such file: " in result.output and "nope.py" in result.output


def test_an_app_without_an_ivr(runner, write_app):
    path = write_app("plain_flask.py", "from flask import Flask\napp = Flask(__name__)\n")
    result = dev_run(runner, app=str(path))
    assert result.exit_code == 2
    assert "has no IVR mounted; call IVR(app) or ivr.init_app(app)" in result.output


def test_an_app_that_raises_while_imported(runner, write_app):
    path = write_app("broken_dev.py", "raise RuntimeError('no database')\n")
    result = dev_run(runner, app=str(path))
    assert result.exit_code == 1
    assert "RuntimeError was raised at" in result.output and "no database" in result.output


@pytest.mark.parametrize("option, hint", [("--port", "--port"), ("--sim-port", "--sim-port")])
def test_a_taken_port(runner, option, hint):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(main, ["dev", ATTENDANT, *FAST, option, str(port)])
    assert result.exit_code == 1
    assert f"Error: port {port} on 127.0.0.1 is in use by another program" in result.output
    assert f"pick another port with {hint}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("option", ["--number", "--from"])
def test_a_number_not_in_e164(runner, option):
    result = dev_run(runner, option, "6560000000")
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': '6560000000' is not an E.164 number; write it " \
           "with + and the country code, e.g. +6561234567 (did you mean +6560000000?)" \
           in result.output


def test_speak_without_espeak_ng(runner, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    result = dev_run(runner, "--speak")
    assert result.exit_code == 1
    assert "Error: --speak needs espeak-ng, which is not installed" in result.output
    assert "apt install espeak-ng" in result.output and "Calling" not in result.output


def test_help_shows_the_options_and_an_example(runner):
    result = runner.invoke(main, ["dev", "--help"])
    assert result.exit_code == 0
    for text in ("--port", "--sim-port", "--number", "--from", "--speed", "--speak",
                 "--no-call", "hoiivr dev examples/auto_attendant.py"):
        assert text in result.output


# -- the timeline's lines ------------------------------------------------------------------------


def call_info(timeline, prompts, state="collecting"):
    return {"session": "S1", "from": "+6591234567", "to": "+6560000000", "state": state,
            "timeline": timeline, "prompt_log": prompts}


NOTIFY = {"at": 0.0, "type": "notification", "ivr_block": "answer", "call_state": "ringing",
          "fields": {}, "latency_ms": None, "reply_status": None, "error": None}
GATHER = {"at": 0.1, "type": "request", "endpoint": "ivr/middle/gather",
          "params": {"app_id": "A", "access_token": "****", "session": "S1", "msg": "Hi.",
                     "max_digits": "1", "notify_url": "http://x"},
          "reply": {"status": "success_ok"}}
PROMPT = {"at": 0.1, "block": "gather", "attempt": 1, "looped": False, "music": False,
          "cut": False, "text": "Hi.", "seconds": 1.5}


def test_a_notification_is_shown_once_delivered_and_what_followed_it_waits():
    watch = Watch("S1")
    ring = {"at": 0.0, "type": "ringing", "forward_to": "http://app/answer"}
    assert [s.label for s in watch.new(call_info([ring, NOTIFY, GATHER], [PROMPT]))] == ["ring"]
    delivered = {**NOTIFY, "latency_ms": 3.2, "reply_status": 200}
    shown = watch.new(call_info([ring, delivered, GATHER], [PROMPT]))
    assert [s.render() for s in shown] == [
        "     0.0s  → app  answer ringing" + " " * 27 + "200 in 3 ms",
        "     0.1s  ← app  gather max_digits=1 → success_ok",
        '     0.1s  says   "Hi."']
    assert shown[2].spoken == "Hi."
    assert watch.turn(call_info([ring, delivered, GATHER], [PROMPT])).render() == \
        "     1.6s  you    your turn: the app listens for keys"
    assert watch.turn(call_info([ring, delivered, GATHER], [PROMPT])) is None   # once


def test_failures_and_odd_entries_are_readable():
    info = call_info([], [])
    failed = {**NOTIFY, "latency_ms": 10.0, "error": "ConnectionError: refused"}
    assert describe(failed, info).style == "error"
    assert "FAILED in 10 ms: ConnectionError: refused" in describe(failed, info).text
    refused = {**GATHER, "reply": {"status": "error_session_not_ready"}}
    assert describe(refused, info).text.endswith("→ error_session_not_ready")
    assert describe(refused, info).render(arrows=False).endswith("-> error_session_not_ready")
    assert describe({"at": 1, "type": "newfangled", "x": 1}, info).text == "x=1"
    rings = describe({"at": 2, "type": "dest_phone", "number": "+6522222222",
                      "behaviour": "busy", "talk_seconds": 30.0}, info)
    assert (rings.label, rings.text) == ("rings", "+6522222222 (scripted: busy)")
    assert describe({"type": "prompt", **PROMPT, "music": True}, info).text == \
        "(music on hold)"
    assert describe(NOTIFY, info).render(arrows=False).startswith("     0.0s  -> app")
    assert describe(NOTIFY, info).text.endswith("(being delivered)")
    ended = {"session": "S1", "ended_at": 22.8, "end_reason": "the app hung up",
             "billing": {"duration": "1", "currency": "SGD", "debit": "0.020"}}
    assert summary(ended) == ("Call S1 ended after 22.8 s (the app hung up): 1 min billed, "
                              "debit SGD 0.020.")
