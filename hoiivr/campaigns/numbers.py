"""A campaign's numbers, from a CSV file: one call per row, the row's other columns become
the call's ``call.state``.

The number is the column named ``number`` (or ``phone``), else the first one. A number
that is not E.164 is refused with its line; a number given twice is called once (the first
row's columns win), and the duplicates are reported.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..protocol import is_e164
from .errors import CampaignError

NUMBER_COLUMNS = ("number", "phone")


@dataclass(frozen=True)
class Row:
    """One number to call, with the state its call starts with. ``id`` is its line."""

    id: str
    number: str
    state: dict[str, Any]


@dataclass
class Numbers:
    """The rows read, and the lines left out."""

    rows: list[Row] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)


def read_numbers(source: TextIO) -> Numbers:
    """The rows of the CSV ``source``; :class:`CampaignError` names each bad line."""
    try:
        text = source.read()
    except UnicodeDecodeError:
        raise CampaignError("the CSV file is not UTF-8 text; save it as \"CSV UTF-8\" "
                            "(a spreadsheet's Save As offers it)") from None
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames:
        raise CampaignError("the CSV file is empty; its first line names the columns, e.g. "
                            "number,name,appointment")
    if any(is_e164(name.strip()) for name in reader.fieldnames):
        # Read as a header, that first number would never be called.
        raise CampaignError("the CSV file's first line is a number, not the names of its "
                            "columns; add a header line, e.g. number,name,appointment")
    column = _number_column(list(reader.fieldnames))
    found = Numbers()
    seen: set[str] = set()
    bad: list[str] = []
    for row in reader:
        line = reader.line_num
        number = (row.get(column) or "").strip()
        if not is_e164(number):
            bad.append(f"line {line}: {number!r}")
            continue
        if number in seen:
            found.duplicates.append(line)
            continue
        seen.add(number)
        state = {k: v for k, v in row.items() if k != column and k is not None}
        found.rows.append(Row(str(line), number, state))
    if bad:
        raise CampaignError("these numbers are not E.164 (+ and the country code, e.g. "
                            "+6561234567): " + "; ".join(bad[:10])
                            + (f"; and {len(bad) - 10} more" if len(bad) > 10 else ""))
    if not found.rows:
        raise CampaignError("the CSV file has no numbers under its header line")
    return found


def _number_column(names: list[str]) -> str:
    for name in names:
        if name.strip().lower() in NUMBER_COLUMNS:
            return name
    return names[0]
