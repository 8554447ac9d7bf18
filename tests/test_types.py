"""The package type-checks under ``mypy --strict`` (configured in setup.cfg)."""
from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[1]


def test_hoiivr_passes_mypy_strict() -> None:
    out, err, status = api.run(["--config-file", str(ROOT / "setup.cfg"), str(ROOT / "hoiivr")])
    assert status == 0, out + err
