"""Campaigns end to end: real worker processes, real Redis, the simulator over HTTP."""
from __future__ import annotations

from .conftest import APP, World, numbers


def test_a_small_campaign_reaches_each_number_once_and_retries_the_busy(world: World) -> None:
    answer, busy, unanswered = numbers(12), numbers(3, 100), numbers(2, 200)
    for number in busy:
        world.sim.set_phone(number, "busy")
    for number in unanswered:
        world.sim.set_phone(number, "unanswered")
    csv = world.csv([f"{n},Ann {i},10:00" for i, n in enumerate(answer + busy + unanswered)])
    started = world.hoiivr("campaign", "start", APP, str(csv), "--name", "small",
                           "--attempts", "3", "--backoff", "0.2", "--step", "remind")
    assert started.returncode == 0, started.stderr
    assert "17 numbers, 17 queued" in started.stdout
    world.start_workers(processes=2)
    counts = world.wait_done("small", within=90)
    dials = world.dials()
    assert {n: dials[n] for n in answer} == {n: 1 for n in answer}
    assert {n: dials[n] for n in busy + unanswered} == {n: 3 for n in busy + unanswered}
    assert counts["answered"] == 12 and counts["exhausted"] == 5
    assert counts["busy"] == 9 and counts["unanswered"] == 6 and counts["dials"] == 27
    stats = world.sim.stats()["accounts"]["CAMPAIGN-APP"]
    assert stats["peak_concurrent_calls"] <= 8 and stats["refused_over_limit"] == 0
    said = sorted(state["name"] for state in world.app_module.answered)
    assert said == sorted(f"Ann {i}" for i in range(12))
    status = world.hoiivr("campaign", "status", "small")
    assert status.returncode == 0, status.stderr
    assert "17/17 (100%)" in status.stdout and "answered 12" in status.stdout
