"""Ask: the framework re-asks on silence and wrong keys; the handler runs once, with a valid
answer, or never (the give-up is sent)."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from hoiivr import IVR, Ask, BlockError, Hangup, Play, Record
from hoiivr.testing import Phone

QUESTION = "Press 1 for sales, 2 for support."


def is_even(answer: str) -> bool:
    return answer.isdigit() and int(answer) % 2 == 0


def phone_for(**options: Any) -> tuple[Phone, list[str]]:
    app = Flask("ask_app")
    ivr = IVR(app)
    seen: list[str] = []
    options = {"name": "menu", "max_digits": 1, "timeout": 5, "valid": {"1", "2"}, **options}
    ivr.on_answer(lambda call: Ask(QUESTION, **options))

    @ivr.on_gather("menu")
    def menu(call: Any) -> Hangup:
        seen.append(call.digits)
        return Hangup(f"You chose {call.digits}.")

    return Phone(app), seen


def test_a_valid_answer_reaches_the_handler_at_once() -> None:
    phone, seen = phone_for()
    call = phone.call()
    assert call.prompts == [QUESTION]
    call.press("2")
    assert seen == ["2"] and call.last_prompt == "You chose 2."


def test_wrong_keys_and_silence_are_asked_again_with_their_words() -> None:
    phone, seen = phone_for(retries=2, no_input="I did not hear you.", no_match="No such option.")
    call = phone.call()
    call.press("7")
    assert call.last_prompt == f"No such option. {QUESTION}"
    call.wait(10)                                     # silence: the timeout passes
    assert call.last_prompt == f"I did not hear you. {QUESTION}"
    call.press("1")
    assert seen == ["1"]                              # the handler ran once, with "1"
    assert [kind for kind, _ in call.blocks] == ["gather", "gather", "gather", "hangup"]


def test_after_the_retries_the_give_up_is_sent_and_the_handler_never_runs() -> None:
    phone, seen = phone_for(retries=1, give_up=Hangup("Please call again later. Goodbye."))
    call = phone.call()
    call.press("9")
    call.press("8")
    assert call.last_prompt == "Please call again later. Goodbye."
    assert call.call_state == "ended" and seen == []


def test_an_answer_read_back_is_kept_with_1_and_asked_again_otherwise() -> None:
    phone, seen = phone_for(confirm=True, max_digits=3, valid=is_even)
    call = phone.call()
    call.press("124#")
    assert call.last_prompt == "You entered 1 2 4. Press 1 if that is right, or 2 to enter it again."
    call.press("2")
    assert call.last_prompt == QUESTION
    call.press("46#")
    call.press("1")
    assert seen == ["46"] and call.last_prompt == "You chose 46."


@pytest.mark.parametrize("options, words", [
    ({"valid": None}, "give the answers that count"),
    ({"valid": "12"}, "a collection of texts"),
    ({"valid": lambda answer: True}, "defined at the top level of a module"),
    ({"retries": 10}, "from 0 to 9"),
    ({"confirm": "Is it right?"}, "must say {answer}"),
    ({"give_up": "Bye"}, "it must be a block"),
    ({"timeout": 0}, "from 1 to 3600"),
    # Refused when made, not mid-call when the caller's answer needs them:
    ({"confirm": "You said {answer}. Press 1 to keep it {or 2}"}, "and no other {field}"),
    ({"confirm": "You said {1} {answer}"}, "and no other {field}"),
    ({"confirm": '<speech language="fr">{answer}</speech>'}, "read back, the markup"),
    ({"no_match": "x" * (1000 - len(QUESTION))}, "said before msg when the question is "
                                                 "asked again, it must be at most 1000"),
    ({"give_up": [Record("Leave a message.", name="vm"), Play("Thanks.")]},
     "give_up has Record before other blocks"),
])
def test_a_question_that_cannot_be_asked_is_refused_when_made(options: dict[str, Any],
                                                              words: str) -> None:
    with pytest.raises(BlockError, match=words.replace("{", r"\{").replace("}", r"\}")):
        Ask(QUESTION, **{"name": "menu", "valid": {"1"}, **options})


def test_what_is_asked_survives_a_restart_of_the_worker(make_signed_app, tmp_path) -> None:
    """The question lives in the call's record: a new app process, on the same store,
    takes the caller's wrong key and asks again, then runs the handler once."""
    store = f"sqlite:///{tmp_path / 'calls.sqlite3'}"
    seen: list[str] = []

    def worker() -> Any:
        app = make_signed_app(HOIIVR_STORE=store)
        app.ivr.on_answer(lambda call: Ask(QUESTION, name="menu", max_digits=1,
                                           valid={"1", "2"}, no_match="No such option."))
        app.ivr.on_gather("menu")(lambda call: seen.append(call.digits) or Hangup("Bye."))
        return app

    first = worker()
    first.ring()
    path = first.last_path()
    gather = {"session": "S1", "call_state": "ongoing", "ivr_block": "gather",
              "tag": first.echoed_tag(path)}
    second = worker()                                  # the first worker is gone
    assert second.post(path, {**gather, "digits": "7"}, echo=False).status_code == 200
    assert second.client.sent[-1][0].msg == f"No such option. {QUESTION}"
    assert second.post(second.last_path(), {**gather, "digits": "1"}).status_code == 200
    assert seen == ["1"]


def at_least_100(answer: str) -> bool:
    return int(answer) >= 100                 # "*" is a ValueError: the app's own bug


def amount_app(errorhandler: bool) -> Flask:
    app = Flask("ask_valid_raises")
    ivr = IVR(app)
    ivr.on_answer(lambda call: Ask("Enter the amount, then hash.", name="amount",
                                   valid=at_least_100))
    ivr.on_gather("amount")(lambda call: Hangup("Thank you."))
    if errorhandler:
        ivr.errorhandler(ValueError)(lambda call, exc: Hangup("That is not an amount. "
                                                              "Goodbye."))
    return app


@pytest.mark.parametrize("errorhandler", [True, False])
def test_a_valid_function_that_raises_is_the_apps_error_heard_as_such(
        errorhandler: bool) -> None:
    """As a handler's: its errorhandler answers, or the apology, and the function is named
    in the call's timeline; never a 500 and silence."""
    with Phone(amount_app(errorhandler)) as phone:
        call = phone.call()
        call.press("*#")
        replies = [e["reply_status"] for e in call.info["timeline"]
                   if e["type"] == "notification"]
        assert set(replies) == {200} and call.call_state == "ended"
        if errorhandler:
            assert call.last_prompt == "That is not an amount. Goodbye."
        else:
            assert call.last_prompt.startswith("Sorry")
            assert "at_least_100 raised ValueError" in call.describe()
