"""The project's own code systems used on cards: override reasons and finding topics.

Override reasons (checklist D6): a small CodeSystem; every Coding on a card
carries a display. The same concepts are published as a FHIR CodeSystem by
`override_reason_codesystem()` (validated against fhir.resources in the tests).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cds_hooks.models import Coding, OverrideReasonCoding

# The project's own code systems, named like the knowledge file's local system
# (`urn:aa-jak:fhir:CodeSystem:aa-severity`) until the project publishes a canonical URL.
OVERRIDE_REASON_SYSTEM = "urn:aa-jak:fhir:CodeSystem:cds-override-reason"
FINDING_SYSTEM = "urn:aa-jak:fhir:CodeSystem:finding"
# Topics of cards that are not one finding's; the finding system's codes are finding ids only.
CARD_TOPIC_SYSTEM = "urn:aa-jak:fhir:CodeSystem:card-topic"
MINOR_FINDINGS_TOPIC = Coding(
    system=CARD_TOPIC_SYSTEM, code="minor-findings", display="Several minor findings on one card"
)

OVERRIDE_REASONS: tuple[tuple[str, str, str], ...] = (
    (
        "informed-decision",
        "Benefits and risks discussed; proceeding by shared decision",
        "The clinician and patient weighed the concern and chose to proceed.",
    ),
    (
        "not-applicable",
        "Not applicable to this patient",
        "The card's premise does not hold for this patient.",
    ),
    (
        "data-incorrect",
        "Patient data shown is incorrect or out of date",
        "The record the card was based on is wrong, incomplete or stale.",
    ),
    (
        "done-elsewhere",
        "Already done or documented elsewhere",
        "The test, review or action was done outside this record.",
    ),
    (
        "managed-by-specialist",
        "Managed by the treating specialist",
        "A dermatologist or other specialist manages this aspect of care.",
    ),
    (
        "address-later",
        "Will address at a later visit",
        "Acknowledged; to be acted on later.",
    ),
)


@cache
def override_reasons() -> tuple[OverrideReasonCoding, ...]:
    """The codings offered on every warning/critical card: built once (frozen models, shared)."""
    return tuple(
        OverrideReasonCoding(system=OVERRIDE_REASON_SYSTEM, code=code, display=display)
        for code, display, _ in OVERRIDE_REASONS
    )


def override_display(code: str) -> str | None:
    return next((display for c, display, _ in OVERRIDE_REASONS if c == code), None)


def finding_topic(finding_id: str, category: str) -> Coding:
    return Coding(system=FINDING_SYSTEM, code=finding_id, display=f"{category}: {finding_id}")


def override_reason_codesystem() -> dict[str, Any]:
    """The override reasons as a FHIR R4 CodeSystem resource."""
    return {
        "resourceType": "CodeSystem",
        "id": "cds-override-reason",
        "url": OVERRIDE_REASON_SYSTEM,
        "name": "CdsOverrideReason",
        "title": "Reasons for overriding an AA-JAK CDS card",
        "status": "active",
        "content": "complete",
        "caseSensitive": True,
        "concept": [
            {"code": code, "display": display, "definition": definition}
            for code, display, definition in OVERRIDE_REASONS
        ],
    }
