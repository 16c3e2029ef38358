"""Synthetic patients are written against one anchor date; `reanchor` moves them to another day.

Every scenario bundle in `synthetic_patients/` describes a patient as seen on
`ANCHOR_DATE` (the frozen "today"). The tests evaluate at `ANCHOR_DATE`; the
sandbox loader calls `reanchor(bundle, date_it_wants)` so that "ALC two weeks ago"
stays two weeks ago whatever the day (the opioid CDS "date roller", done on load,
never by rewriting the files).

What is shifted: every FHIR `date`, `dateTime` and `instant` value, found by the
element name (`birthDate`, `authoredOn`, `issued`, `effectiveDateTime`,
`occurrenceDateTime`, `onsetDateTime`, `recordedDate`, `Period.start`/`end` of
`validityPeriod`, `boundsPeriod`, `effectivePeriod` ..., `Timing.event`, and any
element whose name ends in `Date`, `DateTime` or `Instant`) AND by the value
looking like a FHIR date. Strings elsewhere (`valueString`, identifiers, codes)
are never touched, and a malformed date is left as it is for the extraction to
report.

Precision and time zones are kept: `2025-03` stays a year-month, `2025` a year,
and `2025-03-04T10:15:00.250+01:00` keeps its time, fraction and offset. A
partial date is read as the first day of its month or year, shifted by the
days, then truncated back to the same precision.

Ages: birth date and "today" move by the same days, so an age on the new day is
the age on the anchor, except by one day when a 29 February lies in one span and
not the other (a patient whose birthday is the anchor day can be a day short).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

__all__ = ["ANCHOR_DATE", "reanchor"]

ANCHOR_DATE: date = date(2026, 1, 15)
"""The frozen "today" every synthetic patient is written against."""

# FHIR date / dateTime / instant (R4 regexes, simplified): YYYY, YYYY-MM, YYYY-MM-DD,
# or YYYY-MM-DDThh:mm:ss(.fff)(Z|+hh:mm|-hh:mm). Anything after the day is kept verbatim.
_DATE_VALUE = re.compile(
    r"^(?P<year>[0-9]{4})"
    r"(?:-(?P<month>0[1-9]|1[0-2])"
    r"(?:-(?P<day>0[1-9]|[12][0-9]|3[01])"
    r"(?P<rest>T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?"
    r")?)?$"
)

# Element names that hold a date, dateTime or instant in the resources the product uses
# (besides every name ending in Date / DateTime / Instant). `start`/`end` are Period's.
_DATE_ELEMENTS = frozenset(
    {
        "authoredOn",
        "issued",
        "recorded",
        "lastUpdated",
        "timestamp",
        "date",
        "start",
        "end",
        "event",  # Timing.event: a list of dateTimes
        "time",  # Annotation.time (a valueTime "10:00:00" does not look like a date)
        "whenPrepared",
        "whenHandedOver",
        "lastOccurrence",
        "created",
        "sent",
        "received",
    }
)
_DATE_SUFFIXES = ("Date", "DateTime", "Instant")


def _is_date_element(name: str) -> bool:
    return name in _DATE_ELEMENTS or name.endswith(_DATE_SUFFIXES)


def _shift_value(value: str, days: int) -> str:
    """`value` moved by `days`, at its own precision; unchanged if it is not a FHIR date."""
    match = _DATE_VALUE.match(value)
    if match is None:
        return value
    year = int(match["year"])
    month = int(match["month"]) if match["month"] else None
    day = int(match["day"]) if match["day"] else None
    try:
        start = date(year, month or 1, day or 1)
        moved = start + timedelta(days=days)
    except (ValueError, OverflowError):
        return value  # 2025-02-30 or out of range: leave it for the extraction to report
    if month is None:
        return f"{moved.year:04d}"
    if day is None:
        return f"{moved.year:04d}-{moved.month:02d}"
    return moved.isoformat() + (match["rest"] or "")


def _walk_object(node: dict[str, Any], days: int) -> dict[str, Any]:
    return {key: _walk(value, days, _is_date_element(key)) for key, value in node.items()}


def _walk(node: Any, days: int, date_element: bool) -> Any:
    if isinstance(node, dict):
        return _walk_object(node, days)
    if isinstance(node, list):
        return [_walk(item, days, date_element) for item in node]
    if date_element and isinstance(node, str):
        return _shift_value(node, days)
    return node


def reanchor(bundle: dict[str, Any], to: date) -> dict[str, Any]:
    """A deep copy of `bundle` with every FHIR date moved by `to - ANCHOR_DATE` days.

    The patient then looks on `to` exactly as it looked on `ANCHOR_DATE`: ages,
    therapy weeks and "days since" are unchanged. Works on a single resource as
    well as on a Bundle; contained resources are shifted too.
    """
    return _walk_object(bundle, (to - ANCHOR_DATE).days)
