"""Facts of the Hoiio wire protocol that the client, the framework and the simulator share.

Limits, formats and the ``msg`` markup live here once, so the three sides cannot drift.
See ``docs/protocol.rst`` for the contract in prose.
"""
from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

DEFAULT_API_URL = "https://secure.hoiio.com/open/"
#: Hoiio reports every time in GMT+8.
HOIIO_TZ = timezone(timedelta(hours=8), "GMT+8")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_WHOLE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")

MSG_MAX = 1000
TAG_MAX = 256
NOTIFY_URL_MAX = 4000
LANGUAGES = frozenset({"en", "en-US", "en-GB", "zh-CN", "zh-HK", "zh-TW", "ms", "id", "th",
                       "vi", "ja", "ko"})
GENDERS = frozenset({"male", "female"})
AUDIO_SUFFIXES = (".mp3", ".wav", ".gsm")

_E164 = re.compile(r"\+[1-9][0-9]{5,14}")
# A room named by the app, or one Hoiio generated for ``room:`` alone (``R-<digits>``).
ROOM_ID = re.compile(r"[A-Za-z0-9._]{1,32}|R-[0-9]{1,30}")


def is_e164(number: object) -> bool:
    """``+`` then 6 to 15 digits, the first not 0: the only number form Hoiio accepts."""
    return isinstance(number, str) and _E164.fullmatch(number) is not None


#: What people write between the digits of a number, and before it.
_SEPARATORS = str.maketrans("", "", " -.()/\u00a0")


def e164_guess(number: object) -> str | None:
    """The E.164 number that ``number`` was probably meant to be (``"6591234567"``,
    ``"+65 9123 4567"`` and ``"0065-9123-4567"`` give ``"+6591234567"``), else None.

    Digits alone are taken to start with their country code only if there are at least
    nine of them: a number dialled within a country (``"91234567"`` in Singapore, or one
    that starts with a single 0) has no country code to find.
    """
    if not isinstance(number, str) or is_e164(number):
        return None
    compact = number.strip().removeprefix("tel:").translate(_SEPARATORS)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    elif compact[:1].isdigit() and not compact.startswith("0") and len(compact) >= 9:
        compact = "+" + compact
    return compact if is_e164(compact) else None


def is_http_url(url: object, limit: int = NOTIFY_URL_MAX) -> bool:
    """An absolute http(s) URL with a host, no longer than ``limit``."""
    if not isinstance(url, str) or not url or len(url) > limit:
        return False
    # urlsplit silently drops tabs and newlines, so a URL containing them would pass. The
    # space is the only whitespace isprintable() lets through.
    if not url.isprintable() or " " in url:
        return False
    # The host ends at the first "/" after "//", so all but the last path segment decides:
    # every notify URL of an app shares it, and it is judged once (on the hot path).
    return _http_origin(url.rpartition("/")[0] if url.count("/") > 2 else url)


@functools.lru_cache(maxsize=256)
def _http_origin(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@dataclass(frozen=True)
class Segment:
    """One piece of a ``msg``: text spoken by text-to-speech, or an audio file played.
    ``marked``: the text is in a ``<speech>`` element, whose language and gender hold
    whatever the block's own ``language`` and ``voice`` say."""

    text: str = ""
    language: str = "en"
    gender: str = "female"
    url: str | None = None
    marked: bool = field(default=False, compare=False)      # sounds the same either way


class MsgError(ValueError):
    """``msg`` markup Hoiio would refuse; ``status`` is Hoiio's error code."""

    def __init__(self, status: str, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(detail)


def parse_msg(msg: str) -> list[Segment]:
    """Split ``msg`` into segments, checking its markup as Hoiio does.

    Plain text (no ``<``) is one English segment. Markup is ``<speech language=..
    gender=..>text</speech>`` and ``<url>https://host/file.mp3</url>``; text between
    elements is spoken with the defaults.
    """
    if "<" not in msg:
        return [Segment(text=msg)] if msg.strip() else []
    if "<!" in msg or "<?" in msg:
        raise MsgError("error_msg_invalid_xml", "declarations and entities are not allowed")
    try:
        root = ElementTree.fromstring(f"<msg>{msg}</msg>")
    except ElementTree.ParseError as exc:
        raise MsgError("error_msg_invalid_xml", f"the markup is not well-formed ({exc})") from None
    segments = [Segment(text=root.text)] if root.text and root.text.strip() else []
    for element in root:
        segments.append(_segment(element))
        if element.tail and element.tail.strip():
            segments.append(Segment(text=element.tail))
    return segments


def _segment(element: ElementTree.Element) -> Segment:
    if len(element):
        raise MsgError("error_msg_invalid_xml", f"<{element.tag}> cannot contain other elements")
    text = element.text or ""
    if element.tag == "url":
        if element.attrib:
            raise MsgError("error_msg_invalid_xml", "<url> takes no attributes")
        url = text.strip()
        if not is_http_url(url) or not urlsplit(url).path.lower().endswith(AUDIO_SUFFIXES):
            raise MsgError("error_msg_invalid_url",
                           f"{url!r} is not an http(s) URL of a .mp3, .wav or .gsm file")
        return Segment(url=url)
    if element.tag != "speech":
        raise MsgError("error_msg_invalid_xml", f"<{element.tag}> is not <speech> or <url>")
    unknown = set(element.attrib) - {"language", "gender"}
    if unknown:
        raise MsgError("error_msg_invalid_xml", f"<speech> has no attribute {sorted(unknown)[0]!r}")
    language = element.get("language", "en")
    gender = element.get("gender", "female")
    if language not in LANGUAGES:
        raise MsgError("error_msg_invalid_language",
                       f"language {language!r} is not one of {', '.join(sorted(LANGUAGES))}")
    if gender not in GENDERS:
        raise MsgError("error_msg_invalid_gender", f"gender {gender!r} is not male or female")
    return Segment(text=text, language=language, gender=gender, marked=True)


def with_voice(msg: str, language: str | None, gender: str | None) -> str:
    """``msg`` with its text outside any ``<speech>`` element said in ``language`` by a
    ``gender`` voice, as Hoiio's markup: ``<speech language="zh-CN">...</speech>``.
    ``msg`` must be valid markup (:func:`parse_msg`)."""
    attrs = "".join(f" {name}={quoteattr(value)}" for name, value in
                    (("language", language), ("gender", gender)) if value)
    if not attrs:
        return msg

    def spoken(text: str | None) -> str:
        return f"<speech{attrs}>{escape(text)}</speech>" if text and text.strip() else \
            escape(text or "")

    if "<" not in msg:
        return spoken(msg)
    root = ElementTree.fromstring(f"<msg>{msg}</msg>")
    parts = [spoken(root.text)]
    for element in root:
        tail, element.tail = element.tail, None
        parts += [ElementTree.tostring(element, encoding="unicode"), spoken(tail)]
    return "".join(parts)


def spoken_text(msg: str | None) -> str:
    """What a caller hears of ``msg`` as text, audio files shown as ``[audio URL]``."""
    if not msg:
        return ""
    try:
        segments = parse_msg(msg)
    except MsgError:
        return msg
    return " ".join(s.text.strip() if s.url is None else f"[audio {s.url}]" for s in segments)


def format_time(moment: datetime) -> str:
    """A datetime as Hoiio writes it: GMT+8, ``YYYY-MM-DD HH:MM:SS``."""
    return moment.astimezone(HOIIO_TZ).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """Parse a Hoiio time; the ``.0`` that real Hoiio sometimes appended is accepted."""
    head, _, fraction = text.strip().partition(".")
    if fraction and not fraction.isdigit():
        raise ValueError(f"{text!r} is not a Hoiio time (YYYY-MM-DD HH:MM:SS)")
    if _WHOLE_TIME.fullmatch(head):
        # Every end notification has one: strptime costs ten times this.
        return datetime(int(head[:4]), int(head[5:7]), int(head[8:10]), int(head[11:13]),
                        int(head[14:16]), int(head[17:19]), tzinfo=HOIIO_TZ)
    return datetime.strptime(head, TIME_FORMAT).replace(tzinfo=HOIIO_TZ)   # "2024-1-1 9:0:0"
