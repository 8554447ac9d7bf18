"""Fixtures for the simulator's TwiML numbers.

:class:`TwimlApp` is an app double: a Flask app that answers each path with the TwiML (or
status, or content type) the test gives it, and records every request as the app saw it.
:class:`TwimlWorld` puts it together with a simulator on the virtual clock, in-process,
with a Twilio account and a TwiML number whose Voice URL is the app's ``/voice``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Union

import pytest
import requests
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from hoiivr.simulator import Simulator, Timing, VirtualClock, WSGIAdapter

SID = "AC" + "0" * 32
TOKEN = "twilio-auth-token"
NUMBER = "+6560000000"
CALLER = "+6591234567"
APP_URL = "http://app.test"
SIM_URL = "http://twilio.sim"
ANSWERS, BUSY, UNANSWERED, FAILED = "+6581000001", "+6581000002", "+6581000003", "+6581000004"
#: One word a second, no padding: a prompt of N words lasts N seconds.
SLOW = Timing(words_per_second=1.0, prompt_padding=0.0, audio_seconds=3.0, answer_after=4.0,
              unanswered_after=30.0, busy_after=2.0, failed_after=1.0)


@dataclass
class Hit:
    """One request as the app received it."""

    method: str
    path: str
    url: str
    query: MultiDict[str, str]
    form: MultiDict[str, str]
    headers: dict[str, str]
    cookies: dict[str, str]

    @property
    def params(self) -> MultiDict[str, str]:
        return self.query if self.method == "GET" else self.form

    def __getitem__(self, name: str) -> str:
        return self.params[name]

    def signed_by(self, token: str) -> bool:
        """Twilio's own validator accepts the request, signed with ``token``."""
        params = {} if self.method == "GET" else self.form
        return RequestValidator(token).validate(self.url, params,
                                                self.headers.get("X-Twilio-Signature", ""))


Answer = Union[str, tuple[Any, ...], Response, Callable[[Hit], Any]]


class TwimlApp:
    """Answers each path as told (TwiML as ``text/xml``), 404 otherwise; records hits."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.answers: dict[str, Answer] = {}
        self.flask = Flask("twiml_test_app")
        self.flask.add_url_rule("/<path:path>", "any", self._any, methods=["GET", "POST"])

    def _any(self, path: str) -> Any:
        hit = Hit(request.method, "/" + path, request.url, request.args.copy(),
                  request.form.copy(), dict(request.headers), dict(request.cookies))
        self.hits.append(hit)
        answer = self.answers.get(hit.path)
        if callable(answer):
            answer = answer(hit)
        if answer is None:
            return "not found", 404
        if isinstance(answer, str):
            return Response(answer, content_type="text/xml")
        return answer

    def on(self, path: str, answer: Answer) -> None:
        self.answers[path] = answer

    def at(self, path: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.path == path]


def twiml(*verbs: str) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(verbs) + "</Response>"


class TwimlWorld:
    """A simulator on the virtual clock with a TwiML number that requests the app."""

    def __init__(self, **options: Any) -> None:
        self.app = TwimlApp()
        self.app.on("/status", lambda hit: ("", 204))
        self.http = requests.Session()
        self.http.mount(APP_URL + "/", WSGIAdapter(self.app.flask))
        options.setdefault("clock", VirtualClock())
        options.setdefault("timing", SLOW)
        self.sim = Simulator(http=self.http, base_url=SIM_URL, **options)
        self.account = self.sim.add_twilio_account(SID, TOKEN)
        self.sim.add_twiml_number(NUMBER, APP_URL + "/voice",
                                  status_callback=APP_URL + "/status")
        for number, behaviour in ((ANSWERS, "answer"), (BUSY, "busy"),
                                  (UNANSWERED, "unanswered"), (FAILED, "failed")):
            self.sim.set_phone(number, behaviour, talk_seconds=20)
        self.rest = requests.Session()
        self.rest.mount(SIM_URL + "/", WSGIAdapter(self.sim.wsgi_app))

    def call(self, caller: str = CALLER, number: str = NUMBER) -> str:
        sid = self.sim.call(caller, number)
        self.sim.settle(sid)
        return sid

    def info(self, sid: str) -> dict[str, Any]:
        return self.sim.get_call(sid)

    def entries(self, sid: str, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.info(sid)["timeline"] if e["type"] == kind]

    def close(self) -> None:
        self.sim.close()
        self.http.close()
        self.rest.close()


@pytest.fixture
def world() -> Iterator[TwimlWorld]:
    w = TwimlWorld()
    yield w
    w.close()
