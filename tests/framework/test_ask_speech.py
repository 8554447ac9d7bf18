"""Ask with words as answers (speech input, on Twilio): ``valid`` maps each answer to its
keys and words; the handler finds the answer in ``call.answer``; re-asking, give-up and
confirmation work alike for keys and words."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from hoiivr import IVR, Ask, BlockError, Hangup
from hoiivr.ask import Answered, answered, match
from hoiivr.flow import pack, unpack
from hoiivr.testing import Phone

QUESTION = "Say sales or support, or press 1 or 2."
VALID = {"sales": ["1", "sales team"], "support": ["2", "technical support"]}


def said_yes(answer: str) -> bool:
    return answer.lower().startswith("yes")


def phone_for(**options: Any) -> tuple[Phone, list[tuple[Any, ...]]]:
    app = Flask("ask_speech_app")
    app.config["HOIIVR_CARRIER"] = "twilio"
    ivr = IVR(app)
    seen: list[tuple[Any, ...]] = []
    options = {"name": "menu", "max_digits": 1, "timeout": 5, "input": "dtmf speech",
               "hints": ["sales", "support"], "valid": VALID, **options}
    ivr.on_answer(lambda call: Ask(QUESTION, **options))

    @ivr.on_gather("menu")
    def menu(call: Any) -> Hangup:
        seen.append((call.answer, call.digits, call.speech, call.confidence))
        return Hangup(f"You chose {call.answer}.")

    return Phone(app), seen


@pytest.mark.parametrize("words, answer", [
    ("sales", "sales"), ("SALES!", "sales"), ("the sales team please", "sales"),
    ("technical support", "support"), ("one", "sales"), ("Two.", "support"),
])
def test_words_give_the_answer_they_name(words: str, answer: str) -> None:
    phone, seen = phone_for()
    call = phone.call()
    call.say(words)
    assert seen == [(answer, None, words, 1.0)]
    assert call.last_prompt == f"You chose {answer}."


def test_keys_give_the_answer_whose_keys_they_are() -> None:
    phone, seen = phone_for()
    phone.call().press("2")
    assert seen == [("support", "2", None, None)]


def test_words_of_two_answers_are_no_match_and_asked_again() -> None:
    phone, seen = phone_for(no_match="Just one, please.")
    call = phone.call()
    call.say("sales or support")
    assert call.last_prompt == f"Just one, please. {QUESTION}"
    call.say("support")
    assert seen == [("support", None, "support", 1.0)]


def test_the_longest_phrase_heard_decides() -> None:
    phone, seen = phone_for(valid={"support": ["support"], "tech": ["technical support"]})
    phone.call().say("I want technical support")
    assert seen[0][0] == "tech"


def test_unknown_words_and_silence_spend_the_retries_then_give_up() -> None:
    phone, seen = phone_for(retries=1, give_up=Hangup("Goodbye then."))
    call = phone.call()
    call.say("billing")
    assert call.last_prompt.startswith("Sorry, that is not an option.")
    call.wait(10)
    assert call.last_prompt == "Goodbye then." and seen == []


def test_a_collection_takes_words_that_are_one_of_its_answers() -> None:
    phone, seen = phone_for(valid=["yes", "no"], max_digits=None)
    phone.call().say("No thanks")
    assert seen == [("no", None, "No thanks", 1.0)]


def test_a_function_gets_the_words_as_heard() -> None:
    phone, seen = phone_for(valid=said_yes)
    call = phone.call()
    call.say("nope")
    assert call.last_prompt.startswith("Sorry, that is not an option.")
    call.say("Yes please")
    assert seen == [("Yes please", None, "Yes please", 1.0)]


def test_a_spoken_answer_is_read_back_and_kept_by_a_spoken_yes() -> None:
    phone, seen = phone_for(confirm=True)
    call = phone.call()
    call.say("sales")
    assert call.last_prompt == ("You chose sales. Say yes or press 1 if that is right, or say "
                                "no or press 2 to choose again.")
    _, read_back = call.blocks[-1]
    assert read_back["input"] == "dtmf speech" and list(read_back["hints"]) == ["yes", "no"]
    call.say("no")
    assert call.last_prompt == QUESTION
    call.press("2")
    call.say("yes")
    assert seen == [("support", "2", None, None)]     # what gave the answer, not the "yes"


def test_a_mapping_that_is_not_answers_to_words_is_refused() -> None:
    for valid in ({"sales": "1"}, {"": ["1"]}, {"sales": [1]}):
        with pytest.raises(BlockError, match="a mapping gives each answer the keys"):
            Ask(QUESTION, valid=valid)


def test_match_reads_numbers_as_digits_and_ignores_case_and_punctuation() -> None:
    record = {"valid": {"account": ["123"], "agent": ["an agent"]}}
    assert match(record, None, "One, two, THREE.") == "account"
    assert match(record, "123", None) == "account"       # keys count when they are a word
    assert match(record, "12", None) is None              # ... exactly
    assert match(record, None, "agent") == "agent"       # the answer itself counts
    assert match(record, None, "a person") is None


def test_a_record_written_before_words_still_confirms_its_keys() -> None:
    question = Ask(QUESTION, name="menu", valid={"1", "2"}, confirm=True)
    asked = question.to_record(pack)
    asked["answer"] = "2"                     # how an older hoiivr kept the read-back
    blocks, given = answered(asked, "1", unpack)
    assert (blocks, given) == ([], Answered("2", "2"))
