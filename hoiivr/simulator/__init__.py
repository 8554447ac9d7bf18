"""hoiivr.simulator: a local Hoiio that speaks the protocol exactly.

The same app, or any Hoiio SDK pointed at its base URL, runs against it unchanged. It
serves Hoiio's REST API (``/open/...``), plays calls through a discrete-event engine on a
virtual or real clock, delivers signed notifications, scripts the phones at both ends of a
call (``/sim/...`` or the Python API) and keeps every prompt, request, notification and
recording of a call for a developer to look at::

    from hoiivr.simulator import Simulator, VirtualClock

    sim = Simulator(clock=VirtualClock())
    sim.add_account("APP", "TOKEN")
    sim.add_number("+6560000000", "http://127.0.0.1:5000/hoiio/answer")
    session = sim.call("+6591234567", "+6560000000")
    sim.settle(session)
    sim.press(session, "1")

A number may also be a TwiML number of a Twilio account (``add_twilio_account``,
``add_twiml_number``): its calls request the app's Voice URL and run its TwiML, and the
Calls resource (``/2010-04-01/...``) serves the ``twilio`` package's Client; see
``docs/twiml-numbers.rst``.

Run it as a server with ``hoiivr simulator``.
"""
from __future__ import annotations

from .accounts import Account, HoiioNumber, Phone
from .clock import Clock, RealClock, VirtualClock
from .web import Simulator
from .errors import CallEnded, SettleTimeout, SimulatorError, UnknownCall
from .server import SimulatorServer
from .timing import Timing
from .transport import WSGIAdapter, WSGIResponse, WSGISession

__all__ = [
    "Account", "CallEnded", "Clock", "HoiioNumber", "Phone", "RealClock", "SettleTimeout",
    "Simulator", "SimulatorError", "SimulatorServer", "Timing", "UnknownCall", "VirtualClock",
    "WSGIAdapter", "WSGIResponse", "WSGISession",
]
