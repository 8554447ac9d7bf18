"""hoiivr run: serving, the default store, tunnels, pointing a Hoiio Number, and its errors."""
from __future__ import annotations

import os
import socket
import sys
import threading
import types
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode

import pytest
import requests
from cli_support import APPS, CONFIG

from hoiivr.cli.loader import load_app
from hoiivr.carriers.hoiio import compute_signature
from hoiivr._server import Server
from hoiivr.cli.run import bind, environment, run_command
from hoiivr.stores import MemoryStore

MENU = str(APPS / "cliapp_menu.py")
NUMBER = "+6561234567"
PUBLIC = "https://ivr.example"


class StoppedServer:
    """Stands in for werkzeug's server: the user presses Ctrl-C as soon as it serves."""

    instances: ClassVar[list[StoppedServer]] = []

    def __init__(self, host: str, port: int, app: object, **options: object) -> None:
        self.host, self.port, self.app, self.options = host, port, app, options
        self.closed = False
        StoppedServer.instances.append(self)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        raise KeyboardInterrupt

    def server_close(self) -> None:
        self.closed = True


@pytest.fixture
def stopped_server(monkeypatch: pytest.MonkeyPatch) -> list[StoppedServer]:
    StoppedServer.instances = []
    monkeypatch.setattr("hoiivr._server.make_server", StoppedServer)
    return StoppedServer.instances


@pytest.fixture
def in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Run where the default store (hoiivr.sqlite3) may be written."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def ringing(token: str) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"session": "S1", "call_state": "ringing", "from": "+6591234567",
                      "to": NUMBER, "txn_ref": "AA-1"}).encode()
    return body, {"X-Hoiio-Signature": compute_signature(body, token),
                  "Content-Type": "application/x-www-form-urlencoded"}


# -- the server itself -------------------------------------------------------------------------


def test_the_server_answers_requests_until_stopped_from_another_thread():
    app, _ = load_app(MENU)
    server = Server(app, "127.0.0.1", 0)
    server.bind()
    replies: list[int] = []

    def call_then_stop() -> None:
        replies.append(requests.post(f"{server.url}/hoiio/answer",
                                     data={"session": "S1"}, timeout=5).status_code)
        server.stop()

    caller = threading.Thread(target=call_then_stop)
    caller.start()
    server.serve_forever()           # returns once the other thread has stopped it
    caller.join()
    assert replies == [403]      # the app answered: an unsigned notification is refused
    app.extensions["hoiivr"].close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/hoiio/answer", timeout=2)


def test_binding_reports_a_taken_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(Exception, match=f"port {port} on 127.0.0.1 is in use"):
            bind(Server(None, "127.0.0.1", port))


def test_environment_is_put_back(monkeypatch):
    monkeypatch.setenv("HOIIVR_STORE", "memory://")
    with environment({"HOIIVR_PUBLIC_URL": PUBLIC, "HOIIO_API_URL": None},
                     defaults={"HOIIVR_STORE": "sqlite:///x", "SECRET_KEY": "k"}):
        assert os.environ["HOIIVR_PUBLIC_URL"] == PUBLIC
        assert os.environ["HOIIVR_STORE"] == "memory://"      # configured: left alone
        assert os.environ["SECRET_KEY"] == "k" and "HOIIO_API_URL" not in os.environ
    assert "HOIIVR_PUBLIC_URL" not in os.environ and "SECRET_KEY" not in os.environ
    assert os.environ["HOIIVR_STORE"] == "memory://"


# -- the command, end to end ------------------------------------------------------------------


def test_run_serves_a_whole_answer_through_the_real_server(runner, monkeypatch, in_tmp,
                                                           fake_hoiio):
    """A signed ringing notification reaches the app; its Gather reaches (fake) Hoiio with a
    notify URL on the public URL; call state is in ./hoiivr.sqlite3."""
    from werkzeug.serving import make_server
    seen: dict[str, object] = {}
    threads: list[threading.Thread] = []

    def call_then_stop(server) -> None:
        body, headers = ringing("menu-token")
        seen["status"] = requests.post(f"http://127.0.0.1:{server.port}/hoiio/answer",
                                       data=body, headers=headers, timeout=5).status_code
        server.shutdown()

    def make_and_call(*args, **kwargs):
        server = make_server(*args, **kwargs)
        seen["port"] = server.port
        threads.append(threading.Thread(target=call_then_stop, args=(server,)))
        threads[0].start()
        return server

    monkeypatch.setattr("hoiivr._server.make_server", make_and_call)
    result = runner.invoke(run_command, [MENU, "--port", "0", "--public-url", PUBLIC,
                                         "--api-url", fake_hoiio.url])
    threads[0].join()
    assert result.exit_code == 0, result.output
    assert seen["status"] == 200
    [gather] = fake_hoiio.forms("ivr/middle/gather")
    assert gather["session"] == "S1" and gather["app_id"] == "AP-menu"
    assert gather["notify_url"].startswith(f"{PUBLIC}/hoiio/notify/")
    assert f" * Serving {MENU} on http://127.0.0.1:{seen['port']}" in result.output
    assert f"       {PUBLIC}/hoiio/answer\n" in result.output
    assert " * Store: sqlite:///hoiivr.sqlite3" in result.output
    assert (in_tmp / "hoiivr.sqlite3").exists()
    assert result.output.endswith("Stopped.\n")
    for name in ("HOIIVR_STORE", "HOIIVR_PUBLIC_URL", "HOIIO_API_URL"):
        assert name not in os.environ


def test_ctrl_c_stops_cleanly_and_a_local_url_is_explained(runner, in_tmp, stopped_server):
    result = runner.invoke(run_command, [MENU, "--port", "0"])
    assert result.exit_code == 0, result.output
    [server] = stopped_server
    assert server.closed and server.options["threaded"] is True
    assert f"http://127.0.0.1:{server.port}/hoiio/answer" in result.output
    assert "Only this machine can reach that URL" in result.output
    assert "Answer URL (the Hoiio Number's voice notify URL)" in result.output
    assert "for the real Hoiio use --public-url URL or --ngrok" in result.output
    assert "Traceback" not in result.output and "Aborted" not in result.output


def test_a_configured_store_is_kept(runner, in_tmp, monkeypatch, stopped_server):
    monkeypatch.setenv("HOIIVR_STORE", "memory://")
    result = runner.invoke(run_command, [MENU, "--port", "0"])
    assert result.exit_code == 0, result.output
    assert " * Store: memory://" in result.output
    assert not (in_tmp / "hoiivr.sqlite3").exists()
    assert os.environ["HOIIVR_STORE"] == "memory://"


@pytest.mark.parametrize("url, shown", [
    ("redis://:s3cret@db.example:6379/0?prefix=x:", "redis://:***@db.example:6379/0?prefix=x:"),
    ("redis://db.example:6379/0", "redis://db.example:6379/0"),
    ("sqlite:///hoiivr.sqlite3", "sqlite:///hoiivr.sqlite3"),
    # redis-py takes the password as a query option too
    ("redis://db.example:6379/0?password=s3cret", "redis://db.example:6379/0?password=***"),
    ("redis://u:s3cret@db.example/0?db=1&Password=s3cret&prefix=x:",
     "redis://u:***@db.example/0?db=1&Password=***&prefix=x:"),
])
def test_a_store_password_is_never_printed(runner, in_tmp, monkeypatch, stopped_server,
                                           url, shown):
    monkeypatch.setenv("HOIIVR_STORE", url)
    # The banner is the point: the store itself is one in memory.
    monkeypatch.setattr("hoiivr.runtime.store_from_url", lambda url: MemoryStore())
    result = runner.invoke(run_command, [MENU, "--port", "0"])
    assert f" * Store: {shown}\n" in result.output and "s3cret" not in result.output


def test_the_apps_own_public_url_wins_with_a_warning(runner, in_tmp, write_app, stopped_server):
    path = write_app("pinned.py", "from flask import Flask\nfrom hoiivr import IVR\n"
                     "app = Flask(__name__)\n" + CONFIG +
                     "app.config['HOIIVR_PUBLIC_URL'] = 'https://old.example'\nivr = IVR(app)\n")
    result = runner.invoke(run_command, [str(path), "--port", "0", "--public-url", PUBLIC])
    assert result.exit_code == 0
    assert ("Warning: app.config['HOIIVR_PUBLIC_URL'] = 'https://old.example' overrides "
            f"'{PUBLIC}'") in result.stderr
    assert "https://old.example/hoiio/answer" in result.output


def test_help_explains_with_an_example_and_names_gunicorn(runner):
    result = runner.invoke(run_command, ["--help"])
    assert result.exit_code == 0
    assert "HOIIVR_CARRIER=twilio hoiivr run myapp:app --ngrok --number +14155550100" \
        in result.output
    assert "gunicorn" in result.output and "sqlite:///hoiivr.sqlite3" in result.output


# -- --number -----------------------------------------------------------------------------------


def test_number_points_the_hoiio_number_at_the_answer_url(runner, in_tmp, fake_hoiio,
                                                          stopped_server):
    result = runner.invoke(run_command, [MENU, "--port", "0", "--public-url", PUBLIC + "/",
                                         "--number", NUMBER, "--api-url", fake_hoiio.url])
    assert result.exit_code == 0, result.output
    assert fake_hoiio.forms("number/update_forwarding") == [{
        "app_id": "AP-menu", "access_token": "menu-token", "number": NUMBER,
        "forward_to": f"{PUBLIC}/hoiio/answer", "mode": "voice"}]
    assert f"Calls to {NUMBER} now ring this app." in result.output


def test_number_refused_by_hoiio(runner, in_tmp, fake_hoiio, stopped_server):
    fake_hoiio.status = "error_number_invalid"
    result = runner.invoke(run_command, [MENU, "--port", "0", "--public-url", PUBLIC,
                                         "--number", NUMBER, "--api-url", fake_hoiio.url])
    assert result.exit_code == 1
    assert (f"Error: Hoiio refused to point {NUMBER} at {PUBLIC}/hoiio/answer: "
            "error_number_invalid; is it one of your account's Hoiio Numbers?") in result.output
    assert stopped_server == []          # nothing was served
    assert "Traceback" not in result.output


def test_number_when_hoiio_cannot_be_reached(runner, in_tmp, stopped_server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    result = runner.invoke(run_command, [MENU, "--port", "0", "--number", NUMBER,
                                         "--api-url", f"http://127.0.0.1:{closed}/open/"])
    assert result.exit_code == 1
    assert f"Error: could not point {NUMBER} at http://127.0.0.1:" in result.output
    assert "could not connect to Hoiio" in result.output and stopped_server == []


@pytest.mark.parametrize("number", ["6561234567", "+65 6123 4567", "+0123456", "abc"])
def test_a_bad_number_is_a_usage_error(runner, number):
    result = runner.invoke(run_command, [MENU, "--number", number])
    assert result.exit_code == 2
    assert f"Invalid value for '--number': '{number}' is not an E.164 number" in result.output
    assert "+6561234567" in result.output


# -- the errors a user can hit ------------------------------------------------------------------


def test_a_taken_port(runner, in_tmp, stopped_server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(run_command, [MENU, "--port", str(port)])
    assert result.exit_code == 1
    assert (f"Error: port {port} on 127.0.0.1 is in use by another program; stop it, or pick "
            "another port with --port") in result.output
    assert "Traceback" not in result.output and stopped_server == []
    assert not (in_tmp / "hoiivr.sqlite3").exists()   # the app was not even loaded


def test_a_config_error_from_the_app(runner, in_tmp, write_app, stopped_server):
    path = write_app("no_creds.py", "from flask import Flask\nfrom hoiivr import IVR\n"
                     "app = Flask(__name__)\nivr = IVR(app)\n")
    result = runner.invoke(run_command, [str(path), "--port", "0"])
    assert result.exit_code == 1
    assert "Error: HOIIO_APP_ID, HOIIO_ACCESS_TOKEN and SECRET_KEY are not set" in result.output
    assert "Traceback" not in result.output and "HOIIVR_STORE" not in os.environ
    assert not stopped_server                # nothing was served


def test_no_such_app(runner, in_tmp):
    result = runner.invoke(run_command, ["nowhere.py", "--port", "0"])
    assert result.exit_code == 2 and "no such file: 'nowhere.py'" in result.output


def test_ngrok_and_public_url_together(runner):
    result = runner.invoke(run_command, [MENU, "--ngrok", "--public-url", PUBLIC])
    assert result.exit_code == 2 and "use --ngrok or --public-url, not both" in result.output


@pytest.mark.parametrize("option", ["--public-url", "--api-url"])
def test_a_url_option_must_be_a_url(runner, option):
    result = runner.invoke(run_command, [MENU, option, "abc.example"])
    assert result.exit_code == 2
    assert "'abc.example' is not an http(s) URL" in result.output


# -- --ngrok ------------------------------------------------------------------------------------


def test_ngrok_missing(runner, in_tmp, monkeypatch, stopped_server):
    monkeypatch.setitem(sys.modules, "pyngrok", None)
    result = runner.invoke(run_command, [MENU, "--port", "0", "--ngrok"])
    assert result.exit_code == 1
    assert "Error: --ngrok needs pyngrok: pip install -e '.[ngrok]' (from a clone of hoiivr)" in result.output
    assert "Traceback" not in result.output and stopped_server == []


class FakeNgrok:
    """pyngrok's modules, recording what the command asks of them."""

    class PyngrokError(Exception):
        pass

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.fail: str | None = None
        package, ngrok, exception = (types.ModuleType(name) for name in
                                     ("pyngrok", "pyngrok.ngrok", "pyngrok.exception"))
        ngrok.connect, ngrok.disconnect, ngrok.kill = self.connect, self.disconnect, self.kill
        exception.PyngrokError = self.PyngrokError
        package.ngrok, package.exception = ngrok, exception
        for module in (package, ngrok, exception):
            monkeypatch.setitem(sys.modules, module.__name__, module)

    def connect(self, addr: str, proto: str) -> types.SimpleNamespace:
        self.calls.append(("connect", addr, proto))
        if self.fail:
            raise self.PyngrokError(self.fail)
        return types.SimpleNamespace(public_url="https://t1.ngrok.app")

    def disconnect(self, url: str) -> None:
        self.calls.append(("disconnect", url))

    def kill(self) -> None:
        self.calls.append(("kill",))


def test_ngrok_tunnels_to_the_port_and_its_url_is_the_public_url(runner, in_tmp, monkeypatch,
                                                                 fake_hoiio, stopped_server):
    ngrok = FakeNgrok(monkeypatch)
    result = runner.invoke(run_command, [MENU, "--port", "0", "--ngrok", "--number", NUMBER,
                                         "--api-url", fake_hoiio.url])
    assert result.exit_code == 0, result.output
    port = stopped_server[0].port
    assert ngrok.calls == [("connect", f"127.0.0.1:{port}", "http"),
                           ("disconnect", "https://t1.ngrok.app"), ("kill",)]
    [form] = fake_hoiio.forms("number/update_forwarding")
    assert form["forward_to"] == "https://t1.ngrok.app/hoiio/answer"
    assert "       https://t1.ngrok.app/hoiio/answer" in result.output
    assert "HOIIVR_PUBLIC_URL" not in os.environ


def test_ngrok_failing_to_connect(runner, in_tmp, monkeypatch, stopped_server):
    ngrok = FakeNgrok(monkeypatch)
    ngrok.fail = "authentication failed: no authtoken"
    result = runner.invoke(run_command, [MENU, "--port", "0", "--ngrok"])
    assert result.exit_code == 1
    assert ("Error: ngrok could not open a tunnel: authentication failed: no authtoken; check "
            "your ngrok authtoken") in result.output
    assert stopped_server == []


def test_number_without_a_public_url_is_refused_with_the_fix(runner, in_tmp, stopped_server):
    result = runner.invoke(run_command, [MENU, "--port", "0", "--number", NUMBER])
    assert result.exit_code == 2
    assert "which only this machine can reach" in result.output
    assert "--public-url URL, or use --ngrok" in result.output and stopped_server == []


def test_number_points_a_twilio_number_at_the_answer_url(runner, in_tmp, write_app,
                                                         stopped_server):
    """Against the simulator's IncomingPhoneNumbers resource, through twilio's own client."""
    from werkzeug.serving import make_server

    from hoiivr.simulator import Simulator
    path = write_app("twilio_menu.py", (
        "from flask import Flask\nfrom hoiivr import IVR, Gather\napp = Flask(__name__)\n"
        "app.config.update(HOIIVR_CARRIER='twilio', TWILIO_ACCOUNT_SID='AC' + '1' * 32, "
        "TWILIO_AUTH_TOKEN='auth', SECRET_KEY='s')\nivr = IVR(app)\n"
        "ivr.on_answer(lambda call: Gather('Press 1.', name='menu'))\n"))
    with Simulator() as sim:
        # Served by werkzeug itself: the fixture stops hoiivr's own servers at once.
        twilio = make_server("127.0.0.1", 0, sim.wsgi_app, threaded=True)
        thread = threading.Thread(target=twilio.serve_forever, daemon=True)
        thread.start()
        sim.add_twilio_account("AC" + "1" * 32, "auth")
        sim.add_twiml_number("+14155550100", None)
        url = f"http://127.0.0.1:{twilio.port}"
        try:
            result = runner.invoke(run_command, [str(path), "--port", "0", "--public-url",
                                                 PUBLIC, "--number", "+14155550100",
                                                 "--api-url", url])
            other = runner.invoke(run_command, [str(path), "--port", "0", "--public-url",
                                                PUBLIC, "--number", "+14155550199",
                                                "--api-url", url])
        finally:
            twilio.shutdown()
            twilio.server_close()
            thread.join(5)
        number = sim.directory.twiml_numbers["+14155550100"]
    assert result.exit_code == 0, result.output
    assert number.voice_url == number.status_callback == f"{PUBLIC}/twilio/answer"
    assert "Calls to +14155550100 now ring this app." in result.output
    assert " * Answer URL (the number's Voice URL (and its Status Callback URL)):" \
        in result.output and "Hoiio" not in result.output
    assert other.exit_code == 1 and "is not a number of this Twilio account" in other.output
