"""axe-core finds no accessibility violation on the page: idle, in a call, recording and
after the call, on a desktop and on a 375x667 phone. axe-core is vendored (vendor/)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:     # the browser fixture fails with what to install
    expect = None

from .conftest import DESKTOP, SMALL_PHONE
from .harness import Line

AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"


def violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (every WCAG A/AA rule and more)."""
    if not page.evaluate("Boolean(window.axe)"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [{"rule": v["id"], "impact": v["impact"], "help": v["help"],
             "where": [n["target"] for n in v["nodes"]][:5]} for v in found]


def assert_clean(page: Any, state: str) -> None:
    found = violations(page)
    assert found == [], f"{state}: " + json.dumps(found, indent=1)


@pytest.mark.parametrize("viewport", [DESKTOP, SMALL_PHONE], ids=["desktop", "375x667"])
def test_no_violation_idle_in_a_call_recording_and_ended(line: Line, pages: Any,
                                                         viewport: dict[str, int]) -> None:
    page = pages(line.url, viewport)
    expect(page.locator("#to")).to_have_value("+6560000000")
    assert_clean(page, "idle")
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#status")).to_contain_text("In the menu: press keys")
    assert_clean(page, "in a call")
    page.locator("#keypad [data-key='0']").click()
    expect(page.locator("#status")).to_contain_text("Recording your message")
    assert_clean(page, "recording")
    page.get_by_role("button", name="Speak", exact=True).click()
    page.locator("#keypad [data-key='#']").click()
    expect(page.locator("#status")).to_contain_text("Call ended")
    expect(page.locator("#timeline .badge.ok").first).to_be_visible()
    assert_clean(page, "ended")


def test_axe_finds_what_it_should(line: Line, pages: Any) -> None:
    page = pages(line.url)
    page.evaluate("document.getElementById('call').textContent = ''")
    assert "button-name" in {v["rule"] for v in violations(page)}
