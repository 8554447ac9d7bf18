"""Traces of the calls an app took: :func:`trace_of_call`, and how steps are named.

The format is :mod:`hoiivr.simulator.trace`'s; this module adds what only the app's side
knows: the step name each block was sent with, read back from the block's notify URL
with the app's own key (:meth:`hoiivr.runtime.Runtime.ticket_of`).
"""
from __future__ import annotations

from flask import Flask

from ..runtime import Mount, Runtime
from ..simulator.trace import StepOf, Trace, TraceError, trace_of

__all__ = ["Trace", "TraceError", "step_names", "trace_of"]


def step_names(source: Runtime | Mount | Flask) -> StepOf:
    """The step name of a notify URL of the app (None if it has none, or is not the app's)."""
    mount = source.extensions["hoiivr"] if isinstance(source, Flask) else source
    reader: Runtime = mount.runtime if isinstance(mount, Mount) else mount

    def step_of(url: str) -> str | None:
        ticket = reader.ticket_of(url)
        return ticket.step if ticket is not None else None
    return step_of

