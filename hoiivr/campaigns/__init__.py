"""Outbound call campaigns on a shared task queue (``pip install -e '.[campaigns]'``).

Appointment reminders, surveys, alerts: thousands of calls under the carrier's limits,
placed by worker processes on any number of hosts, governed across all of them (calls in
progress at once, new calls a second), retried when busy or unanswered, inside calling
hours, never to a number on the do-not-call list, never twice at once to one number and
never again once answered. ``docs/campaigns.rst`` tells how, and what happens on a crash.

The app adds one line, so that its webhooks report each campaign call's outcome::

    from hoiivr.campaigns import Campaigns
    Campaigns(ivr)

Then ``hoiivr campaign start APP numbers.csv --name NAME``, ``hoiivr campaign worker APP
--processes 3`` and ``hoiivr campaign status NAME``.
"""
from __future__ import annotations

from .errors import CampaignError
from .hook import MARK, Campaigns
from .numbers import Row, read_numbers
from .settings import CampaignSettings
from .window import Window

__all__ = ["MARK", "CampaignError", "CampaignSettings", "Campaigns", "Row", "Window",
           "read_numbers"]
