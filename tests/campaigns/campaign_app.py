"""The app a campaign's tests call with: a reminder, said to whoever answers.

Its configuration comes from the environment (the test sets it), so that the worker
processes and the test's own web server load the same app the same way.
"""
from __future__ import annotations

from flask import Flask

from hoiivr import IVR, Hangup
from hoiivr.campaigns import Campaigns

app = Flask(__name__)
ivr = IVR(app)
Campaigns(ivr)
answered: list[dict[str, object]] = []


@ivr.on_dial_answered("remind")
def remind(call):
    answered.append(dict(call.state))
    return Hangup(f"Hello {call.state.get('name', '')}, see you at {call.state.get('time')}.")
