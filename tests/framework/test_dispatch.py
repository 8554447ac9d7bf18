"""Dispatch with no Flask and no network: notification + record -> handler -> blocks."""
from __future__ import annotations

import logging
import threading

import pytest

from hoiivr import ApiError, Ask, Gather, Hangup, Hold, Monitor, NetworkError, Play, Record, Transfer
from hoiivr.dispatch import FORBIDDEN, HANDLED, STALE
from hoiivr.tokens import Ticket


def menu_app(h):
    @h.ivr.on_answer
    def answer(call):
        call.state["answered_by"] = "answer"
        return Gather("Press 1 for sales.", max_digits=1, name="menu")

    @h.ivr.on_gather("menu")
    def menu(call):
        call.state["choice"] = call.digits
        if call.digits == "1":
            return Transfer("+6522222222", on_failure="continue", name="sales")
        return [Play("Goodbye."), Hangup()]

    @h.ivr.on_transfer_failed("sales")
    def busy(call):
        return Record("Leave a message.", name="voicemail")

    return h


def test_ringing_calls_on_answer_and_sends_its_block_with_a_signed_notify_url(harness):
    h = menu_app(harness)
    assert h.ring() == HANDLED
    block, session, url = h.client.sent[0]
    assert block == Gather("Press 1 for sales.", max_digits=1, name="menu")
    assert session == "S1"
    assert h.client.last_ticket(h.tokens) == Ticket("S1", 1, "gather", "menu")
    record = h.store.get("S1")
    assert record["seq"] == 1 and record["state"] == {"answered_by": "answer"}


def test_named_step_handler_gets_the_digits_and_state_persists(harness):
    h = menu_app(harness)
    h.ring()
    h.complete(digits="1")
    assert h.client.kinds == ["gather", "transfer"]
    assert h.store.get("S1")["state"] == {"answered_by": "answer", "choice": "1"}
    h.complete(transfer_status="busy")
    assert h.client.kinds[-1] == "record"


def test_a_list_of_blocks_runs_in_order_without_calling_a_handler_between(harness):
    h = menu_app(harness)
    calls = []
    h.ivr.on_play(lambda call: calls.append(call))
    h.ring()
    h.complete(digits="9")
    assert h.client.kinds == ["gather", "play"]
    h.complete()
    assert h.client.kinds == ["gather", "play", "hangup"]
    assert calls == []


def test_duplicate_ringing_and_duplicate_notifications_have_no_effect(harness):
    h = menu_app(harness)
    h.ring()
    assert h.ring() == STALE
    ticket = h.client.last_ticket(h.tokens)
    assert h.complete(ticket=ticket, digits="1") == HANDLED
    assert h.complete(ticket=ticket, digits="1") == STALE
    assert h.client.kinds == ["gather", "transfer"]


def test_a_token_from_the_future_or_another_call_is_forbidden(harness):
    h = menu_app(harness)
    h.ring("S1")
    h.ring("S2")
    ticket = h.client.last_ticket(h.tokens)            # S2's gather
    assert h.complete("S1", ticket=ticket, digits="1") == FORBIDDEN
    future = Ticket("S1", 7, "gather", "menu")
    assert h.complete("S1", ticket=future, digits="1") == FORBIDDEN
    wrong_block = Ticket("S1", 1, "gather", "menu")
    assert h.complete("S1", ticket=wrong_block, ivr_block="record") == FORBIDDEN
    assert h.client.kinds == ["gather", "gather"]


def test_no_handler_for_a_step_hangs_up_politely_and_warns(harness, caplog):
    h = harness
    h.ivr.on_answer(lambda call: Gather("Say something", name="unhandled"))
    h.ring()
    with caplog.at_level(logging.WARNING, "hoiivr"):
        h.complete(digits="5")
    assert h.client.sent[-1][0] == Hangup("Goodbye.")
    assert "no handler for gather step 'unhandled'" in caplog.text


def test_blocks_that_end_with_a_play_end_the_call_with_a_warning_that_says_how_to_fix_it(
        harness, caplog):
    h = harness
    h.ivr.on_answer(lambda call: [Play("Welcome."), Play("We open at nine.")])
    h.ring()
    h.complete()                        # the first Play: the second is sent, no handler runs
    with caplog.at_level(logging.WARNING, "hoiivr"):
        h.complete()                    # the second, the last returned
    assert [block for block, _, _ in h.client.sent] == [
        Play("Welcome."), Play("We open at nine."), Hangup("Goodbye.")]
    assert 'S1: no handler for play (a handler\'s blocks ended with a Play, which has played); ' \
           'the caller hears "Goodbye." and is hung up: end with Hangup(...) or add ' \
           "@ivr.on_play" in caplog.text


def test_no_answer_handler_answers_to_say_goodbye_then_hangs_up(harness):
    harness.ring()
    assert harness.client.sent[0][0] == Play("Goodbye.")       # heard: the call is answered
    harness.complete()
    assert harness.client.kinds == ["play", "hangup"]
    assert harness.client.sent[1][0] == Hangup()


def test_a_handler_returning_nothing_hangs_up_politely(harness, caplog):
    h = harness
    h.ivr.on_answer(lambda call: Gather("x", name="menu"))
    h.ivr.on_gather(lambda call: None)
    h.ring()
    with caplog.at_level(logging.WARNING, "hoiivr"):
        h.complete(digits="")
    assert h.client.sent[-1][0] == Hangup("Goodbye.")
    assert "returned no block" in caplog.text


def test_a_bare_handler_catches_every_step_and_a_named_one_wins(harness):
    h = harness
    seen = []
    h.ivr.on_answer(lambda call: Gather("x", name="a"))
    h.ivr.add_handler("gather", lambda call: seen.append(("bare", call.step)) or Gather("y", name="b"))
    h.ivr.add_handler("gather", lambda call: seen.append(("named", call.step)) or Hangup(), "b")
    h.ring()
    h.complete(digits="1")
    h.complete(digits="2")
    assert seen == [("bare", "a"), ("named", "b")]


def test_a_handler_exception_becomes_an_apology_and_is_logged_with_the_session(harness, caplog):
    h = harness

    @h.ivr.on_answer
    def answer(call):
        raise RuntimeError("database down")

    with caplog.at_level(logging.ERROR, "hoiivr"):
        h.ring()
    assert h.client.sent[0][0] == Play(h.dispatcher.apology)    # the call still rang
    assert "S1" in caplog.text and "database down" in caplog.text


def test_an_errorhandler_for_the_exception_class_decides_instead(harness):
    h = harness

    @h.ivr.on_answer
    def answer(call):
        raise KeyError("booking")

    @h.ivr.errorhandler(LookupError)
    def not_found(call, error):
        return Hangup("We could not find your booking.")

    h.ring()
    assert h.client.sent[0][0] == Play("We could not find your booking.")  # the call rang


def test_an_errorhandler_that_fails_too_leaves_call_state_as_it_was(harness):
    """What the failed handler did to call.state is rolled back, and what its failed
    errorhandler did too: on_hangup sees neither."""
    h, ended = harness, []

    @h.ivr.on_answer
    def answer(call):
        call.state["answered"] = True
        return Gather("Press 1.", max_digits=1, name="menu")

    @h.ivr.on_gather("menu")
    def menu(call):
        call.state["menu"] = "half done"
        raise LookupError("booking")

    @h.ivr.errorhandler(LookupError)
    def not_found(call, error):
        call.state["errorhandler"] = "half done"
        raise RuntimeError("the error handler's own bug")

    h.ivr.on_hangup(lambda call: ended.append(dict(call.state)))
    h.ring()
    h.complete(digits="1")
    assert h.client.sent[-1][0] == Hangup(h.dispatcher.apology)
    h.end()
    assert ended == [{"answered": True}]


@pytest.mark.parametrize("result, message", [
    ([Gather("a"), Play("b")], "Gather before other blocks"),
    ([Hold(), Play("b")], "Hold before other blocks"),
    ("Hello", "returned 'Hello' (str)"),
    ([Play("a"), Transfer("+6522222222"), Hangup()], "Transfer before other blocks"),
    ([Monitor(), Monitor(), Gather("a")], "returned Monitor twice"),
    # An Ask's give-up is checked with it, though it is sent later, with no handler to blame.
    (Ask("a", valid={"1"}, give_up=[Play("b", voice="Polly.Joanna"), Hangup()]),
     "Hoiio has no voice 'Polly.Joanna'"),
])
def test_the_call_flow_grammar_is_checked_on_every_return(harness, caplog, result, message):
    h = harness

    @h.ivr.on_answer
    def bad_flow(call):
        return result

    with caplog.at_level(logging.ERROR, "hoiivr"):
        h.ring()
    assert h.client.kinds == ["play"]      # the apology, heard: the call rang
    assert message in caplog.text and "bad_flow" in caplog.text


def test_state_that_is_not_json_fails_in_the_handler_not_the_store(harness, caplog):
    h = harness

    @h.ivr.on_answer
    def answer(call):
        call.state["when"] = object()
        return Play("hi")

    with caplog.at_level(logging.ERROR, "hoiivr"):
        h.ring()
    assert h.client.sent[0][0] == Play(h.dispatcher.apology)    # heard: the call rang


def test_a_refused_block_is_not_sent_again_and_the_caller_hears_an_apology(harness):
    h = menu_app(harness)
    h.client.fail_with = ["error_msg_invalid_xml"]
    h.ring()
    assert h.client.kinds == ["gather", "play"]
    assert h.client.sent[1][0] == Play(h.dispatcher.apology)    # refused: still ringing
    assert h.store.get("S1")["seq"] == 2


def test_a_block_that_may_have_been_taken_is_followed_by_a_hangup_apology(harness):
    """The Gather may be playing (Hoiio took it, its reply was lost): only a Hangup is
    accepted mid-block, so the apology is one, even though the call may still ring."""
    h = menu_app(harness)
    h.client.fail_with = [NetworkError("timed out", sent=True)]
    h.ring()
    assert h.client.kinds == ["gather", "hangup"]
    assert h.client.sent[1][0] == Hangup(h.dispatcher.apology)


def test_an_errorhandler_for_apierror_sees_refused_blocks(harness):
    h = menu_app(harness)
    h.ivr.register_error_handler(ApiError, lambda call, e: Hangup(f"Refused: {e.status}."))
    h.client.fail_with = ["error_insufficient_credit"]
    h.ring()
    assert h.client.sent[1][0] == Play("Refused: error_insufficient_credit.")


def test_when_the_apology_fails_too_nothing_more_is_sent(harness):
    h = menu_app(harness)
    h.client.fail_with = ["error_internal_server_error", "error_internal_server_error"]
    h.ring()
    assert h.client.kinds == ["gather", "play"]


def test_a_block_refused_because_the_call_ended_needs_no_apology(harness):
    h = menu_app(harness)
    h.client.fail_with = ["error_session_ended"]
    h.ring()
    assert h.client.kinds == ["gather"]


def test_ended_runs_on_hangup_once_with_billing_and_forgets_the_state(harness):
    h = menu_app(harness)
    ended = []
    h.ivr.on_hangup(lambda call: ended.append((call.duration, str(call.debit), dict(call.state))))
    h.ring()
    ticket = h.client.last_ticket(h.tokens)
    assert h.end(ticket=ticket) == HANDLED
    assert h.end(ticket=ticket) == STALE
    assert ended == [(1, "0.020", {"answered_by": "answer"})]
    assert h.store.get("S1") == {"ended": True, "session": "S1"}
    assert h.ring() == STALE                    # a replayed ringing cannot restart it
    assert h.client.kinds == ["gather"]


def test_ended_is_accepted_at_the_previous_notify_url(harness):
    h = menu_app(harness)
    ended = []
    h.ivr.on_hangup(ended.append)
    h.ring()
    first = h.client.last_ticket(h.tokens)
    h.complete(digits="1")                      # transfer sent, seq 2
    assert h.end(ticket=first) == HANDLED       # the caller hung up as the transfer was sent
    assert len(ended) == 1


def test_ended_at_the_answer_url_before_any_block_is_ignored(harness):
    assert harness.ring(call_state="ended") == STALE
    # Only the end is remembered, so that a ringing it overtook cannot start the call.
    assert harness.store.get("S1") == {"ended": True, "session": "S1"}
    assert harness.ring() == STALE and harness.client.sent == []


def test_on_hangup_cannot_return_blocks(harness, caplog):
    h = menu_app(harness)
    h.ivr.on_hangup(lambda call: Play("too late"))
    h.ring()
    with caplog.at_level(logging.ERROR, "hoiivr"):
        h.end()
    assert "the call has ended" in caplog.text
    assert h.client.kinds == ["gather"]


def test_dial_then_answered_reaches_on_dial_answered_with_the_state(harness):
    from hoiivr import Dial
    h = harness
    seen = []

    @h.ivr.on_dial_answered("remind")
    def remind(call):
        seen.append((call.direction, call.dest, call.state))
        return Hangup("Your appointment is tomorrow.")

    response = h.dispatcher.dial(Dial("+6598765432", name="remind"), "http://app.test/hoiio/notify/",
                                 {"appointment": 7})
    assert response.session == "S901"
    ticket = h.client.last_ticket(h.tokens)
    assert ticket.block == "dial" and ticket.step == "remind" and ticket.call.startswith("D")
    h.complete("S901", dest="+6598765432", dial_status="answered")
    assert seen == [("outbound", "+6598765432", {"appointment": 7})]
    assert h.client.kinds == ["dial", "hangup"]


def test_dial_not_answered_runs_on_dial_failed_then_on_hangup(harness):
    from hoiivr import Dial
    h = harness
    order = []
    h.ivr.on_dial_failed("remind")(lambda call: order.append(("failed", call.dial_status)))
    h.ivr.on_hangup(lambda call: order.append(("hangup", call.duration)))
    h.dispatcher.dial(Dial("+6598765432", name="remind"), "http://app.test/hoiio/notify/", None)
    h.end("S901", dest="+6598765432", dial_status="busy", duration="0")
    assert order == [("failed", "busy"), ("hangup", 0)]


def test_listeners_hear_every_step_before_the_handlers_and_cannot_break_the_call(harness,
                                                                                 caplog):
    from hoiivr import Dial
    from hoiivr.errors import SetupError
    h = harness
    order = []
    h.ivr.on_dial_failed("remind")(lambda call: order.append("handler failed"))
    h.ivr.add_listener("dial_answered", lambda call: order.append(("answered", call.step)))
    h.ivr.add_listener("dial_failed", lambda call: order.append(("failed", call.dial_status)))
    h.ivr.add_listener("hangup", lambda call: order.append(("hangup", call.state)))
    h.ivr.add_listener("hangup", lambda call: 1 / 0)
    with pytest.raises(SetupError, match="takes the call"):
        h.ivr.add_listener("hangup", lambda: None)
    with pytest.raises(SetupError, match="unknown event"):
        h.ivr.add_listener("ended", lambda call: None)
    h.dispatcher.dial(Dial("+6598765432", name="remind"), "http://app.test/hoiio/notify/",
                      {"row": 1})
    h.end("S901", dest="+6598765432", dial_status="busy", duration="0")
    assert order == [("failed", "busy"), "handler failed", ("hangup", {"row": 1})]
    assert "listener" in caplog.text and "ZeroDivisionError" in caplog.text
    h.dispatcher.dial(Dial("+6598765433", name="other"), "http://app.test/hoiio/notify/", None)
    h.complete("S902", dest="+6598765433", dial_status="answered")
    assert order[3:] == [("answered", "other")]  # no handler for it: the listener hears it
    h.end("S902", dest="+6598765433", dial_status="answered", duration="1")
    assert order[3:] == [("answered", "other"), ("hangup", {})]


def test_a_refused_dial_raises_and_leaves_no_record(harness):
    from hoiivr import Dial
    h = harness
    h.client.fail_with = ["error_dest_invalid"]
    with pytest.raises(ApiError) as info:
        h.dispatcher.dial(Dial("+6598765432"), "http://app.test/hoiio/notify/", None)
    assert info.value.status == "error_dest_invalid"
    key = h.client.last_ticket(h.tokens).call
    assert h.store.get(key) is None


# -- the lock covers the decision, not the REST request -------------------------------------

def in_another_thread(work):
    """Run ``work`` in another thread and wait for it: a second worker, meanwhile."""
    results = []
    worker = threading.Thread(target=lambda: results.append(work()))
    worker.start()
    worker.join(5)
    assert not worker.is_alive(), "the other worker is still waiting for the call's lock"
    return results[0]


def test_a_blocks_notification_is_handled_while_its_request_is_still_in_flight(harness):
    # A short prompt's notification can arrive before the REST reply: it must not wait for
    # the worker that is waiting for the reply.
    h = menu_app(harness)
    h.dispatcher.lock_wait = 6.0
    h.client.during = [lambda: in_another_thread(lambda: h.complete(digits="2"))]
    h.ring()
    assert h.client.kinds == ["gather", "play"]
    assert h.store.get("S1")["seq"] == 2


def test_a_failed_request_that_hoiio_took_after_all_gets_no_apology(harness, caplog):
    # The reply was lost, but the block's own notification proves Hoiio took it.
    h = menu_app(harness)

    def notified_then_reply_lost():
        in_another_thread(lambda: h.complete(digits="2"))
        raise NetworkError("read timed out", sent=True)

    h.client.during = [notified_then_reply_lost]
    with caplog.at_level(logging.INFO, "hoiivr"):
        h.ring()
    assert h.client.kinds == ["gather", "play"]
    assert "moved on" in caplog.text


def test_a_failed_request_after_the_caller_hung_up_gets_no_apology(harness):
    h = menu_app(harness)
    hangups = []
    h.ivr.on_hangup(lambda call: hangups.append(call.session))

    def hung_up_then_reply_lost():
        in_another_thread(lambda: h.end())
        raise NetworkError("read timed out", sent=True)

    h.client.during = [hung_up_then_reply_lost]
    h.ring()
    assert h.client.kinds == ["gather"]
    assert hangups == ["S1"] and h.store.get("S1")["ended"]


def test_a_failed_request_that_nothing_overtook_is_followed_by_an_apology(harness):
    h = menu_app(harness)
    h.client.fail_with = [NetworkError("read timed out", sent=True)]
    h.ring()
    late = h.complete(ticket=Ticket("S1", 1, "gather", "menu"), digits="9")
    assert late == STALE      # the Gather's notification, after the apology was sent
    assert h.client.kinds == ["gather", "hangup"]
    assert h.client.sent[1][0] == Hangup(h.dispatcher.apology)


def test_a_hold_keeps_the_call_locked_until_its_request_is_answered(harness):
    # Nothing comes back from Hoiio after a Hold, so nothing else proves it arrived before
    # an unhold() could overtake it.
    from hoiivr.errors import LockTimeout
    h = harness
    h.ivr.on_answer(lambda call: [Play("Please hold."), Hold()])
    h.ring()

    def try_to_lock():
        try:
            with h.store.lock("S1", wait=0.05):
                return "locked"
        except LockTimeout:
            return "busy"

    h.client.during = [lambda: seen.append(in_another_thread(try_to_lock))]
    seen = []
    h.complete()              # the Play's notification sends the queued Hold
    assert h.client.kinds == ["play", "hold"] and seen == ["busy"]
    assert try_to_lock() == "locked"
