"""A Phone made inside another's test (a replay, a second harness) gives the app back the
outer Phone's wiring when it closes: its calls go on showing the app's errors."""
from __future__ import annotations

from typing import Any

from flask import Flask

from hoiivr import IVR, Gather
from hoiivr.testing import Phone


def menu(call: Any) -> None:
    raise LookupError("no booking for you")


def test_after_a_nested_phone_closes_the_outer_ones_calls_still_show_app_errors() -> None:
    app = Flask("nested_phone_app")
    ivr = IVR(app)
    ivr.on_answer(lambda call: Gather("Press 1.", max_digits=1, name="menu"))
    ivr.on_gather("menu")(menu)
    with Phone(app) as outer:
        before = outer.call()
        before.press("1")
        with Phone(app) as inner:
            inner.call().press("1")
        after = outer.call()
        after.press("1")
        for call in (before, after):
            assert "menu raised LookupError: no booking for you" in call.describe()
