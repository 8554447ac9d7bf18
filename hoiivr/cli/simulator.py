"""``hoiivr simulator``: a standalone Hoiio (and Twilio voice) for any SDK, with its
softphone page."""
from __future__ import annotations

import ipaddress
import logging
import sys
from dataclasses import fields

import click

from ..simulator import RealClock, Simulator, SimulatorError, SimulatorServer
from ..simulator.faults import Faults

__all__ = ["simulator_command"]

#: The Twilio account of the simulator, unless given: an AccountSid in Twilio's shape.
ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "sim-auth-token"


def _faults(specs: tuple[str, ...]) -> dict[str, object]:
    values: dict[str, object] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep:
            raise click.BadParameter(f"{spec!r} is not NAME=VALUE, e.g. duplicate=0.1",
                                     param_hint="--fault")
        values[name.strip()] = value.strip()
    try:
        return Faults.coerce(values)
    except SimulatorError as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from None


def _numbers(specs: tuple[str, ...], option: str = "--number",
             form: str = "NUMBER=FORWARD_TO",
             example: str = "+6560000000=http://127.0.0.1:5000/hoiio/answer"
             ) -> list[tuple[str, str | None]]:
    numbers = []
    for spec in specs:
        number, sep, url = spec.partition("=")
        if not sep:
            raise click.BadParameter(f"{spec!r} is not {form}, e.g. {example}",
                                     param_hint=option)
        numbers.append((number.strip(), url.strip() or None))
    return numbers


def _shared_key(spec: str | None) -> tuple[str, str] | None:
    if spec is None:
        return None
    key_id, sep, secret = spec.partition("=")
    if not (sep and key_id.strip() and secret.strip()):
        raise click.BadParameter(f"{spec.split('=')[0]!r}... is not ID=SECRET, e.g. "
                                 "KS1=my-shared-secret", param_hint="--shared-key")
    return key_id.strip(), secret.strip()


@click.command("simulator",
               short_help="Run a local Hoiio (and Twilio voice) for apps and SDKs.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8800, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")
@click.option("--app-id", default="sim-app", show_default=True, help="The account's app_id.")
@click.option("--access-token", default="sim-token", show_default=True,
              help="The account's access_token (it also signs notifications).")
@click.option("--number", "numbers", multiple=True, metavar="NUMBER=FORWARD_TO",
              help="A Hoiio Number and the URL its incoming calls notify; repeatable.")
@click.option("--twiml-number", "twiml_numbers", multiple=True, metavar="NUMBER=URL",
              help="A TwiML number and its Voice URL: a call to it requests the URL and "
                   "runs the TwiML it returns, as Twilio does; repeatable.")
@click.option("--voice-method", type=click.Choice(["GET", "POST"]), default="POST",
              show_default=True, help="How the TwiML numbers request their Voice URL.")
@click.option("--status-callback", metavar="URL",
              help="Where the TwiML numbers report the end of each call (for a hoiivr app: "
                   "its answer URL).")
@click.option("--account-sid", default=ACCOUNT_SID, show_default=True,
              help="The Twilio account's AccountSid (it owns the TwiML numbers).")
@click.option("--auth-token", default=AUTH_TOKEN, show_default=True,
              help="The Twilio account's auth token (it signs the webhooks).")
@click.option("--shared-key", metavar="ID=SECRET",
              help="Sign the webhooks with this SharedKey (HMAC-SHA256) instead.")
@click.option("--wait", default=60.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Seconds a call waits for the app's next block.")
@click.option("--max-concurrent-calls", default=8, show_default=True,
              type=click.IntRange(min=1), help="Concurrent calls allowed per account.")
@click.option("--balance", default="100.000", show_default=True, help="The account's credit.")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0.01),
              help="Run the clock this many times faster than real time.")
@click.option("--keep-calls", default=1000, show_default=True, type=click.IntRange(min=0),
              help="Ended calls kept to inspect and query; older ones are forgotten.")
@click.option("--allow-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="Another name (or address) clients reach the simulator by; other Host "
                   "headers are refused (DNS rebinding). Repeatable.")
@click.option("--fault", "faults", multiple=True, metavar="NAME=VALUE",
              help="Inject a fault into every call, e.g. duplicate=0.1 (a rate) or "
                   "rest_latency=0.15 (seconds); repeatable. Faults: "
                   + ", ".join(f.name for f in fields(Faults)) + ".")
def simulator_command(host: str, port: int, app_id: str, access_token: str,
                      numbers: tuple[str, ...], twiml_numbers: tuple[str, ...],
                      voice_method: str, status_callback: str | None, account_sid: str,
                      auth_token: str, shared_key: str | None, wait: float,
                      max_concurrent_calls: int, balance: str, speed: float, keep_calls: int,
                      allowed_hosts: tuple[str, ...], faults: tuple[str, ...]) -> None:
    """Run a local Hoiio, and Twilio's voice: REST APIs, calls, phones and recordings.

    Point your app (or any Hoiio SDK) at the printed API URL, or give a Twilio app a TwiML
    number (and the twilio package's Client the printed Calls API URL), and drive calls
    through the control URL, or its web page (a softphone and call inspector) at its root:

    \b
        hoiivr simulator --number +6560000000=http://127.0.0.1:5000/hoiio/answer
        hoiivr simulator --twiml-number +6560000001=http://127.0.0.1:5000/voice
        curl --json '{"from": "+6591234567", "to": "+6560000000"}' \\
             http://127.0.0.1:8800/sim/calls
    """
    injected = _faults(faults)
    key = _shared_key(shared_key)
    twiml = _numbers(twiml_numbers, "--twiml-number", "NUMBER=URL",
                     "+6560000001=http://127.0.0.1:5000/voice")
    handler = _log_handler()
    sim = Simulator(clock=RealClock(speed=speed), wait=wait,
                    max_concurrent_calls=max_concurrent_calls, keep_ended_calls=keep_calls,
                    allowed_hosts=allowed_hosts)
    try:
        sim.add_account(app_id, access_token, balance)
        for number, forward_to in _numbers(numbers):
            sim.add_number(number, forward_to)
        sim.add_twilio_account(account_sid, auth_token, balance=balance, shared_key=key)
        for number, url in twiml:
            sim.add_twiml_number(number, url, method=voice_method,
                                 status_callback=status_callback)
        if injected:
            sim.set_faults(None, **injected)
        server = SimulatorServer(sim, host, port)
        try:
            server.bind()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port} ({exc.strerror or exc})"
                                       "; another program (another simulator?) may be using "
                                       "it: choose another with --port") from None
        _announce(server, app_id, access_token, account_sid, auth_token)
        if not is_loopback(host):
            click.echo(f"Warning: --host {host} is not a loopback address: anyone who can "
                       "reach this machine can place calls, change the phones and read every "
                       "call. Serve on a network you trust only, and give the names browsers "
                       "use with --allow-host.", err=True)
        server.serve_forever()          # until Ctrl-C or kill
        click.echo("Simulator stopped.", err=True)
    except SimulatorError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        sim.close()
        logging.getLogger("hoiivr.simulator").removeHandler(handler)


def _announce(server: SimulatorServer, app_id: str, access_token: str, account_sid: str,
              auth_token: str) -> None:
    sim = server.sim
    lines = [f"Hoiio simulator listening on {server.url}",
             f"  Hoiio API (give it to your SDK): {server.url}/open/",
             f"  Twilio Calls API (a twilio Client's client.api.base_url): {server.url}",
             f"  Control API (phones, calls):     {server.url}/sim/",
             f"  Softphone and call inspector:    {server.url}/",
             f"  app_id={app_id}  access_token={access_token}",
             f"  Twilio AccountSid={account_sid}  auth token={auth_token}"]
    lines += [f"  Hoiio Number {n.number} -> {n.forward_to or '(no forward_to yet)'}"
              for n in sim.directory.numbers.values()]
    lines += [f"  TwiML number {n.number} -> {n.voice_method} {n.voice_url}"
              + (f" (status callback {n.status_callback})" if n.status_callback else "")
              for n in sim.directory.twiml_numbers.values()]
    defaults = Faults().to_json()
    injected = {k: v for k, v in sim.faults().items() if v != defaults[k]}
    if injected:
        lines.append("  Injected faults: " + " ".join(f"{k}={v:g}" if isinstance(v, float)
                                                      else f"{k}={v}"
                                                      for k, v in injected.items()))
    lines.append("Press Ctrl-C to stop.")
    click.echo("\n".join(lines))


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and the loopback addresses (127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _log_handler() -> logging.Handler:
    """One readable line per request and notification, on stderr, while the command runs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("hoiivr.simulator")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler

