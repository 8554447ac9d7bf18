"""Tracing with OpenTelemetry (the ``otel`` extra).

With ``opentelemetry-api`` installed and a tracer provider configured, each notification is
a span, ``hoiivr notification``, whose attributes say which call, session, event and step
it was and what came of it (``hoiivr.verdict``: handled, stale or forbidden); its children
are the wait for the call's lock, the handler, the writes to the store and the delivery
to the carrier (the REST request, or the TwiML answer). ``ivr.dial`` is a span too.

The spans of one call share a trace: the first one (the incoming call's ringing, or the
dial) is kept in the call's record as a W3C ``traceparent``, and every later notification
of the call is its child. That parent is only known once the record is read, so a
notification's span is started then, back-dated to when the notification arrived; a
span of the web request it came in (an instrumented Flask) is linked.

Without OpenTelemetry nothing here runs: the dispatcher holds no :class:`Tracing` and
tests ``is None`` where a span would be.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from .config import Settings
from .errors import ConfigError

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:       # the otel extra is not installed: no tracing, and no cost
    trace = None  # type: ignore[assignment]

_T = TypeVar("_T")
_A = TypeVar("_A")

#: The record's field that holds the call's trace.
TRACE = "trace"


def tracing_from_settings(settings: Settings) -> Tracing | None:
    """The app's tracing, or ``None``: without OpenTelemetry, with ``HOIIVR_TRACING=off``,
    or when no tracer provider is configured by the time the app handles its first call
    (OpenTelemetry's own would make spans nobody records, at a cost on every
    notification). ``HOIIVR_TRACER_PROVIDER`` (in ``app.config``) replaces the global one."""
    if trace is None or not settings.flag("HOIIVR_TRACING", True):
        return None
    provider = _provider(settings)
    if provider is None and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None
    return Tracing(trace.get_tracer("hoiivr", tracer_provider=provider))


def _provider(settings: Settings) -> Any:
    """``HOIIVR_TRACER_PROVIDER``, refused unless it is a tracer provider: an environment
    variable can only name one, and would fail every notification."""
    provider = settings.get("HOIIVR_TRACER_PROVIDER")
    if provider is None or isinstance(provider, trace.TracerProvider):
        return provider
    where = "the environment" if settings.config.get("HOIIVR_TRACER_PROVIDER") is None \
        else "app.config"
    raise ConfigError(
        f"HOIIVR_TRACER_PROVIDER (from {where}) is {provider!r:.60}, not an OpenTelemetry "
        "TracerProvider: set it in app.config to the provider object (e.g. "
        "opentelemetry.sdk.trace.TracerProvider()), or unset it and configure the global "
        "one (trace.set_tracer_provider, or opentelemetry-instrument)")


class _Notification:
    """A notification being handled, until its span can start."""

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.began = time.time_ns()
        self.attributes = {f"hoiivr.{k}": v for k, v in attributes.items() if v is not None}
        self.span: Any = None
        self.token: Any = None


class Tracing:
    """The spans of one app's calls."""

    def __init__(self, tracer: Any) -> None:
        self.tracer = tracer
        # Per thread, a stack: an in-process simulator may deliver a notification while
        # another (or a dial) is being handled in the same thread.
        self._handling = threading.local()
        self._format = TraceContextTextMapPropagator()

    # -- a notification --------------------------------------------------------------------

    def notification(self, run: Callable[[], _T], **attributes: Any) -> _T:
        """``run()`` (the dispatcher's work on one notification) inside its span; the span
        starts at :meth:`loaded`, or at the end if the call's record was never read."""
        stack = self._stack()
        stack.append(_Notification(attributes))
        try:
            outcome = run()
        except BaseException as exc:
            span = self._started(None)
            span.record_exception(exc)
            span.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
            span.end()
            raise
        else:
            span = self._started(None)
            span.set_attribute("hoiivr.verdict", getattr(outcome, "verdict", ""))
            span.end()
            return outcome
        finally:
            token = stack.pop().token
            if token is not None:
                otel_context.detach(token)

    def loaded(self, record: dict[str, Any] | None) -> str:
        """The call's record has been read, under its lock: start the notification's span
        as a child of the call's trace, and make it current. Returns the trace to keep in
        a new call's record."""
        span = self._started(record)
        self.tracer.start_span("hoiivr store lock", start_time=self._stack()[-1].began).end()
        return self.traceparent(span)

    def _stack(self) -> list[_Notification]:
        stack: list[_Notification] | None = getattr(self._handling, "stack", None)
        if stack is None:
            stack = self._handling.stack = []
        return stack

    def _started(self, record: dict[str, Any] | None) -> Any:
        handling = self._stack()[-1]
        if handling.span is not None:
            return handling.span
        parent = self._parent(record)
        here = trace.get_current_span().get_span_context()
        links = [trace.Link(here)] if here.is_valid and parent is not None else None
        span = self.tracer.start_span("hoiivr notification", context=parent,
                                      kind=trace.SpanKind.SERVER, links=links,
                                      attributes=handling.attributes,
                                      start_time=handling.began)
        handling.span = span
        handling.token = otel_context.attach(trace.set_span_in_context(span))
        if record is not None and not record.get("ended") and TRACE not in record:
            record[TRACE] = self.traceparent(span)      # a call older than its tracing
        return span

    def _parent(self, record: dict[str, Any] | None) -> Any:
        kept = record.get(TRACE) if record is not None else None
        if not isinstance(kept, str):
            return None
        return self._format.extract({"traceparent": kept})

    def traceparent(self, span: Any) -> str:
        carrier: dict[str, str] = {}
        self._format.inject(carrier, context=trace.set_span_in_context(span))
        return carrier.get("traceparent", "")

    def carried(self, action: Callable[[_A], None]) -> Callable[[_A], None]:
        """``action``, to be run on another thread (the watchdog's), inside the context
        current here: the spans it makes join this notification's trace, not new ones."""
        here = otel_context.get_current()

        def in_context(argument: _A) -> None:
            token = otel_context.attach(here)
            try:
                action(argument)
            finally:
                otel_context.detach(token)
        return in_context

    # -- its children ----------------------------------------------------------------------

    @contextlib.contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Any]:
        """A child span of whatever is current; an exception is recorded on it."""
        with self.tracer.start_as_current_span(
                name, attributes={f"hoiivr.{k}": v for k, v in attributes.items()
                                  if v is not None}) as span:
            yield span



def kinds(blocks: Sequence[Any]) -> str:
    return ",".join(block.kind for block in blocks)
