"""The Twilio carrier (``HOIIVR_CARRIER=twilio``): voice webhooks signed with
``X-Twilio-Signature``, TwiML answers, and the Calls resource for outbound calls. Needs the
``twilio`` package: ``pip install -e '.[twilio]'``."""
from __future__ import annotations

from .carrier import TwilioCarrier
from .webhook import SIGNATURE_HEADER, parse_params, parse_webhook

__all__ = ["SIGNATURE_HEADER", "TwilioCarrier", "parse_params", "parse_webhook"]
