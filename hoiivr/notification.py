"""The :class:`Notification`: what a carrier's webhook said, in the core's own words.

Each carrier parses its provider's request into one (Hoiio's form fields, Twilio's
``CallSid``, ``Digits``, ...); past that point nothing in hoiivr knows which provider spoke.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from .errors import NotificationError

CALL_STATES = frozenset({"ringing", "ongoing", "ended"})


@dataclass(frozen=True)
class Notification:
    """One notification of a call, its fields converted to Python values.

    ``call_state`` is ``ringing`` (a new incoming call), ``ongoing`` (a block finished) or
    ``ended``. Fields the provider did not send are ``None``; fields this version does not
    know are kept in ``extra``. ``ivr_block`` is the block the provider says the
    notification is for, where it says so. ``speech`` is what the caller said to a Gather
    that listens for speech (``None``: nothing was said, or keys were pressed), with the
    recognizer's ``confidence`` from 0.0 to 1.0.

    An ``ended`` notification that is not ``final`` says the call has ended, but the
    provider reports the end again, last, with the billing (Twilio's status callback after
    a ``<Record>``'s or a ``<Dial>``'s action): what it says is kept for that report.
    """

    session: str
    call_state: str
    ivr_block: str | None = None
    txn_ref: str | None = None
    tag: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    dest: str | None = None
    dial_status: str | None = None
    digits: str | None = None
    speech: str | None = None
    confidence: float | None = None
    record_url: str | None = None
    transfer_status: str | None = None
    date: datetime | None = None
    duration: int | None = None
    currency: str | None = None
    rate: Decimal | None = None
    debit: Decimal | None = None
    extra: dict[str, str] = field(default_factory=dict)
    final: bool = True

    @property
    def ended(self) -> bool:
        return self.call_state == "ended"

    def describe(self, block: str | None = None, step: str | None = None) -> str:
        """``gather ongoing step=menu digits='1'``: what it says, for logs and timelines."""
        if block is None:
            return f"answer {self.call_state} from {self.from_number} to {self.to_number}"
        parts = [block, self.call_state]
        if step:
            parts.append(f"step={step}")
        for name in ("digits", "speech", "confidence", "record_url", "transfer_status", "dial_status", "duration"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return " ".join(parts)


_DEFAULTS = {f.name: f.default for f in fields(Notification) if f.default is not MISSING}


def notification(session: str, call_state: str, extra: dict[str, str], **values: Any
                 ) -> Notification:
    """``Notification(session=..., ...)`` for a carrier's parser, which makes one per
    request: a frozen dataclass sets each of its 21 fields through ``object.__setattr__``,
    which costs more than the parsing. ``values`` must name fields (a typo is a TypeError)."""
    unknown = values.keys() - _DEFAULTS.keys()
    if unknown:
        raise TypeError(f"Notification has no field {', '.join(sorted(unknown))}")
    made = object.__new__(Notification)
    made.__dict__.update(_DEFAULTS, session=session, call_state=call_state, extra=extra,
                         **values)
    return made


def required(fields: Mapping[str, str], name: str, provider: str) -> str:
    """The field ``name``, which every notification of ``provider`` carries."""
    value = fields.get(name)
    if not value:
        raise NotificationError(f"the notification has no {name!r} field; is this request "
                                f"really from {provider}?", name)
    return value
