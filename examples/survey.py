"""Survey: several questions, each answer checked, a re-prompt for a wrong key, answers stored.

Run it::

    hoiivr dev examples/survey.py
"""
from flask import Flask

from hoiivr import IVR, Gather, Hangup, Play

QUESTIONS = [
    ("satisfaction", "On a scale of 1 to 5, how satisfied were you with our service?", "12345"),
    ("recommend", "Would you recommend us to a friend? Press 1 for yes, 2 for no.", "12"),
    ("age", "How old are you? Enter your age, then press hash.", None),
]
MAX_TRIES = 3

app = Flask(__name__)
ivr = IVR(app)
results: list[dict[str, str]] = []


def ask(index: int, intro: str = "") -> Gather:
    key, question, choices = QUESTIONS[index]
    digits = 1 if choices else 3
    return Gather(f"{intro} {question}".strip(), max_digits=digits, timeout=10, attempts=2,
                  name=key)


def valid(index: int, digits: str) -> bool:
    _, _, choices = QUESTIONS[index]
    if choices:
        return len(digits) == 1 and digits in choices
    return digits.isdigit() and 1 <= int(digits) <= 120


@ivr.on_answer
def answer(call):
    call.state.update(question=0, tries=0, answers={})
    return [Play("Thank you for taking our three question survey."), ask(0)]


@ivr.on_gather
def answered(call):
    index = call.state["question"]
    if not valid(index, call.digits or ""):
        call.state["tries"] += 1
        if call.state["tries"] >= MAX_TRIES:
            return Hangup("Sorry, we could not understand your answers. Goodbye.")
        return ask(index, "Sorry, that is not a valid answer.")
    call.state["answers"][QUESTIONS[index][0]] = call.digits
    call.state.update(question=index + 1, tries=0)
    if index + 1 < len(QUESTIONS):
        return ask(index + 1)
    results.append({"from": call.from_number, **call.state["answers"]})
    return Hangup("That is all. Thank you for your answers. Goodbye.")
