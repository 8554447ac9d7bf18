"""An app with gaps: steps whose result no handler receives."""
from flask import Flask

from hoiivr import IVR, Gather, Hangup, Play, Record, Transfer

app = Flask(__name__)
app.config.update(HOIIO_APP_ID="AP-gaps", HOIIO_ACCESS_TOKEN="gaps-token", SECRET_KEY="gaps-secret")
ivr = IVR(app)


@ivr.on_gather("mneu")            # misspelt: the Gather below is named "menu"
def menu(call):
    return [Play("Welcome.", name="intro"),
            Transfer("+6522222222", on_failure="continue", name="sales")]


@ivr.on_dial_answered("remind")
def reminded(call):
    return Gather("Press 1 to confirm.", max_digits=1, name="menu")


@ivr.on_hangup
def ended(call):
    pass


def boss(call):
    # Neither is a gap: a Transfer that hangs up on failure, an unnamed Play before it.
    return [Play("Putting you through."), Transfer("+6533333333", name="boss"),
            Hangup(name="bye")]


def voicemail(call):
    return Record("Leave a message.", name="voicemail")


def remind(number):
    return ivr.dial(number, name="remind")


def follow_up(number):
    return ivr.dial(number, msg="Hello again.", name="follow_up")
