"""OpenTelemetry: a span per notification, with children for the lock, the handler, the
store and the delivery; one trace per call; nothing at all without a tracer provider."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from hoiivr import IVR, Gather, Hangup, Transfer
from hoiivr.dispatch import FORBIDDEN, STALE
from hoiivr.telemetry import Tracing
from hoiivr.testing import Phone
from hoiivr.tokens import Ticket


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def menu_app(carrier: str, provider: TracerProvider) -> tuple[Flask, IVR]:
    app = Flask(f"traced_{carrier}")
    app.config.update(HOIIVR_CARRIER=carrier, HOIIVR_TRACER_PROVIDER=provider,
                      TWILIO_FROM_NUMBER="+6560000009")
    ivr = IVR(app)

    @ivr.on_answer
    def answer(call: Any) -> Gather:
        return Gather("Press 1 for sales.", max_digits=1, name="menu")

    @ivr.on_gather("menu")
    def menu(call: Any) -> Any:
        if call.digits == "9":
            raise LookupError("no such menu")
        return Transfer("+6522222222", msg="Connecting.")

    @ivr.on_dial_answered
    def reminded(call: Any) -> Hangup:
        return Hangup("Your appointment is tomorrow. Goodbye.")

    return app, ivr


def named(exporter: InMemorySpanExporter, name: str) -> list[Any]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


@pytest.mark.parametrize("carrier", ["hoiio", "twilio"])
def test_each_notification_is_a_span_and_one_call_is_one_trace(
        carrier: str, spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    app, _ = menu_app(carrier, provider)
    with Phone(app) as phone:
        call = phone.call()
        call.press("1")
        assert call.transferred_to == "+6522222222"
        call.hangup()
        session = call.session
    notifications = named(exporter, "hoiivr notification")
    events = [span.attributes.get("hoiivr.event") for span in notifications]
    assert events[:2] == ["answer", "gather"] and events[-1] == "hangup"
    assert {span.attributes["hoiivr.verdict"] for span in notifications} == {"handled"}
    assert {span.attributes["hoiivr.session"] for span in notifications} == {session}
    assert {span.attributes["hoiivr.call"] for span in notifications} == {session}
    assert notifications[1].attributes["hoiivr.step"] == "menu"
    # One trace: the ringing's span is its root, every later notification its child.
    root = notifications[0]
    assert root.parent is None
    assert {span.context.trace_id for span in exporter.get_finished_spans()} == \
        {root.context.trace_id}
    assert all(span.parent.span_id == root.context.span_id for span in notifications[1:])
    # The children of the menu's notification: its lock, its handler, its write, its delivery.
    menu = notifications[1]
    children = [span for span in exporter.get_finished_spans()
                if span.parent is not None and span.parent.span_id == menu.context.span_id]
    assert [span.name for span in children] == ["hoiivr store lock", "hoiivr handler",
                                                "hoiivr store write", "hoiivr deliver"]
    handler = children[1]
    assert handler.attributes["hoiivr.handler"].endswith("menu")
    assert children[3].attributes["hoiivr.carrier"] == carrier
    assert "transfer" in children[3].attributes["hoiivr.blocks"]
    assert children[0].start_time == menu.start_time     # the wait for the call's lock


def test_a_handler_s_exception_is_on_its_span(
        spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    app, _ = menu_app("hoiio", provider)
    with Phone(app) as phone:
        call = phone.call()
        call.press("9")
        assert call.call_state == "ended"
    [failed] = [span for span in named(exporter, "hoiivr handler")
                if span.status.status_code is StatusCode.ERROR]
    assert failed.attributes["hoiivr.handler"].endswith("menu")
    assert failed.events[0].name == "exception"
    assert "no such menu" in failed.events[0].attributes["exception.message"]


@pytest.mark.parametrize("carrier", ["hoiio", "twilio"])
def test_a_dialled_call_s_trace_starts_at_the_dial(
        carrier: str, spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    app, ivr = menu_app(carrier, provider)
    with Phone(app) as phone:
        phone.set_behaviour("+6591110000", "answer", talk_seconds=30)
        with app.test_request_context():
            ivr.dial("+6591110000")
        [call] = phone.dialled
        call.settle()
        assert call.last_prompt == "Your appointment is tomorrow. Goodbye."
    [dial] = named(exporter, "hoiivr dial")
    assert dial.parent is None and dial.attributes["hoiivr.dest"] == "+6591110000"
    notifications = named(exporter, "hoiivr notification")
    assert notifications and all(span.context.trace_id == dial.context.trace_id
                                 for span in notifications)
    assert notifications[0].attributes["hoiivr.event"] == "dial_answered"


def test_stale_and_forbidden_notifications_say_so(
        harness: Any, spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    provider, exporter = spans
    h = harness
    h.dispatcher.tracing = Tracing(provider.get_tracer("test"))
    h.ivr.on_answer(lambda call: Gather("Press 1.", max_digits=1, name="menu"))
    h.ivr.on_gather("menu")(lambda call: Hangup("Bye."))
    h.ring()
    ticket = h.client.last_ticket(h.tokens)
    h.complete(ticket=ticket, digits="1")
    assert h.complete(ticket=ticket, digits="1") == STALE
    assert h.complete(ticket=Ticket("S1", 7, "gather", "menu"), digits="1") == FORBIDDEN
    verdicts = [span.attributes["hoiivr.verdict"]
                for span in named(exporter, "hoiivr notification")]
    assert verdicts == ["handled", "handled", "stale", "forbidden"]


def test_no_tracer_provider_means_no_tracing() -> None:
    app = Flask("untraced")
    IVR(app)
    with Phone(app):
        assert app.extensions["hoiivr"].runtime.dispatcher.tracing is None


def test_without_opentelemetry_nothing_of_it_is_imported(tmp_path: Any) -> None:
    script = textwrap.dedent("""
        import sys
        sys.modules["opentelemetry"] = None           # as if the otel extra were absent
        from flask import Flask
        from hoiivr import IVR, Hangup
        from hoiivr.testing import Phone
        app = Flask("plain")
        ivr = IVR(app)
        ivr.on_answer(lambda call: Hangup("Closed."))
        with Phone(app) as phone:
            assert phone.call().prompts == ["Closed."]
            assert app.extensions["hoiivr"].runtime.dispatcher.tracing is None
        assert not [m for m in sys.modules if m.startswith("opentelemetry.")]
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def test_a_tracer_provider_from_the_environment_is_a_config_error_saying_how(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """An environment variable can only name a provider: refused as a setting, with the
    fix, not an AttributeError on every webhook."""
    monkeypatch.setenv("HOIIVR_TRACER_PROVIDER", "otlp")
    app = Flask("misconfigured")
    app.config.update(HOIIO_APP_ID="a", HOIIO_ACCESS_TOKEN="t", SECRET_KEY="s" * 32)
    IVR(app).on_answer(lambda call: Hangup("Closed."))
    with caplog.at_level(logging.ERROR, "hoiivr"):
        reply = app.test_client().post("/hoiio/answer",
                                       data={"session": "S1", "call_state": "ringing"})
    assert reply.status_code == 503 and b"see its log" in reply.data
    assert "HOIIVR_TRACER_PROVIDER (from the environment) is 'otlp', not an OpenTelemetry " \
           "TracerProvider: set it in app.config" in caplog.text


def test_hoiivr_run_refuses_a_tracer_provider_from_the_environment(tmp_path: Path) -> None:
    app = tmp_path / "closed.py"
    app.write_text("from flask import Flask\nfrom hoiivr import IVR, Hangup\n"
                   "app = Flask(__name__)\nIVR(app).on_answer(lambda call: Hangup('Closed.'))\n")
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("HOIIVR_", "HOIIO_", "TWILIO_"))}
    env.update(HOIIVR_TRACER_PROVIDER="otlp", HOIIO_APP_ID="a", HOIIO_ACCESS_TOKEN="t",
               SECRET_KEY="s" * 32)
    result = subprocess.run([sys.executable, "-c", "from hoiivr.cli import main; main()",
                             "run", str(app), "--port", "0"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("Error: HOIIVR_TRACER_PROVIDER (from the environment)")


@pytest.mark.parametrize("carrier", ["hoiio", "twilio"])
def test_a_slow_handler_s_filler_and_apology_are_in_the_call_s_trace(
        carrier: str, spans: tuple[TracerProvider, InMemorySpanExporter]) -> None:
    """They go out from the watchdog's thread, yet belong to the notification waiting on
    the handler: no root span of a trace of their own."""
    provider, exporter = spans
    app = Flask(f"slow_{carrier}")
    app.config.update(HOIIVR_CARRIER=carrier, HOIIVR_TRACER_PROVIDER=provider,
                      TWILIO_FROM_NUMBER="+6560000009", HOIIVR_FILLER_AFTER="0.2",
                      HOIIVR_HANDLER_TIMEOUT="1")
    ivr = IVR(app)
    ivr.on_answer(lambda call: Gather("Press 1.", max_digits=1, name="menu"))

    @ivr.on_gather("menu")
    def menu(call: Any) -> Hangup:
        time.sleep(1.3)                 # the filler at 0.2 s, the apology at 1 s
        return Hangup("Bye.")

    with Phone(app) as phone:
        call = phone.call()
        call.press("1")
        call.settle()
        assert call.prompts[1] == "One moment, please."
        assert call.last_prompt.startswith("Sorry, something went wrong.")
    [root, waiting, *_] = named(exporter, "hoiivr notification")
    assert all(span.context.trace_id == root.context.trace_id
               for span in exporter.get_finished_spans())
    children = [span for span in exporter.get_finished_spans()
                if span.parent is not None and span.parent.span_id == waiting.context.span_id]
    filler = [span.attributes.get("hoiivr.block") or span.attributes.get("hoiivr.blocks")
              for span in children if span.name in ("hoiivr store write", "hoiivr deliver")]
    assert filler == ["play", "play"]
    [deliver] = [span for span in children if span.name == "hoiivr deliver"]
    assert deliver.attributes["hoiivr.out_of_turn"] is True
