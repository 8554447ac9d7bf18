""":class:`Ask`: a Gather that asks well, so that handlers only ever see a valid answer.

Every IVR asks a question, re-asks on silence or a wrong key, and gives up politely; with
``Ask`` the framework does it::

    Ask("Press 1 for sales, 2 for support.", name="menu", max_digits=1, valid={"1", "2"},
        retries=2, no_input="Sorry, I did not hear anything.",
        no_match="Sorry, that is not an option.",
        give_up=Hangup("Please call again later. Goodbye."))

``@ivr.on_gather("menu")`` then runs once, with ``call.digits`` one of ``valid``. An empty
answer is *no input*, any other answer not in ``valid`` *no match*; each is re-asked with its
words before the question, up to ``retries`` times in all, then ``give_up`` is sent. With
``confirm=True`` (or a text with ``{answer}`` in it) a valid answer is read back and the
caller presses 1 to keep it, anything else to answer again.

What is being asked lives in the call's record, not in the process: a restarted worker
picks up the question where it was. So ``valid`` is a collection of answers, a mapping, or
a function defined at the top level of a module (found again by its name), never a lambda.

An Ask that listens for speech (``input="dtmf speech"``, on Twilio) takes words as answers:
``valid`` maps each answer to the keys and words that give it, and the handler finds the
answer in ``call.answer``, whatever the caller did::

    Ask("Say sales or support, or press 1 or 2.", name="menu", max_digits=1,
        input="dtmf speech", hints=["sales", "support"],
        valid={"sales": ["1"], "support": ["2"]})      # "sales" itself counts too

Keys count when they are one of the answer's words exactly. Words count when one of the
answer's phrases is among what the caller said ("sales please" gives ``sales``), compared
without case or punctuation and with numbers as digits ("one" is "1"); when phrases of two
answers are heard, the longest decides, and a tie is no match. A collection ``valid``
matches words the same way (the answer is the entry); a function gets the keys, or the
words as heard. Re-asking, the give-up and ``confirm`` work alike for keys and words (a
spoken confirmation is "yes", or 1).
"""
from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, fields
from typing import Any

from .blocks import Block, Gather, Hangup
from .errors import BlockError, CallFlowError
from .flow import check_flow

#: What an Ask says when it was not told otherwise.
NO_INPUT = "Sorry, I did not hear anything."
NO_MATCH = "Sorry, that is not an option."
GIVE_UP = "Sorry, we could not understand your answer. Please call again later. Goodbye."
CONFIRM = "You entered {answer}. Press 1 if that is right, or 2 to enter it again."
CONFIRM_SPEECH = ("You chose {answer}. Say yes or press 1 if that is right, or say no or "
                  "press 2 to choose again.")
#: The key, and the word, that keep an answer read back to the caller.
YES, YES_WORD = "1", "yes"

Valid = Collection[str] | Mapping[str, Collection[str]] | Callable[[str], bool]
_WORD = re.compile(r"[\w']+")
_NUMBERS = {word: str(n) for n, word in enumerate(
    "zero one two three four five six seven eight nine".split())}


@dataclass(frozen=True)
class Answered:
    """A valid answer: ``answer`` in the Ask's own words, and what the caller did."""

    answer: str
    digits: str | None = None
    speech: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class Ask(Gather):
    """A question: the Gather of ``msg``, re-asked until its answer is valid (see the
    module's docs). Everything of :class:`~hoiivr.Gather`, plus:

    ``valid``: the answers that count (a collection of texts), a mapping of each answer to
    the keys and words that give it, or a module-level function of the answer returning
    True for one that counts. ``retries``: how many times the
    question is asked again (0 to 9). ``no_input``, ``no_match``: said before the question
    when it is asked again. ``give_up``: a block (or list of blocks) sent once the retries
    are spent. ``confirm``: read a valid answer back and ask for 1 to keep it.
    """

    _: KW_ONLY
    valid: Valid | None = None
    retries: int = 2
    no_input: str = NO_INPUT
    no_match: str = NO_MATCH
    give_up: Block | Sequence[Block] | None = None
    confirm: bool | str = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _checked_valid(self.valid)
        if not (isinstance(self.retries, int) and not isinstance(self.retries, bool)
                and 0 <= self.retries <= 9):
            raise BlockError("Ask", "retries", self.retries, "it must be a whole number from "
                             "0 to 9", "error_malformed_params")
        for name in ("no_input", "no_match"):
            Gather(getattr(self, name) or None)     # checked as a prompt is
            try:
                self.question(getattr(self, name))  # and as said before the question
            except BlockError as exc:
                raise BlockError("Ask", name, getattr(self, name), "said before msg when "
                                 f"the question is asked again, {exc.allowed.rstrip('.')}",
                                 exc.status) from None
        if isinstance(self.confirm, str):
            _check_confirm(self.confirm)
        for block in self.give_up_blocks:
            if not isinstance(block, Block):
                raise BlockError("Ask", "give_up", block, "it must be a block, or a list of "
                                 "blocks, e.g. Hangup('Goodbye.')", "error_malformed_params")
        try:
            check_flow(self.give_up_blocks, None)
        except CallFlowError as exc:
            raise BlockError("Ask", "give_up", self.give_up, str(exc).replace(
                "handler None returned", "give_up has"), "error_malformed_params") from None

    @property
    def give_up_blocks(self) -> list[Block]:
        if self.give_up is None:
            return [Hangup(GIVE_UP)]
        return list(self.give_up) if isinstance(self.give_up, (list, tuple)) else \
            [self.give_up]  # type: ignore[list-item]

    def question(self, intro: str = "") -> Gather:
        """The plain Gather that asks it, with ``intro`` said first."""
        gather = {f.name: getattr(self, f.name) for f in fields(Gather) if f.name != "_"}
        gather["msg"] = " ".join(part for part in (intro, self.msg or "") if part) or None
        return Gather(**gather)

    def to_record(self, pack: Callable[[list[Block]], list[dict[str, Any]]]) -> dict[str, Any]:
        """What the call's record keeps of the question while it is being asked."""
        default = CONFIRM_SPEECH if self.listens_for_speech else CONFIRM
        return {"question": pack([self.question()]), "valid": _stored_valid(self.valid),
                "retries": self.retries, "tries": 0, "no_input": self.no_input,
                "no_match": self.no_match, "give_up": pack(self.give_up_blocks),
                "confirm": (default if self.confirm is True else self.confirm) or None,
                "answer": None}


def _check_confirm(text: str) -> None:
    """A confirm text reads any answer back: ``{answer}`` and no other field, and a
    prompt once filled in."""
    try:
        filled = text.format(answer="1 2 3")
    except (KeyError, IndexError, ValueError):
        filled = None
    if filled is None or "{answer}" not in text:
        raise BlockError("Ask", "confirm", text, "a confirm text must say {answer}, where "
                         "the answer is read back, and no other {field} (write {{ and }} "
                         "for braces)", "error_malformed_params")
    try:
        Gather(filled)                       # its markup and length, as a prompt's
    except BlockError as exc:
        raise BlockError("Ask", "confirm", text, "read back, "
                         + exc.allowed.rstrip("."), exc.status) from None


def _checked_valid(valid: Valid | None) -> None:
    if valid is None:
        raise BlockError("Ask", "valid", valid, "give the answers that count, e.g. "
                         "valid={'1', '2'}, or a function of the answer", "error_malformed_params")
    if callable(valid):
        name = getattr(valid, "__qualname__", "")
        if "<" in name or "." in name or not getattr(valid, "__module__", None):
            raise BlockError("Ask", "valid", valid, "a function must be defined at the top "
                             "level of a module, so that a restarted worker finds it again "
                             "by its name (a lambda or a nested function cannot be)",
                             "error_malformed_params")
        return
    if isinstance(valid, Mapping):
        for answer, words in valid.items():
            if not isinstance(answer, str) or not answer or isinstance(words, str) \
                    or not all(isinstance(word, str) and word for word in words):
                raise BlockError("Ask", "valid", valid, "a mapping gives each answer the keys "
                                 "and words that count for it, e.g. {'sales': ['1', "
                                 "'sales team'], 'support': ['2']}", "error_malformed_params")
        return
    if isinstance(valid, str) or not all(isinstance(answer, str) for answer in valid):
        raise BlockError("Ask", "valid", valid, "it must be a collection of texts, e.g. "
                         "{'1', '2'}, not one text", "error_malformed_params")


def _stored_valid(valid: Valid | None) -> list[str] | dict[str, list[str]] | str:
    if callable(valid):
        return f"{valid.__module__}:{valid.__qualname__}"
    if isinstance(valid, Mapping):
        return {answer: sorted(words) for answer, words in valid.items()}
    return sorted(valid or ())


def _said(text: str) -> tuple[str, ...]:
    """Words as compared: lower case, no punctuation, numbers as digits one by one."""
    words: list[str] = []
    for token in _WORD.findall(text.lower()):
        token = _NUMBERS.get(token.strip("'"), token.strip("'"))
        words.extend(token if token.isdigit() else [token] if token else [])
    return tuple(words)


def _within(phrase: tuple[str, ...], said: tuple[str, ...]) -> bool:
    size = len(phrase)
    return size > 0 and any(said[i:i + size] == phrase for i in range(len(said) - size + 1))


def _choices(valid: list[str] | dict[str, list[str]]) -> dict[str, list[str]]:
    """Each answer with the keys and words that give it (the answer itself among them)."""
    if isinstance(valid, dict):
        return {answer: [answer, *words] for answer, words in valid.items()}
    return {answer: [answer] for answer in valid}


def _heard(choices: dict[str, list[str]], speech: str) -> str | None:
    """The answer whose phrase is longest among the words ``speech`` holds; a tie of two
    answers is none."""
    said = _said(speech)
    best: dict[str, int] = {}
    for answer, phrases in choices.items():
        for phrase in map(_said, phrases):
            if _within(phrase, said):
                best[answer] = max(best.get(answer, 0), len(phrase))
    if not best:
        return None
    longest = max(best.values())
    winners = [answer for answer, size in best.items() if size == longest]
    return winners[0] if len(winners) == 1 else None


def match(record: dict[str, Any], digits: str | None, speech: str | None) -> str | None:
    """The answer ``digits`` or ``speech`` gives to the question in ``record``
    (``Ask.to_record``), in the Ask's own words; None when it gives none."""
    valid = record["valid"]
    check = valid_function(record)
    if check is not None:
        given = digits or (speech or "").strip()
        return given if given and check(given) else None
    choices = _choices(valid)
    if digits:
        return next((answer for answer, words in choices.items() if digits in words), None)
    return _heard(choices, speech) if speech else None


def valid_function(record: dict[str, Any]) -> Callable[[str], bool] | None:
    """The question's ``valid=`` function, found again by its module and name; None when
    its answers are a collection."""
    valid = record["valid"]
    if not isinstance(valid, str):
        return None
    module, _, name = valid.partition(":")
    check: Callable[[str], bool] = getattr(importlib.import_module(module), name)
    return check


def is_valid(record: dict[str, Any], answer: str) -> bool:
    """Whether the keys ``answer`` count for the question in ``record``."""
    return match(record, answer, None) is not None


def answered(asked: dict[str, Any], digits: str, unpack: Callable[[dict[str, Any]], Block],
             speech: str | None = None,
             confidence: float | None = None) -> tuple[list[Block], Answered | None]:
    """What comes after the caller's ``digits`` (or ``speech``) to the question ``asked``
    (the record's, changed in place): ``([], answered)`` when the answer is valid (and
    confirmed), else the blocks to send: the question again, the read-back, or the
    give-up."""
    question = unpack(asked["question"][0])
    assert isinstance(question, Gather)
    pending = asked.get("answer")
    if pending is not None:                  # the answer was read back
        asked["answer"] = None
        if digits == YES or (not digits and YES_WORD in _said(speech or "")):
            return [], _pending(pending)
        return [question], None
    answer = match(asked, digits or None, speech)
    if answer is not None:
        given = Answered(answer, digits or None, speech, confidence)
        if not asked.get("confirm"):
            return [], given
        asked["answer"] = vars(given)
        return [_read_back(asked["confirm"], answer, question)], None
    asked["tries"] += 1
    if asked["tries"] > asked["retries"]:
        return [unpack(item) for item in asked["give_up"]], None
    intro = asked["no_match"] if digits or speech else asked["no_input"]
    return [question.replace(msg=" ".join(p for p in (intro, question.msg or "") if p))], None


def _pending(pending: str | dict[str, Any]) -> Answered:
    # A record written before answers could be words keeps the keys alone.
    return Answered(pending, pending) if isinstance(pending, str) else Answered(**pending)


def _read_back(text: str, answer: str, question: Gather) -> Gather:
    """The Gather that reads ``answer`` back (keys one by one) and asks to keep it."""
    said = " ".join(answer) if answer.isdigit() else answer
    speech: dict[str, Any] = {}
    if question.listens_for_speech:
        speech = {"input": question.input, "hints": ["yes", "no"],
                  "speech_timeout": question.speech_timeout}
    return Gather(text.format(answer=said), max_digits=1, timeout=question.timeout,
                  tag=question.tag, name=question.name, language=question.language,
                  voice=question.voice, **speech)
