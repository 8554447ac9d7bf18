"""The :class:`Call` every handler receives."""
from __future__ import annotations

from typing import Any

from .notification import Notification
from .state import State


def _notified(name: str, doc: str, fallback: str | None = None) -> Any:
    """A read-only attribute from the notification, else from the call's record."""
    def get(call: Call) -> Any:
        value = getattr(call.notification, name)
        if value is None and fallback is not None:
            return call._record.get(fallback)
        return value
    return property(get, doc=doc)


class Call:
    """One phone call, as a handler sees it while a notification is being handled.

    ``state`` is a dict of JSON values that persists for the whole call: what a handler
    puts there, a later handler of the same call finds again, in any worker process. A
    value JSON cannot hold (a ``datetime``) is refused where it is set, with
    :class:`~hoiivr.errors.StateError` saying what to store instead.
    The other attributes come from the call's record and the notification being handled;
    billing (``date``, ``duration``, ``currency``, ``rate``, ``debit``) is set once the
    call has ended.

    After an :class:`~hoiivr.Ask`, ``answer`` is the answer that counted, in the Ask's own
    words: the key of its ``valid`` mapping the caller's keys or words matched (``"sales"``
    for "1" or "sales please"), or the answer itself for a collection or a function.
    ``digits`` and ``speech`` still say what the caller did.
    """

    def __init__(self, key: str, record: dict[str, Any], notification: Notification,
                 step: str | None = None, answer: str | None = None) -> None:
        self.key = key
        self.notification = notification
        self.step = step
        self.answer = answer
        state = record.get("state")
        if not isinstance(state, State):
            state = record["state"] = State(state or {})
        self.state: State = state
        self._record = record

    session = _notified("session", "Hoiio's session id.")
    call_state = _notified("call_state", "``ringing``, ``ongoing`` or ``ended``.")
    tag = _notified("tag", "The tag of the block this notification is for.")
    digits = _notified("digits", "Keys entered, after a Gather (may be empty).")
    speech = _notified("speech", "What the caller said, after a Gather that listens for "
                       "speech; None if nothing was said (or keys were pressed).")
    confidence = _notified("confidence", "How sure the recognizer is of ``speech``, from 0.0 "
                           "to 1.0; None without speech.")
    record_url = _notified("record_url", "The recording, after a Record (or at the end).")
    transfer_status = _notified("transfer_status", "answered, unanswered, busy or failed.")
    dial_status = _notified("dial_status", "The same, for a call placed with ivr.dial.")
    date = _notified("date", "When the call ended (GMT+8).")
    duration = _notified("duration", "Billed minutes, once the call has ended.")
    currency = _notified("currency", "Billing currency, once the call has ended.")
    rate = _notified("rate", "Rate per minute, once the call has ended.")
    debit = _notified("debit", "What the call cost, once it has ended.")
    txn_ref = _notified("txn_ref", "Hoiio's transaction id.", fallback="txn_ref")
    from_number = _notified("from_number", "The caller, for an incoming call.", fallback="from")
    to_number = _notified("to_number", "The Hoiio Number called.", fallback="to")
    dest = _notified("dest", "The number dialled, for an outbound call.", fallback="dest")

    @property
    def direction(self) -> str:
        """``inbound`` for a call to a Hoiio Number, ``outbound`` for one made by ``ivr.dial``."""
        return str(self._record.get("direction", "inbound"))

    def __repr__(self) -> str:
        return f"<Call {self.session} {self.call_state} step={self.step!r}>"
