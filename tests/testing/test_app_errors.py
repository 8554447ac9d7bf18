"""A handler's error is in its call's timeline (the Phone's, a failing test's report) as
well as in the log; one an errorhandler dealt with is logged as Flask does, in one line."""
from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask

from hoiivr import IVR, Gather, Hangup
from hoiivr.testing import Phone

HERE = "tests/testing/test_app_errors.py"
APOLOGY = "Sorry, something went wrong. Please call again later. Goodbye."


def answer(call):
    return Gather("Press 1 or 2.", max_digits=1, name="menu")


def menu(call):
    if call.digits == "1":
        raise LookupError("no booking for you")
    return Hangup(f"You chose {int(call.digits) / 0}.")


def not_found(call, error):
    return Gather("We found no booking. Press 2.", max_digits=1, name="menu")


def ended(call):
    raise RuntimeError("the billing system is down")


def menu_app(carrier: str = "hoiio") -> Flask:
    app = Flask(f"errors_{carrier}")
    app.config["HOIIVR_CARRIER"] = carrier
    ivr = IVR(app)
    ivr.on_answer(answer)
    ivr.on_gather("menu")(menu)
    ivr.errorhandler(LookupError)(not_found)
    ivr.on_hangup(ended)
    return app


def lines_from(text: str, start: str, count: int, back: int = 0) -> list[str]:
    """``count`` lines of the timeline ``text`` from ``back`` lines before the first that
    contains ``start``, without their times."""
    lines = [line.split(None, 1)[1] for line in text.splitlines()[1:]]
    first = next(i for i, line in enumerate(lines) if start in line) - back
    return lines[first:first + count]


@pytest.mark.parametrize("carrier", ["hoiio", "twilio"])
def test_each_error_is_in_the_timeline_after_the_notification_whose_handler_raised(carrier):
    with Phone(menu_app(carrier)) as phone:
        call = phone.call().press("1").press("2")
        timeline = call.describe()
    handled, apology, _ = [line for line in timeline.splitlines() if "app_error" in line]
    assert handled.split(None, 2)[2] == (
        "menu raised LookupError: no booking for you at "
        f"{HERE}:24; error handler not_found answered")
    assert apology.split(None, 2)[2] == (
        f"menu raised ZeroDivisionError: division by zero at {HERE}:25; the caller hears "
        "the apology")
    # Between the notification whose handler raised and the apology that followed.
    before, _, *after = lines_from(timeline, "menu raised ZeroDivisionError", 4, back=1)
    assert before.startswith("notification  gather ongoing digits='2' -> HTTP 200" if
                             carrier == "hoiio" else "webhook       action POST")
    assert after == ([f"request       hangup {{'msg': '{APOLOGY}'}} -> success_ok",
                      f"prompt        '{APOLOGY}'"] if carrier == "hoiio" else
                     [f"verb          verb=Say text={APOLOGY} voice=woman language=en-US "
                      "loop=1", f"prompt        '{APOLOGY}'"])
    assert timeline.rstrip().endswith("app_error     ended raised RuntimeError: the billing "
                                      f"system is down at {HERE}:33; the call had ended")


def test_an_error_its_errorhandler_dealt_with_is_one_line_of_log(caplog):
    with Phone(menu_app()) as phone, caplog.at_level(logging.INFO, "hoiivr"):
        call = phone.call().press("1")
    assert call.last_prompt == "We found no booking. Press 2."
    [record] = [r for r in caplog.records if "no booking" in r.getMessage()]
    assert (record.levelname, record.exc_info) == ("INFO", None)
    assert record.getMessage() == (f"{call.session}: menu raised LookupError: no booking for "
                                   "you; error handler not_found answered")


def test_an_error_no_errorhandler_dealt_with_is_logged_with_its_traceback(caplog):
    with Phone(menu_app()) as phone, caplog.at_level(logging.INFO, "hoiivr"):
        call = phone.call().press("2")
    assert call.last_prompt == APOLOGY
    [record] = [r for r in caplog.records if "division by zero" in r.getMessage()]
    assert record.levelname == "ERROR" and record.exc_info is not None
    assert record.getMessage() == f"{call.session}: menu failed: division by zero"


def test_an_errorhandler_that_fails_too_leaves_the_apology():
    app = Flask("failing_twice")
    ivr = IVR(app)
    ivr.on_answer(lambda call: Gather("Press 1.", max_digits=1, name="menu"))
    ivr.on_gather("menu")(lambda call: {}["missing"])
    ivr.errorhandler(KeyError)(lambda call, error: [][0])
    with Phone(app) as phone:
        call = phone.call().press("1")
    assert call.last_prompt == APOLOGY
    assert "<lambda> raised KeyError: 'missing'" in call.describe()
    assert "; the caller hears the apology" in call.describe()


def test_a_listener_of_the_runtime_hears_each_failure_and_cannot_break_the_call(caplog):
    app = menu_app()
    heard: list[Any] = []
    with Phone(app) as phone:
        runtime = app.extensions["hoiivr"].runtime
        runtime.on_failure(heard.append)
        runtime.on_failure(lambda failure: 1 / 0)
        with caplog.at_level(logging.ERROR, "hoiivr"):
            call = phone.call().press("1")
        assert call.last_prompt == "We found no booking. Press 2."
    [failure] = heard
    assert (failure.session, failure.step, failure.outcome) == (call.session, "menu", "handled")
    assert isinstance(failure.error, LookupError) and failure.source.__name__ == "menu"
    assert failure.error_handler.__name__ == "not_found"
    assert "the failure listener" in caplog.text and "failed" in caplog.text


REPORTED_APP = '''
import pytest
from flask import Flask
from hoiivr import IVR, Gather

app_ = Flask("reported")
ivr = IVR(app_)


@pytest.fixture
def app():
    return app_


@ivr.on_answer
def answer(call):
    return Gather("Press 1.", max_digits=1, name="menu")


@ivr.on_gather("menu")
def menu(call):
    return Gather(f"You pressed {call.digits}.", max_digits="1", name="menu")
'''


def test_a_failing_tests_report_shows_the_error_in_the_calls_timeline(pytester):
    pytester.makeconftest(REPORTED_APP)
    pytester.makepyfile(test_menu='''
def test_pressing_1(phone):
    call = phone.call().press("1")
    assert call.last_prompt == "You pressed 1."
''')
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*- hoiivr: the calls of this test -*",
        "*notification  gather ongoing digits='1' -> HTTP 200*",
        "*app_error     menu raised BlockError: Gather: max_digits='1' is not allowed; it must "
        "be a whole number from 0 to 255. at conftest.py:21; the caller hears the apology",
    ])


def test_a_reading_of_the_call_older_than_the_error_leaves_it_for_a_later_one():
    # hoiivr dev reads the call over HTTP while the app runs in another thread: the error
    # may be known before a reading that has the notification whose handler raised.
    from hoiivr.dispatch import Failure
    from hoiivr.testing.app_errors import AppErrors

    keys = {"at": 2.2, "type": "keys", "digits": "1"}
    notified = {"at": 2.3, "type": "notification", "latency_ms": None}
    answered = {"at": 2.5, "type": "request", "endpoint": "ivr/end/hangup"}
    errors = AppErrors(lambda session: {"timeline": [keys, notified]})
    errors(Failure("S1", "menu", menu, None, ValueError("x"), "apology"))
    before = {"session": "S1", "timeline": [keys]}
    assert errors.timeline(before) == [keys]
    after = {"session": "S1", "timeline": [keys, notified, answered]}
    assert [e["type"] for e in errors.timeline(after)] == ["keys", "notification", "app_error",
                                                            "request"]
