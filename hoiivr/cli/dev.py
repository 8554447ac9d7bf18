"""``hoiivr dev APP`` (the app and the simulator, and you are the caller) and ``hoiivr call``.

``dev`` does, in this order: bind both ports (so a taken one is reported before anything
else happens); start the simulator on a real clock; load the app and wire it to the
simulator (a client with the simulator's account, the app's local URL, a fresh secret
key: the app needs no credentials of its own); give the simulator a number that rings
the app's answer URL (a Hoiio Number, or a TwiML number for an app whose carrier is
``twilio``, its client then the simulator's Calls resource); serve the app; then call the
number and hand the terminal to a :class:`~hoiivr.cli.console.Console`. ``call`` is the same terminal phone, for a simulator
already running elsewhere (``hoiivr simulator``).
"""
from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
from flask import Flask

from .._server import Server, sigterm_as_interrupt
from ..carriers import carrier_class, carrier_name
from ..carriers.hoiio import HoiioClient
from ..config import Settings
from ..runtime import Runtime
from ..simulator import RealClock, Simulator, SimulatorServer
from ..simulator.trace import trace_of
from ..testing.app_errors import AppErrors
from ..testing.trace import step_names
from .console import Console, Speaker
from .line import Line, LineError
from .loader import LoadedApp, load
from .routes import app_gaps, gap_lines
from .run import bind, check_number, check_url, runtime_of

__all__ = ["call_command", "dev_command"]

HOST = "127.0.0.1"
DEFAULT_NUMBER = "+6560000000"
DEFAULT_CALLER = "+6591234567"
DEFAULT_SIM_URL = "http://127.0.0.1:8800"
#: The simulator account's credentials, unless the app's config sets its own.
APP_ID = "dev-app"
ACCESS_TOKEN = "dev-token"
#: The simulator's Twilio account, for an app whose carrier is ``twilio``.
ACCOUNT_SID, AUTH_TOKEN = "AC" + "0" * 31 + "2", "dev-auth-token"
ESPEAK = "espeak-ng"
#: The most simulated seconds a call spends with nothing for the caller to do: a phone that
#: rings out (30 s), prompts, the wait for an app's next block (60 s).
BUSIEST = 90.0


def find_speaker(wanted: bool) -> Speaker | None:
    """A :class:`Speaker` for ``--speak``; a clear error when espeak-ng is missing."""
    if not wanted:
        return None
    program = shutil.which(ESPEAK)
    if program is None:
        raise click.ClickException(f"--speak needs {ESPEAK}, which is not installed (on "
                                   "Debian or Ubuntu: sudo apt install espeak-ng; on macOS: "
                                   "brew install espeak-ng); without --speak the prompts "
                                   "are printed")
    return Speaker(program)


@contextlib.contextmanager
def quiet_request_log() -> Iterator[None]:
    """werkzeug's line per request would bury the call's timeline; warnings still show."""
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def wait_for_interrupt() -> None:
    """Block until Ctrl-C (``--no-call``)."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("")                  # after the terminal's ^C


def wire_to_simulator(stack: contextlib.ExitStack, loaded: LoadedApp, app_url: str,
                      api_url: str, number: str = DEFAULT_NUMBER) -> tuple[Flask, Runtime]:
    """Wire the loaded app to the simulator at ``api_url`` (its Hoiio API; its root for a
    Twilio app, which calls out from ``number``); what is wired is closed with ``stack``."""
    app, ivr = loaded.app, loaded.ivr
    settings = app.extensions["hoiivr"].settings
    twilio = carrier_name(settings) == "twilio"
    key = "TWILIO_API_URL" if twilio else "HOIIO_API_URL"
    used_api = _root(api_url) if twilio else api_url
    for key, used in ((key, used_api), ("HOIIVR_PUBLIC_URL", app_url)):
        if settings.get(key) not in (None, used):
            _note(f"the app's {key} is {settings.get(key)}; hoiivr dev uses {used}")
    parts = _twilio_parts(stack, settings, used_api, number) if twilio else \
        {"client": _hoiio_client(stack, api_url)}
    ivr.init_app(app, public_url=app_url, secret_key=secrets.token_urlsafe(32), **parts)
    runtime = runtime_of(ivr, app)
    stack.callback(runtime.close)
    return app, runtime


def _root(api_url: str) -> str:
    return api_url.rstrip("/").removesuffix("/open")


def _hoiio_client(stack: contextlib.ExitStack, api_url: str) -> HoiioClient:
    client = HoiioClient(APP_ID, ACCESS_TOKEN, base_url=api_url)
    stack.callback(client.close)
    return client


def _twilio_parts(stack: contextlib.ExitStack, settings: Settings, root: str,
                  number: str) -> dict[str, object]:
    """A Twilio carrier whose client is the simulator's Calls resource, calling out from
    ``number`` (the app's own TWILIO_FROM_NUMBER is not a number of the simulator)."""
    # Loaded here: the twilio package is an extra, needed only for Twilio apps (and
    # carrier_class says how to install it).
    carrier = carrier_class("twilio")
    from ..carriers.twilio.simulated import client_for
    client = client_for(ACCOUNT_SID, AUTH_TOKEN, root)
    stack.callback(client.http_client.session.close)
    overlay = Settings({**settings.config, **_simulator_account(settings),
                        "TWILIO_FROM_NUMBER": number}, settings.environ)
    return {"carrier": carrier.from_settings(overlay, client)}


def _simulator_account(settings: Settings) -> dict[str, str]:
    """The simulator's Twilio credentials, over the developer's: it signs its webhooks with
    its own auth token, so a real one (in the environment, say) would refuse every one."""
    used = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_WEBHOOK_SHARED_KEYS": ""}
    own = [key for key, value in used.items() if settings.get(key) not in (None, "", value)]
    if own:
        # Named, never shown: they are the developer's secrets.
        names = own[0] if len(own) == 1 else f"{', '.join(own[:-1])} and {own[-1]}"
        _note(f"the app's {names} {'is' if len(own) == 1 else 'are'} set; hoiivr dev uses "
              f"the simulator's Twilio account ({ACCOUNT_SID}) instead")
    return used


def add_numbers(sim: Simulator, runtime: Runtime, number: str, answer_url: str) -> None:
    """Give the simulator the number that rings the app, of the app's carrier's kind."""
    if runtime.carrier.name == "twilio":
        sim.add_twilio_account(ACCOUNT_SID, AUTH_TOKEN)
        sim.add_twiml_number(number, answer_url, status_callback=answer_url)
    else:
        sim.add_account(APP_ID, ACCESS_TOKEN)
        sim.add_number(number, answer_url)


def _note(text: str) -> None:
    click.secho(f"Note: {text}", fg="yellow", err=True)


def _has_web_page(sim: Simulator) -> bool:
    return any(rule.rule == "/" for rule in sim.wsgi_app.url_map.iter_rules())


def _banner(app_spec: str, app_url: str, answer_url: str, sim: SimulatorServer,
            number: str) -> None:
    lines = [f" * App {app_spec} on {app_url} (answer URL {answer_url})",
             f" * Hoiio simulator on {sim.url}",
             (f"     Hoiio API for any SDK:   {sim.url}/open/   (app_id={APP_ID}, "
              f"access_token={ACCESS_TOKEN})"),
             f"     Control API:             {sim.url}/sim/"]
    if _has_web_page(sim.sim):
        lines.append(f"     Softphone and inspector: {sim.url}/")
    twiml = number in sim.sim.directory.twiml_numbers
    kind = "TwiML number" if twiml else "Hoiio Number"
    if twiml:
        lines.append(f"     Twilio Calls API:        {sim.url}   (AccountSid={ACCOUNT_SID}, "
                     f"auth token={AUTH_TOKEN})")
    lines.append(f" * {kind} {number} rings the app.")
    click.echo("\n".join(lines))


def _warn_of_gaps(loaded: LoadedApp) -> None:
    """What ``hoiivr routes`` would list as gaps, before the call finds them."""
    for index, line in enumerate(gap_lines(app_gaps(loaded))):
        click.secho(f"{'   ' if index else ' ! '}{line}", fg="yellow", err=True)


@click.command("dev",
               short_help="Run APP on a local simulator, and be its caller here.")
@click.argument("app_spec", metavar="APP")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
              help="The app's port on 127.0.0.1 (0: any free port).")
@click.option("--sim-port", default=8800, show_default=True, type=click.IntRange(0, 65535),
              help="The simulator's port on 127.0.0.1 (0: any free port).")
@click.option("--number", default=DEFAULT_NUMBER, show_default=True, callback=check_number,
              help="The Hoiio Number that rings the app.")
@click.option("--from", "caller", default=DEFAULT_CALLER, show_default=True,
              callback=check_number, help="The number you call from.")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Run the simulator's clock this many times faster than real time.")
@click.option("--speak", is_flag=True, help=f"Say the prompts aloud too ({ESPEAK}).")
@click.option("--no-call", is_flag=True,
              help="Only serve the app and the simulator, until Ctrl-C.")
@click.option("--record", "record_dir", metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="On exit, write each call's trace to DIR, for `hoiivr replay`.")
@click.option("--unmask", is_flag=True,
              help="With --record: keep callers' numbers whole in the traces.")
def dev_command(app_spec: str, port: int, sim_port: int, number: str, caller: str,
                speed: float, speak: bool, no_call: bool, record_dir: Path | None,
                unmask: bool) -> None:
    """Run APP against a local Hoiio simulator, and be its caller in this terminal.

    APP is module:attr, a module, path/to/app.py or path/to/app.py:attr (a Flask app, an
    IVR or an app factory). The simulator routes a Hoiio Number to the app and calls it:
    prompts are printed as they are spoken, the keys you type are pressed, and every
    notification and request of the call scrolls by. Type /help during the call for the
    commands (/speak, /hangup, /call, /busy NUMBER, /quit, ...).

    \b
        hoiivr dev examples/auto_attendant.py
        hoiivr dev myapp:app --speed 5 --speak
        hoiivr dev examples/survey.py --record traces/
    """
    speaker = find_speaker(speak and not no_call)
    if record_dir is not None:
        _make_record_dir(record_dir)
    with contextlib.ExitStack() as stack:
        stack.enter_context(sigterm_as_interrupt())
        app_server = bind(Server(None, HOST, port))
        stack.callback(app_server.stop)
        sim = stack.enter_context(Simulator(clock=RealClock(speed=speed)))
        sim_server = bind(SimulatorServer(sim, HOST, sim_port), "--sim-port")
        stack.callback(sim_server.stop)
        loaded = load(app_spec)
        app, runtime = wire_to_simulator(stack, loaded, app_server.url,
                                         f"{sim_server.url}/open/", number)
        if record_dir is not None:
            stack.callback(write_traces, sim, runtime, record_dir, not unmask)
        answer_url = f"{app_server.url}{runtime.url_prefix}/answer"
        add_numbers(sim, runtime, number, answer_url)
        stack.enter_context(quiet_request_log())
        app_server.wsgi_app = app
        stack.callback(app_server.stop)      # before the runtime it serves is closed
        app_server.start()
        sim_server.start()
        _banner(app_spec, app_server.url, answer_url, sim_server, number)
        _warn_of_gaps(loaded)
        if no_call:
            click.echo(" * Press Ctrl-C to stop.")
            wait_for_interrupt()
        else:
            # The app runs here: its handlers' errors join the call's timeline.
            app_errors = AppErrors(sim.get_call)
            runtime.on_failure(app_errors)
            with Line(sim_server.url) as line:
                _phone(line, caller, number, speaker, settle_limit=BUSIEST / speed + 5,
                       app_errors=app_errors)
        # The simulator stops first: nothing may notify the app once it is gone.
        sim_server.stop()
        sim.close()
    click.echo("Stopped.")


def _make_record_dir(directory: Path) -> None:
    """Make ``--record``'s directory now: found unwritable at exit, it would lose every
    call the session recorded."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"--record {directory}: cannot make that directory "
                                   f"({exc.strerror}); give a directory you can write to"
                                   ) from None


def write_traces(sim: Simulator, runtime: Runtime, directory: Path, mask: bool) -> list[Path]:
    """Write the trace of every call the simulator ran to ``directory/<session>.jsonl``."""
    written = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for summary in sim.calls():
            trace = trace_of(sim.get_call(summary["session"]), recorded_by="dev",
                             step_of=step_names(runtime), mask=mask)
            written.append(trace.save(directory / f"{summary['session']}.jsonl"))
    except OSError as exc:                  # the directory went away during the session
        click.echo(f" ! Could not write the traces to {directory}: {exc}", err=True)
    click.echo(f" * Wrote {len(written)} trace{'s' if len(written) != 1 else ''} to "
               f"{directory} (replay: hoiivr replay {directory} --app APP)")
    return written


def _phone(line: Line, caller: str, number: str, speaker: Speaker | None,
           settle_limit: float, app_errors: AppErrors | None = None) -> None:
    console = Console(line, caller, number, speaker=speaker, scripted=not sys.stdin.isatty(),
                      settle_limit=settle_limit, app_errors=app_errors)
    try:
        console.run()
    except LineError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("call",
               short_help="Call a number of a running simulator, as its caller.")
@click.option("--to", "number", required=True, callback=check_number, metavar="NUMBER",
              help="The Hoiio Number to call (one the simulator knows).")
@click.option("--from", "caller", default=DEFAULT_CALLER, show_default=True,
              callback=check_number, help="The number you call from.")
@click.option("--sim", "sim_url", default=DEFAULT_SIM_URL, show_default=True,
              callback=check_url, help="The simulator's address.")
@click.option("--speak", is_flag=True, help=f"Say the prompts aloud too ({ESPEAK}).")
def call_command(number: str, caller: str, sim_url: str, speak: bool) -> None:
    """Call a Hoiio Number of a running simulator, and be the caller in this terminal.

    Start the simulator with `hoiivr simulator --number NUMBER=ANSWER_URL` (and your app
    with `hoiivr run`), then:

    \b
        hoiivr call --to +6560000000
    """
    speaker = find_speaker(speak)
    with Line(sim_url) as line:
        try:
            info = line.check()
        except LineError as exc:
            raise click.ClickException(str(exc)) from None
        if info["clock"] == "virtual":
            _note("this simulator runs on a virtual clock: time moves only when it is told "
                  "to (POST /sim/advance), so prompts and timeouts wait for that")
        _phone(line, caller, number, speaker, settle_limit=BUSIEST + 5)
