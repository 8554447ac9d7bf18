"""The pytest plugin of hoiivr (loaded automatically once hoiivr is installed).

- ``phone``: a :class:`~hoiivr.testing.Phone` for the Flask app of your ``app`` fixture.
- A failing test's report gets a section with the timeline of every call it made.
- ``--hoiivr-coverage``: the run ends with a table of each handler and step, and which
  of its outcomes the tests exercised (see :mod:`hoiivr.testing.coverage`).

It sets nothing in the environment: an app module imports without credentials (they are
read when the first call needs them), and a ``Phone`` brings its own.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest

_PHONES_BEFORE = pytest.StashKey[set[int]]()
_COVERAGE = "hoiivr-coverage"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hoiivr")
    group.addoption("--hoiivr-coverage", action="store_true", default=False,
                    help="end with a table of each handler and step, and which of its "
                         "outcomes (keys, no input, transfer failed, hang-up...) the tests "
                         "exercised")


def pytest_configure(config: pytest.Config) -> None:
    # Off, it costs nothing: no observer, no hook below is registered.
    if config.getoption("hoiivr_coverage"):
        config.pluginmanager.register(_CoveragePlugin(), _COVERAGE)


class _CoveragePlugin:
    def __init__(self) -> None:
        from . import phone
        from .coverage import CallCoverage
        self.coverage = CallCoverage()
        self.closing = phone.closing
        self.live = phone.live_phones

    def pytest_sessionstart(self) -> None:
        self.closing.append(self.coverage.observe)

    def pytest_sessionfinish(self) -> None:
        for phone in list(self.live):
            self.coverage.observe(phone)
        if self.coverage.observe in self.closing:
            self.closing.remove(self.coverage.observe)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Any:
        # Before the fixtures go: a Phone kept by a wider-scoped fixture is read now too.
        for phone in list(self.live):
            self.coverage.observe(phone)
        return (yield)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = self.coverage.report()
        terminalreporter.section("hoiivr call-flow coverage")
        for line in lines[1:] if len(lines) > 2 else ["(no call was made)"]:
            terminalreporter.write_line(line)
        terminalreporter.write_line(lines[0])


@pytest.fixture
def app() -> Any:
    """Stands in for your ``app`` fixture until you define one, and says so."""
    raise pytest.UsageError("the phone fixture needs an `app` fixture that returns your Flask "
                            "app (with IVR(app) mounted); define one in conftest.py")


@pytest.fixture
def phone(app: Any) -> Iterator[Any]:
    """A Phone wired to the app returned by your ``app`` fixture (which may be
    parametrized, e.g. over carriers)."""
    from .phone import Phone
    with Phone(app) as phone:
        yield phone


def pytest_runtest_setup(item: pytest.Item) -> None:
    from .phone import live_phones
    item.stash[_PHONES_BEFORE] = set(map(id, live_phones))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        from .phone import live_phones
        before = item.stash.get(_PHONES_BEFORE, set())
        text = "\n\n".join(p.timelines() for p in list(live_phones)
                           if id(p) not in before and p.calls)
        if text:
            report.sections.append(("hoiivr: the calls of this test", text))
    return report
