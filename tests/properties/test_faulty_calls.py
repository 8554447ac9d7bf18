"""Calls of the DESIGN.md app through the simulator's own fault injection.

Where ``test_calls`` chooses each fault by hand, here the faults are rates handed to
``Simulator.set_faults`` (notifications duplicated, held back, delayed or dropped; REST
replies failed or connections dropped) and a caller follows a random script. Whatever the
dice say: no 500, at most one REST request per (call, seq), ``on_hangup`` at most once,
nothing sent after the app heard the end, and every call ends.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from e2e.design_app import SALES

from .harness import CALLER, NUMBER, WAIT, Line, deliveries_of, requests_of

rates = st.sampled_from([0.0, 0.0, 0.3, 1.0])
faults = st.fixed_dictionaries({
    "duplicate": rates, "reorder": rates, "drop_notification": st.sampled_from([0.0, 0.2]),
    "delay": st.sampled_from([0.0, 0.5, 5.0, WAIT + 5]), "rest_error": st.sampled_from([0.0, 0.3]),
    "rest_drop": st.sampled_from([0.0, 0.3]), "seed": st.integers(0, 1000)})
actions = st.lists(st.one_of(
    st.tuples(st.just("press"), st.sampled_from(["1", "2", "7", "#"])),
    st.tuples(st.just("speak"), st.sampled_from([1.0, 5.0])),
    st.tuples(st.just("wait"), st.sampled_from([0.5, 3.0, 11.0, WAIT + 1])),
    st.tuples(st.just("hangup"), st.none()),
    st.tuples(st.just("restart"), st.none())), max_size=12)


def _act(line: Line, session: str, action: tuple[str, Any]) -> None:
    name, arg = action
    if name == "restart":
        line.restart_app()
    elif name == "wait":
        line.sim.advance(arg)
    elif line.sim.get_call(session)["state"] != "ended":
        if name == "press":
            line.sim.press(session, arg)
        elif name == "speak":
            line.sim.speak(session, seconds=arg)
        else:
            line.sim.hangup(session)


@settings(max_examples=120, derandomize=True, database=None, deadline=None)
@given(injected=faults, script=actions, sales=st.sampled_from(["answer", "busy"]))
def test_every_call_ends_and_no_step_is_sent_twice(injected: dict[str, Any],
                                                  script: list[tuple[str, Any]],
                                                  sales: str) -> None:
    line = Line(manual=False)
    try:
        line.sim.set_faults(**injected)
        line.sim.set_phone(SALES, sales, talk_seconds=20)
        session = line.sim.call(CALLER, NUMBER)
        for action in script:
            _act(line, session, action)
        line.sim.advance(3600)
        call = line.sim.get_call(session)
        assert call["state"] == "ended", line.sim.get_call(session)["timeline"]
        assert all(e["reply_status"] == 200 for e in deliveries_of(call))
        steps = Counter(line.ticket_seq(e["params"]) for e in requests_of(call))
        assert all(n == 1 for step, n in steps.items() if step is not None), steps
        heard_end = False
        for entry in call["timeline"]:
            heard_end = heard_end or (entry["type"] == "notification"
                                      and entry["call_state"] == "ended")
            assert not (heard_end and entry["type"] == "request"), entry
        assert line.hangups()[session] <= 1
        if heard_end and requests_of(call):
            assert line.hangups()[session] == 1
    finally:
        line.close()
