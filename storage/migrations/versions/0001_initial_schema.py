"""The initial schema: the tables `metadata.create_all` made before there were migrations.

Datetimes are naive UTC (see `storage.schema.UtcDateTime`); a revision keeps its own copy of the
types so that later changes to the models cannot change what it creates.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "launch_state",
        sa.Column("state", sa.String(255), nullable=False),
        sa.Column("browser_key", sa.String(255), nullable=False),
        sa.Column("iss", sa.Text(), nullable=False),
        sa.Column("launch", sa.Text(), nullable=True),
        sa.Column("code_verifier_enc", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("standalone", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("consumed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("state"),
    )
    op.create_index("ix_launch_state_expires_at", "launch_state", ["expires_at"])

    op.create_table(
        "launch_context",
        sa.Column("context_id", sa.String(255), nullable=False),
        sa.Column("browser_key", sa.String(255), nullable=False),
        sa.Column("iss", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=True),
        sa.Column("encounter_id", sa.Text(), nullable=True),
        sa.Column("fhir_user", sa.Text(), nullable=True),
        sa.Column("access_token_enc", sa.Text(), nullable=False),
        sa.Column("refresh_token_enc", sa.Text(), nullable=True),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("need_patient_banner", sa.Boolean(), nullable=False),
        sa.Column("smart_style_url", sa.Text(), nullable=True),
        sa.Column("id_token_claims_json", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("session_expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("context_id"),
    )
    op.create_index("ix_launch_context_session_expires_at", "launch_context", ["session_expires_at"])

    op.create_table(
        "jti_seen",
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash"),
    )
    op.create_index("ix_jti_seen_expires_at", "jti_seen", ["expires_at"])

    op.create_table(
        "card_issued",
        sa.Column("service_id", sa.String(255), nullable=False),
        sa.Column("card_uuid", sa.String(255), nullable=False),
        sa.Column("finding_id", sa.String(255), nullable=False),
        sa.Column("hook_instance", sa.String(255), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("service_id", "card_uuid", "finding_id"),
    )
    op.create_index("ix_card_issued_finding_id", "card_issued", ["finding_id"])

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(255), nullable=False),
        sa.Column("card_uuid", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("outcome_timestamp", sa.DateTime(), nullable=False),
        sa.Column("accepted_suggestions", sa.JSON(), nullable=False),
        sa.Column("override_code", sa.String(255), nullable=True),
        sa.Column("override_system", sa.Text(), nullable=True),
        sa.Column("override_display", sa.Text(), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "service_id", "card_uuid", "outcome", "outcome_timestamp", name="uq_feedback_item"
        ),
    )

    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("service_id", sa.String(255), nullable=False),
        sa.Column("hook", sa.String(255), nullable=False),
        sa.Column("hook_instance", sa.String(255), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("finding_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_time", "audit", ["time"])


def downgrade() -> None:
    for table in ("audit", "feedback", "card_issued", "jti_seen", "launch_context", "launch_state"):
        op.drop_table(table)  # with its indexes
