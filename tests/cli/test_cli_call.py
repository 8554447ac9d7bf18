"""hoiivr call: the terminal phone against a simulator already running, over /sim/ HTTP."""
from __future__ import annotations

import re
import contextlib
import socket
from collections.abc import Iterator

import pytest
from cli_support import APPS

from hoiivr.cli import main
from hoiivr.cli.loader import environment, load_app
from hoiivr.simulator import RealClock, Simulator, SimulatorServer
from hoiivr.testing import LiveServer

MENU_APP = str(APPS / "cliapp_menu.py")
NUMBER = "+6560000000"


@pytest.fixture
def simulator() -> Iterator[str]:
    """A simulator on a real clock (20 times faster) routing NUMBER to the menu app, both
    on loopback ports, as `hoiivr simulator` and `hoiivr run` would serve them; its URL."""
    sim = Simulator(clock=RealClock(speed=20))
    server = SimulatorServer(sim, port=0)
    with contextlib.ExitStack() as stack:
        stack.callback(sim.close)
        stack.callback(server.stop)         # (callbacks run last first)
        server.start()
        app_server = LiveServer(None)
        app_server.bind()
        with environment({"HOIIO_API_URL": f"{server.url}/open/",
                          "HOIIVR_PUBLIC_URL": app_server.url}):
            app, ivr = load_app(MENU_APP)
            ivr.runtime(app)                # the settings are read here, the first use
        stack.callback(app.extensions["hoiivr"].close)
        sim.add_account("AP-menu", "menu-token")
        sim.add_number(NUMBER, f"{app_server.url}/hoiio/answer")
        app_server.wsgi_app = app
        with app_server:
            try:
                yield server.url
            finally:                # the simulator first: nothing may notify a stopped app
                server.stop()
                sim.close()


def call(runner, sim_url: str, *args: str, input: str = ""):
    result = runner.invoke(main, ["call", "--to", NUMBER, "--sim", sim_url, *args], input=input)
    assert "Traceback" not in result.output, result.output
    return result


def test_call_presses_a_key_and_is_transferred(runner, simulator):
    result = call(runner, simulator, input="1\n/quit\n")
    assert result.exit_code == 0, result.output
    out = result.output
    [session] = re.findall(r"Calling \+6560000000 from \+6591234567 \(call (S[0-9]{24})\)\.",
                           out)
    assert 'says   "Press 1 for sales, 2 for support."' in out
    assert "keys   1" in out and "xfer   connected to +6522222222: talking" in out
    assert "← app  transfer dest=+6522222222 on_failure=continue → success_ok" in out
    assert f"Call {session} ended after " in out and "(the caller hung up)" in out


def test_call_reaches_voicemail_from_another_number(runner, simulator):
    script = "/busy +6522222222\n1\n/speak 2\n#\n"
    result = call(runner, simulator, "--from", "+6598765432", input=script)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "ring   +6598765432 calls +6560000000" in out
    assert "xfer   +6522222222 did not connect: busy" in out
    assert 'says   "Sales is busy. Leave a message after the tone."' in out
    assert "record ongoing record_url=" in out and 'says   "Thank you. Goodbye."' in out
    assert "(the app hung up)" in out


def test_a_number_the_simulator_does_not_know(runner, simulator):
    result = runner.invoke(main, ["call", "--to", "+6569999999", "--sim", simulator])
    assert result.exit_code == 1
    assert "Error: to='+6569999999' is not a Hoiio Number of any account" in result.output


def test_no_simulator_there(runner):
    with socket.socket() as bound:        # bound, not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        result = runner.invoke(main, ["call", "--to", NUMBER, "--sim", url])
    assert result.exit_code == 1
    assert f"Error: cannot reach the simulator at {url}; start one with `hoiivr simulator`, " \
           "or give its address with --sim" in result.output


def test_something_else_there(runner, fake_hoiio):
    url = fake_hoiio.url.removesuffix("/open/")
    result = runner.invoke(main, ["call", "--to", NUMBER, "--sim", url])
    assert result.exit_code == 1
    assert f"{url} answers, but it is not a hoiivr simulator" in result.output


@pytest.mark.parametrize("args, option", [(["--to", "6560000000"], "--to"),
                                          (["--to", NUMBER, "--from", "91234567"], "--from")])
def test_a_number_not_in_e164(runner, args, option):
    result = runner.invoke(main, ["call", *args])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output
    assert "is not an E.164 number" in result.output


def test_to_is_required_and_sim_must_be_a_url(runner):
    result = runner.invoke(main, ["call"])
    assert result.exit_code == 2 and "Missing option '--to'" in result.output
    result = runner.invoke(main, ["call", "--to", NUMBER, "--sim", "localhost:8800"])
    assert result.exit_code == 2 and "is not an http(s) URL" in result.output


def test_speak_without_espeak_ng(runner, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    result = runner.invoke(main, ["call", "--to", NUMBER, "--speak"])
    assert result.exit_code == 1
    assert "Error: --speak needs espeak-ng, which is not installed" in result.output
