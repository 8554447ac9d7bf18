"""The README's first app runs as printed, and its test example passes."""
from __future__ import annotations

import importlib.util
import re
import sys
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.rst"


def code_after(marker: str) -> str:
    """The literal block that follows ``marker`` in README.rst, dedented."""
    text = README.read_text()
    start = text.index(marker)
    block = re.search(r"::\n\n((?:    .*\n|\n)+)", text[start:])
    assert block, f"no code block after {marker!r}"
    return textwrap.dedent(block.group(1))


@pytest.fixture
def hello(tmp_path, monkeypatch):
    (tmp_path / "hello.py").write_text(code_after("``hello.py``::"))
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.spec_from_file_location("hello", tmp_path / "hello.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "hello", module)
    spec.loader.exec_module(module)
    return module


def test_the_first_app_is_short_and_answers(hello):
    from hoiivr.testing import Phone
    assert len(code_after("``hello.py``::").strip().splitlines()) <= 16
    with Phone(hello.app) as phone:
        call = phone.call()
        assert call.last_prompt == "Press 1 for sales, 2 to hear the time."
        call.press("1")
        assert call.transferred_to == "+6522222222"
        other = phone.call()
        other.press("2")
        assert other.last_prompt == "It is time to build an IVR. Goodbye."
        assert other.call_state == "ended"


def test_the_testing_example_passes(hello):
    source = code_after("no socket: a whole call takes milliseconds")
    namespace: dict = {}
    exec(compile(source, "README.rst", "exec"), namespace)
    namespace["test_sales"]()
