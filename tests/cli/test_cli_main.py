"""hoiivr --help: the list of commands reads whole."""
from __future__ import annotations

import pytest

from hoiivr.cli import main


@pytest.mark.parametrize("width", [80, 100])
def test_every_command_summary_is_whole(runner, width):
    result = runner.invoke(main, ["--help"], terminal_width=width)
    assert result.exit_code == 0, result.output
    commands = result.output.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in commands] == sorted(main.commands)
    for line in commands:
        summary = line.split(None, 1)[1]
        assert not summary.endswith("..."), line
        assert summary.endswith("."), line
