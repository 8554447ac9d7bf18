"""The app's side of a campaign: its webhooks record each campaign call's outcome.

The worker that places a call is not the process that hears how it went: the carrier
tells the app. ``Campaigns(ivr)`` adds listeners (``ivr.add_listener``) that, for a call
whose ``call.state`` carries the campaign's mark, record in Redis that it was answered, or
that it ended and how (busy, unanswered, failed), and give its slot back. The app's own
``on_dial_answered`` / ``on_hangup`` handlers stay the app's.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app

from ..call import Call
from ..config import Settings
from ..registry import Handlers
from .store import DEFAULT_PREFIX, CampaignStore

log = logging.getLogger("hoiivr.campaigns")

#: The key of ``call.state`` that marks a campaign call: ``{"name", "pool", "row",
#: "attempt"}``. The row's CSV columns are the rest of ``call.state``.
MARK = "_campaign"
EXTENSION = "hoiivr.campaigns"
#: What the carrier said of a call that was not answered, as the campaign counts it.
OUTCOMES = {"busy": "busy", "unanswered": "unanswered", "no-answer": "unanswered"}

_lock = threading.Lock()


class Campaigns:
    """Campaign calls of this IVR report their outcome (add it to the app module that the
    campaign's workers and the web server both load)::

        ivr = IVR(app)
        Campaigns(ivr)

    The campaigns' Redis is the app's ``HOIIVR_CAMPAIGNS_REDIS`` (default
    ``redis://127.0.0.1:6379/0``), their keys under ``HOIIVR_CAMPAIGNS_PREFIX`` (default
    ``hoiivr:campaigns``), in the app's config or the environment.
    """

    def __init__(self, ivr: Handlers) -> None:
        ivr.add_listener("dial_answered", self.answered)
        ivr.add_listener("hangup", self.ended)

    def answered(self, call: Call) -> None:
        self._record(call, "answered", "answered")

    def ended(self, call: Call) -> None:
        status = call.dial_status or ""
        self._record(call, "ended", "answered" if status == "answered"
                     else OUTCOMES.get(status, "failed"))

    def _record(self, call: Call, event: str, status: str) -> None:
        mark = call.state.get(MARK)
        if not isinstance(mark, dict):
            return                          # not a campaign call
        store = store_for(current_app._get_current_object())  # type: ignore[attr-defined]
        verdict = store.outcome(str(mark["name"]), str(mark["pool"]), str(mark["row"]),
                                int(mark["attempt"]), call.dest or "", event, status)
        log.info("%s: campaign %s row %s attempt %s %s (%s)", call.session, mark["name"],
                 mark["row"], mark["attempt"], event, status if verdict == "ok" else verdict)


def installed(ivr: Handlers) -> bool:
    """Whether ``Campaigns(ivr)`` was called: else nothing would record the outcomes."""
    return any(isinstance(getattr(listener, "__self__", None), Campaigns)
               for listener in ivr.listeners.get("hangup", ()))


def store_for(app: Flask) -> CampaignStore:
    """The campaigns' store of ``app``, made from its config the first time."""
    with _lock:
        store = app.extensions.get(EXTENSION)
        if not isinstance(store, CampaignStore):
            settings = Settings(app.config)
            store = CampaignStore.from_url(
                str(settings.get("HOIIVR_CAMPAIGNS_REDIS", "redis://127.0.0.1:6379/0")),
                str(settings.get("HOIIVR_CAMPAIGNS_PREFIX", DEFAULT_PREFIX)))
            app.extensions[EXTENSION] = store
        return store


def campaign_mark(name: str, pool: str, row: str, attempt: int) -> dict[str, Any]:
    return {"name": name, "pool": pool, "row": row, "attempt": attempt}
