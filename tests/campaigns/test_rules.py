"""The campaign's rules without processes: windows, the CSV, and each shared-state step
against the real Redis (a prefix of its own per test)."""
from __future__ import annotations

import io
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import redis

from hoiivr.campaigns import CampaignError, CampaignSettings, Window, read_numbers
from hoiivr.campaigns.numbers import Row
from hoiivr.campaigns.runner import Runner
from hoiivr.campaigns.status import Progress
from hoiivr.campaigns.store import CampaignStore
from hoiivr.errors import ApiError

from .conftest import REDIS

SGT = "Asia/Singapore"


def at(hour: int, minute: int = 0) -> datetime:
    """That time of day in Singapore (UTC+8), as an aware UTC datetime."""
    return datetime(2024, 5, 6, (hour - 8) % 24, minute, tzinfo=timezone.utc)


def test_a_window_says_how_long_until_it_opens() -> None:
    window = Window.parse("09:00-20:00", SGT)
    assert window.opens_in(at(9)) == 0 and window.opens_in(at(19, 59)) == 0
    assert window.opens_in(at(8)) == 3600
    assert window.opens_in(at(20)) == 13 * 3600
    night = Window.parse("21:00-02:00", SGT)
    assert night.opens_in(at(23)) == 0 and night.opens_in(at(1)) == 0
    assert night.opens_in(at(2)) == 19 * 3600
    assert str(Window.parse("00:00-24:00", "UTC")) == "00:00-24:00 UTC"


@pytest.mark.parametrize("text, tz, message", [
    ("9-20", SGT, "HH:MM-HH:MM"), ("09:00-09:00", SGT, "empty"),
    ("09:00-20:00", "Mars/Olympus", "IANA")])
def test_a_bad_window_says_how_to_write_one(text: str, tz: str, message: str) -> None:
    with pytest.raises(CampaignError, match=message):
        Window.parse(text, tz)


def test_the_csv_gives_rows_whose_other_columns_are_the_state() -> None:
    found = read_numbers(io.StringIO("\ufeffname,Phone,time\nAnn,+6591111111,10:00\n"
                                     "Bob,+6592222222,11:00\nAnn again,+6591111111,12:00\n"))
    assert found.rows == [Row("2", "+6591111111", {"name": "Ann", "time": "10:00"}),
                          Row("3", "+6592222222", {"name": "Bob", "time": "11:00"})]
    assert found.duplicates == [4]
    with pytest.raises(CampaignError, match=r"line 3: '6592222222'"):
        read_numbers(io.StringIO("number\n+6591111111\n6592222222\n"))
    with pytest.raises(CampaignError, match="no numbers"):
        read_numbers(io.StringIO("number\n"))


@pytest.mark.parametrize("data, words", [
    ("+6591111111,Ann\n+6592222222,Bob\n".encode(), "first line is a number"),
    ("number,name\n+6591111111,José\n".encode("cp1252"), "not UTF-8"),
    ("number,name\n+6591111111,Ann\n".encode("utf-16"), "not UTF-8"),
])
def test_a_csv_file_read_wrongly_is_refused_with_how_to_fix_it(data: bytes,
                                                               words: str) -> None:
    with pytest.raises(CampaignError, match=words):
        read_numbers(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_settings_refuse_what_cannot_work_and_double_the_backoff() -> None:
    settings = CampaignSettings("c", "p", backoff=10, max_backoff=25)
    assert [settings.backoff_before(n) for n in (2, 3, 4)] == [10, 20, 25]
    for bad in ({"attempts": 0}, {"concurrency": 0}, {"cps": 0}, {"window": "9"}):
        with pytest.raises(CampaignError):
            CampaignSettings("c", "p", **bad)
    with pytest.raises(CampaignError, match="no spaces"):
        CampaignSettings("two words", "p")


@pytest.fixture
def store() -> Iterator[CampaignStore]:
    s = CampaignStore.from_url(REDIS, f"test-campaigns-{secrets.token_hex(6)}")
    yield s
    keys = list(s.client.scan_iter(match=f"{s.prefix}*", count=1000))
    if keys:
        s.client.delete(*keys)
    s.close()


def campaign(store: CampaignStore, count: int, **options: object) -> tuple[CampaignSettings,
                                                                           list[Row]]:
    settings = CampaignSettings("c1", "pool", **options)  # type: ignore[arg-type]
    rows = [Row(str(i + 2), f"+6591{i:06d}", {}) for i in range(count)]
    assert store.create(settings, rows)
    return settings, rows


def test_the_governor_gives_out_no_more_slots_than_the_concurrency(store: CampaignStore
                                                                   ) -> None:
    settings, rows = campaign(store, 12, concurrency=8)
    verdicts: list[str] = []

    def take(row: Row) -> None:
        assert store.claim("c1", row.id, 1, "m" + row.id, 15000)[0] == "run"
        verdicts.append(store.start(settings, row, 1, "m" + row.id)[0])
    threads = [threading.Thread(target=take, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(verdicts) == ["full"] * 4 + ["go"] * 8
    assert store.live_calls("pool") == 8 and store.counts("c1")["live"] == 8
    going = [row for row in rows if store.progress("c1", row.id)["phase"] == "dialing"]
    waiting = [row for row in rows if row not in going]
    assert store.outcome("c1", "pool", going[0].id, 1, going[0].number, "ended",
                         "busy") == "ok"
    assert store.start(settings, waiting[0], 1, "m" + waiting[0].id)[0] == "go"
    assert store.start(settings, waiting[1], 1, "m" + waiting[1].id)[0] == "full"


def test_the_governor_paces_new_calls(store: CampaignStore) -> None:
    settings, rows = campaign(store, 2, concurrency=None, cps=2)
    for row in rows:
        store.claim("c1", row.id, 1, "m", 15000)
    assert store.start(settings, rows[0], 1, "m")[0] == "go"
    verdict = store.start(settings, rows[1], 1, "m")
    assert verdict[0] == "pace" and 0 < int(verdict[1]) <= 500


def test_a_row_is_held_by_one_message_and_taken_over_by_its_redelivery(
        store: CampaignStore) -> None:
    settings, (row,) = campaign(store, 1)
    assert store.claim("c1", row.id, 1, "m1", 15000) == ["run", "pending"]
    assert store.claim("c1", row.id, 1, "m2", 15000) == ["held"]          # a duplicate
    assert store.start(settings, row, 1, "m1")[0] == "go"
    assert store.claim("c1", row.id, 1, "m1", 15000) == ["run", "dialing"]  # redelivered
    assert store.start(settings, row, 1, "m1") == ["moved"]       # never dialled twice
    store.outcome("c1", "pool", row.id, 1, row.number, "ended", "unanswered")
    assert store.advance("c1", row.id, 1, "m1", True, 0)[0] == "ok"
    store.let_go("c1", row.id, "m1")
    # The first attempt's message again, after the row moved on: the next one is sent.
    assert store.claim("c1", row.id, 1, "m1", 15000)[0] == "forward"
    assert store.claim("c1", row.id, 2, "m3", 15000) == ["run", "pending"]
    assert store.claim("c1", row.id, 1, "m1", 15000) == ["stale"]


def test_an_answered_number_is_never_called_again(store: CampaignStore) -> None:
    settings, (row,) = campaign(store, 1)
    store.claim("c1", row.id, 1, "m1", 15000)
    store.start(settings, row, 1, "m1")
    assert store.outcome("c1", "pool", row.id, 1, row.number, "answered", "answered") == "ok"
    assert store.claim("c1", row.id, 1, "m9", 15000) == ["final", "answered"]
    store.outcome("c1", "pool", row.id, 1, row.number, "ended", "answered")
    assert store.live_calls("pool") == 0
    assert store.counts("c1")["answered"] == 1


def test_a_number_on_the_do_not_call_list_is_not_called(store: CampaignStore) -> None:
    settings, (row,) = campaign(store, 1)
    store.do_not_call([row.number])
    dialled: list[str] = []
    runner = Runner(store, lambda s, r, a: dialled.append(r.number) or "S1",
                    lambda *args: None)
    assert runner.run("c1", row.id, 1) == "done"
    assert dialled == [] and store.progress("c1", row.id)["final"] == "dnc"


def test_the_do_not_call_list_refuses_numbers_no_call_is_placed_to(store: CampaignStore
                                                                    ) -> None:
    """A call's number is E.164: "6591234567" on the list would never match it, and that
    person would be called."""
    with pytest.raises(CampaignError) as info:
        store.do_not_call(["+6591234560", "6591234567", "+65 9123 4568"])
    assert "'6591234567' (did you mean '+6591234567'?)" in str(info.value)
    assert "'+65 9123 4568' (did you mean '+6591234568'?)" in str(info.value)
    assert not store.is_do_not_call("+6591234560")            # nothing was added
    with pytest.raises(CampaignError):
        store.may_call_again(["6591234567"])
    assert store.do_not_call([" +6591234567 "]) == 1
    assert store.is_do_not_call("+6591234567")


def test_outside_the_window_the_job_is_sent_again_for_its_opening(store: CampaignStore
                                                                  ) -> None:
    settings, (row,) = campaign(store, 1, window="09:00-20:00", tz=SGT)
    later: list[tuple[str, str, int, float]] = []
    runner = Runner(store, lambda *a: pytest.fail("dialled outside the window"),
                    lambda *args: later.append(args), now=lambda: at(7, 30))
    assert runner.run("c1", row.id, 1) == "later"
    assert later == [("c1", row.id, 1, 5400.0)]


def test_a_job_that_waited_for_a_slot_past_the_windows_end_does_not_dial(
        store: CampaignStore) -> None:
    """The window was open when the job began; it closed while every slot was taken."""
    settings, (busy, row) = campaign(store, 2, concurrency=1, window="09:00-20:00", tz=SGT)
    store.claim("c1", busy.id, 1, "m1", 15000)
    assert store.start(settings, busy, 1, "m1")[0] == "go"       # the only slot
    readings = [at(19, 59)]                                       # then 20:01, for good
    later: list[tuple[str, str, int, float]] = []
    runner = Runner(store, lambda *a: pytest.fail("dialled after the window closed"),
                    lambda *args: later.append(args),
                    now=lambda: readings.pop() if readings else at(20, 1))
    runner.poll = 0.05
    assert runner.run("c1", row.id, 1) == "later"
    assert later and later[0][3] > 12 * 3600                      # tomorrow at nine
    assert store.progress("c1", row.id)["phase"] == "pending"


def test_a_dial_slower_than_the_hold_keeps_its_row(store: CampaignStore) -> None:
    """The carrier's request may take longer than the hold (timeouts, a busy reply
    waited on): the job keeps the row, and its retry is scheduled."""
    settings, (row,) = campaign(store, 1, attempts=2, backoff=0)
    later: list[tuple[str, str, int, float]] = []

    def slow_dial(s: CampaignSettings, r: Row, attempt: int) -> str:
        time.sleep(0.3)                                           # past the 0.1 s hold
        store.outcome("c1", "pool", r.id, attempt, r.number, "ended", "busy")
        return "S1"
    runner = Runner(store, slow_dial, lambda *args: later.append(args))
    runner.hold = 0.1
    assert runner.run("c1", row.id, 1) == "retry"
    assert later == [("c1", row.id, 2, 0.0)]


def test_a_refusal_over_the_carriers_limit_is_not_counted_as_an_attempt(
        store: CampaignStore) -> None:
    settings, (row,) = campaign(store, 1, attempts=1)
    refusals = [ApiError("error_concurrent_call_limit_reached", "ivr/start/dial")]

    def dial(s: CampaignSettings, r: Row, attempt: int) -> str:
        if refusals:
            raise refusals.pop()
        # The app hears of the call as the carrier places it.
        store.outcome("c1", "pool", r.id, attempt, r.number, "ended", "busy")
        return "S1"
    runner = Runner(store, dial, lambda *args: None)
    runner.poll = 0.05
    assert runner.run("c1", row.id, 1) == "exhausted"
    assert store.counts("c1")["refused"] == 1 and store.counts("c1")["busy"] == 1
    assert store.counts("c1")["dials"] == 1 == int(store.progress("c1", row.id)["dials"])
    assert store.live_calls("pool") == 0


def test_an_answered_call_whose_end_is_never_heard_gives_its_slot_back_with_its_lease(
        store: CampaignStore) -> None:
    """The app heard the answer, but the call's end webhook was lost: the job waits for
    the end as for any call in progress, and when the lease runs out takes its slot back.
    The status's live count comes back to 0 (it counted the call forever), and the number
    stays answered, not lost nor called again."""
    _, (row,) = campaign(store, 1, lease=0.5)

    def dial(s: CampaignSettings, r: Row, attempt: int) -> str:
        store.outcome("c1", "pool", r.id, attempt, r.number, "answered", "answered")
        return "S1"                                               # its end is never heard
    runner = Runner(store, dial, lambda *args: pytest.fail("an answered number retried"))
    runner.poll = 0.05
    verdict = runner.run("c1", row.id, 1)
    counts = store.counts("c1")
    assert counts["live"] == 0 and store.live_calls("pool") == 0
    lines = Progress.of(counts).lines("c1")
    assert "1/1 (100%)  done" in lines[0] and "answered 1 " in lines[1]
    assert "live 0 · to call 0" in lines[1] and "lost 0" in lines[2]
    assert verdict == "done" and store.progress("c1", row.id)["final"] == "answered"
    # The end heard late changes nothing: the slot is not given back twice.
    assert store.outcome("c1", "pool", row.id, 1, row.number, "ended", "answered") == "stale"
    assert store.counts("c1")["live"] == 0 and store.counts("c1")["answered"] == 1


def test_a_job_that_died_during_an_answered_call_is_taken_over_by_its_redelivery(
        store: CampaignStore) -> None:
    """Its message comes back (its worker died, or the job raised): the copy waits for the
    call's end (or its lease) in its place; another message for the row stops there."""
    settings, (row,) = campaign(store, 1, lease=0.5)
    assert store.claim("c1", row.id, 1, "m1", 15000) == ["run", "pending"]
    assert store.start(settings, row, 1, "m1")[0] == "go"
    assert store.outcome("c1", "pool", row.id, 1, row.number, "answered", "answered") == "ok"
    # m1's job dies here, holding the row.
    assert store.claim("c1", row.id, 1, "m2", 15000) == ["final", "answered"]
    runner = Runner(store, lambda *a: pytest.fail("dialled an answered number"),
                    lambda *a: pytest.fail("an answered number retried"))
    runner.poll = 0.05
    assert runner.run("c1", row.id, 1, "m1") == "done"
    assert store.counts("c1")["live"] == 0 and store.live_calls("pool") == 0
    assert runner.run("c1", row.id, 1, "m1") == "final"          # and once done, no more


def test_a_wait_longer_than_the_clients_socket_timeout_returns_quietly(
        store: CampaignStore) -> None:
    """redis-py waits for a reply at most its socket timeout (5 s by default): a wait of a
    job (for its call's news, for a slot) must not outlast it, or it raises TimeoutError."""
    quick = CampaignStore(redis.Redis.from_url(REDIS, decode_responses=True,
                                               socket_timeout=1.0), store.prefix)
    try:
        began = time.monotonic()
        quick.wait_for_news("c1", "2", 3.0)
        quick.wait_for_slot("pool", 3.0)
        assert time.monotonic() - began < 3.0
    finally:
        quick.close()
    began = time.monotonic()                  # a client made with redis-py's default (5 s)
    store.wait_for_news("c1", "2", 6.0)
    assert time.monotonic() - began < 5.0


@pytest.mark.parametrize("url", ["redis://:hunter2@127.0.0.1:port/0",
                                 "redis://127.0.0.1:port/0?password=hunter2"])
def test_a_bad_campaign_redis_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(CampaignError, match="campaign Redis URL 'redis://") as info:
        CampaignStore.from_url(url)
    assert "hunter2" not in str(info.value) and "***" in str(info.value)
