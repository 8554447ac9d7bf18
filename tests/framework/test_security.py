"""Forged, altered, cross-call, expired and replayed notifications: no handler, no REST call."""
from __future__ import annotations

import random
import time
from urllib.parse import urlencode

import pytest

from hoiivr import Gather
from hoiivr.carriers.hoiio import compute_signature
from hoiivr.tokens import NotifyTokens, Ticket


@pytest.fixture
def live_call(signed_app):
    """Two live calls, S1 and S2, each waiting in a gather (seq 2 after one key)."""
    app = signed_app
    app.handled = []

    @app.ivr.on_answer
    def answer(call):
        app.handled.append(("answer", call.session))
        return Gather("Press a key.", max_digits=1, name="menu")

    @app.ivr.on_gather("menu")
    def menu(call):
        app.handled.append(("menu", call.session, call.digits))
        return Gather("Again.", max_digits=1, name="menu")

    app.ring("S1")
    app.old_path = app.last_path()
    app.post(app.old_path, _gather("S1", "1"))
    app.current_path = app.last_path()
    app.ring("S2")
    app.other_path = app.last_path()
    app.handled.clear()
    app.client.sent.clear()
    return app


def _gather(session: str, digits: str) -> dict[str, str]:
    return {"session": session, "call_state": "ongoing", "ivr_block": "gather",
            "digits": digits, "tag": "", "txn_ref": "AA-C-1"}


def _token(app, ticket: Ticket, key: str | None = None, at: float | None = None) -> str:
    tokens = NotifyTokens(key or app.secret)
    if at is None:
        return "/hoiio/notify/" + tokens.dumps(ticket)
    real = time.time
    time.time = lambda: at  # itsdangerous reads time.time() when signing
    try:
        return "/hoiio/notify/" + tokens.dumps(ticket)
    finally:
        time.time = real


def _forgeries(app, rng: random.Random):
    """Yield (kind, path, body, signature) tuples, none of which may have any effect."""
    body = urlencode(_gather("S1", "9")).encode()
    good = compute_signature(body, app.access_token)
    ticket = Ticket("S1", 2, "gather", "menu")
    kinds = {
        "bad signature": lambda: (app.current_path, body, "%064x" % rng.getrandbits(256)),
        "altered byte": lambda: (app.current_path, _flip(body, rng), good),
        "missing header": lambda: (app.current_path, body, None),
        "wrong key": lambda: (app.current_path, body, compute_signature(body, "other-token")),
        "short signature": lambda: (app.current_path, body, good[:rng.randrange(64)]),
        "other call's token": lambda: (app.other_path, body, good),
        "expired token": lambda: (_token(app, ticket, at=time.time() - 2 * 86400), body, good),
        "replayed old token": lambda: (app.old_path, body, good),
        "rotated-out key": lambda: (_token(app, ticket, key="retired-secret"), body, good),
        "altered token": lambda: (_flip_token(app.current_path, rng), body, good),
    }
    names = sorted(kinds)
    for i in range(1000):
        kind = names[i % len(names)]
        yield (kind, *kinds[kind]())


def _flip(body: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(body))
    return body[:i] + bytes([body[i] ^ (1 << rng.randrange(7)) or 1]) + body[i + 1:]


def _flip_token(path: str, rng: random.Random) -> str:
    head, token = path.rsplit("/", 1)
    i = rng.randrange(len(token))
    replacement = "A" if token[i] != "A" else "B"
    return f"{head}/{token[:i]}{replacement}{token[i + 1:]}"


def test_a_thousand_forged_notifications_call_no_handler_and_send_nothing(live_call, tally):
    app = live_call
    rng = random.Random(1234)
    statuses: dict[str, set[int]] = {}
    for kind, path, body, signature in _forgeries(app, rng):
        response = app.post(path, body, signature=signature, sign=signature is not None)
        statuses.setdefault(kind, set()).add(response.status_code)
    tally.add("forged notifications, 10 kinds (signature, key, token, expiry, replay)",
              1000, len(app.handled) + len(app.client.sent))
    assert app.handled == []
    assert app.client.sent == []
    assert statuses.pop("replayed old token") == {200}   # stale: acknowledged, no effect
    # S1's body at S2's URL proves another step's URL (its tag): refused as a replay.
    assert statuses.pop("other call's token") == {200}
    # Refused before any field is read: a forgery is never even a 400.
    assert statuses == {kind: {403} for kind in statuses} and len(statuses) == 8, statuses
    assert app.runtime.dispatcher.store.get("S1")["seq"] == 2


def test_the_genuine_notification_still_works_afterwards(live_call):
    app = live_call
    response = app.post(app.current_path, _gather("S1", "5"))
    assert response.status_code == 200
    assert app.handled == [("menu", "S1", "5")]


def test_a_rotated_key_verifies_while_it_is_in_the_fallbacks(make_signed_app):
    old = make_signed_app(SECRET_KEY="old-secret")
    old.ivr.on_answer(lambda call: Gather("x", name="menu"))
    old.ring()
    path = old.last_path()
    new = make_signed_app(SECRET_KEY="new-secret", HOIIVR_SECRET_KEY_FALLBACKS=["old-secret"])
    new.ivr.init_app(new.app, client=new.client, store=old.runtime.store)   # the same calls
    seen = []
    new.ivr.on_gather("menu")(lambda call: seen.append(call.digits) or None)
    echoed = {**_gather("S1", "3"), "tag": old.echoed_tag(path)}     # Hoiio's body
    assert new.post(path, echoed, echo=False).status_code == 200
    assert seen == ["3"]
    retired = make_signed_app(SECRET_KEY="new-secret")
    assert retired.post(path, echoed, echo=False).status_code == 403
