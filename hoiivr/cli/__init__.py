"""The ``hoiivr`` command. Subcommands register here; ``hoiivr --help`` lists them."""
from __future__ import annotations

import click

from .campaign import campaign_command
from .dev import call_command, dev_command
from .replay import replay_command
from .routes import routes_command
from .run import run_command
from .simulator import simulator_command

__all__ = ["main"]


@click.group("hoiivr")
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
