"""Carriers: the edges between hoiivr's provider-neutral core and each telephony provider.

``HOIIVR_CARRIER`` chooses one (default ``hoiio``); :class:`Carrier` is the interface a
provider implements, :func:`carrier_class` finds the one configured.
"""
from __future__ import annotations

from ..config import Settings
from ..errors import ConfigError
from .base import Answer, Carrier, Inbound, Placed
from .hoiio.carrier import HoiioCarrier

__all__ = ["Answer", "CARRIERS", "Carrier", "HoiioCarrier", "Inbound", "Placed",
           "carrier_class"]

#: The carriers by their ``HOIIVR_CARRIER`` name.
CARRIERS: dict[str, type[Carrier]] = {"hoiio": HoiioCarrier}
DEFAULT = "hoiio"


def carrier_class(settings: Settings) -> type[Carrier]:
    """The carrier ``HOIIVR_CARRIER`` names (default ``hoiio``)."""
    name = str(settings.get("HOIIVR_CARRIER", DEFAULT)).strip().lower()
    if name not in CARRIERS:
        raise ConfigError(f"HOIIVR_CARRIER={name!r} is not a carrier hoiivr knows; use one of "
                          f"{', '.join(sorted(CARRIERS))}")
    return CARRIERS[name]
