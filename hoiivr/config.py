"""Settings: every key from ``app.config``, else from the environment variable of that name.

Credentials are read when they are first needed (the first notification, ``ivr.dial``,
``hoiivr run``), not when ``IVR(app)`` is mounted, so an app module imports anywhere; and
every missing key is reported in one message, not one per run.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

FALSE = frozenset({"0", "false", "no", "off", ""})


class Settings:
    """The configuration of one app: ``config`` (a dict such as ``app.config``) first,
    then ``environ`` (default ``os.environ``)."""

    def __init__(self, config: Mapping[str, Any],
                 environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ = os.environ if environ is None else environ

    def get(self, key: str, default: Any = None) -> Any:
        """``config[key]``, else the environment variable ``key``, else ``default``."""
        value = self.config.get(key)
        if value is not None:
            return value
        return self.environ.get(key, default)

    def flag(self, key: str, default: bool) -> bool:
        """A yes/no setting: ``false``, ``0``, ``no``, ``off`` and empty mean no."""
        return str(self.get(key, default)).strip().lower() not in FALSE

    def seconds(self, key: str, default: float) -> float:
        """A positive, finite number of seconds."""
        value = self.get(key, default)
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = math.nan
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ConfigError(f"{key} must be a positive number of seconds, not {value!r}")
        return seconds

    def words(self, key: str) -> list[str]:
        """A list setting: a list, or text with its items separated by commas."""
        value = self.get(key, [])
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return [str(item) for item in value]

    def required(self, *keys: str, why: str) -> list[str]:
        """The values of ``keys``; one :class:`ConfigError` naming every key that is unset."""
        missing = [key for key in keys if not self.get(key)]
        if missing:
            names = " and ".join(missing) if len(missing) < 3 else \
                ", ".join(missing[:-1]) + " and " + missing[-1]
            verb = "is" if len(missing) == 1 else "are"
            raise ConfigError(f"{names} {verb} not set ({why}). Set them in app.config or as "
                              "environment variables; `hoiivr dev` and "
                              "hoiivr.testing.Phone need none of them.")
        return [str(self.get(key)) for key in keys]
