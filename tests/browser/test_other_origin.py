"""A page of another site, in a real Chromium, cannot drive the simulator (issue 24, item 7):
its form POSTs and fetches change nothing, and a name rebound to 127.0.0.1 reads nothing."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from hoiivr.simulator import RealClock, Simulator, SimulatorServer
from hoiivr.testing import LiveServer

from .harness import CHROMIUM_ARGS, chromium

#: Chromium resolves this name to 127.0.0.1, as DNS rebinding makes it do.
REBOUND = "rebind.test"
ATTACK = """<!doctype html><title>an ordinary page</title>
<form id="form" method="post" action="{sim}/sim/numbers" target="sink">
  <input name="number" value="+6569999999"><input name="forward_to" value="http://10.0.0.5/x">
</form>
<iframe name="sink" id="sink"></iframe>
<img id="img" src="{sim}/open/ivr/start/dial?app_id=sim-app&access_token=sim-token&dest=%2B6581234567">
<script>
  window.done = Promise.all([
    fetch("{sim}/sim/accounts", {{method: "POST", mode: "no-cors",
      body: new URLSearchParams({{app_id: "evil", access_token: "x"}})}}).catch(() => null),
    fetch("{sim}/sim/phones/%2B6522222222", {{method: "PUT", mode: "no-cors",
      body: new URLSearchParams({{behaviour: "busy"}})}}).catch(() => null),
    new Promise((resolve) => document.getElementById("sink").onload = resolve),
    new Promise((resolve) => {{ const img = document.getElementById("img");
      img.onload = img.onerror = resolve; }}),
  ]).then(() => "sent");
  document.getElementById("form").submit();
</script>"""


@pytest.fixture(scope="module")
def rebinding_browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(),
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {REBOUND} 127.0.0.1"])
        yield browser
        browser.close()


@pytest.fixture
def sim() -> Iterator[tuple[Simulator, SimulatorServer]]:
    sim = Simulator(clock=RealClock())
    sim.add_account("sim-app", "sim-token")
    with SimulatorServer(sim) as server:
        yield sim, server
    sim.close()


def attacker(sim_url: str) -> LiveServer:
    app = Flask("attacker")
    app.add_url_rule("/", "page", lambda: ATTACK.format(sim=sim_url))
    return LiveServer(app).start()


@pytest.mark.parametrize("page_host", ["localhost", "127.0.0.1"])  # cross-site, same-site
def test_a_page_of_another_origin_changes_nothing(rebinding_browser: Any, sim: Any,
                                                  page_host: str) -> None:
    simulator, server = sim
    evil = attacker(server.url)
    try:
        page = rebinding_browser.new_page()
        page.goto(evil.url.replace("127.0.0.1", page_host) + "/")
        assert page.evaluate("window.done") == "sent"
        page.close()
    finally:
        evil.stop()
    assert simulator.directory.numbers == {}
    assert list(simulator.directory.accounts) == ["sim-app"]
    assert simulator.directory.phones == {} and simulator.calls() == []


def test_a_rebound_name_reads_nothing(rebinding_browser: Any, sim: Any) -> None:
    simulator, server = sim
    simulator.add_number("+6560000000", None)
    session = simulator.call("+6591234567", "+6560000000")
    page = rebinding_browser.new_page()
    port = server.url.rsplit(":", 1)[1]
    response = page.goto(f"http://{REBOUND}:{port}/sim/calls")
    assert response.status == 421 and session not in page.content()
    page.goto(f"http://127.0.0.1:{port}/sim/calls")             # its own name still works
    assert session in page.content()
    page.close()
