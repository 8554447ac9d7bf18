"""The :class:`Runtime`: what one app needs to handle calls, built from its settings.

A carrier (with its client), a store, the notify-URL tokens and the dispatcher that joins
them. Each may be handed in ready-made instead (``IVR(app, store=..., client=...)``): the
test harness, ``hoiivr dev`` and the benchmarks wire an app to the simulator that way. The
runtime closes only what it built itself.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ContextManager
from urllib.parse import urlsplit

from .blocks import Block, Play, Transfer
from .carriers import Carrier, carrier_class, carrier_name
from .config import Settings
from .dispatch import Dispatcher, Failure
from .errors import BlockError, ConfigError, TokenError
from .filler import Patience
from .telemetry import tracing_from_settings
from .lint import carrier_problems
from .registry import Handlers
from .stores import Store, store_from_url
from .tokens import NotifyTokens, Ticket

log = logging.getLogger("hoiivr")

#: ``app.app_context``: what a thread outside a request runs handlers in.
AppContext = Callable[[], ContextManager[Any]]

#: Where every notify URL's token follows the IVR's prefix (the route in ``web.py``).
NOTIFY_PATH = "/notify/"


#: How long an ended call's marker is kept (a day): a signed ringing replayed within it
#: cannot start the call again. Hoiio's signature never expires, so this is the window.
TOMBSTONE_TTL = 86400.0


@dataclass(frozen=True)
class Wiring:
    """Ready-made parts handed to ``IVR(app, ...)`` or ``init_app``, in place of the ones
    the settings describe (``None``: build from settings)."""

    store: Store | None = None
    client: Any = None
    carrier: Carrier | None = None
    public_url: str | None = None
    secret_key: str | None = None


@dataclass
class Runtime:
    """The dispatcher of one app and the parts it runs on."""

    dispatcher: Dispatcher
    public_url: str | None
    url_prefix: str
    #: What this runtime built itself and closes: the caller's objects are the caller's.
    owned: list[Callable[[], None]] = field(default_factory=list)
    _told_root: bool = field(default=False, repr=False)

    @property
    def carrier(self) -> Carrier:
        return self.dispatcher.carrier

    @property
    def store(self) -> Store:
        return self.dispatcher.store

    @property
    def tokens(self) -> NotifyTokens:
        return self.dispatcher.tokens

    def notify_base(self, request_root: str | None) -> str:
        """The start of every notify URL: the public URL if configured, else the root URL
        of the request being handled (``request_root``), which a call then keeps."""
        root = self.public_url or request_root
        if root is None:
            raise ConfigError("a notify URL is needed outside a request: set HOIIVR_PUBLIC_URL "
                              "to the URL the provider can reach this app at (e.g. your "
                              "tunnel's)")
        if self.public_url is None and not self._told_root:
            self._told_root = True
            log.warning("HOIIVR_PUBLIC_URL is not set, so each call's notify URLs start with "
                        "the address its first notification came to (now %s); a call keeps "
                        "it, so a forged Host header cannot move them. Set HOIIVR_PUBLIC_URL "
                        "to the URL the provider reaches this app at. Said once.", root)
        return root.rstrip("/") + self.url_prefix + NOTIFY_PATH

    def on_failure(self, listener: Callable[[Failure], None]) -> None:
        """Call ``listener`` with each :class:`~hoiivr.dispatch.Failure` from now on: a
        handler (or a delivery) that raised, whose call it was, and what came of it. A
        tool that shows a call's timeline puts the app's errors in it this way (the test
        ``Phone``, ``hoiivr dev``). It is called in the worker that handled the
        notification, before the next block is sent; with no listener, nothing is."""
        self.dispatcher.failure_listeners.append(listener)

    def ticket_of(self, url: str) -> Ticket | None:
        """The ticket in one of this app's notify URLs: which call, block and step it is
        for. None if ``url`` is not one, or its token does not load (forged, expired, or
        signed with a key since retired). Tools that read a call's record (a trace) name
        its steps with it."""
        path = urlsplit(url).path
        head, found, token = path.rpartition(self.url_prefix + NOTIFY_PATH)
        if not found or not token or "/" in token:
            return None
        try:
            return self.tokens.loads(token)
        except TokenError:
            return None

    def close(self) -> None:
        """Stop the dispatcher (its watchdog; the calls waiting for a result end now);
        close the store and the client this runtime made."""
        self.dispatcher.close()
        owned, self.owned = self.owned, []
        self.close_all(owned)

    @staticmethod
    def close_all(closers: list[Callable[[], None]]) -> None:
        for close in reversed(closers):
            close()


def build_runtime(handlers: Handlers, settings: Settings, url_prefix: str,
                  wiring: Wiring, context: AppContext | None = None) -> Runtime:
    """The runtime ``settings`` describe, with ``wiring``'s parts in place of theirs;
    ``context`` is the app's (``app.app_context``), for what runs outside a request.

    :raises ConfigError: naming every required setting that is missing, at once.
    """
    _check_required(settings, wiring)
    tokens = NotifyTokens(wiring.secret_key or settings.get("SECRET_KEY"),
                          settings.words("HOIIVR_SECRET_KEY_FALLBACKS"),
                          max_age=settings.seconds("HOIIVR_TOKEN_MAX_AGE", 86400))
    tombstone_ttl = settings.seconds("HOIIVR_TOMBSTONE_TTL", TOMBSTONE_TTL)
    slow_handler = settings.seconds("HOIIVR_SLOW_HANDLER", 2.0)
    fallback = store_down_blocks(settings)
    patience = Patience.from_settings(settings)
    public_url = wiring.public_url or settings.get("HOIIVR_PUBLIC_URL")
    _check_carrier(handlers, wiring.carrier or carrier_class(carrier_name(settings)))
    owned: list[Callable[[], None]] = []
    try:
        carrier = wiring.carrier
        if carrier is None:
            carrier = carrier_class(carrier_name(settings)).from_settings(settings,
                                                                          wiring.client)
            if wiring.client is None:
                owned.append(carrier.close)
        store = wiring.store
        if store is None:
            store = store_from_url(settings.get("HOIIVR_STORE", "memory://"))
            owned.append(store.close)
    except BaseException:
        Runtime.close_all(owned)
        raise
    dispatcher = Dispatcher(handlers, store, carrier, tokens, tombstone_ttl=tombstone_ttl,
                            fallback=fallback, slow_handler=slow_handler, patience=patience,
                            tracing=tracing_from_settings(settings),
                            action_wait=settings.seconds("HOIIVR_ACTION_WAIT", 10.0),
                            context=context)
    return Runtime(dispatcher, str(public_url).rstrip("/") if public_url else None, url_prefix,
                   owned)


def store_down_blocks(settings: Settings) -> tuple[Block, ...] | None:
    """``HOIIVR_STORE_DOWN``: what a caller hears when the store fails. Words to say, or
    ``transfer:+6561234567`` for a person; unset, a short apology."""
    value = settings.get("HOIIVR_STORE_DOWN")
    if not value:
        return None
    text = str(value).strip()
    try:
        if text.lower().startswith("transfer:"):
            return (Transfer(text.split(":", 1)[1].strip(),
                             msg="Please hold while we connect you."),)
        return (Play(text),)
    except BlockError as exc:
        raise ConfigError(f"HOIIVR_STORE_DOWN={text[:60]!r} cannot be used: {exc} It takes "
                          "the words to say, or transfer:+6561234567") from None


def _check_carrier(handlers: Handlers, carrier: Carrier | type[Carrier]) -> None:
    """Refuse to start an app that asks for what its carrier lacks: better now than in the
    middle of a call."""
    cls = carrier if isinstance(carrier, type) else type(carrier)
    problems = carrier_problems(handlers, cls)
    if problems:
        raise ConfigError(f"this app asks for what the {cls.name} carrier cannot do:\n  - "
                          + "\n  - ".join(problems)
                          + "\nChange those places, or choose another carrier (HOIIVR_CARRIER).")


def _check_required(settings: Settings, wiring: Wiring) -> None:
    """Every required setting the wiring does not make unnecessary, in one error."""
    keys: list[str] = []
    if wiring.carrier is None and wiring.client is None:
        keys += carrier_class(carrier_name(settings)).credentials
    if wiring.secret_key is None:
        keys.append("SECRET_KEY")
    settings.required(*keys, why="credentials are needed to answer and place calls, and "
                      "SECRET_KEY signs every notify URL")



class Mount:
    """An app's IVR: its handlers, its settings and wiring, and its :class:`Runtime`, which
    is built (and the settings checked) when it is first needed. Kept in
    ``app.extensions["hoiivr"]``."""

    def __init__(self, handlers: Handlers, settings: Settings, url_prefix: str,
                 wiring: Wiring, context: AppContext | None = None) -> None:
        self.handlers = handlers
        self.settings = settings
        self.url_prefix = url_prefix
        self.wiring = wiring
        self.context = context
        self._runtime: Runtime | None = None
        self._lock = threading.Lock()

    @property
    def runtime(self) -> Runtime:
        """The runtime, built on first use; a missing setting raises :class:`ConfigError`."""
        runtime = self._runtime
        if runtime is None:
            with self._lock:
                if self._runtime is None:
                    self._runtime = build_runtime(self.handlers, self.settings,
                                                  self.url_prefix, self.wiring, self.context)
                runtime = self._runtime
        return runtime

    def close(self) -> None:
        """Close what the runtime built (if it was built); it is built again if needed."""
        with self._lock:
            runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.close()
