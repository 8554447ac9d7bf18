"""Fixtures of the browser tests: a headless Chromium (Debian's, driven by Playwright), and
the auto-attendant example with the simulator on loopback ports.

These tests never skip: without Chromium or Playwright they fail and say what to install.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .harness import CHROMIUM_ARGS, Line, chromium

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
#: A small phone's screen, as issue 26 tried it.
SMALL_PHONE = {"width": 375, "height": 667}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: pip install -e '.[test]' (never `playwright "
                    "install`: the tests drive the system's Chromium)", pytrace=False)
    executable = chromium()
    if executable is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (the browser tests "
                    "drive Debian's /usr/bin/chromium)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def line() -> Iterator[Line]:
    line = Line()
    yield line
    line.close()


class Page:
    """A browser page on the softphone, that fails the test on any script error."""

    def __init__(self, browser: Any, url: str, viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        self.page.on("console", self._console)
        self.page.goto(url)

    def _console(self, message: Any) -> None:
        # The faults probe's 404 (when the simulator has no faults) is logged by Chromium.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def pages(browser: Any) -> Iterator[Callable[..., Any]]:
    """Opens pages (``pages(url, viewport)``); each fails the test on a script error."""
    opened: list[Page] = []

    def open_page(url: str, viewport: dict[str, int] = DESKTOP) -> Any:
        opened.append(Page(browser, url, viewport))
        return opened[-1].page
    yield open_page
    for page in opened:
        page.close()
    assert [error for page in opened for error in page.errors] == []


@pytest.fixture
def desktop(browser: Any, line: Line) -> Iterator[Any]:
    page = Page(browser, line.url, DESKTOP)
    yield page.page
    page.close()
    assert page.errors == []


@pytest.fixture
def mobile(browser: Any, line: Line) -> Iterator[Any]:
    page = Page(browser, line.url, PHONE)
    yield page.page
    page.close()
    assert page.errors == []
