"""Checklist E (feedback endpoint) and the feedback report."""

from __future__ import annotations

from typing import Any

import cds_builders
import pytest
from cds_support import hook_body

from cds_hooks import feedback_report_text
from cds_hooks.codes import OVERRIDE_REASON_SYSTEM

PV = "/cds-services/aa-jak-patient-view"
FEEDBACK = PV + "/feedback"
CARD = "00000000-0000-0000-0000-000000000001"


def accepted(card: str = CARD, ts: str = "2026-11-01T10:05:31Z") -> dict[str, Any]:
    return {
        "card": card,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": "00000000-0000-0000-0000-000000000002"}],
        "outcomeTimestamp": ts,
    }


def overridden(card: str = CARD, code: str = "not-applicable") -> dict[str, Any]:
    return {
        "card": card,
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"system": OVERRIDE_REASON_SYSTEM, "code": code, "display": "x"},
            "userComment": "seen by dermatology",
        },
        "outcomeTimestamp": "2026-11-01T10:06:00Z",
    }


def post(call, body, path=FEEDBACK):
    return call(path, body)


def test_E1_feedback_endpoint_accepts_the_2_0_body(call, memory_storage):
    response = post(call, {"feedback": [accepted(), overridden("00000000-0000-0000-0000-000000000003")]})
    assert response.status_code == 200
    assert len(memory_storage.feedback) == 2


def test_E1_feedback_for_an_unknown_service_is_404(call):
    assert post(call, {"feedback": [accepted()]}, "/cds-services/nope/feedback").status_code == 404


def test_E2_fields_are_stored(call, memory_storage):
    post(call, {"feedback": [overridden()]})
    (item,) = memory_storage.feedback.values()
    assert item.card_uuid == CARD and item.outcome == "overridden"
    assert (item.override_code, item.override_system) == ("not-applicable", OVERRIDE_REASON_SYSTEM)
    assert item.user_comment == "seen by dermatology"
    assert item.outcome_timestamp.isoformat() == "2026-11-01T10:06:00+00:00"


def test_E2_rfc3339_lower_case_t_and_z_are_accepted(call, memory_storage):
    assert post(call, {"feedback": [accepted(ts="2026-11-01t10:05:31z")]}).status_code == 200
    (item,) = memory_storage.feedback.values()
    assert item.outcome_timestamp.isoformat() == "2026-11-01T10:05:31+00:00"


def test_E2_timestamp_with_an_offset_and_a_fraction_is_stored_in_utc(call, memory_storage):
    assert post(call, {"feedback": [accepted(ts="2026-11-01T10:05:31.25+02:00")]}).status_code == 200
    (item,) = memory_storage.feedback.values()
    assert item.outcome_timestamp.isoformat() == "2026-11-01T08:05:31.250000+00:00"


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-W44-7T10:05Z",  # ISO 8601 week date
        "20261101T100531Z",  # ISO 8601 basic format
        "2026-11-01 10:05:31Z",  # a space for the T
        "2026-11-01T10:05Z",  # no seconds
        "2026-11-01T10:05:31+05:60",
        "2026-11-01T10:05:31Z\n",
        "2026-02-30T10:05:31Z",
        "0001-01-01T00:00:00+01:00",  # valid RFC 3339, but year 0 in UTC
        "9999-12-31T23:59:59-01:00",  # valid RFC 3339, but year 10000 in UTC
    ],
)
def test_E2_timestamp_that_is_not_an_rfc3339_date_time_in_utc_range_is_400(call, timestamp):
    response = post(call, {"feedback": [accepted(ts=timestamp)]})
    assert response.status_code == 400
    assert "outcomeTimestamp" in response.get_json()["issue"][0]["diagnostics"]


def test_E2_override_reason_code_longer_than_storage_keeps_is_400(call):
    """storage.OVERRIDE_CODE_MAX_LENGTH (255): PostgreSQL refuses longer codes (tests/storage too)."""
    response = post(call, {"feedback": [overridden(code="c" * 256)]})
    assert response.status_code == 400
    assert "longer than 255" in response.get_json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("field", ["code", "system"])
def test_E2_override_reason_with_an_empty_code_or_system_is_400(call, field):
    item = overridden()
    item["overrideReason"]["reason"][field] = " "
    response = post(call, {"feedback": [item]})
    assert response.status_code == 400
    assert "with a code and a system" in response.get_json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "item",
    [
        {"outcome": "accepted", "outcomeTimestamp": "2026-11-01T10:00:00Z"},  # no card
        {"card": "not-a-uuid", "outcome": "overridden", "outcomeTimestamp": "2026-11-01T10:00:00Z"},
        {"card": CARD, "outcome": "ignored", "outcomeTimestamp": "2026-11-01T10:00:00Z"},
        {"card": CARD, "outcome": "overridden"},  # no timestamp
        {"card": CARD, "outcome": "overridden", "outcomeTimestamp": "yesterday"},
        {"card": CARD, "outcome": "overridden", "outcomeTimestamp": "2026-11-01T10:00:00"},  # no zone
        {"card": CARD, "outcome": "accepted", "outcomeTimestamp": "2026-11-01T10:00:00Z"},  # no suggestions
        {**accepted(), "acceptedSuggestions": [{"uuid": "x"}]},
        {**accepted(), "overrideReason": {"userComment": "x"}},  # cds-fb: override only when overridden
        {**overridden(), "acceptedSuggestions": [{"id": "x"}]},
        {**overridden(), "overrideReason": {"reason": {"code": "x"}}},  # Coding without system
        {**overridden(), "extension": "x"},
    ],
)
def test_E2_malformed_item_is_400(call, item):
    response = post(call, {"feedback": [item]})
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_E3_same_feedback_twice_is_stored_once(make_app, jwt_for):
    """Through the real storage module: idempotent on repeats."""
    app = make_app()
    state = app.extensions["cds_hooks"]
    from storage import get_storage

    state.storage = get_storage
    client = app.test_client()
    body = {"feedback": [accepted()]}
    for _ in range(2):
        token = jwt_for(FEEDBACK)
        assert (
            client.post(FEEDBACK, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
    with app.app_context():
        stats = get_storage().feedback_report()
    assert sum(s.accepted for s in stats) == 1


def test_E3_feedback_requires_the_jwt(call):
    assert call(FEEDBACK, {"feedback": [accepted()]}, token=None).status_code == 401


@pytest.mark.parametrize(
    "body", [{}, {"feedback": []}, {"feedback": {}}, [], {"feedback": [1]}, {"other": 1}]
)
def test_E4_malformed_body_is_400(call, body):
    assert post(call, body).status_code == 400


def test_E4_single_object_shape_is_accepted(call, memory_storage):
    assert post(call, overridden()).status_code == 200
    assert len(memory_storage.feedback) == 1


def test_E4_non_json_feedback_is_415(call):
    assert call(FEEDBACK, data="card=1", content_type="text/plain").status_code == 415


def test_feedback_maps_cards_to_findings_and_reports_rates(make_app, jwt_for, engine):
    """Card uuids are recorded at response time; the report counts per finding and reason."""
    app = make_app()
    from storage import get_storage

    app.extensions["cds_hooks"].storage = get_storage
    client = app.test_client()
    engine.assessment = cds_builders.eligible_with_gaps()
    response = client.post(PV, json=hook_body(), headers={"Authorization": f"Bearer {jwt_for(PV)}"})
    response.close()  # the card -> finding map is written after the answer is sent
    cards = response.get_json()["cards"]
    tb = next(c for c in cards if c["summary"].startswith("No TB"))
    cbc = next(c for c in cards if c["summary"].startswith("No CBC"))
    body = {
        "feedback": [
            {**accepted(tb["uuid"]), "acceptedSuggestions": [{"id": tb["suggestions"][0]["uuid"]}]},
            overridden(cbc["uuid"], code="done-elsewhere"),
        ]
    }
    assert (
        client.post(FEEDBACK, json=body, headers={"Authorization": f"Bearer {jwt_for(FEEDBACK)}"}).status_code
        == 200
    )
    with app.app_context():
        text = feedback_report_text()
    tb_line = next(line for line in text.splitlines() if line.startswith("baseline.tb_screening.missing"))
    assert "100%" in tb_line
    assert "Already done or documented elsewhere" in text


def test_feedback_report_text_with_no_data():
    class Empty:
        def feedback_report(self) -> list:
            return []

    assert "No CDS" in feedback_report_text(Empty())
