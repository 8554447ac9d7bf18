"""The :class:`IVR` extension: where handlers are registered and calls are started."""
from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar

from flask import Flask, current_app

from .blocks import Dial, Unhold
from .client import Response
from .dispatch import Dispatcher
from .errors import ConfigError, SetupError

F = TypeVar("F", bound=Callable[..., Any])
Handler = Callable[..., Any]

log = logging.getLogger("hoiivr")

#: Events whose handlers may be limited to one step name.
STEP_EVENTS = ("dial_answered", "dial_failed", "gather", "record", "play", "monitor", "unhold",
               "transfer_failed")
EVENTS = ("answer", *STEP_EVENTS, "hangup")


class IVR:
    """A phone IVR app: handlers for the moments of a call, mounted on a Flask app::

        ivr = IVR(app)                  # or IVR() and later ivr.init_app(app)

        @ivr.on_answer
        def answer(call):
            return Gather("Press 1 for sales.", max_digits=1, name="menu")

    Configuration comes from ``app.config`` (or the environment variable of the same name):
    ``HOIIO_APP_ID``, ``HOIIO_ACCESS_TOKEN``, ``HOIIO_API_URL``, ``HOIIVR_PUBLIC_URL``,
    ``HOIIVR_STORE``, ``SECRET_KEY``, ``HOIIVR_SECRET_KEY_FALLBACKS``,
    ``HOIIVR_VERIFY_SIGNATURE``, ``HOIIVR_TOKEN_MAX_AGE``, ``HOIIVR_TOMBSTONE_TTL``.
    """

    def __init__(self, app: Flask | None = None, url_prefix: str = "/hoiio") -> None:
        self.url_prefix = url_prefix.rstrip("/")
        self.handlers: dict[tuple[str, str | None], Handler] = {}
        self.error_handlers: list[tuple[type[BaseException], Handler]] = []
        self._serving = False
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Mount the notification routes on ``app`` and set up its client, store and keys."""
        from .blueprint import make_blueprint, make_runtime, use_notification_sessions
        app.extensions["hoiivr"] = make_runtime(self, app)
        app.register_blueprint(make_blueprint(self), url_prefix=self.url_prefix)
        use_notification_sessions(self, app)

    # -- registering -----------------------------------------------------------------------

    def add_handler(self, event: str, handler: Handler, step: str | None = None) -> None:
        """Register ``handler`` for ``event`` (and only ``step``, if given).

        The plain-method twin of every ``on_*`` decorator:
        ``ivr.add_handler("gather", menu, "menu")`` is ``@ivr.on_gather("menu")``.
        """
        if event not in EVENTS:
            raise SetupError(f"unknown event {event!r}; events are {', '.join(EVENTS)}")
        if step is not None and event not in STEP_EVENTS:
            raise SetupError(f"on_{event} takes no step name: a call has one {event}")
        self._check_setup(f"on_{event}")
        if (event, step) in self.handlers:
            where = f" step {step!r}" if step else ""
            raise SetupError(f"on_{event}{where} already has a handler "
                             f"({self.handlers[event, step].__qualname__}); each (event, step) "
                             "has one handler")
        self.handlers[event, step] = handler

    def register_error_handler(self, exc_class: type[BaseException], handler: Handler) -> None:
        """The twin of :meth:`errorhandler`."""
        self._check_setup("errorhandler")
        self.error_handlers.append((exc_class, handler))

    def _check_setup(self, what: str) -> None:
        if self._serving:
            raise SetupError(f"{what} was registered after the app handled its first "
                             "notification; register every handler at import time, before "
                             "the app serves requests")

    def find_handler(self, event: str, step: str | None) -> Handler | None:
        """The handler for ``step`` if there is one, else the bare handler of ``event``."""
        if step is not None and (event, step) in self.handlers:
            return self.handlers[event, step]
        return self.handlers.get((event, None))

    def find_error_handler(self, exc: BaseException) -> Handler | None:
        """The handler of the most specific class in ``exc``'s MRO."""
        for cls in type(exc).__mro__:
            for registered, handler in self.error_handlers:
                if registered is cls:
                    return handler
        return None

    def _step_decorator(self, event: str, arg: Any) -> Any:
        if callable(arg):
            self.add_handler(event, arg)
            return arg

        def decorator(handler: F) -> F:
            self.add_handler(event, handler, arg)
            return handler
        return decorator

    def on_answer(self, handler: F) -> F:
        """An incoming call rings. Return the first blocks (or Hangup to reject it)::

            @ivr.on_answer
            def answer(call):
                return Play("Welcome.")
        """
        self.add_handler("answer", handler)
        return handler

    def on_hangup(self, handler: F) -> F:
        """The call ended, for any reason; billing is on ``call``. Returns nothing::

            @ivr.on_hangup
            def ended(call):
                print(call.session, call.duration, call.debit)
        """
        self.add_handler("hangup", handler)
        return handler

    def on_dial_answered(self, step: Any = None) -> Any:
        """A call placed with :meth:`dial` was answered: ``@ivr.on_dial_answered("remind")``."""
        return self._step_decorator("dial_answered", step)

    def on_dial_failed(self, step: Any = None) -> Any:
        """A call placed with :meth:`dial` was busy, unanswered or failed (``call.dial_status``).
        The call has ended; ``on_hangup`` runs after this. ``@ivr.on_dial_failed("remind")``."""
        return self._step_decorator("dial_failed", step)

    def on_gather(self, step: Any = None) -> Any:
        """Keys were entered (``call.digits``, maybe empty): ``@ivr.on_gather("menu")``."""
        return self._step_decorator("gather", step)

    def on_record(self, step: Any = None) -> Any:
        """A recording is ready at ``call.record_url``: ``@ivr.on_record("voicemail")``."""
        return self._step_decorator("record", step)

    def on_play(self, step: Any = None) -> Any:
        """A Play finished (when it was the last block returned): ``@ivr.on_play("intro")``."""
        return self._step_decorator("play", step)

    def on_monitor(self, step: Any = None) -> Any:
        """Monitoring started and the call waits for the next block: ``@ivr.on_monitor``."""
        return self._step_decorator("monitor", step)

    def on_unhold(self, step: Any = None) -> Any:
        """The call came off hold (see :meth:`unhold`): ``@ivr.on_unhold``."""
        return self._step_decorator("unhold", step)

    def on_transfer_failed(self, step: Any = None) -> Any:
        """A ``Transfer(on_failure="continue")`` did not connect (``call.transfer_status``);
        the caller is still on the line: ``@ivr.on_transfer_failed("sales")``."""
        return self._step_decorator("transfer_failed", step)

    def errorhandler(self, exc_class: type[BaseException]) -> Callable[[F], F]:
        """Handle a handler's exception (or :class:`~hoiivr.ApiError`) with blocks::

            @ivr.errorhandler(LookupError)
            def not_found(call, error):
                return Hangup("We could not find your booking. Goodbye.")
        """
        def decorator(handler: F) -> F:
            self.register_error_handler(exc_class, handler)
            return handler
        return decorator

    # -- calls -----------------------------------------------------------------------------

    def dispatcher(self, app: Flask | None = None) -> Dispatcher:
        """The dispatcher of ``app`` (default: the current app)."""
        app = app or current_app
        runtime = app.extensions.get("hoiivr")
        if runtime is None:
            raise ConfigError("this app has no IVR: call IVR(app) or ivr.init_app(app) first")
        return runtime.dispatcher

    def dial(self, dest: str, msg: str | None = None, caller_id: str | None = None,
             max_duration: int | None = None, name: str | None = None,
             state: dict[str, Any] | None = None, app: Flask | None = None) -> Response:
        """Call ``dest``; when answered, ``on_dial_answered(name)`` decides what is said.

        ``state`` becomes the call's ``call.state``. Needs an app context (or ``app=``) and,
        outside a request, ``HOIIVR_PUBLIC_URL`` to build the notify URL. Returns Hoiio's
        reply (``.session``, ``.txn_ref``); raises :class:`~hoiivr.ApiError` if refused.
        """
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        block = Dial(dest, msg=msg, caller_id=caller_id, max_duration=max_duration, name=name)
        return self.dispatcher(app).dial(block, app.extensions["hoiivr"].notify_base(), state)

    def unhold(self, call_key: str, name: str | None = None, app: Flask | None = None) -> Response:
        """Take the call ``call_key`` (``call.key``) off a :class:`~hoiivr.Hold`."""
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]
        return self.dispatcher(app).unhold(call_key, Unhold(name=name),
                                           app.extensions["hoiivr"].notify_base())
