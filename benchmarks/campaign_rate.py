"""Calls a second that a campaign places, against ``--cps``.

Run: ``python benchmarks/campaign_rate.py [--cps 4] [--numbers 40] [--processes 2]``

On loopback, in one run, the same numbers called twice, against the simulator (a real
clock 20 times faster than life) and the app served over HTTP, Redis on 127.0.0.1:

1. baseline: a hand-written loop in one process that paces ``ivr.dial`` itself, one call
   every ``1/cps`` seconds (what a team writes before it needs several workers);
2. campaign: ``hoiivr campaign start`` then ``hoiivr campaign worker --processes N``, the
   governor holding every worker to ``--cps``.

Each prints the calls a second between its first and its last dial, and that rate over
``--cps``: the campaign's ratio is at most 1 (the limit holds) and near it (the limit is
used). The simulator's peak of calls in progress and its refusals are printed too.
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path


from hoiivr.campaigns.store import CampaignStore
from hoiivr.simulator import RealClock, Simulator, SimulatorServer, Timing
from hoiivr.testing import LiveServer

REDIS = "redis://127.0.0.1:6379/0"
APP_ID, TOKEN = "CAMPAIGN-APP", "campaign-token"
APP = Path(__file__).resolve().parents[1] / "tests" / "campaigns" / "campaign_app.py"
HOIIVR = str(Path(sys.executable).with_name("hoiivr"))
TIMING = Timing(answer_after=2.0, words_per_second=5.0, prompt_padding=0.2)


def rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def baseline(app_module: object, numbers: list[str], cps: float) -> list[float]:
    """The hand-written loop: dial, sleep 1/cps, dial...; when each dial was placed."""
    ivr, app = app_module.ivr, app_module.app  # type: ignore[attr-defined]
    times = []
    for number in numbers:
        began = time.monotonic()
        ivr.dial(number, name="remind", state={"name": "Ann", "time": "10:00"}, app=app)
        times.append(time.monotonic())
        time.sleep(max(0.0, 1 / cps - (time.monotonic() - began)))
    return times


def campaign(env: dict[str, str], csv: Path, cps: float, processes: int,
             store: CampaignStore, count: int) -> list[float]:
    """When each call was placed, as seen in the campaign's count of dials (every 10 ms)."""
    subprocess.run([HOIIVR, "campaign", "start", str(APP), str(csv), "--name", "bench",
                    "--cps", str(cps), "--step", "remind"], env=env, check=True,
                   capture_output=True)
    worker = subprocess.Popen([HOIIVR, "campaign", "worker", str(APP), "--processes",
                               str(processes)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    times: list[float] = []
    try:
        deadline = time.monotonic() + 60 + 2 * count / cps
        while len(times) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"the campaign did not finish: {store.counts('bench')}")
            dials = store.counts("bench").get("dials", 0)
            times += [time.monotonic()] * (dials - len(times))
            time.sleep(0.01)
        return times
    finally:
        worker.terminate()
        worker.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cps", type=float, default=4.0)
    parser.add_argument("--numbers", type=int, default=40)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    prefix = f"bench-campaigns-{secrets.token_hex(6)}"
    sim = Simulator(clock=RealClock(speed=20.0), timing=TIMING)
    sim.add_account(APP_ID, TOKEN, balance="100000")
    sim_server = SimulatorServer(sim)
    sim_server.start()
    sys.path.insert(0, str(APP.parent))
    import campaign_app                                          # noqa: E402
    app_server = LiveServer(campaign_app.app).start()
    env = {"HOIIO_APP_ID": APP_ID, "HOIIO_ACCESS_TOKEN": TOKEN,
           "HOIIO_API_URL": sim_server.url + "/open/", "HOIIVR_PUBLIC_URL": app_server.url,
           "SECRET_KEY": "s" * 32, "HOIIVR_STORE": f"{REDIS}?prefix={prefix}:calls:",
           "HOIIVR_CAMPAIGNS_REDIS": REDIS, "HOIIVR_CAMPAIGNS_PREFIX": prefix}
    campaign_app.app.config.update(env)
    store = CampaignStore.from_url(REDIS, prefix)
    csv = Path(f"/tmp/{prefix}.csv")
    try:
        base_numbers = [f"+6591{i:06d}" for i in range(args.numbers)]
        base = rate(baseline(campaign_app, base_numbers, args.cps))
        numbers = [f"+6592{i:06d}" for i in range(args.numbers)]
        csv.write_text("number,name,time\n" + "".join(f"{n},Ann,10:00\n" for n in numbers))
        governed = rate(campaign({**os.environ, **env, "PYTHONPATH": str(APP.parent)}, csv,
                                 args.cps, args.processes, store, args.numbers))
        stats = sim.stats()["accounts"][APP_ID]
        print(f"--cps {args.cps:g}, {args.numbers} numbers, all answering")
        print(f"{'':34}{'calls/s':>9}{'/ --cps':>9}")
        print(f"{'baseline: one paced loop':34}{base:9.2f}{base / args.cps:9.2f}")
        print(f"{f'campaign: {args.processes} worker processes':34}{governed:9.2f}"
              f"{governed / args.cps:9.2f}")
        print(f"simulator: peak {stats['peak_concurrent_calls']} calls in progress, "
              f"{stats['refused_over_limit']} refused over its limits")
    finally:
        csv.unlink(missing_ok=True)
        keys = list(store.client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            store.client.delete(*keys)
        store.close()
        app_server.stop()
        sim_server.stop()
        sim.close()
        campaign_app.app.extensions["hoiivr"].close()


if __name__ == "__main__":
    main()
