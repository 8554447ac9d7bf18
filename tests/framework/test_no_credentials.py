"""An app module mounts ``IVR(app)`` at import with no credentials anywhere: importing it,
and Flask's own commands, work; the first notification names every missing key at once."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HELLO = ("from flask import Flask\nfrom hoiivr import IVR, Hangup\n"
         "app = Flask(__name__)\nivr = IVR(app)\n\n"
         "@ivr.on_answer\ndef answer(call):\n    return Hangup('Hello. Goodbye.')\n")
RING = ("import logging, sys\nimport hello\n"
        "logging.basicConfig(stream=sys.stdout, format='%(levelname)s %(message)s')\n"
        "reply = hello.app.test_client().post('/hoiio/answer', data={'session': 'S1', "
        "'call_state': 'ringing', 'from': '+6591234567', 'to': '+6560000000'})\n"
        "print('status', reply.status_code)\n")


def clean_environment() -> dict[str, str]:
    """This process's environment with no setting hoiivr (or Flask) would read."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith(("HOIIO_", "HOIIVR_", "TWILIO_", "FLASK_"))
            and key != "SECRET_KEY"}


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=tmp_path, env=clean_environment(), capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    (tmp_path / "hello.py").write_text(HELLO)
    return tmp_path


def test_the_module_imports(hello: Path) -> None:
    result = run(hello, sys.executable, "-c", "import hello; print(hello.ivr)")
    assert result.returncode == 0, result.stderr
    assert "IVR" in result.stdout and result.stderr == ""


def test_flask_commands_load_the_app(hello: Path) -> None:
    flask = Path(sys.executable).with_name("flask")
    result = run(hello, str(flask), "--app", "hello", "routes")
    assert result.returncode == 0, result.stderr
    assert "/hoiio/answer" in result.stdout and "/hoiio/notify/<token>" in result.stdout


def test_the_first_notification_names_every_missing_key_in_one_message(hello: Path) -> None:
    result = run(hello, sys.executable, "-c", RING)
    assert result.returncode == 0, result.stderr
    assert "status 503" in result.stdout
    [error] = [line for line in result.stdout.splitlines() if line.startswith("ERROR")]
    assert "HOIIO_APP_ID, HOIIO_ACCESS_TOKEN and SECRET_KEY are not set" in error
