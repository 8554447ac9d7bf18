"""Auto attendant: a menu that transfers to sales or support, with voicemail when they are busy.

Run it, and be the caller in your terminal::

    hoiivr dev examples/auto_attendant.py
"""
from flask import Flask

from hoiivr import IVR, Ask, Hangup, Play, Record, Transfer

SALES = "+6522222222"
SUPPORT = "+6533333333"
MENU = "Press 1 for sales, 2 for support, or 0 to leave a message."

app = Flask(__name__)
ivr = IVR(app)
voicemails: list[dict[str, str]] = []


def menu_question() -> Ask:
    # Ask re-asks on silence or a wrong key by itself: the menu handler sees 0, 1 or 2 only.
    return Ask(MENU, name="menu", max_digits=1, timeout=10, valid={"0", "1", "2"}, retries=2,
               no_input="Sorry, we did not hear your choice.",
               no_match="Sorry, that is not an option.",
               give_up=Hangup("We did not hear your choice. Goodbye."))


def voicemail(msg: str) -> Record:
    return Record(f"{msg} Leave a message after the tone, then press hash.", max_duration=60,
                  name="voicemail")


@ivr.on_answer
def answer(call):
    return [Play("Welcome to Acme."), menu_question()]


@ivr.on_gather("menu")
def menu(call):
    if call.digits == "1":
        return Transfer(SALES, msg="Connecting you to sales.", on_failure="continue",
                        name="sales")
    if call.digits == "2":
        return Transfer(SUPPORT, msg="Connecting you to support.", on_failure="continue",
                        name="support")
    return voicemail("Sorry we missed you.")       # 0: Ask lets nothing else through


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
