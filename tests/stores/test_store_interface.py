"""The Store base class: what a backend must implement before it can be made."""
from __future__ import annotations

from typing import Any

import pytest

from hoiivr.stores import Store


class WithoutGet(Store):
    """A backend that implements everything but :meth:`Store.get`."""

    def __init__(self) -> None:
        super().__init__()

    def put(self, key: str, record: dict[str, Any], ttl: float | None = None) -> None:
        pass

    def delete(self, key: str) -> None:
        pass

    def close(self) -> None:
        pass

    def _acquire(self, key: str, token: str, lease: float, wait: float) -> str | None:
        return None

    def _release(self, key: str, token: str) -> None:
        pass

    def _commit(self, key: str, token: str, record: dict[str, Any], ttl: float | None,
                release: bool = True) -> bool:
        return True


def test_a_backend_without_get_cannot_be_made() -> None:
    # Made anyway, every get() would answer None: every call would look new.
    with pytest.raises(TypeError, match="get"):
        WithoutGet()  # type: ignore[abstract]


def test_every_operation_a_backend_needs_is_abstract() -> None:
    # _commit too: a write under a lease must check the lease (fencing), which only the
    # backend can do atomically.
    assert Store.__abstractmethods__ == {"__init__", "get", "put", "delete", "close",
                                         "_acquire", "_release", "_commit"}
