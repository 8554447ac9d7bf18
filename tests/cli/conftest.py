"""Fixtures for the ``hoiivr`` command tests: import isolation, one-off apps, a fake Hoiio."""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli_support import APPS, SETTINGS, FakeHoiio


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No outside settings; the modules and sys.path entries a test's loading adds are removed,
    so the next test imports its own copy of a fixture app (with a fresh store)."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    modules, path = set(sys.modules), list(sys.path)
    yield
    sys.path[:] = path
    roots = (str(APPS), str(tmp_path), os.path.realpath(tmp_path))
    for name in set(sys.modules) - modules:
        if (getattr(sys.modules[name], "__file__", None) or "").startswith(roots):
            del sys.modules[name]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def write_app(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a module into tmp_path and return its path, for one-off apps."""
    def write(name: str, source: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        return path
    return write


@pytest.fixture
def fake_hoiio() -> Iterator[FakeHoiio]:
    hoiio = FakeHoiio()
    hoiio.thread.start()
    yield hoiio
    hoiio.server.shutdown()
    hoiio.server.server_close()
    hoiio.thread.join()
