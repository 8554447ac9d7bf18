"""Test a whole call flow in a few lines: :class:`Phone` (see :mod:`hoiivr.testing.phone`).

- :class:`Phone`, :class:`PhoneCall`: the simulator in-process, wired to your app;
- :class:`LiveServer`: a WSGI app on a real loopback socket, for tests over real HTTP;
- the pytest plugin (:mod:`hoiivr.testing.pytest_plugin`): the ``phone`` fixture, and
  each failing test's calls in its report.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._server import Server as LiveServer

if TYPE_CHECKING:
    from .phone import Phone, PhoneCall, live_phones

__all__ = ["LiveServer", "Phone", "PhoneCall", "live_phones"]


def __getattr__(name: str) -> Any:
    # The harness (and the simulator under it) is imported when first used, not whenever
    # pytest loads this package's plugin.
    if name in ("Phone", "PhoneCall", "live_phones"):
        from . import phone
        return getattr(phone, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
