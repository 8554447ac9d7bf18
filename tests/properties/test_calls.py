"""Whole calls of the DESIGN.md app under every delivery fault, as a state machine.

Hypothesis plays the caller (call, press, speak, hang up), the clock (timers fire), the
network (each notification delivered in order, out of order, twice, or never) and the
operator (the app restarted between two deliveries, its state kept in SQLite), and checks
after every step the invariants of DESIGN.md:

- every notification gets 200 (a genuine one is never refused, nothing becomes a 500);
- at most one REST request per (call, seq), read from the simulator's timeline;
- ``ended`` is final: once the app has heard a call ended, it sends nothing more for it;
- ``on_hangup`` runs exactly once for a call the app took part in, once it heard the end;
- no dead air: a live call waiting for the app's next block is waiting because its
  notification has not reached the app yet (pending, or lost), and never past the wait.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from e2e.design_app import SALES

from .harness import CALLER, NUMBER, WAIT, Line, deliveries_of, requests_of

REMINDER = "+6598765432"
MAX_CALLS = 4
WAITING_STATES = ("waiting", "ringing")


class Calls(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.line = Line()
        self.ended: set[str] = set()

    def teardown(self) -> None:
        self.line.close()

    # -- helpers ---------------------------------------------------------------------------

    @property
    def pending(self) -> list[Any]:
        assert self.line.outbox is not None
        return self.line.outbox.pending

    def live(self) -> list[str]:
        return [c["session"] for c in self.line.sim.calls() if c["state"] != "ended"]

    def room_for_a_call(self) -> bool:
        return len(self.line.sim.calls()) < MAX_CALLS

    # -- the caller and the app's operator --------------------------------------------------

    @precondition(room_for_a_call)
    @rule()
    def call(self) -> None:
        self.line.sim.call(CALLER, NUMBER)

    @precondition(room_for_a_call)
    @rule(behaviour=st.sampled_from(["answer", "busy", "unanswered"]))
    def dial(self, behaviour: str) -> None:
        self.line.sim.set_phone(REMINDER, behaviour, talk_seconds=20)
        app = self.line.app
        with app.app_context():
            app.ivr.dial(REMINDER, name="reminder", state={"who": "Ann"}, app=app)

    @rule(behaviour=st.sampled_from(["answer", "busy", "unanswered"]))
    def sales_phone(self, behaviour: str) -> None:
        self.line.sim.set_phone(SALES, behaviour, talk_seconds=20)

    @precondition(lambda self: self.live())
    @rule(data=st.data(), digits=st.sampled_from(["1", "2", "7", "#"]))
    def press(self, data: st.DataObject, digits: str) -> None:
        self.line.sim.press(data.draw(st.sampled_from(self.live())), digits)

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def speak(self, data: st.DataObject) -> None:
        self.line.sim.speak(data.draw(st.sampled_from(self.live())), seconds=2)

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def hang_up(self, data: st.DataObject) -> None:
        self.line.sim.hangup(data.draw(st.sampled_from(self.live())))

    @rule()
    def restart_app(self) -> None:
        self.line.restart_app()

    # -- time --------------------------------------------------------------------------------

    @precondition(lambda self: self.line.sim.clock.next_at() is not None)
    @rule()
    def next_event(self) -> None:
        clock = self.line.sim.clock
        due = clock.next_at()
        assert due is not None
        self.line.sim.advance(max(0.0, due - clock.now()))

    @rule(seconds=st.sampled_from([1.0, 10.0, WAIT + 1]))
    def time_passes(self, seconds: float) -> None:
        self.line.sim.advance(seconds)

    # -- the network -------------------------------------------------------------------------

    @precondition(lambda self: self.pending)
    @rule()
    def deliver(self) -> None:
        self.line.outbox.release(0)  # type: ignore[union-attr]

    @precondition(lambda self: len(self.pending) >= 2)
    @rule(data=st.data())
    def reorder(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(1, len(self.pending) - 1))
        self.line.outbox.release(index)  # type: ignore[union-attr]

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(self.pending) - 1))
        self.line.outbox.release(index, keep=True)  # type: ignore[union-attr]

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def drop(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(self.pending) - 1))
        self.line.outbox.drop(index)  # type: ignore[union-attr]

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def every_notification_gets_200(self) -> None:
        for session, call in self.line.calls().items():
            for entry in deliveries_of(call):
                assert entry["reply_status"] == 200, (session, entry)

    @invariant()
    def one_request_per_step(self) -> None:
        steps: Counter[tuple[str, int]] = Counter()
        for call in self.line.calls().values():
            for entry in requests_of(call):
                step = self.line.ticket_seq(entry["params"])
                if step is not None:
                    steps[step] += 1
        assert all(n == 1 for n in steps.values()), [s for s, n in steps.items() if n > 1]

    @invariant()
    def ended_is_final(self) -> None:
        calls = self.line.calls()
        for session in self.ended:
            assert calls[session]["state"] == "ended"
        for session, call in calls.items():
            if call["state"] == "ended":
                self.ended.add(session)
            heard_end = False
            for entry in call["timeline"]:
                if entry["type"] == "notification" and entry["call_state"] == "ended":
                    heard_end = True
                assert not (heard_end and entry["type"] == "request"), (session, entry)

    @invariant()
    def on_hangup_once_per_call(self) -> None:
        hangups = self.line.hangups()
        for session, call in self.line.calls().items():
            took_part = bool(requests_of(call))
            heard_end = any(e["call_state"] == "ended" for e in deliveries_of(call))
            expected = 1 if took_part and heard_end else 0
            assert hangups[session] == expected, (session, hangups[session], expected)

    @invariant()
    def no_dead_air(self) -> None:
        outbox = self.line.outbox
        assert outbox is not None
        engine = self.line.sim.engine
        now = engine.clock.now()
        for session, call in self.line.calls().items():
            if call["state"] not in WAITING_STATES:
                continue
            latest = outbox.sent[session][-1] if outbox.sent.get(session) else None
            if latest is not None:
                # The app heard of this step and sent nothing: dead air until the wait.
                assert latest not in outbox.delivered, (session, latest.form)
            wait = engine.sessions[session].timers.get("wait")
            assert wait is not None and not wait.cancelled and wait.when - now <= WAIT + 1e-6


TestCalls = Calls.TestCase
TestCalls.settings = settings(max_examples=150, stateful_step_count=40, derandomize=True,
                              database=None, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
