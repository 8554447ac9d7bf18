"""The pytest plugin, loaded in every pytest run once hoiivr is installed, leaves other
projects alone: it sets nothing in the environment."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SETTINGS = ("SECRET_KEY", "HOIIO_APP_ID", "HOIIO_ACCESS_TOKEN")


def run_pytest(directory: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items()
           if key not in SETTINGS}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(directory)], cwd=directory, env=env, capture_output=True,
                          text=True, timeout=120)


def write_closed_app(directory: Path) -> None:
    """An app module, and a test of it through the phone fixture."""
    (directory / "myapp.py").write_text(
        "from flask import Flask\nfrom hoiivr import IVR, Hangup\n"
        "app = Flask(__name__)\nivr = IVR(app)\n\n"
        "@ivr.on_answer\ndef answer(call):\n    return Hangup('Closed today.')\n")
    (directory / "test_myapp.py").write_text(
        "def test_closed(phone):\n"
        "    assert phone.call().prompts == ['Closed today.']\n")


def test_another_projects_tests_see_no_hoiivr_settings(tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text(
        "import os\n\n"
        "def test_the_environment_is_the_projects_own():\n"
        f"    assert [k for k in {SETTINGS!r} if k in os.environ] == []\n"
        "\n"
        "def test_the_plugin_is_loaded(request):\n"
        "    assert request.config.pluginmanager.has_plugin('hoiivr')\n")
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_app_module_imports_without_credentials_and_a_phone_brings_its_own(
        tmp_path: Path) -> None:
    write_closed_app(tmp_path)
    (tmp_path / "conftest.py").write_text(
        "import pytest\nimport myapp\n\n@pytest.fixture\ndef app():\n    return myapp.app\n")
    result = run_pytest(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_app_fixture_may_be_parametrized_and_a_missing_one_is_explained(
        tmp_path: Path) -> None:
    write_closed_app(tmp_path)
    (tmp_path / "conftest.py").write_text(
        "import pytest\nimport myapp\n\n"
        "@pytest.fixture(params=['hoiio', 'twilio'])\n"
        "def app(request, monkeypatch):\n"
        "    monkeypatch.setitem(myapp.app.config, 'HOIIVR_CARRIER', request.param)\n"
        "    return myapp.app\n")
    result = run_pytest(tmp_path)
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout + result.stderr

    (tmp_path / "conftest.py").unlink()
    result = run_pytest(tmp_path)
    assert result.returncode != 0
    assert "the phone fixture needs an `app` fixture" in result.stdout + result.stderr
