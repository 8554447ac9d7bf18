"""The Hoiio REST client, where it has always been importable from::

    from hoiivr.client import HoiioClient, Hoiio

It lives in :mod:`hoiivr.carriers.hoiio`, with the rest of Hoiio's edge.
"""
from __future__ import annotations

from .carriers.hoiio.client import HoiioClient, Response
from .carriers.hoiio.facade import Hoiio

__all__ = ["Hoiio", "HoiioClient", "Response"]
