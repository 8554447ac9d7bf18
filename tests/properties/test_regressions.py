"""Bugs the property suite found, each as its smallest failing example."""
from __future__ import annotations

from .harness import CALLER, NUMBER, WAIT, Line, requests_of


def test_a_duplicated_end_at_the_answer_url_runs_on_hangup_once(line: Line) -> None:
    # The app answers too late: the wait ran out, so the end goes to the answer URL; a
    # tombstone there was taken for a live call and on_hangup ran for each copy.
    session = line.sim.call(CALLER, NUMBER)
    line.sim.advance(WAIT)
    outbox = line.outbox
    assert outbox is not None
    assert [n.field("call_state") for n in outbox.pending] == ["ringing", "ended"]
    outbox.release(0)                               # the app answers; Hoiio says it's over
    outbox.release(0, keep=True)                    # the end, delivered twice
    outbox.release(0)
    assert line.hangups()[session] == 1


def test_an_end_that_overtakes_the_ringing_means_the_call_never_starts(line: Line) -> None:
    # The caller hangs up before the app heard the call ring, and the end arrives first:
    # the late ringing used to run on_answer and send a block for a call that was over,
    # leaving a record that no end would ever clear and on_hangup never run.
    session = line.sim.call(CALLER, NUMBER)
    line.sim.hangup(session)
    outbox = line.outbox
    assert outbox is not None
    assert [n.field("call_state") for n in outbox.pending] == ["ringing", "ended"]
    outbox.release(1)
    outbox.release(0)
    assert requests_of(line.sim.get_call(session)) == []
    assert line.hangups()[session] == 0
