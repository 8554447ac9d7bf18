"""The documentation is valid reStructuredText: a malformed table or a broken reference is
a test failure, not a page that renders as garbage."""
from __future__ import annotations

import io
from pathlib import Path

import docutils.core
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.rst", *sorted((ROOT / "docs").glob("*.rst"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_the_page_is_valid_restructuredtext(page: Path) -> None:
    warnings = io.StringIO()
    docutils.core.publish_doctree(page.read_text(encoding="utf-8"), source_path=str(page),
                                  settings_overrides={"warning_stream": warnings,
                                                      "report_level": 2, "halt_level": 5})
    assert warnings.getvalue() == ""
