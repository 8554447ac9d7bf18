"""``hoiivr run APP``: serve an app for the real Hoiio (or any simulator).

The order matters: the port is bound first (so a taken port is reported before anything
else happens, and ``--ngrok`` knows which port to tunnel to), then the environment is set
(the command line's settings), then the app is loaded and its configuration checked, then
the Hoiio Number is pointed at it, and only then do requests flow.
"""
from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator
from typing import Any, TypeVar

import click
import requests
from flask import Flask

from .._server import Server
from ..carriers import Carrier
from ..carriers.hoiio import HoiioCarrier, HoiioClient
from ..errors import ApiError, ClientError, ConfigError, install_hint
from ..ivr import IVR
from ..protocol import e164_guess, is_e164, is_http_url
from ..runtime import Runtime
from ..stores.redis import masked
from .loader import environment, load_app

S = TypeVar("S", bound=Server)

__all__ = ["DEFAULT_STORE", "bind", "environment", "ngrok_tunnel", "point_number",
           "run_command", "runtime_of"]

#: The store ``hoiivr run`` uses unless HOIIVR_STORE is configured: calls survive a restart.
DEFAULT_STORE = "sqlite:///hoiivr.sqlite3"
NGROK_HINT = install_hint("ngrok")
WILDCARDS = ("0.0.0.0", "::", "")


def bind(server: S, option: str = "--port") -> S:
    """Bind ``server``'s port now, so that a taken one is reported before anything else."""
    try:
        server.bind()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.ClickException(f"port {server.port} on {server.host} is in use by "
                                       "another program; stop it, or pick another port with "
                                       f"{option}") from None
        raise click.ClickException(f"cannot listen on {server.host}:{server.port}: "
                                   f"{exc.strerror or exc}; check --host") from None
    return server


@contextlib.contextmanager
def ngrok_tunnel(host: str, port: int) -> Iterator[str]:
    """An ngrok tunnel to ``host:port`` (pyngrok); yields its public https URL."""
    try:
        from pyngrok import ngrok
        from pyngrok.exception import PyngrokError
    except ImportError:
        raise click.ClickException(f"--ngrok needs pyngrok: {NGROK_HINT}") from None
    target = "localhost" if host in WILDCARDS else f"[{host}]" if ":" in host else host
    try:
        tunnel = ngrok.connect(f"{target}:{port}", "http")
    except PyngrokError as exc:
        raise click.ClickException(f"ngrok could not open a tunnel: {exc}; check your ngrok "
                                   "authtoken (ngrok config add-authtoken TOKEN)") from None
    public_url = str(tunnel.public_url)
    try:
        yield public_url
    finally:
        with contextlib.suppress(PyngrokError):
            ngrok.disconnect(public_url)
            ngrok.kill()


def point(carrier: Carrier, number: str, answer_url: str) -> None:
    """Make calls to the carrier's ``number`` ring ``answer_url`` (and, on Twilio, report
    their end there too)."""
    if isinstance(carrier, HoiioCarrier):
        point_number(carrier.client, number, answer_url)
    else:
        point_twilio_number(getattr(carrier, "client"), number, answer_url)


def point_twilio_number(client: Any, number: str, answer_url: str) -> None:
    """Set the Twilio number's Voice URL and Status Callback URL to ``answer_url``."""
    from twilio.base.exceptions import TwilioException
    try:
        found = client.incoming_phone_numbers.list(phone_number=number, limit=1)
        if not found:
            raise click.ClickException(f"{number} is not a number of this Twilio account; "
                                       "check TWILIO_ACCOUNT_SID, or buy the number first")
        found[0].update(voice_url=answer_url, voice_method="POST",
                        status_callback=answer_url, status_callback_method="POST")
    except TwilioException as exc:
        raise click.ClickException(f"Twilio refused to point {number} at {answer_url}: "
                                   f"{exc}") from None
    except requests.RequestException as exc:
        raise click.ClickException(f"could not reach Twilio to point {number} at "
                                   f"{answer_url} ({type(exc).__name__}); check "
                                   "TWILIO_API_URL and the network") from None


def point_number(client: HoiioClient, number: str, answer_url: str) -> None:
    """Make incoming calls to the Hoiio Number ``number`` notify ``answer_url``."""
    try:
        client.update_forwarding(number, answer_url, mode="voice").raise_for_status()
    except ApiError as exc:
        raise click.ClickException(f"Hoiio refused to point {number} at {answer_url}: "
                                   f"{exc.status}{_api_hint(exc.status)}") from None
    except ClientError as exc:
        raise click.ClickException(f"could not point {number} at {answer_url}: {exc}") from None
    finally:
        client.close()


def _api_hint(status: str) -> str:
    hints = {"error_number_invalid": "; is it one of your account's Hoiio Numbers?",
             "error_forward_to_invalid": "; Hoiio must be able to reach the URL: use "
                                         "--public-url or --ngrok",
             "error_invalid_app_id": "; check HOIIO_APP_ID",
             "error_invalid_access_token": "; check HOIIO_ACCESS_TOKEN"}
    return hints.get(status, "")


def check_number(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not is_e164(value):
        guess = e164_guess(value)
        raise click.BadParameter(f"{value!r} is not an E.164 number; write it with + and the "
                                 "country code, e.g. +6561234567"
                                 + (f" (did you mean {guess}?)" if guess else ""))
    return value


def check_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not is_http_url(value):
        raise click.BadParameter(f"{value!r} is not an http(s) URL, e.g. https://abc.ngrok.app")
    return value.rstrip("/") if value else value


def _warn_overridden(app: Flask, key: str, wanted: str | None, actual: str | None) -> None:
    if wanted is not None and actual is not None and actual.rstrip("/") != wanted.rstrip("/"):
        click.secho(f"Warning: app.config[{key!r}] = {actual!r} overrides {wanted!r}; remove "
                    "it from the app's config to use the command line's value", fg="yellow",
                    err=True)


@click.command("run")
@click.argument("app_spec", metavar="APP")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The interface to listen on (0.0.0.0: every interface).")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535),
              help="The port to listen on (0: any free port).")
@click.option("--public-url", metavar="URL", callback=check_url,
              help="The URL the provider reaches this app at (an existing tunnel or proxy); "
                   "sets HOIIVR_PUBLIC_URL.")
@click.option("--ngrok", "use_ngrok", is_flag=True,
              help=f"Open an ngrok tunnel to the app and use its URL; needs pyngrok: {NGROK_HINT}.")
@click.option("--number", metavar="+65...", callback=check_number,
              help="Point this number at the app's answer URL (a Hoiio Number's voice notify "
                   "URL; a Twilio number's Voice URL and Status Callback URL).")
@click.option("--api-url", metavar="URL", callback=check_url,
              help="The provider's API (or a simulator's) base URL; sets HOIIO_API_URL and "
                   "TWILIO_API_URL. For hoiivr's simulator: its URL with /open/ for a Hoiio "
                   "app, its URL alone for a Twilio app.")
def run_command(app_spec: str, host: str, port: int, public_url: str | None, use_ngrok: bool,
                number: str | None, api_url: str | None) -> None:
    """Serve APP for its carrier (Twilio, Hoiio) or a simulator.

    APP is module:attr, a module, path/to/app.py or path/to/app.py:attr, naming a Flask
    app, an IVR or an app factory (create_app). Call state is kept in
    sqlite:///hoiivr.sqlite3 unless HOIIVR_STORE is configured.

    The provider must reach the app: give the URL of your tunnel with --public-url, or let
    --ngrok open one. --number then points your number at the app's answer URL, so a call
    to that number rings the app:

    \b
        HOIIVR_CARRIER=twilio hoiivr run myapp:app --ngrok --number +14155550100

    This is werkzeug's threaded server, for development and trials. In production run
    the app under gunicorn, with a store all workers share (sqlite:/// on one host,
    redis:// across hosts):

    \b
        HOIIVR_STORE=sqlite:///calls.sqlite3 gunicorn -w 4 -b 0.0.0.0:8000 'myapp:app'
    """
    if use_ngrok and public_url:
        raise click.UsageError("use --ngrok or --public-url, not both")
    with contextlib.ExitStack() as stack:
        server = bind(Server(None, host, port))
        stack.callback(server.stop)
        if use_ngrok:
            public_url = stack.enter_context(ngrok_tunnel(host, server.port))
        stack.enter_context(environment({"HOIIVR_PUBLIC_URL": public_url,
                                         "HOIIO_API_URL": api_url, "TWILIO_API_URL": api_url},
                                        defaults={"HOIIVR_STORE": DEFAULT_STORE}))
        app, ivr = load_app(app_spec)
        runtime = runtime_of(ivr, app)
        stack.callback(runtime.close)
        _warn_overridden(app, "HOIIVR_PUBLIC_URL", public_url, runtime.public_url)
        client = _hoiio_client(runtime)
        if client is not None:
            _warn_overridden(app, "HOIIO_API_URL", api_url, client.base_url)
        answer_url = _answer_url(runtime, host, server.port)
        if number is not None:
            if runtime.public_url is None and api_url is None:
                raise click.UsageError(f"--number would point {number} at {answer_url}, which "
                                       "only this machine can reach; give the public URL of "
                                       "your tunnel with --public-url URL, or use --ngrok")
            point(runtime.carrier, number, answer_url)
        _banner(app, app_spec, host, server.port, answer_url, number, runtime)
        server.wsgi_app = app
        server.serve_forever()
    click.echo("Stopped.")


def runtime_of(ivr: IVR, app: Flask) -> Runtime:
    """The app's runtime, its configuration checked; a missing setting is a clear error."""
    try:
        return ivr.runtime(app)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _hoiio_client(runtime: Runtime) -> HoiioClient | None:
    carrier = runtime.carrier
    return carrier.client if isinstance(carrier, HoiioCarrier) else None


def _answer_url(runtime: Runtime, host: str, port: int) -> str:
    if runtime.public_url:
        return f"{runtime.public_url}{runtime.url_prefix}/answer"
    shown = "127.0.0.1" if host in WILDCARDS else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{runtime.url_prefix}/answer"


def _banner(app: Flask, app_spec: str, host: str, port: int, answer_url: str,
            number: str | None, runtime: Runtime) -> None:
    shown = f"[{host}]" if ":" in host else host
    public = runtime.public_url
    settings = app.extensions["hoiivr"].settings
    click.echo(f" * Serving {app_spec} on http://{shown}:{port}")
    click.echo(f" * Store: {masked(str(settings.get('HOIIVR_STORE', 'memory://')))}")
    carrier = runtime.carrier
    click.echo(f" * Answer URL (the {carrier.number_url}):")
    click.secho(f"       {answer_url}", bold=True)
    if number is not None:
        click.secho(f" * Calls to {number} now ring this app.", fg="green")
    if public is None:
        click.secho(" * Only this machine can reach that URL; for the real "
                    f"{carrier.name.capitalize()} use --public-url URL or --ngrok.", fg="yellow")
    click.echo(" * Press Ctrl-C to stop. In production, use gunicorn (hoiivr run --help).")
