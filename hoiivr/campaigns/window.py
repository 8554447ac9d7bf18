"""Calling windows: the hours of the day, in the called people's time zone, when calls may
start (``--window 09:00-20:00 --tz Asia/Singapore``)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import CampaignError

_SHAPE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class Window:
    """Calls start from ``start`` until ``end`` (local time in ``tz``), every day. A window
    whose end is before its start runs past midnight (``21:00-02:00``)."""

    start: time
    end: time
    tz: str

    @classmethod
    def parse(cls, text: str, tz: str = "UTC") -> Window:
        """``"09:00-20:00"`` in the time zone ``tz`` (an IANA name)."""
        match = _SHAPE.match(text.strip())
        if match is None:
            raise CampaignError(f"window {text!r} must be HH:MM-HH:MM, e.g. 09:00-20:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        end = time.max if (h2, m2) == (24, 0) else time(h2 % 24, m2)
        if (h2, m2) == (24, 0) or time(h1, m1) != end:
            _zone(tz)
            return cls(time(h1, m1), end, tz)
        raise CampaignError(f"window {text!r} is empty; give two different times")

    def __str__(self) -> str:
        end = "24:00" if self.end == time.max else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end} {self.tz}"

    def opens_in(self, now: datetime) -> float:
        """Seconds from ``now`` (aware) until calls may start: 0 inside the window."""
        local = now.astimezone(_zone(self.tz))
        if self._inside(local.time()):
            return 0.0
        opening = local.replace(hour=self.start.hour, minute=self.start.minute, second=0,
                                microsecond=0)
        if opening <= local:
            # Wall-clock arithmetic in the zone: 09:00 tomorrow, whatever the offset then.
            opening = opening + timedelta(days=1)
        # Through UTC, so that a day with a daylight-saving change is counted rightly.
        return max(0.0, (opening.astimezone(timezone.utc) - now.astimezone(timezone.utc))
                   .total_seconds())

    def _inside(self, clock: time) -> bool:
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise CampaignError(f"time zone {tz!r} is unknown; give an IANA name, e.g. "
                            "Asia/Singapore") from None
