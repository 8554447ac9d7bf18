"""SimulatorServer on port 0, and the ``hoiivr simulator`` command."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from hoiivr.cli import main
from hoiivr.simulator import RealClock, Simulator, SimulatorServer
from hoiivr.cli.simulator import simulator_command


def test_server_on_port_0_sets_the_base_url() -> None:
    sim = Simulator(clock=RealClock())
    with SimulatorServer(sim, port=0) as server:
        assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
        assert sim.base_url == server.url
        with requests.Session() as http:
            assert http.get(server.url + "/sim").json()["clock"] == "real"
            res = http.post(server.url + "/open/user/get_balance", data={"app_id": "x"})
            assert res.json() == {"status": "error_access_token_param_missing"}
    sim.close()


def test_a_taken_port_raises_oserror_not_systemexit() -> None:
    sim = Simulator(clock=RealClock())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = SimulatorServer(sim, port=taken.getsockname()[1])
        with pytest.raises(OSError):
            server.start()
    server.stop()
    sim.close()


def test_hoiivr_help_lists_the_simulator() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "the hoiivr command" in result.output.lower() and "simulator" in result.output
    result = CliRunner().invoke(main, ["simulator", "--help"])
    assert result.exit_code == 0 and "--number NUMBER=FORWARD_TO" in result.output


def test_the_command_serves_until_ctrl_c(monkeypatch: Any) -> None:
    seen: dict[str, Any] = {}

    def serve(self: SimulatorServer) -> None:
        self.start()                                    # serve from a thread meanwhile
        seen["url"] = self.url
        with requests.Session() as http:
            seen["numbers"] = http.post(self.url + "/open/number/get_active", data={
                "app_id": "my-app", "access_token": "my-token"}).json()
            seen["index"] = http.get(self.url + "/sim").json()
        self.stop()                     # as Ctrl-C would

    monkeypatch.setattr(SimulatorServer, "serve_forever", serve)
    result = CliRunner().invoke(main, [
        "simulator", "--port", "0", "--app-id", "my-app", "--access-token", "my-token",
        "--number", "+6560000000=http://127.0.0.1:5000/hoiio/answer", "--number",
        "+6560000001=", "--wait", "5", "--max-concurrent-calls", "3"])
    assert result.exit_code == 0, result.output
    url = seen["url"]
    assert f"{url}/open/" in result.output and f"{url}/sim/" in result.output
    assert "app_id=my-app" in result.output and "access_token=my-token" in result.output
    assert "+6560000000 -> http://127.0.0.1:5000/hoiio/answer" in result.output
    assert "Simulator stopped." in result.output
    entries = {e["number"]: e["forward_to"] for e in seen["numbers"]["entries"]}
    assert entries == {"+6560000000": "http://127.0.0.1:5000/hoiio/answer", "+6560000001": ""}
    assert seen["index"]["clock"] == "real"


def test_the_command_defaults(monkeypatch: Any) -> None:
    made: list[Simulator] = []
    real_init = Simulator.__init__

    def spy(self: Simulator, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Simulator, "__init__", spy)
    monkeypatch.setattr(SimulatorServer, "serve_forever",
                        lambda self: self.stop())
    result = CliRunner().invoke(main, ["simulator", "--port", "0"])
    assert result.exit_code == 0, result.output
    assert "app_id=sim-app  access_token=sim-token" in result.output
    (sim,) = made
    assert sim.engine.wait == 60.0 and sim.engine.max_concurrent_calls == 8
    assert sim.engine.keep_ended_calls == 1000


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["simulator", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args,words", [
    (["--number", "+6560000000"], "NUMBER=FORWARD_TO"),
    (["--number", "6560000000=http://x.test/a"], "E.164"),
    (["--number", "+6560000000=ftp://x"], "http(s)"),
    (["--wait", "0"], "--wait"),
    (["--keep-calls", "-1"], "--keep-calls"),
])
def test_bad_options(args: list[str], words: str) -> None:
    result = CliRunner().invoke(main, ["simulator", "--port", "0", *args])
    assert result.exit_code != 0 and words in result.output
    assert "Traceback" not in result.output


def test_log_handler_is_removed_afterwards(monkeypatch: Any) -> None:
    import logging
    before = list(logging.getLogger("hoiivr.simulator").handlers)
    monkeypatch.setattr(SimulatorServer, "serve_forever",
                        lambda self: self.stop())
    CliRunner().invoke(simulator_command, ["--port", "0"])
    assert logging.getLogger("hoiivr.simulator").handlers == before


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_real_command_stops_cleanly_on_a_signal(sig: signal.Signals) -> None:
    command = [sys.executable, "-c", "from hoiivr.cli import main; main()", "simulator",
               "--port", "0", "--number", "+6560000000="]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        try:
            url = process.stdout.readline().split()[-1]          # type: ignore[union-attr]
            with requests.Session() as http:
                res = http.post(url + "/sim/calls", json={"from": "+6591234567",
                                                          "to": "+6560000000"}, timeout=10)
            assert res.status_code == 201
            process.send_signal(sig)
            out, err = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, err
    assert "+6591234567 calls +6560000000" in err and "Simulator stopped." in err
    assert "Traceback" not in err
