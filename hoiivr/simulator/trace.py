"""A call as a *trace*: what the caller did, and what the app did, as JSON lines.

A trace is made from the call's record in the simulator (``sim.get_call(session)``): its
timeline, its prompts, its recordings. It knows nothing of a carrier's wire format, only
of what a caller does and hears. The first line is the header, each further line one
entry, in the order things happened; every entry has ``at`` (seconds since the call
began, on the simulator's clock) and ``type``::

    {"hoiivr_trace": 1, "recorded_by": "phone", "direction": "inbound",
     "from": "+65912*****", "to": "+6560000000", "dest": null, "masked": true,
     "steps": true, "until": 9.3, "state": null}
    {"at": 0.0, "type": "block", "kind": "gather", "step": "menu",
     "params": {"msg": "Press 1 for sales.", "max_digits": "1"}, "status": "success_ok"}
    {"at": 0.0, "type": "prompt", "text": "Press 1 for sales.", "kind": "gather", "step": "menu"}
    {"at": 3.5, "type": "press", "digits": "1"}

The caller's side (:data:`ACTIONS`, replayed): ``dest_phone`` (a number the call rang, and
how it was scripted to behave), ``press``, ``speak`` (with ``text``: the words a Gather
heard), ``hangup``, ``pick_up`` (a manual phone answered or rejected by hand). The app's side (:data:`OBSERVED`, compared):
``block`` (each block the app sent: kind, step name, parameters, the reply; on a TwiML
number each verb the call ran, as the block it stands for (:data:`VERB_BLOCKS`), with its
attributes, and a placed call's Calls request as its ``dial``), ``prompt``,
``transfer``, ``recording`` (its kind, and how much of the caller's speech it holds),
``end``. Times are not compared (:data:`UNCOMPARED`): the order is.

A trace carries no credentials and no notify URL (they hold signed tokens), and the
caller's number (``from`` of an incoming call, ``dest`` of a placed one) is masked
wherever it appears: ``+6591234567`` becomes ``+65912*****``, unless made with
``mask=False``.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..blocks import BY_ENDPOINT
from ..carriers.hoiio.carrier import without_proof
from ..errors import HoiivrError

#: The trace format's version; a trace of a newer one is refused, not misread.
VERSION = 1
#: What the caller's side did: replayed.
ACTIONS = ("dest_phone", "press", "speak", "hangup", "pick_up")
#: What the app's side did: compared.
OBSERVED = ("block", "prompt", "transfer", "recording", "end")
#: Parameters a trace never carries: credentials, the session, URLs holding signed tokens.
DROPPED_PARAMS = frozenset({"app_id", "access_token", "session", "notify_url",
                            "monitor_notify_url"})
#: Fields of an entry that inform but are not compared: they follow from times, which a
#: recording on a real clock (``hoiivr dev``) shifts by the app's latency.
UNCOMPARED = frozenset({"at", "seconds"})
#: How many of the caller's last digits a masked number hides (at most half of them).
HIDDEN_DIGITS = 5
HEADER = "hoiivr_trace"
#: The carrier an app of each kind of number runs on: a trace shows what that carrier
#: sent (blocks on Hoiio, verbs on Twilio), so it replays on the same carrier.
CARRIER_OF = {"hoiio": "hoiio", "twiml": "twilio"}
#: The block each TwiML verb stands for (and :attr:`hoiivr.testing.PhoneCall.blocks`).
VERB_BLOCKS = {"Say": "play", "Play": "play", "Pause": "play", "Gather": "gather",
               "Record": "record", "Dial": "transfer", "Hangup": "hangup", "Reject": "hangup",
               "Redirect": "redirect"}
#: The attribute of a verb holding the URL it reports to (``action`` unless named here):
#: the app's notify URL, which names the step.
REPORTS_TO = {"Redirect": "url"}
#: What a verb or a Calls request never carries into a trace: the URLs Twilio reports to,
#: which hold signed tokens as a notify URL does.
DROPPED_ATTRIBUTES = frozenset({"status_callback", "StatusCallback", "Url", "FallbackUrl"})
#: A notify URL in a Calls request's ``Twiml``: a Redirect's text, a verb's ``action``.
_TWIML_URLS = re.compile(r'(<Redirect[^>]*>)[^<]*(</Redirect>)|\saction="[^"]*"')

#: The step name a notify URL of the app was for; None when it had none or is not known.
StepOf = Callable[[str], "str | None"]


class TraceError(HoiivrError):
    """A trace file that cannot be read: says which file and line, and why."""


@dataclass
class Trace:
    """One call: the header's fields (``call``) and the entries, in order."""

    call: dict[str, Any]
    entries: list[dict[str, Any]] = field(default_factory=list)
    source: str = "<trace>"

    @property
    def actions(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["type"] in ACTIONS]

    @property
    def observed(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["type"] in OBSERVED]

    @property
    def caller(self) -> str:
        """The caller's number as a replay dials it: masked digits become zeros."""
        number = self.call["from"] if self.call["direction"] == "inbound" else self.call["dest"]
        return str(number).replace("*", "0")

    def lines(self) -> Iterator[str]:
        yield json.dumps({HEADER: VERSION, **self.call}, ensure_ascii=False)
        for entry in self.entries:
            yield json.dumps(entry, ensure_ascii=False)

    def save(self, path: str | Path) -> Path:
        """Write the trace to ``path`` (one JSON document a line); returns the path."""
        path = Path(path)
        path.write_text("\n".join(self.lines()) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        """Read a trace file; :class:`TraceError` names the line that is wrong."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TraceError(f"cannot read the trace {path}: {exc}") from None
        return cls.parse(text.splitlines(), str(path))

    @classmethod
    def parse(cls, lines: Iterable[str], source: str = "<trace>") -> Trace:
        documents = []
        for number, line in enumerate(lines, 1):
            if line.strip():
                documents.append((number, _document(line, source, number)))
        if not documents:
            raise TraceError(f"{source} is empty; a trace starts with its header line "
                             f'{{"{HEADER}": {VERSION}, ...}}')
        call = _header(documents[0][1], source)
        entries = [_entry(doc, source, number) for number, doc in documents[1:]]
        return cls(call, entries, source)


def _document(line: str, source: str, number: int) -> dict[str, Any]:
    try:
        document = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{source}:{number}: not JSON ({exc.msg}); a trace has one JSON "
                         "object a line") from None
    if not isinstance(document, dict):
        raise TraceError(f"{source}:{number}: a trace line is a JSON object, not "
                         f"{type(document).__name__}")
    return document


def _header(document: dict[str, Any], source: str) -> dict[str, Any]:
    version = document.pop(HEADER, None)
    if version != VERSION:
        raise TraceError(f"{source}:1: not a trace of version {VERSION} (the header says "
                         f"{HEADER}={version!r}); record it again with this hoiivr")
    if document.get("direction") not in ("inbound", "outbound"):
        raise TraceError(f"{source}:1: direction must be 'inbound' or 'outbound'")
    for name in ("from", "to") if document["direction"] == "inbound" else ("dest",):
        if not isinstance(document.get(name), str):
            raise TraceError(f"{source}:1: the header of an {document['direction']} call "
                             f"needs {name!r}")
    if not isinstance(document.get("until"), (int, float)):
        raise TraceError(f"{source}:1: the header needs 'until', the call's last second")
    return document


def _entry(document: dict[str, Any], source: str, number: int) -> dict[str, Any]:
    if document.get("type") not in ACTIONS + OBSERVED:
        raise TraceError(f"{source}:{number}: unknown entry type {document.get('type')!r}; "
                         f"known: {', '.join(ACTIONS + OBSERVED)}")
    if not isinstance(document.get("at"), (int, float)):
        raise TraceError(f"{source}:{number}: the entry needs 'at', in seconds")
    return document


# -- making one from the simulator's record of a call ----------------------------------------


def trace_of(info: dict[str, Any], *, recorded_by: str, step_of: StepOf | None = None,
             mask: bool = True, state: dict[str, Any] | None = None) -> Trace:
    """The trace of the call ``info`` (``sim.get_call(session)``).

    ``step_of`` tells the step name a notify URL of the app was for (the app's side knows
    it: see :meth:`hoiivr.runtime.Runtime.ticket_of`); without it the trace has no step
    names. ``state`` is the ``call.state`` a placed call started with, which a replay
    dials it with again.
    """
    outbound = info["direction"] == "outbound"
    call = {"recorded_by": recorded_by, "carrier": CARRIER_OF.get(info.get("kind", ""), "hoiio"),
            "direction": info["direction"],
            "from": info["from"], "to": info["to"], "dest": info["dest"], "masked": mask,
            "steps": step_of is not None, "until": _until(info),
            "state": state if outbound else None}
    entries = list(_entries(info, step_of))
    trace = Trace(call, entries)
    secret = info["dest"] if outbound else info["from"]
    return masked(trace, secret) if mask and secret else trace


def _until(info: dict[str, Any]) -> float:
    if info["ended_at"] is not None:
        return float(info["ended_at"])
    times = [e["at"] for e in info["timeline"]] + [p["at"] for p in info["prompt_log"]]
    return float(max(times, default=0.0))


def _entries(info: dict[str, Any], step_of: StepOf | None) -> Iterator[dict[str, Any]]:
    prompts = [{"type": "prompt", **p} for p in info["prompt_log"]]
    merged = sorted(info["timeline"] + prompts, key=lambda e: e["at"])
    playing: dict[str, str | None] = {}          # block kind -> step name of the one running
    for entry in merged:
        made = _convert(entry, step_of, playing)
        if made is not None:
            yield made
    for recording in info["recordings"]:
        yield {"at": _until(info), "type": "recording", "kind": recording["kind"],
               "spoken": round(recording["spoken"], 1),
               "seconds": round(recording["duration"], 1)}


def _convert(entry: dict[str, Any], step_of: StepOf | None,
             playing: dict[str, str | None]) -> dict[str, Any] | None:
    at, kind = entry["at"], entry["type"]
    if kind == "request" and entry.get("endpoint") == "Calls":
        return _calls_request(entry, step_of)
    if kind == "request":
        return _block(entry, step_of, playing)
    if kind == "verb":
        return _verb(entry, step_of, playing)
    if kind == "prompt":
        made = {"at": at, "type": "prompt", "text": entry.get("text", ""),
                "kind": entry.get("block", "")}
        if step_of is not None:
            made["step"] = playing.get(made["kind"])
        return {**made, "music": True} if entry.get("music") else made
    converted = _CALLER.get(kind)
    return {"at": at, **converted(entry)} if converted is not None else None


def _block(entry: dict[str, Any], step_of: StepOf | None,
           playing: dict[str, str | None]) -> dict[str, Any]:
    block = BY_ENDPOINT.get(entry.get("endpoint", ""))
    kind = block.kind if block else str(entry.get("endpoint"))
    params = entry.get("params") or {}
    status = (entry.get("reply") or {}).get("status")
    made: dict[str, Any] = {"at": entry["at"], "type": "block", "kind": kind}
    if step_of is not None:
        url = params.get("notify_url")
        made["step"] = step_of(url) if url else None
        if str(status).startswith("success"):
            playing[kind] = made["step"]
    # A hoiivr app's tags carry a proof of their step that differs on every run: the tag
    # is compared as the app's code wrote it.
    made["params"] = {k: v for k, v in without_proof(params).items() if k not in DROPPED_PARAMS}
    made["status"] = status
    return made


def _verb(entry: dict[str, Any], step_of: StepOf | None,
          playing: dict[str, str | None]) -> dict[str, Any]:
    """A TwiML verb the call ran, as the block it stands for."""
    verb = entry["verb"]
    url = entry.get(REPORTS_TO.get(verb, "action"))
    made: dict[str, Any] = {"at": entry["at"], "type": "block",
                            "kind": VERB_BLOCKS.get(verb, verb.lower())}
    if step_of is not None:
        made["step"] = step_of(url) if url else None
        # A verb's prompt is logged by the verb's own name (Say: "say").
        playing[verb.lower()] = made["step"]
    dropped = DROPPED_ATTRIBUTES | {"at", "type", "verb", REPORTS_TO.get(verb, "action")}
    # As JSON has it: a Dial's targets are a tuple here, a list once the trace is read back.
    made["params"] = json.loads(json.dumps({k: v for k, v in entry.items()
                                            if k not in dropped}))
    made["status"] = None                  # a verb has no reply; the webhook's answer ran it
    return made


def _calls_request(entry: dict[str, Any], step_of: StepOf | None) -> dict[str, Any]:
    """A Twilio Calls request: the one that placed the call is its ``dial`` (its status
    callback the notify URL); a later one changed the live call (``update``)."""
    params = entry.get("params") or {}
    reply = entry.get("reply")
    made: dict[str, Any] = {"at": entry["at"], "type": "block",
                            "kind": "dial" if reply is not None else "update"}
    if step_of is not None:
        url = params.get("StatusCallback") or params.get("Url")
        made["step"] = step_of(url) if url else None
    kept = {k: v for k, v in params.items() if k not in DROPPED_ATTRIBUTES}
    if "Twiml" in kept:
        kept["Twiml"] = _without_urls(kept["Twiml"])
    made["params"] = kept
    made["status"] = (reply or {}).get("status")
    return made


def _without_urls(twiml: str) -> str:
    """A TwiML document without the URLs it reports to: each Redirect left empty, each
    ``action`` dropped."""
    return _TWIML_URLS.sub(lambda m: m[1] + m[2] if m[1] else "", twiml)


_CALLER: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "dest_phone": lambda e: {"type": "dest_phone", "number": e["number"],
                             "behaviour": e["behaviour"], "talk_seconds": e["talk_seconds"]},
    "keys": lambda e: {"type": "press", "digits": e["digits"]},
    # The words a Gather heard, typed or recognized, are replayed as words.
    "speech": lambda e: {"type": "speak", "seconds": e["seconds"],
                         **({"audio": True} if e.get("audio") else {}),
                         **({"text": e["text"]} if e.get("text") else {})},
    "caller_hangup": lambda e: {"type": "hangup"},
    "answered_by_hand": lambda e: {"type": "pick_up", "number": e["number"], "answered": True},
    "rejected": lambda e: {"type": "pick_up", "number": e["number"], "answered": False},
    "transferred": lambda e: {"type": "transfer", "dest": e.get("dest"),
                              "room": e.get("room"), "status": "answered"},
    "transfer_failed": lambda e: {"type": "transfer", "dest": e.get("dest"), "room": None,
                                  "status": e.get("status")},
    "ended": lambda e: {"type": "end", "reason": e.get("reason")},
}


# -- masking ------------------------------------------------------------------------------------


def mask_number(number: str) -> str:
    """``+6591234567`` -> ``+65912*****``: the last digits hidden, at most half of them."""
    digits = sum(c.isdigit() for c in number)
    hidden = min(HIDDEN_DIGITS, digits // 2)
    return number[:len(number) - hidden] + "*" * hidden if hidden else number


def masked(trace: Trace, number: str) -> Trace:
    """``trace`` with ``number`` (with or without its ``+``) masked in every text of it."""
    hidden = mask_number(number)
    pairs = [(number, hidden)]
    if number.startswith("+"):
        pairs.append((number[1:], hidden[1:]))

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            for plain, secret in pairs:
                value = value.replace(plain, secret)
            return value
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        return value
    return Trace(scrub(trace.call), scrub(trace.entries), trace.source)
