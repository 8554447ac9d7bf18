"""``hoiivr campaign``'s commands say what went wrong and how to fix it, never with a
traceback."""
from __future__ import annotations

import secrets
import socket

import pytest

from hoiivr.cli import main


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("args", [["status", "reminders"], ["dnc", "+6591234567"]])
@pytest.mark.parametrize("redis_url, words", [
    (f"redis://127.0.0.1:{unused_port()}/0", "start redis-server"),
    ("nonsense", "nonsense"),
])
def test_an_unreachable_or_bad_redis_is_a_message(runner, args, redis_url, words):
    result = runner.invoke(main, ["campaign", *args, "--redis", redis_url])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: ") and words in result.output


def test_dnc_refuses_a_number_without_its_country_code(runner):
    prefix = f"test-cli-dnc-{secrets.token_hex(4)}"
    result = runner.invoke(main, ["campaign", "dnc", "6591234567", "--prefix", prefix])
    assert result.exit_code == 1
    assert "did you mean '+6591234567'?" in result.output
    added = runner.invoke(main, ["campaign", "dnc", "+6591234567", "--prefix", prefix])
    removed = runner.invoke(main, ["campaign", "dnc", "--remove", "+6591234567",
                                   "--prefix", prefix])
    assert "1 number(s) added" in added.output and "1 number(s) taken off" in removed.output
