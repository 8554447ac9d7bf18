"""One job: one number's turn in a campaign, from the message that asks for its call.

A job may run twice (a message delivered again, a worker that died holding it): each step
is a compare-and-set in Redis (:mod:`.scripts`), so that a number is dialled at most once
per attempt, never while another call to it is live, and never again once answered. The
job that holds a row keeps a short *hold* on it, renewed while it waits; a copy of its
message that comes meanwhile is dropped, and a copy that comes after the holder died
takes the row over where it stood.
"""
from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timezone

from ..errors import ApiError, ClientError, NetworkError
from .numbers import Row
from .settings import RETRIED, CampaignSettings
from .store import CampaignStore

log = logging.getLogger("hoiivr.campaigns")

#: Carrier refusals that say "not now" about the account, not about the number: the
#: attempt is not counted, and is made again when a slot frees.
LIMIT_REFUSALS = frozenset({"error_concurrent_call_limit_reached", "error_rate_limit_exceeded",
                            "20429", "429"})

#: Places one call; returns its session. Raises the carrier's ClientError.
Dial = Callable[[CampaignSettings, Row, int], str]
#: Sends the message for (campaign, row, attempt) again, in so many seconds.
Schedule = Callable[[str, str, int, float], None]


class Runner:
    """Runs the jobs of campaigns stored in ``store``, placing calls with ``dial``."""

    #: How long a job's hold on its row lasts unless renewed (renewed every third).
    hold = 15.0
    #: The hold while the carrier's request for a call is in flight: longer than the
    #: slowest request a client makes (its timeouts, its waits on a busy reply), which
    #: cannot renew it meanwhile. A copy of the message then is dropped; a redelivery
    #: of this same one, after its worker died, takes the row over all the same.
    dial_hold = 120.0
    #: The longest wait between two looks at the shared state.
    poll = 1.0
    #: A row due within this many seconds waits here rather than being sent again.
    soon = 2.0

    def __init__(self, store: CampaignStore, dial: Dial, schedule: Schedule,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.store = store
        self.dial = dial
        self.schedule = schedule
        self.now = now

    def run(self, name: str, row_id: str, attempt: int, token: str | None = None) -> str:
        """The job of a message: returns what became of it (for the log and tests).

        ``token`` names the message (its id, the same each time it is delivered): a row
        held under it is taken over, since only a worker that died (or stalled past its
        heartbeat) lets its message be delivered again. A row held under another token is
        another message's, which comes back if its worker dies: this copy is dropped.
        """
        token = token or secrets.token_hex(8)
        claim = self.store.claim(name, row_id, attempt, token, self._hold_ms)
        if claim[0] == "forward":
            # The row moved on but its next message may never have been sent (the job
            # before died in between): send it again; a duplicate is dropped.
            self.schedule(name, row_id, int(claim[1]), _until(int(claim[2])))
            return "forwarded"
        if claim[0] != "run":
            return claim[0]
        try:
            settings = self.store.settings(name)
            return Turn(self, settings, self.store.row(name, row_id), attempt, token).run(
                claim[1])
        finally:
            self.store.let_go(name, row_id, token)

    @property
    def _hold_ms(self) -> int:
        return int(self.hold * 1000)


class Turn:
    """One attempt at one row, held by one job."""

    def __init__(self, runner: Runner, settings: CampaignSettings, row: Row, attempt: int,
                 token: str) -> None:
        self.runner, self.store = runner, runner.store
        self.settings, self.row, self.attempt, self.token = settings, row, attempt, token

    def run(self, phase: str) -> str:
        while True:
            if phase == "pending":
                wait = self._not_yet()
                if wait > self.runner.soon:
                    self.runner.schedule(self.settings.name, self.row.id, self.attempt, wait)
                    return "later"
                time.sleep(wait)
                phase = self._place()
            elif phase in ("dialing", "live", "answered"):
                # An answered call holds its slot (and counts live) until the app hears it
                # end: the job waits for that as for any call in progress, so that if the
                # end webhook is lost, the call's lease runs out and gives the slot back.
                phase = self._await()
            elif phase == "ended":
                return self._next()
            else:
                return phase                # answered, done, or moved on by another job

    def _not_yet(self) -> float:
        """Seconds until this attempt may start: its backoff, then the calling window."""
        progress = self.store.progress(self.settings.name, self.row.id)
        wait = _until(int(progress.get("not_before") or 0))
        window = self.settings.calling_window()
        if window is not None:
            wait = max(wait, window.opens_in(self.runner.now()))
        return wait

    def _holding(self) -> bool:
        return self.store.refresh(self.settings.name, self.row.id, self.token,
                                  self.runner._hold_ms)

    def _place(self) -> str:
        """Take a slot of the account's pool, then dial; the row's phase after."""
        pool = self.settings.pool
        while True:
            verdict = self.store.start(self.settings, self.row, self.attempt, self.token)
            if verdict[0] == "go":
                break
            if verdict[0] in ("dnc", "moved", "lost_hold"):
                return "done" if verdict[0] == "dnc" else verdict[0]
            if verdict[0] == "pace":
                time.sleep(min(int(verdict[1]) / 1000, self.runner.poll))
            else:                           # full, or this number is on another call
                seconds = int(verdict[1]) / 1000 if verdict[0] == "full" else self.runner.poll
                self.store.wait_for_slot(pool, min(seconds, self.runner.poll))
            if not self._holding():
                return "lost_hold"
            if self._closed():
                return "pending"            # waited past the calling window's end
        return self._dial()

    def _closed(self) -> bool:
        """Whether the calling window has closed (while a slot was waited for)."""
        window = self.settings.calling_window()
        return window is not None and window.opens_in(self.runner.now()) > 0

    def _dial(self) -> str:
        name, row = self.settings.name, self.row
        self.store.refresh(name, row.id, self.token, int(self.runner.dial_hold * 1000))
        try:
            session = self.runner.dial(self.settings, row, self.attempt)
        except ApiError as exc:
            if exc.status in LIMIT_REFUSALS:
                log.warning("campaign %s: the carrier refused a call over its limits (%s): "
                            "is another program calling from this account? Lower "
                            "--concurrency/--cps", name, exc.status)
                self.store.release(self.settings, row, self.attempt, self.token, "pending")
                self.store.wait_for_slot(self.settings.pool, self.runner.poll)
                return "pending"
            log.warning("campaign %s: %s refused: %s", name, row.number, exc.status)
            self.store.release(self.settings, row, self.attempt, self.token, "failed")
            return "ended"
        except NetworkError as exc:
            if exc.sent:
                # It may have been placed: its webhooks will say, or its lease runs out.
                log.warning("campaign %s: no reply to the call to %s (%s); waiting for its "
                            "webhooks", name, row.number, exc)
                return "dialing"
            self.store.release(self.settings, row, self.attempt, self.token, "pending")
            self.store.wait_for_slot(self.settings.pool, self.runner.poll)
            return "pending"
        except ClientError as exc:
            log.warning("campaign %s: %s could not be called: %s", name, row.number, exc)
            self.store.release(self.settings, row, self.attempt, self.token, "failed")
            return "ended"
        log.info("campaign %s: calling %s (row %s, attempt %d): %s", name, row.number, row.id,
                 self.attempt, session)
        return self.store.dialed(name, row.id, self.attempt, session)

    def _await(self) -> str:
        """Wait for the app to hear how the call went and that it ended, or for its lease
        to run out."""
        name, row = self.settings.name, self.row
        while True:
            progress = self.store.progress(name, row.id)
            phase = progress.get("phase", "")
            if progress.get("attempt") != str(self.attempt):
                return "moved"
            if phase not in ("dialing", "live", "answered"):
                return phase
            left = _until(int(progress.get("deadline") or 0))
            if left <= 0:
                verdict = self.store.expire(self.settings, row, self.attempt, self.token)
                if verdict == "lost_hold":
                    return verdict
                if verdict == "ended":
                    log.warning("campaign %s: nothing was heard of the call to %s within its "
                                "lease (%g s); counted lost", name, row.number,
                                self.settings.lease)
                elif verdict == "done":
                    log.warning("campaign %s: the answered call to %s was not heard to end "
                                "within its lease (%g s); its slot is taken back", name,
                                row.number, self.settings.lease)
                left = self.runner.poll
            self.store.wait_for_news(name, row.id, min(left, self.runner.poll * 5))
            if not self._holding():
                return "lost_hold"

    def _next(self) -> str:
        """After a call that was not answered: the next attempt, or no more."""
        outcome = self.store.progress(self.settings.name, self.row.id).get("outcome", "")
        retry = outcome in RETRIED and self.attempt < self.settings.attempts
        delay = self.settings.backoff_before(self.attempt + 1) if retry else 0.0
        verdict = self.store.advance(self.settings.name, self.row.id, self.attempt, self.token,
                                     retry, int(delay * 1000))
        if verdict[0] != "ok":
            return verdict[0]
        if not retry:
            return "exhausted"
        self.runner.schedule(self.settings.name, self.row.id, self.attempt + 1, delay)
        return "retry"


def _until(epoch_ms: int) -> float:
    """Seconds from now until ``epoch_ms`` (0 if past)."""
    return max(0.0, epoch_ms / 1000 - time.time())
