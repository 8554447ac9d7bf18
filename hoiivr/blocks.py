"""The IVR blocks: immutable values, checked against the protocol when they are made.

A call is one Start block (an incoming call's answer, or :class:`Dial`), Middle blocks
(:class:`Play`, :class:`Gather`, :class:`Record`, :class:`Monitor`, :class:`Hold`,
:class:`Unhold`) and one End block (:class:`Transfer` or :class:`Hangup`)::

    Gather("Press 1 for sales.", max_digits=1, timeout=10, attempts=3, name="menu")

``name`` is the step name the framework routes the block's result by; it is never sent to
Hoiio. Every other field maps to one request parameter (:meth:`Block.to_params`), and
:meth:`Block.from_params` reads a request back, raising the same :class:`BlockError` (whose
``status`` is Hoiio's error code) that a bad constructor argument raises.

Some fields are *options* that not every carrier has (:meth:`Block.options`): a prompt's
``language`` and ``voice``, a Gather's speech ``input``, ``hints`` and ``speech_timeout``.
They are checked here for their form; each carrier checks them against its own documented
lists (``Carrier.check``) and carries them its own way::

    Gather("Say sales or support, or press 1 or 2.", input="dtmf speech",
           hints=["sales", "support"], language="en-US", name="menu")
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping

from . import protocol
from .errors import BlockError

Check = Callable[[str, str, Any], None]


def _fail(block: str, param: str, value: Any, allowed: str, status: str) -> None:
    raise BlockError(block, param, value, allowed, status)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_range(low: int, high: int | None, status: str) -> Check:
    allowed = (f"it must be a whole number from {low} to {high}" if high is not None
               else f"it must be a whole number of at least {low}")

    def check(block: str, param: str, value: Any) -> None:
        if not _whole(value) or value < low or (high is not None and value > high):
            _fail(block, param, value, allowed, status)
    return check


def _check_msg(block: str, param: str, value: Any) -> None:
    if not isinstance(value, str):
        _fail(block, param, value, "it must be text", "error_msg_invalid_length")
    if len(value) > protocol.MSG_MAX:
        _fail(block, param, value, f"it must be at most {protocol.MSG_MAX} characters "
              f"(it has {len(value)})", "error_msg_invalid_length")
    try:
        protocol.parse_msg(value)
    except protocol.MsgError as exc:
        _fail(block, param, value, f"the markup is wrong: {exc.detail}", exc.status)


def _check_tag(block: str, param: str, value: Any) -> None:
    if not isinstance(value, str) or len(value) > protocol.TAG_MAX:
        _fail(block, param, value, f"it must be text of at most {protocol.TAG_MAX} characters",
              "error_tag_invalid_length")


def _check_url(block: str, param: str, value: Any) -> None:
    if not protocol.is_http_url(value):
        _fail(block, param, value, "it must be an absolute http(s) URL of at most "
              f"{protocol.NOTIFY_URL_MAX} characters", "error_invalid_notify_url")


def _check_number(block: str, param: str, value: Any) -> None:
    if not protocol.is_e164(value):
        _fail(block, param, value, "it must be an E.164 number with its country code, "
              "e.g. '+6561234567'" + _meant(value), "error_dest_invalid")


def _meant(value: Any) -> str:
    """The number ``value`` was probably meant to be, as the end of an error's advice."""
    guess = protocol.e164_guess(value)
    return f"; did you mean {guess!r}?" if guess else ""


def _check_caller_id(block: str, param: str, value: Any) -> None:
    if value != "private" and not protocol.is_e164(value):
        _fail(block, param, value, "it must be 'private' or an E.164 number, e.g. "
              "'+6561234567'" + _meant(value), "error_caller_id_invalid")


def _check_transfer_dest(block: str, param: str, value: Any) -> None:
    if isinstance(value, str) and value.startswith("room:"):
        room = value[len("room:"):]
        if room and not protocol.ROOM_ID.fullmatch(room):
            _fail(block, param, value, "a room id is 1 to 32 of A-Z a-z 0-9 . _ , or R-<digits> "
                  "('room:' alone creates a room)", "error_invalid_room")
        return
    if not protocol.is_e164(value):
        _fail(block, param, value, "it must be an E.164 number such as '+6561234567', or "
              "'room:<id>' for a conference room" + _meant(value), "error_dest_invalid")


def _check_choice(*choices: str, status: str) -> Check:
    def check(block: str, param: str, value: Any) -> None:
        if value not in choices:
            _fail(block, param, value, f"it must be one of {', '.join(map(repr, choices))}", status)
    return check


def _check_force(block: str, param: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(block, param, value, "it must be True or False", "error_malformed_params")


#: The speech ``input`` values of a Gather, as Twilio documents them (TWIML.md §3).
INPUTS = ("dtmf", "speech", "dtmf speech")
#: Twilio's limit for one hint [twilio.com/docs/voice/twiml/gather; SignalWire's gather
#: says the same]. How many hints: Twilio gives no figure hoiivr could cite, so hoiivr takes
#: at most 500 (chosen), far more than a menu says and few enough for one attribute.
HINT_MAX, HINTS_MAX = 100, 500
#: ``speech_timeout`` in seconds (Twilio: "positive integer or auto"); the upper bound is
#: hoiivr's, the longest ``timeout`` a TwiML Gather takes in the simulator (chosen).
SPEECH_TIMEOUT_MAX = 600
# A BCP-47 tag as carriers write them: en, en-US, cmn-Hans-CN.
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}")
# A voice: a gender, or a carrier's voice name such as Polly.Joanna-Neural.
_VOICE = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")


def _check_language(block: str, param: str, value: Any) -> None:
    if not isinstance(value, str) or not _LANGUAGE.fullmatch(value):
        _fail(block, param, value, "it must be a language tag such as 'en-US' or 'zh-CN'",
              "error_msg_invalid_language")


def _check_voice(block: str, param: str, value: Any) -> None:
    if not isinstance(value, str) or not _VOICE.fullmatch(value):
        _fail(block, param, value, "it must be 'male' or 'female', or the name of one of the "
              "carrier's voices such as 'Polly.Joanna' on Twilio", "error_msg_invalid_gender")


def _check_input(block: str, param: str, value: Any) -> None:
    if value not in INPUTS:
        _fail(block, param, value, "it must be 'dtmf' (keys), 'speech' or 'dtmf speech' "
              "(either: the caller's first answer counts)", "error_malformed_params")


def _check_hints(block: str, param: str, value: Any) -> None:
    if not isinstance(value, tuple) or not value:
        _fail(block, param, value, "it must be a list of the words or phrases the caller "
              "is expected to say, e.g. ['sales', 'support']", "error_malformed_params")
    if len(value) > HINTS_MAX:
        _fail(block, param, value, f"it may hold at most {HINTS_MAX} phrases (it has "
              f"{len(value)})", "error_malformed_params")
    for hint in value:
        if not isinstance(hint, str) or not hint.strip() or len(hint) > HINT_MAX \
                or "," in hint:
            _fail(block, param, hint, f"each hint must be a word or phrase of 1 to {HINT_MAX} "
                  "characters without a comma (hints travel comma-separated)",
                  "error_malformed_params")


def _check_speech_timeout(block: str, param: str, value: Any) -> None:
    if value != "auto" and not (_whole(value) and 1 <= value <= SPEECH_TIMEOUT_MAX):
        _fail(block, param, value, f"it must be 'auto' (the end of the caller's first "
              f"pause) or a whole number of seconds from 1 to {SPEECH_TIMEOUT_MAX}",
              "error_malformed_params")


def option(check: Check) -> Any:
    """A field that is no Hoiio request parameter: each carrier carries it its own way
    (:meth:`Block.options`), and checks it against what it has."""
    return field(default=None, metadata={"check": check, "option": True})


def param(check: Check, *, wire: str = "", kind: type = str, default: Any = None,
          required: bool = False) -> Any:
    """A field that travels as a request parameter, checked by ``check`` when set."""
    metadata = {"check": check, "wire": wire, "kind": kind}
    if required:
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


# Statuses Hoiio answers for a parameter whose text is not a number at all.
_INT_STATUS = {"max_digits": "error_invalid_max_digits", "timeout": "error_invalid_timeout",
               "attempts": "error_invalid_attempts", "max_duration": "error_invalid_max_duration"}


@dataclass(frozen=True)
class Block:
    """Base of every block. Subclasses set the class attributes below."""

    kind: ClassVar[str]
    endpoint: ClassVar[str]
    stage: ClassVar[str]            # "start", "middle" or "end"
    hands_back: ClassVar[bool]      # its result decides what happens next
    notify_required: ClassVar[bool] = False
    required: ClassVar[tuple[str, ...]] = ()   # wire parameters besides app_id/access_token
    if TYPE_CHECKING:
        name: str | None                       # a field of every subclass

    def __post_init__(self) -> None:
        values = self.__dict__
        for name, check in _checks(type(self)):
            value = values[name]
            if value is None:
                continue
            if check is not None:
                check(type(self).__name__, name, value)
            elif not isinstance(value, str):        # the step name
                _fail(type(self).__name__, "name", value, "a step name must be text",
                      "error_malformed_params")

    def to_params(self) -> dict[str, str]:
        """The request parameters of this block (``session`` and ``notify_url`` aside)."""
        params = {}
        for name, wire in _wire_fields(type(self)):
            value = getattr(self, name)
            if value is not None and value is not False:
                params[wire] = _wire_value(value)
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Block:
        """Build the block a request describes; empty values count as absent."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            text = params.get(f.metadata.get("wire") or f.name) if "wire" in f.metadata else None
            if text is not None and text != "":
                values[f.name] = _from_wire(cls.__name__, f, text)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                _fail(cls.__name__, f.name, text, "it is required",
                      f"error_{f.metadata.get('wire') or f.name}_param_missing")
        return cls(**values)

    def options(self) -> dict[str, Any]:
        """The options set on this block (``language``, ``voice``, a Gather's speech
        input...), by field name: what :meth:`to_params` leaves out."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.metadata.get("option") and getattr(self, f.name) is not None}

    def replace(self, **changes: Any) -> Block:
        """A copy with some fields changed (and checked again)."""
        # dataclasses.replace, minus building the keyword arguments of every field again:
        # the carrier tags each block it sends this way.
        unknown = changes.keys() - self.__dataclass_fields__.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__, **changes)
        copy.__post_init__()
        return copy

    def tagged(self, suffix: str) -> Block:
        """A copy whose tag ends with ``suffix``: :meth:`replace` for the one change a
        carrier makes to every block it sends, checking only the tag (the other fields are
        this block's, checked when it was made)."""
        tag = (self.__dict__["tag"] or "") + suffix     # every block has a tag
        _check_tag(type(self).__name__, "tag", tag)
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__, tag=tag)
        return copy


_CHECKS: dict[type[Block], tuple[tuple[str, Check | None], ...]] = {}


def _checks(cls: type[Block]) -> tuple[tuple[str, Check | None], ...]:
    """(field, check) pairs of a block class, worked out once: building blocks is on the
    hot path. The step name has no check but must be text."""
    pairs = _CHECKS.get(cls)
    if pairs is None:
        pairs = _CHECKS[cls] = tuple((f.name, f.metadata.get("check"))
                                     for f in dataclasses.fields(cls)
                                     if "check" in f.metadata or f.name == "name")
    return pairs


_WIRE_FIELDS: dict[type[Block], tuple[tuple[str, str], ...]] = {}


def _wire_fields(cls: type[Block]) -> tuple[tuple[str, str], ...]:
    """(field, parameter) pairs of a block class, worked out once: sending is on the hot
    path."""
    pairs = _WIRE_FIELDS.get(cls)
    if pairs is None:
        pairs = _WIRE_FIELDS[cls] = tuple((f.name, f.metadata["wire"] or f.name)
                                          for f in dataclasses.fields(cls)
                                          if "wire" in f.metadata)
    return pairs


def _wire_value(value: Any) -> str:
    if value is True:
        return "enabled"
    return str(value)


def _from_wire(block: str, f: dataclasses.Field[Any], text: str) -> Any:
    kind = f.metadata["kind"]
    if kind is bool:
        return text == "enabled"
    if kind is int:
        # Plain ASCII digits only: int() would also take " 12", "1_2" and other scripts' digits.
        if text.isascii() and text.isdigit():
            return int(text)
        f.metadata["check"](block, f.name, text)  # fails, naming the allowed range
        _fail(block, f.name, text, "it must be a whole number",
              _INT_STATUS.get(f.name, "error_malformed_params"))
    return text


MSG = param(_check_msg)
TAG = param(_check_tag)
#: The language a prompt is said in, and the voice (or gender) that says it.
LANGUAGE = option(_check_language)
VOICE = option(_check_voice)


@dataclass(frozen=True)
class Dial(Block):
    """Start an outbound call to ``dest``; once answered, ``msg`` is played."""

    dest: str = param(_check_number, required=True)
    _: KW_ONLY
    msg: str | None = param(_check_msg)
    caller_id: str | None = param(_check_caller_id)
    max_duration: int | None = param(_int_range(1, None, "error_invalid_max_duration"), kind=int)
    tag: str | None = TAG
    language: str | None = LANGUAGE
    voice: str | None = VOICE
    name: str | None = None

    kind = "dial"
    endpoint = "ivr/start/dial"
    stage = "start"
    hands_back = True
    required = ("dest",)


@dataclass(frozen=True)
class Play(Block):
    """Say ``msg`` (text-to-speech and ``<url>`` audio)."""

    msg: str | None = MSG
    _: KW_ONLY
    tag: str | None = TAG
    language: str | None = LANGUAGE
    voice: str | None = VOICE
    name: str | None = None

    kind = "play"
    endpoint = "ivr/middle/play"
    stage = "middle"
    hands_back = False
    required = ("session",)


@dataclass(frozen=True)
class Gather(Block):
    """Say ``msg`` and collect keys until ``max_digits``, ``#`` or ``timeout`` seconds.

    ``input="speech"`` (or ``"dtmf speech"``: keys or words, the first counts) listens
    for the caller's words instead, on a carrier that recognizes speech (Twilio):
    ``hints`` are the phrases expected, ``language`` the language spoken (and the
    prompt's), ``speech_timeout`` the silence in seconds that ends the answer (``"auto"``:
    the first pause). The handler reads ``call.speech`` and ``call.confidence``.
    """

    msg: str | None = MSG
    _: KW_ONLY
    max_digits: int | None = param(_int_range(0, 255, "error_invalid_max_digits"), kind=int)
    timeout: int | None = param(_int_range(1, 3600, "error_invalid_timeout"), kind=int)
    attempts: int | None = param(_int_range(1, 10, "error_invalid_attempts"), kind=int)
    tag: str | None = TAG
    language: str | None = LANGUAGE
    voice: str | None = VOICE
    input: str | None = option(_check_input)
    hints: tuple[str, ...] | None = option(_check_hints)
    speech_timeout: int | str | None = option(_check_speech_timeout)
    name: str | None = None

    kind = "gather"
    endpoint = "ivr/middle/gather"
    stage = "middle"
    hands_back = True
    notify_required = True
    required = ("session", "notify_url")

    def __post_init__(self) -> None:
        if isinstance(self.hints, list):
            object.__setattr__(self, "hints", tuple(self.hints))
        super().__post_init__()
        if not self.listens_for_speech:
            for name in ("hints", "speech_timeout"):
                if getattr(self, name) is not None:
                    _fail(type(self).__name__, name, getattr(self, name), "it is for speech "
                          "input only: add input='dtmf speech' (keys or words) or "
                          "input='speech'", "error_malformed_params")

    @property
    def listens_for_speech(self) -> bool:
        """Whether the caller may answer in words."""
        return "speech" in (self.input or "")


@dataclass(frozen=True)
class Record(Block):
    """Say ``msg``, then record the caller until ``#``, ``max_duration`` or hang-up."""

    msg: str | None = MSG
    _: KW_ONLY
    max_duration: int | None = param(_int_range(1, 3600, "error_invalid_max_duration"), kind=int)
    tag: str | None = TAG
    language: str | None = LANGUAGE
    voice: str | None = VOICE
    name: str | None = None

    kind = "record"
    endpoint = "ivr/middle/record"
    stage = "middle"
    hands_back = True
    notify_required = True
    required = ("session", "notify_url")


@dataclass(frozen=True)
class Monitor(Block):
    """Record the rest of the call; the recording arrives once the call has ended."""

    msg: str | None = MSG
    _: KW_ONLY
    monitor_notify_url: str | None = param(_check_url)
    tag: str | None = TAG
    language: str | None = LANGUAGE
    voice: str | None = VOICE
    name: str | None = None

    kind = "monitor"
    endpoint = "ivr/middle/monitor"
    stage = "middle"
    hands_back = False
    notify_required = True
    required = ("session", "notify_url")


@dataclass(frozen=True)
class Hold(Block):
    """Loop ``msg`` (or hold music) until :class:`Unhold`; sends no notification."""

    msg: str | None = MSG
    _: KW_ONLY
    tag: str | None = TAG
    language: str | None = LANGUAGE
    voice: str | None = VOICE
    name: str | None = None

    kind = "hold"
    endpoint = "ivr/middle/hold"
    stage = "middle"
    hands_back = False
    required = ("session",)


@dataclass(frozen=True)
class Unhold(Block):
    """Take the call off hold."""

    _: KW_ONLY
    tag: str | None = TAG
    name: str | None = None

    kind = "unhold"
    endpoint = "ivr/middle/unhold"
    stage = "middle"
    hands_back = False
    required = ("session",)


@dataclass(frozen=True)
class Transfer(Block):
    """Say ``msg``, then connect the caller to ``dest`` (a number or ``room:<id>``)."""

    dest: str = param(_check_transfer_dest, required=True)
    _: KW_ONLY
    msg: str | None = MSG
    caller_id: str | None = param(_check_caller_id)
    on_failure: str | None = param(_check_choice("hangup", "continue",
                                                 status="error_on_failure_invalid"))
    tag: str | None = TAG
    language: str | None = LANGUAGE
    voice: str | None = VOICE
    name: str | None = None

    kind = "transfer"
    endpoint = "ivr/end/transfer"
    stage = "end"
    hands_back = True
    required = ("session", "dest")


@dataclass(frozen=True)
class Hangup(Block):
    """End the call, after saying ``msg``; ``force=True`` hangs up at once, silently."""

    msg: str | None = MSG
    _: KW_ONLY
    force: bool = param(_check_force, kind=bool, default=False)
    tag: str | None = TAG
    language: str | None = LANGUAGE
    voice: str | None = VOICE
    name: str | None = None

    kind = "hangup"
    endpoint = "ivr/end/hangup"
    stage = "end"
    hands_back = True
    required = ("session",)


BLOCKS: dict[str, type[Block]] = {cls.kind: cls for cls in
                                  (Dial, Play, Gather, Record, Monitor, Hold, Unhold, Transfer,
                                   Hangup)}
BY_ENDPOINT: dict[str, type[Block]] = {cls.endpoint: cls for cls in BLOCKS.values()}
