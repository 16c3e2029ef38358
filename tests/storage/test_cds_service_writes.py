"""What the CDS service writes fits the columns, on SQLite and PostgreSQL (which, unlike SQLite,
refuses a string longer than its String(n) column): values a client sends are bounded before
they reach storage, so no write fails and no audit record is lost."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from storage import OVERRIDE_CODE_MAX_LENGTH, get_storage

PV = "/cds-services/aa-jak-patient-view"
CARD = "00000000-0000-0000-0000-000000000001"


@pytest.fixture
def client(app_factory: Callable[..., Any], database_url: str) -> Any:
    """The product app in dev mode (no client JWT needed) on the test's database."""
    return app_factory(database_url=database_url).test_client()


def _overridden(code: str) -> dict[str, Any]:
    return {
        "card": CARD,
        "outcome": "overridden",
        "overrideReason": {"reason": {"system": "urn:example", "code": code}},
        "outcomeTimestamp": "2026-11-01T10:06:00Z",
    }


def _hook(hook_instance: str) -> dict[str, Any]:
    return {
        "hook": "patient-view",
        "hookInstance": hook_instance,
        "context": {"userId": "Practitioner/doc-1", "patientId": "p1"},
        "prefetch": {"patient": {"resourceType": "Patient", "id": "p1"}},
    }


def _post(client: Any, path: str, body: dict[str, Any]) -> int:
    response = client.post(path, json=body)
    response.close()  # as a WSGI server does: runs the deferred audit write
    return int(response.status_code)


def _audit(client: Any) -> list[Any]:
    with client.application.app_context():
        return get_storage().recent_audit(5)


def test_override_code_as_wide_as_its_column_is_stored(client: Any) -> None:
    assert _post(client, f"{PV}/feedback", {"feedback": [_overridden("c" * OVERRIDE_CODE_MAX_LENGTH)]}) == 200

    with client.application.app_context():
        (stat,) = get_storage().feedback_report()
    assert stat.override_reasons == {"c" * OVERRIDE_CODE_MAX_LENGTH: 1}


def test_override_code_wider_than_its_column_is_400(client: Any) -> None:
    body = {"feedback": [_overridden("c" * (OVERRIDE_CODE_MAX_LENGTH + 1))]}

    assert _post(client, f"{PV}/feedback", body) == 400


def test_an_invocation_is_audited_with_its_hook_instance(client: Any) -> None:
    hook_instance = str(uuid.uuid4())

    assert _post(client, PV, _hook(hook_instance)) == 412  # no fhirServer for the missing prefetch

    (audit,) = _audit(client)
    assert (audit.hook_instance, audit.status) == (hook_instance, 412)


def test_a_hook_instance_too_long_for_its_column_is_400_and_still_audited(client: Any) -> None:
    assert _post(client, PV, _hook("h" * 300)) == 400

    (audit,) = _audit(client)
    assert (audit.hook_instance, audit.status) == ("", 400)
