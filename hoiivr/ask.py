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
picks up the question where it was. So ``valid`` is a collection of answers, or a function
defined at the top level of a module (found again by its name), never a lambda.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import KW_ONLY, dataclass, fields
from typing import Any

from .blocks import Block, Gather, Hangup
from .errors import BlockError

#: What an Ask says when it was not told otherwise.
NO_INPUT = "Sorry, I did not hear anything."
NO_MATCH = "Sorry, that is not an option."
GIVE_UP = "Sorry, we could not understand your answer. Please call again later. Goodbye."
CONFIRM = "You entered {answer}. Press 1 if that is right, or 2 to enter it again."
#: The key that keeps an answer read back to the caller.
YES = "1"

Valid = Collection[str] | Callable[[str], bool]


@dataclass(frozen=True)
class Ask(Gather):
    """A question: the Gather of ``msg``, re-asked until its answer is valid (see the
    module's docs). Everything of :class:`~hoiivr.Gather`, plus:

    ``valid``: the answers that count (a collection of texts), or a module-level function
    of the answer returning True for one that counts. ``retries``: how many times the
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
        if isinstance(self.confirm, str) and "{answer}" not in self.confirm:
            raise BlockError("Ask", "confirm", self.confirm, "a confirm text must say "
                             "{answer}, where the answer is read back", "error_malformed_params")
        for block in self.give_up_blocks:
            if not isinstance(block, Block):
                raise BlockError("Ask", "give_up", block, "it must be a block, or a list of "
                                 "blocks, e.g. Hangup('Goodbye.')", "error_malformed_params")

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
        return {"question": pack([self.question()]), "valid": _stored_valid(self.valid),
                "retries": self.retries, "tries": 0, "no_input": self.no_input,
                "no_match": self.no_match, "give_up": pack(self.give_up_blocks),
                "confirm": (CONFIRM if self.confirm is True else self.confirm) or None,
                "answer": None}


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
    if isinstance(valid, str) or not all(isinstance(answer, str) for answer in valid):
        raise BlockError("Ask", "valid", valid, "it must be a collection of texts, e.g. "
                         "{'1', '2'}, not one text", "error_malformed_params")


def _stored_valid(valid: Valid | None) -> list[str] | str:
    if callable(valid):
        return f"{valid.__module__}:{valid.__qualname__}"
    return sorted(valid or ())


def is_valid(record: dict[str, Any], answer: str) -> bool:
    """Whether ``answer`` counts for the question in ``record`` (``Ask.to_record``)."""
    valid = record["valid"]
    if isinstance(valid, list):
        return answer in valid
    module, _, name = valid.partition(":")
    check: Callable[[str], bool] = getattr(importlib.import_module(module), name)
    return bool(check(answer))


def answered(asked: dict[str, Any], digits: str,
             unpack: Callable[[dict[str, Any]], Block]) -> tuple[list[Block], str | None]:
    """What comes after the caller's ``digits`` to the question ``asked`` (the record's,
    changed in place): ``([], answer)`` when the answer is valid (and confirmed), else the
    blocks to send: the question again, the read-back, or the give-up."""
    question = unpack(asked["question"][0])
    assert isinstance(question, Gather)
    pending = asked.get("answer")
    if pending is not None:                  # the answer was read back
        asked["answer"] = None
        if digits == YES:
            return [], pending
        return [question], None
    if digits and is_valid(asked, digits):
        if not asked.get("confirm"):
            return [], digits
        asked["answer"] = digits
        return [Gather(asked["confirm"].format(answer=" ".join(digits)), max_digits=1,
                       timeout=question.timeout, tag=question.tag, name=question.name)], None
    asked["tries"] += 1
    if asked["tries"] > asked["retries"]:
        return [unpack(item) for item in asked["give_up"]], None
    intro = asked["no_match"] if digits else asked["no_input"]
    return [question.replace(msg=" ".join(p for p in (intro, question.msg or "") if p))], None
