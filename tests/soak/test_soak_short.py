"""The soak of benchmarks/soak.py, short: 20 concurrent calls for 15 s through 4 gunicorn
workers with 150 ms of provider latency, on the SQLite store and on the Redis store.

It fails on any failed call, duplicated or lost block, growing worker, live call left in
the store, or record left once the tombstones' 3 s have passed (see the script's
docstring); the full run is ``python benchmarks/soak.py``.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_short_soak_passes(store: str, redis_client: object) -> None:
    result = subprocess.run(
        [sys.executable, str(SOAK), "--stores", store, "--calls", "20", "--seconds", "15",
         "--speed", "4", "--tombstone-ttl", "3"],
        capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert f"[{store}] PASS" in result.stdout
    assert "0 records once the tombstones' time to live had passed" in result.stdout
