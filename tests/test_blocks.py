"""blocks.py: validation against the protocol's limits, wire parameters, immutability."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hoiivr.blocks import BLOCKS, BY_ENDPOINT, Block, Dial, Gather, Hangup, Hold, Monitor, Play, \
    Record, Transfer, Unhold
from hoiivr.errors import BlockError, HoiivrError

NUMBER = "+6511111111"
URL = "https://example.com/hook"
MP3 = "<url>https://example.com/a.mp3</url>"


def make(cls: type[Block], **fields: Any) -> Block:
    """A valid ``cls`` (required fields filled in) with ``fields`` set."""
    if cls in (Dial, Transfer):
        fields.setdefault("dest", NUMBER)
    return cls(**fields)


def raises(cls: type[Block], param: str, value: Any, status: str, **others: Any) -> BlockError:
    with pytest.raises(BlockError) as info:
        make(cls, **{param: value}, **others)
    error = info.value
    assert (error.block, error.param, error.value, error.status) == (cls.__name__, param, value,
                                                                     status)
    message = str(error)
    assert message.startswith(f"{cls.__name__}: {param}=")
    assert repr(value)[:60] in message
    assert error.allowed and error.allowed in message
    return error


WITH_MSG = [Dial, Play, Gather, Record, Monitor, Hold, Transfer, Hangup]
WITH_TAG = list(BLOCKS.values())


# -- msg -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", WITH_MSG)
@pytest.mark.parametrize("msg", ["", "x", "x" * 1000, "<speech>" + "y" * 983 + "</speech>",
                                 f"Hello {MP3} bye", '<speech language="zh-TW">x</speech>'])
def test_msg_accepted(cls: type[Block], msg: str) -> None:
    assert make(cls, msg=msg).msg == msg


@pytest.mark.parametrize("cls", WITH_MSG)
@pytest.mark.parametrize("msg", ["x" * 1001, "<speech>" + "y" * 984 + "</speech>", "é" * 1001])
def test_msg_over_1000_characters(cls: type[Block], msg: str) -> None:
    error = raises(cls, "msg", msg, "error_msg_invalid_length")
    assert "1000" in error.allowed and "1001" in error.allowed


@pytest.mark.parametrize("cls", WITH_MSG)
@pytest.mark.parametrize("msg, status", [
    ("<speech>open", "error_msg_invalid_xml"),
    ("<b>bold</b>", "error_msg_invalid_xml"),
    ('<speech lang="en">x</speech>', "error_msg_invalid_xml"),
    ('<url x="1">https://h/a.mp3</url>', "error_msg_invalid_xml"),
    ('<speech language="de">x</speech>', "error_msg_invalid_language"),
    ('<speech gender="neutral">x</speech>', "error_msg_invalid_gender"),
    ("<url>https://h/a.txt</url>", "error_msg_invalid_url"),
    ("<url>file:///a.mp3</url>", "error_msg_invalid_url"),
])
def test_msg_markup(cls: type[Block], msg: str, status: str) -> None:
    error = raises(cls, "msg", msg, status)
    assert "markup" in error.allowed


@pytest.mark.parametrize("cls", WITH_MSG)
def test_msg_must_be_text(cls: type[Block]) -> None:
    raises(cls, "msg", 42, "error_msg_invalid_length")


# -- tag -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", WITH_TAG)
@pytest.mark.parametrize("tag", ["", "t", "x" * 256, "é" * 256])
def test_tag_accepted(cls: type[Block], tag: str) -> None:
    assert make(cls, tag=tag).tag == tag


@pytest.mark.parametrize("cls", WITH_TAG)
@pytest.mark.parametrize("tag", ["x" * 257, 7])
def test_tag_rejected(cls: type[Block], tag: Any) -> None:
    error = raises(cls, "tag", tag, "error_tag_invalid_length")
    assert "256" in error.allowed


# -- whole numbers -------------------------------------------------------------------------

INT_LIMITS = [
    (Gather, "max_digits", 0, 255, "error_invalid_max_digits"),
    (Gather, "timeout", 1, 3600, "error_invalid_timeout"),
    (Gather, "attempts", 1, 10, "error_invalid_attempts"),
    (Record, "max_duration", 1, 3600, "error_invalid_max_duration"),
]


@pytest.mark.parametrize("cls, param, low, high, status", INT_LIMITS)
def test_int_limits_inside(cls: type[Block], param: str, low: int, high: int,
                           status: str) -> None:
    for value in (low, low + 1, high - 1, high):
        assert getattr(make(cls, **{param: value}), param) == value


@pytest.mark.parametrize("cls, param, low, high, status", INT_LIMITS)
@pytest.mark.parametrize("side", ["below", "above"])
def test_int_limits_outside(cls: type[Block], param: str, low: int, high: int, status: str,
                            side: str) -> None:
    value = low - 1 if side == "below" else high + 1
    error = raises(cls, param, value, status)
    assert f"from {low} to {high}" in error.allowed


DIAL_MAX_DURATION = (Dial, "max_duration", 1, None, "error_invalid_max_duration")


@pytest.mark.parametrize("cls, param, low, high, status", INT_LIMITS + [DIAL_MAX_DURATION])
@pytest.mark.parametrize("value", ["10", 1.0, 2.5, True, False, [1]])
def test_int_must_be_a_whole_number(cls: type[Block], param: str, low: int, high: int | None,
                                    status: str, value: Any) -> None:
    raises(cls, param, value, status)


def test_dial_max_duration_has_no_upper_limit() -> None:
    assert Dial(NUMBER, max_duration=1).max_duration == 1
    assert Dial(NUMBER, max_duration=86400 * 7).max_duration == 86400 * 7
    error = raises(Dial, "max_duration", 0, "error_invalid_max_duration")
    assert "at least 1" in error.allowed


# -- numbers, rooms, choices, URLs ---------------------------------------------------------

@pytest.mark.parametrize("cls", [Dial, Transfer])
@pytest.mark.parametrize("dest", ["+6511111111", "+123456", "+123456789012345"])
def test_dest_number_accepted(cls: type[Block], dest: str) -> None:
    assert cls(dest).dest == dest


@pytest.mark.parametrize("cls", [Dial, Transfer])
@pytest.mark.parametrize("dest", ["6511111111", "+12345", "+1234567890123456", "+0123456",
                                  "+65 1111 1111", "", "room", "tel:+6511111111", 6511111111])
def test_dest_number_rejected(cls: type[Block], dest: Any) -> None:
    error = raises(cls, "dest", dest, "error_dest_invalid")
    assert "E.164" in error.allowed


@pytest.mark.parametrize("cls", [Dial, Transfer])
@pytest.mark.parametrize("dest", ["6591234567", "+65 9123 4567", "65-9123-4567", "(65) 9123 4567",
                                  "0065 9123 4567", "tel:+6591234567", " +6591234567 "])
def test_a_number_almost_in_e164_says_which_was_meant(cls: type[Block], dest: str) -> None:
    error = raises(cls, "dest", dest, "error_dest_invalid")
    assert str(error).endswith("; did you mean '+6591234567'?")


@pytest.mark.parametrize("dest", ["91234567", "0412345678", "+65 12", "call me", "", 6591234567])
def test_no_number_is_guessed_where_the_country_code_is_unknown(dest: Any) -> None:
    error = raises(Transfer, "dest", dest, "error_dest_invalid")
    assert "did you mean" not in str(error) and str(error).endswith("conference room.")


def test_a_caller_id_almost_in_e164_says_which_was_meant() -> None:
    error = raises(Dial, "caller_id", "+65 6123 4567", "error_caller_id_invalid")
    assert str(error) == ("Dial: caller_id='+65 6123 4567' is not allowed; it must be 'private' "
                          "or an E.164 number, e.g. '+6561234567'; did you mean '+6561234567'?")


@pytest.mark.parametrize("dest", ["room:", "room:a", "room:sales.team_1", "room:" + "R" * 32,
                                  "room:R1"])
def test_transfer_to_room_accepted(dest: str) -> None:
    assert Transfer(dest).dest == dest


@pytest.mark.parametrize("dest", ["room:" + "R" * 33, "room:a b", "room:a/b",
                                  "room:é", "room::"])
def test_transfer_to_bad_room(dest: str) -> None:
    error = raises(Transfer, "dest", dest, "error_invalid_room")
    assert "1 to 32" in error.allowed


@pytest.mark.parametrize("dest", ["room:", "room:a"])
def test_dial_cannot_call_a_room(dest: str) -> None:
    raises(Dial, "dest", dest, "error_dest_invalid")


@pytest.mark.parametrize("cls", [Dial, Transfer])
@pytest.mark.parametrize("caller_id", ["private", "+6522222222"])
def test_caller_id_accepted(cls: type[Block], caller_id: str) -> None:
    assert make(cls, caller_id=caller_id).caller_id == caller_id


@pytest.mark.parametrize("cls", [Dial, Transfer])
@pytest.mark.parametrize("caller_id", ["6522222222", "Private", "", "anonymous", 65])
def test_caller_id_rejected(cls: type[Block], caller_id: Any) -> None:
    error = raises(cls, "caller_id", caller_id, "error_caller_id_invalid")
    assert "private" in error.allowed


@pytest.mark.parametrize("on_failure", ["hangup", "continue"])
def test_on_failure_accepted(on_failure: str) -> None:
    assert Transfer(NUMBER, on_failure=on_failure).on_failure == on_failure


@pytest.mark.parametrize("on_failure", ["", "Continue", "retry", True])
def test_on_failure_rejected(on_failure: Any) -> None:
    error = raises(Transfer, "on_failure", on_failure, "error_on_failure_invalid")
    assert "'hangup', 'continue'" in error.allowed


@pytest.mark.parametrize("url", [URL, "http://127.0.0.1:8000/rec?x=1",
                                 "https://e.com/" + "a" * (4000 - len("https://e.com/"))])
def test_monitor_notify_url_accepted(url: str) -> None:
    assert Monitor(monitor_notify_url=url).monitor_notify_url == url


@pytest.mark.parametrize("url", ["https://e.com/" + "a" * (4001 - len("https://e.com/")),
                                 "example.com/rec", "/rec", "ftp://e.com/rec", "", 1])
def test_monitor_notify_url_rejected(url: Any) -> None:
    error = raises(Monitor, "monitor_notify_url", url, "error_invalid_notify_url")
    assert "4000" in error.allowed


@pytest.mark.parametrize("force", [True, False])
def test_hangup_force(force: bool) -> None:
    assert Hangup(force=force).force is force


@pytest.mark.parametrize("force", ["enabled", 1, None])
def test_hangup_force_must_be_bool(force: Any) -> None:
    if force is None:       # None means "not given" for every field: the default stays
        assert Hangup(force=force).to_params() == {}
        return
    raises(Hangup, "force", force, "error_malformed_params")


@pytest.mark.parametrize("cls", list(BLOCKS.values()))
def test_name_must_be_text(cls: type[Block]) -> None:
    raises(cls, "name", 3, "error_malformed_params")


def test_block_error_is_a_value_error_in_the_tree() -> None:
    error = raises(Gather, "max_digits", 256, "error_invalid_max_digits")
    assert isinstance(error, ValueError) and isinstance(error, HoiivrError)


def test_long_values_are_shortened_in_the_message() -> None:
    error = raises(Play, "msg", "z" * 5000, "error_msg_invalid_length")
    assert len(str(error)) < 300 and "..." in str(error)
    assert error.value == "z" * 5000


# -- kinds, stages ---------------------------------------------------------------------------

@pytest.mark.parametrize("cls, kind, endpoint, stage, hands_back, notify_required, required", [
    (Dial, "dial", "ivr/start/dial", "start", True, False, ("dest",)),
    (Play, "play", "ivr/middle/play", "middle", False, False, ("session",)),
    (Gather, "gather", "ivr/middle/gather", "middle", True, True, ("session", "notify_url")),
    (Record, "record", "ivr/middle/record", "middle", True, True, ("session", "notify_url")),
    (Monitor, "monitor", "ivr/middle/monitor", "middle", False, True, ("session", "notify_url")),
    (Hold, "hold", "ivr/middle/hold", "middle", False, False, ("session",)),
    (Unhold, "unhold", "ivr/middle/unhold", "middle", False, False, ("session",)),
    (Transfer, "transfer", "ivr/end/transfer", "end", True, False, ("session", "dest")),
    (Hangup, "hangup", "ivr/end/hangup", "end", True, False, ("session",)),
])
def test_block_class_facts(cls: type[Block], kind: str, endpoint: str, stage: str,
                           hands_back: bool, notify_required: bool,
                           required: tuple[str, ...]) -> None:
    block = make(cls)
    assert (block.kind, block.endpoint, block.stage) == (kind, endpoint, stage)
    assert block.hands_back is hands_back
    assert block.notify_required is notify_required
    assert block.required == required
    assert BLOCKS[kind] is cls and BY_ENDPOINT[endpoint] is cls


def test_registries_cover_every_block() -> None:
    assert set(BLOCKS) == {"dial", "play", "gather", "record", "monitor", "hold", "unhold",
                           "transfer", "hangup"}
    assert len(BY_ENDPOINT) == len(BLOCKS)


# -- to_params --------------------------------------------------------------------------------

FULL = [
    (Dial(NUMBER, msg="Hi", caller_id="private", max_duration=60, tag="t", name="out"),
     {"dest": NUMBER, "msg": "Hi", "caller_id": "private", "max_duration": "60", "tag": "t"}),
    (Play("Hello", tag="p", name="hello"), {"msg": "Hello", "tag": "p"}),
    (Gather("Press 1", max_digits=1, timeout=60, attempts=3, tag="g", name="menu"),
     {"msg": "Press 1", "max_digits": "1", "timeout": "60", "attempts": "3", "tag": "g"}),
    (Gather(max_digits=0), {"max_digits": "0"}),
    (Record("Speak", max_duration=120, tag="r", name="vm"),
     {"msg": "Speak", "max_duration": "120", "tag": "r"}),
    (Monitor("Recorded", monitor_notify_url=URL, tag="m", name="mon"),
     {"msg": "Recorded", "monitor_notify_url": URL, "tag": "m"}),
    (Hold("Please hold", tag="h", name="hold"), {"msg": "Please hold", "tag": "h"}),
    (Unhold(tag="u", name="back"), {"tag": "u"}),
    (Transfer("+6522222222", msg="Connecting", caller_id="+6533333333", on_failure="continue",
              tag="x", name="sales"),
     {"dest": "+6522222222", "msg": "Connecting", "caller_id": "+6533333333",
      "on_failure": "continue", "tag": "x"}),
    (Transfer("room:"), {"dest": "room:"}),
    (Hangup("Bye", tag="b", name="end"), {"msg": "Bye", "tag": "b"}),
    (Hangup(force=True), {"force": "enabled"}),
    (Play(), {}),
    (Play(tag=""), {"tag": ""}),
]


@pytest.mark.parametrize("block, params", FULL)
def test_to_params_exact(block: Block, params: dict[str, str]) -> None:
    assert block.to_params() == params
    assert all(isinstance(v, str) for v in block.to_params().values())


@pytest.mark.parametrize("cls", list(BLOCKS.values()))
def test_name_is_never_sent(cls: type[Block]) -> None:
    block = make(cls, name="step-name")
    assert block.name == "step-name"
    assert "name" not in block.to_params()
    assert "step-name" not in block.to_params().values()


# -- from_params ----------------------------------------------------------------------------

@pytest.mark.parametrize("block", [b for b, _ in FULL if b.to_params().get("tag") != ""])
def test_from_params_round_trip(block: Block) -> None:
    back = type(block).from_params(block.to_params())
    assert back == dataclasses.replace(block, name=None)


@pytest.mark.parametrize("block", [b for b, _ in FULL if b.to_params().get("tag") != ""])
def test_from_params_ignores_request_fields(block: Block) -> None:
    request = {"app_id": "AP", "access_token": "TK", "session": "S1", "notify_url": URL,
               "unknown": "x", **block.to_params()}
    assert type(block).from_params(request).to_params() == block.to_params()


def test_from_params_treats_empty_as_absent() -> None:
    assert Gather.from_params({"msg": "", "max_digits": "", "tag": ""}) == Gather()
    assert Hangup.from_params({"force": ""}).force is False
    assert Hangup.from_params({"force": "enabled"}).force is True


def test_from_params_accepts_a_multidict() -> None:
    from werkzeug.datastructures import MultiDict
    form = MultiDict([("dest", "+6522222222"), ("on_failure", "continue")])
    assert Transfer.from_params(form) == Transfer("+6522222222", on_failure="continue")


@pytest.mark.parametrize("cls, params, param", [
    (Dial, {}, "dest"),
    (Dial, {"dest": ""}, "dest"),
    (Dial, {"msg": "hi"}, "dest"),
    (Transfer, {}, "dest"),
    (Transfer, {"dest": "", "on_failure": "continue"}, "dest"),
])
def test_from_params_missing_required(cls: type[Block], params: dict[str, str],
                                      param: str) -> None:
    with pytest.raises(BlockError) as info:
        cls.from_params(params)
    assert info.value.status == f"error_{param}_param_missing"
    assert (info.value.block, info.value.param) == (cls.__name__, param)
    assert "required" in str(info.value)


@pytest.mark.parametrize("cls, param, status, allowed", [
    (Gather, "max_digits", "error_invalid_max_digits", "from 0 to 255"),
    (Gather, "timeout", "error_invalid_timeout", "from 1 to 3600"),
    (Gather, "attempts", "error_invalid_attempts", "from 1 to 10"),
    (Record, "max_duration", "error_invalid_max_duration", "from 1 to 3600"),
    (Dial, "max_duration", "error_invalid_max_duration", "at least 1"),
])
@pytest.mark.parametrize("text", ["abc", "1.5", "1e3", "-1", "+5", " 5", "5 ", "1_0", "0x10",
                                  "\uff15", "\u0665", "five"])
def test_from_params_non_numeric(cls: type[Block], param: str, status: str, allowed: str,
                                 text: str) -> None:
    params = {param: text, "dest": NUMBER}
    with pytest.raises(BlockError) as info:
        cls.from_params(params)
    error = info.value
    assert (error.block, error.param, error.value, error.status) == (cls.__name__, param, text,
                                                                     status)
    assert allowed in str(error) and repr(text) in str(error)


@pytest.mark.parametrize("cls, param, text, status", [
    (Gather, "max_digits", "256", "error_invalid_max_digits"),
    (Gather, "timeout", "0", "error_invalid_timeout"),
    (Gather, "timeout", "3601", "error_invalid_timeout"),
    (Gather, "attempts", "11", "error_invalid_attempts"),
    (Record, "max_duration", "0", "error_invalid_max_duration"),
    (Transfer, "on_failure", "sometimes", "error_on_failure_invalid"),
    (Transfer, "dest", "room:bad room", "error_invalid_room"),
    (Dial, "dest", "6511111111", "error_dest_invalid"),
    (Play, "msg", "x" * 1001, "error_msg_invalid_length"),
    (Play, "tag", "x" * 257, "error_tag_invalid_length"),
    (Monitor, "monitor_notify_url", "nope", "error_invalid_notify_url"),
])
def test_from_params_checks_values(cls: type[Block], param: str, text: str, status: str) -> None:
    params = {"dest": NUMBER, param: text}
    with pytest.raises(BlockError) as info:
        cls.from_params(params)
    assert (info.value.param, info.value.status) == (param, status)


@pytest.mark.parametrize("cls, param, text, value", [
    (Gather, "max_digits", "0", 0), (Gather, "max_digits", "255", 255),
    (Gather, "timeout", "3600", 3600), (Gather, "attempts", "010", 10),
    (Dial, "max_duration", "60", 60),
])
def test_from_params_ints(cls: type[Block], param: str, text: str, value: int) -> None:
    assert getattr(cls.from_params({"dest": NUMBER, param: text}), param) == value


# -- immutability ----------------------------------------------------------------------------

@pytest.mark.parametrize("block", [b for b, _ in FULL])
def test_blocks_are_frozen(block: Block) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.tag = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.name = "changed"  # type: ignore[misc]
    assert hash(block) == hash(dataclasses.replace(block))


def test_replace_checks_again() -> None:
    menu = Gather("Press 1", max_digits=1, name="menu")
    assert menu.replace(max_digits=2) == Gather("Press 1", max_digits=2, name="menu")
    assert menu.max_digits == 1
    with pytest.raises(BlockError) as info:
        menu.replace(max_digits=256)
    assert info.value.status == "error_invalid_max_digits"


def test_tagged_adds_to_the_tag_and_checks_its_length() -> None:
    menu = Gather("Press 1", max_digits=1, name="menu", tag="t")
    assert menu.tagged("|x") == menu.replace(tag="t|x")
    assert Play("Hi").tagged("|x").tag == "|x"
    assert menu.tag == "t"
    with pytest.raises(BlockError) as info:
        menu.tagged("x" * 256)
    assert info.value.status == "error_tag_invalid_length"
    assert all("tag" in cls.__dataclass_fields__ for cls in BLOCKS.values())


@pytest.mark.parametrize("cls", [Play, Gather, Record, Monitor, Hold, Hangup])
def test_only_msg_is_positional(cls: type[Block]) -> None:
    with pytest.raises(TypeError):
        cls("msg", "tag")  # type: ignore[misc]


@pytest.mark.parametrize("cls", [Dial, Transfer])
def test_dest_is_required(cls: type[Block]) -> None:
    with pytest.raises(TypeError):
        cls()  # type: ignore[call-arg]
