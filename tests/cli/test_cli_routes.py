"""hoiivr routes: handlers, routes and gaps; exit status 1 when there are gaps."""
from __future__ import annotations

import re

import pytest
from cli_support import APPS, CONFIG

from hoiivr.cli.loader import load
from hoiivr.cli.routes import DYNAMIC, find_gaps, find_step_uses, routes_command


def section(output: str, title: str) -> list[str]:
    """The indented lines under the line that starts with ``title``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    body = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        body.append(line)
    return body


def test_a_complete_app_has_no_gaps(runner):
    result = runner.invoke(routes_command, [str(APPS / "cliapp_menu.py")])
    assert result.exit_code == 0, result.output
    assert "No gaps: every step has a handler for its result." in result.output
    assert "Gaps" not in result.output and "Warnings" not in result.output


def test_handlers_are_listed_with_their_step_and_place(runner):
    result = runner.invoke(routes_command, [str(APPS / "cliapp_menu.py")])
    rows = [line.split() for line in section(result.output, "Handlers")]
    assert rows[0] == ["EVENT", "STEP", "HANDLER", "WHERE"]
    assert rows[1:] == [
        ["answer", "-", "answer", "cliapp_menu:11"],
        ["dial_answered", "remind", "reminded", "cliapp_menu:37"],
        ["gather", "menu", "menu", "cliapp_menu:17"],
        ["record", "voicemail", "saved", "cliapp_menu:31"],
        ["transfer_failed", "sales", "sales_busy", "cliapp_menu:25"],
        ["hangup", "-", "ended", "cliapp_menu:42"],
        ["error", "LookupError", "not_found", "cliapp_menu:47"],
    ]


def test_columns_are_aligned(runner):
    result = runner.invoke(routes_command, [str(APPS / "cliapp_menu.py")])
    lines = section(result.output, "Handlers")
    for column in ("STEP", "HANDLER", "WHERE"):
        start = lines[0].index(column)
        assert all(line[start - 2:start] == "  " and line[start] != " " for line in lines)


def test_routes_show_the_answer_and_notify_urls(runner, monkeypatch):
    result = runner.invoke(routes_command, [str(APPS / "cliapp_menu.py")])
    routes = [line.split()[:2] for line in section(result.output, "Routes")[:2]]
    assert routes == [["POST", "/hoiio/answer"], ["POST", "/hoiio/notify/<token>"]]
    assert "Give the provider: <public URL>/hoiio/answer (set HOIIVR_PUBLIC_URL" in result.output

    monkeypatch.setenv("HOIIVR_PUBLIC_URL", "https://abc.example/")
    result = runner.invoke(routes_command, [str(APPS / "cliapp_menu.py")])
    assert "Give the provider: https://abc.example/hoiio/answer" in result.output


def test_an_app_factory_with_its_own_prefix(runner):
    result = runner.invoke(routes_command, [f"{APPS / 'cliapp_factory.py'}:ivr"])
    assert result.exit_code == 0, result.output
    assert "POST  /ivr/answer" in result.output and "POST  /ivr/notify/<token>" in result.output


def test_gaps_are_listed_and_the_exit_status_is_1(runner):
    result = runner.invoke(routes_command, [str(APPS / "cliapp_gaps.py")])
    assert result.exit_code == 1, result.output
    assert "Gaps (6): no handler receives these; the caller hears \"Goodbye.\"" in result.output
    gaps = [re.split(r"\s{2,}", line.strip()) for line in section(result.output, "Gaps")]
    assert gaps == [
        ["an incoming call", "-", "add @ivr.on_answer"],
        ['Play "intro"', "cliapp_gaps:13 in menu()", 'add @ivr.on_play("intro") (or a bare @ivr.on_play)'],
        ['Transfer "sales"', "cliapp_gaps:14 in menu()",
         'add @ivr.on_transfer_failed("sales") (or a bare @ivr.on_transfer_failed)'],
        ['Gather "menu"', "cliapp_gaps:19 in reminded()",
         'add @ivr.on_gather("menu") (or a bare @ivr.on_gather)'],
        ['Record "voicemail"', "cliapp_gaps:34 in voicemail()",
         'add @ivr.on_record("voicemail") (or a bare @ivr.on_record)'],
        ['ivr.dial "follow_up"', "cliapp_gaps:42 in follow_up()",
         'add @ivr.on_dial_answered("follow_up") (or a bare @ivr.on_dial_answered)'],
    ]


def test_a_handler_for_a_step_nothing_creates_is_a_warning(runner):
    result = runner.invoke(routes_command, [str(APPS / "cliapp_gaps.py")])
    warnings = section(result.output, "Warnings")
    assert warnings == [('  @ivr.on_gather("mneu") (cliapp_gaps:11): no block or ivr call '
                         'named "mneu" was found; is the name misspelt?')]


def test_output_has_no_colour_outside_a_terminal(runner):
    result = runner.invoke(routes_command, [str(APPS / "cliapp_gaps.py")])
    assert "\x1b[" not in result.output
    coloured = runner.invoke(routes_command, [str(APPS / "cliapp_gaps.py")], color=True)
    assert "\x1b[31m" in coloured.output


def uses_and_gaps(write_app, body: str):
    path = write_app("scanned.py", "from flask import Flask\n"
                     "from hoiivr import IVR, Gather, Hangup, Hold, Monitor, Play, Record, "
                     "Transfer\nfrom hoiivr.client import HoiioClient\n"
                     "app = Flask(__name__)\n" + CONFIG + "ivr = IVR(app)\n"
                     "@ivr.on_answer\ndef answer(call):\n    return Hangup()\n" + body)
    loaded = load(str(path))
    uses = find_step_uses(loaded)
    return uses, [gap.label for gap in find_gaps(loaded.ivr, uses)]


def test_a_bare_handler_covers_every_name_of_its_event(write_app):
    _, gaps = uses_and_gaps(write_app, "@ivr.on_gather\ndef any_gather(call):\n"
                            "    return [Gather(name='a'), Gather(name='b'), Gather()][0]\n")
    assert gaps == []


def test_unnamed_steps_need_a_bare_handler_where_their_result_always_comes_back(write_app):
    _, gaps = uses_and_gaps(write_app, "def f(call):\n    return [Play('hi'), Monitor(), "
                            "Record(), Transfer('+6522222222', on_failure='continue')]\n")
    assert gaps == ["Record", "Transfer"]


def test_only_ivr_dial_and_unhold_calls_start_steps(write_app):
    uses, gaps = uses_and_gaps(write_app, (
        "client = HoiioClient('a', 'b')\n"
        "def f(key):\n"
        "    client.dial('+6511111111')\n"          # the REST client: no step
        "    ivr.dial('+6511111111')\n"             # unnamed: a bare on_dial_answered
        "    ivr.unhold(key, name='back')\n"
        "    self_ivr.dial('+6511111111', name='later')\n"   # unresolvable, but named
        "    Hold('Please wait.', name='wait')\n"))          # Hold notifies nothing
    assert [(u.what, u.step) for u in uses] == [("ivr.dial", None), ("ivr.unhold", "back"),
                                                 ("ivr.dial", "later")]
    assert gaps == ["ivr.dial", 'ivr.unhold "back"', 'ivr.dial "later"']


def test_computed_names_are_warned_about_not_guessed(runner, write_app, tmp_path):
    uses, gaps = uses_and_gaps(write_app, (
        "def f(call, step, failure):\n"
        "    return [Gather(name=step), Transfer('+6522222222', on_failure=failure)]\n"))
    assert [u.step for u in uses] == [DYNAMIC, DYNAMIC] and gaps == []
    result = runner.invoke(routes_command, [str(tmp_path / "scanned.py")])
    assert result.exit_code == 0
    assert section(result.output, "Warnings") == [
        "  Gather at scanned:11 in f(): name= is not a constant, so it was not checked",
        "  Transfer at scanned:11 in f(): on_failure= is not a constant, so it was not checked",
    ]


def test_a_class_of_the_users_own_named_like_a_block_is_not_a_block(write_app):
    uses, _ = uses_and_gaps(write_app, "class Record:\n    def __init__(self, name):\n"
                            "        pass\nr = Record(name='log')\n")
    assert uses == []


def test_handlers_in_another_module_are_scanned(write_app, tmp_path):
    write_app("flows.py", "from hoiivr import Gather\n"
              "def answer(call):\n    return Gather('Press 1.', name='menu')\n")
    path = write_app("main_app.py", "from flask import Flask\nfrom hoiivr import IVR\n"
                     "import flows\napp = Flask(__name__)\n" + CONFIG + "ivr = IVR(app)\n"
                     "ivr.add_handler('answer', flows.answer)\n")
    loaded = load(str(path))
    assert [gap.label for gap in find_gaps(loaded.ivr, find_step_uses(loaded))] == ['Gather "menu"']


def test_an_app_with_no_handlers_at_all(runner, write_app):
    path = write_app("empty_ivr.py", "from flask import Flask\nfrom hoiivr import IVR\n"
                     "app = Flask(__name__)\n" + CONFIG + "ivr = IVR(app)\n")
    result = runner.invoke(routes_command, [str(path)])
    assert result.exit_code == 1
    assert "  (none)" in result.output and "add @ivr.on_answer" in result.output


@pytest.mark.parametrize("args", [["--help"], []])
def test_help(runner, args):
    result = runner.invoke(routes_command, args)
    assert "hoiivr routes myapp:app" in result.output or "Missing argument 'APP'" in result.output


def test_what_the_carrier_lacks_is_listed_and_the_status_is_1(runner, write_app):
    path = write_app("lacking_routes.py", (
        "from flask import Flask\nfrom hoiivr import IVR, Hangup, Monitor\n"
        "app = Flask(__name__)\napp.config['HOIIVR_CARRIER'] = 'twilio'\nivr = IVR(app)\n"
        "@ivr.on_answer\ndef answer(call):\n    return [Monitor('Recorded.'), Hangup('Bye.')]\n"))
    result = runner.invoke(routes_command, [str(path)])
    assert result.exit_code == 1, result.output
    assert "Not on the twilio carrier (1): the app is refused when it starts" in result.output
    assert "Monitor at lacking_routes:8 in answer(): the twilio carrier cannot deliver it" \
        in result.output


LONE_PLAY = (
    "@ivr.on_gather('menu')\ndef menu(call):\n"
    "    if call.digits == '1':\n        return Play('We open at nine.')\n"
    "    if call.digits == '2':\n        return thanks()\n"
    "    if call.digits == '3':\n        return [Play('Named.', name='intro'), Play('x', name=call.digits)]\n"
    "    return [Play('Goodbye.'), Hangup()] if call.digits else Monitor()\n"
    "def thanks():\n    return [Play('Thank you.'), Play('Goodbye.')]\n"
    "def never_returned(call):\n    return Play('Not a handler.')\n")


def test_a_handler_whose_blocks_end_with_a_play_and_no_on_play_is_a_gap(runner, write_app,
                                                                       tmp_path):
    _, gaps = uses_and_gaps(write_app, LONE_PLAY)
    assert gaps == ['Play "intro"', "Play returned last", "Monitor returned last"]
    result = runner.invoke(routes_command, [str(tmp_path / "scanned.py")])
    assert result.exit_code == 1
    rows = [re.split(r"\s{2,}", line.strip()) for line in section(result.output, "Gaps")]
    assert rows[1:] == [
        ["Play returned last", "scanned:13 in menu(), scanned:20 in thanks()",
         "end with Hangup(...) or add @ivr.on_play"],
        ["Monitor returned last", "scanned:18 in menu()",
         "add the blocks that follow it, or add @ivr.on_monitor"]]


def test_a_bare_on_play_receives_the_end_of_every_play(write_app):
    _, gaps = uses_and_gaps(write_app, LONE_PLAY + "@ivr.on_play\ndef played(call):\n"
                            "    return Hangup()\n@ivr.on_monitor\ndef monitored(call):\n"
                            "    return Hangup()\n")
    assert gaps == []
