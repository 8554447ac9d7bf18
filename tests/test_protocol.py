"""protocol.py: numbers, URLs, the msg markup and Hoiio's time format."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from hoiivr import protocol
from hoiivr.protocol import MsgError, Segment, format_time, is_e164, is_http_url, parse_msg, \
    parse_time, spoken_text


@pytest.mark.parametrize("number", [
    "+6511111111", "+6522222222", "+14155550100", "+123456",   # 6 digits: the shortest
    "+123456789012345",                                        # 15 digits: the longest
])
def test_is_e164_accepts(number: str) -> None:
    assert is_e164(number)


@pytest.mark.parametrize("number", [
    "6511111111",            # no +
    "+12345",                # 5 digits
    "+1234567890123456",     # 16 digits
    "+0123456789",           # country code cannot start with 0
    "+65 1111 1111", "+65-1111-1111", "+6511111111\n", " +6511111111",
    "+65111111a1", "++6511111111", "+", "",
    "+\uff16\uff15\uff11\uff11\uff11\uff11\uff11\uff11",  # fullwidth digits
    "+\u0666\u0665\u0661\u0661\u0661\u0661\u0661\u0661",  # Arabic-Indic digits
    None, 6511111111, b"+6511111111",
])
def test_is_e164_rejects(number: object) -> None:
    assert not is_e164(number)


@pytest.mark.parametrize("url", [
    "http://example.com", "https://example.com/hook?app_state=gather&x=1",
    "http://127.0.0.1:5000/hoiio/notify/abc", "https://[::1]:8443/n",
    "https://example.com/" + "a" * (protocol.NOTIFY_URL_MAX - len("https://example.com/")),
])
def test_is_http_url_accepts(url: str) -> None:
    assert is_http_url(url)


@pytest.mark.parametrize("url", [
    "https://example.com/" + "a" * (protocol.NOTIFY_URL_MAX - len("https://example.com/") + 1),
    "", "example.com/hook", "/hoiio/notify", "ftp://example.com/x", "javascript:alert(1)",
    "http://", "http:///path", "mailto:a@example.com",
    "http://exa\nmple.com/hook", "http://example.com/ho\tok", "http://example.com/a b",
    "http://example.com:99999/hook", "http://example.com:port/hook", "http://[::1/x",
    None, 42, b"http://example.com",
])
def test_is_http_url_rejects(url: object) -> None:
    assert not is_http_url(url)


def test_is_http_url_limit_is_a_parameter() -> None:
    assert is_http_url("http://a.io/x", limit=13)
    assert not is_http_url("http://a.io/xy", limit=13)


@pytest.mark.parametrize("msg, segments", [
    ("", []),
    ("   ", []),
    ("Hello.", [Segment("Hello.")]),
    ("1 > 0 & so on", [Segment("1 > 0 & so on")]),    # no '<': plain text, not markup
    ('<speech language="zh-HK" gender="male">nei hou</speech>',
     [Segment("nei hou", "zh-HK", "male")]),
    ('<speech gender="male">hi</speech>', [Segment("hi", "en", "male")]),
    ('<speech language="ja">konnichiwa</speech>', [Segment("konnichiwa", "ja", "female")]),
    ("<speech>plain</speech>", [Segment("plain")]),
    ("<url>https://host/file.mp3</url>", [Segment(url="https://host/file.mp3")]),
    ("<url> http://host/a/b.WAV </url>", [Segment(url="http://host/a/b.WAV")]),
    ("<url>https://host/file.gsm?v=2</url>", [Segment(url="https://host/file.gsm?v=2")]),
    ('Welcome. <url>https://h/jingle.mp3</url> Press <speech gender="male">one</speech> now.',
     [Segment("Welcome. "), Segment(url="https://h/jingle.mp3"), Segment(" Press "),
      Segment("one", "en", "male"), Segment(" now.")]),
    ("<speech>Tom &amp; Jerry</speech>", [Segment("Tom & Jerry")]),
])
def test_parse_msg_segments(msg: str, segments: list[Segment]) -> None:
    assert parse_msg(msg) == segments


@pytest.mark.parametrize("language", sorted(protocol.LANGUAGES))
@pytest.mark.parametrize("gender", sorted(protocol.GENDERS))
def test_parse_msg_every_language_and_gender(language: str, gender: str) -> None:
    msg = f'<speech language="{language}" gender="{gender}">x</speech>'
    assert parse_msg(msg) == [Segment("x", language, gender)]


@pytest.mark.parametrize("msg, status", [
    ("<speech>unclosed", "error_msg_invalid_xml"),
    ("a < b", "error_msg_invalid_xml"),
    ("</speech>", "error_msg_invalid_xml"),
    ("<speech>a</url>", "error_msg_invalid_xml"),
    ("<foo>x</foo>", "error_msg_invalid_xml"),
    ("<Speech>x</Speech>", "error_msg_invalid_xml"),
    ('<speech voice="x">hi</speech>', "error_msg_invalid_xml"),
    ("<speech><url>https://h/x.mp3</url></speech>", "error_msg_invalid_xml"),
    ("<speech><speech>x</speech></speech>", "error_msg_invalid_xml"),
    ('<url type="audio">https://h/x.mp3</url>', "error_msg_invalid_xml"),
    ("<speech>&unknown;</speech>", "error_msg_invalid_xml"),
    ('<!DOCTYPE m [<!ENTITY e "x">]><speech>&e;</speech>', "error_msg_invalid_xml"),
    ('<?xml version="1.0"?><speech>x</speech>', "error_msg_invalid_xml"),
    ("<speech>x</speech><!-- note -->", "error_msg_invalid_xml"),
    ('<speech language="fr">bonjour</speech>', "error_msg_invalid_language"),
    ('<speech language="">x</speech>', "error_msg_invalid_language"),
    ('<speech language="en-us">x</speech>', "error_msg_invalid_language"),
    ('<speech gender="robot">x</speech>', "error_msg_invalid_gender"),
    ('<speech gender="">x</speech>', "error_msg_invalid_gender"),
    ("<url>ftp://h/x.mp3</url>", "error_msg_invalid_url"),
    ("<url>https://h/x.ogg</url>", "error_msg_invalid_url"),
    ("<url>https://h/mp3</url>", "error_msg_invalid_url"),
    ("<url>x.mp3</url>", "error_msg_invalid_url"),
    ("<url></url>", "error_msg_invalid_url"),
    ("<url>https://h/x.mp3 https://h/y.mp3</url>", "error_msg_invalid_url"),
])
def test_parse_msg_rejects(msg: str, status: str) -> None:
    with pytest.raises(MsgError) as info:
        parse_msg(msg)
    assert info.value.status == status
    assert info.value.detail and str(info.value) == info.value.detail
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("msg, text", [
    (None, ""),
    ("", ""),
    ("Hello there.", "Hello there."),
    ('<speech language="zh-CN">ni hao</speech>', "ni hao"),
    ("Hi. <url>https://h/a.mp3</url> Bye.", "Hi. [audio https://h/a.mp3] Bye."),
    ("<speech>broken", "<speech>broken"),   # unparseable markup is shown as written
])
def test_spoken_text(msg: str | None, text: str) -> None:
    assert spoken_text(msg) == text


def test_format_time_is_gmt8() -> None:
    moment = datetime(2012, 3, 4, 21, 6, 7, tzinfo=timezone.utc)
    assert format_time(moment) == "2012-03-05 05:06:07"
    assert format_time(moment.astimezone(protocol.HOIIO_TZ)) == "2012-03-05 05:06:07"


@pytest.mark.parametrize("text", ["2012-03-05 05:06:07", "2012-03-05 05:06:07.0",
                                  " 2012-03-05 05:06:07 ", "2012-03-05 05:06:07.000"])
def test_parse_time(text: str) -> None:
    moment = parse_time(text)
    assert moment == datetime(2012, 3, 5, 5, 6, 7, tzinfo=timezone(timedelta(hours=8)))
    assert moment.utcoffset() == timedelta(hours=8)
    assert moment.astimezone(timezone.utc) == datetime(2012, 3, 4, 21, 6, 7, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["2012-03-05 05:06:07", "2012-3-5 5:6:7", "2024-02-29 23:59:59",
                                  "2023-02-29 10:00:00", "2012-03-05 05:06:60",
                                  "2012-03-05 24:00:00", "2012-00-05 05:06:07",
                                  "٢٠١٢-03-05 05:06:07"])
def test_parse_time_takes_and_refuses_what_strptime_does(text: str) -> None:
    # The fast path for the usual zero-padded form must agree with strptime on any input.
    try:
        expected = datetime.strptime(text, protocol.TIME_FORMAT).replace(tzinfo=protocol.HOIIO_TZ)
    except ValueError:
        with pytest.raises(ValueError):
            parse_time(text)
    else:
        assert parse_time(text) == expected


def test_time_round_trip() -> None:
    moment = datetime(2024, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert parse_time(format_time(moment)) == moment


@pytest.mark.parametrize("text", ["", "2012-03-05", "2012-03-05T05:06:07", "05:06:07",
                                  "2012-13-05 05:06:07", "2012-03-05 25:06:07",
                                  "2012-03-05 05:06:07.x", "2012-03-05 05:06:07+08:00",
                                  "yesterday"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)
