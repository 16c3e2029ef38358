"""Create and conditional create (If-None-Exist), as used by the sandbox loader and SALT write-back."""

from __future__ import annotations

import json

import pytest
import responses

from fhir_access import CreateResult, FhirClient, FhirError

BASE = "https://fhir.example.org/r4"
PATIENT = {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "42"}]}


def test_create_posts_fhir_json_and_returns_the_created_resource(mocked: responses.RequestsMock) -> None:
    mocked.post(
        f"{BASE}/Patient",
        status=201,
        headers={"Location": f"{BASE}/Patient/p1/_history/1"},
        json={**PATIENT, "id": "p1"},
    )

    result = FhirClient(BASE).create(PATIENT)

    request = mocked.calls[0].request
    assert request.headers["Content-Type"] == "application/fhir+json"
    assert json.loads(request.body) == PATIENT
    assert result == CreateResult(201, {**PATIENT, "id": "p1"}, f"{BASE}/Patient/p1/_history/1", None)


def test_conditional_create_sends_if_none_exist(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/Patient", status=201, json={**PATIENT, "id": "p1"})

    FhirClient(BASE).create(PATIENT, if_none_exist="identifier=urn:mrn|42")

    assert mocked.calls[0].request.headers["If-None-Exist"] == "identifier=urn:mrn|42"


def test_conditional_create_matching_an_existing_resource_returns_200(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/Patient", status=200, json={**PATIENT, "id": "existing"})

    result = FhirClient(BASE).create(PATIENT, if_none_exist="identifier=urn:mrn|42")

    assert (result.status, result.resource) == (200, {**PATIENT, "id": "existing"})


def test_create_with_an_empty_body_returns_the_location_only(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/Patient", status=201, headers={"Location": f"{BASE}/Patient/p1"})

    assert FhirClient(BASE).create(PATIENT) == CreateResult(201, None, f"{BASE}/Patient/p1", None)


def test_create_answered_201_with_a_body_that_is_not_json_counts_as_created(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(
        f"{BASE}/Patient",
        status=201,
        headers={"Location": f"{BASE}/Patient/p1/_history/1"},
        body="<html>Created</html>",
        content_type="text/html",
    )

    result = FhirClient(BASE).create(PATIENT)

    assert result == CreateResult(201, None, f"{BASE}/Patient/p1/_history/1", None)


def test_conditional_create_answered_200_with_a_body_that_is_not_json_counts_as_a_match(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(f"{BASE}/Patient", status=200, body="OK", content_type="text/plain")

    result = FhirClient(BASE).create(PATIENT, if_none_exist="identifier=urn:mrn|42")

    assert result == CreateResult(200, None, None, None)


def test_conditional_create_matching_several_resources_raises_with_412(
    mocked: responses.RequestsMock,
) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "duplicate"}]}
    mocked.post(f"{BASE}/Patient", status=412, json=outcome)

    with pytest.raises(FhirError) as raised:
        FhirClient(BASE).create(PATIENT, if_none_exist="identifier=urn:mrn|42")

    assert (raised.value.status, raised.value.operation_outcome) == (412, outcome)


def test_create_without_a_resource_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="resource type"):
        FhirClient(BASE).create({"status": "final"})
