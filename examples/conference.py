"""Conference line: callers enter a PIN and join the room; three wrong PINs end the call.

Run it (the PIN is 1234)::

    hoiivr dev examples/conference.py
"""
from flask import Flask

from hoiivr import IVR, Gather, Hangup, Transfer

PIN = "1234"
ROOM = "room:weekly_sync"
MAX_TRIES = 3

app = Flask(__name__)
ivr = IVR(app)


def ask_pin(intro: str) -> Gather:
    return Gather(f"{intro} Please enter the four digit conference PIN.", max_digits=4,
                  timeout=15, attempts=2, name="pin")


@ivr.on_answer
def answer(call):
    call.state["tries"] = 0
    return ask_pin("Welcome to the weekly sync.")


@ivr.on_gather("pin")
def pin(call):
    if call.digits == PIN:
        return Transfer(ROOM, msg="Thank you. Joining you to the conference now.",
                        name="join")
    call.state["tries"] += 1
    if call.state["tries"] >= MAX_TRIES or not call.digits:
        return Hangup("Sorry, we could not verify your PIN. Goodbye.")
    return ask_pin("That PIN is not correct.")
