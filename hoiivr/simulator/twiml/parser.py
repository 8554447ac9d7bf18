"""XML into a small element tree, with the standard library and nothing it need not allow.

expat reads the document; a ``<!DOCTYPE`` (and with it every entity declaration, the stuff
of "billion laughs" and external-entity attacks) is refused outright, as is a document over
:data:`MAX_BYTES`. What expat cannot read is :class:`XmlError`; the TwiML front turns it
into Twilio's error 12100 (TWIML.md §8).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

#: Twilio refuses TwiML documents over 64 kB (error 11750).
MAX_BYTES = 64 * 1024


class XmlError(ValueError):
    """The document is not XML the simulator reads."""


@dataclass
class Element:
    """An element: its tag, attributes, children, and its text and children's tails in
    order (``parts``: strings and elements)."""

    tag: str
    attrs: dict[str, str]
    parts: list[str | Element] = field(default_factory=list)

    @property
    def children(self) -> list[Element]:
        return [part for part in self.parts if isinstance(part, Element)]

    @property
    def text(self) -> str:
        """The element's own text (not its children's)."""
        return "".join(part for part in self.parts if isinstance(part, str))

    def itertext(self) -> str:
        """All the text inside, children's included, in document order."""
        return "".join(part if isinstance(part, str) else part.itertext()
                       for part in self.parts)


def parse(data: bytes) -> Element:
    """The root element of ``data``; :class:`XmlError` says why it cannot be read."""
    if len(data) > MAX_BYTES:
        raise XmlError(f"the document is over {MAX_BYTES // 1024} kB")
    builder = _Builder()
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise XmlError(f"the document is not well-formed XML ({expat.ErrorString(exc.code)},"
                       f" line {exc.lineno} column {exc.offset})") from None
    assert builder.root is not None          # expat refuses a document without an element
    return builder.root


def _refuse_doctype(*args: Any) -> None:
    raise XmlError("the document has a DOCTYPE; TwiML has none, and the simulator reads "
                   "no DTD or entity declarations")


def _refuse_entity(*args: Any) -> None:
    raise XmlError("the document declares an entity; the simulator reads none")


class _Builder:
    def __init__(self) -> None:
        self.root: Element | None = None
        self.open: list[Element] = []

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        element = Element(tag, dict(attrs))
        if self.open:
            self.open[-1].parts.append(element)
        else:
            self.root = element
        self.open.append(element)

    def end(self, tag: str) -> None:
        self.open.pop()

    def data(self, text: str) -> None:
        if self.open:
            self.open[-1].parts.append(text)
