"""No dead air from slow handlers: the caller hears a filler while a handler works, then its
blocks; a handler that never returns gets the apology. On both carriers, through Phone."""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

import pytest
from flask import Flask

from hoiivr import IVR, Gather, Hangup, Play
from hoiivr.dispatch import HANDLED, STALE, Dispatcher
from hoiivr.errors import ConfigError
from hoiivr.filler import FILLER_STEP, Patience, replay_step
from hoiivr.tokens import Ticket
from hoiivr.testing import Phone

CARRIERS = ["hoiio", "twilio"]
FILLER = "One moment, please."
APOLOGY = "Sorry, something went wrong. Please call again later. Goodbye."
BALANCE = "Your balance is 5 dollars. Goodbye."


class Heard(logging.Handler):
    """An event set when hoiivr logs a message containing ``words``: what a slow handler
    in these tests waits for, instead of sleeping."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words, self.event = words, threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.event.set()

    def __enter__(self) -> threading.Event:
        logger = logging.getLogger("hoiivr")
        self.level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self.event

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("hoiivr")
        logger.removeHandler(self)
        logger.setLevel(self.level)


def balance_app(carrier: str, wait: Callable[[], object], **config: Any) -> Flask:
    """A menu whose balance lookup takes as long as ``wait()``."""
    app = Flask("slow_balance")
    app.config.update({"HOIIVR_CARRIER": carrier, "HOIIVR_FILLER_AFTER": 0.05,
                       "HOIIVR_HANDLER_TIMEOUT": 5, **config})
    ivr = IVR(app)

    @ivr.on_answer
    def answer(call: Any) -> Gather:
        call.state["menu"] = True
        return Gather("Press 1 for your balance.", max_digits=1, name="menu")

    @ivr.on_gather("menu")
    def menu(call: Any) -> Hangup:
        call.state["looked_up"] = True
        wait()
        return Hangup(BALANCE)

    return app


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_slow_handler_s_caller_hears_the_filler_then_its_blocks(carrier: str) -> None:
    with Heard("hears the filler") as filled:
        app = balance_app(carrier, lambda: filled.wait(10))
        with Phone(app) as phone:
            call = phone.call()
            call.press("1")
            assert filled.is_set()
            assert call.prompts == ["Press 1 for your balance.", FILLER, BALANCE]
            assert call.call_state == "ended"
            # The step's state is the handler's own, kept while the filler played.
            assert call.state == {"menu": True, "looked_up": True}


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_fast_handler_has_no_filler(carrier: str) -> None:
    with Phone(balance_app(carrier, lambda: None)) as phone:
        call = phone.call()
        call.press("1")
        assert call.prompts == ["Press 1 for your balance.", BALANCE]


@pytest.mark.parametrize("carrier", CARRIERS)
def test_the_filler_is_the_app_s_own(carrier: str) -> None:
    music = Play("<url>https://example.com/hold.mp3</url>")
    with Heard("hears the filler") as filled:
        app = balance_app(carrier, lambda: filled.wait(10), HOIIVR_FILLER=music)
        with Phone(app) as phone:
            call = phone.call()
            call.press("1")
            assert call.prompts[1] == "[audio https://example.com/hold.mp3]"
            assert call.last_prompt == BALANCE


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_handler_that_never_returns_gets_the_apology_and_its_blocks_are_dropped(
        carrier: str, caplog: pytest.LogCaptureFixture) -> None:
    with Heard("the caller hears the apology") as timed_out:
        app = balance_app(carrier, lambda: timed_out.wait(10), HOIIVR_HANDLER_TIMEOUT=0.3)
        with Phone(app) as phone:
            call = phone.call()
            call.press("1")
            assert timed_out.is_set()
            assert call.prompts == ["Press 1 for your balance.", FILLER, APOLOGY]
            assert call.call_state == "ended"
            # What it did to call.state, and the blocks it returned late, are dropped.
            assert call.state == {"menu": True}
            assert BALANCE not in call.describe()
    assert "past HOIIVR_HANDLER_TIMEOUT" in caplog.text


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_ringing_caller_hears_ringing_not_a_filler_and_the_apology_at_the_timeout(
        carrier: str) -> None:
    heard = Heard("the caller hears the apology")
    app = Flask("slow_answer")
    app.config.update(HOIIVR_CARRIER=carrier, HOIIVR_FILLER_AFTER=0.05,
                      HOIIVR_HANDLER_TIMEOUT=0.3)
    ivr = IVR(app)

    @ivr.on_answer
    def answer(call: Any) -> Gather:
        heard.event.wait(10)
        return Gather("Press 1.", max_digits=1, name="menu")

    with heard, Phone(app) as phone:
        call = phone.call()
        assert heard.event.is_set()
        assert call.prompts == [APOLOGY]
        assert call.call_state == "ended"


@pytest.mark.parametrize("config, message", [
    ({"HOIIVR_HANDLER_TIMEOUT": 31}, "HOIIVR_HANDLER_TIMEOUT is at most 30 s"),
    ({"HOIIVR_HANDLER_TIMEOUT": "soon"}, "HOIIVR_HANDLER_TIMEOUT must be a positive number"),
    ({"HOIIVR_FILLER_AFTER": 3, "HOIIVR_HANDLER_TIMEOUT": 3},
     "HOIIVR_FILLER_AFTER (3 s) must be shorter than HOIIVR_HANDLER_TIMEOUT (3 s)"),
    ({"HOIIVR_FILLER": "x" * 1001}, "HOIIVR_FILLER cannot be played"),
])
def test_bad_patience_settings_are_refused_at_start(config: dict[str, Any],
                                                    message: str) -> None:
    app = balance_app("hoiio", lambda: None, **config)
    with pytest.raises(ConfigError) as caught:
        Phone(app)
    assert message in str(caught.value)


def test_the_filler_can_be_turned_off() -> None:
    app = balance_app("hoiio", lambda: None)
    app.config["HOIIVR_FILLER_AFTER"] = "off"
    with Phone(app) as phone:
        call = phone.call()
        call.press("1")
        assert call.prompts == ["Press 1 for your balance.", BALANCE]


# -- the filler's notification, dispatched directly (no Flask, a recording fake client) ---

def slow_menu(h: Any, release: threading.Event, **patience: Any) -> None:
    """``h``'s dispatcher made impatient; its menu handler works until ``release``."""
    h.dispatcher = Dispatcher(h.ivr, h.store, h.carrier, h.tokens,
                              patience=Patience(filler_after=0.05, timeout=5, **patience))
    h.dispatcher.refill_wait = 0.05

    @h.ivr.on_answer
    def answer(call: Any) -> Gather:
        return Gather("Press 1.", max_digits=1, name="menu")

    @h.ivr.on_gather("menu")
    def menu(call: Any) -> Hangup:
        call.state["looked_up"] = True
        release.wait(10)
        return Hangup(BALANCE)


def press_while_slow(h: Any) -> tuple[threading.Thread, Any]:
    """Press 1 in a worker thread; once the filler is out, its ticket."""
    with Heard("hears the filler") as filled:
        worker = threading.Thread(target=h.complete, kwargs={"digits": "1"})
        worker.start()
        assert filled.wait(5)
    filler = h.client.last_ticket(h.tokens)
    assert (filler.block, filler.step) == ("play", FILLER_STEP)
    return worker, filler


def test_the_filler_plays_again_while_its_handler_still_works(harness: Any) -> None:
    h, release = harness, threading.Event()
    slow_menu(h, release)
    h.ring()
    worker, filler = press_while_slow(h)
    # The filler has played; the handler still holds the call: the filler again, to the
    # same step, at a URL of its own.
    assert h.complete(ticket=filler) == HANDLED
    assert h.client.kinds == ["gather", "play", "play"]
    again = h.client.last_ticket(h.tokens)
    assert again == Ticket(filler.call, filler.seq, "play", replay_step(1))
    # A duplicate of a notification whose replay went out plays nothing more: one REST
    # request per (session, seq) and replay.
    assert h.complete(ticket=filler) == STALE
    assert h.client.kinds == ["gather", "play", "play"]
    assert h.complete(ticket=again) == HANDLED                  # the second replay
    assert h.complete(ticket=again) == STALE
    assert h.client.kinds == ["gather", "play", "play", "play"]
    release.set()
    worker.join(5)
    assert h.complete(ticket=again) == HANDLED
    assert h.client.kinds == ["gather", "play", "play", "play", "hangup"]
    assert h.client.sent[-1][0] == Hangup(BALANCE)
    assert h.store.get("S1")["state"] == {"looked_up": True}
    # A duplicate of any filler's notification changes nothing.
    for ticket in (filler, again):
        assert h.complete(ticket=ticket) == STALE
    assert len(h.client.sent) == 5


def test_a_filler_whose_worker_died_ends_in_the_apology_and_nothing_twice(
        harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    h, release = harness, threading.Event()
    slow_menu(h, release)
    h.dispatcher.lock_lease, h.dispatcher.refill_wait = 0.5, 3.0
    h.ring()
    worker, filler = press_while_slow(h)
    # The worker running the handler is as good as dead: its lease lapses, and the
    # filler's notification, waiting for the call, gets it.
    assert h.complete(ticket=filler) == HANDLED
    assert h.client.kinds == ["gather", "play", "hangup"]
    assert h.client.sent[-1][0] == Hangup(APOLOGY)
    assert "never finished" in caplog.text
    # The handler returns at last: what it returns is never sent.
    release.set()
    worker.join(5)
    assert h.client.kinds == ["gather", "play", "hangup"]
    assert "lease lapsed" in caplog.text
