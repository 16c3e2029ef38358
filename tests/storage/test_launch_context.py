"""One server-side context per launch, tokens encrypted at rest (SMART App Launch 1.10)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from storage import LaunchContext, Storage
from storage.schema import launch_context

ACCESS_TOKEN = "eyJ-access-token-for-test-0001"
REFRESH_TOKEN = "refresh-token-for-test-0001"


def _context(now: datetime, context_id: str = "ctx-1", patient_id: str = "patient-a") -> LaunchContext:
    return LaunchContext(
        context_id=context_id,
        browser_key="browser-a",
        iss="https://ehr.example.org/fhir",
        patient_id=patient_id,
        encounter_id="enc-1",
        fhir_user="Practitioner/pr-1",
        access_token=ACCESS_TOKEN,
        refresh_token=REFRESH_TOKEN,
        scope="launch openid fhirUser patient/Observation.rs",
        expires_at=now + timedelta(minutes=10),
        need_patient_banner=True,
        smart_style_url=None,
        id_token_claims_json='{"fhirUser": "Practitioner/pr-1"}',
        created_at=now,
        session_expires_at=now + timedelta(hours=8),
    )


def test_context_comes_back_as_stored(storage: Storage, now: datetime) -> None:
    storage.put_context(_context(now))

    assert storage.get_context("ctx-1", "browser-a", now) == _context(now)


def test_two_launches_keep_their_own_patient(storage: Storage, now: datetime) -> None:
    storage.put_context(_context(now, "ctx-1", "patient-a"))
    storage.put_context(_context(now, "ctx-2", "patient-b"))

    first = storage.get_context("ctx-1", "browser-a", now)

    assert first is not None and first.patient_id == "patient-a"


def test_context_of_another_browser_is_not_returned(storage: Storage, now: datetime) -> None:
    storage.put_context(_context(now))

    assert storage.get_context("ctx-1", "browser-b", now) is None


def test_context_past_its_session_is_not_returned(storage: Storage, now: datetime) -> None:
    storage.put_context(_context(now))

    assert storage.get_context("ctx-1", "browser-a", now + timedelta(hours=8)) is None


def test_tokens_are_not_stored_in_plain_text(
    storage: Storage, raw_database: sa.Engine, now: datetime
) -> None:
    storage.put_context(_context(now))

    with raw_database.connect() as connection:
        row = connection.execute(sa.select(launch_context)).one()

    stored = " ".join(str(value) for value in row)
    assert ACCESS_TOKEN not in stored
    assert REFRESH_TOKEN not in stored


def test_tokens_are_not_readable_with_another_secret_key(database_url: str, now: datetime) -> None:
    writer = Storage(database_url, secret_key="key-one")
    reader = Storage(database_url, secret_key="key-two")
    writer.put_context(_context(now))

    assert reader.get_context("ctx-1", "browser-a", now) is None
    writer.close()
    reader.close()


def test_refreshed_tokens_replace_the_old_ones(storage: Storage, now: datetime) -> None:
    storage.put_context(_context(now))
    later = now + timedelta(minutes=9)

    assert storage.update_context_tokens("ctx-1", "new-access", "new-refresh", "launch openid", later)

    assert storage.get_context("ctx-1", "browser-a", now) == dataclasses.replace(
        _context(now),
        access_token="new-access",
        refresh_token="new-refresh",
        scope="launch openid",
        expires_at=later,
    )


def test_refresh_without_a_new_refresh_token_keeps_the_old_one(storage: Storage, now: datetime) -> None:
    storage.put_context(_context(now))

    storage.update_context_tokens("ctx-1", "new-access", None, "launch openid", now + timedelta(minutes=9))

    context = storage.get_context("ctx-1", "browser-a", now)
    assert context is not None and context.refresh_token == REFRESH_TOKEN


def test_refresh_without_expires_in_stores_an_unknown_expiry(storage: Storage, now: datetime) -> None:
    storage.put_context(_context(now))

    storage.update_context_tokens("ctx-1", "new-access", None, "launch openid", None)

    context = storage.get_context("ctx-1", "browser-a", now)
    assert context is not None and context.expires_at is None


def test_updating_tokens_of_an_unknown_context_reports_false(storage: Storage, now: datetime) -> None:
    assert not storage.update_context_tokens("gone", "a", "r", "launch", now)


def test_tokens_do_not_appear_in_repr(now: datetime) -> None:
    assert ACCESS_TOKEN not in repr(_context(now))
    assert REFRESH_TOKEN not in repr(_context(now))


def test_contexts_past_their_session_are_deleted(storage: Storage, now: datetime) -> None:
    storage.put_context(_context(now))

    assert storage.delete_expired(now + timedelta(hours=9)) == 1


def test_storing_a_context_without_a_secret_key_is_refused(database_url: str, now: datetime) -> None:
    keyless = Storage(database_url)

    with pytest.raises(RuntimeError, match="secret key"):
        keyless.put_context(_context(now))
    keyless.close()


def test_naive_datetimes_are_refused(storage: Storage, now: datetime) -> None:
    with pytest.raises(sa.exc.StatementError, match="timezone-aware"):
        storage.put_context(_context(now.replace(tzinfo=None)))
