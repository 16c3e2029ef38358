"""Searches return the resources of every page (SMART App Launch 1.7; CDS Hooks C4)."""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from fhir_access import FhirBadResponse, FhirClient

BASE = "https://fhir.example.org/r4"


def test_search_follows_next_links_to_the_last_page(
    mocked: responses.RequestsMock, searchset, observations
) -> None:
    mocked.get(
        f"{BASE}/Observation",
        json=searchset(observations(range(3)), f"{BASE}/Observation?page=2"),
        match=[matchers.query_param_matcher({"patient": "p1", "_count": "3"})],
    )
    mocked.get(
        f"{BASE}/Observation",
        json=searchset(observations(range(3, 6)), f"{BASE}/Observation?page=3"),
        match=[matchers.query_param_matcher({"page": "2"})],
    )
    mocked.get(
        f"{BASE}/Observation",
        json=searchset(observations(range(6, 7))),
        match=[matchers.query_param_matcher({"page": "3"})],
    )

    found = FhirClient(BASE).search("Observation", {"patient": "p1", "_count": "3"})

    assert [resource["id"] for resource in found] == [f"obs-{n}" for n in range(7)]


def test_search_sends_the_parameters_as_given(mocked: responses.RequestsMock, searchset) -> None:
    params = {"patient": "p1", "code": "http://loinc.org|718-7,http://loinc.org|731-0", "_sort": "-date"}
    mocked.get(f"{BASE}/Observation", json=searchset([]), match=[matchers.query_param_matcher(params)])

    assert FhirClient(BASE).search("Observation", params) == []


def test_a_list_value_repeats_the_parameter(mocked: responses.RequestsMock, searchset) -> None:
    mocked.get(f"{BASE}/Observation", json=searchset([]))

    FhirClient(BASE).search("Observation", {"date": ["ge2024-01-01", "lt2025-01-01"]})

    assert mocked.calls[0].request.url.endswith("?date=ge2024-01-01&date=lt2025-01-01")


def test_search_url_accepts_a_relative_prefetch_query(mocked: responses.RequestsMock, searchset) -> None:
    mocked.get(
        f"{BASE}/Condition",
        json=searchset([{"resourceType": "Condition", "id": "c1"}]),
        match=[matchers.query_param_matcher({"patient": "p1"})],
    )

    assert FhirClient(BASE).search_url("Condition?patient=p1") == [{"resourceType": "Condition", "id": "c1"}]


def test_search_url_accepts_an_absolute_url_under_the_base(mocked: responses.RequestsMock, searchset) -> None:
    mocked.get(f"{BASE}/Condition", json=searchset([{"resourceType": "Condition", "id": "c1"}]))

    assert len(FhirClient(BASE).search_url(f"{BASE}/Condition?patient=p1")) == 1


def test_search_url_with_an_instance_read_returns_that_resource(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})

    assert FhirClient(BASE).search_url("Patient/p1") == [{"resourceType": "Patient", "id": "p1"}]


def test_search_url_without_a_resource_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="resource type"):
        FhirClient(BASE).search_url("?patient=p1")


def test_outcome_entries_are_not_returned_as_data(mocked: responses.RequestsMock) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Observation", "id": "o1"}, "search": {"mode": "match"}},
            {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "outcome"}},
        ],
    }
    mocked.get(f"{BASE}/Observation", json=bundle)

    assert FhirClient(BASE).search("Observation") == [{"resourceType": "Observation", "id": "o1"}]


def test_continue_bundle_returns_the_prefetch_and_its_remaining_pages(
    mocked: responses.RequestsMock, searchset, observations
) -> None:
    prefetch = searchset(observations(range(2)), f"{BASE}/Observation?page=2")
    mocked.get(f"{BASE}/Observation", json=searchset(observations(range(2, 4))))

    found = FhirClient(BASE).continue_bundle(prefetch)

    assert [resource["id"] for resource in found] == ["obs-0", "obs-1", "obs-2", "obs-3"]


def test_continue_bundle_without_a_next_link_makes_no_request(
    mocked: responses.RequestsMock, searchset, observations
) -> None:
    assert len(FhirClient(BASE).continue_bundle(searchset(observations(range(2))))) == 2
    assert len(mocked.calls) == 0


def test_continue_bundle_rejects_an_operation_outcome_prefetch() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "forbidden"}]}

    with pytest.raises(FhirBadResponse) as raised:
        FhirClient(BASE).continue_bundle(outcome)

    assert raised.value.operation_outcome == outcome


def test_continue_bundle_rejects_a_prefetch_whose_next_link_is_no_url(
    mocked: responses.RequestsMock, searchset, observations
) -> None:
    with pytest.raises(FhirBadResponse, match="malformed Bundle"):
        FhirClient(BASE).continue_bundle(searchset(observations(range(2)), "https://[::1"))

    assert len(mocked.calls) == 0


def test_a_next_link_back_to_a_page_already_read_is_an_error(
    mocked: responses.RequestsMock, searchset, observations
) -> None:
    mocked.get(f"{BASE}/Observation", json=searchset(observations(range(1)), f"{BASE}/Observation?page=2"))

    with pytest.raises(FhirBadResponse, match="page already read"):
        FhirClient(BASE).search("Observation", {"patient": "p1"})
