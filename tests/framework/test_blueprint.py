"""The Flask adapter: status codes, limits, config, setup errors."""
from __future__ import annotations

import json
import logging
import sqlite3
import time

import pytest
from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface

from hoiivr import IVR, ConfigError, Gather, Hangup, Play
from hoiivr.errors import SetupError
from hoiivr.testing import Phone


def menu(signed_app):
    signed_app.ivr.on_answer(lambda call: Gather("Press 1.", max_digits=1, name="menu"))
    signed_app.ivr.on_gather("menu")(lambda call: Hangup(f"You pressed {call.digits}."))
    return signed_app


def test_a_signed_ringing_is_answered_and_the_notify_url_is_built_from_the_request(signed_app):
    app = menu(signed_app)
    assert app.ring().status_code == 200
    block, session, url = app.client.sent[0]
    assert session == "S1" and url.startswith("http://localhost/hoiio/notify/")


def test_the_public_url_wins_over_the_request_host(make_signed_app):
    app = make_signed_app(HOIIVR_PUBLIC_URL="https://abc.ngrok.app/")
    app.ivr.on_answer(lambda call: Play("hi"))
    app.ring()
    assert app.client.sent[0][2].startswith("https://abc.ngrok.app/hoiio/notify/")


def test_a_whole_call_through_the_routes(signed_app):
    app = menu(signed_app)
    app.ring()
    response = app.post(app.last_path(), {"session": "S1", "call_state": "ongoing",
                                           "ivr_block": "gather", "digits": "1", "tag": ""})
    assert response.status_code == 200
    assert app.client.sent[-1][0] == Hangup("You pressed 1.")


@pytest.mark.parametrize("kwargs", [{"sign": False}, {"key": "another-token"},
                                    {"signature": "abc"}, {"signature": "é" * 64}])
def test_a_bad_signature_is_403_and_creates_nothing(signed_app, kwargs):
    app = menu(signed_app)
    response = app.post("/hoiio/answer", {"session": "S1", "call_state": "ringing"}, **kwargs)
    assert response.status_code == 403
    assert app.client.sent == [] and app.runtime.dispatcher.store.get("S1") is None


def test_during_a_rotation_the_old_access_tokens_signatures_are_accepted(make_signed_app):
    app = menu(make_signed_app(HOIIO_ACCESS_TOKEN_FALLBACKS="older-token, old-token"))
    ring = {"session": "S1", "call_state": "ringing"}
    assert app.post("/hoiio/answer", ring, key="another-token").status_code == 403
    assert app.post("/hoiio/answer", ring, key="old-token").status_code == 200
    assert app.post("/hoiio/answer", {**ring, "session": "S2"}).status_code == 200   # new
    assert len(app.client.sent) == 2


def test_ivr_dispatch_runs_a_notification_as_its_route_would_without_http(make_signed_app):
    from hoiivr.carriers.hoiio import parse_notification
    app = menu(make_signed_app(HOIIVR_PUBLIC_URL="https://ivr.example"))
    ringing = parse_notification({"session": "S1", "call_state": "ringing"})
    with app.app.app_context():
        assert app.ivr.dispatch(ringing).verdict == "handled"
    block, session, url = app.client.sent[-1]
    assert block == Gather("Press 1.", max_digits=1, name="menu")
    assert url.startswith("https://ivr.example/hoiio/notify/")
    ticket = app.runtime.tokens.loads(url.rpartition("/")[2])
    pressed = parse_notification({"session": "S1", "call_state": "ongoing",
                                  "ivr_block": "gather", "digits": "1"})
    assert app.ivr.dispatch(pressed, ticket, app=app.app).verdict == "handled"
    assert app.client.sent[-1][0] == Hangup("You pressed 1.")
    assert app.ivr.dispatch(pressed, ticket, app=app.app).verdict == "stale"   # a duplicate
    assert len(app.client.sent) == 2


def test_an_unreadable_token_is_403(signed_app):
    app = menu(signed_app)
    response = app.post("/hoiio/notify/not-a-token", {"session": "S1", "call_state": "ongoing"})
    assert response.status_code == 403


@pytest.mark.parametrize("body, reason", [
    (b"call_state=ringing", "has no 'session' field"),
    (b"session=S1", "has no 'call_state' field"),
    (b"\xff\xfe=\x00", "is not a form-encoded notification"),
    (b"session=S1&call_state=dancing", "call_state 'dancing' is not ringing, ongoing or ended"),
    (b"session=S1&call_state=ended&duration=x", "duration='x' is not a valid duration"),
    (b"&".join(b"f%d=1" % i for i in range(200)), "more than 64 fields"),
])
def test_a_malformed_body_is_400_with_a_reason(signed_app, body, reason):
    app = menu(signed_app)
    response = app.post("/hoiio/answer", body)
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert app.client.sent == [] and app.runtime.store.get("S1") is None


def test_a_body_over_16_kib_is_413(signed_app):
    app = menu(signed_app)
    response = app.post("/hoiio/answer", b"session=S1&call_state=ringing&pad=" + b"x" * 17000)
    assert response.status_code == 413
    assert app.client.sent == []


def test_other_methods_and_paths_are_not_served(signed_app):
    assert signed_app.http.get("/hoiio/answer").status_code == 405
    assert signed_app.http.post("/hoiio/other").status_code == 404


def test_notifications_get_a_session_that_is_never_saved_and_other_routes_keep_theirs(
        signed_app):
    app = menu(signed_app)

    @app.app.before_request
    def remember_the_visit():       # an app-wide hook that writes the session
        session["visits"] = session.get("visits", 0) + 1

    @app.app.get("/visits")
    def visits():
        return str(session["visits"])

    for _ in range(2):
        reply = app.ring()
        assert reply.status_code == 200 and "Set-Cookie" not in reply.headers
    reply = app.post(app.last_path(), {"session": "S1", "call_state": "ongoing",
                                       "ivr_block": "gather", "digits": "1", "tag": ""})
    assert reply.status_code == 200 and "Set-Cookie" not in reply.headers
    assert app.http.get("/visits").get_data(as_text=True) == "1"
    assert "Set-Cookie" in app.http.get("/visits").headers
    assert app.http.get("/visits").get_data(as_text=True) == "3"


def test_an_app_with_sessions_of_its_own_keeps_them():
    class ServerSideSessions(SecureCookieSessionInterface):
        pass

    app = Flask(__name__)
    app.config.update(HOIIO_APP_ID="app", HOIIO_ACCESS_TOKEN="t", SECRET_KEY="s")
    app.session_interface = mine = ServerSideSessions()
    IVR(app)
    assert app.session_interface is mine


def test_registering_after_the_first_notification_is_a_setup_error(signed_app):
    app = menu(signed_app)
    app.ring()
    with pytest.raises(SetupError, match="after the app handled its first notification"):
        app.ivr.on_play(lambda call: None)


def test_registering_twice_for_one_event_and_step_is_a_setup_error():
    ivr = IVR()
    ivr.on_gather("menu")(lambda call: None)
    ivr.on_gather(lambda call: None)
    with pytest.raises(SetupError, match="on_gather step 'menu' already has a handler"):
        ivr.on_gather("menu")(lambda call: None)
    with pytest.raises(SetupError, match="takes no step name"):
        ivr.add_handler("answer", lambda call: None, "x")
    with pytest.raises(SetupError, match="unknown event"):
        ivr.add_handler("ring", lambda call: None)


def test_decorators_return_the_function_unchanged():
    ivr = IVR()

    def handler(call):
        return None

    def on_error(call, error):
        return None

    assert ivr.on_answer(handler) is handler
    assert ivr.on_record("voicemail")(handler) is handler
    assert ivr.on_hangup(handler) is handler
    assert ivr.errorhandler(ValueError)(on_error) is on_error


def test_decorators_work_with_empty_parentheses_too():
    app = Flask("parentheses_app")
    ivr = IVR(app)
    ended = []

    @ivr.on_answer()
    def answer(call):
        return Gather("Press 1.", max_digits=1)

    @ivr.on_gather()
    def keys(call):
        return Hangup(f"You pressed {call.digits}.")

    @ivr.on_hangup()
    def hung_up(call):
        ended.append(call.session)

    with Phone(app) as phone:
        call = phone.call().press("1")
        assert call.prompts == ["Press 1.", "You pressed 1."]
        assert ended == [call.session]


def test_an_error_handler_that_cannot_take_the_error_is_refused_when_registered():
    ivr = IVR()
    with pytest.raises(SetupError, match=r"cannot be called with 2 arguments.*\(call, error\)"):
        ivr.errorhandler(ValueError)(lambda call: None)


def test_a_second_error_handler_for_one_class_is_refused_as_it_would_never_run():
    ivr = IVR()

    @ivr.errorhandler(LookupError)
    def not_found(call, error):
        return None

    ivr.errorhandler(KeyError)(lambda call, error: None)     # a subclass: its own handler
    with pytest.raises(SetupError, match=r"errorhandler\(LookupError\) already has a handler "
                                         r"\(.*not_found\)"):
        ivr.errorhandler(LookupError)(lambda call, error: None)


@pytest.mark.parametrize("missing", ["HOIIO_APP_ID", "HOIIO_ACCESS_TOKEN", "SECRET_KEY"])
def test_missing_configuration_says_which_key_to_set(monkeypatch, missing):
    for key in ("HOIIO_APP_ID", "HOIIO_ACCESS_TOKEN", "SECRET_KEY"):
        monkeypatch.delenv(key, raising=False)
    app = Flask("config_app")
    config = {"HOIIO_APP_ID": "a", "HOIIO_ACCESS_TOKEN": "t", "SECRET_KEY": "s"}
    del config[missing]
    app.config.update(config)
    ivr = IVR(app)                       # mounting needs no credentials ...
    with pytest.raises(ConfigError, match=missing):
        ivr.runtime(app)                 # ... the first call does


def test_every_missing_key_is_named_in_one_error(monkeypatch):
    for key in ("HOIIO_APP_ID", "HOIIO_ACCESS_TOKEN", "SECRET_KEY"):
        monkeypatch.delenv(key, raising=False)
    app = Flask("bare_app")
    ivr = IVR(app)
    with pytest.raises(ConfigError,
                       match="HOIIO_APP_ID, HOIIO_ACCESS_TOKEN and SECRET_KEY are not set"):
        ivr.runtime(app)


def test_configuration_falls_back_to_the_environment(monkeypatch):
    monkeypatch.setenv("HOIIO_APP_ID", "env-app")
    monkeypatch.setenv("HOIIO_ACCESS_TOKEN", "env-token")
    monkeypatch.setenv("SECRET_KEY", "env-secret")
    monkeypatch.setenv("HOIIO_API_URL", "http://sim.test/open/")
    app = Flask("env_app")
    ivr = IVR(app, url_prefix="/phone")
    runtime = ivr.runtime(app)
    assert runtime.carrier.client.app_id == "env-app"
    assert runtime.carrier.client.base_url == "http://sim.test/open/"
    assert "/phone/answer" in {rule.rule for rule in app.url_map.iter_rules()}
    runtime.close()


def test_an_ended_calls_marker_lives_for_the_configured_tombstone_ttl(make_signed_app,
                                                                      tmp_path):
    path = tmp_path / "calls.sqlite3"
    app = make_signed_app(HOIIVR_STORE=f"sqlite:///{path}", HOIIVR_TOMBSTONE_TTL="30")
    app.ivr.on_answer(lambda call: Play("hi"))
    ended = {"session": "S1", "call_state": "ended", "ivr_block": "answer", "tag": ""}
    before = time.time()
    assert app.post("/hoiio/answer", ended).status_code == 200
    with sqlite3.connect(path) as db:
        value, expires = db.execute("SELECT value, expires FROM calls").fetchone()
    assert json.loads(value)["ended"] is True
    assert before + 30 <= expires <= time.time() + 30


@pytest.mark.parametrize("key", ["HOIIVR_TOMBSTONE_TTL", "HOIIVR_TOKEN_MAX_AGE",
                                 "HOIIVR_ACTION_WAIT"])
@pytest.mark.parametrize("value", ["ten", "0", "-5", "nan", "inf", ""])
def test_a_duration_setting_that_is_not_a_positive_number_is_refused(monkeypatch, key, value):
    monkeypatch.setenv(key, value)
    app = Flask("config_app")
    app.config.update(HOIIO_APP_ID="a", HOIIO_ACCESS_TOKEN="t", SECRET_KEY="s")
    ivr = IVR(app)
    with pytest.raises(ConfigError, match=f"{key} must be a positive number of seconds"):
        ivr.runtime(app)


def test_turning_signature_checks_off_is_explicit_and_loud(make_signed_app, caplog):
    app = make_signed_app(HOIIVR_VERIFY_SIGNATURE="false")
    with caplog.at_level(logging.WARNING, "hoiivr"):
        app.runtime                      # the settings are read when first needed
    assert "anyone who can reach this app can forge" in caplog.text
    app.ivr.on_answer(lambda call: Play("hi"))
    assert app.post("/hoiio/answer", {"session": "S9", "call_state": "ringing"},
                    sign=False).status_code == 200


def test_dial_outside_a_request_needs_the_public_url(signed_app):
    with signed_app.app.app_context(), pytest.raises(ConfigError, match="HOIIVR_PUBLIC_URL"):
        signed_app.ivr.dial("+6598765432")


def test_a_misspelt_decorator_lists_the_decorators():
    ivr = IVR()
    with pytest.raises(AttributeError, match=r"^IVR has no decorator on_gathr \(the decorators "
                                              r"are @ivr.on_answer, .* and @ivr.errorhandler"
                                              r"\(ExceptionClass\)\)$"):
        ivr.on_gathr("menu")
    with pytest.raises(AttributeError, match=r"^'IVR' object has no attribute 'dispach'$"):
        ivr.dispach
    assert not hasattr(ivr, "on_ring") and getattr(ivr, "__deepcopy__", None) is None
