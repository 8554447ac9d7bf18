"""Auto attendant: a menu that transfers to sales or support, with voicemail when they are busy.

Run it, and be the caller in your terminal::

    hoiivr dev examples/auto_attendant.py
"""
from flask import Flask

from hoiivr import IVR, Gather, Hangup, Record, Transfer

SALES = "+6522222222"
SUPPORT = "+6533333333"
MENU = "Press 1 for sales, 2 for support, or 0 to leave a message."

app = Flask(__name__)
ivr = IVR(app)
voicemails: list[dict[str, str]] = []


def menu_prompt(intro: str) -> Gather:
    return Gather(f"{intro} {MENU}", max_digits=1, timeout=10, attempts=3, name="menu")


def voicemail(msg: str) -> Record:
    return Record(f"{msg} Leave a message after the tone, then press hash.", max_duration=60,
                  name="voicemail")


@ivr.on_answer
def answer(call):
    return menu_prompt("Welcome to Acme.")


@ivr.on_gather("menu")
def menu(call):
    if call.digits == "1":
        return Transfer(SALES, msg="Connecting you to sales.", on_failure="continue",
                        name="sales")
    if call.digits == "2":
        return Transfer(SUPPORT, msg="Connecting you to support.", on_failure="continue",
                        name="support")
    if call.digits == "0":
        return voicemail("Sorry we missed you.")
    if not call.digits:
        return Hangup("We did not hear your choice. Goodbye.")
    return menu_prompt("Sorry, that is not an option.")


@ivr.on_transfer_failed
def nobody_free(call):
    return voicemail("Everyone is busy right now.")


@ivr.on_record("voicemail")
def saved(call):
    voicemails.append({"from": call.from_number, "recording": call.record_url})
    return Hangup("Thank you. We will call you back. Goodbye.")


@ivr.on_hangup
def ended(call):
    app.logger.info("call %s from %s ended after %s min", call.session, call.from_number,
                    call.duration)
