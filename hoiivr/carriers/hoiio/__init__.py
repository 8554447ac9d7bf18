"""The Hoiio carrier: notifications signed with ``X-Hoiio-Signature``, one REST request per
block (:class:`HoiioClient`), and the old SDKs' :class:`Hoiio` facade."""
from __future__ import annotations

from .carrier import HoiioCarrier
from .client import HoiioClient, Response
from .facade import Hoiio
from .notifications import (SIGNATURE_HEADER, compute_signature, parse_form, parse_notification,
                            verify_signature)

__all__ = ["SIGNATURE_HEADER", "Hoiio", "HoiioCarrier", "HoiioClient", "Response",
           "compute_signature", "parse_form", "parse_notification", "verify_signature"]
