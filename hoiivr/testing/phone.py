"""Test a whole call flow in a few lines: :class:`Phone`.

``Phone(app)`` runs the embedded simulator in-process on a virtual clock, wired to your Flask
app through WSGI with no socket: a call takes milliseconds and timeouts fire instantly::

    from hoiivr.testing import Phone

    def test_sales_is_busy():
        phone = Phone(app)
        phone.set_behaviour("+6522222222", "busy")
        call = phone.call(from_number="+6591234567")
        assert "Press 1 for sales" in call.last_prompt
        call.press("1")
        assert "Leave a message" in call.last_prompt
        call.speak(seconds=5)
        call.press("#")
        assert call.call_state == "ended"

Every action returns when the call waits for the caller again (a gather collecting keys, a
recording, a transfer connected) or has ended. With pytest, the ``phone`` fixture builds a
``Phone`` for your ``app`` fixture, and a failing test's report shows each call's timeline.

The app needs no credentials of its own: the Phone wires it to the simulator with
``ivr.init_app(app, client=..., store=...)``, and gives it back its own wiring on
:meth:`Phone.close`.

The app's carrier (``HOIIVR_CARRIER``) decides the number the Phone calls: a Hoiio
Number for ``hoiio``, a TwiML number for ``twilio`` (its Voice URL and status callback the
app's answer URL, the app's Twilio client the simulator's Calls resource), so a test
file runs unchanged on either carrier.

To test over real HTTP instead (your app and the simulator each on a loopback port),
serve the app with :class:`~hoiivr.testing.LiveServer` and the simulator with
``SimulatorServer``.
"""
from __future__ import annotations

import dataclasses
import secrets
import weakref
from pathlib import Path
from typing import Any, Callable, Iterator

from flask import Flask

from ..blocks import BY_ENDPOINT
from ..carriers import carrier_class, carrier_name
from ..carriers.hoiio import HoiioClient
from ..carriers.hoiio.carrier import without_proof
from ..config import Settings
from ..errors import ConfigError
from ..ivr import IVR
from ..runtime import Mount
from ..simulator import SettleTimeout, Simulator, VirtualClock, WSGISession
from ..simulator.trace import VERB_BLOCKS
from ..stores import MemoryStore
from .app_errors import AppErrors
from .trace import Trace, step_names, trace_of

APP_URL = "http://app.test"
HOIIO_URL = "http://hoiio.sim"
#: The Hoiio Number a Phone routes to the app unless told otherwise.
DEFAULT_NUMBER = "+6560000000"
DEFAULT_CALLER = "+6591234567"
#: The simulator account a Phone's app uses (Hoiio's, or Twilio's).
APP_ID, ACCESS_TOKEN = "phone-app", "phone-token"
TWILIO_SID, TWILIO_TOKEN = "AC" + "0" * 31 + "1", "phone-auth-token"
#: Phones alive in this process; the pytest plugin prints their calls when a test fails.
live_phones: weakref.WeakSet[Phone] = weakref.WeakSet()
#: Called with each Phone as it closes, its calls still readable (``--hoiivr-coverage``).
closing: list[Callable[[Phone], None]] = []


class StateLog(MemoryStore):
    """A memory store that remembers each call's last ``state`` after the call is gone."""

    def __init__(self) -> None:
        super().__init__()
        self.last_state: dict[str, dict[str, Any]] = {}
        self.first_state: dict[str, dict[str, Any]] = {}
        self.key_of: dict[str, str] = {}

    def put(self, key: str, record: dict[str, Any], ttl: float | None = None) -> None:
        super().put(key, record, ttl)
        self._remember(key, record)

    def _commit(self, key: str, token: str, record: dict[str, Any], ttl: float | None,
                release: bool = True) -> bool:
        written = super()._commit(key, token, record, ttl, release)
        if written:
            self._remember(key, record)
        return written

    def _remember(self, key: str, record: dict[str, Any]) -> None:
        if "state" in record:
            self.last_state[key] = record["state"]
            self.first_state.setdefault(key, record["state"])
        if record.get("session"):
            self.key_of[record["session"]] = key

    def state_of(self, session: str) -> dict[str, Any]:
        return dict(self.last_state.get(self.key_of.get(session, session), {}))

    def starting_state_of(self, session: str) -> dict[str, Any] | None:
        """The ``call.state`` the call's record was first written with (a placed call's
        ``ivr.dial(state=...)``); None if the app never stored the call."""
        state = self.first_state.get(self.key_of.get(session, session))
        return None if state is None else dict(state)


class Phone:
    """The simulator wired to ``app``; places calls and plays the caller.

    ``number`` is the number routed to the app (a Hoiio Number, or a TwiML number if the
    app's carrier is ``twilio``). ``wait``: how long a call on a Hoiio Number waits for the
    app's next block before it ends (Hoiio's 60 s); a TwiML number waits 15 s for each
    webhook's answer, as Twilio does, whatever ``wait`` says. The app keeps its handlers;
    its client, store and public URL are this Phone's until :meth:`close`. A context
    manager: ``with Phone(app) as phone:`` closes it.
    """

    def __init__(self, app: Flask, number: str = DEFAULT_NUMBER, wait: float = 60.0) -> None:
        mount = app.extensions.get("hoiivr")
        if not isinstance(mount, Mount) or not isinstance(mount.handlers, IVR):
            raise ConfigError("Phone(app) needs an app with an IVR: call IVR(app) or "
                              "ivr.init_app(app) first")
        self.app = app
        self.number = number
        self._ivr: IVR = mount.handlers
        self._saved = mount.wiring
        # Both ways the WSGI apps are called directly, with no requests or socket between.
        self._to_app = WSGISession(app, APP_URL)
        self.sim = Simulator(clock=VirtualClock(), wait=wait, http=self._to_app,
                             base_url=HOIIO_URL)
        self.carrier = carrier_name(mount.settings)
        self._to_sim = WSGISession(self.sim.wsgi, HOIIO_URL)
        self.store = StateLog()
        # The Phone this one is nested in (a replay() in a test, say), whose wiring comes
        # back at close, and with it the listener that puts app errors in its calls.
        self._outer = next((phone for phone in live_phones
                            if phone.app is app and phone.store is self._saved.store), None)
        answer = f"{APP_URL}{mount.url_prefix}/answer"
        parts = self._twilio(mount.settings, answer) if self.carrier == "twilio" else \
            self._hoiio(answer)
        self._ivr.init_app(app, store=self.store, public_url=APP_URL,
                           secret_key=secrets.token_hex(16), **parts)
        self.calls: list[PhoneCall] = []
        #: The errors the app's handlers raised, placed in their calls' timelines.
        self.app_errors = AppErrors(self.sim.get_call)
        try:
            # As the app would when it starts: what it asks that its carrier lacks is a
            # ConfigError now, not an apology in the middle of a test's call.
            self._ivr.runtime(app).on_failure(self.app_errors)
        except Exception:
            self.close()
            raise
        live_phones.add(self)

    def _hoiio(self, answer: str) -> dict[str, Any]:
        self.sim.add_account(APP_ID, ACCESS_TOKEN)
        self.sim.add_number(self.number, answer)
        return {"client": HoiioClient(APP_ID, ACCESS_TOKEN, base_url=f"{HOIIO_URL}/open/",
                                      session=self._to_sim)}

    def _twilio(self, settings: Settings, answer: str) -> dict[str, Any]:
        # Loaded here: the twilio package is an extra, needed only for Twilio apps (and
        # carrier_class says how to install it).
        carrier = carrier_class("twilio")
        from ..carriers.twilio.simulated import client_for
        self.sim.add_twilio_account(TWILIO_SID, TWILIO_TOKEN, cps=1000)
        # The app calls out from its TWILIO_FROM_NUMBER if it has one, else from this number:
        # either is a number of the account, ringing the app.
        from_number = settings.get("TWILIO_FROM_NUMBER") or self.number
        for number in dict.fromkeys((self.number, from_number)):
            self.sim.add_twiml_number(number, answer, status_callback=answer)
        client = client_for(TWILIO_SID, TWILIO_TOKEN, HOIIO_URL, http=self._to_sim)
        # The simulator's account, whatever the app's own: webhooks are signed with its token.
        own = {"TWILIO_FROM_NUMBER": from_number, "TWILIO_ACCOUNT_SID": TWILIO_SID,
               "TWILIO_AUTH_TOKEN": TWILIO_TOKEN}
        overlay = Settings({**settings.config, **own}, settings.environ)
        return {"carrier": carrier.from_settings(overlay, client)}

    def call(self, from_number: str = DEFAULT_CALLER, to_number: str | None = None) -> PhoneCall:
        """Call the app's number (or ``to_number``); returns once the caller's turn comes."""
        call = PhoneCall(self, self.sim.call(from_number, to_number or self.number))
        self.calls.append(call)
        return call.settle()

    def set_behaviour(self, number: str, behaviour: str, talk_seconds: float | None = None) -> None:
        """How ``number`` behaves when dialled or transferred to: ``answer`` (then talks
        ``talk_seconds``, 30 s unless given, and hangs up), ``busy``, ``unanswered`` (rings
        30 s), ``failed``, or ``manual`` (rings until ``phone.sim.answer(call.session)`` or
        ``phone.sim.reject(call.session)``). A number never set answers."""
        if talk_seconds is None:
            self.sim.set_phone(number, behaviour)
        else:
            self.sim.set_phone(number, behaviour, talk_seconds=talk_seconds)

    @property
    def dialled(self) -> list[PhoneCall]:
        """The calls the app placed with ``ivr.dial``, each run to its first rest."""
        known = {call.session: call for call in self.calls}
        result = []
        for summary in self.sim.calls():
            if summary["direction"] == "outbound":
                call = known.get(summary["session"])
                if call is None:
                    call = PhoneCall(self, summary["session"])
                    self.calls.append(call)
                result.append(call.settle())
        return result

    def set_faults(self, **faults: object) -> dict[str, Any]:
        """Inject faults into every call, e.g. ``phone.set_faults(duplicate=1.0, seed=1)``
        (the faults are :class:`hoiivr.simulator.faults.Faults`); returns those in force."""
        return self.sim.set_faults(None, **faults)

    def clear_faults(self) -> None:
        """No more injected faults, on any call."""
        self.sim.clear_faults()

    def timelines(self) -> str:
        """Every call's timeline, as text."""
        return "\n\n".join(call.describe() for call in self.calls)

    def close(self) -> None:
        """Give the app back its own wiring (built again from its config when needed)."""
        for observer in list(closing):
            observer(self)
        saved = {f.name: getattr(self._saved, f.name) for f in dataclasses.fields(self._saved)}
        self._ivr.init_app(self.app, **saved)
        if self._outer is not None:
            self._ivr.runtime(self.app).on_failure(self._outer.app_errors)
        self.store.close()
        self.sim.close()
        self._to_app.close()
        self._to_sim.close()
        live_phones.discard(self)

    def __enter__(self) -> Phone:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PhoneCall:
    """One call, seen from the caller's phone. The caller's actions (:meth:`press`,
    :meth:`speak`, :meth:`wait`, :meth:`hangup`) return the call, so they chain."""

    def __init__(self, phone: Phone, session: str) -> None:
        self.phone = phone
        self.session = session

    @property
    def info(self) -> dict[str, Any]:
        """Everything the simulator knows of the call (``GET /sim/calls/<session>``)."""
        return self.phone.sim.get_call(self.session)

    def _read(self, name: str) -> Any:
        # One field of the call's record, without copying the rest (its timeline grows).
        return self.phone.sim.get_call(self.session, name)[name]

    @property
    def prompts(self) -> list[str]:
        """Every message the caller heard so far, in order."""
        prompts: list[str] = self._read("prompts")
        return prompts

    @property
    def last_prompt(self) -> str | None:
        """The last message the caller heard, or None."""
        prompts = self.prompts
        return prompts[-1] if prompts else None

    @property
    def call_state(self) -> str:
        """``ringing``, ``ongoing`` or ``ended``."""
        state = self._read("state")
        return state if state in ("ringing", "ended") else ("ringing" if state == "dialing"
                                                             else "ongoing")

    @property
    def transferred_to(self) -> str | None:
        """Where a transfer connected (a number or ``room:<id>``), else None."""
        where = self._read("transferred_to")
        return str(where) if where is not None else None

    @property
    def blocks(self) -> list[tuple[str, dict[str, Any]]]:
        """What the app asked of this call, in order: (block name, params).

        On Hoiio, the REST requests the app made. On a TwiML number, the verbs the call
        ran, each as the block it stands for (Say, Play, Pause: ``play``; Gather:
        ``gather``; Record: ``record``; Dial: ``transfer``; Hangup, Reject: ``hangup``;
        Redirect: ``redirect``), with the verb's attributes as params; and for a call the
        app placed, its Calls request as ``dial``.
        """
        blocks: list[tuple[str, dict[str, Any]]] = []
        for e in self.info["timeline"]:
            if e["type"] == "request":
                name = "dial" if e["endpoint"] == "Calls" else _block_name(e["endpoint"])
                blocks.append((name, _without_credentials(e["params"])))
            elif e["type"] == "verb":
                params = {k: v for k, v in e.items() if k not in ("at", "type", "verb")}
                blocks.append((VERB_BLOCKS.get(e["verb"], e["verb"].lower()), params))
        return blocks

    @property
    def state(self) -> dict[str, Any]:
        """The app's ``call.state`` as last stored (kept after the call ends). What
        ``on_hangup`` and ``on_dial_failed`` change is not stored: the call is over."""
        return self.phone.store.state_of(self.session)

    @property
    def billing(self) -> dict[str, str] | None:
        """What the call cost (``date``, ``duration`` in minutes, ``debit``...), once it
        has ended; on Twilio in the account's currency (USD), minutes rounded up."""
        billing: dict[str, str] | None = self._read("billing")
        return billing

    @property
    def recordings(self) -> list[dict[str, Any]]:
        """The call's recordings: ``id``, ``kind`` (record, monitor), ``url``, ``file``,
        ``duration`` and ``spoken`` (seconds), ``uploaded``, ``content_type``."""
        return list(self._read("recordings"))

    def set_faults(self, **faults: object) -> PhoneCall:
        """Inject faults into this call only, over every call's (:meth:`Phone.set_faults`)."""
        self.phone.sim.set_faults(self.session, **faults)
        return self

    def press(self, digits: str) -> PhoneCall:
        """Press keys; returns when the call waits for the caller again or ends."""
        self.phone.sim.press(self.session, digits)
        return self.settle()

    def speak(self, seconds: float = 5.0, audio: bytes | None = None) -> PhoneCall:
        """Talk for ``seconds`` (recorded during a Record), or for the length of ``audio``
        (a WAV file's bytes, which a recording keeps as given, and a Gather listening for
        speech recognizes offline, its hints as a grammar); returns once the caller has
        finished talking, that much virtual time later."""
        self.phone.sim.speak(self.session, seconds=seconds, audio=audio)
        return self.settle()

    def say(self, text: str) -> PhoneCall:
        """Say ``text``: a Gather listening for speech hears exactly these words
        (``call.speech``, confidence 1.0); returns when the call waits for the caller
        again or ends."""
        self.phone.sim.say(self.session, text)
        return self.settle()

    def wait(self, seconds: float) -> PhoneCall:
        """Let ``seconds`` of virtual time pass; timeouts fire."""
        self.phone.sim.advance(seconds)
        return self.settle()

    def hangup(self) -> PhoneCall:
        """The caller hangs up; returns once the app has heard of it."""
        self.phone.sim.hangup(self.session)
        return self.settle()

    def settle(self) -> PhoneCall:
        """Run the call until it rests (each action does): after a ``phone.sim`` call.
        :class:`SettleTimeout`, with the call's timeline, if it never does."""
        try:
            self.phone.sim.settle(self.session)
        except SettleTimeout as exc:
            raise SettleTimeout(f"{exc}\n{self.describe()}") from None
        deadlines = self.phone._ivr.runtime(self.phone.app).dispatcher.deadlines
        if self.session in deadlines and \
                self.phone.sim.get_call(self.session, "state")["state"] == "ended":
            # The simulator has sent all it will: an end that waits for a block's result
            # has none to wait for (hoiivr/awaiting.py).
            deadlines.run_now(self.session)
        return self

    def trace(self, mask: bool = True) -> Trace:
        """The call as a :class:`~hoiivr.simulator.trace.Trace`: the caller's actions and
        what the app did, with step names; the caller's number masked unless ``mask`` is
        False."""
        info = self.info
        state = self.phone.store.starting_state_of(self.session) \
            if info["direction"] == "outbound" else None
        return trace_of(info, recorded_by="phone", step_of=step_names(self.phone.app),
                        mask=mask, state=state)

    def save_trace(self, path: str | Path, mask: bool = True) -> Path:
        """Write :meth:`trace` to ``path`` (JSON lines); replay it with ``hoiivr replay`` or
        :func:`hoiivr.testing.replay`. Returns the path."""
        return self.trace(mask).save(path)

    def describe(self) -> str:
        """The call's timeline, one line per event, with the errors the app's handlers
        raised in their places."""
        info = self.info
        lines = [f"call {self.session} {info['direction']} from {info['from']} to "
                 f"{info['to'] or info['dest']}: {info['state']}"]
        info["timeline"] = self.phone.app_errors.timeline(info)
        lines += [_describe(entry) for entry in _merged(info)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<PhoneCall {self.session} {self.call_state}>"


def _block_name(endpoint: str) -> str:
    block = BY_ENDPOINT.get(endpoint)
    return block.kind if block else endpoint


def _without_credentials(params: dict[str, str]) -> dict[str, str]:
    """A request's parameters as the app's code gave them: no credentials, and the tag
    without the proof of its step that the carrier adds."""
    return {k: v for k, v in without_proof(params).items() if k not in ("app_id", "access_token")}


def _merged(info: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Timeline and prompts in time order."""
    prompts = [{"type": "prompt", **p} for p in info["prompt_log"]]
    yield from sorted(info["timeline"] + prompts, key=lambda e: e["at"])


_RESULT_FIELDS = ("digits", "record_url", "transfer_status", "dial_status", "duration", "debit")


def _describe(entry: dict[str, Any]) -> str:
    kind = entry["type"]
    if kind == "prompt":
        detail = repr(entry.get("text", ""))
    elif kind == "request":
        params = {k: v for k, v in _without_credentials(entry["params"]).items()
                  if k not in ("session", "notify_url")}
        detail = (f"{_block_name(entry['endpoint'])} {params} -> "
                  f"{entry.get('reply', {}).get('status')}")
    elif kind in ("webhook", "callback"):
        outcome = entry.get("error") or f"HTTP {entry.get('reply_status')}"
        detail = (f"{entry.get('purpose')} {entry.get('method')} {entry.get('url')} "
                  f"CallStatus={(entry.get('fields') or {}).get('CallStatus')} -> {outcome}")
    elif kind == "app_error":
        where = f" at {entry['where']}" if entry.get("where") else ""
        detail = f"{entry['handler']} raised {entry['error']}{where}; {entry['outcome']}"
    elif kind == "notification":
        fields = dict(entry.get("fields") or {})
        shown = " ".join(f"{k}={fields[k]!r}" for k in _RESULT_FIELDS if k in fields)
        outcome = entry.get("error") or f"HTTP {entry.get('reply_status')}"
        detail = (f"{fields.get('ivr_block')} {fields.get('call_state')} {shown} -> {outcome} "
                  f"in {entry.get('latency_ms')} ms")
    else:
        detail = " ".join(f"{k}={v}" for k, v in entry.items() if k not in ("at", "type"))
    return f"  {entry['at']:8.3f}s {kind:<13} {detail}"
