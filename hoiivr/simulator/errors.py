"""Errors of the simulator's own control surface (the Python API and ``/sim/...``).

Hoiio's REST API never raises: it answers ``{"status": "error_..."}``. These are for the
person driving the simulator (a test, the control API), and each carries the HTTP status
the control API answers with.
"""
from __future__ import annotations

from ..errors import HoiivrError


class SimulatorError(HoiivrError):
    """The simulator was asked to do something it cannot; the message says how to fix it."""

    http_status: int = 400

    def __init__(self, message: str, http_status: int | None = None) -> None:
        if http_status is not None:
            self.http_status = http_status
        super().__init__(message)


class UnknownCall(SimulatorError):
    """No call has that session id."""

    http_status = 404


class CallEnded(SimulatorError):
    """The call has ended, so the caller can no longer press keys or speak."""

    http_status = 409


class SettleTimeout(SimulatorError):
    """``settle`` gave up: the call did not come to rest within its limit."""

    http_status = 409
