"""Each example is imported fresh for each test, so its module-level lists start empty.

Every example test runs twice, once per carrier: on a Hoiio Number, and with
``HOIIVR_CARRIER=twilio`` on a TwiML number. The test files are the same for both; the
``phone`` fixture (:class:`hoiivr.testing.Phone`) wires the app to the simulator on
whichever carrier it is configured for.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


CARRIERS = ("hoiio", "twilio")


@pytest.fixture(params=CARRIERS, autouse=True)
def carrier(request, monkeypatch):
    """The carrier the example is loaded for (its HOIIVR_CARRIER, read at import). Used by
    every test, so that each runs on both (the ``phone`` fixture asks for ``app`` late)."""
    monkeypatch.setenv("HOIIVR_CARRIER", request.param)
    return request.param


@pytest.fixture
def load_example(carrier):
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        module_name = f"hoiivr_example_{name}"
        spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        loaded.append(module_name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)
