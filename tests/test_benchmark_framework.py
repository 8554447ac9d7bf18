"""benchmarks/framework.py's in-process section measures notifications that have their
effect: each one but the end makes its REST request. A notification refused as a replay is
answered 200 too, so timing one would flatter the framework; the benchmark refuses to."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import framework  # noqa: E402

SIGNED = framework.signed


@pytest.fixture
def app() -> Iterator[tuple[Any, framework.FakeHttp]]:
    app, http = framework.hoiivr_inprocess("memory://")
    yield app, http
    framework.close_inprocess(app)


@pytest.mark.parametrize("path", ["core", "wsgi"])
def test_every_notification_has_its_effect(app: tuple[Any, framework.FakeHttp],
                                           path: str) -> None:
    flask_app, http = app
    if path == "core":
        count, _ = framework.core_hoiivr(flask_app, http, calls=3, rounds=2)
    else:
        count, _ = framework.wsgi_loop(flask_app, http, "/hoiio/answer", calls=3, rounds=2)
    assert count == 3 * 6
    assert http.posts == 3 * 5                     # every notification but the end


def test_a_refused_notification_fails_the_run(app: tuple[Any, framework.FakeHttp],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    flask_app, http = app
    # The provider echoing no tag: every step's notification is refused as a replay.
    monkeypatch.setattr(framework, "signed", lambda form, tag: SIGNED(form, ""))
    with pytest.raises(RuntimeError, match="had no effect"):
        framework.wsgi_loop(flask_app, http, "/hoiio/answer", calls=2, rounds=1)



@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_the_guarded_hand_written_function_completes_every_call(store: str) -> None:
    count, seconds = framework.core_guarded(calls=3, rounds=2, store=store)
    assert count == 3 * 6 and seconds > 0


def test_the_guarded_hand_written_function_refuses_a_replay(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Its promises are real: a body whose tag does not prove its URL has no effect.
    monkeypatch.setattr(framework, "signed", lambda form, tag: SIGNED(form, tag[:-1]))
    with pytest.raises(RuntimeError, match="had no effect"):
        framework.core_guarded(calls=2, rounds=1, store="memory")


def test_a_notification_answered_with_an_error_fails_the_run(
        app: tuple[Any, framework.FakeHttp], monkeypatch: pytest.MonkeyPatch) -> None:
    flask_app, http = app
    # A signature that does not match: the app answers 403, and the run stops on it.
    monkeypatch.setattr(framework, "signed", lambda form, tag: (SIGNED(form, tag)[0], "0" * 64))
    with pytest.raises(RuntimeError, match="refused: 403"):
        framework.wsgi_loop(flask_app, http, "/hoiio/answer", calls=1, rounds=1)
