"""The :class:`IVR` extension: handlers mounted on a Flask app, and the calls it places."""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, has_request_context, request

from .blocks import Dial, Unhold
from .carriers import Carrier, Placed, carrier_name
from .config import Settings
from .dispatch import Dispatcher, Outcome
from .errors import ConfigError, SetupError
from .notification import Notification
from .registry import Handlers
from .runtime import Mount, Runtime, Wiring
from .state import check_state
from .stores import Store
from .tokens import Ticket
from .web import make_blueprint, use_notification_sessions


class IVR(Handlers):
    """A phone IVR app: handlers for the moments of a call, mounted on a Flask app::

        ivr = IVR(app)                  # or IVR() and later ivr.init_app(app)

        @ivr.on_answer
        def answer(call):
            return Gather("Press 1 for sales.", max_digits=1, name="menu")

    Configuration comes from ``app.config`` (or the environment variable of the same name),
    read when the first call needs it: ``HOIIVR_CARRIER`` (``hoiio``), the carrier's
    credentials (``HOIIO_APP_ID``, ``HOIIO_ACCESS_TOKEN``, ``HOIIO_ACCESS_TOKEN_FALLBACKS``,
    ``HOIIO_API_URL``),
    ``HOIIVR_PUBLIC_URL``, ``HOIIVR_STORE``, ``SECRET_KEY``, ``HOIIVR_SECRET_KEY_FALLBACKS``,
    ``HOIIVR_VERIFY_SIGNATURE``, ``HOIIVR_TOKEN_MAX_AGE``, ``HOIIVR_TOMBSTONE_TTL``.

    ``store``, ``client`` (the carrier's, e.g. a :class:`~hoiivr.client.HoiioClient`),
    ``carrier``, ``public_url`` and ``secret_key`` hand in ready parts instead of the ones
    the configuration describes; the caller keeps ownership of what it hands in. The
    routes are under ``url_prefix`` (default ``/`` + the carrier's name, e.g. ``/hoiio``).
    """

    def __init__(self, app: Flask | None = None, url_prefix: str | None = None, *,
                 store: Store | None = None, client: Any = None, carrier: Carrier | None = None,
                 public_url: str | None = None, secret_key: str | None = None) -> None:
        super().__init__()
        self.url_prefix = url_prefix.rstrip("/") if url_prefix is not None else None
        if app is not None:
            self.init_app(app, store=store, client=client, carrier=carrier,
                          public_url=public_url, secret_key=secret_key)

    def init_app(self, app: Flask, *, store: Store | None = None, client: Any = None,
                 carrier: Carrier | None = None, public_url: str | None = None,
                 secret_key: str | None = None) -> None:
        """Mount the notification routes on ``app``; its parts are built from its config
        when the first call needs them, except those handed in here.

        Called again on an app it is mounted on, it rewires that app (the test harness and
        ``hoiivr dev`` point an app at the simulator this way): what the previous wiring
        built is closed, the routes stay as they are.
        """
        wiring = Wiring(store, client, carrier, public_url, secret_key)
        mounted = app.extensions.get("hoiivr")
        if isinstance(mounted, Mount):
            if mounted.handlers is not self:
                raise SetupError("this app already has another IVR mounted; an app has one")
            mounted.close()
            app.extensions["hoiivr"] = Mount(self, mounted.settings, mounted.url_prefix, wiring,
                                              app.app_context)
            return
        settings = Settings(app.config)
        prefix = self.url_prefix
        if prefix is None:
            prefix = "/" + (carrier.name if carrier is not None else carrier_name(settings))
        app.extensions["hoiivr"] = Mount(self, settings, prefix, wiring, app.app_context)
        app.register_blueprint(make_blueprint(), url_prefix=prefix)
        use_notification_sessions(app, prefix)

    # -- the app's parts -----------------------------------------------------------------

    def runtime(self, app: Flask | None = None) -> Runtime:
        """The runtime of ``app`` (default: the current app), built if it was not yet:
        commands call it to check the configuration before they serve."""
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        mounted = app.extensions.get("hoiivr")
        if not isinstance(mounted, Mount) or mounted.handlers is not self:
            raise ConfigError("this IVR is not mounted on the app: call IVR(app) or "
                              "ivr.init_app(app) first")
        return mounted.runtime

    def dispatcher(self, app: Flask | None = None) -> Dispatcher:
        """The dispatcher of ``app`` (default: the current app)."""
        return self.runtime(app).dispatcher

    def dispatch(self, notification: Notification, ticket: Ticket | None = None,
                 app: Flask | None = None) -> Outcome:
        """Handle a parsed, authenticated notification as its route would, minus HTTP: at
        the answer URL (``ticket`` None) or at the notify URL whose token held ``ticket``.
        For unit tests of the path from a notification to the blocks sent; needs
        ``HOIIVR_PUBLIC_URL`` outside a request, as :meth:`dial` does."""
        runtime = self.runtime(app)
        base = runtime.notify_base(_request_root())
        if ticket is None:
            return runtime.dispatcher.ringing(notification, base)
        return runtime.dispatcher.notify(notification, ticket, base)

    # -- calls -------------------------------------------------------------------------------

    def dial(self, dest: str, msg: str | None = None, caller_id: str | None = None,
             max_duration: int | None = None, name: str | None = None,
             state: dict[str, Any] | None = None, app: Flask | None = None) -> Placed:
        """Call ``dest``; when answered, ``on_dial_answered(name)`` decides what is said.

        ``state`` becomes the call's ``call.state`` (JSON values: a
        :class:`~hoiivr.errors.StateError` otherwise). Needs an app context (or ``app=``)
        and, outside a request, ``HOIIVR_PUBLIC_URL`` to build the notify URL. Returns the
        placed call (``.session``, ``.txn_ref``, ``.key``); raises
        :class:`~hoiivr.ApiError` if the provider refuses it.
        """
        runtime = self.runtime(app)
        block = Dial(dest, msg=msg, caller_id=caller_id, max_duration=max_duration, name=name)
        check_state(state or {}, "ivr.dial(state=...)")
        self.seal()
        return runtime.dispatcher.dial(block, runtime.notify_base(_request_root()), state)

    def unhold(self, call_key: str, name: str | None = None, app: Flask | None = None) -> None:
        """Take the call ``call_key`` (``call.key``) off a :class:`~hoiivr.Hold`."""
        runtime = self.runtime(app)
        runtime.dispatcher.unhold(call_key, Unhold(name=name),
                                  runtime.notify_base(_request_root()))


def _request_root() -> str | None:
    return request.root_url if has_request_context() else None
