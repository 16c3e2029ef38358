"""`Storage`: the one database module. SQLite for development, PostgreSQL with several replicas.

Every operation that must happen once across replicas is a single atomic statement checked by
its row count or a unique constraint, never a read followed by a write.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from storage import migrate, schema
from storage.engine import open_engine
from storage.records import AuditRecord, FeedbackItem, FeedbackStat, LaunchContext, LaunchState
from storage.report import feedback_report
from storage.secrets_box import SecretBox

logger = logging.getLogger(__name__)

_JTI_PURGE_INTERVAL = timedelta(minutes=5)


class Storage:
    """Launch state and context, the CDS `jti` replay cache, cards issued, feedback and audit.

    `secret_key` (the Flask SECRET_KEY) protects tokens and PKCE verifiers at rest; without it the
    SMART launch methods raise `RuntimeError`.

    An embedded SQLite database is brought to the newest schema revision on opening. A PostgreSQL
    database, shared by replicas, is only checked: its schema changes through `aa-jak serve` or
    `aa-jak db upgrade` (`storage.migrate.upgrade`), never as a side effect of, say, a report:
    `storage.migrate.SchemaError` when it is not at this version's revision.
    """

    def __init__(self, url: str, secret_key: str | bytes | None = None) -> None:
        self._engine = open_engine(url)
        try:
            if self._engine.dialect.name == "sqlite":
                migrate.upgrade(self._engine)
            else:
                migrate.require_up_to_date(self._engine)
        except Exception:
            self._engine.dispose()
            raise
        self._box = SecretBox(secret_key) if secret_key else None
        # Built once: a statement built per call costs more than the insert itself (per CDS call).
        self._insert_new_cards = _insert_ignoring_duplicates(self._engine.dialect.name, schema.card_issued)
        self._next_jti_purge: datetime | None = None

    def close(self) -> None:
        self._engine.dispose()

    def ping(self) -> bool:
        """True when the database answers (for /readyz)."""
        try:
            with self._engine.connect() as connection:
                connection.execute(sa.select(1))
        except SQLAlchemyError as error:
            logger.warning("database ping failed: %s", type(error).__name__)
            return False
        return True

    # SMART launch state: single use, any replica may finish the flow.

    def put_launch_state(self, launch_state: LaunchState) -> None:
        values = {
            "state": launch_state.state,
            "browser_key": launch_state.browser_key,
            "iss": launch_state.iss,
            "launch": launch_state.launch,
            "code_verifier_enc": self._secrets().seal(launch_state.code_verifier),
            "redirect_uri": launch_state.redirect_uri,
            "scope": launch_state.scope,
            "standalone": launch_state.standalone,
            "created_at": launch_state.created_at,
            "expires_at": launch_state.expires_at,
            "consumed": False,
        }
        with self._engine.begin() as connection:
            connection.execute(sa.insert(schema.launch_state).values(values))

    def take_launch_state(self, state: str, browser_key: str, now: datetime) -> LaunchState | None:
        """The state, consumed by this call; None if unknown, expired, already taken or another browser's."""
        table = schema.launch_state
        box = self._secrets()
        with self._engine.begin() as connection:
            taken = connection.execute(
                sa.update(table)
                .where(
                    table.c.state == state,
                    table.c.browser_key == browser_key,
                    sa.not_(table.c.consumed),
                    table.c.expires_at > now,
                )
                .values(consumed=True)
            )
            if taken.rowcount != 1:
                return None
            row = connection.execute(sa.select(table).where(table.c.state == state)).one()
        code_verifier = box.open(row.code_verifier_enc)
        if code_verifier is None:
            return None
        return LaunchState(
            state=row.state,
            browser_key=row.browser_key,
            iss=row.iss,
            launch=row.launch,
            code_verifier=code_verifier,
            redirect_uri=row.redirect_uri,
            scope=row.scope,
            standalone=row.standalone,
            created_at=row.created_at,
            expires_at=row.expires_at,
        )

    # SMART launch context: one per launch, tokens encrypted.

    def put_context(self, context: LaunchContext) -> None:
        box = self._secrets()
        values = {
            "context_id": context.context_id,
            "browser_key": context.browser_key,
            "iss": context.iss,
            "patient_id": context.patient_id,
            "encounter_id": context.encounter_id,
            "fhir_user": context.fhir_user,
            "access_token_enc": box.seal(context.access_token),
            "refresh_token_enc": box.seal(context.refresh_token) if context.refresh_token else None,
            "scope": context.scope,
            "expires_at": context.expires_at,
            "need_patient_banner": context.need_patient_banner,
            "smart_style_url": context.smart_style_url,
            "id_token_claims_json": context.id_token_claims_json,
            "created_at": context.created_at,
            "session_expires_at": context.session_expires_at,
        }
        with self._engine.begin() as connection:
            connection.execute(sa.insert(schema.launch_context).values(values))

    def get_context(self, context_id: str, browser_key: str, now: datetime) -> LaunchContext | None:
        """The context; None when unknown, another browser's, past its session or sealed under an old key."""
        table = schema.launch_context
        box = self._secrets()
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(table).where(
                    table.c.context_id == context_id,
                    table.c.browser_key == browser_key,
                    table.c.session_expires_at > now,
                )
            ).one_or_none()
        if row is None:
            return None
        access_token = box.open(row.access_token_enc)
        refresh_token = box.open(row.refresh_token_enc) if row.refresh_token_enc else None
        if access_token is None or (row.refresh_token_enc and refresh_token is None):
            logger.warning("a launch context could not be decrypted; was the secret key changed?")
            return None
        return LaunchContext(
            context_id=row.context_id,
            browser_key=row.browser_key,
            iss=row.iss,
            patient_id=row.patient_id,
            encounter_id=row.encounter_id,
            fhir_user=row.fhir_user,
            access_token=access_token,
            refresh_token=refresh_token,
            scope=row.scope,
            expires_at=row.expires_at,
            need_patient_banner=row.need_patient_banner,
            smart_style_url=row.smart_style_url,
            id_token_claims_json=row.id_token_claims_json,
            created_at=row.created_at,
            session_expires_at=row.session_expires_at,
        )

    def update_context_tokens(
        self,
        context_id: str,
        access_token: str,
        refresh_token: str | None,
        scope: str,
        expires_at: datetime | None,
    ) -> bool:
        """Store refreshed tokens; False when the context is gone.

        A None `refresh_token` keeps the stored one: a refresh response need not include a new one.
        """
        box = self._secrets()
        values: dict[str, Any] = {
            "access_token_enc": box.seal(access_token),
            "scope": scope,
            "expires_at": expires_at,
        }
        if refresh_token:
            values["refresh_token_enc"] = box.seal(refresh_token)
        table = schema.launch_context
        with self._engine.begin() as connection:
            updated = connection.execute(
                sa.update(table).where(table.c.context_id == context_id).values(values)
            )
        return updated.rowcount == 1

    def delete_expired(self, now: datetime) -> int:
        """Remove launch states, contexts and `jti` entries past their expiry; the number of rows removed."""
        with self._engine.begin() as connection:
            return sum(
                connection.execute(sa.delete(table).where(column <= now)).rowcount
                for table, column in (
                    (schema.launch_state, schema.launch_state.c.expires_at),
                    (schema.launch_context, schema.launch_context.c.session_expires_at),
                    (schema.jti_seen, schema.jti_seen.c.expires_at),
                )
            )

    # CDS Hooks client JWT replay cache (CDS Hooks F7), shared by all replicas.

    def remember_jti(self, iss: str, jti: str, expires_at: datetime, now: datetime) -> bool:
        """True the first time this issuer's `jti` is seen, False on a replay."""
        self._purge_jti_now_and_then(now)
        key_hash = hashlib.sha256(f"{iss}\x00{jti}".encode()).hexdigest()
        try:
            with self._engine.begin() as connection:
                connection.execute(schema.jti_seen.insert(), {"key_hash": key_hash, "expires_at": expires_at})
        except IntegrityError:
            return False
        return True

    # CDS Hooks cards and feedback.

    def record_cards(
        self, service_id: str, hook_instance: str, cards: Sequence[tuple[str, str]], now: datetime
    ) -> None:
        """Remember which findings each card (by uuid) came from, so feedback can be mapped back.

        `cards` holds (card uuid, finding id) pairs; a card grouping several findings has one pair each.
        """
        with self._engine.begin() as connection:
            self._insert_cards(connection, service_id, hook_instance, cards, now)

    def record_invocation(
        self,
        record: AuditRecord,
        cards: Sequence[tuple[str, str]] = (),
        issued_at: datetime | None = None,
    ) -> None:
        """Everything one CDS call writes, in one transaction: its cards' findings and its audit record.

        `cards` as for `record_cards`, issued by `record.service_id` for `record.hook_instance`
        at `issued_at` (default `record.time`).
        """
        with self._engine.begin() as connection:
            self._insert_cards(
                connection, record.service_id, record.hook_instance, cards, issued_at or record.time
            )
            connection.execute(schema.audit.insert(), _audit_values(record))

    def record_feedback(self, service_id: str, items: Sequence[FeedbackItem], now: datetime) -> int:
        """Store feedback items, ignoring ones already stored; the number newly stored."""
        rows = [
            {
                "service_id": service_id,
                "card_uuid": item.card_uuid,
                "outcome": item.outcome,
                "outcome_timestamp": item.outcome_timestamp,
                "accepted_suggestions": list(item.accepted_suggestions),
                "override_code": item.override_code,
                "override_system": item.override_system,
                "override_display": item.override_display,
                "user_comment": item.user_comment,
                "recorded_at": now,
            }
            for item in items
        ]
        with self._engine.begin() as connection:
            return self._insert_new(connection, schema.feedback, rows)

    def feedback_report(self) -> list[FeedbackStat]:
        with self._engine.connect() as connection:
            return feedback_report(connection)

    # Audit.

    def record_audit(self, record: AuditRecord) -> None:
        with self._engine.begin() as connection:
            connection.execute(schema.audit.insert(), _audit_values(record))

    def recent_audit(self, limit: int) -> list[AuditRecord]:
        """The latest `limit` records, newest first."""
        table = schema.audit
        query = sa.select(table).order_by(table.c.time.desc(), table.c.id.desc()).limit(limit)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            AuditRecord(
                time=row.time,
                service_id=row.service_id,
                hook=row.hook,
                hook_instance=row.hook_instance,
                issuer=row.issuer,
                status=row.status,
                latency_ms=row.latency_ms,
                finding_ids=list(row.finding_ids),
            )
            for row in rows
        ]

    def _secrets(self) -> SecretBox:
        if self._box is None:
            raise RuntimeError(
                "Storage has no secret key, so it cannot keep SMART launch secrets: "
                "set AA_JAK_SECRET_KEY (Flask SECRET_KEY) or pass secret_key= to Storage"
            )
        return self._box

    def _insert_cards(
        self,
        connection: Connection,
        service_id: str,
        hook_instance: str,
        cards: Sequence[tuple[str, str]],
        now: datetime,
    ) -> None:
        rows = [
            {
                "service_id": service_id,
                "card_uuid": card_uuid,
                "finding_id": finding_id,
                "hook_instance": hook_instance,
                "issued_at": now,
            }
            for card_uuid, finding_id in dict.fromkeys(cards)
        ]
        if rows:  # one statement, many parameter sets; pairs already stored are skipped
            connection.execute(self._insert_new_cards, rows)

    def _insert_new(self, connection: Connection, table: sa.Table, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows, skipping any that collide with a unique key; the number inserted."""
        # SQLAlchemy reports an INSERT's row count only when asked to.
        statement = _insert_ignoring_duplicates(connection.dialect.name, table).execution_options(
            preserve_rowcount=True
        )
        return sum(connection.execute(statement, row).rowcount for row in rows)

    def _purge_jti_now_and_then(self, now: datetime) -> None:
        if self._next_jti_purge is not None and now < self._next_jti_purge:
            return
        self._next_jti_purge = now + _JTI_PURGE_INTERVAL
        with self._engine.begin() as connection:
            connection.execute(sa.delete(schema.jti_seen).where(schema.jti_seen.c.expires_at <= now))


def _insert_ignoring_duplicates(dialect_name: str, table: sa.Table) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def _audit_values(record: AuditRecord) -> dict[str, Any]:
    return {
        "time": record.time,
        "service_id": record.service_id,
        "hook": record.hook,
        "hook_instance": record.hook_instance,
        "issuer": record.issuer,
        "status": record.status,
        "latency_ms": record.latency_ms,
        "finding_ids": list(record.finding_ids),
    }
