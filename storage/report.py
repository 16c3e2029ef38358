"""The feedback report: per finding, how clinicians answered its cards (CDS Hooks 2.0 §Feedback)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.records import FeedbackStat
from storage.schema import card_issued, feedback

UNKNOWN_FINDING = "unknown"
UNSPECIFIED_REASON = "unspecified"


def feedback_report(connection: Connection) -> list[FeedbackStat]:
    """One `FeedbackStat` per finding id, sorted by finding id.

    `card_issued` has a row per (card, finding), so a card grouping several findings counts,
    with its feedback, once for each of them.
    """
    finding = sa.func.coalesce(card_issued.c.finding_id, UNKNOWN_FINDING)
    answered = feedback.outerjoin(
        card_issued,
        sa.and_(
            card_issued.c.service_id == feedback.c.service_id,
            card_issued.c.card_uuid == feedback.c.card_uuid,
        ),
    )
    cards_answered = sa.func.count(sa.distinct(feedback.c.card_uuid))

    issued: dict[str, int] = {
        finding_id: count
        for finding_id, count in connection.execute(
            sa.select(card_issued.c.finding_id, sa.func.count()).group_by(card_issued.c.finding_id)
        )
    }
    outcomes: dict[tuple[str, str], int] = {
        (finding_id, outcome): count
        for finding_id, outcome, count in connection.execute(
            sa.select(finding, feedback.c.outcome, cards_answered)
            .select_from(answered)
            .group_by(finding, feedback.c.outcome)
        )
    }
    reasons: dict[str, dict[str, int]] = {}
    for finding_id, code, count in connection.execute(
        sa.select(finding, feedback.c.override_code, cards_answered)
        .select_from(answered)
        .where(feedback.c.outcome == "overridden")
        .group_by(finding, feedback.c.override_code)
    ):
        reasons.setdefault(finding_id, {})[code or UNSPECIFIED_REASON] = count

    finding_ids = sorted(set(issued) | {finding_id for finding_id, _ in outcomes})
    return [
        _stat(
            finding_id,
            issued.get(finding_id, 0),
            outcomes.get((finding_id, "accepted"), 0),
            outcomes.get((finding_id, "overridden"), 0),
            reasons.get(finding_id, {}),
        )
        for finding_id in finding_ids
    ]


def _stat(
    finding_id: str, issued: int, accepted: int, overridden: int, reasons: dict[str, int]
) -> FeedbackStat:
    return FeedbackStat(
        finding_id=finding_id,
        cards_issued=issued,
        accepted=accepted,
        overridden=overridden,
        acceptance_rate=accepted / issued if issued else None,
        override_rate=overridden / issued if issued else None,
        override_reasons=reasons,
    )
