"""What the terminal phone shows: a call's timeline, one aligned line per event.

The simulator keeps a call's ``timeline`` (ringing, notifications, the app's requests,
keys, transfers, the end) and its ``prompt_log`` (what the caller heard) as two lists;
:class:`Watch` turns each new entry of either, in time order, into a :class:`Shown` line::

       0.0s  ring   +6591234567 calls +6560000000
       0.0s  → app  answer ringing                        200 in 3 ms
       0.0s  ← app  gather max_digits=1 timeout=10 attempts=3 → success_ok
       0.0s  says   "Welcome to Acme. Press 1 for sales, ..."
       6.9s  keys   1

Times are the simulator's clock since the call began (with ``--speed`` they run faster
than the wall clock). Nothing here does I/O; :mod:`hoiivr.console` prints the lines.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from itertools import takewhile
from typing import Any

from ..blocks import BY_ENDPOINT
from ..carriers.hoiio.carrier import without_proof
from ..errors import shown_params

__all__ = ["Shown", "Watch", "describe", "summary"]

#: Request parameters never shown: credentials, the session, the signed URL (Twilio's
#: ``Url`` and ``StatusCallback`` are signed notify URLs too); a ``msg`` is shown as the
#: prompt the caller hears instead.
HIDDEN_PARAMS = frozenset({"app_id", "access_token", "session", "notify_url", "msg",
                           "Url", "StatusCallback", "FallbackUrl"})
#: A TwiML document's verbs, in order: what a Calls request's ``Twiml`` is shown as (the
#: document itself is long and holds the signed URLs).
_VERB = re.compile(r"<([A-Z][A-Za-z]*)\b")
RESULT_FIELDS = ("digits", "record_url", "transfer_status", "dial_status")
#: A TwiML webhook's fields worth a line: its status and its results.
TWIML_FIELDS = ("CallStatus", "Digits", "RecordingUrl", "DialCallStatus", "ErrorCode")
#: Timeline entries whose outcome comes later: shown once it has come.
DELIVERED = frozenset({"notification", "webhook", "callback"})
#: What the caller is told when a prompt of a (block, state) has finished playing.
_RECORDING = "your turn: recording after the tone; /speak SECONDS to talk, then # to stop"
TURNS = {("gather", "collecting"): "your turn: the app listens for keys",
         ("record", "recording"): _RECORDING,
         # TwiML: the prompt before a <Record> is a verb of its own.
         ("say", "recording"): _RECORDING, ("play", "recording"): _RECORDING}
#: ... when the Gather listens for words too.
LISTENING = "your turn: the app listens for keys or words (/say WORDS)"
#: Width of the "what" column, so that a notification's outcome lines up.
WHAT_WIDTH = 40


@dataclass(frozen=True)
class Shown:
    """One line of the timeline: ``at`` seconds, a short label, the text, how to style it
    (``None``, ``"prompt"``, ``"key"``, ``"error"``, ``"end"``), and the words spoken."""

    at: float
    label: str
    text: str
    style: str | None = None
    spoken: str | None = None

    def render(self, arrows: bool = True) -> str:
        label, text = (self.label, self.text) if arrows else \
            (_ascii_arrows(self.label), _ascii_arrows(self.text))
        return f"{self.at:8.1f}s  {label:<6} {text}"


def _ascii_arrows(text: str) -> str:
    return text.replace("→", "->").replace("←", "<-")


def arrows_supported(stream: Any = None) -> bool:
    """True if the stream's encoding can write the arrows of the labels."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        "→←".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


class Watch:
    """Which entries of one call have been shown; :meth:`new` gives the next ones.

    A notification is shown once its delivery has finished (with the app's answer and
    latency), so anything later waits behind it: the app's request made while handling
    it, and the prompt that request started, come after it, in order.
    """

    def __init__(self, session: str) -> None:
        self.session = session
        self.events = 0                 # timeline entries shown
        self.prompts = 0                # prompt_log entries shown
        self.finished = False           # the end of the call and its summary were shown
        self.announced = -1             # the prompt after which the caller's turn was shown

    def new(self, info: dict[str, Any]) -> list[Shown]:
        """The lines of entries not shown yet, in time order (and marks them shown)."""
        timeline, prompts = info["timeline"], info["prompt_log"]
        ready: list[dict[str, Any]] = []
        held_at: float | None = None
        for entry in timeline[self.events:]:
            if entry["type"] in DELIVERED and entry.get("latency_ms") is None:
                held_at = entry["at"]   # still being delivered
                break
            ready.append(entry)
        heard = list(takewhile(lambda p: held_at is None or p["at"] < held_at,
                               prompts[self.prompts:]))
        self.events += len(ready)
        self.prompts += len(heard)
        entries = ready + [{"type": "prompt", **p} for p in heard]
        entries.sort(key=lambda e: e["at"])     # stable: events before prompts at a tie
        return [describe(e, info) for e in entries]

    def turn(self, info: dict[str, Any]) -> Shown | None:
        """A line saying the caller's turn has come, once per prompt: the Gather listens
        for keys, or the Record records (after its prompt, as the tone would sound)."""
        prompts = info["prompt_log"]
        last = len(prompts) - 1
        if last < 0 or last == self.announced or self.prompts <= last:
            return None
        prompt = prompts[last]
        hint = TURNS.get((prompt["block"], info["state"]))
        if hint is None:
            return None
        if (info.get("twiml") or {}).get("listening"):
            hint = LISTENING
        self.announced = last
        if prompt.get("cut"):           # a key stopped the prompt: the caller is already on
            return None
        return Shown(round(prompt["at"] + prompt["seconds"], 3), "you", hint, "note")

    def ended(self, info: dict[str, Any]) -> bool:
        """True once the call has ended and every entry of it was shown."""
        return (info["state"] == "ended" and self.events == len(info["timeline"])
                and self.prompts == len(info["prompt_log"]))


def describe(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    """The line for one timeline or prompt entry of the call ``info``."""
    kind, at = entry["type"], entry["at"]
    describer = _DESCRIBERS.get(kind)
    if describer is not None:
        return describer(entry, info)
    details = " ".join(f"{k}={v}" for k, v in entry.items() if k not in ("at", "type"))
    return Shown(at, kind[:6], details)


def summary(info: dict[str, Any]) -> str:
    """The call's last words: how long, why it ended, what it cost."""
    billing = info.get("billing") or {}
    seconds = info.get("ended_at") or 0.0
    minutes = billing.get("duration", "0")
    cost = f"{billing.get('currency', '')} {billing.get('debit', '0')}".strip()
    return (f"Call {info['session']} ended after {seconds:.1f} s ({info.get('end_reason')}): "
            f"{minutes} min billed, debit {cost}.")


def _ringing(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    if "voice_url" in entry:
        return Shown(entry["at"], "ring", f"{info['from']} calls {info['to']}, requesting "
                     f"{entry['voice_url'] or 'nothing: the number has no Voice URL'}")
    to = entry.get("forward_to") or "nowhere: the number has no forward_to"
    return Shown(entry["at"], "ring", f"{info['from']} calls {info['to']}, ringing {to}")


def _notification(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    fields = entry.get("fields") or {}
    results = " ".join(f"{k}={fields[k]}" if fields[k] else f"{k}=(none)"
                       for k in RESULT_FIELDS if k in fields)
    what = f"{entry.get('ivr_block')} {entry.get('call_state')} {results}".strip()
    if entry.get("latency_ms") is None:
        return Shown(entry["at"], "→ app", f"{what:<{WHAT_WIDTH}} (being delivered)")
    latency = f"in {entry['latency_ms']:.0f} ms"
    if entry.get("error"):
        return Shown(entry["at"], "→ app", f"{what:<{WHAT_WIDTH}} FAILED {latency}: "
                     f"{entry['error']}", "error")
    return Shown(entry["at"], "→ app", f"{what:<{WHAT_WIDTH}} {entry.get('reply_status')} "
                 f"{latency}")


def _request(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    block = BY_ENDPOINT.get(entry.get("endpoint", ""))
    name = block.kind if block else entry.get("endpoint", "?")
    params = " ".join(f"{k}={_param(k, v)}"
                      for k, v in without_proof(entry.get("params") or {}).items()
                      if k not in HIDDEN_PARAMS)
    what = f"{name} {params}".strip()
    reply = entry.get("reply") or {}
    if "status" not in reply:
        # The simulator keeps no reply for some requests (a Calls update): not a failure.
        return Shown(entry["at"], "← app", what)
    status = str(reply["status"])
    ok = status.startswith("success") or status.startswith("2")
    return Shown(entry["at"], "← app", f"{what} → {status}", None if ok else "error")


def _param(name: str, value: Any) -> Any:
    """A request parameter as shown: a TwiML document as its verbs."""
    if name == "Twiml" and isinstance(value, str):
        return "".join(f"<{verb}>" for verb in _VERB.findall(value) if verb != "Response")
    return value


def _redirected(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    # Its URL is a signed notify URL: the document it fetches is shown as it runs.
    how = "to the app's URL" if entry.get("url") else "to the request's TwiML"
    return Shown(entry["at"], "call", f"redirected {how} (through the Calls resource)")


def _webhook(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    fields = entry.get("fields") or {}
    results = " ".join(f"{k}={fields[k]}" for k in TWIML_FIELDS if fields.get(k))
    what = f"{entry.get('purpose')} {entry.get('method')} {results}".strip()
    outcome = entry.get("error") or entry.get("warning") or entry.get("ignored")
    if entry.get("latency_ms") is None:
        return Shown(entry["at"], "→ app", f"{what:<{WHAT_WIDTH}} (being delivered)")
    latency = f"in {entry['latency_ms']:.0f} ms"
    return Shown(entry["at"], "→ app", f"{what:<{WHAT_WIDTH}} {entry.get('reply_status')} "
                 f"{latency}" + (f": {outcome}" if outcome else ""),
                 "error" if entry.get("error") else None)


def _verb(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    shown = {k: v for k, v in entry.items() if k not in ("at", "type", "verb", "prompts",
                                                         "targets", "text")
             and v not in (None, "", False)}
    extra = " ".join(f"{k}={v}" for k, v in shown_params(shown).items())   # no signed URL
    targets = " ".join(t["address"] for t in entry.get("targets") or ())
    words = [f"<{entry.get('verb')}>", targets, extra]
    return Shown(entry["at"], "twiml", " ".join(word for word in words if word))


def _twiml_error(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    code = f"error {entry['code']}: " if entry.get("code") else "error: "
    return Shown(entry["at"], "error", code + str(entry.get("reason")), "error")


def _prompt(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    if entry.get("music"):
        return Shown(entry["at"], "hold", "(music on hold)", "prompt")
    text = entry.get("text", "")
    notes = [f"attempt {entry['attempt']}"] if (entry.get("attempt") or 1) > 1 else []
    notes += ["looping"] if entry.get("looped") else []
    shown = f'"{text}"' + (f" ({', '.join(notes)})" if notes else "")
    return Shown(entry["at"], "says", shown, "prompt", spoken=text)


def _keys(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    return Shown(entry["at"], "keys", entry.get("digits", ""), "key")


def _keys_ignored(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    return Shown(entry["at"], "keys", f"{entry.get('digits')} ignored: {entry.get('reason')}",
                 "error")


def _speech(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    audio = " (an audio file)" if entry.get("audio") else ""
    if entry.get("text"):
        return Shown(entry["at"], "speak", f'the caller says "{entry["text"]}"{audio}', "key")
    return Shown(entry["at"], "speak", f"the caller talks for {entry.get('seconds'):g} s{audio}",
                 "key")


#: How the words were heard, as the timeline says it.
_HOW = {"text": "as typed", "grammar": "recognized among the hints",
        "dictation": "recognized by dictation"}


def _heard(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    how = _HOW.get(str(entry.get("how")), str(entry.get("how")))
    return Shown(entry["at"], "heard", f'"{entry.get("text")}" ({how}, confidence '
                 f"{entry.get('confidence')})", "key")


def _app_error(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    where = f" at {entry['where']}" if entry.get("where") else ""
    return Shown(entry["at"], "error", f"{entry.get('handler')} raised {entry.get('error')}"
                 f"{where}; {entry.get('outcome')}", "error")


def _transfer_failed(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    return Shown(entry["at"], "xfer", f"{entry.get('dest')} did not connect: "
                 f"{entry.get('status')}", "error")


def _transferred(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    where = f"room {entry['room']}" if entry.get("room") else entry.get("dest")
    return Shown(entry["at"], "xfer", f"connected to {where}: talking", "end")


def _dest_phone(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    return Shown(entry["at"], "rings", f"{entry.get('number')} (scripted: "
                 f"{entry.get('behaviour')})")


Describer = Callable[[dict[str, Any], dict[str, Any]], Shown]


def _simple(label: str, text: str) -> Describer:
    return lambda entry, info: Shown(entry["at"], label, text)


def _ended(entry: dict[str, Any], info: dict[str, Any]) -> Shown:
    return Shown(entry["at"], "end", f"{entry.get('reason')}; {entry.get('duration')} min at "
                 f"{entry.get('rate')}, debit {entry.get('currency')} {entry.get('debit')}",
                 "end")


_DESCRIBERS: dict[str, Describer] = {
    "ringing": _ringing, "notification": _notification, "request": _request,
    "prompt": _prompt, "keys": _keys, "keys_ignored": _keys_ignored, "speech": _speech,
    "heard": _heard,
    "speech_ignored": lambda e, info: Shown(e["at"], "speak", f"not heard: {e.get('reason')}",
                                            "error"),
    "transfer_failed": _transfer_failed, "transferred": _transferred, "ended": _ended,
    "answered": _simple("call", "answered"), "dest_phone": _dest_phone,
    "caller_hangup": _simple("hangup", "the caller hangs up"),
    "webhook": _webhook, "callback": _webhook, "verb": _verb, "twiml_error": _twiml_error,
    "app_error": _app_error, "redirected": _redirected,
    "twiml_warning": lambda e, info: Shown(e["at"], "warn", str(e.get("warning")), "error"),
    "beep": _simple("beep", "the tone: recording"),
    "initiated": _simple("call", "leaves the queue: dialling"),
    "recording_empty": _simple("record", "nothing was said: no recording, the TwiML goes on"),
    "dial_ended": lambda e, info: Shown(e["at"], "xfer", f"{e.get('dest')}: "
                                        f"{e.get('status')}"),
}
