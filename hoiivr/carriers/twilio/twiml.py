"""Blocks as TwiML (``../shared/TWIML.md`` §3), built with the ``twilio`` package's
``VoiceResponse``.

A handler's blocks become one document, the webhook's answer; the block whose result comes
back (the last one) reports it to its notify URL as its ``action``:

=========================== =================================================================
``Play(msg)``               ``<Say>``/``<Play>`` per segment; last: then ``<Redirect>``
``Gather(msg, ...)``        ``<Gather action numDigits timeout finishOnKey="#">`` with the
                            prompt inside, once per ``attempts``; only the last answers an
                            empty result, as Hoiio replays the prompt only on no input;
                            speech input adds ``input hints language speechTimeout``
                            (``auto`` unless the Gather says otherwise)
``Record(msg, ...)``        the prompt, then ``<Record action maxLength finishOnKey="#"
                            timeout="0">`` (Hoiio records until ``#``, not until silence)
``Transfer(dest, ...)``     the prompt, then ``<Dial callerId><Number>``; with
                            ``on_failure="continue"`` its ``action`` reports the outcome
``Hangup(msg)``             the prompt, then ``<Hangup/>``; a bare ``Hangup()`` on a ringing
                            call is ``<Reject/>``: the call is refused, not answered
=========================== =================================================================

A prompt's ``language`` and ``voice`` become ``<Say language voice>`` (:mod:`.voices`): a
gender picks ``woman``/``man`` where they speak the language, else ``alice``; text in a
``<speech>`` element of the msg keeps that element's language and gender.
"""
from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from ...blocks import Block, Gather, Hangup, Play, Record, Transfer
from ...errors import BlockError, CallFlowError
from ...protocol import Segment, parse_msg
from . import voices

#: Hoiio's defaults, kept on Twilio so that an app behaves the same on both.
GATHER_TIMEOUT = 15
RECORD_MAX = 120
#: How long the caller's silence ends a spoken answer, unless a Gather says: the first
#: pause, as a caller who says "sales" expects (Twilio's own default is ``timeout``).
SPEECH_TIMEOUT = "auto"


def render(blocks: Sequence[Block], notify_url: str | None, ringing: bool) -> str:
    """The TwiML document that runs ``blocks`` on the call, as text.

    Written once per distinct turn (blocks are values), with a mark where the notify URL
    goes, and kept: ``VoiceResponse`` took most of a webhook's CPU, and a turn's document
    differs from the last time it was given only by its notify URL. A URL that XML would
    escape (none of hoiivr's) is written the long way.
    """
    if notify_url is None or not _ESCAPED.isdisjoint(notify_url):
        return _render(tuple(blocks), notify_url, ringing)
    return _template(tuple(blocks), ringing).replace(_URL_MARK, notify_url)


#: Stands for the notify URL in a kept document: random, so no prompt can hold it.
_URL_MARK = "hoiivr-notify-url-" + secrets.token_hex(16)
#: What ElementTree escapes in an attribute or in text.
_ESCAPED = frozenset('&<>"\r\n\t')


@functools.lru_cache(maxsize=128)
def _template(blocks: tuple[Block, ...], ringing: bool) -> str:
    return _render(blocks, _URL_MARK, ringing)


def _render(blocks: tuple[Block, ...], notify_url: str | None, ringing: bool) -> str:
    response = VoiceResponse()
    for index, block in enumerate(blocks):
        last = index == len(blocks) - 1
        if isinstance(block, Play):
            _prompt(response, block)
            if last and notify_url:
                response.redirect(notify_url, method="POST")
        elif isinstance(block, Gather):
            _gather(response, block, notify_url)
        elif isinstance(block, Record):
            _prompt(response, block)
            # Kept whole, silence and all, as Hoiio keeps it: Twilio drops a recording that
            # is nothing but silence and skips its action. The Redirect runs only then (an
            # empty recording): on_record still runs, with no record_url.
            response.record(action=notify_url, method="POST", finish_on_key="#", timeout=0,
                            max_length=block.max_duration or RECORD_MAX, play_beep=True,
                            trim="do-not-trim")
            if notify_url:
                response.redirect(notify_url, method="POST")
        elif isinstance(block, Transfer):
            _transfer(response, block, notify_url)
        elif isinstance(block, Hangup):
            _hangup(response, block, refuse=ringing and index == 0)
        else:
            raise CallFlowError(f"{type(block).__name__} has no TwiML verb; check(blocks) "
                                "refuses it before it is rendered")
    return str(response.to_xml())


def greeting(block: Block, notify_url: str) -> str:
    """What an outbound call says once answered (its Dial's ``msg``), before its notify URL
    decides the rest."""
    response = VoiceResponse()
    _prompt(response, block)
    response.redirect(notify_url, method="POST")
    return str(response.to_xml())


def check(block: Block) -> None:
    """Refuse what a block asks that Twilio cannot do, before it is written as sent."""
    if isinstance(block, Transfer) and block.dest.startswith("room:"):
        raise BlockError("Transfer", "dest", block.dest, "conference rooms are not in the "
                         "TwiML subset hoiivr supports; transfer to a number",
                         "error_dest_not_supported")
    if getattr(block, "caller_id", None) == "private":
        raise BlockError(type(block).__name__, "caller_id", "private", "Twilio cannot hide "
                         "the caller id; give one of your Twilio numbers, or none",
                         "error_caller_id_invalid")


def _prompt(parent: Any, block: Block) -> None:
    """The block's ``msg`` into ``parent``: text said, audio files played."""
    msg = getattr(block, "msg", None)
    for segment in parse_msg(msg) if msg else ():
        if segment.url is not None:
            parent.play(segment.url)
        else:
            parent.say(segment.text.strip(), **_say_options(segment, block))


def _say_options(segment: Segment, block: Block) -> dict[str, str | None]:
    """``voice`` and ``language`` of one spoken segment: its ``<speech>`` element's, else
    the block's, else Hoiio's defaults (a woman, in English)."""
    language: str | None = segment.language
    voice = segment.gender
    if not segment.marked:
        language = getattr(block, "language", None) or language
        voice = getattr(block, "voice", None) or voice
    language = voices.locale(language) if language else None
    if voice in voices.GENDERS:
        voice = voices.basic_voice(voice, language)
    elif language == "en" or voices.voice_language(voice) is not None:
        language = None                      # a named voice speaks its own language
    return {"voice": voice, "language": None if language in ("en", "en-US") else language}


def _gather(response: VoiceResponse, block: Gather, notify_url: str | None) -> None:
    attempts = block.attempts or 1
    speech: dict[str, Any] = {}
    if block.listens_for_speech:
        speech = {"input": block.input, "language": block.language,
                  "hints": ", ".join(block.hints) if block.hints else None,
                  "speech_timeout": block.speech_timeout or SPEECH_TIMEOUT}
    for attempt in range(1, attempts + 1):
        gather = response.gather(action=notify_url, method="POST", finish_on_key="#",
                                 timeout=block.timeout or GATHER_TIMEOUT,
                                 num_digits=block.max_digits or None,
                                 action_on_empty_result=True if attempt == attempts else None,
                                 **speech)
        _prompt(gather, block)


def _transfer(response: VoiceResponse, block: Transfer, notify_url: str | None) -> None:
    _prompt(response, block)
    keep_going = block.on_failure == "continue"
    dial = response.dial(action=notify_url if keep_going else None,
                         method="POST" if keep_going else None, caller_id=block.caller_id)
    dial.number(block.dest)
    if not keep_going:
        response.hangup()


def _hangup(response: VoiceResponse, block: Hangup, refuse: bool) -> None:
    if refuse and not block.msg:
        response.reject()
        return
    if not block.force:
        _prompt(response, block)
    response.hangup()
