"""Carriers: the edges between hoiivr's provider-neutral core and each telephony provider.

``HOIIVR_CARRIER`` chooses one: ``hoiio`` (the default) or ``twilio``. :class:`Carrier` is
the interface a provider implements; :func:`carrier_class` loads the one configured (the
Twilio carrier needs the ``twilio`` package, so it is imported only when chosen).
"""
from __future__ import annotations

import importlib

from ..config import Settings
from ..errors import ConfigError, install_hint
from .base import Answer, Carrier, Inbound, Placed

__all__ = ["Answer", "CARRIERS", "Carrier", "Inbound", "Placed", "carrier_class",
           "carrier_name"]

#: Each carrier's ``HOIIVR_CARRIER`` name, the class that implements it, and what it needs.
CARRIERS: dict[str, tuple[str, str]] = {
    "hoiio": ("hoiivr.carriers.hoiio.carrier:HoiioCarrier", ""),
    "twilio": ("hoiivr.carriers.twilio.carrier:TwilioCarrier", "twilio"),
}
DEFAULT = "hoiio"


def carrier_name(settings: Settings) -> str:
    """The configured ``HOIIVR_CARRIER`` (default ``hoiio``), checked."""
    name = str(settings.get("HOIIVR_CARRIER") or DEFAULT).strip().lower()
    if name not in CARRIERS:
        raise ConfigError(f"HOIIVR_CARRIER={name!r} is not a carrier hoiivr knows; use one of "
                          f"{', '.join(sorted(CARRIERS))}")
    return name


def carrier_class(name: str) -> type[Carrier]:
    """The class of the carrier ``name``; a clear error when its extra is not installed."""
    where, extra = CARRIERS[name]
    module, _, attr = where.partition(":")
    try:
        cls: type[Carrier] = getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        if not extra or exc.name is None or not exc.name.startswith(extra):
            raise
        raise ConfigError(f"HOIIVR_CARRIER={name} needs the {extra} package: "
                          f"{install_hint(extra)}") from None
    return cls
