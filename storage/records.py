"""The records storage keeps. Times are timezone-aware; storage keeps them in UTC.

PHI is limited to what a launch needs (patient and encounter ids, the user's identity claims)
and what a clinician types as a feedback comment; audit rows hold none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The width of the column keeping a feedback's reason code (`FeedbackItem.override_code`): callers
# refuse longer codes, which PostgreSQL would not store.
OVERRIDE_CODE_MAX_LENGTH = 255


@dataclass(frozen=True)
class LaunchState:
    """One SMART authorization request in flight: `state` is single use and bound to one browser."""

    state: str
    browser_key: str
    iss: str
    launch: str | None
    code_verifier: str = field(repr=False)
    redirect_uri: str
    scope: str
    standalone: bool
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class LaunchContext:
    """One SMART launch (SMART App Launch 1.10): one patient, its tokens, bound to one browser.

    `expires_at` is the access token's expiry, None when the token response gave no `expires_in`
    (it is only RECOMMENDED); `session_expires_at` ends the context itself.
    """

    context_id: str
    browser_key: str
    iss: str
    patient_id: str | None
    encounter_id: str | None
    fhir_user: str | None
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    scope: str
    expires_at: datetime | None
    need_patient_banner: bool
    smart_style_url: str | None
    id_token_claims_json: str | None
    created_at: datetime
    session_expires_at: datetime


@dataclass(frozen=True)
class FeedbackItem:
    """One CDS Hooks feedback entry (CDS Hooks 2.0 §Feedback), as the EHR sent it.

    `override_code` has at most `OVERRIDE_CODE_MAX_LENGTH` characters.
    """

    card_uuid: str
    outcome: str  # "accepted" or "overridden"
    outcome_timestamp: datetime
    accepted_suggestions: list[str]
    override_code: str | None
    override_system: str | None
    override_display: str | None
    user_comment: str | None


@dataclass(frozen=True)
class FeedbackStat:
    """How clinicians answered the cards of one finding.

    Rates are over cards issued (a card counts once however often it was answered) and are
    None when no card of that finding is on record, as for "unknown" (feedback on cards this
    service has no record of issuing). `override_reasons` counts overridden cards per reason
    code, "unspecified" when the EHR sent none.
    """

    finding_id: str
    cards_issued: int
    accepted: int
    overridden: int
    acceptance_rate: float | None
    override_rate: float | None
    override_reasons: dict[str, int]


@dataclass(frozen=True)
class AuditRecord:
    """One CDS service call: who called, how it went and which findings it raised. No PHI."""

    time: datetime
    service_id: str
    hook: str
    hook_instance: str
    issuer: str | None
    status: int
    latency_ms: float
    finding_ids: list[str]
