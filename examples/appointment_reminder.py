"""Appointment reminder: an outbound call asks the patient to confirm or reschedule by key.

Run it and call the reminder line yourself::

    hoiivr dev examples/appointment_reminder.py

or start the simulator and app with ``hoiivr dev --no-call examples/appointment_reminder.py``
and have the app place a call (``--data-urlencode`` keeps the ``+``, which a form reads as a
space)::

    curl --data-urlencode number=+6591234567 http://127.0.0.1:5000/remind
"""
from flask import Flask, request

from hoiivr import IVR, BlockError, Gather, Hangup

APPOINTMENT = "tomorrow at 10 a.m. with Doctor Lim"
SLOTS = {"1": "Monday at 9 a.m.", "2": "Tuesday at 2 p.m.", "3": "Friday at 11 a.m."}

app = Flask(__name__)
ivr = IVR(app)
outcomes: dict[str, str] = {}


@app.post("/remind")
def remind():
    """Place a reminder call to the number given in the form field ``number``."""
    number = request.form.get("number", "")
    try:
        reply = ivr.dial(number, name="reminder", state={"patient": number})
    except BlockError as exc:                # not a number to dial: the message says why
        return {"error": str(exc)}, 400
    return {"session": reply.session}


def confirm_prompt(intro: str = "") -> Gather:
    return Gather(f"{intro} You have an appointment {APPOINTMENT}. Press 1 to confirm, or 2 "
                  "to reschedule.".strip(), max_digits=1, timeout=10, attempts=3,
                  name="confirm")


@ivr.on_dial_answered("reminder")
def reminder_answered(call):
    return confirm_prompt("Hello, this is City Clinic.")


@ivr.on_answer
def patient_calls_back(call):
    call.state["patient"] = call.from_number
    return confirm_prompt("Welcome to City Clinic.")


@ivr.on_gather("confirm")
def confirm(call):
    if call.digits == "1":
        outcomes[call.state["patient"]] = "confirmed"
        return Hangup("Thank you, your appointment is confirmed. Goodbye.")
    if call.digits == "2":
        slots = " ".join(f"Press {key} for {slot}" for key, slot in SLOTS.items())
        return Gather(f"{slots}.", max_digits=1, timeout=10, attempts=3, name="reschedule")
    if not call.digits:
        outcomes[call.state["patient"]] = "no answer"
        return Hangup("We will call you again later. Goodbye.")
    return confirm_prompt("Sorry, that is not an option.")


@ivr.on_gather("reschedule")
def reschedule(call):
    slot = SLOTS.get(call.digits or "")
    if slot is None:
        outcomes[call.state["patient"]] = "no answer"
        return Hangup("We will call you to find another time. Goodbye.")
    outcomes[call.state["patient"]] = f"moved to {slot}"
    return Hangup(f"Your appointment is moved to {slot} Goodbye.")


@ivr.on_dial_failed("reminder")
def unreachable(call):
    outcomes[call.state["patient"]] = f"unreachable ({call.dial_status})"
