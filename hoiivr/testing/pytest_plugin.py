"""The pytest plugin of hoiivr (loaded automatically once hoiivr is installed).

- ``phone``: a :class:`~hoiivr.testing.Phone` for the Flask app of your ``app`` fixture.
- A failing test's report gets a section with the timeline of every call it made.

It sets nothing in the environment: an app module imports without credentials (they are
read when the first call needs them), and a ``Phone`` brings its own.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest

_PHONES_BEFORE = pytest.StashKey[set[int]]()


@pytest.fixture
def phone(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A Phone wired to the app returned by your ``app`` fixture."""
    from .phone import Phone
    try:
        app = request.getfixturevalue("app")
    except pytest.FixtureLookupError:
        raise pytest.UsageError("the phone fixture needs an `app` fixture that returns your "
                                "Flask app (with IVR(app) mounted); define one in conftest.py")
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
