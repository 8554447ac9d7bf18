"""``hoiivr campaign``: outbound call campaigns on a shared queue (hoiivr[campaigns]).

``start`` stores a campaign and queues one job per number, ``worker`` runs the processes
that place the calls, ``status`` shows how far it is, ``dnc`` keeps the do-not-call list.
The campaign code is imported when a command runs, so that ``hoiivr`` works without the
extra installed.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click

from ..errors import HoiivrError, install_hint

EXTRA_HINT = install_hint("campaigns")
REDIS_ENV, PREFIX_ENV = "HOIIVR_CAMPAIGNS_REDIS", "HOIIVR_CAMPAIGNS_PREFIX"


def _needs_extra() -> None:
    try:
        import dramatiq  # noqa: F401
        import redis  # noqa: F401
    except ImportError:
        raise click.ClickException(f"campaigns need Dramatiq and redis: {EXTRA_HINT}") \
            from None


@click.group("campaign", short_help="Place outbound call campaigns within carrier limits.")
def campaign_command() -> None:
    """Outbound call campaigns: many calls, under the carrier's limits, from many workers.

    \b
    hoiivr campaign start APP numbers.csv --name reminders
    hoiivr campaign worker APP --processes 3
    hoiivr campaign status reminders --follow
    """


@campaign_command.command("start", short_help="Queue a call to each number of a CSV file.")
@click.argument("app")
@click.argument("numbers", type=click.File("r", encoding="utf-8"))
@click.option("--name", required=True, help="The campaign's name (one word).")
@click.option("--concurrency", type=click.IntRange(1), default=None,
              help="Calls in progress at once, account-wide (default: the carrier's limit).")
@click.option("--cps", type=click.FloatRange(0, min_open=True), default=None,
              help="New calls a second, account-wide (default: the carrier's limit).")
@click.option("--attempts", type=click.IntRange(1), default=3, show_default=True,
              help="Calls of one number at most, when busy, unanswered or failed.")
@click.option("--backoff", type=click.FloatRange(0), default=60.0, show_default=True,
              help="Seconds before the first retry; doubled for each one after.")
@click.option("--max-backoff", type=click.FloatRange(0), default=3600.0, show_default=True)
@click.option("--window", default=None, help="Calling hours, e.g. 09:00-20:00.")
@click.option("--tz", default="UTC", show_default=True,
              help="The calling hours' time zone, e.g. Asia/Singapore.")
@click.option("--dnc", type=click.File("r", encoding="utf-8"), default=None,
              help="A file of numbers never to call (one a line), added to the list.")
@click.option("--step", default=None,
              help="The on_dial_answered step the calls are placed with.")
@click.option("--msg", default=None, help="What the callee hears on answering (Dial msg).")
@click.option("--caller-id", default=None)
@click.option("--max-duration", type=click.IntRange(1), default=600, show_default=True,
              help="Seconds a call may last.")
@click.option("--lease", type=click.FloatRange(0, min_open=True), default=None,
              help="Seconds a call may go unheard of before its slot is taken back "
                   "(default: --max-duration + 5 minutes).")
@click.option("--pool", default=None,
              help="Whose limits these are (default: the carrier and its account).")
def start_command(app: str, numbers: TextIO, name: str, dnc: TextIO | None,
                  **options: Any) -> None:
    """Queue a call to each number of NUMBERS (a CSV file; its other columns become each
    call's call.state)."""
    _needs_extra()
    from ..campaigns.launch import defaults_for, start_campaign
    from .loader import load_app
    flask_app, _ = load_app(app)
    if options["lease"] is None:
        options["lease"] = float(options["max_duration"]) + 300.0
    blocked = [line.strip() for line in dnc if line.strip()] if dnc else None
    import redis
    try:
        settings = defaults_for(flask_app, name, **options)
        started = start_campaign(flask_app, numbers, settings, blocked)
    except HoiivrError as exc:
        raise click.ClickException(str(exc)) from None
    except redis.RedisError as exc:
        raise click.ClickException(f"the campaigns' Redis failed ({exc}); start redis-server "
                                   f"or set {REDIS_ENV}") from None
    s = started.settings
    click.echo(f"campaign {s.name}: {started.rows} numbers, {started.sent} queued"
               f"{'' if started.new else ' again (it had started before)'}; at most "
               f"{s.concurrency or 'any number of'} calls at once, "
               f"{s.cps or 'any number of'} a second, {s.attempts} attempts"
               f"{f', calling {s.calling_window()}' if s.window else ''}")
    if started.duplicates:
        click.echo(f"numbers given twice, called once: lines "
                   f"{', '.join(map(str, started.duplicates))}")


@campaign_command.command("worker", short_help="Run worker processes that place the calls.")
@click.argument("app")
@click.option("--processes", type=click.IntRange(1), default=1, show_default=True)
@click.option("--threads", type=click.IntRange(1), default=8, show_default=True,
              help="Jobs at once per process; each holds a call while it is live.")
@click.option("--heartbeat", type=click.FloatRange(1), default=60.0, show_default=True,
              help="Seconds after which a silent worker's jobs go to the others.")
def worker_command(app: str, processes: int, threads: int, heartbeat: float) -> None:
    """Run worker processes that place the campaigns' calls (on any number of hosts)."""
    _needs_extra()
    import logging

    from ..campaigns.process import Supervisor, check_app
    from .loader import load_app
    _, ivr = load_app(app)                  # a bad APP is reported here, not N times
    try:
        check_app(ivr)
    except HoiivrError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(message)s")
    Supervisor(app, processes, threads, heartbeat).run()


@contextmanager
def _store(redis_url: str, prefix: str) -> Iterator[Any]:
    """The campaigns' store; a Redis that fails, a message that says how to fix it (the
    ``hoiivr`` command prints hoiivr's own errors so)."""
    _needs_extra()
    import redis

    from ..campaigns.store import CampaignStore
    store = CampaignStore.from_url(redis_url, prefix)
    try:
        yield store
    except redis.RedisError as exc:
        raise click.ClickException(f"the campaigns' Redis failed ({exc}); start redis-server "
                                   f"or give its URL with --redis or ${REDIS_ENV}") from None
    finally:
        store.close()


_redis_option = click.option("--redis", "redis_url", envvar=REDIS_ENV,
                             default="redis://127.0.0.1:6379/0", show_default=True,
                             help=f"The campaigns' Redis (or ${REDIS_ENV}).")
_prefix_option = click.option("--prefix", envvar=PREFIX_ENV, default="hoiivr:campaigns",
                              show_default=True, help=f"Their keys' prefix (or ${PREFIX_ENV}).")


@campaign_command.command("status")
@click.argument("name")
@click.option("--follow", is_flag=True, help="Keep showing it until the campaign is done.")
@click.option("--every", type=click.FloatRange(0.1), default=1.0, show_default=True,
              help="Seconds between two looks, with --follow.")
@_redis_option
@_prefix_option
def status_command(name: str, follow: bool, every: float, redis_url: str, prefix: str) -> None:
    """Show a campaign's counts and a progress bar."""
    with _store(redis_url, prefix) as store:
        from ..campaigns.status import Progress
        store.settings(name)
        shown: list[str] = []
        while True:
            progress = Progress.of(store.counts(name))
            lines = progress.lines(name)
            if lines != shown:
                _show(lines, redraw=bool(shown) and sys.stdout.isatty())
                shown = lines
            if not follow or progress.done:
                return
            time.sleep(every)


def _show(lines: list[str], redraw: bool) -> None:
    if redraw:
        click.echo(f"\x1b[{len(lines)}F\x1b[J", nl=False)   # over the lines shown before
    click.echo("\n".join(lines))


@campaign_command.command("dnc", short_help="Add numbers to the do-not-call list, or remove them.")
@click.argument("numbers", nargs=-1, required=True)
@click.option("--remove", is_flag=True, help="Take the numbers off the list instead.")
@_redis_option
@_prefix_option
def dnc_command(numbers: tuple[str, ...], remove: bool, redis_url: str, prefix: str) -> None:
    """Add NUMBERS to the do-not-call list (checked before every call, in every campaign)."""
    with _store(redis_url, prefix) as store:
        changed = store.may_call_again(numbers) if remove else store.do_not_call(numbers)
    click.echo(f"{changed} number(s) {'taken off' if remove else 'added to'} the "
               "do-not-call list")


__all__ = ["campaign_command"]
