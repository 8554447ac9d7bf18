"""hoiivr routes APP --format mermaid|dot: the call flow, drawn from the source."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from cli_support import APPS, CONFIG

from hoiivr.cli import main
from hoiivr.cli.flowchart import build_flow, lines_of
from hoiivr.cli.loader import load

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def flow_lines(spec: str) -> list[str]:
    return list(lines_of(build_flow(load(spec))))


def mermaid(runner, spec: str) -> str:
    result = runner.invoke(main, ["routes", spec, "--format", "mermaid"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_attendant_follows_every_step_to_its_handler():
    assert flow_lines(str(EXAMPLES / "auto_attendant.py")) == [
        "incoming call --> [rings] answer() on_answer",
        # menu_question() builds the Ask: helper functions of the module are followed. The
        # Ask re-asks by itself; its give-up is the Hangup.
        "answer() on_answer --> [Ask: menu] menu() on_gather('menu')",
        "answer() on_answer --> [Hangup] call ends",
        # Two steps between the same handlers share one edge.
        "menu() on_gather('menu') --> [Transfer: sales / Transfer: support] transferred",
        "menu() on_gather('menu') --> [Transfer: sales fails / Transfer: support fails] "
        "nobody_free() on_transfer_failed",
        "menu() on_gather('menu') --> [Record: voicemail] saved() on_record('voicemail')",
        "nobody_free() on_transfer_failed --> [Record: voicemail] saved() "
        "on_record('voicemail')",
        "saved() on_record('voicemail') --> [Hangup] call ends",
        "call ends --> [on_hangup] ended() on_hangup",
    ]


def test_a_placed_call_starts_where_ivr_dial_is_called():
    lines = flow_lines(str(EXAMPLES / "appointment_reminder.py"))
    assert "remind() places a call ivr.dial reminder --> [answered] reminder_answered() " \
           "on_dial_answered('reminder')" in lines
    assert "remind() places a call ivr.dial reminder --> [busy, unanswered or failed] " \
           "unreachable() on_dial_failed('reminder')" in lines


def test_a_computed_step_name_is_dashed_to_the_bare_handler(runner):
    lines = flow_lines(str(EXAMPLES / "survey.py"))
    assert lines == [
        "incoming call --> [rings] answer() on_answer",
        "answer() on_answer -.-> [Gather (computed name)] answered() on_gather",
        "answered() on_gather --> [Hangup] call ends",
        "answered() on_gather -.-> [Gather (computed name)] answered() on_gather",
    ]
    out = mermaid(runner, str(EXAMPLES / "survey.py"))
    assert out.startswith("flowchart TD\n")
    assert '    n1(["incoming call"])\n    n2["answer()<br/>on_answer"]\n' in out
    assert '    n2 -.->|"Gather (computed name)"| n3\n' in out
    assert '    n1 -->|"rings"| n2\n' in out


def test_gaps_are_drawn_in_red_and_the_exit_status_stays_0(runner):
    out = mermaid(runner, str(APPS / "cliapp_gaps.py"))
    gaps = re.findall(r'(n\d+)\{\{"no handler: ([^<]+)<br/>the caller hears Goodbye"\}\}', out)
    assert sorted(label for _, label in gaps) == [
        'on_answer', 'on_dial_answered(#quot;follow_up#quot;)', 'on_gather(#quot;menu#quot;)',
        'on_play(#quot;intro#quot;)',
        'on_transfer_failed(#quot;sales#quot;)']
    assert all(f"    class {node} gap\n" in out for node, _ in gaps)
    assert "    classDef gap fill:#fdd,stroke:#c00\n" in out


def test_blocks_the_source_does_not_show_go_to_a_question_mark(runner, write_app):
    path = write_app("opaque.py", "from flask import Flask\nfrom hoiivr import IVR, Gather\n"
                     f"app = Flask(__name__)\n{CONFIG}ivr = IVR(app)\n"
                     "STEPS = {}\n"
                     "@ivr.on_answer\ndef answer(call):\n    return STEPS['start']\n"
                     "@ivr.on_gather('menu')\ndef menu(call):\n"
                     "    return Gather('Again.', name=call.digits)\n")
    lines = flow_lines(str(path))
    assert "answer() on_answer -.-> [returns] ? not visible in the code" in lines
    # No bare on_gather would receive the computed name: that is not visible either.
    assert "menu() on_gather('menu') -.-> [Gather (computed name)] ? not visible in the " \
           "code" in lines


def test_dot_is_a_digraph_with_the_same_edges(runner):
    result = runner.invoke(main, ["routes", str(EXAMPLES / "survey.py"), "--format", "dot"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("digraph call_flow {\n") and out.endswith("}\n")
    assert '    n1 [label="incoming call", shape=oval, style=filled, fillcolor="#ddeeff"];' \
        in out
    assert '    n2 [label="answer()\\non_answer", shape=box];' in out
    assert '    n2 -> n3 [label="Gather (computed name)", style=dashed];' in out
    assert '    n3 -> n4 [label="Hangup"];' in out


def test_the_text_report_is_the_default(runner):
    plain = runner.invoke(main, ["routes", str(APPS / "cliapp_menu.py")])
    text = runner.invoke(main, ["routes", str(APPS / "cliapp_menu.py"), "--format", "text"])
    assert plain.output == text.output and plain.output.startswith("App ")
    bad = runner.invoke(main, ["routes", str(APPS / "cliapp_menu.py"), "--format", "svg"])
    assert bad.exit_code == 2 and "'svg' is not one of 'text', 'mermaid', 'dot'" in bad.output


def test_the_diagram_prints_from_the_program(tmp_path):
    done = subprocess.run([sys.executable, "-c", "from hoiivr.cli import main; main()",
                           "routes", str(EXAMPLES / "auto_attendant.py"), "--format",
                           "mermaid"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("flowchart TD\n")
    assert '-->|"Transfer: sales fails / Transfer: support fails"|' in done.stdout


def test_the_diagrams_in_the_docs_are_todays(runner):
    # docs/tools.rst shows these, rendered with mermaid-cli; regenerate both when this fails:
    # hoiivr routes examples/NAME.py --format mermaid > docs/images/flow-NAME.mmd
    docs = EXAMPLES.parent / "docs" / "images"
    for name in ("survey", "auto_attendant"):
        assert (docs / f"flow-{name}.mmd").read_text() == \
            mermaid(runner, str(EXAMPLES / f"{name}.py")), name
        assert (docs / f"flow-{name}.png").stat().st_size > 10_000


def test_a_play_returned_last_goes_to_on_play_or_to_a_gap(write_app):
    source = ("from flask import Flask\nfrom hoiivr import IVR, Play\n"
              f"app = Flask(__name__)\n{CONFIG}ivr = IVR(app)\n"
              "@ivr.on_answer\ndef answer(call):\n    return Play('We open at nine.')\n")
    assert flow_lines(str(write_app("lone_play.py", source))) == [
        "incoming call --> [rings] answer() on_answer",
        "answer() on_answer --> [Play (last)] no handler: on_play the caller hears Goodbye"]
    played = source + "@ivr.on_play\ndef played(call):\n    return None\n"
    assert "answer() on_answer --> [Play (last)] played() on_play" in \
        flow_lines(str(write_app("played.py", played)))
