"""Starting a campaign: its rows and rules into Redis, one message per row onto the queue.

Starting the same campaign again (same name, same numbers) is safe: it sends the message
of every row not yet finished once more, and a message for a row already in hand is
dropped. So a start that died half-way is finished by running it again.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TextIO

from flask import Flask

from ..carriers import carrier_name
from ..config import Settings
from .hook import store_for
from .numbers import read_numbers
from .process import queue_for
from .settings import CampaignSettings, carrier_limits

#: The setting that names the account, per carrier: the pool of slots is the account's.
ACCOUNT_SETTINGS = {"hoiio": "HOIIO_APP_ID", "twilio": "TWILIO_ACCOUNT_SID"}


@dataclass(frozen=True)
class Started:
    """What :func:`start_campaign` did."""

    settings: CampaignSettings
    rows: int
    sent: int
    duplicates: list[int]
    new: bool


def defaults_for(app: Flask, name: str, **options: Any) -> CampaignSettings:
    """The campaign's settings: ``options`` given (None: not given) over the carrier's
    limits and the account's pool."""
    settings = Settings(app.config)
    carrier = carrier_name(settings)
    concurrency, cps = carrier_limits(carrier)
    account = settings.get(ACCOUNT_SETTINGS.get(carrier, "")) or "default"
    given = {k: v for k, v in options.items() if v is not None}
    given.setdefault("pool", f"{carrier}:{account}")
    given.setdefault("concurrency", concurrency)
    given.setdefault("cps", cps)
    return CampaignSettings(name=name, **given)


def start_campaign(app: Flask, source: TextIO, settings: CampaignSettings,
                   do_not_call: list[str] | None = None) -> Started:
    """Store the campaign and send a message for each of its unfinished rows."""
    numbers = read_numbers(source)
    store = store_for(app)
    if do_not_call:
        store.do_not_call(do_not_call)
    new = store.create(settings, numbers.rows)
    if not new:
        settings = replace(settings, **_stored(store.settings(settings.name)))
    queue = queue_for(app)
    sent = 0
    try:
        for row in numbers.rows:
            progress = store.progress(settings.name, row.id)
            if progress.get("final"):
                continue
            queue.send(settings.name, row.id, int(progress.get("attempt") or 1))
            sent += 1
    finally:
        queue.close()
    return Started(settings, len(numbers.rows), sent, numbers.duplicates, new)


def _stored(settings: CampaignSettings) -> dict[str, Any]:
    """A campaign started again keeps the rules it was started with."""
    return {k: v for k, v in vars(settings).items() if k != "name"}
