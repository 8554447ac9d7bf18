from __future__ import annotations

import pytest

from hoiivr.errors import ConfigError
from hoiivr.testing import Phone

#: Monitor has no TwiML verb in the subset hoiivr supports (TWIML.md §3): the line records
#: on Hoiio only; on Twilio the app is refused when it starts.
HOIIO_ONLY = pytest.mark.parametrize("carrier", ["hoiio"], indirect=True)


@pytest.fixture
def example(load_example):
    return load_example("recorded_line")


@pytest.fixture
def app(example):
    return example.app


@HOIIO_ONLY
def test_the_call_is_announced_recorded_and_connected(phone, example):
    phone.set_behaviour("+6544444444", "answer", talk_seconds=90)
    call = phone.call(from_number="+6598765432")
    assert call.prompts[:2] == ["This call is recorded for quality and training.",
                                "Please hold while we connect you to an agent."]
    assert call.transferred_to == "+6544444444"
    call.wait(90)
    assert call.call_state == "ended"
    [recording] = example.recordings
    assert recording["from"] == "+6598765432" and recording["recording"].endswith(".wav")
    assert recording["minutes"] == "2"


@HOIIO_ONLY
def test_a_busy_agent_is_apologised_for_and_the_recording_kept(phone, example):
    phone.set_behaviour("+6544444444", "busy")
    call = phone.call()
    assert call.last_prompt == "All our agents are busy. Please call again later. Goodbye."
    assert call.call_state == "ended"
    assert len(example.recordings) == 1


@pytest.mark.parametrize("carrier", ["twilio"], indirect=True)
def test_on_twilio_the_app_is_refused_when_it_starts_not_mid_call(app, example):
    with pytest.raises(ConfigError, match=r"Monitor at .*recorded_line.*: the twilio carrier "
                                          "cannot deliver it"):
        Phone(app)
    assert example.recordings == []
