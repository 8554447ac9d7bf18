"""An app written for Twilio, with nothing of hoiivr: Flask, the ``twilio`` package's
``VoiceResponse`` and ``RequestValidator``, and Flask's cookie session to remember the
caller across webhooks. It is what a Twilio user brings to the simulator.

- ``/voice``: a menu (1 sales, 2 message, 3 news); no key: the menu again (Redirect).
- ``/menu``: 1 dials sales with an action (``*`` ends the talk); 2 records a message; 3 redirects to the news.
- ``/dialled``: the dial's outcome: goodbye, or back to the menu when sales did not answer.
- ``/recorded``: keeps the message under the caller the session remembers.
- ``/reminder``: an outbound call's TwiML (placed with the REST Client): confirm with 1.
- ``/status``: every status callback, kept.
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import Flask, Response, abort, request, session
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

SALES = "+6522222222"


def create_app(auth_token: str) -> Flask:
    app = Flask("thirdparty_twilio_app")
    app.secret_key = "a-secret-of-the-app"
    app.messages = []           # type: ignore[attr-defined]
    app.statuses = []           # type: ignore[attr-defined]
    app.confirmed = []          # type: ignore[attr-defined]
    validator = RequestValidator(auth_token)

    def twilio_only(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            params = request.form if request.method == "POST" else {}
            if not validator.validate(request.url, params,
                                      request.headers.get("X-Twilio-Signature", "")):
                abort(403)
            return view(*args, **kwargs)
        return checked

    def twiml(response: VoiceResponse) -> Response:
        return Response(str(response), mimetype="text/xml")

    @app.post("/voice")
    @twilio_only
    def voice() -> Response:
        session.setdefault("caller", request.form["From"])
        session["menus"] = session.get("menus", 0) + 1
        response = VoiceResponse()
        gather = Gather(num_digits=1, action="/menu", timeout=5)
        gather.say("Press 1 for sales, 2 to leave a message, 3 for the news.")
        response.append(gather)
        response.redirect("/voice")
        return twiml(response)

    @app.post("/menu")
    @twilio_only
    def menu() -> Response:
        response = VoiceResponse()
        digit = request.form.get("Digits")
        if digit == "1":
            response.say("Connecting you to sales.")
            response.dial(SALES, action="/dialled", timeout=10, hangup_on_star=True)
        elif digit == "2":
            response.say("Leave your message after the tone, then press hash.")
            response.record(action="/recorded", finish_on_key="#", max_length=60, timeout=0)
        elif digit == "3":
            response.redirect("news")               # relative to /menu
        else:
            response.say("That is not an option.")
            response.redirect("/voice")
        return twiml(response)

    @app.post("/dialled")
    @twilio_only
    def dialled() -> Response:
        response = VoiceResponse()
        if request.form["DialCallStatus"] == "completed":
            response.say("Thank you for calling. Goodbye.")
            response.hangup()
        else:
            response.say(f"Sales did not answer ({request.form['DialCallStatus']}).")
            response.redirect("/voice")
        return twiml(response)

    @app.post("/recorded")
    @twilio_only
    def recorded() -> Response:
        app.messages.append({"caller": session["caller"], "menus": session["menus"],  # type: ignore[attr-defined]
                             "url": request.form["RecordingUrl"],
                             "seconds": request.form["RecordingDuration"]})
        response = VoiceResponse()
        response.say(f"Thank you {session['caller']}. Goodbye.")
        response.hangup()
        return twiml(response)

    @app.post("/news")
    @twilio_only
    def news() -> Response:
        response = VoiceResponse()
        response.say(f"No news today. You have been through the menu {session['menus']} "
                     "times.")
        response.hangup()
        return twiml(response)

    @app.post("/reminder")
    @twilio_only
    def reminder() -> Response:
        response = VoiceResponse()
        if request.form.get("Digits") == "1":
            app.confirmed.append(request.form["To"])  # type: ignore[attr-defined]
            response.say("Confirmed. Goodbye.")
            return twiml(response)
        gather = Gather(num_digits=1, timeout=5)     # no action: this document again
        gather.say("Your appointment is tomorrow. Press 1 to confirm.")
        response.append(gather)
        return twiml(response)

    @app.post("/status")
    @twilio_only
    def status() -> Response:
        app.statuses.append(dict(request.form))   # type: ignore[attr-defined]
        return Response("", 204)

    return app
