"""The :class:`Call` every handler receives."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from .notifications import Notification


class Call:
    """One phone call, as a handler sees it while a notification is being handled.

    ``state`` is a dict of JSON values that persists for the whole call: what a handler
    puts there, a later handler of the same call finds again, in any worker process.
    The other attributes come from the call's record and the notification being handled;
    billing (``date``, ``duration``, ``currency``, ``rate``, ``debit``) is set once the
    call has ended.
    """

    def __init__(self, key: str, record: dict[str, Any], notification: Notification,
                 step: str | None = None) -> None:
        self.key = key
        self.notification = notification
        self.step = step
        self.state: dict[str, Any] = record.setdefault("state", {})
        self._record = record

    @property
    def session(self) -> str:
        return self.notification.session

    @property
    def txn_ref(self) -> str | None:
        return self.notification.txn_ref or self._record.get("txn_ref")

    @property
    def direction(self) -> str:
        """``inbound`` for a call to a Hoiio Number, ``outbound`` for one made by ``ivr.dial``."""
        return str(self._record.get("direction", "inbound"))

    @property
    def from_number(self) -> str | None:
        return self.notification.from_number or self._record.get("from")

    @property
    def to_number(self) -> str | None:
        return self.notification.to_number or self._record.get("to")

    @property
    def dest(self) -> str | None:
        return self.notification.dest or self._record.get("dest")

    @property
    def call_state(self) -> str:
        return self.notification.call_state

    @property
    def tag(self) -> str | None:
        return self.notification.tag

    @property
    def digits(self) -> str | None:
        return self.notification.digits

    @property
    def record_url(self) -> str | None:
        return self.notification.record_url

    @property
    def transfer_status(self) -> str | None:
        return self.notification.transfer_status

    @property
    def dial_status(self) -> str | None:
        return self.notification.dial_status

    @property
    def date(self) -> datetime | None:
        return self.notification.date

    @property
    def duration(self) -> int | None:
        """Billed minutes, once the call has ended."""
        return self.notification.duration

    @property
    def currency(self) -> str | None:
        return self.notification.currency

    @property
    def rate(self) -> Decimal | None:
        return self.notification.rate

    @property
    def debit(self) -> Decimal | None:
        return self.notification.debit

    def __repr__(self) -> str:
        return f"<Call {self.session} {self.call_state} step={self.step!r}>"
