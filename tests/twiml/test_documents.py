"""TwiML documents read into verbs: Twilio's defaults, its errors, and nothing unsafe."""
from __future__ import annotations

import pytest
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from hoiivr.simulator.twiml import verbs
from hoiivr.simulator.twiml.errors import TwimlError
from hoiivr.simulator.twiml.verbs import load


def test_voice_response_documents_read_back_with_their_attributes() -> None:
    response = VoiceResponse()
    response.say("Welcome.", voice="woman", language="en-GB", loop=2)
    gather = Gather(action="/menu", method="GET", num_digits=1, timeout=7, finish_on_key="*",
                    action_on_empty_result=True)
    gather.say("Press 1.")
    gather.play("https://cdn.example/beep.mp3", loop=3)
    gather.pause(length=2)
    response.append(gather)
    response.record(action="/saved", max_length=30, finish_on_key="#", timeout=0,
                    play_beep=False, trim="do-not-trim", recording_status_callback="/rec")
    dial = Dial(action="/after", timeout=10, caller_id="+6560000000", hangup_on_star=True,
                time_limit=600, record="record-from-answer")
    dial.number("+6522222222")
    dial.client("alice")
    response.append(dial)
    response.redirect("../next", method="GET")
    response.reject(reason="busy")
    response.hangup()
    doc = load(str(response).encode())
    assert doc.warnings == ()
    assert doc.verbs == (
        verbs.Say("Welcome.", "woman", "en-GB", 2),
        verbs.Gather("/menu", "GET", 7.0, "*", 1, frozenset({"dtmf"}), True, None,
                     (verbs.Say("Press 1."), verbs.Play("https://cdn.example/beep.mp3", 3),
                      verbs.Pause(2.0))),
        verbs.Record("/saved", "POST", 0.0, "#", 30.0, False, "do-not-trim", "/rec"),
        verbs.Dial((verbs.Target("+6522222222"), verbs.Target("alice", "client")), "/after",
                   "POST", 10.0, "+6560000000", True, 600.0, "record-from-answer"),
        verbs.Redirect("../next", "GET"), verbs.Reject("busy"), verbs.Hangup())


def test_defaults_are_twilios() -> None:
    doc = load(b"<Response><Say>Hi</Say><Play>a.mp3</Play><Pause/><Gather/><Record/>"
               b"<Dial>+6522222222</Dial><Redirect>/x</Redirect><Reject/></Response>")
    say, play, pause, gather, record, dial, redirect, reject = doc.verbs
    assert (say.voice, say.language, say.loop) == ("man", "en-US", 1)      # type: ignore
    assert (play.loop, play.digits) == (1, "")                             # type: ignore
    assert pause == verbs.Pause(1.0)
    assert gather == verbs.Gather()            # this document, POST, 5 s, '#', any count
    assert record == verbs.Record()            # 5 s silence, all keys, 3600 s, beep, trim
    assert (dial.timeout, dial.action, dial.record) == (30.0, None, "do-not-record")  # type: ignore
    assert redirect == verbs.Redirect("/x", "POST") and reject == verbs.Reject("rejected")


def test_loop_zero_is_bounded_and_say_reads_ssml_as_text() -> None:
    doc = load(b'<Response><Say loop="0">Hello <prosody rate="slow">slow'
               b'</prosody> world</Say></Response>')
    assert doc.verbs == (verbs.Say("Hello slow world", loop=verbs.FOREVER),)


def test_unknown_elements_and_bad_values_are_warnings_with_defaults() -> None:
    doc = load(b'<Response><say>lower case</say><Gather timeout="soon" numDigits="-1" '
               b'finishOnKey="ab"><Dial>1</Dial></Gather><Play/></Response>')
    assert doc.verbs == (verbs.Gather(),)
    assert [w.split(":")[0] for w in doc.warnings] == ["12200"] * 6
    assert "<say> is not a TwiML verb" in doc.warnings[0]


def test_verbs_outside_the_subset_are_kept_to_fail_when_reached() -> None:
    doc = load(b"<Response><Say>Hi</Say><Enqueue>q</Enqueue><Dial><Conference>room"
               b"</Conference></Dial></Response>")
    assert [type(v).__name__ for v in doc.verbs] == ["Say", "Unsupported", "Unsupported"]
    assert doc.verbs[2].name == "Dial/Conference"                          # type: ignore


@pytest.mark.parametrize("body, code", [
    (b"", 12100),
    (b"hello <Response/>", 12100),
    (b" \n<?xml version='1.0'?><Response/>", 12100),           # text before the declaration
    (b"<Response><Say></Response>", 12100),                      # bad nesting
    (b"<Response/><Response/>", 12100),
    (b"<Resp><Say>x</Say></Resp>", 12102),
    (b"<response/>", 12102),
])
def test_unreadable_documents_are_twilios_errors(body: bytes, code: int) -> None:
    with pytest.raises(TwimlError) as info:
        load(body)
    assert info.value.code == code


def test_a_dtd_and_its_entities_are_refused_before_they_expand() -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "ha">'
              + b"".join(b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">'
                         % ((98 + i,) + (97 + i,) * 10) for i in range(9))
              + b']><Response><Say>&j;</Say></Response>')
    with pytest.raises(TwimlError, match="DOCTYPE"):
        load(laughs)
    external = b'<!DOCTYPE r SYSTEM "file:///etc/passwd"><Response/>'
    with pytest.raises(TwimlError, match="DOCTYPE"):
        load(external)


def test_a_document_over_64_kb_is_refused() -> None:
    with pytest.raises(TwimlError, match="64 kB"):
        load(b"<Response>" + b"<Pause/>" * 9000 + b"</Response>")
