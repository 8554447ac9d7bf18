"""What a campaign is: its name, its numbers' limits, its retries and its hours.

Stored with the campaign in Redis when it starts, so that every worker on every host runs
it the same way.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import CampaignError
from .window import Window

#: A carrier's own limits per account: (calls in progress at once, new calls a second);
#: None where the carrier sets none. Hoiio allows 8 concurrent calls; Twilio places 1 call
#: a second (by default; it queues the rest).
CARRIER_LIMITS: dict[str, tuple[int | None, float | None]] = {
    "hoiio": (8, None),
    "twilio": (None, 1.0),
}

#: The outcomes of a call that was not answered, which are tried again (``lost``: nothing
#: was heard of the call within its lease, see :attr:`CampaignSettings.lease`).
RETRIED = ("busy", "unanswered", "failed", "lost")


@dataclass(frozen=True)
class CampaignSettings:
    """A campaign's rules. ``concurrency`` and ``cps`` are for the whole account, across
    every worker and host (None: no limit); ``attempts`` counts every call of a number,
    the first included; the n-th retry waits ``backoff * 2**(n-1)`` seconds, at most
    ``max_backoff``; ``lease``: how long a call may go unheard of (no answer, no end)
    before its slot is taken back and the number counted ``lost``; ``step``: the
    ``on_dial_answered`` step name its calls are placed with."""

    name: str
    pool: str
    concurrency: int | None = 8
    cps: float | None = None
    attempts: int = 3
    backoff: float = 60.0
    max_backoff: float = 3600.0
    window: str | None = None
    tz: str = "UTC"
    step: str | None = None
    msg: str | None = None
    caller_id: str | None = None
    max_duration: int | None = 600
    lease: float = 900.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "\t\n/ "):
            raise CampaignError(f"campaign name {self.name!r}: give a word with no spaces "
                                "or slashes, e.g. reminders-2024-05")
        if self.concurrency is not None and self.concurrency < 1:
            raise CampaignError("--concurrency must be at least 1 call")
        if self.cps is not None and not self.cps > 0:
            raise CampaignError("--cps must be more than 0 calls a second")
        if self.attempts < 1:
            raise CampaignError("--attempts must be at least 1 (the first call)")
        if self.backoff < 0 or self.max_backoff < self.backoff:
            raise CampaignError("--backoff must be 0 or more, and at most --max-backoff")
        if self.lease <= 0:
            raise CampaignError("the lease must be more than 0 seconds")
        self.calling_window()                   # a bad window is refused at once

    def calling_window(self) -> Window | None:
        return Window.parse(self.window, self.tz) if self.window else None

    def backoff_before(self, attempt: int) -> float:
        """Seconds to wait before call number ``attempt`` (2 for the first retry)."""
        return float(min(self.max_backoff, self.backoff * 2 ** max(0, attempt - 2)))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> CampaignSettings:
        return cls(**json.loads(text))


def carrier_limits(carrier: str) -> tuple[int | None, float | None]:
    """The default ``(concurrency, cps)`` of a campaign on ``carrier``."""
    return CARRIER_LIMITS.get(carrier, (None, None))
