"""The tables, in SQLAlchemy Core, portable across SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from storage.records import OVERRIDE_CODE_MAX_LENGTH


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, stored as naive UTC, aware UTC out.

    SQLite has no time zones, so both backends store naive UTC and compare like for like.
    """

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("storage needs timezone-aware datetimes, e.g. datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()

launch_state = sa.Table(
    "launch_state",
    metadata,
    sa.Column("state", sa.String(255), primary_key=True),
    sa.Column("browser_key", sa.String(255), nullable=False),
    sa.Column("iss", sa.Text, nullable=False),
    sa.Column("launch", sa.Text),
    sa.Column("code_verifier_enc", sa.Text, nullable=False),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("standalone", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("consumed", sa.Boolean, nullable=False, default=False),
)

launch_context = sa.Table(
    "launch_context",
    metadata,
    sa.Column("context_id", sa.String(255), primary_key=True),
    sa.Column("browser_key", sa.String(255), nullable=False),
    sa.Column("iss", sa.Text, nullable=False),
    sa.Column("patient_id", sa.Text),
    sa.Column("encounter_id", sa.Text),
    sa.Column("fhir_user", sa.Text),
    sa.Column("access_token_enc", sa.Text, nullable=False),
    sa.Column("refresh_token_enc", sa.Text),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("need_patient_banner", sa.Boolean, nullable=False),
    sa.Column("smart_style_url", sa.Text),
    sa.Column("id_token_claims_json", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("session_expires_at", UtcDateTime, nullable=False, index=True),
)

# Keyed by a hash of (iss, jti): fixed width whatever length of `jti` a client sends.
jti_seen = sa.Table(
    "jti_seen",
    metadata,
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
)

# One row per (card, finding): a grouped card (several minor findings) has a row for each.
card_issued = sa.Table(
    "card_issued",
    metadata,
    sa.Column("service_id", sa.String(255), primary_key=True),
    sa.Column("card_uuid", sa.String(255), primary_key=True),
    sa.Column("finding_id", sa.String(255), primary_key=True, index=True),
    sa.Column("hook_instance", sa.String(255), nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.String(255), nullable=False),
    sa.Column("card_uuid", sa.String(255), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("outcome_timestamp", UtcDateTime, nullable=False),
    sa.Column("accepted_suggestions", sa.JSON, nullable=False),
    sa.Column("override_code", sa.String(OVERRIDE_CODE_MAX_LENGTH)),
    sa.Column("override_system", sa.Text),
    sa.Column("override_display", sa.Text),
    sa.Column("user_comment", sa.Text),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("service_id", "card_uuid", "outcome", "outcome_timestamp", name="uq_feedback_item"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", UtcDateTime, nullable=False, index=True),
    sa.Column("service_id", sa.String(255), nullable=False),
    sa.Column("hook", sa.String(255), nullable=False),
    sa.Column("hook_instance", sa.String(255), nullable=False),
    sa.Column("issuer", sa.Text),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("finding_ids", sa.JSON, nullable=False),
)
