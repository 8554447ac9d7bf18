"""The control API under ``/sim/``: the simulator's phones and settings, over HTTP.

What the Python API does, for tests and tools in any language. Bodies may be JSON or form
data (``speak`` also takes a multipart ``audio`` file); errors are ``{"error": "..."}``
with a 4xx status and a message that says how to fix the request.

=====================================  ==================================================
``POST /sim/accounts``                 app_id, access_token [, balance, currency, rate];
                                       or kind=twilio [, account_sid, auth_token,
                                       shared_key (ID=SECRET), cps, rest_concurrency,
                                       balance, currency, rate]
``POST /sim/numbers``                  number, forward_to [, app_id]; or kind=twiml, url
                                       [, method, account_sid, fallback_url,
                                       fallback_method, status_callback,
                                       status_callback_method]
``PUT /sim/phones/<number>``           behaviour (answer/busy/unanswered/failed/manual)
                                       [, talk_seconds]
``POST /sim/calls``                    from, to -> ``{"session": ...}``
``GET /sim/calls``                     every call, in short
``GET /sim/calls/<session>``           the call: state, prompts, timeline, billing...
``GET /sim/calls/<session>/trace``     the call as a trace (JSON lines, for ``hoiivr
                                       replay``; the caller masked unless ``unmask=1``)
``POST /sim/calls/<session>/press``    digits
``POST /sim/calls/<session>/speak``    text (the caller's words), or seconds, or a
                                       multipart file ``audio`` (recognized offline
                                       by a Gather listening for speech)
``POST /sim/calls/<session>/hangup``   the caller hangs up
``POST /sim/calls/<session>/answer``   the manual phone ringing on the call answers
``POST /sim/calls/<session>/reject``   ... or rejects it (the app hears busy)
``POST /sim/advance``                  seconds (virtual clock only)
``POST /sim/settle``                   [session, limit]
``PUT /sim/faults``                    faults for every call (see :mod:`.faults`), e.g.
                                       ``{"duplicate": 0.1, "rest_latency": 0.15}``
``GET``/``DELETE /sim/faults``         the global faults / clear every fault
``PUT /sim/calls/<session>/faults``    one call's faults, over the global ones
``GET``/``DELETE ...<session>/faults`` the call's faults in force / clear its own
``GET /sim/recordings/<file>``         a recording
``GET``/``DELETE /sim/stats``          each account's peak of calls in progress and its
                                       calls refused over a limit / start them again
=====================================  ==================================================
"""
from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify, request

from .errors import SimulatorError
from .trace import trace_of

if TYPE_CHECKING:
    from .core import SimulatorCore

log = logging.getLogger("hoiivr.simulator")

ROUTES = (
    "POST /sim/accounts", "GET /sim/accounts", "POST /sim/numbers", "GET /sim/numbers",
    "PUT /sim/phones/<number>", "GET /sim/phones", "POST /sim/calls", "GET /sim/calls",
    "GET /sim/calls/<session>", "GET /sim/calls/<session>/trace",
    "POST /sim/calls/<session>/press",
    "POST /sim/calls/<session>/speak", "POST /sim/calls/<session>/hangup",
    "POST /sim/calls/<session>/answer", "POST /sim/calls/<session>/reject",
    "POST /sim/advance", "POST /sim/settle", "GET /sim/recordings/<file>",
    "PUT /sim/faults", "GET /sim/faults", "DELETE /sim/faults",
    "PUT /sim/calls/<session>/faults", "GET /sim/calls/<session>/faults",
    "DELETE /sim/calls/<session>/faults", "GET /sim/stats", "DELETE /sim/stats",
)


def data() -> dict[str, Any]:
    """The request's fields: query string, then a JSON object or form fields."""
    fields: dict[str, Any] = request.args.to_dict()
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise SimulatorError("the JSON body must be an object, e.g. {\"digits\": \"1\"}")
        fields.update(body)
    else:
        fields.update(request.form.to_dict())
    return fields


def required(fields: dict[str, Any], name: str, example: str) -> str:
    value = fields.get(name)
    if value is None or value == "":
        raise SimulatorError(f"{name!r} is missing; send it as JSON or form data, "
                             f"e.g. {example}")
    if not isinstance(value, str):
        raise SimulatorError(f"{name!r} must be text, e.g. {example}")
    return value


def number(fields: dict[str, Any], name: str, default: float | None = None) -> float:
    value = fields.get(name, default)
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        result = math.nan
    if not math.isfinite(result):
        raise SimulatorError(f"{name}={value!r} must be a number of seconds, e.g. 2.5")
    return result


def blueprint(sim: SimulatorCore) -> Blueprint:
    """The ``/sim`` routes for ``sim``."""
    bp = Blueprint("sim", __name__, url_prefix="/sim")

    @bp.get("")
    def index() -> Any:
        return {"clock": "virtual" if sim.clock.virtual else "real",
                "now": round(sim.clock.now(), 3), "api": f"{sim.base_url}/open/",
                "twilio_api": sim.base_url, "routes": list(ROUTES)}

    @bp.post("/accounts")
    def add_account() -> Any:
        f = data()
        if _kind(f, ("hoiio", "twilio")) == "twilio":
            return _twilio_account(sim, f), 201
        account = sim.add_account(required(f, "app_id", '{"app_id": "APP"}'),
                                  required(f, "access_token", '{"access_token": "TOKEN"}'),
                                  f.get("balance", "100.000"), f.get("currency", "SGD"),
                                  f.get("rate", "0.020"), f.get("registered_number") or None)
        return account.to_json(), 201

    @bp.get("/accounts")
    def accounts() -> Any:
        with sim.engine.lock:
            return {"accounts": [a.to_json() for a in sim.directory.accounts.values()]
                    + [a.to_json() for a in sim.directory.twilio_accounts.values()]}

    @bp.post("/numbers")
    def add_number() -> Any:
        f = data()
        if _kind(f, ("hoiio", "twiml")) == "twiml":
            return _twiml_number(sim, f), 201
        entry = sim.add_number(required(f, "number", '{"number": "+6560000000"}'),
                               f.get("forward_to") or None, f.get("app_id") or None)
        return entry.to_json(), 201

    @bp.get("/numbers")
    def numbers() -> Any:
        with sim.engine.lock:
            return {"numbers": [n.to_json() for n in sim.directory.numbers.values()]
                    + [n.to_json() for n in sim.directory.twiml_numbers.values()]}

    @bp.route("/phones/<path:phone>", methods=["PUT", "POST"])
    def set_phone(phone: str) -> Any:
        f = data()
        behaviour = required(f, "behaviour", '{"behaviour": "busy"}')
        result = sim.set_phone(phone, behaviour, number(f, "talk_seconds", 30.0))
        return {"number": phone, **result.to_json()}

    @bp.get("/phones")
    def phones() -> Any:
        with sim.engine.lock:
            return {"phones": {n: p.to_json() for n, p in sim.directory.phones.items()}}

    @bp.post("/calls")
    def call() -> Any:
        f = data()
        session = sim.call(required(f, "from", '{"from": "+6591234567", "to": "+6560000000"}'),
                           required(f, "to", '{"from": "+6591234567", "to": "+6560000000"}'))
        return {"session": session}, 201

    @bp.get("/calls")
    def list_calls() -> Any:
        return {"calls": sim.calls()}

    @bp.get("/calls/<session>")
    def get_call(session: str) -> Any:
        return sim.get_call(session)

    @bp.get("/calls/<session>/trace")
    def trace(session: str) -> Any:
        # The simulator cannot read the app's notify URLs: the trace has no step names.
        made = trace_of(sim.get_call(session), recorded_by="simulator",
                        mask=request.args.get("unmask") not in ("1", "true", "yes"))
        return Response("\n".join(made.lines()) + "\n", mimetype="application/jsonl",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{session}.jsonl"'})

    @bp.post("/calls/<session>/press")
    def press(session: str) -> Any:
        sim.press(session, required(data(), "digits", '{"digits": "1#"}'))
        return _summary(sim, session)

    @bp.post("/calls/<session>/speak")
    def speak(session: str) -> Any:
        f = data()
        audio = request.files.get("audio")
        if f.get("text") is not None:
            if audio is not None:
                raise SimulatorError("send the caller's words as text or as audio, not both")
            sim.say(session, required(f, "text", '{"text": "sales"}'))
        elif audio is not None:
            # "application/octet-stream" says nothing (curl -F sends it): the name tells.
            given = audio.mimetype if audio.mimetype != "application/octet-stream" else None
            sim.speak(session, number(f, "seconds", 5.0), audio.read(), audio.filename,
                      given or None)
        else:
            sim.speak(session, number(f, "seconds", 5.0))
        return _summary(sim, session)

    @bp.post("/calls/<session>/hangup")
    def hangup(session: str) -> Any:
        sim.hangup(session)
        return _summary(sim, session)

    @bp.post("/calls/<session>/answer")
    def answer(session: str) -> Any:
        sim.answer(session)
        return _summary(sim, session)

    @bp.post("/calls/<session>/reject")
    def reject(session: str) -> Any:
        sim.reject(session)
        return _summary(sim, session)

    @bp.post("/advance")
    def advance() -> Any:
        sim.advance(number(data(), "seconds"))
        return {"now": round(sim.clock.now(), 3)}

    @bp.post("/settle")
    def settle() -> Any:
        f = data()
        sim.settle(f.get("session") or None, number(f, "limit", 3600.0))
        return {"now": round(sim.clock.now(), 3)}

    @bp.get("/recordings/<name>")
    def recording(name: str) -> Any:
        rec = sim.recording(name)
        if rec is None:
            raise SimulatorError(f"there is no recording {name!r}; its URL is the record_url "
                                 "of a notification", 404)
        # Only ever audio (uploads are checked), never sniffed, and sandboxed should a
        # browser open it as a document all the same.
        return Response(sim.recordings.content(rec), mimetype=rec.content_type,
                        headers={"Content-Disposition": f'inline; filename="{rec.filename}"',
                                 "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "sandbox"})

    @bp.route("/faults", methods=["GET", "PUT", "POST", "DELETE"])
    @bp.route("/calls/<session>/faults", methods=["GET", "PUT", "POST", "DELETE"])
    def faults(session: str | None = None) -> Any:
        if request.method == "DELETE":
            sim.clear_faults(session)
        elif request.method != "GET":
            fields = data()
            if "session" in fields:
                raise SimulatorError("'session' is not a fault; set one call's faults with "
                                     "PUT /sim/calls/<session>/faults")
            return sim.set_faults(session, **fields)
        return sim.faults(session)

    @bp.route("/stats", methods=["GET", "DELETE"])
    def stats() -> Any:
        if request.method == "DELETE":
            sim.reset_stats()
        return sim.stats()

    @bp.errorhandler(SimulatorError)
    def refused(exc: SimulatorError) -> Any:
        log.info("%s %s refused: %s", request.method, request.path, exc)
        return jsonify(error=str(exc)), exc.http_status

    return bp


def _kind(fields: dict[str, Any], kinds: tuple[str, str]) -> str:
    kind = fields.get("kind") or kinds[0]
    if kind not in kinds:
        raise SimulatorError(f"kind={kind!r} must be {kinds[0]} (the default) or {kinds[1]}")
    return str(kind)


def _twilio_account(sim: SimulatorCore, f: dict[str, Any]) -> dict[str, Any]:
    shared = f.get("shared_key") or None
    key: tuple[str, str] | None = None
    if shared is not None:
        key_id, sep, secret = str(shared).partition("=")
        if not sep:
            raise SimulatorError("shared_key must be ID=SECRET, e.g. KS1=my-secret")
        key = (key_id.strip(), secret.strip())
    concurrency = f.get("rest_concurrency", 100)
    if isinstance(concurrency, str) and concurrency.isascii() and concurrency.isdigit():
        concurrency = int(concurrency)
    account = sim.add_twilio_account(f.get("account_sid") or None, f.get("auth_token") or None,
                                     balance=f.get("balance", "100.000"),
                                     currency=f.get("currency", "USD"),
                                     rate=f.get("rate", "0.014"), shared_key=key,
                                     cps=f.get("cps", 1.0), rest_concurrency=concurrency)
    # The only time the token is shown: it may have been made up here.
    return {**account.to_json(), "auth_token": account.auth_token}


def _twiml_number(sim: SimulatorCore, f: dict[str, Any]) -> dict[str, Any]:
    entry = sim.add_twiml_number(
        required(f, "number", '{"number": "+6560000000"}'),
        required(f, "url", '{"kind": "twiml", "url": "http://127.0.0.1:5000/voice"}'),
        f.get("account_sid") or None, method=str(f.get("method") or "POST"),
        fallback_url=f.get("fallback_url") or None,
        fallback_method=str(f.get("fallback_method") or "POST"),
        status_callback=f.get("status_callback") or None,
        status_callback_method=str(f.get("status_callback_method") or "POST"))
    return entry.to_json()


def _summary(sim: SimulatorCore, session: str) -> dict[str, Any]:
    call = sim.get_call(session)
    return {key: call[key] for key in ("session", "state", "block", "digits", "ringing_phone")}
