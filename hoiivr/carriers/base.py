"""The :class:`Carrier` interface: everything hoiivr's core needs from a telephony provider.

The core (blocks, handlers, the dispatcher, tokens, stores) decides what a call does next;
a carrier is the edge on each side of it::

    webhook --carrier.authenticate/parse--> Notification --Dispatcher--> blocks
            --carrier.deliver--> Hoiio: one REST request per block
                                 TwiML: a document in the webhook's answer

A carrier says which blocks it can deliver and which events its calls produce, so that an
app asking for something its provider lacks is refused before a caller hears silence.
``docs/carriers.rst`` follows one notification through the Hoiio carrier.
"""
from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ..blocks import Block, Dial
from ..config import Settings
from ..errors import CallFlowError
from ..notification import Notification


class Headers(Protocol):
    """A request's headers, looked up case-insensitively (werkzeug's, or a dict in tests)."""

    def get(self, key: str, /) -> str | None: ...


@dataclass(frozen=True)
class Inbound:
    """One webhook request as a carrier reads it: nothing of Flask.

    ``root`` is the app's root URL as the provider reaches it (the configured public URL,
    else this request's), ``path`` and ``query`` the request's own; ``body`` the raw bytes,
    read once.
    """

    root: str
    path: str
    query: str
    headers: Headers
    body: bytes
    method: str = "POST"
    #: The notify URL's token, for a request to a block's notify URL.
    token: str | None = None

    @property
    def url(self) -> str:
        """The URL the provider requested, as it signed it."""
        url = self.root.rstrip("/") + self.path
        return f"{url}?{self.query}" if self.query else url


@dataclass(frozen=True)
class Answer:
    """What a webhook answers: for TwiML the next instructions, for Hoiio a plain OK."""

    body: str = "OK"
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Placed:
    """An outbound call the provider accepted: its ``session`` and ``txn_ref`` (the
    provider's ids), the call's ``key`` in the store, and the provider's own ``reply``."""

    session: str
    txn_ref: str | None
    key: str = ""
    reply: Any = field(default=None, compare=False, repr=False)


def values(block: Block) -> dict[str, Any]:
    """The fields set on ``block``, by name: what :meth:`Carrier.refuses` judges."""
    return {name: value for name, value in block.__dict__.items()
            if value is not None and name != "_"}


class Carrier(abc.ABC):
    """One provider's side of hoiivr. Subclasses set the class attributes below."""

    #: The ``HOIIVR_CARRIER`` value that selects it.
    name: ClassVar[str]
    #: The kinds of block it can deliver (``Block.kind``).
    blocks: ClassVar[frozenset[str]]
    #: The handler events its calls produce (``registry.EVENTS``).
    events: ClassVar[frozenset[str]]
    #: The request header that carries the provider's signature (for logs and docs).
    signature_header: ClassVar[str]
    #: The settings it cannot be built from config without.
    credentials: ClassVar[tuple[str, ...]] = ()
    #: The HTTP methods its webhooks come with (Twilio's may be GET).
    methods: ClassVar[frozenset[str]] = frozenset({"POST"})
    #: What the provider calls the setting of a number that the answer URL goes into.
    number_url: ClassVar[str] = "number's voice URL"
    #: The provider reports a call that ended during a Record twice, the block's
    #: result and the end apart, in no promised order (Twilio's action and status
    #: callback): the end waits for the result (``hoiivr/awaiting.py``).
    split_end: ClassVar[bool] = False

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: Settings, client: Any = None) -> Carrier:
        """The carrier ``settings`` describe; ``client``, if given, replaces the provider
        client they would build (and the credentials it would need)."""

    @abc.abstractmethod
    def authenticate(self, request: Inbound) -> None:
        """Check that ``request`` comes from the provider, before anything else is read.

        :raises SignatureError: the signature is missing or wrong.
        """

    @abc.abstractmethod
    def parse(self, request: Inbound) -> Notification:
        """The notification in an authenticated ``request``.

        :raises NotificationError: a field is missing or malformed.
        """

    def check(self, blocks: Sequence[Block], handler: str) -> None:
        """Refuse blocks this carrier cannot deliver, naming the ``handler`` that returned
        them, before they are written as sent.

        :raises CallFlowError: or :class:`~hoiivr.errors.BlockError` for a value the
            provider does not take.
        """
        for block in blocks:
            label = type(block).__name__
            if block.kind not in self.blocks:
                raise CallFlowError(f"handler {handler} returned {label}, which the "
                                    f"{self.name} carrier cannot deliver; it has "
                                    f"{', '.join(sorted(self.blocks - {'dial'}))}",
                                    handler, block)
            for why in self.refuses(type(block), values(block)):
                raise CallFlowError(f"handler {handler} returned {label}: {why}", handler,
                                    block)

    @classmethod
    def refuses(cls, block: type[Block], options: dict[str, Any]) -> list[str]:
        """Why this carrier cannot take a ``block`` made with these ``options`` (the
        constant ones read from the app's source when it starts, or every field set on a
        block a handler returned); empty when it can."""
        return []

    def batch(self, blocks: Sequence[Block]) -> int:
        """How many of ``blocks`` (never empty) one delivery carries; the rest wait in the
        call's record for the next notification. One REST request per block by default."""
        return 1

    @abc.abstractmethod
    def deliver(self, session: str | None, blocks: Sequence[Block], notify_url: str | None,
                *, ringing: bool = False) -> Answer | None:
        """Deliver ``blocks`` (a batch, see :meth:`batch`) to the call ``session``.

        ``notify_url`` is where the result of the last block is to be reported; ``ringing``
        says the call has not been answered yet. Returns the webhook's answer when
        delivering *is* answering (TwiML), else ``None``.

        :raises ClientError: the provider refused or could not be reached; a
            :class:`~hoiivr.errors.CallGone` when the call has already ended.
        """

    def interject(self, session: str | None, blocks: Sequence[Block], notify_url: str | None,
                  *, ringing: bool = False) -> None:
        """Deliver ``blocks`` now, out of turn: while the webhook being handled is still
        unanswered (a slow handler's filler, or the apology for one that never returns).

        A carrier that delivers through its REST API does it by delivering, as here; one
        whose webhook answers *are* the deliveries (TwiML) must override it to redirect the
        call through its REST API.

        :raises ClientError: as :meth:`deliver`.
        """
        if self.deliver(session, blocks, notify_url, ringing=ringing) is not None:
            raise NotImplementedError(f"the {self.name} carrier answers webhooks with the "
                                      "call's instructions: its interject() must redirect "
                                      "the call instead")

    @abc.abstractmethod
    def dial(self, block: Dial, notify_url: str) -> Placed:
        """Start an outbound call whose progress is reported to ``notify_url``.

        :raises ClientError: the provider refused the call or could not be reached.
        """

    def acknowledge(self) -> Answer:
        """The answer to a notification that delivered nothing (a duplicate, the end)."""
        return Answer()

    def close(self) -> None:
        """Release pooled connections; objects handed in by the caller stay open."""
