"""hoiivr replay PATH... --app APP, and hoiivr dev --record DIR."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hoiivr.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TRACES = Path(__file__).resolve().parents[1] / "examples" / "traces"
SURVEY = str(EXAMPLES / "survey.py")
ATTENDANT = str(EXAMPLES / "auto_attendant.py")
SURVEY_TRACE = TRACES / "survey-a-wrong-key-then-three-answers.jsonl"
FAST = ["--port", "0", "--sim-port", "0", "--speed", "20"]


def changed_trace(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "changed.jsonl"
    path.write_text(SURVEY_TRACE.read_text().replace(old, new))
    return path


def test_a_call_that_goes_the_same_way_exits_0(runner):
    result = runner.invoke(main, ["replay", str(SURVEY_TRACE), "--app", SURVEY])
    assert result.exit_code == 0, result.output
    assert f"{SURVEY_TRACE}: the same (13 entries)" in result.output
    assert result.output.endswith("1 of 1 calls went the same way\n")


def test_a_call_that_goes_otherwise_exits_1_with_the_first_difference(runner, tmp_path):
    path = changed_trace(tmp_path, "How old are you?", "What is your age?")
    result = runner.invoke(main, ["replay", str(path), str(SURVEY_TRACE), "--app", SURVEY])
    assert result.exit_code == 1, result.output
    out = result.output
    assert f"{path}: the call went differently at 25.755 s, after the caller's press 1, " \
           'in gather "recommend":' in out
    assert "  expected: gather \"age\" {msg='What is your age? Enter your age" in out
    assert "  got:      gather \"age\" {msg='How old are you? Enter your age" in out
    assert "  msg: 'What is your age? Enter your age, then press hash.' -> 'How old are " \
           "you? Enter your age, then press hash.'" in out
    assert out.endswith("1 of 2 calls went the same way\n")


def test_quiet_prints_only_the_differences(runner, tmp_path):
    path = changed_trace(tmp_path, '"reason": "the app hung up"', '"reason": "max_duration"')
    result = runner.invoke(main, ["replay", "-q", str(path), str(SURVEY_TRACE), "--app", SURVEY])
    assert result.exit_code == 1
    assert "the same" not in result.output.replace("went the same way", "")
    assert "  expected: the call ends: max_duration\n  got:      the call ends: the app hung up" \
        in result.output


def test_a_directory_is_every_trace_in_it(runner, tmp_path):
    for name in ("survey-a-wrong-key-then-three-answers.jsonl",
                 "auto-attendant-sales-busy-voicemail.jsonl"):      # both recorded on Hoiio
        (tmp_path / name).write_bytes((TRACES / name).read_bytes())
    result = runner.invoke(main, ["replay", str(tmp_path), "--app", SURVEY])
    # The attendant's trace is not a survey call: it goes differently from its first block.
    assert result.exit_code == 1
    assert "1 of 2 calls went the same way" in result.output
    assert "expected: an unnamed play {msg='Welcome to Acme.'}" in result.output


def test_a_trace_of_another_carrier_is_a_clear_error(runner):
    result = runner.invoke(main, ["replay", str(TRACES / "survey-a-wrong-key-then-three-"
                                                 "answers-twilio.jsonl"), "--app", SURVEY])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "recorded on the twilio carrier, but the app runs on hoiio" in result.output


def test_a_bad_trace_or_path_is_explained(runner, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"hoiivr_trace": 1}\n')
    result = runner.invoke(main, ["replay", str(bad), "--app", SURVEY])
    assert result.exit_code == 1
    assert f"Error: {bad}:1: direction must be 'inbound' or 'outbound'" in result.output
    result = runner.invoke(main, ["replay", str(tmp_path / "none"), "--app", SURVEY])
    assert result.exit_code == 1 and "no trace at" in result.output
    result = runner.invoke(main, ["replay", str(SURVEY_TRACE)])
    assert result.exit_code == 2 and "Missing option '--app'" in result.output


def test_the_command_runs_as_a_program(tmp_path):
    command = [sys.executable, "-c", "from hoiivr.cli import main; main()", "replay"]
    same = subprocess.run([*command, str(SURVEY_TRACE), "--app", SURVEY],
                          capture_output=True, text=True, timeout=120)
    assert same.returncode == 0, same.stderr
    assert "1 of 1 calls went the same way" in same.stdout
    path = changed_trace(tmp_path, "Press 1 for yes", "Press 1 for no")
    other = subprocess.run([*command, str(path), "--app", SURVEY], capture_output=True,
                           text=True, timeout=120)
    assert other.returncode == 1 and "0 of 1 calls went the same way" in other.stdout


def test_dev_record_writes_a_trace_per_call_that_replays(runner, tmp_path):
    record = tmp_path / "traces"
    result = runner.invoke(main, ["dev", ATTENDANT, *FAST, "--record", str(record)],
                           input="/busy +6522222222\n1\n/speak 2\n#\n/call\n2\n/quit\n")
    assert result.exit_code == 0, result.output
    files = sorted(record.glob("*.jsonl"))
    assert len(files) == 2
    assert f" * Wrote 2 traces to {record} (replay: hoiivr replay {record} --app APP)" \
        in result.output
    headers = [json.loads(f.read_text().splitlines()[0]) for f in files]
    assert {h["recorded_by"] for h in headers} == {"dev"}
    assert {h["from"] for h in headers} == {"+65912*****"}
    replayed = runner.invoke(main, ["replay", str(record), "--app", ATTENDANT])
    assert replayed.exit_code == 0, replayed.output
    assert "2 of 2 calls went the same way" in replayed.output


def test_dev_record_unmask_keeps_the_number(runner, tmp_path):
    result = runner.invoke(main, ["dev", ATTENDANT, *FAST, "--record", str(tmp_path),
                                  "--unmask", "--from", "+6598765432"], input="/quit\n")
    assert result.exit_code == 0, result.output
    [path] = tmp_path.glob("*.jsonl")
    assert json.loads(path.read_text().splitlines()[0])["from"] == "+6598765432"


def test_dev_record_to_a_directory_it_cannot_make_stops_before_any_call(runner, tmp_path):
    """Found at exit, the session's calls would all be lost."""
    afile = tmp_path / "app.py"
    afile.write_text("")
    result = runner.invoke(main, ["dev", ATTENDANT, *FAST, "--record", str(afile / "traces")],
                           input="1\n/quit\n")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"Error: --record {afile / 'traces'}: cannot make that "
                                    "directory (Not a directory)")
    assert "says" not in result.output                       # no call was begun
