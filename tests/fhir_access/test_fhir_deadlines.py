"""Every call ends by its deadline; parallel searches really run in parallel (CDS Hooks I5)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses

from fhir_access import FhirClient, FhirForbidden, FhirTimeout, OffOriginUrl

BASE = "https://fhir.example.org/r4"


def _slow(
    seconds: float, body: dict[str, Any]
) -> Callable[[requests.PreparedRequest], tuple[int, dict[str, str], str]]:
    def reply(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        time.sleep(seconds)
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(body)

    return reply


def test_search_many_runs_the_queries_concurrently(mocked: responses.RequestsMock, searchset) -> None:
    for resource_type in ("Observation", "Condition", "MedicationRequest", "Immunization"):
        mocked.add_callback(
            responses.GET,
            f"{BASE}/{resource_type}",
            callback=_slow(0.2, searchset([{"resourceType": resource_type}])),
        )
    queries = {
        "labs": "Observation?patient=p1",
        "conditions": "Condition?patient=p1",
        "medications": "MedicationRequest?patient=p1",
        "vaccines": "Immunization?patient=p1",
    }

    started = time.monotonic()
    results = FhirClient(BASE, max_workers=8).search_many(queries)
    elapsed = time.monotonic() - started

    assert elapsed < 0.5
    assert results["vaccines"] == [{"resourceType": "Immunization"}]
    assert list(results) == list(queries)


def test_search_many_failure_names_the_failing_key(mocked: responses.RequestsMock, searchset) -> None:
    mocked.get(f"{BASE}/Observation", json=searchset([]))
    mocked.get(f"{BASE}/Condition", status=403)

    with pytest.raises(FhirForbidden) as raised:
        FhirClient(BASE).search_many({"labs": "Observation?patient=p1", "conditions": "Condition?patient=p1"})

    assert raised.value.key == "conditions"


def test_search_many_off_origin_query_names_its_key_and_sends_nothing(mocked: responses.RequestsMock) -> None:
    with pytest.raises(OffOriginUrl) as raised:
        FhirClient(BASE).search_many({"labs": "https://evil.example.org/Observation?patient=p1"})

    assert raised.value.key == "labs"
    assert len(mocked.calls) == 0


def test_search_many_raises_timeout_for_a_query_still_running_at_the_deadline(
    mocked: responses.RequestsMock, searchset
) -> None:
    mocked.get(f"{BASE}/Condition", json=searchset([]))
    mocked.add_callback(responses.GET, f"{BASE}/Observation", callback=_slow(0.6, searchset([])))

    started = time.monotonic()
    with pytest.raises(FhirTimeout) as raised:
        FhirClient(BASE, deadline_s=0.2).search_many(
            {"conditions": "Condition?patient=p1", "labs": "Observation?patient=p1"}
        )

    assert raised.value.key == "labs"
    assert time.monotonic() - started < 0.5


def test_paging_stops_with_timeout_when_the_deadline_passes(
    mocked: responses.RequestsMock, searchset
) -> None:
    # Each page takes 0.2 s and links to another one: without a deadline this would never end.
    def endless_page(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        page = int(request.params.get("page", "1"))
        time.sleep(0.2)
        bundle = searchset([{"resourceType": "Observation"}], f"{BASE}/Observation?page={page + 1}")
        return 200, {}, json.dumps(bundle)

    mocked.add_callback(responses.GET, f"{BASE}/Observation", callback=endless_page)

    started = time.monotonic()
    with pytest.raises(FhirTimeout):
        FhirClient(BASE, deadline_s=0.5).search("Observation", {"patient": "p1"})

    assert time.monotonic() - started < 1.0
    assert len(mocked.calls) <= 3


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/fhir"


def test_an_unresponsive_server_raises_timeout_instead_of_hanging(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(FhirTimeout):
        FhirClient(silent_server, timeout_s=0.2).read("Patient", "p1")

    assert time.monotonic() - started < 1.0
