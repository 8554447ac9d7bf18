"""The old Hoiio SDKs' interface, for scripts: :class:`Hoiio`.

::

    Hoiio.init("APP_ID", "ACCESS_TOKEN")
    Hoiio.prefix = "65"                       # country code for numbers without '+'
    res = Hoiio.ivr.dial("11111111")
"""
from __future__ import annotations

from typing import Any

from ...errors import ClientError
from .client import HoiioClient

class _Service:
    """``Hoiio.ivr`` and friends: the client's methods with numbers given a default prefix."""

    def __init__(self, owner: type[Hoiio]) -> None:
        self._owner = owner

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._owner.client(), name)

        def call(*args: Any, **kwargs: Any) -> Any:
            for key in ("dest", "caller_id", "number"):
                if isinstance(kwargs.get(key), str):
                    kwargs[key] = self._owner.full_number(kwargs[key])
            if name in ("dial", "update_forwarding") and args:
                args = (self._owner.full_number(args[0]),) + args[1:]
            if name == "transfer" and len(args) > 1:
                args = (args[0], self._owner.full_number(args[1])) + args[2:]
            return method(*args, **kwargs)
        return call


class Hoiio:
    """The old SDKs' interface, for scripts::

        Hoiio.init("APP_ID", "ACCESS_TOKEN")
        res = Hoiio.ivr.dial("+6511111111")
        Hoiio.ivr.play(res.session, "Hello.", notify_url="https://example.com/hook")
    """

    prefix: str | None = None
    _client: HoiioClient | None = None
    ivr: _Service
    number: _Service
    voice: _Service
    account: _Service

    @classmethod
    def init(cls, app_id: str, access_token: str, base_url: str | None = None) -> None:
        cls._client = HoiioClient(app_id, access_token, base_url=base_url)

    @classmethod
    def client(cls) -> HoiioClient:
        if cls._client is None:
            raise ClientError("call Hoiio.init(app_id, access_token) first")
        return cls._client

    @classmethod
    def full_number(cls, number: str) -> str:
        """``number`` with ``Hoiio.prefix`` (a country code) added when it has no ``+``."""
        # Only a bare national number gets the prefix: not "private", "room:..." or "+...".
        if not cls.prefix or not (number.isascii() and number.isdigit()):
            return number
        return "+" + cls.prefix.lstrip("+") + number


Hoiio.ivr = Hoiio.number = Hoiio.voice = Hoiio.account = _Service(Hoiio)
