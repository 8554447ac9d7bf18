"""hoiivr dev in a pseudo-terminal, typed at as a new user would: the installed command,
colours and all, with the simulator 20 times faster than life.

A terminal is not a script: each line is acted on as soon as it is typed, so these tests
wait for what a person would wait for (the prompt, "your turn") before typing.
"""
from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

ATTENDANT = str(Path(__file__).resolve().parents[2] / "examples" / "auto_attendant.py")
#: Seconds to wait for each thing to appear.
TIMEOUT = 8
#: The end of a call, whose session id is random.
ENDED = r"Call S[0-9]{24} ended after"


def command() -> list[str]:
    installed = shutil.which("hoiivr")
    if installed:
        return [installed]
    return [sys.executable, "-c", "from hoiivr.cli import main; main()"]


@pytest.fixture
def phone() -> Iterator[pexpect.spawn]:
    program, *args = command()
    child = pexpect.spawn(program, [*args, "dev", ATTENDANT, "--port", "0", "--sim-port", "0",
                                    "--speed", "20"],
                          encoding="utf-8", timeout=TIMEOUT, dimensions=(50, 200))
    try:
        yield child
    finally:
        child.close(force=True)


def expect(child: pexpect.spawn, text: str) -> str:
    """Wait for ``text`` (plain, not a pattern); returns the line it is on, colours removed."""
    child.expect_exact(text)
    line = child.before.rsplit("\n", 1)[-1] + text
    return re.sub(r"\x1b\[[0-9;]*m", "", line)


def finish(child: pexpect.spawn) -> None:
    expect(child, "Stopped.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_new_user_hears_the_menu_presses_1_and_is_transferred(phone):
    expect(phone, " * Hoiio simulator on http://127.0.0.1:")
    expect(phone, "Type keys and press Enter to press them; /help lists the commands.")
    line = expect(phone, '"Welcome to Acme."')
    assert re.match(r"\s+\d+\.\ds  says   \"Welcome", line)
    expect(phone, "Press 1 for sales, 2 for support, or 0 to leave a message.")
    expect(phone, "your turn: the app listens for keys")
    phone.sendline("1")
    assert "keys   1" in expect(phone, "keys   1")
    expect(phone, "→ app  gather ongoing digits=1")
    expect(phone, "← app  transfer dest=+6522222222 on_failure=continue → success_ok")
    expect(phone, '"Connecting you to sales."')
    expect(phone, "connected to +6522222222: talking")
    phone.sendline("/quit")
    expect(phone, "the caller hangs up")
    phone.expect(ENDED)
    finish(phone)


def test_sales_is_busy_so_the_caller_leaves_a_voicemail_and_hangs_up(phone):
    expect(phone, "Press 1 for sales")
    phone.sendline("/busy +6522222222")
    expect(phone, "+6522222222 will be busy.")
    phone.sendline("1")
    expect(phone, "+6522222222 did not connect: busy")
    expect(phone, "Everyone is busy right now. Leave a message after the tone")
    expect(phone, "your turn: recording after the tone")
    phone.sendline("/speak 3")
    expect(phone, "the caller talks for 3 s")
    phone.sendline("#")
    expect(phone, "keys   #")
    expect(phone, "record ongoing record_url=http://127.0.0.1:")
    expect(phone, '"Thank you. We will call you back. Goodbye."')
    expect(phone, "(the app hung up): 1 min billed, debit SGD 0.020.")
    expect(phone, "Type /call to call again, or /quit.")
    phone.sendline("/quit")
    finish(phone)


def test_ctrl_c_mid_call_hangs_up_and_stops_cleanly(phone):
    expect(phone, "your turn: the app listens for keys")
    phone.sendintr()
    expect(phone, "the caller hangs up")
    phone.expect(ENDED)
    finish(phone)


def test_ctrl_d_quits(phone):
    expect(phone, "Press 1 for sales")
    phone.sendeof()
    finish(phone)
