"""The example app of DESIGN.md, with a re-prompt for an invalid key."""
from __future__ import annotations

from flask import Flask

from hoiivr import IVR, Gather, Hangup, Play, Record, Transfer

SALES = "+6522222222"


def create_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(HOIIO_APP_ID="design-app", HOIIO_ACCESS_TOKEN="design-token",
                      SECRET_KEY="design-secret", **config)
    ivr = IVR(app)
    app.ended = []          # (session, duration, debit, state) of each call, from on_hangup
    app.outbound = []       # what on_dial_answered / on_dial_failed saw

    def menu_prompt(intro: str = "") -> Gather:
        return Gather(f"{intro}Press 1 for sales, 2 for support.", max_digits=1, timeout=10,
                      attempts=3, name="menu")

    @ivr.on_answer
    def answer(call):
        return menu_prompt()

    @ivr.on_gather("menu")
    def menu(call):
        if call.digits == "1":
            return Transfer(SALES, msg="Connecting you.", on_failure="continue", name="sales")
        if call.digits:
            return menu_prompt("Sorry, that is not an option. ")
        return [Play("Goodbye."), Hangup()]

    @ivr.on_transfer_failed("sales")
    def sales_busy(call):
        return Record("Sales is busy. Leave a message after the tone.", max_duration=60,
                      name="voicemail")

    @ivr.on_record("voicemail")
    def saved(call):
        call.state["voicemail"] = call.record_url
        return Hangup(msg="Thank you. Goodbye.")

    @ivr.on_dial_answered("reminder")
    def reminder(call):
        app.outbound.append(("answered", call.dest, call.state.get("who")))
        return Hangup("This is your reminder. Goodbye.")

    @ivr.on_dial_failed("reminder")
    def reminder_failed(call):
        app.outbound.append((call.dial_status, call.dest, call.state.get("who")))

    @ivr.on_hangup
    def ended(call):
        app.ended.append((call.session, call.duration, call.debit, dict(call.state)))

    app.ivr = ivr
    return app
