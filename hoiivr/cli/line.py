"""The caller's end of a simulator: :class:`Line` drives its ``/sim/`` control API over HTTP.

``hoiivr dev`` and ``hoiivr call`` both talk to the simulator through a Line, so the
terminal phone works the same against the simulator ``dev`` starts in-process and against
one started apart with ``hoiivr simulator``::

    with Line("http://127.0.0.1:8800") as line:
        line.check()
        session = line.call("+6591234567", "+6560000000")
        line.settle(session, limit=10)
        line.press(session, "1")
        print(line.get_call(session)["prompts"])
"""
from __future__ import annotations

from typing import Any

import requests

from ..errors import HoiivrError

__all__ = ["Line", "LineError", "Unreachable"]

#: (connect, read) seconds for one control request; a settle gets its limit on top.
TIMEOUT = (3.05, 10.0)


class LineError(HoiivrError):
    """The simulator refused a request (the message is its explanation) or did not answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unreachable(LineError):
    """Nothing answers at the simulator's address, or what answers is not a simulator."""


class Line:
    """A caller's phone line to the simulator at ``base_url`` (``http://HOST:PORT``)."""

    def __init__(self, base_url: str, http: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._own_http = http is None
        self.http = http if http is not None else requests.Session()

    def check(self) -> dict[str, Any]:
        """The simulator's ``GET /sim`` (its clock and API URL); :class:`Unreachable` if
        nothing, or something other than a hoiivr simulator, answers there."""
        info = self._request("GET", "/sim")
        if "clock" not in info:
            raise Unreachable(f"{self.base_url} answers, but it is not a hoiivr simulator "
                              "(GET /sim has no clock); check --sim")
        return info

    def call(self, caller: str, number: str) -> str:
        """Call the Hoiio Number ``number`` from ``caller``; returns the session id."""
        return str(self._request("POST", "/sim/calls", {"from": caller, "to": number})
                   ["session"])

    def press(self, session: str, digits: str) -> None:
        self._request("POST", f"/sim/calls/{session}/press", {"digits": digits})

    def speak(self, session: str, seconds: float) -> None:
        self._request("POST", f"/sim/calls/{session}/speak", {"seconds": seconds})

    def say(self, session: str, text: str) -> None:
        """The caller says ``text`` (heard as is by a Gather listening for speech)."""
        self._request("POST", f"/sim/calls/{session}/speak", {"text": text})

    def hangup(self, session: str) -> None:
        self._request("POST", f"/sim/calls/{session}/hangup")

    def set_phone(self, number: str, behaviour: str) -> None:
        """How ``number`` behaves when the app transfers to it or dials it."""
        self._request("PUT", f"/sim/phones/{number}", {"behaviour": behaviour})

    def get_call(self, session: str) -> dict[str, Any]:
        return self._request("GET", f"/sim/calls/{session}")

    def settle(self, session: str, limit: float) -> bool:
        """Wait (at most ``limit`` seconds) until the call waits for the caller or has ended,
        with every notification delivered; False if it was still busy at the limit."""
        try:
            self._request("POST", "/sim/settle", {"session": session, "limit": limit},
                          read_timeout=limit + TIMEOUT[1])
        except LineError as exc:
            if exc.status == 409:       # SettleTimeout: the call is still on the move
                return False
            raise
        return True

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> Line:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                 read_timeout: float = TIMEOUT[1]) -> dict[str, Any]:
        url = self.base_url + path
        try:
            with self.http.request(method, url, json=body,
                                   timeout=(TIMEOUT[0], read_timeout)) as reply:
                status, text = reply.status_code, reply.text
                try:
                    data = reply.json()
                except ValueError:
                    data = None
        except requests.ConnectionError:
            raise Unreachable(f"cannot reach the simulator at {self.base_url}; start one with "
                              "`hoiivr simulator`, or give its address with --sim") from None
        except requests.RequestException as exc:
            raise LineError(f"the simulator at {self.base_url} did not answer {method} {path} "
                            f"({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise Unreachable(f"{self.base_url} is not a hoiivr simulator: {method} {path} "
                              f"answered HTTP {status} with {text[:80]!r}; check --sim")
        if status >= 400:
            raise LineError(str(data.get("error") or f"HTTP {status}"), status)
        return data
