"""Voice menu: callers say "sales" or "support", or press 1 or 2, and are put through.

Speech input needs a carrier that recognizes speech: this app runs on Twilio. Be the
caller in your terminal, and say your choice with ``/say sales`` (or press 1)::

    HOIIVR_CARRIER=twilio hoiivr dev examples/voice_menu.py

On Hoiio, whose Gather takes keys only, the app refuses to start and says why; so does
``hoiivr routes examples/voice_menu.py``.
"""
from flask import Flask

from hoiivr import IVR, Ask, Hangup, Play, Transfer

TEAMS = {"sales": "+6522222222", "support": "+6533333333"}

app = Flask(__name__)
ivr = IVR(app)
choices: list[dict[str, object]] = []


def menu() -> Ask:
    # Keys or words, whichever the caller gives first. The hints are the words expected:
    # Twilio listens for them, and the simulator's offline recognizer hears only them.
    return Ask("Say sales or support, or press 1 or 2.", name="menu", max_digits=1,
               timeout=8, input="dtmf speech", hints=["sales", "support"], language="en-US",
               valid={"sales": ["1"], "support": ["2", "help", "technical support"]},
               retries=2, no_input="Sorry, I did not hear you.",
               no_match="Sorry, I did not catch that.",
               give_up=Hangup("Please call again later. Goodbye."))


@ivr.on_answer
def answer(call):
    return [Play("Welcome to Acme.", voice="female"), menu()]


@ivr.on_gather("menu")
def chosen(call):
    # call.answer is "sales" or "support", however the caller chose it.
    choices.append({"answer": call.answer, "digits": call.digits, "speech": call.speech,
                    "confidence": call.confidence})
    return Transfer(TEAMS[call.answer], msg=f"Connecting you to {call.answer}.",
                    on_failure="continue", name="team")


@ivr.on_transfer_failed("team")
def nobody_free(call):
    return Hangup("Everyone is busy right now. Please call again later. Goodbye.")
