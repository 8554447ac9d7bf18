"""The package type-checks under ``mypy --strict`` (configured in setup.cfg)."""
from __future__ import annotations

from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parents[1]


def test_hoiivr_passes_mypy_strict() -> None:
    out, err, status = api.run(["--config-file", str(ROOT / "setup.cfg"), str(ROOT / "hoiivr")])
    assert status == 0, out + err


def test_a_misspelt_decorator_is_a_type_error_in_the_users_code(tmp_path: Path) -> None:
    # IVR explains a misspelt decorator at run time (a __getattr__), hidden from type
    # checkers: to them an IVR still has only its own attributes.
    app = tmp_path / "typo_app.py"
    app.write_text("from hoiivr import IVR\n\nivr = IVR()\n\n\n"
                   "@ivr.on_gathr('menu')\ndef menu(call: object) -> None:\n    return None\n")
    out, err, status = api.run(["--config-file", str(ROOT / "setup.cfg"), str(app)])
    assert status == 1, out + err
    assert 'typo_app.py:6: error: "IVR" has no attribute "on_gathr"' in out
