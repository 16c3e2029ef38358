"""CDS Hooks records: the JWT replay cache (F7), cards issued, feedback and the audit trail."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage import AuditRecord, FeedbackItem, FeedbackStat, Storage
from storage.engine import SQLITE_BUSY_TIMEOUT_MS

ISSUER = "https://sandbox.cds-hooks.org"


def test_first_jti_is_accepted(storage: Storage, now: datetime) -> None:
    assert storage.remember_jti(ISSUER, "jti-1", now + timedelta(minutes=5), now)


def test_replayed_jti_is_detected(storage: Storage, now: datetime) -> None:
    storage.remember_jti(ISSUER, "jti-1", now + timedelta(minutes=5), now)

    assert not storage.remember_jti(ISSUER, "jti-1", now + timedelta(minutes=5), now + timedelta(seconds=1))


def test_same_jti_from_another_issuer_is_not_a_replay(storage: Storage, now: datetime) -> None:
    storage.remember_jti(ISSUER, "jti-1", now + timedelta(minutes=5), now)

    assert storage.remember_jti("https://ehr.example.org", "jti-1", now + timedelta(minutes=5), now)


def test_threads_racing_with_one_jti_are_accepted_once(storage: Storage, now: datetime) -> None:
    racers = 8
    start = threading.Barrier(racers)
    results: list[bool] = []

    def remember() -> None:
        start.wait()
        results.append(storage.remember_jti(ISSUER, "jti-race", now + timedelta(minutes=5), now))

    threads = [threading.Thread(target=remember) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert sorted(results) == [False] * (racers - 1) + [True]


def test_a_very_long_jti_is_handled(storage: Storage, now: datetime) -> None:
    assert storage.remember_jti(ISSUER, "j" * 10_000, now + timedelta(minutes=5), now)


def _accepted(card_uuid: str, at: datetime) -> FeedbackItem:
    return FeedbackItem(card_uuid, "accepted", at, ["suggestion-1"], None, None, None, None)


def _overridden(card_uuid: str, at: datetime, code: str | None) -> FeedbackItem:
    return FeedbackItem(
        card_uuid, "overridden", at, [], code, "https://aa-jak.example/override" if code else None, None, None
    )


def test_feedback_posted_twice_is_stored_once(storage: Storage, now: datetime) -> None:
    item = _accepted("card-1", now)

    assert storage.record_feedback("jak-order-sign", [item], now) == 1
    assert storage.record_feedback("jak-order-sign", [item], now + timedelta(seconds=5)) == 0


def test_feedback_with_a_new_outcome_time_is_a_new_item(storage: Storage, now: datetime) -> None:
    storage.record_feedback("jak-order-sign", [_accepted("card-1", now)], now)

    assert (
        storage.record_feedback("jak-order-sign", [_accepted("card-1", now + timedelta(minutes=1))], now) == 1
    )


def test_feedback_report_gives_rates_per_finding(storage: Storage, now: datetime) -> None:
    storage.record_cards("jak-order-sign", "hook-1", [("c1", "platelets-low"), ("c2", "platelets-low")], now)
    storage.record_cards("jak-order-sign", "hook-2", [("c3", "platelets-low"), ("c4", "platelets-low")], now)
    storage.record_cards("jak-order-sign", "hook-2", [("c5", "tb-screen-missing")], now)
    storage.record_feedback(
        "jak-order-sign",
        [
            _accepted("c1", now),
            _overridden("c2", now, "patient-declined"),
            _overridden("c3", now, "patient-declined"),
            _overridden("c4", now, None),
            _accepted("c-never-issued", now),
        ],
        now,
    )

    assert storage.feedback_report() == [
        FeedbackStat("platelets-low", 4, 1, 3, 0.25, 0.75, {"patient-declined": 2, "unspecified": 1}),
        FeedbackStat("tb-screen-missing", 1, 0, 0, 0.0, 0.0, {}),
        FeedbackStat("unknown", 0, 1, 0, None, None, {}),
    ]


def test_a_card_answered_twice_counts_once_in_the_report(storage: Storage, now: datetime) -> None:
    storage.record_cards("jak-order-sign", "hook-1", [("c1", "platelets-low")], now)
    storage.record_feedback(
        "jak-order-sign", [_accepted("c1", now), _accepted("c1", now + timedelta(minutes=1))], now
    )

    assert storage.feedback_report() == [FeedbackStat("platelets-low", 1, 1, 0, 1.0, 0.0, {})]


def test_recording_the_same_cards_again_is_harmless(storage: Storage, now: datetime) -> None:
    storage.record_cards("jak-order-sign", "hook-1", [("c1", "platelets-low")], now)
    storage.record_cards("jak-order-sign", "hook-1", [("c1", "platelets-low")], now)

    assert storage.feedback_report()[0].cards_issued == 1


def test_every_finding_of_a_grouped_card_is_counted(storage: Storage, now: datetime) -> None:
    """One info card grouping several findings: each finding counts the card and its feedback."""
    storage.record_cards(
        "aa-jak-patient-view",
        "hook-1",
        [("c1", "monitoring.lipids.due"), ("c1", "monitoring.cbc.due"), ("c2", "monitoring.cbc.due")],
        now,
    )
    storage.record_feedback("aa-jak-patient-view", [_accepted("c1", now)], now)

    assert storage.feedback_report() == [
        FeedbackStat("monitoring.cbc.due", 2, 1, 0, 0.5, 0.0, {}),
        FeedbackStat("monitoring.lipids.due", 1, 1, 0, 1.0, 0.0, {}),
    ]


def test_an_invocation_stores_its_cards_and_audit_together(storage: Storage, now: datetime) -> None:
    record = AuditRecord(
        now, "jak-order-sign", "order-sign", "hook-1", ISSUER, 200, 12.5, ["platelets-low", "tb-missing"]
    )

    storage.record_invocation(record, [("c1", "platelets-low"), ("c1", "tb-missing")], now)
    storage.record_invocation(_audit(now + timedelta(minutes=1), "hook-2"))  # no cards: audit only

    assert storage.recent_audit(5) == [_audit(now + timedelta(minutes=1), "hook-2"), record]
    assert [(s.finding_id, s.cards_issued) for s in storage.feedback_report()] == [
        ("platelets-low", 1),
        ("tb-missing", 1),
    ]


def test_an_invocation_that_fails_to_write_stores_nothing(storage: Storage, now: datetime) -> None:
    broken = AuditRecord(now, "jak-order-sign", "order-sign", "hook-1", ISSUER, 200, 1.0, [])
    object.__setattr__(broken, "hook", None)  # NOT NULL: the audit insert fails after the cards

    with pytest.raises(sa.exc.IntegrityError):
        storage.record_invocation(broken, [("c1", "platelets-low")], now)

    assert storage.feedback_report() == []
    assert storage.recent_audit(5) == []


def test_sqlite_connections_use_the_write_ahead_log(tmp_path: Path) -> None:
    store = Storage(f"sqlite:///{tmp_path / 'aa-jak.db'}")
    try:
        with store._engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert pragma("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
    finally:
        store.close()


def _audit(at: datetime, hook_instance: str) -> AuditRecord:
    return AuditRecord(
        at, "jak-order-sign", "order-sign", hook_instance, ISSUER, 200, 42.5, ["platelets-low"]
    )


def test_audit_records_come_back_newest_first(storage: Storage, now: datetime) -> None:
    for minute in range(3):
        storage.record_audit(_audit(now + timedelta(minutes=minute), f"hook-{minute}"))

    assert storage.recent_audit(2) == [
        _audit(now + timedelta(minutes=2), "hook-2"),
        _audit(now + timedelta(minutes=1), "hook-1"),
    ]


def test_ping_answers_true_when_the_database_is_there(storage: Storage) -> None:
    assert storage.ping()
