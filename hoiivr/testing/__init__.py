"""Test a whole call flow in a few lines: :class:`Phone` (see :mod:`hoiivr.testing.phone`).

- :class:`Phone`, :class:`PhoneCall`: the simulator in-process, wired to your app;
- :class:`LiveServer`: a WSGI app on a real loopback socket, for tests over real HTTP;
- :func:`replay`: recorded calls (``call.save_trace(path)``, ``hoiivr dev --record``)
  run again against today's code; an ``AssertionError`` with the diff if one differs;
- the pytest plugin (:mod:`hoiivr.testing.pytest_plugin`): the ``phone`` fixture, each
  failing test's calls in its report, and ``--hoiivr-coverage``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._server import Server as LiveServer

if TYPE_CHECKING:
    from .phone import Phone, PhoneCall, live_phones
    from .replays import ReplayMismatch, replay

__all__ = ["LiveServer", "Phone", "PhoneCall", "ReplayMismatch", "live_phones", "replay"]


def __getattr__(name: str) -> Any:
    # The harness (and the simulator under it) is imported when first used, not whenever
    # pytest loads this package's plugin.
    if name in ("Phone", "PhoneCall", "live_phones"):
        from . import phone
        return getattr(phone, name)
    if name in ("replay", "ReplayMismatch"):
        # The module is not named "replay": importing it would shadow the function.
        from . import replays
        return getattr(replays, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
