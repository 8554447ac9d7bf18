"""The ``hoiivr`` command. Subcommands register here; ``hoiivr --help`` lists them."""
from __future__ import annotations

from typing import Any

import click

from ..errors import HoiivrError
from .campaign import campaign_command
from .dev import call_command, dev_command
from .replay import replay_command
from .routes import routes_command
from .run import run_command
from .simulator import simulator_command

__all__ = ["main"]


class _Commands(click.Group):
    """The subcommands, whose hoiivr errors (each saying how to fix it) are printed as a
    message, not a traceback: whichever command meets one, wherever."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HoiivrError as exc:
            raise click.ClickException(str(exc)) from None


@click.group("hoiivr", cls=_Commands)
@click.version_option(package_name="hoiivr", prog_name="hoiivr")
def main() -> None:
    """The hoiivr command: tools for IVR apps on Hoiio and Twilio.

    Start with `hoiivr dev examples/auto_attendant.py`: it runs the app against the
    embedded simulator and makes your terminal the caller's phone.
    """


main.add_command(simulator_command)
main.add_command(run_command)
main.add_command(routes_command)
main.add_command(dev_command)
main.add_command(call_command)
main.add_command(replay_command)
main.add_command(campaign_command)
