"""Other web pages cannot drive the simulator (issue 24, item 7), through its public surface:
HTTP against a served simulator, as a browser would send it, and as apps send it."""
from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from hoiivr.cli import main
from hoiivr.simulator import RealClock, Simulator, SimulatorServer
from hoiivr.cli.simulator import is_loopback

from .conftest import FAST

EVIL = "http://evil.test:8000"
FORM = {"number": "+6569999999", "forward_to": "http://10.0.0.5/internal"}


@pytest.fixture
def served() -> Iterator[tuple[Simulator, str]]:
    sim = Simulator(clock=RealClock(), timing=FAST, allowed_hosts=["sim.lan"])
    sim.add_account("APP", "TOKEN")
    with SimulatorServer(sim) as server:
        yield sim, server.url
    sim.close()


def post(url: str, **headers: str) -> requests.Response:
    return requests.post(url, data=FORM, headers=headers, timeout=5)


def test_a_cross_site_form_post_is_refused(served: tuple[Simulator, str], tally: Any) -> None:
    sim, url = served
    attempts = ({"Origin": EVIL}, {"Origin": "null"},
                {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                {"Origin": url.replace("127.0.0.1", "localhost")})
    replies = [post(url + "/sim/numbers", **headers).status_code for headers in attempts]
    tally.add("cross-site changes to the simulator (control API)", len(attempts),
              sum(code != 403 for code in replies) + len(sim.directory.numbers))
    for headers in attempts:
        res = post(url + "/sim/numbers", **headers)
        assert res.status_code == 403, headers
        assert "may not change the simulator" in res.json()["error"]
        assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert sim.directory.numbers == {}


def test_the_own_page_and_programs_keep_working(served: tuple[Simulator, str]) -> None:
    sim, url = served
    assert post(url + "/sim/numbers", Origin=url, **{"Sec-Fetch-Site": "same-origin"}
                ).status_code == 201
    assert post(url + "/sim/numbers").status_code == 201        # curl, a test, an SDK
    assert list(sim.directory.numbers) == ["+6569999999"]


def test_the_rest_api_refuses_other_sites_even_by_get(served: tuple[Simulator, str]) -> None:
    _, url = served
    auth = {"app_id": "APP", "access_token": "TOKEN"}
    dial = url + "/open/ivr/start/dial"
    # <img src=".../open/ivr/start/dial?..."> sends a GET with Sec-Fetch-Site, no Origin.
    res = requests.get(dial, params={**auth, "dest": "+6581234567"},
                       headers={"Sec-Fetch-Site": "cross-site"}, timeout=5)
    assert res.status_code == 403
    res = requests.post(dial, data={**auth, "dest": "+6581234567"},
                        headers={"Origin": EVIL}, timeout=5)
    assert res.status_code == 403
    res = requests.post(dial, data={**auth, "dest": "+6581234567"}, timeout=5)
    assert res.json()["status"] == "success_ok"
    # Reading is left to the browser's same-origin policy: no CORS header lets it read.
    res = requests.get(url + "/sim/calls", headers={"Origin": EVIL}, timeout=5)
    assert res.status_code == 200 and "Access-Control-Allow-Origin" not in res.headers


def test_only_the_simulators_names_are_answered(served: tuple[Simulator, str],
                                                tally: Any) -> None:
    _, url = served
    port = url.rsplit(":", 1)[1]
    rebound = ("rebind.evil.test", f"rebind.evil.test:{port}", "127.0.0.2", "[::2]:80")
    tally.add("DNS-rebound requests to the simulator (foreign Host)", len(rebound),
              sum(requests.get(url + "/sim/calls", headers={"Host": host},
                               timeout=5).status_code != 421 for host in rebound))
    for host in rebound:
        res = requests.get(url + "/sim/calls", headers={"Host": host}, timeout=5)
        assert res.status_code == 421, host
        assert "--allow-host" in res.json()["error"]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", "[::1]:80",
                 f"sim.lan:{port}"):
        assert requests.get(url + "/sim/calls", headers={"Host": host},
                            timeout=5).status_code == 200, host


def test_the_in_process_harness_name_is_the_base_urls_host() -> None:
    with Simulator(base_url="http://hoiio.sim") as sim:
        client = sim.wsgi_app.test_client()
        assert client.get("/sim", headers={"Host": "hoiio.sim"}).status_code == 200
        assert client.get("/sim", headers={"Host": "other.sim"}).status_code == 421


def test_a_recording_is_only_ever_audio(served: tuple[Simulator, str], tally: Any) -> None:
    sim, url = served
    page = b"<script>fetch('/sim/calls').then(r => r.text()).then(alert)</script>"
    sim.add_number("+6560000000", None)
    session = sim.call("+6591234567", "+6560000000")
    speak = f"{url}/sim/calls/{session}/speak"
    uploads = (("x.html", "text/html"), ("x.wav", "text/html"),
               ("x.html", "application/octet-stream"), ("x.svg", "image/svg+xml"))
    for name, kind in uploads:
        res = requests.post(speak, files={"audio": (name, io.BytesIO(page), kind)},
                            data={"seconds": "1"}, timeout=5)
        tally.add("script uploaded to the simulator as a recording", 1,
                  int(res.status_code != 400))
        assert res.status_code == 400, (name, kind)
        assert "not audio" in res.json()["error"]
    assert [e for e in sim.get_call(session)["timeline"] if e["type"] == "speech"] == []


def test_a_served_recording_is_audio_never_sniffed_nor_scripted(
        served: tuple[Simulator, str]) -> None:
    sim, url = served
    rec = sim.recordings.add("S1", "record", 1.0, (), url)
    res = requests.get(rec.url, timeout=5)
    assert res.headers["Content-Type"] == "audio/wav"
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert res.headers["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize("host,loopback", [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.5", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("sim.lan", False)])
def test_which_hosts_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def run_command(monkeypatch: Any, *args: str) -> tuple[str, list[Simulator]]:
    made: list[Simulator] = []

    def serve(self: SimulatorServer) -> None:
        made.append(self.sim)           # and return, as after Ctrl-C

    monkeypatch.setattr(SimulatorServer, "serve_forever", serve)
    monkeypatch.setattr(SimulatorServer, "bind", lambda self: None)   # 0.0.0.0 stays unbound
    result = CliRunner().invoke(main, ["simulator", "--port", "0", *args])
    assert result.exit_code == 0, result.output
    return result.output, made


def test_the_command_warns_when_not_on_loopback(monkeypatch: Any) -> None:
    out, [sim] = run_command(monkeypatch, "--host", "0.0.0.0", "--allow-host", "sim.lan")
    assert "Warning: --host 0.0.0.0 is not a loopback address" in out
    assert sim.allowed_hosts == ("sim.lan",)
    out, _ = run_command(monkeypatch)
    assert "Warning" not in out
