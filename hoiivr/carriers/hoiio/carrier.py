""":class:`HoiioCarrier`: Hoiio's edge of hoiivr, the reference carrier.

A notification is a form-encoded POST signed with ``X-Hoiio-Signature`` over the raw body;
the app answers it with a plain 200 and drives the call with one REST request per block,
whose completion comes back as the next notification (``docs/protocol.md``).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from ...blocks import BLOCKS, Block, Dial
from ...config import Settings
from ...errors import ClientError
from ...notification import Notification
from ...protocol import DEFAULT_API_URL
from ...registry import EVENTS
from ..base import Answer, Carrier, Inbound, Placed
from .client import HoiioClient
from .notifications import SIGNATURE_HEADER, parse_form, parse_notification, verify_signature

log = logging.getLogger("hoiivr")


class HoiioCarrier(Carrier):
    """Hoiio, through ``client``. ``access_keys`` verify ``X-Hoiio-Signature`` (the access
    token, and an old one while it is rotated out); ``verify=False`` skips the check."""

    name: ClassVar[str] = "hoiio"
    blocks: ClassVar[frozenset[str]] = frozenset(BLOCKS)
    events: ClassVar[frozenset[str]] = frozenset(EVENTS)
    signature_header: ClassVar[str] = SIGNATURE_HEADER
    credentials: ClassVar[tuple[str, ...]] = ("HOIIO_APP_ID", "HOIIO_ACCESS_TOKEN")

    def __init__(self, client: HoiioClient, access_keys: Sequence[str] | None = None,
                 verify: bool = True) -> None:
        self.client = client
        self.access_keys = tuple(access_keys or (client.access_token,))
        self.verify = verify

    @classmethod
    def from_settings(cls, settings: Settings, client: Any = None) -> HoiioCarrier:
        """Hoiio as ``settings`` describe it (``HOIIO_APP_ID``, ``HOIIO_ACCESS_TOKEN``,
        ``HOIIO_API_URL``, ``HOIIVR_VERIFY_SIGNATURE``); ``client`` replaces the
        :class:`HoiioClient` they would build."""
        if client is None:
            app_id, token = settings.required(*cls.credentials,
                                              why="your Hoiio app's credentials")
            client = HoiioClient(app_id, token, base_url=settings.get("HOIIO_API_URL",
                                                                      DEFAULT_API_URL))
        verify = settings.flag("HOIIVR_VERIFY_SIGNATURE", True)
        if not verify:
            log.warning("HOIIVR_VERIFY_SIGNATURE is off: anyone who can reach this app can "
                        "forge Hoiio notifications. Turn it on for anything but local "
                        "experiments.")
        return cls(client, verify=verify)

    def authenticate(self, request: Inbound) -> None:
        if self.verify:
            verify_signature(request.body, request.headers.get(SIGNATURE_HEADER),
                             self.access_keys)

    def parse(self, request: Inbound) -> Notification:
        return parse_notification(parse_form(request.body))

    def deliver(self, session: str | None, blocks: Sequence[Block], notify_url: str | None,
                *, ringing: bool = False) -> Answer | None:
        if len(blocks) != 1:
            raise ClientError(f"Hoiio takes one block per request, not {len(blocks)}")
        self.client.send(blocks[0], session, notify_url).raise_for_status()
        return None

    def dial(self, block: Dial, notify_url: str) -> Placed:
        reply = self.client.send(block, notify_url=notify_url).raise_for_status()
        return Placed(str(reply.session), reply.txn_ref, reply=reply)

    def close(self) -> None:
        self.client.close()

