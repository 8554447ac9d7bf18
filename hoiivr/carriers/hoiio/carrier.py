""":class:`HoiioCarrier`: Hoiio's edge of hoiivr, the reference carrier.

A notification is a form-encoded POST signed with ``X-Hoiio-Signature`` over the raw body;
the app answers it with a plain 200 and drives the call with one REST request per block,
whose completion comes back as the next notification (``docs/protocol.md``).

Hoiio signs the body only, and the body does not say which step it answers: a captured
genuine body could be posted to a later step's notify URL and re-run it with old input.
So every block's ``tag``, which Hoiio echoes in the signed body, carries a proof of the
notify URL it was sent with (``|hv=`` and 10 characters after the app's own tag); a body
whose proof is not its URL's is refused as a replay, and handlers see their own tag only.
"""
from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from ...blocks import BLOCKS, Block, Dial
from ...config import Settings
from ...errors import ClientError, ReplayedNotification
from ...notification import Notification
from ...protocol import DEFAULT_API_URL, GENDERS, LANGUAGES, TAG_MAX, with_voice
from ...registry import EVENTS
from ..base import Answer, Carrier, Inbound, Placed
from .client import HoiioClient
from .notifications import SIGNATURE_HEADER, parse_form, parse_notification, verify_signature

log = logging.getLogger("hoiivr")

#: Put after the app's tag: the proof of the notify URL a block was sent with.
PROOF = "|hv="
PROOF_LENGTH = len(PROOF) + 10


def without_proof(params: dict[str, str]) -> dict[str, str]:
    """A request's parameters as the app wrote them: the step's proof taken off its tag
    (and the tag dropped if nothing else was in it), for timelines and tests."""
    tag = params.get("tag")
    if tag is None or PROOF not in tag:
        return params
    shown = {k: v for k, v in params.items() if k != "tag"}
    if tag[:tag.rindex(PROOF)]:
        shown["tag"] = tag[:tag.rindex(PROOF)]
    return shown


def proof(token: str) -> str:
    """What a block sent with the notify URL of ``token`` carries at the end of its tag."""
    return PROOF + base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest())[:10].decode()


class HoiioCarrier(Carrier):
    """Hoiio, through ``client``. ``access_keys`` verify ``X-Hoiio-Signature`` (the access
    token, and an old one while it is rotated out); ``verify=False`` skips the check."""

    name: ClassVar[str] = "hoiio"
    blocks: ClassVar[frozenset[str]] = frozenset(BLOCKS)
    events: ClassVar[frozenset[str]] = frozenset(EVENTS)
    signature_header: ClassVar[str] = SIGNATURE_HEADER
    credentials: ClassVar[tuple[str, ...]] = ("HOIIO_APP_ID", "HOIIO_ACCESS_TOKEN")
    number_url: ClassVar[str] = "Hoiio Number's voice notify URL"

    def __init__(self, client: HoiioClient, access_keys: Sequence[str] | None = None,
                 verify: bool = True) -> None:
        self.client = client
        self.access_keys = tuple(access_keys or (client.access_token,))
        self.verify = verify

    @classmethod
    def from_settings(cls, settings: Settings, client: Any = None) -> HoiioCarrier:
        """Hoiio as ``settings`` describe it (``HOIIO_APP_ID``, ``HOIIO_ACCESS_TOKEN``,
        ``HOIIO_ACCESS_TOKEN_FALLBACKS``, ``HOIIO_API_URL``, ``HOIIVR_VERIFY_SIGNATURE``);
        ``client`` replaces the :class:`HoiioClient` they would build."""
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
        # While a new access token is rolled out, bodies Hoiio signed with the old one
        # are still on their way.
        old = settings.words("HOIIO_ACCESS_TOKEN_FALLBACKS")
        return cls(client, access_keys=[client.access_token, *old], verify=verify)

    def authenticate(self, request: Inbound) -> None:
        if self.verify:
            verify_signature(request.body, request.headers.get(SIGNATURE_HEADER),
                             self.access_keys)

    def parse(self, request: Inbound) -> Notification:
        form = parse_form(request.body)
        tag = form.get("tag") or ""
        proven = True
        if request.token is not None:
            own = proof(request.token)
            proven = tag.endswith(own)
            tag = tag[:-PROOF_LENGTH] if proven else tag
        elif PROOF in tag:
            tag = tag[:tag.rindex(PROOF)]
        form["tag"] = tag                    # handlers see the tag the app wrote
        notification = parse_notification(form)
        # An "ended" body may come to an older URL (the most recent Hoiio had); only a call
        # that has ended makes one, so it is never a replay of a live step.
        if not proven and not notification.ended:
            raise ReplayedNotification("the body's tag does not prove the notify URL it was "
                                       "sent to: a notification of another step, replayed")
        return notification

    @classmethod
    def refuses(cls, block: type[Block], options: dict[str, Any]) -> list[str]:
        reasons = []
        if "speech" in str(options.get("input") or ""):
            reasons.append(f"input={options['input']!r} asks for the caller's words, and "
                           "Hoiio's Gather takes keys only: speech input needs the Twilio "
                           "carrier (HOIIVR_CARRIER=twilio), or ask for keys")
        language, voice = options.get("language"), options.get("voice")
        if language is not None and language not in LANGUAGES:
            reasons.append(f"Hoiio's voices do not speak language={language!r}; they speak "
                           f"{', '.join(sorted(LANGUAGES))}")
        if voice is not None and voice not in GENDERS:
            reasons.append(f"Hoiio has no voice {voice!r}: it has a 'male' and a 'female' "
                           "voice (voice='male')")
        tag = options.get("tag")
        if isinstance(tag, str) and len(tag) > TAG_MAX - PROOF_LENGTH:
            # A constant tag too long is found when the app starts, not mid-call.
            reasons.append(f"tag={tag[:20]!r}... has {len(tag)} characters, and Hoiio takes "
                           f"{TAG_MAX}: hoiivr adds {PROOF_LENGTH} to bind the step, so a tag "
                           f"may have {TAG_MAX - PROOF_LENGTH}")
        return reasons

    def check(self, blocks: Sequence[Block], handler: str) -> None:
        super().check(blocks, handler)       # refuses(): the tag's room, too
        for block in blocks:
            spoken(block)                    # the markup fits in msg, or BlockError

    def deliver(self, session: str | None, blocks: Sequence[Block], notify_url: str | None,
                *, ringing: bool = False) -> Answer | None:
        if len(blocks) != 1:
            raise ClientError(f"Hoiio takes one block per request, not {len(blocks)}")
        self.client.send(_proven(spoken(blocks[0]), notify_url), session,
                         notify_url).raise_for_status()
        return None

    def dial(self, block: Dial, notify_url: str) -> Placed:
        reply = self.client.send(_proven(spoken(block), notify_url),
                                 notify_url=notify_url).raise_for_status()
        return Placed(str(reply.session), reply.txn_ref, reply=reply)

    def close(self) -> None:
        self.client.close()


def spoken(block: Block) -> Block:
    """``block`` as Hoiio takes it: its ``language`` and ``voice`` (a gender) written into
    its ``msg`` as ``<speech language= gender=>`` markup (:func:`~hoiivr.protocol.with_voice`);
    a msg the markup makes too long is a :class:`BlockError`."""
    language, voice = getattr(block, "language", None), getattr(block, "voice", None)
    if language is None and voice is None:
        return block
    msg = getattr(block, "msg", None)
    changes: dict[str, Any] = {"language": None, "voice": None}
    if msg:
        changes["msg"] = with_voice(msg, language, voice)
    return block.replace(**changes)


def _proven(block: Block, notify_url: str | None) -> Block:
    """``block`` with its tag carrying the proof of ``notify_url`` (the token at its end)."""
    if notify_url is None:
        return block
    token = notify_url.rpartition("/")[2]
    return block.tagged(proof(token))
