"""The task queue: Dramatiq on the campaigns' Redis.

One message per number to call (and per retry, sent with its backoff as Dramatiq's delay).
Dramatiq's Redis broker keeps each message a worker fetched until that worker acks it;
the messages of a worker that stops beating (killed, its host gone) go back to the queue
``heartbeat`` seconds later, and another worker runs them.
"""
from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import CurrentMessage, Retries

from .runner import Runner

QUEUE = "hoiivr-campaigns"
ACTOR = "hoiivr_campaign_call"
#: Out of a million broker commands, how many also look for dead workers' messages: one in
#: ten, so that they are found within seconds of their heartbeat lapsing (Dramatiq's
#: default, one in a thousand, takes minutes when the queue is quiet).
MAINTENANCE_CHANCE = 100_000


class CampaignQueue:
    """The queue of the campaigns under ``prefix`` in the Redis at ``url``."""

    def __init__(self, url: str, prefix: str, heartbeat: float = 60.0) -> None:
        # A job that raised (Redis unreachable, say) is run again: it resumes where the
        # shared state says the row stands.
        # CurrentMessage: a job knows its message's id, the same at each delivery.
        middleware = [CurrentMessage(), Retries(max_retries=50, min_backoff=1000,
                                                max_backoff=60_000)]
        self.broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=url, namespace=prefix.rstrip(":") + ":dramatiq", middleware=middleware,
            heartbeat_timeout=int(heartbeat * 1000), maintenance_chance=MAINTENANCE_CHANCE)
        self.runner: Runner | None = None
        self.actor: dramatiq.Actor[Any, Any] = dramatiq.actor(
            broker=self.broker, actor_name=ACTOR, queue_name=QUEUE)(self._perform)

    def send(self, name: str, row_id: str, attempt: int, delay: float = 0.0) -> None:
        """Ask for the call of ``attempt`` at ``row_id``, in ``delay`` seconds."""
        delay_ms = int(delay * 1000)
        self.actor.send_with_options(args=(name, row_id, attempt),
                                     delay=delay_ms if delay_ms > 0 else None)

    def _perform(self, name: str, row_id: str, attempt: int) -> None:
        if self.runner is None:
            raise RuntimeError("this queue only sends: give it a Runner to run jobs")
        message = CurrentMessage.get_current_message()
        self.runner.run(name, row_id, attempt, message.message_id if message else None)

    def worker(self, threads: int) -> dramatiq.Worker:
        return dramatiq.Worker(self.broker, queues={QUEUE}, worker_threads=threads)

    def close(self) -> None:
        self.broker.close()
