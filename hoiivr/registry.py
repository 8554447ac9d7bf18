"""The handler registry: which function answers which moment of a call.

:class:`Handlers` holds the decorators and the lookups and knows nothing of Flask or of a
provider, the way Flask keeps its ``Scaffold`` apart from the ``App``:
:class:`~hoiivr.IVR` adds the Flask extension on top, the
:class:`~hoiivr.dispatch.Dispatcher` reads it.
"""
from __future__ import annotations

import difflib
import inspect
from typing import TYPE_CHECKING, Any, Callable, TypeVar, overload

from .errors import SetupError

#: Any handler: takes the call (and, for an error handler, the exception).
Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)

#: Events whose handlers may be limited to one step name.
STEP_EVENTS = ("dial_answered", "dial_failed", "gather", "record", "play", "monitor", "unhold",
               "transfer_failed")
EVENTS = ("answer", *STEP_EVENTS, "hangup")


class Handlers:
    """Handlers for the events of a call, each for every step or for one step name."""

    def __init__(self) -> None:
        self.handlers: dict[tuple[str, str | None], Handler] = {}
        self.error_handlers: list[tuple[type[BaseException], Handler]] = []
        #: Functions told of every event of every call, beside its handler (extensions).
        self.listeners: dict[str, list[Handler]] = {}
        self._serving = False

    # -- registering -------------------------------------------------------------------

    def add_handler(self, event: str, handler: Handler, step: str | None = None) -> None:
        """Register ``handler`` for ``event`` (and only ``step``, if given).

        The plain-method twin of every ``on_*`` decorator:
        ``ivr.add_handler("gather", menu, "menu")`` is ``@ivr.on_gather("menu")``.
        """
        if event not in EVENTS:
            raise SetupError(f"unknown event {event!r}; events are {', '.join(EVENTS)}")
        if step is not None and event not in STEP_EVENTS:
            raise SetupError(f"on_{event} takes no step name: a call has one {event}")
        if not callable(handler):
            raise SetupError(f"on_{event} was given {handler!r}, which is not a function")
        self._check_setup(f"on_{event}")
        if (event, step) in self.handlers:
            where = f" step {step!r}" if step else ""
            raise SetupError(f"on_{event}{where} already has a handler "
                             f"({self.handlers[event, step].__qualname__}); each (event, step) "
                             "has one handler")
        self.handlers[event, step] = handler

    def register_error_handler(self, exc_class: type[BaseException], handler: Handler) -> None:
        """The twin of :meth:`errorhandler`."""
        if not (isinstance(exc_class, type) and issubclass(exc_class, BaseException)):
            raise SetupError(f"errorhandler takes an exception class, not {exc_class!r}")
        _check_arity(handler, 2, "an error handler takes (call, error)")
        self._check_setup("errorhandler")
        for known, other in self.error_handlers:
            if known is exc_class:
                # Which of the two would answer is no choice to leave to the order of
                # registration: the second would never run.
                raise SetupError(f"errorhandler({exc_class.__name__}) already has a handler "
                                 f"({getattr(other, '__qualname__', other)!s}); each "
                                 "exception class has one error handler")
        self.error_handlers.append((exc_class, handler))

    def add_listener(self, event: str, listener: Handler) -> None:
        """Call ``listener(call)`` at every ``event`` of every call, whatever its step,
        before the event's handler (and when it has none). What it returns is ignored; what
        it raises is logged, and the call goes on.

        For extensions that watch calls without taking the app's handlers:
        :mod:`hoiivr.campaigns` records each campaign call's outcome this way::

            ivr.add_listener("hangup", lambda call: ended.append(call.session))
        """
        if event not in EVENTS:
            raise SetupError(f"unknown event {event!r}; events are {', '.join(EVENTS)}")
        _check_arity(listener, 1, f"a listener of {event} takes the call")
        self._check_setup(f"a listener of {event}")
        self.listeners.setdefault(event, []).append(listener)

    def seal(self) -> None:
        """No more registering: the app has started to handle calls."""
        self._serving = True

    def _check_setup(self, what: str) -> None:
        if self._serving:
            raise SetupError(f"{what} was registered after the app handled its first "
                             "notification; register every handler at import time, before "
                             "the app serves requests")

    # -- looking up ----------------------------------------------------------------------

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

    # -- the decorators --------------------------------------------------------------------

    if not TYPE_CHECKING:       # to mypy, an IVR keeps no attributes but its own
        def __getattr__(self, name: str) -> Any:
            """Only for a name the object lacks: a misspelt decorator lists the decorators."""
            raise AttributeError(_no_such_attribute(self, name))

    def _decorate(self, event: str, arg: Any) -> Any:
        """``@on_x`` (arg is the handler), ``@on_x()`` or ``@on_x("step")``."""
        if callable(arg):
            self.add_handler(event, arg)
            return arg
        if arg is not None and not isinstance(arg, str):
            raise SetupError(f"on_{event} takes a step name (text) or nothing, not {arg!r}")

        def decorator(handler: H) -> H:
            self.add_handler(event, handler, arg)
            return handler
        return decorator

    @overload
    def on_answer(self, handler: H) -> H: ...
    @overload
    def on_answer(self, handler: None = None) -> Callable[[H], H]: ...

    def on_answer(self, handler: H | None = None) -> H | Callable[[H], H]:
        """An incoming call rings. Return the first blocks (or a bare Hangup to reject it)::

            @ivr.on_answer
            def answer(call):
                return Play("Welcome.")
        """
        return self._decorate("answer", handler)  # type: ignore[no-any-return]

    @overload
    def on_hangup(self, handler: H) -> H: ...
    @overload
    def on_hangup(self, handler: None = None) -> Callable[[H], H]: ...

    def on_hangup(self, handler: H | None = None) -> H | Callable[[H], H]:
        """The call ended, for any reason; billing is on ``call``. Returns nothing::

            @ivr.on_hangup
            def ended(call):
                print(call.session, call.duration, call.debit)
        """
        return self._decorate("hangup", handler)  # type: ignore[no-any-return]

    @overload
    def on_dial_answered(self, step: H) -> H: ...
    @overload
    def on_dial_answered(self, step: str | None = None) -> Callable[[H], H]: ...

    def on_dial_answered(self, step: H | str | None = None) -> H | Callable[[H], H]:
        """A call placed with ``ivr.dial`` was answered: ``@ivr.on_dial_answered("remind")``."""
        return self._decorate("dial_answered", step)  # type: ignore[no-any-return]

    @overload
    def on_dial_failed(self, step: H) -> H: ...
    @overload
    def on_dial_failed(self, step: str | None = None) -> Callable[[H], H]: ...

    def on_dial_failed(self, step: H | str | None = None) -> H | Callable[[H], H]:
        """A call placed with ``ivr.dial`` was busy, unanswered or failed (``call.dial_status``).
        The call has ended; ``on_hangup`` runs after this. ``@ivr.on_dial_failed("remind")``."""
        return self._decorate("dial_failed", step)  # type: ignore[no-any-return]

    @overload
    def on_gather(self, step: H) -> H: ...
    @overload
    def on_gather(self, step: str | None = None) -> Callable[[H], H]: ...

    def on_gather(self, step: H | str | None = None) -> H | Callable[[H], H]:
        """Keys were entered (``call.digits``, maybe empty)::

            @ivr.on_gather("menu")
            def menu(call):
                return Transfer("+6522222222") if call.digits == "1" else Hangup("Bye.")
        """
        return self._decorate("gather", step)  # type: ignore[no-any-return]

    @overload
    def on_record(self, step: H) -> H: ...
    @overload
    def on_record(self, step: str | None = None) -> Callable[[H], H]: ...

    def on_record(self, step: H | str | None = None) -> H | Callable[[H], H]:
        """A recording is ready at ``call.record_url``: ``@ivr.on_record("voicemail")``."""
        return self._decorate("record", step)  # type: ignore[no-any-return]

    @overload
    def on_play(self, step: H) -> H: ...
    @overload
    def on_play(self, step: str | None = None) -> Callable[[H], H]: ...

    def on_play(self, step: H | str | None = None) -> H | Callable[[H], H]:
        """A Play finished (when it was the last block returned): ``@ivr.on_play("intro")``."""
        return self._decorate("play", step)  # type: ignore[no-any-return]

    @overload
    def on_monitor(self, step: H) -> H: ...
    @overload
    def on_monitor(self, step: str | None = None) -> Callable[[H], H]: ...

    def on_monitor(self, step: H | str | None = None) -> H | Callable[[H], H]:
        """Monitoring started and the call waits for the next block: ``@ivr.on_monitor``."""
        return self._decorate("monitor", step)  # type: ignore[no-any-return]

    @overload
    def on_unhold(self, step: H) -> H: ...
    @overload
    def on_unhold(self, step: str | None = None) -> Callable[[H], H]: ...

    def on_unhold(self, step: H | str | None = None) -> H | Callable[[H], H]:
        """The call came off hold (see ``ivr.unhold``): ``@ivr.on_unhold``."""
        return self._decorate("unhold", step)  # type: ignore[no-any-return]

    @overload
    def on_transfer_failed(self, step: H) -> H: ...
    @overload
    def on_transfer_failed(self, step: str | None = None) -> Callable[[H], H]: ...

    def on_transfer_failed(self, step: H | str | None = None) -> H | Callable[[H], H]:
        """A ``Transfer(on_failure="continue")`` did not connect (``call.transfer_status``);
        the caller is still on the line: ``@ivr.on_transfer_failed("sales")``."""
        return self._decorate("transfer_failed", step)  # type: ignore[no-any-return]

    def errorhandler(self, exc_class: type[BaseException]) -> Callable[[H], H]:
        """Handle a handler's exception (or :class:`~hoiivr.ApiError`) with blocks::

            @ivr.errorhandler(LookupError)
            def not_found(call, error):
                return Hangup("We could not find your booking. Goodbye.")
        """
        def decorator(handler: H) -> H:
            self.register_error_handler(exc_class, handler)
            return handler
        return decorator


#: What ``@ivr.`` can be followed by.
DECORATORS = (*(f"on_{event}" for event in EVENTS), "errorhandler")


def _no_such_attribute(handlers: Handlers, name: str) -> str:
    """The message for ``ivr.<name>`` when it does not exist; for what looks like a decorator,
    with the list of them. (Python adds its "Did you mean" when it prints the error.)"""
    kind = type(handlers).__name__
    if name.startswith("__") or not (name.startswith("on") or
                                     difflib.get_close_matches(name, DECORATORS, n=1)):
        return f"{kind!r} object has no attribute {name!r}"
    every = ", ".join(f"@ivr.{d}" for d in DECORATORS[:-1])
    return (f"{kind} has no decorator {name} (the decorators are {every} and "
            "@ivr.errorhandler(ExceptionClass))")


def _check_arity(handler: Handler, count: int, what: str) -> None:
    """Refuse, when it is registered, a handler that cannot take ``count`` arguments."""
    if not callable(handler):
        raise SetupError(f"{what}; {handler!r} is not a function")
    try:
        inspect.signature(handler).bind(*range(count))
    except TypeError:
        name = getattr(handler, "__qualname__", repr(handler))
        raise SetupError(f"{name} cannot be called with {count} arguments: {what}, e.g. "
                         f"def {getattr(handler, '__name__', 'handler')}(call, error): ...")\
            from None
    except ValueError:
        return      # no signature to read (a builtin): trust it
