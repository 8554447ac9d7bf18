"""Fixtures of the property suite."""
from __future__ import annotations

import warnings
from typing import Iterator

import pytest

from .harness import Line

# When a property fails, Hypothesis imports its patch writer, which imports libcst, which
# uses a deprecated mypy_extensions API; with warnings as errors that import would turn the
# report of the falsifying example into an INTERNALERROR. Import it here, warnings off.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except ImportError:  # libcst is optional
        pass


@pytest.fixture
def line() -> Iterator[Line]:
    """The DESIGN app and the simulator, notifications delivered by hand."""
    wired = Line()
    yield wired
    wired.close()
