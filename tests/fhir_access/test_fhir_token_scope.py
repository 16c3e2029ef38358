"""The bearer token reaches the FHIR base URL and nothing else (SMART App Launch 1.7, CDS Hooks C7)."""

from __future__ import annotations

import pytest
import responses

from fhir_access import FhirBadResponse, FhirClient, OffOriginUrl

BASE = "https://fhir.example.org/r4"
TOKEN = "secret-access-token-abc"


def test_token_is_sent_to_the_base_url(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})

    FhirClient(BASE, TOKEN).read("Patient", "p1")

    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_requests_ask_for_fhir_json(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})

    FhirClient(BASE).read("Patient", "p1")

    assert mocked.calls[0].request.headers["Accept"] == "application/fhir+json"


def test_no_authorization_header_without_a_token(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})

    FhirClient(BASE, token=None).read("Patient", "p1")

    assert "Authorization" not in mocked.calls[0].request.headers


@pytest.mark.parametrize(
    "next_url",
    [
        "https://evil.example.org/r4/Observation?page=2",
        "http://fhir.example.org/r4/Observation?page=2",
        "https://fhir.example.org:8443/r4/Observation?page=2",
        "https://fhir.example.org/other/Observation?page=2",
        "https://fhir.example.org/r4/../admin?page=2",
        "https://user@fhir.example.org/r4/Observation?page=2",
    ],
    ids=["other-host", "other-scheme", "other-port", "other-path", "path-traversal", "userinfo"],
)
def test_token_is_never_sent_to_an_off_origin_next_link(
    mocked: responses.RequestsMock, searchset, next_url: str
) -> None:
    mocked.get(f"{BASE}/Observation", json=searchset([{"resourceType": "Observation"}], next_url))

    with pytest.raises(OffOriginUrl):
        FhirClient(BASE, TOKEN).search("Observation", {"patient": "p1"})

    assert len(mocked.calls) == 1


def test_relative_next_link_is_resolved_against_the_base(mocked: responses.RequestsMock, searchset) -> None:
    mocked.get(
        f"{BASE}/Observation",
        json=searchset([{"resourceType": "Observation"}], "Observation?page=2"),
        match=[responses.matchers.query_param_matcher({"patient": "p1"})],
    )
    mocked.get(
        f"{BASE}/Observation",
        json=searchset([{"resourceType": "Observation"}]),
        match=[responses.matchers.query_param_matcher({"page": "2"})],
    )

    found = FhirClient(BASE, TOKEN).search("Observation", {"patient": "p1"})

    assert len(found) == 2
    assert mocked.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_redirect_is_not_followed(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Patient/p1", status=302, headers={"Location": "https://evil.example.org/Patient/p1"})

    with pytest.raises(FhirBadResponse) as raised:
        FhirClient(BASE, TOKEN).read("Patient", "p1")

    assert raised.value.status == 302
    assert len(mocked.calls) == 1


def test_absolute_search_url_outside_the_base_is_not_requested(mocked: responses.RequestsMock) -> None:
    with pytest.raises(OffOriginUrl):
        FhirClient(BASE, TOKEN).search_url("https://evil.example.org/r4/Observation?patient=p1")

    assert len(mocked.calls) == 0


def test_off_origin_location_of_a_create_is_returned_but_never_requested(
    mocked: responses.RequestsMock,
) -> None:
    upstream = "https://upstream.example.org/fhir/Observation/o9/_history/1"
    mocked.post(
        f"{BASE}/Observation",
        status=201,
        headers={"Location": upstream},
        json={"resourceType": "Observation", "id": "o9"},
    )

    result = FhirClient(BASE, TOKEN).create({"resourceType": "Observation", "status": "final"})

    assert result.location == upstream
    assert len(mocked.calls) == 1


def test_repr_does_not_show_the_token() -> None:
    assert TOKEN not in repr(FhirClient(BASE, TOKEN))
