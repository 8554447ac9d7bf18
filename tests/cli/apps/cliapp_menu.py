"""A complete app: every step it starts has a handler (``hoiivr routes`` finds no gap)."""
from flask import Flask

from hoiivr import IVR, Gather, Hangup, Play, Record, Transfer

app = Flask(__name__)
app.config.update(HOIIO_APP_ID="AP-menu", HOIIO_ACCESS_TOKEN="menu-token", SECRET_KEY="menu-secret")
ivr = IVR(app)


@ivr.on_answer
def answer(call):
    return Gather("Press 1 for sales, 2 for support.", max_digits=1, timeout=10, attempts=3,
                  name="menu")


@ivr.on_gather("menu")
def menu(call):
    if call.digits == "1":
        return Transfer("+6522222222", msg="Connecting you.", on_failure="continue",
                        name="sales")
    return [Play("Goodbye."), Hangup()]


@ivr.on_transfer_failed("sales")
def sales_busy(call):
    return Record("Sales is busy. Leave a message after the tone.", max_duration=60,
                  name="voicemail")


@ivr.on_record("voicemail")
def saved(call):
    call.state["voicemail"] = call.record_url
    return Hangup(msg="Thank you. Goodbye.")


@ivr.on_dial_answered("remind")
def reminded(call):
    return Hangup("Your appointment is tomorrow at nine. Goodbye.")


@ivr.on_hangup
def ended(call):
    pass


@ivr.errorhandler(LookupError)
def not_found(call, error):
    return Hangup("We could not find your booking. Goodbye.")


def remind(number):
    return ivr.dial(number, name="remind")
