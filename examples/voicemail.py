"""Voicemail: greet the caller, record a message, let them listen and keep or redo it.

Run it::

    hoiivr dev examples/voicemail.py
"""
from flask import Flask

from hoiivr import IVR, Gather, Hangup, Play, Record

app = Flask(__name__)
ivr = IVR(app)
messages: list[dict[str, str]] = []


def record() -> Record:
    return Record("Please leave your message after the tone. Press hash when you are done.",
                  max_duration=120, name="message")


@ivr.on_answer
def answer(call):
    return [Play("You have reached Jane Tan. I cannot take your call right now."), record()]


@ivr.on_record("message")
def recorded(call):
    call.state["recording"] = call.record_url
    return Gather(f"You said: <url>{call.record_url}</url> Press 1 to keep this message, "
                  "or 2 to record it again.", max_digits=1, timeout=10, attempts=2,
                  name="review")


@ivr.on_gather("review")
def review(call):
    if call.digits == "2":
        return record()
    return keep(call)


def keep(call):
    messages.append({"from": call.from_number, "recording": call.state["recording"]})
    return Hangup("Your message has been saved. Goodbye.")


@ivr.on_hangup
def ended(call):
    if "recording" in call.state and not any(m["recording"] == call.state["recording"]
                                             for m in messages):
        # The caller hung up while reviewing: keep the message anyway.
        messages.append({"from": call.from_number, "recording": call.state["recording"]})
