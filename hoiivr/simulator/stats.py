"""Per-account figures of the call limits: how close an account came to them.

A campaign runner (or any app placing many calls) must stay under the account's limits;
these figures prove it did: the most calls that were in progress at once, and how many
calls the simulator refused for going over a limit (the concurrent calls, or the rate of
requests). ``GET /sim/stats`` shows them; ``DELETE /sim/stats`` starts them again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class AccountStats:
    """One account's figures since the simulator started (or since :meth:`CallStats.reset`)."""

    #: The most calls in progress at once (ringing, dialling or talking; a TwiML call
    #: waiting in its account's queue is not in progress yet).
    peak_concurrent_calls: int = 0
    #: Calls refused for going over a limit: the concurrent calls, or the requests per second.
    refused_over_limit: int = 0
    #: Calls started (incoming and outgoing).
    calls: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"peak_concurrent_calls": self.peak_concurrent_calls,
                "refused_over_limit": self.refused_over_limit, "calls": self.calls}


class CallStats:
    """The figures of every account, by its id (a Hoiio app id, a Twilio AccountSid)."""

    def __init__(self) -> None:
        self.accounts: dict[str, AccountStats] = {}

    def of(self, account_id: str) -> AccountStats:
        return self.accounts.setdefault(account_id, AccountStats())

    def started(self, account_id: str, in_progress: int) -> None:
        """A call of the account started; ``in_progress`` calls are now in progress."""
        stats = self.of(account_id)
        stats.calls += 1
        stats.peak_concurrent_calls = max(stats.peak_concurrent_calls, in_progress)

    def refused(self, account_id: str) -> None:
        self.of(account_id).refused_over_limit += 1

    def reset(self) -> None:
        self.accounts.clear()

    def to_json(self) -> dict[str, Any]:
        return {"accounts": {name: stats.to_json() for name, stats in self.accounts.items()}}
