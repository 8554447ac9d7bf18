"""Call-flow coverage: which outcomes of each handler and step the tests exercised.

``pytest --hoiivr-coverage`` reads every call of every :class:`~hoiivr.testing.Phone` of
the run (the simulator's record of it, the step names from its notify URLs, the errors its
handlers raised) and ends with a table. The outcomes of a step:

==================== ===============================================================
``key D``            a Gather's keys D, after which the app went on (another step or
                     the end of the call)
``wrong key``        keys after which the app asked the same step again
``no input``         a Gather that ended with no key, the app going on
``give-up``          a Gather that ended with no key, and the app ended the call
``recorded``         a Record's recording arrived
``connected``        a Transfer connected; ``transfer failed: STATUS`` it did not
``answered``         a placed call was answered (busy, unanswered, failed: it was not)
``ran``              a Play, Monitor or Unhold step, ``on_answer`` or ``on_hangup`` ran
``hang-up mid-step`` the caller hung up while the step ran
``error handler``    the handler raised and an ``@ivr.errorhandler`` answered
                     (``error (apology)``: none did, the caller heard the apology)
==================== ===============================================================

What is expected of each step (the "never ran" column): the keys its handler compares
``call.digits`` with in its source, ``wrong key``, ``no input`` and ``hang-up mid-step``
for a Gather; the outcomes above for the other kinds; ``error handler`` when the app
has error handlers.
"""
from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..dispatch import RESULT_EVENTS
from ..ivr import IVR
from ..registry import EVENTS
from ..runtime import Runtime
from ..simulator.trace import REPORTS_TO
from .phone import Phone

__all__ = ["CallCoverage"]

_EXPECTED = {"answer": ["ran"], "gather": ["wrong key", "no input", "hang-up mid-step"],
             "record": ["recorded", "hang-up mid-step"],
             "transfer_failed": ["connected", "transfer failed", "hang-up mid-step"],
             "dial_answered": ["answered", "hang-up mid-step"],
             "dial_failed": ["busy", "unanswered", "failed"],
             "play": ["ran", "hang-up mid-step"], "monitor": ["ran", "hang-up mid-step"],
             "unhold": ["ran", "hang-up mid-step"], "hangup": ["ran"]}
Row = tuple[str, str, "str | None"]           # (app, event, step)
#: A handler's failure as an outcome of its step, by what came of it.
_FAILED = {"handled": "error handler", "apology": "error (apology)"}
#: TwiML verbs that only say a block's prompt.
_PROMPT_VERBS = frozenset({"Say", "Play", "Pause"})
#: What a notification says that the outcomes are read from.
_NOTIFIED_FIELDS = ("call_state", "digits", "record_url", "transfer_status", "dial_status")


@dataclass
class _App:
    """What the table needs of one app: its handlers' names, the outcomes expected."""

    handlers: dict[tuple[str, str | None], str] = field(default_factory=dict)
    expected: dict[tuple[str, str | None], list[str]] = field(default_factory=dict)
    error_handlers: bool = False


class CallCoverage:
    """Collects outcomes from Phones; :meth:`report`."""

    def __init__(self) -> None:
        self.apps: dict[str, _App] = {}
        self.by_call: dict[str, dict[tuple[str, str | None], set[str]]] = {}
        self.app_of_call: dict[str, str] = {}
        #: Each call's handler failures: (handler, step, outcome).
        self.failures: dict[str, list[tuple[str, str | None, str]]] = {}

    # -- collecting -----------------------------------------------------------------------

    def observe(self, phone: Phone) -> None:
        """Read every call of ``phone`` (each call's outcomes replace what was read before)."""
        name = phone.app.import_name
        ivr: IVR = phone.app.extensions["hoiivr"].handlers
        if name not in self.apps:
            self.apps[name] = _describe_app(ivr)
        runtime: Runtime = phone.app.extensions["hoiivr"].runtime
        for summary in phone.sim.calls():
            info = phone.sim.get_call(summary["session"])
            self.by_call[info["session"]] = _outcomes(info, runtime, ivr)
            self.app_of_call[info["session"]] = name
            self.failures[info["session"]] = [
                (_name(e.failure.source), e.failure.step, _FAILED[e.failure.outcome])
                for e in phone.app_errors.of(info["session"])
                if e.failure.source is not None and e.failure.outcome in _FAILED]

    # -- reporting ------------------------------------------------------------------------

    def rows(self) -> dict[Row, set[str]]:
        """Each (app, event, step) and the outcomes exercised, expected rows included."""
        rows: dict[Row, set[str]] = {}
        for name, described in self.apps.items():
            for key in described.expected:
                rows.setdefault((name, *key), set())
        for session, outcomes in self.by_call.items():
            for (event, step), seen in outcomes.items():
                rows.setdefault((self.app_of_call[session], event, step), set()).update(seen)
        for session, failures in self.failures.items():
            app_name = self.app_of_call[session]
            for handler, step, outcome in failures:
                self._add_failure(rows, app_name, handler, step, outcome)
        # A bare handler's row stands for the steps it received; if it has some, their
        # rows say it all.
        named = {(app, event) for app, event, step in rows if step is not None}
        return {row: seen for row, seen in rows.items()
                if row[2] is not None or seen or row[:2] not in named}

    def _add_failure(self, rows: dict[Row, set[str]], app_name: str, handler: str,
                     step: str | None, outcome: str) -> None:
        """Count a handler's failure in the row of the event and step it handled."""
        for (event, known), name in self.apps[app_name].handlers.items():
            if name == handler and known in (step, None):
                rows.setdefault((app_name, event, step), set()).add(outcome)
                return

    def report(self) -> list[str]:
        rows = self.rows()
        table: list[tuple[str, ...]] = [("APP", "STEP", "HANDLER", "EXERCISED", "NEVER RAN")]
        total = done = 0
        for (app, event, step), seen in sorted(rows.items(), key=_order):
            described = self.apps.get(app, _App())
            expected = described.expected.get((event, step)) or \
                described.expected.get((event, None)) or _EXPECTED.get(event, [])
            missing = [e for e in expected if not _covered(e, seen)]
            total += len(expected)
            done += len(expected) - len(missing)
            handler = described.handlers.get((event, step)) or \
                described.handlers.get((event, None)) or "(no handler)"
            table.append((app, _step(event, step), handler, ", ".join(sorted(seen)) or "-",
                          ", ".join(missing) or "-"))
        share = f" ({100 * done // total}%)" if total else ""
        return [f"hoiivr call-flow coverage: {done} of {total} expected outcomes "
                f"exercised{share}", *_aligned(table)]


def _covered(expected: str, seen: set[str]) -> bool:
    return any(s == expected or s.startswith(expected + ":") for s in seen)


def _order(item: tuple[Row, set[str]]) -> tuple[str, int, str]:
    (app, event, step), _ = item
    return app, EVENTS.index(event) if event in EVENTS else len(EVENTS), step or ""


def _step(event: str, step: str | None) -> str:
    kind = next((k for k, e in RESULT_EVENTS.items() if e == event), event)
    return f"{kind} {step}" if step else kind if event != "dial_failed" else "dial (failed)"


def _aligned(rows: list[tuple[str, ...]]) -> Iterator[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        yield "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()


def _name(handler: Any) -> str:
    func = inspect.unwrap(getattr(handler, "func", handler))
    return str(getattr(func, "__name__", None) or repr(func))


# -- what is expected of an app ----------------------------------------------------------------


def _describe_app(ivr: IVR) -> _App:
    app = _App(error_handlers=bool(ivr.error_handlers))
    error = ["error handler"] if ivr.error_handlers else []
    for (event, step), handler in ivr.handlers.items():
        app.handlers[event, step] = _name(handler)
        keys = [f"key {k}" for k in _keys_compared(handler)]
        app.expected[event, step] = keys + _EXPECTED.get(event, []) + \
            (error if event not in ("hangup", "dial_failed") else [])
    return app


def _keys_compared(handler: Any) -> list[str]:
    """The keys the handler's source compares ``call.digits`` with (``== "1"``, ``in
    ("1", "2")``, ``SLOTS.get(call.digits)`` of a module-level dict)."""
    func = inspect.unwrap(handler)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return []
    module = vars(sys.modules.get(func.__module__) or object())
    keys: list[str] = []
    for node in ast.walk(tree):
        for value in _compared(node, module):
            if value not in keys:
                keys.append(value)
    return keys


def _is_digits(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "digits" or \
        isinstance(node, ast.BoolOp) and any(_is_digits(v) for v in node.values)


def _compared(node: ast.AST, module: dict[str, Any]) -> list[str]:
    if isinstance(node, ast.Compare) and _is_digits(node.left):
        return [v for c in node.comparators for v in _constants(c)]
    if isinstance(node, ast.Call) and any(_is_digits(a) for a in node.args) and \
            isinstance(node.func, ast.Attribute) and node.func.attr == "get" and \
            isinstance(node.func.value, ast.Name):
        table = module.get(node.func.value.id)
        return [k for k in table if isinstance(k, str)] if isinstance(table, dict) else []
    return []


def _constants(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [v for e in node.elts for v in _constants(e)]
    return []


# -- what one call did ------------------------------------------------------------------------


def _outcomes(info: dict[str, Any], runtime: Runtime,
              ivr: IVR) -> dict[tuple[str, str | None], set[str]]:
    found: dict[tuple[str, str | None], set[str]] = {}
    entries = info["timeline"]
    current: tuple[str, str | None] | None = None   # the step whose result is awaited
    for index, entry in enumerate(entries):
        kind, sent, notice = entry["type"], _sent(entry), _notice(entry)
        if sent is not None and _took(entry):
            step = _step_of(sent, runtime)
            if step is not None and step[0] != "hangup":
                current = step
        elif notice is not None:
            _notified(found, notice, entries[index + 1:], runtime, ivr)
        elif kind == "transferred" and current and current[0] == "transfer":
            found.setdefault(("transfer_failed", current[1]), set()).add("connected")
            current = None                   # a hang-up from now on is the call's end
        elif kind == "caller_hangup" and current is not None:
            event = RESULT_EVENTS.get(current[0], current[0])
            found.setdefault((event, current[1]), set()).add("hang-up mid-step")
    if info["direction"] == "inbound" and ivr.find_handler("answer", None) is not None:
        found.setdefault(("answer", None), set()).add("ran")
    if ivr.find_handler("hangup", None) is not None and info["state"] == "ended":
        found.setdefault(("hangup", None), set()).add("ran")
    return found


# The timeline of a call on a Hoiio Number has the blocks the app requested and the
# notifications it was sent; on a TwiML number, the verbs the call ran and the webhooks
# (and status callbacks) it requested. Both are read as one.


def _sent(entry: dict[str, Any]) -> tuple[str, str] | None:
    """A block the app sent: (its endpoint, or its TwiML verb; the notify URL its result
    goes to, "" if none). A verb that only says a block's prompt is not one: the block's
    own verb follows it (a Play step's ``<Redirect>``, a Hangup's ``<Hangup>``)."""
    if entry["type"] == "request":
        return entry.get("endpoint", ""), (entry.get("params") or {}).get("notify_url", "")
    if entry["type"] == "verb" and entry["verb"] not in _PROMPT_VERBS:
        return entry["verb"], entry.get(REPORTS_TO.get(entry["verb"], "action")) or ""
    return None


def _step_of(sent: tuple[str, str], runtime: Runtime) -> tuple[str, str | None] | None:
    """(block, step) of a block sent, from its notify URL. A ``<Dial>`` with none is a
    Transfer the app hears nothing of: an unnamed transfer, as on Hoiio."""
    ticket = runtime.ticket_of(sent[1])
    if ticket is not None:
        return ticket.block, ticket.step
    return ("transfer", None) if sent[0] == "Dial" else None


def _took(entry: dict[str, Any]) -> bool:
    """Whether the call took the block: a request Hoiio accepted; a verb the call ran."""
    return entry["type"] == "verb" or \
        str((entry.get("reply") or {}).get("status")).startswith("success")


def _ends(sent: tuple[str, str]) -> bool:
    return sent[0].endswith("/hangup") or sent[0] in ("Hangup", "Reject")


def _notice(entry: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """A notification the app was sent: (its URL, its fields as Hoiio names them). A
    Twilio webhook's form is read as the app's Twilio carrier reads it."""
    if entry["type"] == "notification":
        return entry.get("url") or "", entry.get("fields") or {}
    if entry["type"] not in ("webhook", "callback") or not entry.get("fields"):
        return None
    # Loaded here: the twilio package is an extra, and only a Twilio call has webhooks.
    from ..carriers.twilio.webhook import parse_webhook
    notification = parse_webhook(entry["fields"])
    fields = {name: getattr(notification, name) for name in _NOTIFIED_FIELDS}
    return entry.get("url") or "", {k: v for k, v in fields.items() if v is not None}


def _notified(found: dict[tuple[str, str | None], set[str]],
              notice: tuple[str, dict[str, Any]], later: list[dict[str, Any]],
              runtime: Runtime, ivr: IVR) -> None:
    url, fields = notice
    ticket = runtime.ticket_of(url)
    if ticket is None:
        return
    ended = fields.get("call_state") == "ended"
    if ticket.block == "dial":
        status = fields.get("dial_status") or ""
        if status and status != "answered":
            found.setdefault(("dial_failed", ticket.step), set()).add(status)
        elif not ended:
            found.setdefault(("dial_answered", ticket.step), set()).add("answered")
        return
    # A kind this module does not know (one added later) is counted by its own name.
    event = RESULT_EVENTS.get(ticket.block, ticket.block)
    if ended and ticket.block != "transfer":
        return
    if ticket.block in ("play", "monitor") and ivr.find_handler(event, ticket.step) is None:
        return                  # not a step: the next block queued after it was sent
    outcome = _result(ticket.block, ticket.step, fields, later, runtime)
    if outcome:
        found.setdefault((event, ticket.step), set()).add(outcome)


def _result(block: str, step: str | None, fields: dict[str, str],
            later: list[dict[str, Any]], runtime: Runtime) -> str | None:
    if block == "transfer":
        status = fields.get("transfer_status")
        return f"transfer failed: {status}" if status and status != "answered" else None
    if block == "record":
        return "recorded" if fields.get("record_url") else None
    if "digits" not in fields:
        return "ran"
    reply = next((sent for sent in map(_sent, later) if sent is not None), None)
    again = reply is not None and (
        (ticket := runtime.ticket_of(reply[1])) is not None
        and (ticket.block, ticket.step) == (block, step))
    digits = fields.get("digits") or ""
    if not digits:
        return "give-up" if reply is not None and _ends(reply) else "no input"
    return "wrong key" if again else f"key {digits}"
