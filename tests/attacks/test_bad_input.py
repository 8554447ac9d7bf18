"""Input that is signed but not a notification Hoiio sends: a 400 with the reason, and no
state created."""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from hoiivr import IVR, Gather

RINGING = {"session": "S900000001", "call_state": "ringing", "ivr_block": "answer", "tag": ""}


def menu_app() -> tuple[Flask, IVR, list[str]]:
    app = Flask("bad_input_app")
    ivr = IVR(app)
    answered: list[str] = []
    ivr.on_answer(lambda call: answered.append(call.session) or Gather("Hi.", name="menu"))
    return app, ivr, answered


@pytest.mark.parametrize("body, reason", [
    ("session=S900000001&session=S900000002&call_state=ringing", "'session' is sent twice"),
    ("session=S900000001&call_state=ringing&call_state=ended", "'call_state' is sent twice"),
    ("session=S9%C3%A9&call_state=ringing", "is not a Hoiio session id"),
    ("session=%E2%80%AES1&call_state=ringing", "is not a Hoiio session id"),
])
def test_duplicated_fields_and_non_ascii_sessions_are_400(serve: Any, store: Any, tally: Any,
                                                          body: str, reason: str) -> None:
    app, ivr, answered = menu_app()
    served = serve(app, ivr)
    from hoiivr.carriers.hoiio import compute_signature
    reply = served.http.post(served.server.url + "/hoiio/answer", data=body.encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded",
                                      "X-Hoiio-Signature": compute_signature(body.encode(),
                                                                             "attack-token")},
                             timeout=10)
    bad = int(reply.status_code != 400) + len(answered) + len(served.sent())
    tally.add("signed body with a repeated field or a non-ASCII session", 1, bad)
    assert reply.status_code == 400 and reason in reply.text
    assert answered == [] and served.sent() == []
    assert store.get("S900000001") is None and store.get("S900000002") is None


@pytest.mark.parametrize("change", [
    lambda record: {"session": record["session"]},             # no seq
    lambda record: {**record, "seq": "2"},
    lambda record: {**record, "queue": 5},
    lambda record: {**record, "queue": ["not a block"]},
    lambda record: {**record, "state": ["not", "a", "dict"]},
], ids=["no-seq", "text-seq", "number-queue", "text-in-queue", "list-state"])
def test_a_record_another_program_reshaped_gives_the_fallback_not_a_500(
        change: Any, tally: Any) -> None:
    from hoiivr.testing import Phone
    app, ivr, _ = menu_app()
    ivr.on_gather("menu")(lambda call: Gather("Never heard.", name="next"))
    with Phone(app) as phone:
        call = phone.call()
        reshaped = change(phone.store.get(call.session))
        phone.store.put(call.session, reshaped)
        call.press("1#")
        replies = [e["reply_status"] for e in call.info["timeline"]
                   if e["type"] == "notification"]
        tally.add("a stored record of another shape", 1, int(replies[-1] != 200))
        assert replies[-1] == 200 and call.call_state == "ended"
        assert call.prompts[0] == "Hi." and call.prompts[1].startswith("Sorry")
        assert phone.store.get(call.session) == reshaped          # and left as it was
