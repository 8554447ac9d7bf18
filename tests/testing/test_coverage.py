"""pytest --hoiivr-coverage, through pytest itself (the pytester fixture)."""
from __future__ import annotations

import pytest

APP = '''
import pytest
from flask import Flask
from hoiivr import IVR, Gather, Hangup, Transfer

app_ = Flask("menuapp")
ivr = IVR(app_)


@pytest.fixture
def app():
    return app_


@ivr.on_answer
def answer(call):
    return Gather("Press 1 for sales, 2 for support.", max_digits=1, timeout=5, name="menu")


@ivr.on_gather("menu")
def menu(call):
    if call.digits == "1":
        return Transfer("+6522222222", on_failure="continue", name="sales")
    if call.digits in ("2", "3"):
        return Hangup("Support is closed.")
    if call.digits == "9":
        raise LookupError("nine")
    if not call.digits:
        return Hangup("Goodbye.")
    return Gather("Sorry. Press 1 or 2.", max_digits=1, timeout=5, name="menu")


@ivr.on_transfer_failed("sales")
def busy(call):
    return Hangup("Sales is busy.")


@ivr.errorhandler(LookupError)
def lookup_failed(call, error):
    return Hangup("Sorry.")
'''

TESTS = '''
def test_sales(phone):
    phone.call().press("1")


def test_a_wrong_key_then_support(phone):
    call = phone.call()
    call.press("7")
    call.press("2")


def test_silence(phone):
    phone.call().wait(60)


def test_an_error(phone):
    phone.call().press("9")
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(APP)
    pytester.makepyfile(test_menu=TESTS)
    return pytester


def row(result: pytest.RunResult, step: str) -> list[str]:
    line = next(line for line in result.outlines if line.startswith("menuapp") and
                f"  {step}  " in line)
    return [cell.strip() for cell in line.split("  ") if cell.strip()]


def test_the_table_names_what_ran_and_what_never_did(project):
    result = project.runpytest("--hoiivr-coverage", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*= hoiivr call-flow coverage =*",
                                 "APP*STEP*HANDLER*EXERCISED*NEVER RAN"])
    assert row(result, "answer") == ["menuapp", "answer", "answer", "ran", "error handler"]
    # The keys the handler compares call.digits with are the ones expected.
    assert row(result, "gather menu") == [
        "menuapp", "gather menu", "menu",
        "error handler, give-up, key 1, key 2, key 9, wrong key",
        "key 3, no input, hang-up mid-step"]
    assert row(result, "transfer sales") == [
        "menuapp", "transfer sales", "busy", "connected",
        "transfer failed, hang-up mid-step, error handler"]
    summary = [line for line in result.outlines if line.startswith("hoiivr call-flow coverage")]
    assert summary == ["hoiivr call-flow coverage: 7 of 14 expected outcomes exercised (50%)"]


#: A busy transfer and a hang-up mid-step, beside the project's own tests.
MORE_TESTS = '''
def test_busy(phone):
    phone.set_behaviour("+6522222222", "busy")
    phone.call().press("1")


def test_hang_up(phone):
    phone.call().hangup()
'''


def test_a_busy_transfer_and_a_hang_up_mid_step_are_outcomes(project):
    project.makepyfile(test_more=MORE_TESTS)
    result = project.runpytest("--hoiivr-coverage", "test_more.py")
    result.assert_outcomes(passed=2)
    assert row(result, "transfer sales")[3] == "transfer failed: busy"
    assert row(result, "gather menu")[3] == "hang-up mid-step, key 1"


def test_a_phone_made_and_closed_in_the_test_counts(project):
    project.makepyfile(test_own='''
from hoiivr.testing import Phone


def test_own_phone(app):
    with Phone(app) as phone:
        phone.call().press("2")
''')
    result = project.runpytest("--hoiivr-coverage", "test_own.py")
    result.assert_outcomes(passed=1)
    assert row(result, "gather menu")[3] == "key 2"


def test_off_by_default_and_the_option_is_documented(project):
    result = project.runpytest()
    result.assert_outcomes(passed=4)
    assert "call-flow coverage" not in result.stdout.str()
    help_text = project.runpytest("--help").stdout.str()
    assert "--hoiivr-coverage" in help_text and "outcomes" in help_text


def test_no_call_no_table_rows(pytester):
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest("--hoiivr-coverage")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["(no call was made)",
                                 "hoiivr call-flow coverage: 0 of 0 expected outcomes "
                                 "exercised"])


def table(result: pytest.RunResult) -> list[str]:
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if line.startswith("APP"))
    end = next(i for i, line in enumerate(lines) if line.startswith("hoiivr call-flow"))
    return lines[start:end + 1]


def test_the_same_tests_give_the_same_table_on_twilio(project, monkeypatch):
    project.makepyfile(test_more=MORE_TESTS)
    on_hoiio = project.runpytest("--hoiivr-coverage", "-p", "no:cacheprovider")
    monkeypatch.setenv("HOIIVR_CARRIER", "twilio")
    on_twilio = project.runpytest("--hoiivr-coverage", "-p", "no:cacheprovider")
    on_twilio.assert_outcomes(passed=6)
    # The verbs the calls ran and the webhooks the app answered are read as Hoiio's blocks
    # and notifications are.
    assert table(on_twilio) == table(on_hoiio)
    assert table(on_twilio)[-1] == ("hoiivr call-flow coverage: 9 of 14 expected outcomes "
                                    "exercised (64%)")
