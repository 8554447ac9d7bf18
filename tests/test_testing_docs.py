"""docs/testing.rst runs as printed: each file it shows is written out and run with pytest,
on both carriers, so an example that stops working fails the suite.

A literal block whose paragraph starts with a file name in double backquotes (as in
"``frontdesk.py``::") is that file; every other literal block must be a shell session (``$ ...``), so no Python
on the page goes unrun. The page shows ``conftest.py`` twice: the test files run once
with each, the first also with ``HOIIVR_CARRIER=twilio``. A file introduced as failing on
purpose runs alone, must fail, and its report must hold the lines the page prints.
"""
from __future__ import annotations

import fnmatch
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "testing.rst"
LITERAL = re.compile(r"::\n\n((?:    .*\n|\n)+)")
FILE_NAME = re.compile(r"``([\w.]+\.py)``(.*)", re.S)
#: What changes from run to run in a report: call ids, latencies, the separators' width.
VARYING = [(re.compile(r"\b(S\d{24}|CA[0-9a-f]{32})\b"), "*"),
           (re.compile(r"in \d+(\.\d+)? ms"), "in * ms"), (re.compile(r"-{5,}"), "*")]
ISOLATED = ("HOIIVR_CARRIER", "HOIIVR_STORE", "HOIIO_APP_ID", "HOIIO_ACCESS_TOKEN",
            "SECRET_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PYTEST_ADDOPTS")


@dataclass
class Page:
    files: dict[str, str] = field(default_factory=dict)
    conftests: list[str] = field(default_factory=list)
    failing: dict[str, str] = field(default_factory=dict)
    shells: list[str] = field(default_factory=list)
    unrun: list[str] = field(default_factory=list)


def read_page() -> Page:
    page = Page()
    text = PAGE.read_text(encoding="utf-8")
    for block in LITERAL.finditer(text):
        # The paragraph the block ends: what it is.
        intro = text[text.rfind("\n\n", 0, block.start()) + 2:block.start()]
        code = textwrap.dedent(block.group(1)).strip("\n") + "\n"
        named = FILE_NAME.match(intro)
        if named is None:
            (page.shells if code.startswith("$ ") else page.unrun).append(code)
        elif named.group(1) == "conftest.py":
            page.conftests.append(code)
        elif "fails on purpose" in named.group(2):
            page.failing[named.group(1)] = code
        else:
            assert named.group(1) not in page.files, f"{named.group(1)} is shown twice"
            page.files[named.group(1)] = code
    return page


PAGE_FILES = read_page()


def test_the_page_shows_every_worked_example_and_runs_all_its_code() -> None:
    assert {"frontdesk.py", "test_recording.py", "test_timeout.py", "test_failed_transfer.py",
            "test_busy_destination.py"} <= set(PAGE_FILES.files)
    assert len(PAGE_FILES.conftests) == 2 and PAGE_FILES.failing
    assert PAGE_FILES.unrun == [], "a literal block that is neither a file nor a shell session"


def write_project(pytester: pytest.Pytester, conftest: str, files: dict[str, str]) -> None:
    pytester.makeconftest(conftest)
    for name, code in files.items():
        pytester.path.joinpath(name).write_text(code, encoding="utf-8")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ISOLATED:
        monkeypatch.delenv(name, raising=False)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-W", "error", *args)


def count_tests(files: dict[str, str]) -> int:
    return sum(code.count("\ndef test_") + code.startswith("def test_")
               for code in files.values())


@pytest.mark.parametrize(("conftest", "carrier"), [(0, None), (0, "twilio"), (1, None)],
                         ids=["conftest", "conftest-on-twilio", "conftest-for-both"])
def test_the_examples_pass(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                           conftest: int, carrier: str | None) -> None:
    if carrier:
        monkeypatch.setenv("HOIIVR_CARRIER", carrier)
    write_project(project, PAGE_FILES.conftests[conftest], PAGE_FILES.files)
    result = run(project)
    outcomes = result.parseoutcomes()
    assert set(outcomes) == {"passed"}, result.stdout.str()
    assert outcomes["passed"] >= count_tests(PAGE_FILES.files) * (1 + conftest)


def test_a_failing_test_reports_its_calls_as_the_page_shows(project: pytest.Pytester) -> None:
    [(name, code)] = PAGE_FILES.failing.items()
    write_project(project, PAGE_FILES.conftests[0],
                  {"frontdesk.py": PAGE_FILES.files["frontdesk.py"], name: code})
    result = run(project, name)
    result.assert_outcomes(failed=1)
    [shown] = [shell for shell in PAGE_FILES.shells if shell.startswith(f"$ pytest -q {name}")]
    result.stdout.fnmatch_lines([pattern(line) for line in shown.splitlines()[1:]
                                 if line.strip() != "..."])


def pattern(line: str) -> str:
    """An fnmatch pattern for a line of a printed report."""
    text = line.strip().replace("[", "[[]")
    for varying, wildcard in VARYING:
        text = varying.sub(wildcard, text)
    return f"*{text}*"


def test_a_pattern_matches_another_runs_line() -> None:
    shown = "call S860788454332735305886358 inbound: talking ... HTTP 200 in 7.7 ms"
    assert fnmatch.fnmatch("call S123456789012345678901234 inbound: talking ... HTTP 200 in "
                           "12 ms  ", pattern(shown))
    assert not fnmatch.fnmatch("call S1 inbound: ringing", pattern(shown))
