"""Recorded line: announce that the call is recorded, record it with Monitor, then connect.

The recording of the whole call (the transferred part included) arrives once the call
has ended. Run it::

    hoiivr dev examples/recorded_line.py
"""
from flask import Flask

from hoiivr import IVR, Hangup, Monitor, Transfer

AGENT = "+6544444444"

app = Flask(__name__)
ivr = IVR(app)
recordings: list[dict[str, str]] = []


@ivr.on_answer
def answer(call):
    return Monitor("This call is recorded for quality and training.", name="recording")


@ivr.on_monitor("recording")
def recording_started(call):
    return Transfer(AGENT, msg="Please hold while we connect you to an agent.",
                    on_failure="continue", name="agent")


@ivr.on_transfer_failed("agent")
def agent_busy(call):
    return Hangup("All our agents are busy. Please call again later. Goodbye.")


@ivr.on_hangup
def ended(call):
    if call.record_url:
        recordings.append({"from": call.from_number, "recording": call.record_url,
                           "minutes": str(call.duration)})
