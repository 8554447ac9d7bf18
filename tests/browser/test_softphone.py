"""The web softphone and inspector in a real headless Chromium, against the auto attendant."""
from __future__ import annotations

import io
import re
import wave
from pathlib import Path

import pytest
import requests

try:
    from playwright.sync_api import expect
except ImportError:     # the browser fixture fails with what to install
    expect = None

from hoiivr.simulator import Simulator, VirtualClock

SALES, SUPPORT = "+6522222222", "+6533333333"
MENU = "Press 1 for sales, 2 for support, or 0 to leave a message."
STATIC = Path(__file__).resolve().parents[2] / "hoiivr" / "simulator" / "static"


def count(call: dict, kind: str) -> int:
    return sum(1 for entry in call["timeline"] if entry["type"] == kind)


def the_session(line) -> str:
    [call] = line.sim.calls()
    return call["session"]


def test_the_page_and_its_files_are_served_by_the_simulator():
    with Simulator(clock=VirtualClock()) as sim:
        client = sim.wsgi_app.test_client()
        with client.get("/") as page:
            assert page.status_code == 200 and page.mimetype == "text/html"
            links = re.findall(r'(?:src|href)="([^"]+)"', page.get_data(as_text=True))
        assert "ui/app.js" in links and "ui/softphone.css" in links
        for path in STATIC.iterdir():
            with client.get(f"/ui/{path.name}") as response:
                assert response.status_code == 200, path.name
                assert response.get_data() == path.read_bytes()
                if path.suffix == ".js":
                    assert response.mimetype == "text/javascript"


def test_nothing_is_fetched_from_the_internet():
    for path in STATIC.iterdir():
        text = path.read_text("utf-8")
        assert not re.search(r"(?:src|href|url|import)\W+(?:https?:)?//", text), path.name
        assert "fetch(\"http" not in text, path.name


def test_call_the_menu_and_get_transferred(line, desktop):
    page = desktop
    expect(page.locator("#to")).to_have_value("+6560000000")
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#heard")).to_contain_text(MENU)
    expect(page.locator("#status")).to_contain_text("In the menu")
    page.get_by_role("button", name="2", exact=True).click()
    expect(page.locator("#status")).to_contain_text(f"Transferred: talking to {SUPPORT}")
    expect(page.locator("#heard")).to_contain_text("Connecting you to support.")
    expect(page.locator("#timeline")).to_contain_text("ivr/end/transfer")
    expect(page.locator("#timeline")).to_contain_text("presses 2")
    page.get_by_role("button", name="Hang up").click()
    expect(page.locator("#status")).to_contain_text("Call ended: the caller hung up")
    expect(page.locator("#calls")).to_contain_text("ended")
    assert line.sim.get_call(the_session(line))["transferred_to"] == SUPPORT


def test_busy_sales_takes_a_message_from_the_microphone(line, desktop):
    page = desktop
    page.get_by_label("Number", exact=True).fill(SALES)
    page.get_by_label("Behaviour", exact=True).select_option("busy")
    page.get_by_role("button", name="Set", exact=True).click()
    expect(page.get_by_label(f"Behaviour of {SALES}")).to_have_value("busy")
    assert line.sim.directory.phone(SALES).behaviour == "busy"

    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#status")).to_contain_text("In the menu")
    page.keyboard.press("1")                    # the keyboard presses keys too
    expect(page.locator("#status")).to_contain_text("Recording your message")
    mic = page.get_by_role("button", name="Record from microphone")
    mic.click()
    stop = page.get_by_role("button", name="Stop and send")
    expect(stop).to_be_enabled()
    page.wait_for_timeout(1200)                 # Chromium's fake microphone beeps meanwhile
    stop.click()
    expect(page.locator("#status")).to_contain_text("Call ended: the app hung up", timeout=15000)

    session = the_session(line)
    line.sim.settle(session, limit=10)          # the last notification is delivered
    call = line.sim.get_call(session)
    [recording] = call["recordings"]
    assert recording["uploaded"] and recording["content_type"] == "audio/wav"
    wav = requests.get(recording["url"], timeout=5).content
    with wave.open(io.BytesIO(wav)) as audio:
        assert audio.getframerate() == 8000 and audio.getnchannels() == 1
        assert 0.8 < audio.getnframes() / 8000 < 5

    timeline = page.locator("#timeline")
    expect(timeline.locator("[data-type=notification]")).to_have_count(count(call, "notification"))
    expect(timeline.locator("[data-type=request]")).to_have_count(count(call, "request"))
    expect(timeline.locator("[data-type=prompt]")).to_have_count(len(call["prompt_log"]))
    # ringing, welcome, menu, transfer failed, recording, the end; play, gather, transfer,
    # record, hangup
    assert count(call, "notification") == 6 and count(call, "request") == 5
    expect(timeline).to_contain_text(f"transfer to {SALES} failed: busy")
    expect(timeline).to_contain_text("speaks for")
    first_request = timeline.locator("[data-type=request]").first
    first_request.get_by_text("Parameters and reply").click()
    expect(first_request).to_contain_text("********")
    expect(first_request).not_to_contain_text(line.client.access_token)
    expect(timeline.locator("[data-type=notification] .badge.ok")).to_have_count(6)
    expect(page.locator("#billing")).to_contain_text("0.020 SGD")

    player = page.get_by_label(f"Recording {recording['id']}")
    expect(player).to_be_visible()
    duration = player.evaluate("""audio => new Promise((resolve, reject) => {
        if (audio.readyState >= 1) return resolve(audio.duration);
        audio.addEventListener("loadedmetadata", () => resolve(audio.duration));
        audio.addEventListener("error", () => reject(new Error("the audio did not load")));
        audio.load();
    })""")
    assert duration == pytest.approx(len(wav[44:]) / 16000, abs=0.01) and duration > 0.8
    # The recording plays: its clock moves past 0 (a failed play() would reject instead).
    played = player.evaluate("""audio => audio.play().then(() => new Promise(resolve => {
        const moved = () => { if (audio.currentTime > 0) resolve(audio.currentTime); };
        audio.addEventListener("timeupdate", moved);
        moved();
    }))""")
    assert 0 < played <= duration


def test_the_phone_fits_and_works_at_375_pixels(line, mobile):
    page = mobile
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    call_button = page.get_by_role("button", name="Call", exact=True)
    controls = [call_button, page.get_by_role("button", name="Hang up")]
    controls += [page.locator(f"#keypad [data-key='{key}']") for key in "0123456789*#"]
    for control in controls:
        expect(control).to_be_visible()
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375 and box["height"] >= 40

    call_button.click()
    expect(page.locator("#status")).to_contain_text("In the menu")
    page.locator("#keypad [data-key='0']").click()
    expect(page.locator("#status")).to_contain_text("Recording your message")
    page.get_by_label("Or speak without a microphone for").fill("1")
    page.get_by_role("button", name="Speak", exact=True).click()
    expect(page.locator("#timeline")).to_contain_text("speaks for 1 s")
    page.wait_for_timeout(300)                  # 1 s of speech at speed 10
    page.get_by_role("button", name="hash").click()
    expect(page.locator("#status")).to_contain_text("Call ended")
    expect(page.locator("#recordings audio")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    [recording] = line.sim.get_call(the_session(line))["recordings"]
    assert not recording["uploaded"] and recording["spoken"] == pytest.approx(1.0)


def test_the_faults_panels_show_only_where_the_simulator_has_faults(line, desktop):
    page = desktop
    has_faults = requests.get(line.sim_server.url + "/sim/faults", timeout=5).status_code == 200
    expect(page.locator("#to")).to_have_value("+6560000000")   # the first poll, after the probe
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#status")).to_contain_text("In the menu")
    if not has_faults:
        expect(page.locator("#faults")).to_be_hidden()
        expect(page.locator("#call-faults")).to_be_hidden()
        return
    every_call = page.locator("#faults")
    every_call.get_by_label("Delay notifications").fill("0.5")
    every_call.get_by_role("button", name="Apply").click()
    expect(every_call).to_contain_text("Applied.")
    assert line.sim.faults()["delay"] == 0.5

    this_call = page.locator("#call-faults")
    this_call.get_by_text("Faults of this call").click()
    expect(this_call.get_by_label("Delay notifications")).to_have_value("0.5")
    this_call.get_by_label("Duplicate notifications").fill("1")
    this_call.get_by_role("button", name="Apply").click()
    expect(this_call).to_contain_text("Applied.")
    session = the_session(line)
    assert line.sim.faults(session)["duplicate"] == 1.0
    page.get_by_role("button", name="2", exact=True).click()
    expect(page.locator("#timeline [data-type=fault]").first).to_contain_text("duplicated")
    every_call.get_by_role("button", name="Clear all").click()
    expect(every_call.get_by_label("Delay notifications")).to_have_value("0")
    assert line.sim.faults(session)["duplicate"] == 0
