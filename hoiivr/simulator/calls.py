"""One simulated call (a session): its state, what the caller heard, and its timeline.

The states (``Session.state``, also ``state`` in ``GET /sim/calls/<session>``):

============== ===========================================================================
``queued``     a call placed through Twilio's Calls resource waits for its turn to leave
``ringing``    an incoming call waits for the app's first block (the 60 s wait runs)
``dialing``    a Dial rings its destination (a ``manual`` one: ``ringing_phone``)
``playing``    a block's ``msg`` is playing (Play, or the prompt of Gather, Record...)
``collecting`` a Gather waits for keys (or words)                       (caller's turn)
``hearing``    a Gather heard the caller's words; it reports them once the caller has
               finished and its ``speechTimeout`` of silence has passed
``recording``  a Record records the caller                              (caller's turn)
``on_hold``    held until Unhold                                        (caller's turn)
``resuming``   an Unhold is taking the call off hold
``transferring`` a Transfer rings its destination (a ``manual`` one: ``ringing_phone``)
``talking``    connected to a transferred party or a conference room    (caller's turn)
``waiting``    a notification went out; the app has the wait to send the next block (on
               a TwiML number: the call waits for the document a webhook returns)
``ended``      the call is over and billed
============== ===========================================================================

A call to a Hoiio Number is played by the engine itself. A call of a TwiML number has a
:class:`Front` (``Session.front``), which runs its TwiML on the same states and timers,
and its Twilio side in ``Session.twiml``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from ..blocks import Block
from .accounts import Account, Phone
from .clock import Timer
from .media import Recording, Stretch, Upload
from .notifier import Delivery, Notice
from .speech import Heard
from .timing import Prompt
from .twiml.state import TwimlCall

QUEUED = "queued"
RINGING, DIALING, PLAYING, COLLECTING = "ringing", "dialing", "playing", "collecting"
RECORDING, ON_HOLD, RESUMING = "recording", "on_hold", "resuming"
HEARING = "hearing"
TRANSFERRING, TALKING, WAITING, ENDED = "transferring", "talking", "waiting", "ended"

#: States in which the next move is the caller's (or whoever the test plays).
CALLER_TURN = frozenset({COLLECTING, RECORDING, ON_HOLD, TALKING})
#: States in which the session takes a new block.
READY = frozenset({RINGING, WAITING})


class Front(Protocol):
    """What drives a call that the engine does not play itself (a TwiML number's): the
    engine hands it the caller's actions and the call's end, under the engine's lock."""

    def keys(self, s: Session, keys: str) -> None:
        """The caller pressed ``keys`` (already in the timeline)."""

    def spoke(self, s: Session, heard: Heard | None, heard_for: Any) -> None:
        """The caller started talking (``s.speaking_until`` says until when); ``heard``:
        the words, typed or recognized for the Gather ``heard_for`` (None: not known)."""

    def listening(self, s: Session) -> Any:
        """The verb listening for the caller's words now (its ``hints`` and ``language``
        say what to recognize), or None."""

    def hangup(self, s: Session) -> None:
        """The caller hung up, or the person at the phone the call rings rejected it."""

    def picked_up(self, s: Session, phone: Phone) -> None:
        """The manual phone the call rings was answered (or rejected): ``phone`` says."""

    def recording_id(self, s: Session) -> tuple[str, str]:
        """A new recording's id and URL."""

    def ending(self, s: Session) -> Any:
        """The call is about to end (still in its last state): keep what must be kept."""

    def ended(self, s: Session, kept: Any, monitored: Recording | None) -> None:
        """The call has ended and is billed: tell whoever must hear of it."""

    def started(self, s: Session, notice: Notice) -> dict[str, Any]:
        """One of the call's webhooks is being delivered: its timeline entry."""

    def delivered(self, s: Session, notice: Notice, entry: dict[str, Any],
                  result: Delivery) -> None:
        """A webhook of the call was answered (or failed)."""


@dataclass(frozen=True)
class Target:
    """Where a notification goes and which block it speaks for."""

    url: str
    block: str
    tag: str = ""


@dataclass(frozen=True)
class Step:
    """A block the session accepted, with the notify_url it came with."""

    block: Block
    notify_url: str | None = None

    @property
    def kind(self) -> str:
        return self.block.kind

    @property
    def tag(self) -> str:
        return getattr(self.block, "tag", None) or ""

    @property
    def target(self) -> Target | None:
        return Target(self.notify_url, self.kind, self.tag) if self.notify_url else None


@dataclass(frozen=True)
class Billing:
    """What the call cost, as the ``ended`` notification reports it."""

    date: str
    duration: int
    currency: str
    rate: str
    debit: str

    def fields(self) -> dict[str, str]:
        return {"date": self.date, "duration": str(self.duration), "currency": self.currency,
                "rate": self.rate, "debit": self.debit}


@dataclass
class Transfer:
    """One Transfer of the call: where to, and how it went."""

    dest: str
    on_failure: str
    room: str | None = None
    status: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"dest": self.dest, "room": self.room, "on_failure": self.on_failure,
                "status": self.status}


@dataclass
class Session:
    """A call. The engine changes it under its lock; nothing else does."""

    id: str
    txn_ref: str
    account: Account
    direction: str                       # "inbound" or "outbound"
    started: float                       # clock reading when the call began
    date: str                            # the same, as Hoiio writes times
    caller: str | None = None            # inbound: who called ("from")
    number: str | None = None            # inbound: the Hoiio Number called ("to")
    dest: str | None = None              # outbound: the number dialled
    state: str = RINGING
    step: Step | None = None             # the block running now, or the last one
    reply_to: Step | None = None         # the most recent block that had a notify_url
    closed: bool = False                 # an End block was accepted: no more blocks
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    dial_status: str | None = None       # outbound: how the Dial went
    ringing_phone: str | None = None     # a manual phone ringing now, for a person to answer
    undelivered: int = 0                 # notifications queued or being delivered
    timers: dict[str, Timer] = field(default_factory=dict)
    prompt_until: float = 0.0            # when the prompt playing now ends
    digits: str = ""                     # keys a Gather collected so far
    keyed: bool = False                  # a key (even '#') was pressed in this Gather
    attempt: int = 0
    record_started: float | None = None
    upload: Upload | None = None         # audio the caller uploaded while recorded
    speech: list[Stretch] = field(default_factory=list)
    speaking_until: float = 0.0
    monitor: Step | None = None
    monitor_started: float | None = None
    transfers: list[Transfer] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    prompts: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    billing: Billing | None = None
    front: Front | None = None           # None: the engine plays it (a Hoiio call)
    twiml: TwimlCall | None = None

    @property
    def inbound(self) -> bool:
        return self.direction == "inbound"

    @property
    def ended(self) -> bool:
        return self.state == ENDED

    @property
    def transfer(self) -> Transfer | None:
        return self.transfers[-1] if self.transfers else None

    def caller_turn(self, now: float) -> bool:
        """True when only the caller can move the call on (and is not mid-sentence); a
        manual phone ringing waits for its person the same way."""
        return ((self.state in CALLER_TURN or self.ringing_phone is not None)
                and self.speaking_until <= now)

    def log(self, now: float, kind: str, **data: Any) -> dict[str, Any]:
        """Add an entry to the timeline; returns it so a delivery can fill in its outcome."""
        entry = {"at": round(now - self.started, 3), "type": kind, **data}
        self.timeline.append(entry)
        return entry

    def heard(self, now: float, prompt: Prompt, *, looped: bool = False,
              music: bool = False, block: str | None = None) -> dict[str, Any]:
        if block is None:
            block = self.step.kind if self.step else ""
        entry = {"at": round(now - self.started, 3), "block": block,
                 "attempt": self.attempt if self.step and self.step.kind == "gather" else None,
                 "looped": looped, "music": music, "cut": False, **prompt.to_json()}
        self.prompts.append(entry)
        return entry

    def speech_between(self, start: float, end: float) -> tuple[Stretch, ...]:
        """The caller's speaking between two clock readings, relative to ``start``."""
        stretches = [(max(a, start) - start, min(b, end) - start) for a, b in self.speech]
        return tuple((round(a, 3), round(b, 3)) for a, b in stretches if b > a)

    @property
    def kind(self) -> str:
        """``hoiio`` or ``twiml``: the kind of number (or account) the call is of."""
        return "twiml" if self.twiml is not None else "hoiio"

    @property
    def block(self) -> str | None:
        """The block (on a TwiML number: the verb, lower-case) running or last run."""
        if self.twiml is not None:
            verb = self.twiml.verb
            return type(verb).__name__.lower() if verb is not None else None
        return self.step.kind if self.step else None

    def to_json(self, fields: Iterable[str] = ()) -> dict[str, Any]:
        """The call as ``GET /sim/calls/<session>`` shows it; only ``fields`` of it (names
        of :data:`CALL_FIELDS`) if given, which costs only what they cost."""
        if fields:
            return {name: CALL_FIELDS[name](self) for name in fields}
        return {name: read(self) for name, read in CALL_FIELDS.items()}

    def summary(self) -> dict[str, Any]:
        """The short form listed by ``GET /sim/calls``."""
        return {"session": self.id, "kind": self.kind, "txn_ref": self.txn_ref,
                "app_id": self.account.app_id, "direction": self.direction,
                "from": self.caller, "to": self.number, "dest": self.dest, "state": self.state, "ringing_phone": self.ringing_phone,
                "date": self.date}


def _transferred_to(s: Session) -> str | None:
    transfer = next((t for t in reversed(s.transfers) if t.status == "answered"), None)
    return (transfer.room and f"room:{transfer.room}" or transfer.dest) if transfer else None


#: Each field of a call's record (``GET /sim/calls/<session>``), in order, and how it is read.
CALL_FIELDS: dict[str, Callable[[Session], Any]] = {
    "session": lambda s: s.id, "kind": lambda s: s.kind, "txn_ref": lambda s: s.txn_ref,
    "app_id": lambda s: s.account.app_id,
    "direction": lambda s: s.direction, "from": lambda s: s.caller, "to": lambda s: s.number,
    "dest": lambda s: s.dest, "state": lambda s: s.state, "block": lambda s: s.block,
    "ringing_phone": lambda s: s.ringing_phone,
    "date": lambda s: s.date, "answered_at": lambda s: _offset(s.answered_at, s.started),
    "ended_at": lambda s: _offset(s.ended_at, s.started), "end_reason": lambda s: s.end_reason,
    "prompts": lambda s: [p["text"] for p in s.prompts if p["text"]],
    "prompt_log": lambda s: [dict(p) for p in s.prompts],
    "digits": lambda s: s.digits,
    "transferred_to": _transferred_to,
    "transfers": lambda s: [t.to_json() for t in s.transfers],
    "recordings": lambda s: [r.to_json() for r in s.recordings],
    "billing": lambda s: s.billing.fields() if s.billing else None,
    "timeline": lambda s: [dict(e) for e in s.timeline],
    "twiml": lambda s: s.twiml.to_json() if s.twiml is not None else None,
}


def _offset(moment: float | None, start: float) -> float | None:
    return None if moment is None else round(moment - start, 3)
