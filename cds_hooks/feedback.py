"""Feedback endpoint body (spec §Feedback; checklist E1-E4) and the feedback report.

Accepts the 2.0 body `{"feedback": [...]}` and, leniently, the older single
feedback object (HAPI's 1.1-ballot shape). Each item is checked field by field;
a malformed body gives 400. Storage is idempotent (the same card may be
reported several times, E3).
"""

from __future__ import annotations

import re
import uuid as uuid_mod
from datetime import UTC, datetime
from typing import Any

from cds_hooks.codes import override_display
from cds_hooks.errors import BadRequest

OUTCOMES = ("accepted", "overridden")
# RFC 3339 §5.6 `date-time`, offset required; "T" and "Z" may be lower case (its §5.6 note).
# datetime.fromisoformat alone is ISO 8601-lenient (week dates, basic format, no offset).
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)


def _timestamp(value: Any, where: str) -> datetime:
    """An RFC 3339 date-time with its offset (E2), in UTC; calendar ranges are datetime's checks."""
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise BadRequest(f"{where}.outcomeTimestamp must be an RFC 3339 date-time with an offset")
    try:
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except ValueError:  # a day, hour or second out of range
        raise BadRequest(f"{where}.outcomeTimestamp must be an RFC 3339 date-time with an offset") from None
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise BadRequest(f"{where}.outcomeTimestamp is out of range once in UTC (years 1 to 9999)") from None


def _card_uuid(value: Any, where: str) -> str:
    if isinstance(value, dict):  # lenient: {"uuid": ...}
        value = value.get("uuid")
    if not isinstance(value, str):
        raise BadRequest(f"{where}.card must be the card's uuid")
    try:
        return str(uuid_mod.UUID(value))
    except ValueError:
        raise BadRequest(f"{where}.card must be the card's uuid") from None


def parse_feedback(body: Any) -> list[Any]:
    """-> list of storage FeedbackItem; raises BadRequest."""
    from storage import FeedbackItem

    if isinstance(body, dict) and "feedback" in body:
        items = body["feedback"]
        if not isinstance(items, list) or not items:
            raise BadRequest("feedback must be a non-empty array")
    elif isinstance(body, dict) and "card" in body:
        items = [body]
    else:
        raise BadRequest('body must be {"feedback": [...]}')
    parsed = []
    for i, item in enumerate(items):
        where = f"feedback[{i}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where} must be an object")
        if "extension" in item and not isinstance(item["extension"], dict):
            raise BadRequest(f"{where}.extension must be an object")
        card = _card_uuid(item.get("card"), where)
        outcome = item.get("outcome")
        if outcome not in OUTCOMES:
            raise BadRequest(f"{where}.outcome must be accepted or overridden")
        timestamp = _timestamp(item.get("outcomeTimestamp"), where)
        accepted = _accepted(item, outcome, where)
        code, system, display, comment = _override(item, outcome, where)
        parsed.append(
            FeedbackItem(
                card_uuid=card,
                outcome=outcome,
                outcome_timestamp=timestamp,
                accepted_suggestions=list(accepted),
                override_code=code,
                override_system=system,
                override_display=display,
                user_comment=comment,
            )
        )
    return parsed


def _accepted(item: dict[str, Any], outcome: str, where: str) -> tuple[str, ...]:
    value = item.get("acceptedSuggestions")
    if outcome == "overridden":
        if value:
            raise BadRequest(f"{where}.acceptedSuggestions only with outcome accepted")
        return ()
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{where}.acceptedSuggestions is required when accepted")
    ids = []
    for suggestion in value:
        sid = suggestion.get("id") if isinstance(suggestion, dict) else None
        if not isinstance(sid, str) or not sid:
            raise BadRequest(f"{where}.acceptedSuggestions[].id is required")
        ids.append(sid)
    return tuple(ids)


def _override(item: dict[str, Any], outcome: str, where: str) -> tuple[str | None, ...]:
    value = item.get("overrideReason")
    if value is None:
        return None, None, None, None
    if outcome != "overridden":
        raise BadRequest(f"{where}.overrideReason only with outcome overridden")
    if not isinstance(value, dict):
        raise BadRequest(f"{where}.overrideReason must be an object")
    reason = value.get("reason")
    comment = value.get("userComment")
    if comment is not None and not isinstance(comment, str):
        raise BadRequest(f"{where}.overrideReason.userComment must be a string")
    if reason is None:
        return None, None, None, comment
    if (
        not isinstance(reason, dict)
        or not isinstance(reason.get("code"), str)
        or not isinstance(reason.get("system"), str)
        or not reason["code"].strip()
        or not reason["system"].strip()
    ):
        raise BadRequest(f"{where}.overrideReason.reason must be a Coding with a code and a system")
    from storage import OVERRIDE_CODE_MAX_LENGTH

    if len(reason["code"]) > OVERRIDE_CODE_MAX_LENGTH:
        raise BadRequest(
            f"{where}.overrideReason.reason.code is longer than {OVERRIDE_CODE_MAX_LENGTH} characters"
        )
    display = reason.get("display") if isinstance(reason.get("display"), str) else None
    return reason["code"], reason["system"], display, comment


# ---------------------------------------------------------------- report


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def feedback_report_text(storage: Any | None = None) -> str:
    """Acceptance and override rates per finding id and per override reason (`aa-jak feedback-report`).

    Rates are over cards issued (storage's `FeedbackStat`); needs an app context
    when `storage` is not given.
    """
    if storage is None:
        from storage import get_storage

        storage = get_storage()
    stats = list(storage.feedback_report())
    if not stats:
        return "No CDS cards or feedback recorded yet.\n"
    width = max(len("finding id"), *(len(s.finding_id) for s in stats))
    columns = f"{'issued':>6}  {'accepted':>8}  {'overridden':>10}  {'accept':>6}  {'override':>8}"
    header = f"{'finding id':<{width}}  {columns}"
    lines = ["CDS card feedback by finding", "", header, "-" * len(header)]
    for stat in stats:
        lines.append(
            f"{stat.finding_id:<{width}}  {stat.cards_issued:>6}  {stat.accepted:>8}  {stat.overridden:>10}  "
            f"{_rate(stat.acceptance_rate):>6}  {_rate(stat.override_rate):>8}"
        )
    reasons = [(stat, code, count) for stat in stats for code, count in sorted(stat.override_reasons.items())]
    if reasons:
        lines += ["", "Override reasons (share of the finding's overridden cards)", ""]
        for stat, code, count in reasons:
            label = override_display(code) or code
            share = f"{100 * count / stat.overridden:.0f}%" if stat.overridden else "-"
            lines.append(f"{stat.finding_id:<{width}}  {count:>4}  {share:>5}  {label}")
    return "\n".join(lines) + "\n"
