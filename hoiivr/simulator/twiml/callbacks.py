"""Status callbacks (TWIML.md §5) and the other requests whose answer changes nothing.

A call's ``StatusCallback`` hears the events it asked for (a number's: ``completed``
only), with the call's parameters, ``CallbackSource``, ``SequenceNumber`` from 0 and a
``Timestamp``; the terminal event adds ``CallDuration`` (seconds), ``Duration`` (minutes,
rounded up) and, for a call recorded whole, its recording. An answer of 4xx or 5xx is
warning 15003 in the timeline. Callbacks carry no cookies and keep none.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..calls import Session
from ..media import Recording
from ..notifier import CALLBACK
from .base import Base
from .state import Hook
from .webhooks import call_params, request


class Callbacks(Base):
    """Sends callbacks."""

    def status_event(self, s: Session, event: str, monitored: Recording | None = None) -> None:
        """Tell the call's status callback of ``event`` (initiated, ringing, answered,
        completed), if it asked for it."""
        t = self.call(s)
        if t.status_callback is None or event not in t.events:
            return
        params = call_params(s.id, t) + [
            ("CallbackSource", "call-progress-events"),
            ("SequenceNumber", str(next(t.sequence))), ("Timestamp", self.rfc2822())]
        if event == "completed":
            seconds = 0 if s.answered_at is None or s.ended_at is None \
                else round(s.ended_at - s.answered_at)
            minutes = s.billing.duration if s.billing else 0
            params += [("CallDuration", str(seconds)), ("Duration", str(minutes))]
            if monitored is not None:
                params += [("RecordingUrl", monitored.url), ("RecordingSid", monitored.id),
                           ("RecordingDuration", str(round(monitored.duration)))]
        self.callback(s, t.status_callback, f"status_callback:{event}", params)

    def callback(self, s: Session, hook: Hook, label: str,
                 params: Sequence[tuple[str, str]]) -> None:
        """Send a request whose answer changes nothing."""
        notice = request(s.id, self.call(s), hook, params, self.account(s), kind=CALLBACK,
                         label=label, cookies=False)
        s.undelivered += 1
        assert self.engine.outbox is not None
        self.engine.outbox.submit(notice)
