"""benchmarks/twilio_framework.py still runs: both apps under gunicorn on a TwiML number,
one call at a time for a moment, and the in-process section. Its figures mean nothing this
short; that every call went through, with as many webhooks in both apps, does. The full
run is ``python benchmarks/twilio_framework.py`` (see docs/parity.rst)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "twilio_framework.py"


@pytest.mark.slow
def test_a_tiny_run_of_the_twilio_benchmark_passes_its_checks() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--calls", "1", "--seconds", "0.3", "--repeat", "1",
         "--inprocess-calls", "2", "--rounds", "2"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    out = result.stdout
    assert "PASS  every app got the same webhooks per call" in out, out
    assert "PASS  no failed calls" in out, out
    assert "calls by webhooks per call: {6:" in out, out      # 2 rounds: 2 * 2 + 2
    assert "WSGI: hoiivr app, sqlite store" in out, out
