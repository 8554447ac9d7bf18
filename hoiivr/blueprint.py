"""The Flask adapter: two routes, their sessions, configuration, and HTTP status codes.

``POST <prefix>/answer`` is the Hoiio Number's voice notify URL; ``POST
<prefix>/notify/<token>`` is every block's notify URL. Each request is checked in the order
that keeps unauthenticated input cheap: size, then signature over the raw bytes, then the
token, then the fields. Only then does the :class:`~hoiivr.dispatch.Dispatcher` see it.
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from flask import Blueprint, Flask, Request, current_app, has_request_context, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from .client import HoiioClient
from .dispatch import FORBIDDEN, HANDLED, Dispatcher
from .errors import ConfigError, NotificationError, SignatureError, StoreError, TokenError
from .notifications import SIGNATURE_HEADER, Notification, verify_signature
from .protocol import DEFAULT_API_URL
from .stores import store_from_url
from .tokens import NotifyTokens, Ticket

if TYPE_CHECKING:
    from .ivr import IVR

log = logging.getLogger("hoiivr")

#: Notifications are under 1 KB; anything much larger is not from Hoiio.
MAX_BODY = 16 * 1024
MAX_FIELDS = 64
#: The two routes, under the IVR's prefix: the answer URL, and the start of every notify URL.
ANSWER_ROUTE, NOTIFY_ROUTE = "/answer", "/notify/"
FALSE = {"0", "false", "no", "off", ""}


def setting(app: Flask, key: str, default: Any = None) -> Any:
    """``app.config[key]``, else the environment variable ``key``, else ``default``."""
    if app.config.get(key) is not None:
        return app.config[key]
    return os.environ.get(key, default)


@dataclass
class Runtime:
    """What one Flask app needs to handle notifications; kept in ``app.extensions``."""

    dispatcher: Dispatcher
    tokens: NotifyTokens
    access_keys: tuple[str, ...]
    verify: bool
    public_url: str | None
    url_prefix: str

    def notify_base(self) -> str:
        """The start of every notify URL: the public URL if configured, else this request's."""
        if self.public_url:
            root = self.public_url
        elif has_request_context():
            root = request.url_root
        else:
            raise ConfigError("a notify URL is needed outside a request: set HOIIVR_PUBLIC_URL "
                              "to the URL Hoiio can reach this app at (e.g. your tunnel's)")
        return root.rstrip("/") + self.url_prefix + NOTIFY_ROUTE

    def close(self) -> None:
        """Close the store and the client's pooled connections."""
        self.dispatcher.store.close()
        self.dispatcher.client.close()


def make_runtime(ivr: IVR, app: Flask) -> Runtime:
    app_id = _required(app, "HOIIO_APP_ID")
    access_token = _required(app, "HOIIO_ACCESS_TOKEN")
    fallbacks = setting(app, "HOIIVR_SECRET_KEY_FALLBACKS", [])
    if isinstance(fallbacks, str):
        fallbacks = [key for key in fallbacks.split(",") if key]
    tokens = NotifyTokens(setting(app, "SECRET_KEY"), fallbacks,
                          max_age=_seconds(app, "HOIIVR_TOKEN_MAX_AGE", 86400))
    verify = str(setting(app, "HOIIVR_VERIFY_SIGNATURE", True)).lower() not in FALSE
    if not verify:
        log.warning("HOIIVR_VERIFY_SIGNATURE is off: anyone who can reach this app can forge "
                    "Hoiio notifications. Turn it on for anything but local experiments.")
    client = HoiioClient(app_id, access_token,
                         base_url=setting(app, "HOIIO_API_URL", DEFAULT_API_URL))
    store = store_from_url(setting(app, "HOIIVR_STORE", "memory://"))
    public_url = setting(app, "HOIIVR_PUBLIC_URL")
    dispatcher = Dispatcher(ivr, store, client, tokens,
                            tombstone_ttl=_seconds(app, "HOIIVR_TOMBSTONE_TTL", 600))
    return Runtime(dispatcher, tokens, (access_token,), verify,
                   public_url.rstrip("/") if public_url else None, ivr.url_prefix)


def _seconds(app: Flask, key: str, default: float) -> float:
    value = setting(app, key, default)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ConfigError(f"{key} must be a positive number of seconds, not {value!r}")
    return seconds


def _required(app: Flask, key: str) -> str:
    value = setting(app, key)
    if not value:
        raise ConfigError(f"{key} is not set. Set app.config[{key!r}] or the {key} environment "
                          "variable (your Hoiio app's credentials; `hoiivr dev` sets them for "
                          "the simulator).")
    return str(value)


class NotificationSessions(SecureCookieSessionInterface):
    """Flask's cookie sessions, except on hoiivr's two routes, where a session is never saved.

    Once ``SECRET_KEY`` is set, and hoiivr needs it, Flask opens a session for every request
    and builds a signing serializer to do it: about 30 us per notification. Hoiio sends no
    cookies and keeps none, so a notification's session is always new and a cookie set on it
    would never come back: these routes get an empty session that hooks may read and write,
    and that is then dropped.
    """

    def __init__(self, url_prefix: str) -> None:
        self.answer_path, self.notify_path = url_prefix + ANSWER_ROUTE, url_prefix + NOTIFY_ROUTE

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        path = request.path
        if path == self.answer_path or path.startswith(self.notify_path):
            return _NotificationSession()
        return super().open_session(app, request)

    def is_null_session(self, obj: object) -> bool:
        # Flask saves no session it is told is null.
        return isinstance(obj, _NotificationSession) or super().is_null_session(obj)


class _NotificationSession(SecureCookieSession):
    """A notification's session: empty, and never saved."""


def use_notification_sessions(ivr: IVR, app: Flask) -> None:
    """Give hoiivr's routes sessions that cost nothing, if ``app`` has Flask's own sessions.

    An app with sessions of its own making (a server-side store, say) keeps them as they are.
    """
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = NotificationSessions(ivr.url_prefix)


def make_blueprint(ivr: IVR) -> Blueprint:
    blueprint = Blueprint("hoiivr", __name__)

    @blueprint.post(ANSWER_ROUTE)
    def answer() -> tuple[str, int]:
        return handle(ivr, None)

    @blueprint.post(NOTIFY_ROUTE + "<token>")
    def notify(token: str) -> tuple[str, int]:
        return handle(ivr, token)

    return blueprint


def handle(ivr: IVR, token: str | None) -> tuple[str, int]:
    """Check one notification and hand it to the dispatcher; return (body, status)."""
    ivr._serving = True
    runtime: Runtime = current_app.extensions["hoiivr"]
    req = request._get_current_object()     # once: each use of the proxy costs a lookup
    body = _read_body(req)
    if body is None:
        return _refuse(413, "body larger than 16 KiB")
    try:
        if runtime.verify:
            verify_signature(body, req.headers.get(SIGNATURE_HEADER), runtime.access_keys)
        ticket = runtime.tokens.loads(token) if token is not None else None
    except (SignatureError, TokenError) as exc:
        return _refuse(403, str(exc))
    try:
        notification = Notification.from_form(_form(body))
    except NotificationError as exc:
        return _refuse(400, str(exc))
    return _dispatch(runtime.dispatcher, notification, ticket, runtime.notify_base())


def _dispatch(dispatcher: Dispatcher, notification: Notification, ticket: Ticket | None,
              notify_base: str) -> tuple[str, int]:
    if log.isEnabledFor(logging.INFO):
        log.info("%s <- %s", notification.session, _describe(notification, ticket))
    try:
        if ticket is None:
            verdict = dispatcher.ringing(notification, notify_base)
        else:
            verdict = dispatcher.notify(notification, ticket, notify_base)
    except StoreError as exc:
        log.error("%s: call state unavailable: %s", notification.session, exc)
        return "call state unavailable, try again", 503
    if verdict == FORBIDDEN:
        log.warning("%s: refused, the token belongs to another call or step", notification.session)
        return "this notification does not belong to this call", 403
    if verdict != HANDLED:
        log.info("%s: %s notification, no effect", notification.session, verdict)
    return "OK", 200


def _describe(notification: Notification, ticket: Ticket | None) -> str:
    """``gather ongoing step=menu digits='1'``: what a notification says, for the log."""
    if ticket is None:
        return (f"answer {notification.call_state} from {notification.from_number} to "
                f"{notification.to_number}")
    parts = [ticket.block, notification.call_state]
    if ticket.step:
        parts.append(f"step={ticket.step}")
    for name in ("digits", "record_url", "transfer_status", "dial_status", "duration"):
        value = getattr(notification, name)
        if value is not None:
            parts.append(f"{name}={value!r}")
    return " ".join(parts)


def _read_body(req: Request) -> bytes | None:
    """The raw body, or None when it is larger than :data:`MAX_BODY`."""
    if (req.content_length or 0) > MAX_BODY:
        return None
    body = req.stream.read(MAX_BODY + 1)
    return None if len(body) > MAX_BODY else body


def _form(body: bytes) -> dict[str, str]:
    """The fields of a form-encoded body, as ``parse_qsl`` reads them (the last of a name
    wins), in half its time: only a part with ``%`` or ``+`` in it is unquoted."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotificationError(f"the body is not a form-encoded notification ({exc})") from None
    if text.count("&") >= MAX_FIELDS:
        raise NotificationError(f"the body has more than {MAX_FIELDS} fields; a notification "
                                "has about ten")
    fields = {}
    for part in text.split("&"):
        if part:
            name, _, value = part.partition("=")
            if "%" in part or "+" in part:
                name, value = unquote_plus(name), unquote_plus(value)
            fields[name] = value
    return fields


def _refuse(status: int, reason: str) -> tuple[str, int]:
    log.warning("refused a notification (%d): %s", status, reason)
    return reason, status
