"""The two Twilio apps ``benchmarks/twilio.py`` serves, and how to serve one in its own
process.

Both do the same fixed flow on a TwiML number, one webhook per step::

    Voice URL -> <Gather numDigits=1><Say>PIN</Say></Gather> -> action
              -> <Say>Thank you.</Say><Redirect> -> redirect -> <Gather> ... (ROUNDS times)
              -> <Say>Goodbye.</Say><Hangup/> -> status callback (completed)

- :func:`create_hoiivr_app`: a hoiivr app with ``HOIIVR_CARRIER=twilio`` (handlers return
  blocks; ``call.state`` counts the rounds; the store is ``HOIIVR_STORE``). A ``Play``
  returned last in a turn is what becomes ``<Say>`` then ``<Redirect>`` to its notify URL,
  where ``on_play`` runs.
- :func:`create_baseline_app`: the same flow hand-written with Flask and the ``twilio``
  package as Twilio's own docs teach it: ``VoiceResponse`` builds the TwiML, a decorator
  checks ``X-Twilio-Signature`` with ``RequestValidator`` on every route (the docs tell
  every app to; hoiivr checks it too, so an app without the check would not be the same
  work), the state is a dict keyed by ``CallSid``, the status callback its own route.

Both read ``TWILIO_AUTH_TOKEN`` (default :data:`TOKEN`) and ``BENCH_ROUNDS`` from the
environment, so gunicorn loads either with ``twilio_apps:create_hoiivr_app()``;
:class:`TwimlAppProcess` serves one as ``apps.AppProcess`` serves the Hoiio apps.
"""
from __future__ import annotations

import os
import subprocess
import sys
from functools import wraps
from typing import Any, Callable

from flask import Flask, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from apps import (CONFIRM, GOODBYE, HERE, PIN_PROMPT, SECRET, AppProcess, _no_control_socket,
                  listening_socket, rounds)
from hoiivr import IVR, Gather, Hangup, Play

SID = "AC" + "b3" * 16
TOKEN = "bench-auth-token"
#: What hoiivr writes for these blocks, which the hand-written app writes too: both send
#: the same documents but for the URLs.
GATHER_TIMEOUT = 10
VOICE = "woman"


def auth_token() -> str:
    return os.environ.get("TWILIO_AUTH_TOKEN", TOKEN)


def create_hoiivr_app() -> Flask:
    app = Flask("bench_hoiivr_twilio")
    app.config.update(HOIIVR_CARRIER="twilio", TWILIO_ACCOUNT_SID=SID,
                      TWILIO_AUTH_TOKEN=auth_token(), SECRET_KEY=SECRET)
    ivr = IVR(app)
    total = rounds()

    @ivr.on_answer
    def answer(call: Any) -> Gather:
        call.state["round"] = 1
        return Gather(PIN_PROMPT, max_digits=1, timeout=GATHER_TIMEOUT, name="pin")

    @ivr.on_gather("pin")
    def pin(call: Any) -> Play:
        return Play(CONFIRM, name="confirm")

    @ivr.on_play("confirm")
    def confirmed(call: Any) -> Gather | Hangup:
        if call.state["round"] >= total:
            return Hangup(GOODBYE)
        call.state["round"] += 1
        return Gather(PIN_PROMPT, max_digits=1, timeout=GATHER_TIMEOUT, name="pin")

    return app


def validate_twilio_request(token: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Twilio's decorator for Flask (twilio.com/docs/usage/tutorials/how-to-secure-your-
    flask-app-by-validating-incoming-twilio-requests), the token passed in."""
    def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(f)
        def decorated_function(*args: Any, **kwargs: Any) -> Any:
            validator = RequestValidator(token)
            request_valid = validator.validate(request.url, request.form,
                                               request.headers.get("X-Twilio-Signature", ""))
            if request_valid:
                return f(*args, **kwargs)
            return abort(403)
        return decorated_function
    return decorator


def create_baseline_app() -> Flask:
    app = Flask("bench_twilio_baseline")
    validated = validate_twilio_request(auth_token())
    calls: dict[str, int] = {}
    total = rounds()

    def ask_pin() -> str:
        response = VoiceResponse()
        gather = response.gather(action="/gather", method="POST", num_digits=1,
                                 timeout=GATHER_TIMEOUT, finish_on_key="#",
                                 action_on_empty_result=True)
        gather.say(PIN_PROMPT, voice=VOICE)
        return str(response)

    @app.post("/voice")
    @validated
    def voice() -> str:
        calls[request.form["CallSid"]] = 1
        return ask_pin()

    @app.post("/gather")
    @validated
    def gathered() -> str:
        response = VoiceResponse()
        if request.form.get("Digits"):
            response.say(CONFIRM, voice=VOICE)
            response.redirect("/confirmed", method="POST")
        else:
            response.hangup()
        return str(response)

    @app.post("/confirmed")
    @validated
    def confirmed() -> str:
        sid = request.form["CallSid"]
        if calls.get(sid, total) >= total:
            response = VoiceResponse()
            response.say(GOODBYE, voice=VOICE)
            response.hangup()
            return str(response)
        calls[sid] += 1
        return ask_pin()

    @app.post("/status")
    @validated
    def status() -> tuple[str, int]:
        calls.pop(request.form["CallSid"], None)
        return "", 204

    return app


class TwimlAppProcess(AppProcess):
    """:class:`apps.AppProcess` for a factory of this module (the base class names
    ``apps``'s): one app under gunicorn on a loopback port of its own."""

    def __init__(self, factory: str, env: dict[str, str], workers: int = 1,
                 threads: int = 8) -> None:
        self.sock = listening_socket()
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        fd = self.sock.fileno()
        cmd = [sys.executable, "-m", "gunicorn", f"{__name__}:{factory}()",
               "--bind", f"fd://{fd}", "--workers", str(workers), "--threads", str(threads),
               "--worker-class", "gthread" if threads > 1 else "sync",
               "--pythonpath", str(HERE), "--config", str(HERE / "gunicorn.conf.py"),
               "--log-level", "warning", "--timeout", "60", "--graceful-timeout", "5",
               *_no_control_socket()]
        full_env = {**os.environ, "HOIIVR_PUBLIC_URL": self.url, **env}
        self.proc = subprocess.Popen(cmd, env=full_env, pass_fds=(fd,), cwd=HERE)
        self.workers = workers
