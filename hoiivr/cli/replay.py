"""``hoiivr replay PATH... --app APP``: recorded calls run again against today's code."""
from __future__ import annotations

import click

from ..simulator.trace import Trace, TraceError
from ..testing.replays import replay_trace, trace_files
from .loader import load_app

__all__ = ["replay_command"]


@click.command("replay",
               short_help="Replay recorded calls against APP, and compare.")
@click.argument("paths", metavar="PATH...", nargs=-1, required=True)
@click.option("--app", "app_spec", required=True, metavar="APP",
              help="The app to replay the calls against (module:attr or path/to/app.py).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the calls that went differently.")
@click.pass_context
def replay_command(ctx: click.Context, paths: tuple[str, ...], app_spec: str,
                   quiet: bool) -> None:
    """Replay recorded calls (traces) against APP on a virtual clock, and compare.

    Each PATH is a trace file (JSON lines, from `hoiivr dev --record DIR` or a test's
    call.save_trace(path)) or a directory of them (*.jsonl). Each call is placed again,
    the caller's keys, speech and hang-up happen at the same virtual times, and what the
    app did (the blocks and steps it sent, the prompts heard, transfers, recordings, the
    end) is compared with the recording. The exit status is 0 when every call went the
    same way, else 1, with the first difference of each call:

    \b
        hoiivr replay tests/traces --app examples/survey.py
        hoiivr replay call-1.jsonl call-2.jsonl --app myapp:app
    """
    try:
        traces = [Trace.load(path) for path in trace_files(paths)]
    except TraceError as exc:
        raise click.ClickException(str(exc)) from None
    if not traces:
        raise click.ClickException(f"no trace files (*.jsonl) in {', '.join(paths)}")
    app, _ = load_app(app_spec)
    try:
        results = [replay_trace(trace, app) for trace in traces]
    except TraceError as exc:          # recorded on another carrier than the app's
        raise click.ClickException(str(exc)) from None
    for result in results:
        if not (quiet and result.ok):
            click.echo(result.report())
    failed = sum(not result.ok for result in results)
    summary = f"{len(results) - failed} of {len(results)} calls went the same way"
    click.secho(summary, fg="red" if failed else "green")
    ctx.exit(1 if failed else 0)
