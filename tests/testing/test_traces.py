"""Traces and replays through their public surface: PhoneCall.save_trace, Trace.load,
hoiivr.testing.replay."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask

from hoiivr import IVR, Gather, Hangup, Play, Record, Transfer
from hoiivr.simulator.trace import Trace, TraceError, mask_number
from hoiivr.testing import Phone, ReplayMismatch, replay

CALLER = "+6598765432"
SALES = "+6522222222"


def make_app(menu: str = "Press 1 for sales.", step: str = "menu",
             greeting: str = "Hello") -> Flask:
    app = Flask(__name__)
    ivr = IVR(app)

    @ivr.on_answer
    def answer(call):
        return [Play(f"{greeting}, caller {call.from_number}."),
                Gather(menu, max_digits=1, timeout=5, name=step)]

    @ivr.on_gather
    def chosen(call):
        if call.digits == "1":
            return Transfer(SALES, msg="Connecting you.", on_failure="continue", name="sales")
        return Hangup("Goodbye.")

    @ivr.on_transfer_failed("sales")
    def busy(call):
        return Record("Leave a message.", max_duration=30, name="voicemail")

    @ivr.on_record("voicemail")
    def recorded(call):
        return Hangup("Thanks.")
    return app


def record(app: Flask, path: Path, *, busy: bool = False, mask: bool = True) -> Path:
    with Phone(app) as phone:
        if busy:
            phone.set_behaviour(SALES, "busy")
        call = phone.call(from_number=CALLER)
        call.press("1")
        if busy:
            call.speak(seconds=3)
            call.press("#")
        return call.save_trace(path, mask=mask)


def test_a_recorded_call_replays_the_same(tmp_path):
    path = record(make_app(), tmp_path / "call.jsonl")
    [result] = replay(path, make_app())
    assert result.ok, result.report()
    kinds = [(e["type"], e.get("kind"), e.get("step")) for e in result.got.observed]
    assert kinds[:4] == [("block", "play", None), ("prompt", "play", None),
                         ("block", "gather", "menu"), ("prompt", "gather", "menu")]
    assert ("block", "transfer", "sales") in kinds


def test_the_file_is_json_lines_with_a_versioned_header(tmp_path):
    path = record(make_app(), tmp_path / "call.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["hoiivr_trace"] == 1 and lines[0]["direction"] == "inbound"
    assert lines[0]["recorded_by"] == "phone" and lines[0]["steps"] is True
    press = next(line for line in lines if line.get("type") == "press")
    assert press == {"at": 3.8, "type": "press", "digits": "1"}
    assert all(isinstance(line["at"], float) for line in lines[1:])


def test_the_caller_is_masked_everywhere_and_no_secret_is_kept(tmp_path):
    text = record(make_app(), tmp_path / "call.jsonl").read_text()
    assert CALLER not in text and CALLER[1:] not in text
    assert '"from": "+65987*****"' in text
    assert "Hello, caller +65987*****." in text          # in what the app said too
    for secret in ("notify_url", "access_token", "app_id", "phone-token", "/notify/",
                   '"session"'):
        assert secret not in text


def test_unmasked_on_request(tmp_path):
    text = record(make_app(), tmp_path / "call.jsonl", mask=False).read_text()
    assert f'"from": "{CALLER}"' in text and f"caller {CALLER}." in text
    assert '"masked": false' in text


@pytest.mark.parametrize("number, masked", [("+6591234567", "+65912*****"),
                                            ("+14155550100", "+141555*****"),
                                            ("+123456", "+123***")])
def test_mask_number_hides_the_last_digits(number, masked):
    assert mask_number(number) == masked


def test_a_masked_caller_replays_as_zeros_and_still_compares_equal(tmp_path):
    path = record(make_app(), tmp_path / "call.jsonl")
    [result] = replay(path, make_app())
    assert result.got.call["from"] == "+65987*****"
    assert Trace.load(path).caller == "+6598700000"


def test_a_changed_prompt_names_the_step_and_the_parameter(tmp_path):
    path = record(make_app(), tmp_path / "call.jsonl")
    with pytest.raises(ReplayMismatch) as failed:
        replay(path, make_app(menu="Press 1 for our sales team."))
    text = str(failed.value)
    assert "1 of 1 replayed calls went differently" in text
    assert "the call went differently at 1.700 s, in an unnamed play:" in text
    assert "expected: gather \"menu\" {msg='Press 1 for sales.'" in text
    assert "got:      gather \"menu\" {msg='Press 1 for our sales team.'" in text
    assert "  msg: 'Press 1 for sales.' -> 'Press 1 for our sales team.'" in text
    assert isinstance(failed.value, AssertionError)


def test_a_renamed_step_is_a_difference(tmp_path):
    path = record(make_app(), tmp_path / "call.jsonl")
    [result] = replay_results(path, make_app(step="main"))
    assert result.divergence.expected["step"] == "menu"
    assert result.divergence.got["step"] == "main"
    assert 'expected: gather "menu"' in result.report()
    assert 'got:      gather "main"' in result.report()


def replay_results(path: Path, app: Flask) -> list:
    try:
        return replay(path, app)
    except ReplayMismatch as exc:
        return exc.results


def test_the_first_divergence_follows_the_callers_action(tmp_path):
    path = record(make_app(), tmp_path / "call.jsonl")
    app = Flask(__name__)
    ivr = IVR(app)
    ivr.on_answer(lambda call: [Play(f"Hello, caller {call.from_number}."),
                                Gather("Press 1 for sales.", max_digits=1, timeout=5,
                                       name="menu")])
    ivr.on_gather(lambda call: Hangup("We are closed."))
    [result] = replay_results(path, app)
    text = result.report()
    assert "after the caller's press 1, in gather \"menu\"" in text
    assert "expected: transfer \"sales\"" in text
    assert "got:      an unnamed hangup {msg='We are closed.'} -> success_ok" in text


def test_destinations_are_scripted_as_they_were(tmp_path):
    path = record(make_app(), tmp_path / "busy.jsonl", busy=True)
    trace = Trace.load(path)
    assert {"type": "dest_phone", "number": SALES, "behaviour": "busy"}.items() <= \
        next(e for e in trace.entries if e["type"] == "dest_phone").items()
    assert {"type": "transfer", "dest": SALES, "room": None, "status": "busy"}.items() <= \
        next(e for e in trace.entries if e["type"] == "transfer").items()
    [result] = replay(path, make_app())
    assert [e["type"] for e in result.got.observed][-2:] == ["end", "recording"]
    assert result.got.observed[-1]["spoken"] == 3.0


def test_without_the_scripted_destination_the_call_goes_otherwise(tmp_path):
    path = record(make_app(), tmp_path / "busy.jsonl", busy=True)
    lines = [line for line in path.read_text().splitlines() if '"dest_phone"' not in line]
    path.write_text("\n".join(lines) + "\n")
    [result] = replay_results(path, make_app())
    assert result.divergence.expected["status"] == "busy"
    assert result.divergence.got["status"] == "answered"


def test_a_hang_up_mid_step_replays(tmp_path):
    with Phone(make_app()) as phone:
        call = phone.call(from_number=CALLER)
        call.wait(2)
        call.hangup()
        path = call.save_trace(tmp_path / "hangup.jsonl")
    trace = Trace.load(path)
    assert [e["type"] for e in trace.actions] == ["hangup"]
    assert trace.observed[-1] == {"at": trace.actions[0]["at"], "type": "end",
                                  "reason": "the caller hung up"}
    [result] = replay(path, make_app())
    assert result.ok


def test_a_placed_call_replays_with_its_state(tmp_path):
    app = Flask(__name__)
    ivr = IVR(app)
    seen = []

    @ivr.on_dial_answered("remind")
    def answered(call):
        seen.append(call.state["patient"])
        return Gather(f"Hello {call.state['patient']}. Press 1 to confirm.", max_digits=1,
                      name="confirm")

    @ivr.on_gather("confirm")
    def confirm(call):
        return Hangup("Confirmed." if call.digits == "1" else "Not confirmed.")

    with Phone(app) as phone:
        ivr.dial(CALLER, name="remind", state={"patient": "Tan"}, app=app)
        [call] = phone.dialled
        call.press("1")
        path = call.save_trace(tmp_path / "placed.jsonl")
    trace = Trace.load(path)
    assert trace.call["direction"] == "outbound" and trace.call["dest"] == "+65987*****"
    assert trace.call["state"] == {"patient": "Tan"}
    [result] = replay(path, app)
    assert result.ok and seen == ["Tan", "Tan"]


@pytest.mark.parametrize("behaviour", ["busy", "unanswered", "failed"])
@pytest.mark.parametrize("mask", [True, False])
def test_a_placed_call_nobody_answered_replays(tmp_path, behaviour, mask):
    app = Flask(__name__)
    ivr = IVR(app)
    failed = []
    ivr.on_dial_answered("remind")(lambda call: Hangup("Hello."))
    ivr.on_dial_failed("remind")(lambda call: failed.append(call.dial_status))
    with Phone(app) as phone:
        phone.set_behaviour(CALLER, behaviour)
        ivr.dial(CALLER, msg="Your reminder.", name="remind", app=app)
        [call] = phone.dialled
        path = call.save_trace(tmp_path / "placed.jsonl", mask=mask)
    # The number is scripted before the replay dials it: it rings as it did, not answered.
    [result] = replay(path, app)
    assert result.ok, result.report()
    assert failed == [behaviour, behaviour]


def test_a_directory_of_traces_replays_in_name_order(tmp_path):
    record(make_app(), tmp_path / "b.jsonl")
    record(make_app(), tmp_path / "a.jsonl", busy=True)
    results = replay(tmp_path, make_app())
    assert [Path(r.trace.source).name for r in results] == ["a.jsonl", "b.jsonl"]


@pytest.mark.parametrize("text, error", [
    ("", "is empty"),
    ("not json\n", ":1: not JSON"),
    ('{"hoiivr_trace": 2, "direction": "inbound"}\n', "not a trace of version 1"),
    ('{"hoiivr_trace": 1, "direction": "inbound", "to": "+6560000000", "until": 1}\n',
     "needs 'from'"),
    ('{"hoiivr_trace": 1, "direction": "inbound", "from": "+6591234567", "to": "+656", '
     '"until": 1}\n{"at": 1, "type": "dance"}\n', ":2: unknown entry type 'dance'"),
    ('{"hoiivr_trace": 1, "direction": "inbound", "from": "+6591234567", "to": "+656", '
     '"until": 1}\n[1]\n', ":2: a trace line is a JSON object"),
])
def test_a_bad_trace_is_refused_naming_the_line(tmp_path, text, error):
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(TraceError, match=error):
        replay(path, make_app())


def test_no_trace_there(tmp_path):
    with pytest.raises(TraceError, match="no trace at"):
        replay(tmp_path / "missing.jsonl", make_app())
    with pytest.raises(TraceError, match="no trace files"):
        replay(tmp_path, make_app())
