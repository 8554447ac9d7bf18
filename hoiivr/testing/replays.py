"""Replay recorded calls against today's code: :func:`replay`, and ``hoiivr replay``.

A replay is a fresh :class:`~hoiivr.testing.Phone` on a virtual clock: the trace's call is
placed again (an incoming call from the same number to the same Hoiio Number, or the same
``ivr.dial``), the caller's actions happen at the same virtual times, and the app's
observable behaviour is compared with the trace's, entry by entry, times aside: the
blocks it sent (kind, step, parameters, reply), the prompts heard, transfers, recordings
and the end. The first entry that differs is the divergence, shown with the caller's last
action and the step the call was in.

Not replayed: faults injected while recording, and audio the caller uploaded (the speech
is replayed for as long, as silence the simulator's voice fills; what a Gather recognized
in it is replayed as those words, said).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from flask import Flask

from ..carriers import carrier_name
from ..errors import HoiivrError
from ..ivr import IVR
from ..simulator import SimulatorError
from ..simulator.trace import UNCOMPARED, Trace, TraceError, trace_of
from .phone import DEFAULT_NUMBER, Phone, PhoneCall
from .trace import step_names

__all__ = ["Divergence", "ReplayMismatch", "ReplayResult", "replay", "replay_trace",
           "trace_files"]

#: The most virtual seconds a replayed call may run past its trace's end to come to rest.
SETTLE_LIMIT = 3600.0


class ReplayMismatch(HoiivrError, AssertionError):
    """A replayed call went differently; ``results`` holds every trace's outcome."""

    def __init__(self, results: list[ReplayResult]) -> None:
        self.results = results
        failed = [r for r in results if not r.ok]
        super().__init__(f"{len(failed)} of {len(results)} replayed calls went differently:\n\n"
                         + "\n\n".join(r.report() for r in failed))


@dataclass(frozen=True)
class Divergence:
    """The first entry of the app's side that differs: ``index`` in the observed entries,
    ``expected`` and ``got`` (None where one side has no more), and where it happened."""

    index: int
    expected: dict[str, Any] | None
    got: dict[str, Any] | None
    after: dict[str, Any] | None      # the caller's last action before it
    step: dict[str, Any] | None       # the last block sent before it (the step the call was in)

    def describe(self) -> str:
        at = (self.expected or self.got or {}).get("at", 0.0)
        where = f"at {at:.3f} s"
        if self.after is not None:
            where += f", after the caller's {_action(self.after)}"
        if self.step is not None:
            where += f", in {_block_name(self.step)}"
        lines = [f"the call went differently {where}:",
                 f"  expected: {_observed(self.expected)}",
                 f"  got:      {_observed(self.got)}"]
        lines += _param_changes(self.expected, self.got)
        return "\n".join(lines)


@dataclass(frozen=True)
class ReplayResult:
    """One trace replayed: the recording, the replay's own trace, the divergence if any."""

    trace: Trace
    got: Trace
    divergence: Divergence | None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.divergence is None

    def report(self) -> str:
        if self.ok:
            return f"{self.trace.source}: the same ({len(self.trace.observed)} entries)"
        assert self.divergence is not None
        text = f"{self.trace.source}: {self.divergence.describe()}"
        return text + (f"\n  note: {self.note}" if self.note else "")


# -- running ----------------------------------------------------------------------------------


def trace_files(paths: Iterable[str | Path]) -> list[Path]:
    """The trace files named: each file itself, each directory's ``*.jsonl`` (sorted)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(path.glob("*.jsonl"))
        elif path.exists():
            found.append(path)
        else:
            raise TraceError(f"no trace at {path}: give trace files (*.jsonl) or directories "
                             "of them")
    return found


def replay(path: str | Path | Iterable[str | Path], app: Flask) -> list[ReplayResult]:
    """Replay the traces at ``path`` (a file, a directory of ``*.jsonl``, or a list of
    them) against ``app``; raises :class:`ReplayMismatch` (an ``AssertionError``, so a
    test fails with the diff) if any call went differently::

        def test_recorded_calls_still_go_the_same_way(app):
            replay("tests/traces", app)
    """
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    files = trace_files(paths)
    if not files:
        raise TraceError(f"no trace files (*.jsonl) in {', '.join(map(str, paths))}")
    results = [replay_trace(Trace.load(file), app) for file in files]
    if not all(result.ok for result in results):
        raise ReplayMismatch(results)
    return results


def replay_trace(trace: Trace, app: Flask) -> ReplayResult:
    """Run ``trace`` against ``app`` on a fresh Phone; the result says how it went.

    :raises TraceError: the trace was recorded on another carrier than the app's: what a
        carrier sends differs (blocks on Hoiio, TwiML verbs on Twilio), so it cannot be
        compared.
    """
    recorded_on = trace.call.get("carrier", "hoiio")
    runs_on = carrier_name(app.extensions["hoiivr"].settings)
    if recorded_on != runs_on:
        raise TraceError(f"{trace.source}: recorded on the {recorded_on} carrier, but the app "
                         f"runs on {runs_on} (HOIIVR_CARRIER); a trace replays on the carrier "
                         "it was recorded on: record the call again on this one")
    with Phone(app, number=trace.call.get("to") or DEFAULT_NUMBER) as phone:
        call = _place(trace, app, phone)
        note = _play_actions(trace, phone, call)
        info = call.info
        got = trace_of(info, recorded_by="replay", step_of=step_names(app),
                       mask=bool(trace.call.get("masked")))
    got.source = f"{trace.source} (replayed)"
    return ReplayResult(trace, got, compare(trace, got), note)


def _place(trace: Trace, app: Flask, phone: Phone) -> PhoneCall:
    if trace.call["direction"] == "inbound":
        session = phone.sim.call(trace.caller, trace.call["to"])
    else:
        # The simulator reads how the dialled number behaves as it dials: scripted first.
        dialled = next((a for a in trace.actions if a["type"] == "dest_phone"
                        and a["number"] == trace.call["dest"]), None)
        if dialled is not None:
            _script(phone, dialled)
        session = _dial(trace, app)
    call = PhoneCall(phone, session)
    phone.calls.append(call)
    return call


def _dial(trace: Trace, app: Flask) -> str:
    dial = next((e for e in trace.observed if e["type"] == "block" and e["kind"] == "dial"),
                None)
    if dial is None:
        raise TraceError(f"{trace.source}: the trace of a placed call has no dial block to "
                         "place it with again")
    ivr: IVR = app.extensions["hoiivr"].handlers
    placed = ivr.dial(trace.caller, **_dial_options(dial["params"]), name=dial.get("step"),
                      state=trace.call.get("state"), app=app)
    return placed.session


def _dial_options(params: dict[str, Any]) -> dict[str, Any]:
    """``ivr.dial``'s options as the dial block shows them: a Hoiio Dial's parameters, or
    a Twilio Calls request's (``From``, ``TimeLimit``, the message said in its ``Twiml``)."""
    if "To" not in params:
        limit = params.get("max_duration")
        return {"msg": params.get("msg"), "caller_id": params.get("caller_id"),
                "max_duration": int(limit) if limit else None}
    limit = params.get("TimeLimit")
    # The number the call came from, given again: the same Calls request whether the app
    # gave a caller_id or its TWILIO_FROM_NUMBER was used.
    return {"msg": _greeting(params.get("Twiml")), "caller_id": params.get("From"),
            "max_duration": int(limit) if limit else None}


def _greeting(twiml: str | None) -> str | None:
    """The ``msg`` a Twilio Calls request's document says (``twiml.greeting``): its Say
    verbs as text (in ``<speech>`` markup where not in the default voice) and its Play
    verbs as ``<url>``."""
    if not twiml:
        return None
    pieces = []
    for verb in ElementTree.fromstring(twiml):
        text = escape((verb.text or "").strip())
        if verb.tag == "Play":
            pieces.append(f"<url>{text}</url>")
        elif verb.tag == "Say":
            pieces.append(_spoken(text, verb.get("voice"), verb.get("language")))
    return " ".join(pieces) or None


def _spoken(text: str, voice: str | None, language: str | None) -> str:
    if voice in (None, "woman") and language is None:
        return text
    # The voice the gender and language are said in (voices.basic_voice): man is male;
    # alice and Google's voices have no gender to tell, and say either the same.
    # Loaded here: the twilio package is an extra, and a Twilio trace's replay needs it.
    from ..carriers.twilio.voices import HOIIO_LANGUAGES
    gender = "male" if voice == "man" else "female"
    hoiio = {locale: tag for tag, locale in HOIIO_LANGUAGES.items()}   # ja-JP: ja
    spoken = hoiio.get(language or "en", language or "en")
    return f'<speech language="{spoken}" gender="{gender}">{text}</speech>'


def _play_actions(trace: Trace, phone: Phone, call: PhoneCall) -> str | None:
    """Do the caller's actions at their times; a note if the call could not take one."""
    sim, start = phone.sim, phone.sim.clock.now()
    for action in trace.actions:
        if action["type"] == "dest_phone":
            _script(phone, action)    # before the ring it was read at, as it was recorded
            continue
        sim.advance(max(0.0, start + action["at"] - sim.clock.now()))
        if call.info["state"] == "ended":
            return (f"the call had ended before the caller's {_action(action)} at "
                    f"{action['at']:.3f} s")
        try:
            _act(phone, call.session, action)
        except SimulatorError as exc:
            return f"the caller's {_action(action)} at {action['at']:.3f} s was refused: {exc}"
    sim.advance(max(0.0, start + trace.call["until"] - sim.clock.now()))
    try:
        sim.settle(call.session, limit=SETTLE_LIMIT)
    except SimulatorError as exc:
        return str(exc)
    return None


def _script(phone: Phone, action: dict[str, Any]) -> None:
    """Make a number behave as the trace's ``dest_phone`` says. A masked number (the person
    a placed call rang) rings as its zero-filled twin."""
    phone.sim.set_phone(action["number"].replace("*", "0"), action["behaviour"],
                        action["talk_seconds"])


def _act(phone: Phone, session: str, action: dict[str, Any]) -> None:
    sim, kind = phone.sim, action["type"]
    if kind == "press":
        sim.press(session, action["digits"])
    elif kind == "speak" and action.get("text"):
        sim.say(session, action["text"])
    elif kind == "speak":
        sim.speak(session, seconds=action["seconds"])
    elif kind == "hangup":
        sim.hangup(session)
    elif action["answered"]:
        sim.answer(session)
    else:
        sim.reject(session)


# -- comparing ----------------------------------------------------------------------------------


def compare(expected: Trace, got: Trace) -> Divergence | None:
    """The first observed entry that differs (times aside), or None."""
    steps = bool(expected.call.get("steps")) and bool(got.call.get("steps"))
    want, have = expected.observed, got.observed
    if expected.call.get("carrier") == "twilio" and not _blocks(want):
        # Recorded before a Twilio trace had blocks (and prompts their steps): compared on
        # what it has. Record it again to compare the verbs too.
        have, steps = [e for e in have if e["type"] != "block"], False
    for index in range(max(len(want), len(have))):
        a = want[index] if index < len(want) else None
        b = have[index] if index < len(have) else None
        if a is None or b is None or _key(a, steps) != _key(b, steps):
            return Divergence(index, a, b, _last(expected.actions, a or b),
                              _last_block(want[:index]))
    return None


def _key(entry: dict[str, Any], steps: bool) -> dict[str, Any]:
    return {k: v for k, v in entry.items()
            if k not in UNCOMPARED and (steps or k != "step")}


def _last(actions: list[dict[str, Any]], entry: dict[str, Any] | None) -> dict[str, Any] | None:
    at = entry["at"] if entry is not None else float("inf")
    before = [a for a in actions if a["at"] <= at and a["type"] != "dest_phone"]
    return before[-1] if before else None


def _last_block(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    blocks = _blocks(entries)
    return blocks[-1] if blocks else None


def _blocks(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e["type"] == "block"]


# -- describing ---------------------------------------------------------------------------------


def _action(action: dict[str, Any]) -> str:
    kind = action["type"]
    if kind == "press":
        return f"press {action['digits']}"
    if kind == "speak" and action.get("text"):
        return f"saying {action['text']!r}"
    if kind == "speak":
        return f"speech of {action['seconds']:g} s"
    if kind == "pick_up":
        return f"{'answer' if action['answered'] else 'rejection'} at {action['number']}"
    return str(kind)


def _block_name(block: dict[str, Any]) -> str:
    step = block.get("step")
    return f'{block["kind"]} "{step}"' if step else f"an unnamed {block['kind']}"


def _observed(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "nothing more"
    kind = entry["type"]
    if kind == "block":
        # A TwiML verb has no reply: it is the answer to a webhook.
        reply = f" -> {entry['status']}" if entry["status"] is not None else ""
        return f"{_block_name(entry)} {_params(entry['params'])}{reply}"
    if kind == "prompt":
        heard = "music on hold" if entry.get("music") else repr(entry["text"])
        return f"the caller hears {heard} (from {_block_name(entry)})"
    if kind == "transfer":
        return f"transfer to {entry.get('room') and 'room:' + entry['room'] or entry['dest']}" \
               f": {entry['status']}"
    if kind == "recording":
        return (f"a {entry['kind']} recording holding {entry['spoken']:g} s of the caller's "
                f"speech")
    return f"the call ends: {entry.get('reason')}"


def _params(params: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + "}"


def _param_changes(a: dict[str, Any] | None, b: dict[str, Any] | None) -> Iterator[str]:
    if not (a and b and a["type"] == b["type"] == "block"):
        return
    before, after = a["params"], b["params"]
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            yield f"  {name}: {_value(before, name)} -> {_value(after, name)}"


def _value(params: dict[str, Any], name: str) -> str:
    return repr(params[name]) if name in params else "(absent)"
