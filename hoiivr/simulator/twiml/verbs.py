"""TwiML verbs as values, read from a parsed document with Twilio's defaults (TWIML.md §3).

:func:`read` turns a ``<Response>`` into a :class:`Document`: its verbs, top to bottom, and
the warnings Twilio would log. Names are case-sensitive. An element that is not a TwiML
verb is skipped with warning 12200; an attribute with a value Twilio would not take keeps
its default, also with a warning. Verbs Twilio has that the simulator does not run yet
become :class:`Unsupported`, which ends the call with the application-error message when
reached. URLs are kept as written: the front resolves them against the document's URL.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Union

from .errors import TwimlError
from .parser import Element, XmlError, parse

#: Twilio's verbs the simulator does not run (TWIML.md §3: "Not in this subset").
UNSUPPORTED = frozenset({"Enqueue", "Conference", "Connect", "Start", "Stop", "Stream",
                         "Refer", "Pay", "Leave", "Echo", "Queue", "Sms", "Message", "Prompt"})
#: Nouns of ``<Dial>`` the simulator does not ring.
UNSUPPORTED_NOUNS = frozenset({"Conference", "Queue", "Sim", "Application", "WhatsApp"})
KEYS = "0123456789*#"
#: Twilio rings at most ten numbers of one ``<Dial>`` at once.
MAX_TARGETS = 10
#: ``loop="0"``: "until hangup", which the simulator bounds as Twilio bounds Play.
FOREVER = 1000
_DIGITS = re.compile(r"[0-9*#wW]+")
#: One hint: Twilio takes each of at most 100 characters (TWIML.md §3).
HINT_MAX = 100
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}")


@dataclass(frozen=True)
class Say:
    text: str
    voice: str = "man"
    language: str = "en-US"
    loop: int = 1


@dataclass(frozen=True)
class Play:
    url: str
    loop: int = 1
    digits: str = ""


@dataclass(frozen=True)
class Pause:
    length: float = 1.0


Prompt = Union[Say, Play, Pause]


@dataclass(frozen=True)
class Gather:
    action: str | None = None
    method: str = "POST"
    timeout: float = 5.0
    finish_on_key: str = "#"
    num_digits: int | None = None
    input: frozenset[str] = frozenset({"dtmf"})
    action_on_empty_result: bool = False
    speech_timeout: str | None = None
    prompts: tuple[Prompt, ...] = ()
    hints: tuple[str, ...] = ()
    language: str = "en-US"

    @property
    def hears_speech(self) -> bool:
        """Whether it listens for the caller's words."""
        return "speech" in self.input

    @property
    def takes_keys(self) -> bool:
        return "dtmf" in self.input


@dataclass(frozen=True)
class Record:
    action: str | None = None
    method: str = "POST"
    timeout: float = 5.0
    finish_on_key: str = "1234567890*#"
    max_length: float = 3600.0
    play_beep: bool = True
    trim: str = "trim-silence"
    status_callback: str | None = None
    status_callback_method: str = "POST"


@dataclass(frozen=True)
class Target:
    """One party a ``<Dial>`` rings: ``kind`` is ``number``, ``client`` or ``sip``."""

    address: str
    kind: str = "number"


@dataclass(frozen=True)
class Dial:
    targets: tuple[Target, ...]
    action: str | None = None
    method: str = "POST"
    timeout: float = 30.0
    caller_id: str | None = None
    hangup_on_star: bool = False
    time_limit: float = 14400.0
    record: str = "do-not-record"


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Reject:
    reason: str = "rejected"


@dataclass(frozen=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True)
class Unsupported:
    """A verb Twilio runs and the simulator does not (yet): an application error."""

    name: str
    reason: str


Verb = Union[Say, Play, Pause, Gather, Record, Dial, Hangup, Reject, Redirect, Unsupported]


@dataclass(frozen=True)
class Document:
    verbs: tuple[Verb, ...]
    warnings: tuple[str, ...] = field(default=())


class Attrs:
    """An element's attributes read with defaults; a bad value is noted, not fatal."""

    def __init__(self, element: Element, warnings: list[str]) -> None:
        self.element = element
        self.attrs = element.attrs
        self.warnings = warnings

    def bad(self, name: str, hint: str) -> None:
        self.warnings.append(f"12200: <{self.element.tag} {name}={self.attrs[name]!r}> is not "
                             f"valid ({hint}); its default is used")

    def text(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    def number(self, name: str, default: float, low: float = 0.0,
               high: float = 86400.0) -> float:
        if name not in self.attrs:
            return default
        try:
            value = float(self.attrs[name])
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            self.bad(name, f"a number from {low:g} to {high:g}")
            return default
        return value

    def whole(self, name: str, default: int, low: int = 0, high: int = 1000) -> int:
        value = self.number(name, float(default), low, high)
        if value != int(value):
            self.bad(name, "a whole number")
            return default
        return int(value)

    def flag(self, name: str, default: bool) -> bool:
        value = self.attrs.get(name)
        if value is None:
            return default
        if value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.bad(name, "true or false")
        return default

    def method(self, name: str = "method") -> str:
        value = self.attrs.get(name, "POST").upper()
        if value not in ("GET", "POST"):
            self.bad(name, "GET or POST")
            return "POST"
        return value

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.attrs.get(name, default)
        if value not in choices:
            self.bad(name, " or ".join(choices))
            return default
        return value

    def keys(self, name: str, default: str, single: bool) -> str:
        value = self.attrs.get(name, default)
        if any(key not in KEYS for key in value) or (single and len(value) > 1):
            self.bad(name, "one of the keys 0-9, * and #, or none" if single
                      else "keys from 0-9, * and #")
            return default
        return value


def load(data: bytes) -> Document:
    """The document in ``data``; :class:`TwimlError` 12100 when it is not XML the
    simulator reads, 12102 when its root is not ``<Response>``."""
    try:
        root = parse(data)
    except XmlError as exc:
        raise TwimlError(12100, f"Document parse failure: {exc}") from None
    if root.tag != "Response":
        raise TwimlError(12102, f"the root element is <{root.tag}>; a TwiML document is "
                                "<Response> holding the verbs")
    return read(root)


def read(root: Element) -> Document:
    """The verbs of a ``<Response>``, top to bottom."""
    warnings: list[str] = []
    verbs: list[Verb] = []
    for element in root.children:
        verb = _verb(element, warnings)
        if verb is not None:
            verbs.append(verb)
    return Document(tuple(verbs), tuple(warnings))


def _verb(element: Element, warnings: list[str]) -> Verb | None:
    tag = element.tag
    if tag in UNSUPPORTED:
        return Unsupported(tag, f"<{tag}> is not in the TwiML subset the simulator runs "
                                "(TWIML.md §3)")
    reader = _READERS.get(tag)
    if reader is None:
        warnings.append(f"12200: <{tag}> is not a TwiML verb (names are case-sensitive); "
                        "skipped")
        return None
    return reader(element, Attrs(element, warnings))


def _say(element: Element, a: Attrs) -> Say:
    # SSML inside <Say> is read as its text (a chosen rule, TWIML.md §3).
    return Say(" ".join(element.itertext().split()), a.text("voice", "man") or "man",
               a.text("language", "en-US") or "en-US", _loop(a))


def _loop(a: Attrs) -> int:
    loop = a.whole("loop", 1, 0, FOREVER)
    return loop or FOREVER


def _play(element: Element, a: Attrs) -> Play | None:
    digits = a.text("digits", "") or ""
    if digits and not _DIGITS.fullmatch(digits):
        a.bad("digits", "keys 0-9, *, # and w")
        digits = ""
    url = element.text.strip()
    if not url and not digits:
        a.warnings.append("12200: <Play> has no URL and no digits; skipped")
        return None
    return Play(url, _loop(a), digits)


def _pause(element: Element, a: Attrs) -> Pause:
    return Pause(a.number("length", 1.0, 0.0, 600.0))


def _gather(element: Element, a: Attrs) -> Gather:
    prompts: list[Prompt] = []
    for child in element.children:
        if child.tag in ("Say", "Play", "Pause"):
            prompt = _PROMPTS[child.tag](child, Attrs(child, a.warnings))
            if prompt is not None:
                prompts.append(prompt)
        else:
            a.warnings.append(f"12200: <{child.tag}> cannot be inside <Gather> (only Say, "
                              "Play and Pause); skipped")
    words = (a.text("input", "dtmf") or "dtmf").split()
    if not words or any(w not in ("dtmf", "speech") for w in words):
        a.bad("input", "dtmf, speech or 'dtmf speech'")
        words = ["dtmf"]
    num_digits = a.whole("numDigits", 0, 0, 1000) if "numDigits" in a.attrs else 0
    return Gather(a.text("action"), a.method(), a.number("timeout", 5.0, 0.0, 600.0),
                  a.keys("finishOnKey", "#", single=True), num_digits or None,
                  frozenset(words), a.flag("actionOnEmptyResult", False),
                  _speech_timeout(a), tuple(prompts), _hints(a), _language(a))


def _hints(a: Attrs) -> tuple[str, ...]:
    """``hints``: comma-separated phrases; the simulator keeps those it can (13330)."""
    phrases = [p.strip() for p in (a.text("hints") or "").split(",") if p.strip()]
    kept = tuple(p for p in phrases if len(p) <= HINT_MAX)
    if len(kept) < len(phrases):
        a.warnings.append(f"13330: <Gather hints> has a phrase longer than {HINT_MAX} "
                          "characters; it is left out")
    return kept


def _language(a: Attrs) -> str:
    value = a.text("language", "en-US") or "en-US"
    if not _LANGUAGE.fullmatch(value):
        a.warnings.append(f"13331: <Gather language={value!r}> is not a BCP-47 language tag; "
                          "en-US is used")
        return "en-US"
    return value


def _speech_timeout(a: Attrs) -> str | None:
    value = a.text("speechTimeout")
    if value is None or value == "auto" or (value.isascii() and value.isdigit()
                                            and int(value) > 0):
        return value
    a.warnings.append(f"13327: <Gather speechTimeout={value!r}> is not a positive whole "
                      "number or auto; the timeout is used")
    return None


def _record(element: Element, a: Attrs) -> Record:
    return Record(a.text("action"), a.method(), a.number("timeout", 5.0, 0.0, 3600.0),
                  a.keys("finishOnKey", "1234567890*#", single=False),
                  a.number("maxLength", 3600.0, 1.0, 14400.0), a.flag("playBeep", True),
                  a.choice("trim", "trim-silence", ("trim-silence", "do-not-trim")),
                  a.text("recordingStatusCallback"), a.method("recordingStatusCallbackMethod"))


def _dial(element: Element, a: Attrs) -> Dial | Unsupported | None:
    targets: list[Target] = []
    for child in element.children:
        if child.tag in UNSUPPORTED_NOUNS:
            return Unsupported(f"Dial/{child.tag}", f"<Dial><{child.tag}> is not in the "
                               "TwiML subset the simulator runs (TWIML.md §3)")
        kind = {"Number": "number", "Client": "client", "Sip": "sip"}.get(child.tag)
        if kind is None:
            a.warnings.append(f"12200: <{child.tag}> cannot be inside <Dial>; skipped")
        elif child.itertext().strip():
            targets.append(Target(child.itertext().strip(), kind))
    if element.text.strip():
        targets.insert(0, Target(element.text.strip()))
    if not targets:
        a.warnings.append("12200: <Dial> names nobody to call; skipped")
        return None
    if len(targets) > MAX_TARGETS:
        a.warnings.append(f"12200: <Dial> rings at most {MAX_TARGETS} parties at once; the "
                          "others are left out")
    record = a.choice("record", "do-not-record", ("do-not-record", "record-from-answer",
                                                  "record-from-ringing",
                                                  "record-from-answer-dual",
                                                  "record-from-ringing-dual"))
    return Dial(tuple(targets[:MAX_TARGETS]), a.text("action"), a.method(),
                a.number("timeout", 30.0, 1.0, 600.0), a.text("callerId"),
                a.flag("hangupOnStar", False), a.number("timeLimit", 14400.0, 1.0, 86400.0),
                record)


def _hangup(element: Element, a: Attrs) -> Hangup:
    return Hangup()


def _reject(element: Element, a: Attrs) -> Reject:
    return Reject(a.choice("reason", "rejected", ("rejected", "busy")))


def _redirect(element: Element, a: Attrs) -> Redirect | None:
    url = element.text.strip()
    if not url:
        a.warnings.append("12200: <Redirect> has no URL; skipped")
        return None
    return Redirect(url, a.method())


_PROMPTS: dict[str, Callable[[Element, Attrs], Prompt | None]] = {
    "Say": _say, "Play": _play, "Pause": _pause}
_READERS: dict[str, Callable[[Element, Attrs], Verb | None]] = {"Say": _say, "Play": _play, "Pause": _pause, "Gather": _gather,
            "Record": _record, "Dial": _dial, "Hangup": _hangup, "Reject": _reject,
            "Redirect": _redirect}
