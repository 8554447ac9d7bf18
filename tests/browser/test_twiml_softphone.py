"""The softphone on a TwiML number, in a real headless Chromium: the page is the same for
both kinds of number. The app is a plain Flask app written for Twilio (the twilio
package's VoiceResponse), served on a loopback port; the simulator on another."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request
from twilio.twiml.voice_response import Gather, VoiceResponse

try:
    from playwright.sync_api import expect
except ImportError:     # the browser fixture fails with what to install
    expect = None

from hoiivr.simulator import RealClock, Simulator, SimulatorServer
from hoiivr.testing import LiveServer

from .conftest import DESKTOP, Page
from .harness import SPEED

NUMBER = "+6560000001"


def twilio_app() -> Flask:
    app = Flask("twilio_softphone_app")

    def xml(response: VoiceResponse) -> tuple[str, int, dict[str, str]]:
        return str(response), 200, {"Content-Type": "text/xml"}

    @app.post("/voice")
    def voice() -> Any:
        response = VoiceResponse()
        gather = Gather(num_digits=1, action="/menu", timeout=10)
        gather.say("Press 1 to leave a message.")
        response.append(gather)
        return xml(response)

    @app.post("/menu")
    def menu() -> Any:
        response = VoiceResponse()
        response.say(f"You pressed {request.form['Digits']}. Speak after the tone.")
        response.record(action="/saved", finish_on_key="#", max_length=30, timeout=0)
        return xml(response)

    @app.post("/saved")
    def saved() -> Any:
        response = VoiceResponse()
        response.say("Thank you. Goodbye.")
        response.hangup()
        return xml(response)

    return app


def serve_line(app: Any) -> Iterator[tuple[Simulator, SimulatorServer]]:
    """The simulator, with a TwiML number whose Voice URL is ``app`` served on loopback."""
    sim = Simulator(clock=RealClock(speed=SPEED))
    app_server = LiveServer(app).start()
    sim_server = SimulatorServer(sim)
    sim_server.start()
    sim.add_twilio_account()
    sim.add_twiml_number(NUMBER, app_server.url + "/voice")
    yield sim, sim_server
    app_server.stop()
    sim_server.stop()
    sim.close()


@pytest.fixture
def twiml_line() -> Iterator[tuple[Simulator, SimulatorServer]]:
    yield from serve_line(twilio_app())


def test_the_softphone_calls_a_twiml_number(browser: Any, twiml_line: Any) -> None:
    sim, server = twiml_line
    page_of = Page(browser, server.url + "/", DESKTOP)
    page = page_of.page
    expect(page.locator("#to")).to_have_value(NUMBER)
    expect(page.locator("#to option")).to_have_text(f"{NUMBER} (TwiML)")
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#heard")).to_contain_text("Press 1 to leave a message.")
    expect(page.locator("#status")).to_contain_text("In the menu")
    page.get_by_role("button", name="1", exact=True).click()
    expect(page.locator("#status")).to_contain_text("Recording your message")
    expect(page.locator("#heard")).to_contain_text("You pressed 1. Speak after the tone.")
    page.get_by_label("Or speak without a microphone for").fill("1")
    page.get_by_role("button", name="Speak", exact=True).click()
    page.wait_for_timeout(300)                  # 1 s of speech at speed 10
    page.get_by_role("button", name="hash").click()
    expect(page.locator("#status")).to_contain_text("Call ended: the app hung up")
    expect(page.locator("#heard")).to_contain_text("Thank you. Goodbye.")
    expect(page.locator("#recordings audio")).to_have_count(1)

    timeline = page.locator("#timeline")
    expect(timeline.locator("[data-type=webhook]")).to_have_count(3)
    expect(timeline).to_contain_text("<Gather>")
    first = timeline.locator("[data-type=webhook]").first
    first.get_by_text("URL, fields and TwiML").click()
    expect(first.locator("pre.twiml")).to_contain_text("<Gather")
    expect(first).to_contain_text("CallStatus")
    [call] = sim.calls()
    recording = sim.get_call(call["session"])["recordings"][0]
    player = page.get_by_label(f"Recording {recording['id']}")
    duration = player.evaluate("""audio => new Promise((resolve, reject) => {
        if (audio.readyState >= 1) return resolve(audio.duration);
        audio.addEventListener("loadedmetadata", () => resolve(audio.duration));
        audio.addEventListener("error", () => reject(new Error("the audio did not load")));
        audio.load();
    })""")
    assert duration == pytest.approx(1.0, abs=0.05)
    page_of.close()
    assert page_of.errors == []


def listening_app() -> Flask:
    """A Twilio app whose menu listens for words: it says back what it heard."""
    app = Flask("twilio_listening_app")

    @app.post("/voice")
    def voice() -> Any:
        response = VoiceResponse()
        gather = Gather(input="dtmf speech", hints="sales, support", action="/heard",
                        timeout=60, speech_timeout="auto", num_digits=1)
        gather.say("Say sales or support.")
        response.append(gather)
        return str(response), 200, {"Content-Type": "text/xml"}

    @app.post("/heard")
    def heard() -> Any:
        response = VoiceResponse()
        said = request.form.get("SpeechResult") or request.form.get("Digits") or "nothing"
        response.say(f"You said {said}.")
        response.hangup()
        return str(response), 200, {"Content-Type": "text/xml"}

    return app


@pytest.fixture
def listening_line() -> Iterator[tuple[Simulator, SimulatorServer]]:
    yield from serve_line(listening_app())


def test_the_caller_types_the_words_the_app_hears(browser: Any, listening_line: Any) -> None:
    sim, server = listening_line
    page_of = Page(browser, server.url + "/", DESKTOP)
    page = page_of.page
    listener = page.locator("#listener")
    expect(listener).to_be_hidden()
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#status")).to_contain_text("say your answer, or press keys")
    expect(listener).to_be_visible()
    page.get_by_label("Say (type what the caller says)").fill("1")   # text, not a key
    page.get_by_label("Say (type what the caller says)").fill("sales")
    page.get_by_role("button", name="Say it").click()
    expect(page.locator("#heard")).to_contain_text("You said sales.")
    expect(page.locator("#status")).to_contain_text("Call ended")
    timeline = page.locator("#timeline")
    expect(timeline.locator("[data-type=heard]")).to_contain_text(
        "heard “sales” (as typed, confidence 1)")
    [call] = sim.calls()
    assert [e["type"] for e in sim.get_call(call["session"])["timeline"]].count("keys") == 0
    page_of.close()
    assert page_of.errors == []


def test_the_microphone_s_words_are_recognized(browser: Any, listening_line: Any) -> None:
    sim, server = listening_line
    page_of = Page(browser, server.url + "/", DESKTOP)
    page = page_of.page
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#listener")).to_be_visible()
    page.get_by_role("button", name="Speak into the microphone").click()
    expect(page.locator("#say-mic")).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(1200)                 # Chromium's fake microphone beeps meanwhile
    page.get_by_role("button", name="Stop and send").click()
    [call] = sim.calls()

    def spoken() -> list[dict[str, Any]]:
        return [e for e in sim.get_call(call["session"])["timeline"] if e["type"] == "speech"]
    expect(page.locator("#timeline [data-type=speech]")).to_have_count(1)
    [speech] = spoken()
    # A beep is no word: the recognizer hears one of the hints, or nothing it can use;
    # either way it was the offline recognizer, on the page's WAV.
    assert speech["audio"] is True and speech["how"] in ("grammar", "dictation")
    page_of.close()
    assert page_of.errors == []
