"""Take the screenshots of docs/softphone.rst during realistic calls: to the auto attendant,
and from the appointment reminder, which calls a number that rings on the page.

Run from the repository's root (Chromium and Playwright as for the browser tests)::

    python -m tests.browser.screenshots
"""
from __future__ import annotations

from pathlib import Path

import requests

from playwright.sync_api import expect, sync_playwright

from .harness import CHROMIUM_ARGS, Line, chromium

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}
SPEED = 3.0                 # slow enough to catch each step on screen
PATIENT = "+6591234567"


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        line = Line(speed=SPEED)
        try:
            desktop(browser.new_page(viewport=DESKTOP), line.url)
            mobile(browser.new_page(viewport=PHONE), line.url)
        finally:
            line.close()
        line = Line(speed=SPEED, example="appointment_reminder")
        try:
            answered(browser.new_page(viewport=DESKTOP), line)
        finally:
            line.close()
        browser.close()


def desktop(page, url: str) -> None:
    """Support answers the first call; sales is busy for the second, which leaves a message."""
    page.goto(url)
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#status")).to_contain_text("In the menu")
    page.keyboard.press("2")
    expect(page.locator("#status")).to_contain_text("Transferred", timeout=15000)
    page.get_by_role("button", name="Hang up").click()
    expect(page.locator("#status")).to_contain_text("Call ended")

    page.get_by_label("Number", exact=True).fill("+6522222222")
    page.get_by_label("Behaviour", exact=True).select_option("busy")
    page.get_by_role("button", name="Set", exact=True).click()
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#status")).to_contain_text("In the menu")
    page.keyboard.press("1")
    expect(page.locator("#status")).to_contain_text("Recording your message", timeout=15000)
    page.get_by_role("button", name="Record from microphone").click()
    page.wait_for_timeout(1500)
    page.mouse.move(0, 0)
    shot(page, "softphone-desktop.png")
    page.get_by_role("button", name="Stop and send").click()
    expect(page.locator("#status")).to_contain_text("Call ended", timeout=20000)
    page.wait_for_timeout(1000)
    timeline = page.locator("#timeline")
    timeline.locator("[data-type=notification] summary").nth(1).click()
    timeline.locator("[data-type=request] summary").nth(1).click()
    page.locator("#inspector").screenshot(path=IMAGES / "inspector-desktop.png")
    print(f"{IMAGES / 'inspector-desktop.png'}: {size(IMAGES / 'inspector-desktop.png')}")


def mobile(page, url: str) -> None:
    """The same page on a phone: the softphone in the menu, then the inspector."""
    page.goto(url)
    page.get_by_role("button", name="Call", exact=True).click()
    expect(page.locator("#status")).to_contain_text("In the menu: press keys", timeout=15000)
    shot(page, "softphone-mobile.png")
    page.locator("#keypad [data-key='0']").click()
    expect(page.locator("#status")).to_contain_text("Recording your message", timeout=15000)
    page.get_by_role("button", name="Speak", exact=True).click()
    page.wait_for_timeout(1500)
    page.locator("#keypad [data-key='#']").click()
    expect(page.locator("#status")).to_contain_text("Call ended", timeout=20000)
    page.evaluate("document.getElementById('inspector').scrollIntoView()")
    shot(page, "inspector-mobile.png")


def answered(page, line: Line) -> None:
    """The reminder app calls the patient, whose number rings on the page: answered, then
    confirmed with 1."""
    page.goto(line.url)
    page.get_by_label("Number", exact=True).fill(PATIENT)
    page.get_by_label("Behaviour", exact=True).select_option("manual")
    page.get_by_role("button", name="Set", exact=True).click()
    requests.post(line.app_server.url + "/remind", data={"number": PATIENT}, timeout=5)
    expect(page.locator("#status")).to_contain_text("Incoming call")
    page.locator("#phone").screenshot(path=IMAGES / "softphone-incoming.png")
    print(f"{IMAGES / 'softphone-incoming.png'}: {size(IMAGES / 'softphone-incoming.png')}")
    page.get_by_role("button", name="Answer").click()
    expect(page.locator("#status")).to_contain_text("In the menu: press keys", timeout=20000)
    page.keyboard.press("1")
    expect(page.locator("#status")).to_contain_text("Call ended", timeout=20000)
    page.wait_for_timeout(1000)
    page.mouse.move(0, 0)
    shot(page, "softphone-answered.png")


def shot(page, name: str) -> None:
    page.screenshot(path=IMAGES / name)
    print(f"{IMAGES / name}: {size(IMAGES / name)}")


def size(path: Path) -> str:
    return f"{path.stat().st_size // 1024} KiB"


if __name__ == "__main__":
    main()
