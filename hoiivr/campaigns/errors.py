"""The campaign runner's errors: each says what to do about it."""
from __future__ import annotations

from ..errors import HoiivrError


class CampaignError(HoiivrError):
    """A campaign cannot be started, run or shown as asked (the message says why)."""
