"""The Flask adapter: two routes, their sessions, and HTTP status codes, for any carrier.

``POST <prefix>/answer`` is the number's voice URL (Hoiio's notify URL, Twilio's Voice
URL); ``POST <prefix>/notify/<token>`` is every block's notify URL. Each request is checked
in the order that keeps unauthenticated input cheap: method and size, then the carrier's
signature, then the token, then the fields. Only then does the
:class:`~hoiivr.dispatch.Dispatcher` see it; what it decides, the carrier delivers.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, Request, Response, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from .carriers.base import Answer, Inbound
from .dispatch import FORBIDDEN, HANDLED, Dispatcher
from .errors import (ConfigError, LockTimeout, NotificationError, ReplayedNotification,
                     SignatureError, StoreError, TokenError, loggable)
from .notification import Notification
from .runtime import Mount, Runtime
from .tokens import Ticket

log = logging.getLogger("hoiivr")

#: Notifications are under 1 KB; anything much larger is not from a provider.
MAX_BODY = 16 * 1024
#: The two routes, under the IVR's prefix: the answer URL, and the start of every notify URL.
ANSWER_ROUTE, NOTIFY_ROUTE = "/answer", "/notify/"


def make_blueprint() -> Blueprint:
    """The routes of every IVR; each request finds its app's :class:`Mount`."""
    blueprint = Blueprint("hoiivr", __name__)

    # GET too: a carrier whose webhooks may come as GET (Twilio) takes them; the others
    # answer it 405, as if the route took POST only.
    @blueprint.route(ANSWER_ROUTE, methods=["GET", "POST"])
    def answer() -> Response:
        return handle(None)

    @blueprint.route(NOTIFY_ROUTE + "<token>", methods=["GET", "POST"])
    def notify(token: str) -> Response:
        return handle(token)

    return blueprint


def handle(token: str | None) -> Response:
    """Check one notification and hand it to the dispatcher; the carrier's answer."""
    mount: Mount = current_app.extensions["hoiivr"]
    req: Request = request._get_current_object()  # type: ignore[attr-defined]  # once: each use of the proxy costs a lookup
    try:
        runtime = mount.runtime
    except ConfigError as exc:
        log.error("cannot handle calls: %s", exc)
        return _refuse(503, "this app is not configured to handle calls; see its log")
    if req.method not in runtime.carrier.methods:
        return _response(Answer(f"the {runtime.carrier.name} carrier's webhooks are "
                                f"{' or '.join(sorted(runtime.carrier.methods))}", 405))
    body = _read_body(req)
    if body is None:
        return _refuse(413, "body larger than 16 KiB")
    mount.handlers.seal()
    root = runtime.public_url or req.root_url     # once: werkzeug rebuilds it at each use
    inbound = Inbound(root, req.path, req.query_string.decode("latin-1"), req.headers, body,
                      req.method, token)
    try:
        runtime.carrier.authenticate(inbound)
        ticket = runtime.tokens.loads(token) if token is not None else None
    except (SignatureError, TokenError) as exc:
        return _refuse(403, str(exc))
    try:
        notification = runtime.carrier.parse(inbound)
    except ReplayedNotification as exc:
        log.warning("refused a replayed notification (stale, no effect): %s", exc)
        return _response(runtime.carrier.acknowledge())
    except NotificationError as exc:
        return _refuse(400, str(exc))
    return _dispatch(runtime, notification, ticket, root)


def _dispatch(runtime: Runtime, notification: Notification, ticket: Ticket | None,
              request_root: str) -> Response:
    if log.isEnabledFor(logging.INFO):
        log.info("%s <- %s", notification.session,
                 notification.describe(ticket.block if ticket else None,
                                       ticket.step if ticket else None))
    dispatcher: Dispatcher = runtime.dispatcher
    try:
        notify_base = runtime.notify_base(request_root)
        if ticket is None:
            outcome = dispatcher.ringing(notification, notify_base)
        else:
            outcome = dispatcher.notify(notification, ticket, notify_base)
    except LockTimeout as exc:
        log.error("%s: %s", notification.session, exc)
        return _refuse(503, "the call is busy in another worker, try again")
    except StoreError as exc:
        # The store failed, and the provider sends no notification twice: the caller
        # hears the fallback now rather than silence until the call is dropped.
        try:
            outcome = dispatcher.store_down(notification, ticket is None and
                                            notification.call_state == "ringing", exc)
        except StoreError:
            return _refuse(503, "call state unavailable")
    if outcome.verdict == FORBIDDEN:
        log.warning("%s: refused, the token belongs to another call or step", notification.session)
        return _refuse(403, "this notification does not belong to this call")
    if outcome.verdict != HANDLED:
        log.info("%s: %s notification, no effect", notification.session, outcome.verdict)
    return _response(outcome.answer or runtime.carrier.acknowledge())


def _read_body(req: Request) -> bytes | None:
    """The raw body, or None when it is larger than :data:`MAX_BODY`."""
    if (req.content_length or 0) > MAX_BODY:
        return None
    body = req.stream.read(MAX_BODY + 1)
    return None if len(body) > MAX_BODY else body


def _response(answer: Answer) -> Response:
    return Response(answer.body, answer.status, content_type=answer.content_type)


def _refuse(status: int, reason: str) -> Response:
    if status != 503:
        # The reason may quote the request, which anyone can send.
        log.warning("refused a notification (%d): %s", status, loggable(reason))
    return _response(Answer(reason, status))


# -- sessions --------------------------------------------------------------------------


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


def use_notification_sessions(app: Flask, url_prefix: str) -> None:
    """Give hoiivr's routes sessions that cost nothing, if ``app`` has Flask's own sessions.

    An app with sessions of its own making (a server-side store, say) keeps them as they are.
    """
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = NotificationSessions(url_prefix)
