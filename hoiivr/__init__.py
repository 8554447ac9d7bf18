"""hoiivr: phone IVR apps on the Hoiio API, with an embedded Hoiio simulator."""
from __future__ import annotations

from .ask import Ask
from .blocks import Block, Dial, Gather, Hangup, Hold, Monitor, Play, Record, Transfer, Unhold
from .call import Call
from .errors import (ApiError, BlockError, CallFlowError, ConfigError, HoiivrError,
                     NetworkError, NotificationError, SignatureError, TokenError)
from .ivr import IVR

__version__ = "0.1.0"

__all__ = [
    "ApiError", "Ask", "Block", "BlockError", "Call", "CallFlowError", "ConfigError", "Dial", "Gather",
    "Hangup", "HoiivrError", "Hold", "IVR", "Monitor", "NetworkError", "NotificationError",
    "Play", "Record", "SignatureError", "TokenError", "Transfer", "Unhold",
]
