"""Twilio's Calls resource, ``/2010-04-01/Accounts/{AccountSid}/Calls.json`` (TWIML.md §6),
and the IncomingPhoneNumbers resource's list and update (where a number's calls go),
enough for the ``twilio`` package's ``Client`` to place, read, redirect and end calls.

=====================================================  ===================================
``POST .../Calls.json``                                place a call: 201, ``queued``
``GET .../Calls/{CallSid}.json``                       the call
``POST .../Calls/{CallSid}.json``                      ``Url``/``Twiml`` (redirect it),
                                                       ``Status=canceled|completed``,
                                                       ``TimeLimit``...
``GET .../Recordings/{RecordingSid}[.wav]``            a recording's audio (no credentials)
``GET .../IncomingPhoneNumbers.json[?PhoneNumber=]``   the account's numbers
``POST .../IncomingPhoneNumbers/{PN...}.json``         ``VoiceUrl``, ``VoiceMethod``,
                                                       ``StatusCallback[Method]``
=====================================================  ===================================

HTTP Basic ``AccountSid:AuthToken``, form bodies, JSON replies; errors are Twilio's JSON
(``code``, ``message``, ``more_info``, ``status``): 401/20003 for bad credentials, 404/20404
for an unknown call, 400 with 21201 (no To), 21213 (no From), 21211 (To not a number),
21210 (From not the account's), 21205 (bad Url), 21200 (anything else wrong with the
request, and ``ApplicationSid`` or ``MachineDetection``, which the simulator does not run),
21220 (redirecting a call that has ended); 429/20429 past the account's concurrent
requests. Every request about a call is a ``request`` entry in its timeline.
"""
from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import MultiDict

from ...protocol import is_e164, is_http_url
from ..accounts import TwilioAccount, TwimlNumber
from ..calls import Session
from ..media import Recording
from .state import Hook, TwimlCall
from .webhooks import API_VERSION

if TYPE_CHECKING:
    from ..core import SimulatorCore

EVENTS = ("initiated", "ringing", "answered", "completed")
TWIML_MAX = 4000
MAX_BODY = 64 * 1024
_CLIENT = re.compile(r"client:[A-Za-z0-9_.-]{1,256}")
_DIGITS = re.compile(r"[0-9*#wW]{1,32}")


class ApiError(Exception):
    """A Twilio error reply."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def reply(self) -> Response:
        response = jsonify(code=self.code, message=self.message, status=self.status,
                           more_info=f"https://www.twilio.com/docs/errors/{self.code}")
        response.status_code = self.status
        if self.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return response


def _bad(code: int, message: str) -> ApiError:
    return ApiError(400, code, message)


class CallsApi:
    """Serves the Calls resource of ``sim``'s Twilio accounts."""

    def __init__(self, sim: SimulatorCore) -> None:
        self.sim = sim
        self.engine = sim.engine
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    # -- the gate: credentials, then the account's concurrent requests -----------------

    def account(self, sid: str) -> TwilioAccount:
        auth = request.authorization
        with self.engine.lock:
            account = self.sim.directory.twilio_account(sid)
        given = (auth.username or "", auth.password or "") if auth else ("", "")
        if account is None or not (
                hmac.compare_digest(given[0].encode(), account.sid.encode())
                and hmac.compare_digest(given[1].encode(), account.auth_token.encode())):
            raise ApiError(401, 20003, "Authenticate: give the AccountSid and its auth token "
                                       "(HTTP Basic) of an account of this simulator")
        return account

    @contextmanager
    def serving(self, account: TwilioAccount) -> Iterator[None]:
        with self._lock:
            busy = self._in_flight.get(account.sid, 0)
            if busy >= account.rest_concurrency:
                raise ApiError(429, 20429, f"Too Many Requests: the account allows "
                                           f"{account.rest_concurrency} at once")
            self._in_flight[account.sid] = busy + 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[account.sid] -= 1

    @staticmethod
    def form() -> MultiDict[str, str]:
        if (request.content_length or 0) > MAX_BODY:
            raise ApiError(413, 21200, f"the request is over {MAX_BODY // 1024} KiB")
        return request.form

    # -- the resource ---------------------------------------------------------------------

    def create(self, account: TwilioAccount) -> tuple[dict[str, Any], int]:
        form = self.form()
        t = self.new_call(account, form)
        with self.engine._mutating():
            s = self.sim.twiml.place(account, t)
            reply = call_json(self.sim, s)
            s.log(self.engine.clock.now(), "request", endpoint="Calls", method="POST",
                  params=form.to_dict(), reply={"status": 201, "sid": s.id})
        return reply, 201

    def new_call(self, account: TwilioAccount, form: MultiDict[str, str]) -> TwimlCall:
        to, from_ = form.get("To", ""), form.get("From", "")
        if not to:
            raise _bad(21201, "No 'To' number is specified")
        if not from_:
            raise _bad(21213, "No 'From' number is specified")
        if not (is_e164(to) or _CLIENT.fullmatch(to)):
            raise _bad(21211, f"The 'To' number {to} is not a valid phone number.")
        with self.engine.lock:
            owned = {n.number for n in self.sim.directory.twiml_numbers_of(account)}
        if from_ not in owned and not _CLIENT.fullmatch(from_):
            raise _bad(21210, f"The source phone number provided, {from_}, is not yet "
                              "verified for your account: use one of its numbers")
        for name in ("ApplicationSid", "MachineDetection"):
            if form.get(name):
                raise _bad(21200, f"{name} is not simulated; give Url or Twiml instead")
        hook, twiml = self._instructions(form)
        if hook is None and twiml is None:
            raise _bad(21200, "Either Url or Twiml is required")
        return TwimlCall(account.sid, "outbound-api", from_, to, "queued",
                         fallback=_hook(form, "FallbackUrl", "FallbackMethod"),
                         status_callback=_hook(form, "StatusCallback", "StatusCallbackMethod"),
                         events=_events(form), answer_hook=hook, answer_twiml=twiml,
                         timeout=min(_number(form, "Timeout", 60, 1, 10 ** 6), 600),
                         time_limit=_number(form, "TimeLimit", 14400, 1, 86400),
                         record=_flag(form, "Record"))

    def _instructions(self, form: MultiDict[str, str]) -> tuple[Hook | None, str | None]:
        twiml = form.get("Twiml") or None
        url = form.get("Url") or None
        if url is not None:
            if not is_http_url(url):
                raise _bad(21205, f"Url is not a valid URL: {url}")
            return Hook(url, _method(form, "Method")), None
        if twiml is not None and len(twiml) > TWIML_MAX:
            raise _bad(21200, f"Twiml is over {TWIML_MAX} characters")
        return None, twiml

    def find(self, account: TwilioAccount, call_sid: str) -> Session:
        s = self.engine.sessions.get(call_sid)
        if s is None or s.twiml is None or s.twiml.account_sid != account.sid:
            raise ApiError(404, 20404, f"The requested resource /2010-04-01/Accounts/"
                                       f"{account.sid}/Calls/{call_sid}.json was not found")
        return s

    def fetch(self, account: TwilioAccount, call_sid: str) -> dict[str, Any]:
        with self.engine.lock:
            return call_json(self.sim, self.find(account, call_sid))

    def update(self, account: TwilioAccount, call_sid: str) -> dict[str, Any]:
        form = self.form()
        with self.engine._mutating():
            s = self.find(account, call_sid)
            s.log(self.engine.clock.now(), "request", endpoint="Calls", method="POST",
                  params=form.to_dict())
            self._update(s, form)
            return call_json(self.sim, s)

    def _update(self, s: Session, form: MultiDict[str, str]) -> None:
        t, front = s.twiml, self.sim.twiml
        assert t is not None
        status = form.get("Status")
        if status is not None and status not in ("canceled", "completed"):
            raise _bad(21200, f"Status={status!r}: give canceled or completed")
        hook, twiml = self._instructions(form)
        if (hook or twiml) and s.ended:
            raise _bad(21220, "Call is not in-progress. Cannot redirect.")
        fallback = _hook(form, "FallbackUrl", "FallbackMethod")
        status_callback = _hook(form, "StatusCallback", "StatusCallbackMethod")
        limit = _number(form, "TimeLimit", 0, 1, 86400)
        # Checked, every parameter, before any is applied: a refused update changes nothing.
        t.fallback = fallback or t.fallback
        t.status_callback = status_callback or t.status_callback
        if limit and not s.ended:
            t.time_limit = limit
            front.limit_time(s)
        if status is not None and not s.ended:
            front.hang_up(s, status)
        elif hook or twiml:
            front.redirect(s, hook, twiml)

    def recording(self, sid: str, name: str) -> Response:
        rec_id = name[:-len(".wav")] if name.endswith(".wav") else name
        rec = self.sim.recordings.find_id(rec_id)
        with self.engine.lock:
            owner = self.engine.sessions.get(rec.session) if rec is not None else None
        if rec is None or owner is None or owner.account.app_id != sid or (
                name != rec_id and rec.upload is not None and rec.filename != name):
            raise ApiError(404, 20404, f"The requested resource /2010-04-01/Accounts/{sid}/"
                                       f"Recordings/{name} was not found (recordings are "
                                       "served as WAV: the URL, or the URL + '.wav')")
        return _audio(self.sim, rec)


def _audio(sim: SimulatorCore, rec: Recording) -> Response:
    return Response(sim.recordings.content(rec), mimetype=rec.content_type,
                    headers={"Content-Disposition": f'inline; filename="{rec.filename}"',
                             "X-Content-Type-Options": "nosniff",
                             "Content-Security-Policy": "sandbox"})


def _method(form: MultiDict[str, str], name: str) -> str:
    method = (form.get(name) or "POST").upper()
    if method not in ("GET", "POST"):
        raise _bad(21200, f"{name}={form.get(name)!r}: give GET or POST")
    return method


def _hook(form: MultiDict[str, str], url_name: str, method_name: str) -> Hook | None:
    url = form.get(url_name) or None
    if url is None:
        return None
    if not is_http_url(url):
        raise _bad(21200, f"{url_name} is not a valid URL: {url}")
    return Hook(url, _method(form, method_name))


def _events(form: MultiDict[str, str]) -> frozenset[str]:
    words = [w for value in form.getlist("StatusCallbackEvent") for w in value.split()]
    unknown = [w for w in words if w not in EVENTS]
    if unknown:
        raise _bad(21200, f"StatusCallbackEvent {unknown[0]!r}: give some of "
                          f"{', '.join(EVENTS)}")
    return frozenset(words or ["completed"]) | {"completed"}


def _number(form: MultiDict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = form.get(name)
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise _bad(21200, f"{name}={text!r}: give a whole number of seconds from {low}")
    return int(text)


def _flag(form: MultiDict[str, str], name: str) -> bool:
    value = (form.get(name) or "false").lower()
    if value not in ("true", "false"):
        raise _bad(21200, f"{name}={form.get(name)!r}: give true or false")
    return value == "true"


def call_json(sim: SimulatorCore, s: Session) -> dict[str, Any]:
    """The call as Twilio's Call resource shows it (fields hoiivr has no value for are
    null)."""
    t = s.twiml
    assert t is not None
    wall = sim.twiml.rfc2822
    started = next((e["at"] for e in s.timeline if e["type"] == "initiated"), None)
    start = s.started if t.direction == "inbound" else (
        s.started + started if started is not None else None)
    duration = None
    if s.ended_at is not None:
        duration = str(round(s.ended_at - s.answered_at) if s.answered_at is not None else 0)
    uri = f"/2010-04-01/Accounts/{t.account_sid}/Calls/{s.id}"
    return {
        "sid": s.id, "account_sid": t.account_sid, "parent_call_sid": None,
        "to": t.to, "to_formatted": t.to, "from": t.from_, "from_formatted": t.from_,
        "status": t.status,
        "direction": t.direction, "api_version": API_VERSION,
        "date_created": wall(s.started), "date_updated": wall(),
        "start_time": wall(start) if start is not None else None,
        "end_time": wall(s.ended_at) if s.ended_at is not None else None,
        "duration": duration, "price": None, "price_unit": s.account.currency,
        "answered_by": None, "caller_name": None, "forwarded_from": None, "group_sid": None,
        "phone_number_sid": None, "queue_time": "0", "trunk_sid": None,
        "annotation": None, "uri": uri + ".json",
        "subresource_uris": {"recordings": uri + "/Recordings.json"},
    }


# -- IncomingPhoneNumbers: where a number's calls go (hoiivr run --number) ----------------


def numbers_page(sim: SimulatorCore, account: TwilioAccount,
                 phone_number: str | None) -> dict[str, Any]:
    """The account's numbers (the one ``phone_number``, if given), as one page."""
    with sim.engine.lock:
        found = [n for n in sim.directory.twiml_numbers_of(account)
                 if phone_number is None or n.number == phone_number]
        entries = [number_json(n) for n in found]
    uri = f"/{API_VERSION}/Accounts/{account.sid}/IncomingPhoneNumbers.json"
    return {"incoming_phone_numbers": entries, "uri": uri, "page": 0, "page_size": 50,
            "first_page_uri": uri, "next_page_uri": None, "previous_page_uri": None}


def update_number(sim: SimulatorCore, account: TwilioAccount, number_sid: str,
                  form: MultiDict[str, str]) -> dict[str, Any]:
    """Point a number's calls (``VoiceUrl``, ``VoiceMethod``) and their end
    (``StatusCallback``, ``StatusCallbackMethod``) elsewhere."""
    with sim.engine.lock:
        entry = next((n for n in sim.directory.twiml_numbers_of(account)
                      if n.sid == number_sid), None)
        if entry is None:
            raise ApiError(404, 20404, f"The requested resource /{API_VERSION}/Accounts/"
                                       f"{account.sid}/IncomingPhoneNumbers/{number_sid}.json "
                                       "was not found")
        for name, attr in (("VoiceUrl", "voice_url"), ("StatusCallback", "status_callback")):
            if name in form:
                url = form[name] or None
                if url is not None and not is_http_url(url):
                    raise _bad(21502, f"{name} {url!r} is not a valid URL")
                setattr(entry, attr, url)
        for name, attr in (("VoiceMethod", "voice_method"),
                           ("StatusCallbackMethod", "status_callback_method")):
            if name in form:
                setattr(entry, attr, _method(form, name))
        return number_json(entry)


def number_json(n: TwimlNumber) -> dict[str, Any]:
    return {"sid": n.sid, "account_sid": n.account_sid, "phone_number": n.number,
            "friendly_name": n.number, "voice_url": n.voice_url or "",
            "voice_method": n.voice_method, "status_callback": n.status_callback or "",
            "status_callback_method": n.status_callback_method,
            "api_version": API_VERSION,
            "uri": f"/{API_VERSION}/Accounts/{n.account_sid}/IncomingPhoneNumbers/{n.sid}.json"}


def blueprint(sim: SimulatorCore) -> Blueprint:
    """The Calls resource (and recordings) of ``sim``, under ``/2010-04-01``."""
    api = CallsApi(sim)
    bp = Blueprint("twilio", __name__, url_prefix=f"/{API_VERSION}/Accounts/<sid>")

    @bp.post("/Calls.json")
    def create(sid: str) -> Any:
        account = api.account(sid)
        with api.serving(account):
            return api.create(account)

    @bp.route("/Calls/<call_sid>.json", methods=["GET", "POST"])
    def call(sid: str, call_sid: str) -> Any:
        account = api.account(sid)
        with api.serving(account):
            if request.method == "GET":
                return api.fetch(account, call_sid)
            return api.update(account, call_sid)

    @bp.get("/Recordings/<name>")
    def recording(sid: str, name: str) -> Any:
        return api.recording(sid, name)

    @bp.get("/IncomingPhoneNumbers.json")
    def numbers(sid: str) -> Any:
        account = api.account(sid)
        with api.serving(account):
            return numbers_page(sim, account, request.args.get("PhoneNumber"))

    @bp.post("/IncomingPhoneNumbers/<number_sid>.json")
    def number(sid: str, number_sid: str) -> Any:
        account = api.account(sid)
        with api.serving(account):
            return update_number(sim, account, number_sid, api.form())

    @bp.errorhandler(ApiError)
    def refused(exc: ApiError) -> Response:
        return exc.reply()

    return bp
