"""The Flask adapter: two routes, configuration, and HTTP status codes. Nothing else.

``POST <prefix>/answer`` is the Hoiio Number's voice notify URL; ``POST
<prefix>/notify/<token>`` is every block's notify URL. Each request is checked in the order
that keeps unauthenticated input cheap: size, then signature over the raw bytes, then the
token, then the fields. Only then does the :class:`~hoiivr.dispatch.Dispatcher` see it.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, current_app, has_request_context, request

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
        return root.rstrip("/") + self.url_prefix + "/notify/"

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
                          max_age=float(setting(app, "HOIIVR_TOKEN_MAX_AGE", 86400)))
    verify = str(setting(app, "HOIIVR_VERIFY_SIGNATURE", True)).lower() not in FALSE
    if not verify:
        log.warning("HOIIVR_VERIFY_SIGNATURE is off: anyone who can reach this app can forge "
                    "Hoiio notifications. Turn it on for anything but local experiments.")
    client = HoiioClient(app_id, access_token,
                         base_url=setting(app, "HOIIO_API_URL", DEFAULT_API_URL))
    store = store_from_url(setting(app, "HOIIVR_STORE", "memory://"))
    public_url = setting(app, "HOIIVR_PUBLIC_URL")
    return Runtime(Dispatcher(ivr, store, client, tokens), tokens, (access_token,), verify,
                   public_url.rstrip("/") if public_url else None, ivr.url_prefix)


def _required(app: Flask, key: str) -> str:
    value = setting(app, key)
    if not value:
        raise ConfigError(f"{key} is not set. Set app.config[{key!r}] or the {key} environment "
                          "variable (your Hoiio app's credentials; `hoiivr dev` sets them for "
                          "the simulator).")
    return str(value)


def make_blueprint(ivr: IVR) -> Blueprint:
    blueprint = Blueprint("hoiivr", __name__)

    @blueprint.post("/answer")
    def answer() -> tuple[str, int]:
        return handle(ivr, None)

    @blueprint.post("/notify/<token>")
    def notify(token: str) -> tuple[str, int]:
        return handle(ivr, token)

    return blueprint


def handle(ivr: IVR, token: str | None) -> tuple[str, int]:
    """Check one notification and hand it to the dispatcher; return (body, status)."""
    ivr._serving = True
    runtime: Runtime = current_app.extensions["hoiivr"]
    body = _read_body()
    if body is None:
        return _refuse(413, "body larger than 16 KiB")
    try:
        if runtime.verify:
            verify_signature(body, request.headers.get(SIGNATURE_HEADER), runtime.access_keys)
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


def _read_body() -> bytes | None:
    """The raw body, or None when it is larger than :data:`MAX_BODY`."""
    if (request.content_length or 0) > MAX_BODY:
        return None
    body = request.stream.read(MAX_BODY + 1)
    return None if len(body) > MAX_BODY else body


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotificationError(f"the body is not a form-encoded notification ({exc})") from None
    return dict(pairs)


def _refuse(status: int, reason: str) -> tuple[str, int]:
    log.warning("refused a notification (%d): %s", status, reason)
    return reason, status
