"""Failures become typed errors whose messages carry no PHI and no token."""

from __future__ import annotations

import logging

import pytest
import requests
import responses

from fhir_access import (
    FhirBadResponse,
    FhirClient,
    FhirError,
    FhirForbidden,
    FhirNotFound,
    FhirTimeout,
    FhirUnauthorized,
    FhirUnavailable,
)

BASE = "https://fhir.example.org/r4"
TOKEN = "secret-access-token-abc"
PATIENT_ID = "patient-8f3a91"
FHIR_JSON = "application/fhir+json"


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (401, FhirUnauthorized),
        (403, FhirForbidden),
        (404, FhirNotFound),
        (410, FhirNotFound),
        (429, FhirUnavailable),
        (500, FhirUnavailable),
        (400, FhirError),
    ],
)
def test_status_maps_to_a_typed_error(mocked: responses.RequestsMock, status: int, error_class: type) -> None:
    mocked.get(f"{BASE}/Observation", status=status, json={"resourceType": "OperationOutcome"})

    with pytest.raises(error_class) as raised:
        FhirClient(BASE, TOKEN).search("Observation", {"patient": PATIENT_ID})

    assert type(raised.value) is error_class
    assert raised.value.status == status
    assert raised.value.resource_type == "Observation"


def test_error_message_names_type_and_status_but_not_the_query_or_token(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(f"{BASE}/Observation", status=500)

    with pytest.raises(FhirUnavailable) as raised:
        FhirClient(BASE, TOKEN).search("Observation", {"patient": PATIENT_ID})

    assert str(raised.value) == "FHIR search Observation: HTTP 500"


def test_connection_error_hides_the_url_it_was_raised_with(mocked: responses.RequestsMock) -> None:
    mocked.get(
        f"{BASE}/Observation", body=requests.ConnectionError(f"refused: /Observation?patient={PATIENT_ID}")
    )

    with pytest.raises(FhirUnavailable) as raised:
        FhirClient(BASE, TOKEN).search("Observation", {"patient": PATIENT_ID})

    assert PATIENT_ID not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_read_timeout_is_a_fhir_timeout(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Patient/p1", body=requests.ReadTimeout())

    with pytest.raises(FhirTimeout):
        FhirClient(BASE).read("Patient", "p1")


def test_operation_outcome_is_carried_by_the_error(mocked: responses.RequestsMock) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "forbidden"}]}
    mocked.get(f"{BASE}/Observation", status=403, json=outcome)

    with pytest.raises(FhirForbidden) as raised:
        FhirClient(BASE).search("Observation")

    assert raised.value.operation_outcome == outcome


def test_a_body_that_is_not_json_is_a_bad_response(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Observation", body="<html>login</html>", content_type="text/html")

    with pytest.raises(FhirBadResponse):
        FhirClient(BASE).search("Observation")


def test_an_operation_outcome_where_a_bundle_was_expected_is_a_bad_response(
    mocked: responses.RequestsMock,
) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "too-costly"}]}
    mocked.get(f"{BASE}/Observation", json=outcome)

    with pytest.raises(FhirBadResponse) as raised:
        FhirClient(BASE).search("Observation")

    assert raised.value.operation_outcome == outcome


MALFORMED_BUNDLES = {
    "entry not an array": {"entry": 1},
    "entry item not an object": {"entry": [1]},
    "entry resource not a resource": {"entry": [{"resource": {"id": "o1"}}]},
    "entry search not an object": {"entry": [{"resource": {"resourceType": "Observation"}, "search": 1}]},
    "link not an array": {"link": 1},
    "link item not an object": {"link": ["next"]},
    "next link without a url": {"link": [{"relation": "next", "url": 5}]},
    "next link that is no URL": {"link": [{"relation": "next", "url": "https://[::1"}]},
}


@pytest.mark.parametrize("members", MALFORMED_BUNDLES.values(), ids=MALFORMED_BUNDLES)
def test_a_malformed_bundle_is_a_bad_response(mocked: responses.RequestsMock, members: dict) -> None:
    mocked.get(f"{BASE}/Observation", json={"resourceType": "Bundle", "type": "searchset", **members})

    with pytest.raises(FhirBadResponse, match="malformed Bundle"):
        FhirClient(BASE).search("Observation")


def test_a_body_nested_too_deeply_to_parse_is_a_bad_response(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Observation", body="[" * 100_000 + "]" * 100_000, content_type=FHIR_JSON)

    with pytest.raises(FhirBadResponse, match="not JSON"):
        FhirClient(BASE).search("Observation")


def test_an_error_body_nested_too_deeply_still_maps_to_its_status(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Observation", status=503, body="[" * 100_000 + "]" * 100_000, content_type=FHIR_JSON)

    with pytest.raises(FhirUnavailable):
        FhirClient(BASE).search("Observation")


def test_read_of_another_resource_type_is_a_bad_response(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Patient/p1", json={"resourceType": "Group", "id": "p1"})

    with pytest.raises(FhirBadResponse):
        FhirClient(BASE).read("Patient", "p1")


@pytest.mark.parametrize("resource_id", ["../Group/1", "p1?x=1", "", "a" * 65])
def test_read_rejects_an_id_that_is_not_a_fhir_id(resource_id: str) -> None:
    with pytest.raises(ValueError, match="FHIR id"):
        FhirClient(BASE).read("Patient", resource_id)


def test_debug_log_has_method_type_status_and_time_only(
    mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.get(f"{BASE}/Observation", json={"resourceType": "Bundle", "type": "searchset"})
    caplog.set_level(logging.DEBUG, logger="fhir_access")

    FhirClient(BASE, TOKEN).search("Observation", {"patient": PATIENT_ID})

    [record] = [r for r in caplog.records if r.name.startswith("fhir_access")]
    assert record.levelno == logging.DEBUG
    assert record.getMessage().startswith("FHIR GET Observation -> 200 in ")
    assert PATIENT_ID not in caplog.text
    assert TOKEN not in caplog.text
