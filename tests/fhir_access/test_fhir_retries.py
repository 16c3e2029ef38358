"""GETs are retried on transient failures within the deadline; POSTs never are."""

from __future__ import annotations

import time

import pytest
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.response import HTTPResponse

from fhir_access import FhirClient, FhirUnavailable
from fhir_access.transport import DeadlineRetry, deadline_scope

BASE = "https://fhir.example.org/r4"


def test_get_is_retried_after_a_503(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Patient/p1", status=503)
    mocked.get(f"{BASE}/Patient/p1", json={"resourceType": "Patient", "id": "p1"})

    assert FhirClient(BASE).read("Patient", "p1")["id"] == "p1"
    assert len(mocked.calls) == 2


def test_get_gives_up_after_two_retries(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Patient/p1", status=503)

    with pytest.raises(FhirUnavailable):
        FhirClient(BASE).read("Patient", "p1")

    assert len(mocked.calls) == 3


def test_get_is_not_retried_after_a_500(mocked: responses.RequestsMock) -> None:
    mocked.get(f"{BASE}/Patient/p1", status=500)

    with pytest.raises(FhirUnavailable):
        FhirClient(BASE).read("Patient", "p1")

    assert len(mocked.calls) == 1


def test_post_is_never_retried_after_a_503(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{BASE}/Observation", status=503)
    mocked.post(f"{BASE}/Observation", status=201, json={"resourceType": "Observation", "id": "o1"})

    with pytest.raises(FhirUnavailable):
        FhirClient(BASE).create({"resourceType": "Observation", "status": "final"})

    assert len(mocked.calls) == 1


def _connection_refused() -> NewConnectionError:
    return NewConnectionError(None, "connection refused")  # type: ignore[arg-type]


def test_post_is_not_retried_after_a_connection_error() -> None:
    retry = DeadlineRetry(total=2, connect=2, allowed_methods=frozenset({"GET"}))

    with pytest.raises(MaxRetryError):
        retry.increment("POST", "/Observation", error=_connection_refused())


def test_get_is_retried_after_a_connection_error() -> None:
    retry = DeadlineRetry(total=2, connect=2, allowed_methods=frozenset({"GET"}))

    assert retry.increment("GET", "/Observation", error=_connection_refused()).connect == 1


def test_no_retry_is_made_when_its_backoff_would_pass_the_deadline() -> None:
    retry = DeadlineRetry(total=5, status=5, backoff_factor=0.5, status_forcelist={503})
    unavailable = HTTPResponse(status=503)
    retry = retry.increment("GET", "/Observation", response=unavailable)  # the first retry has no backoff

    with deadline_scope(time.monotonic() + 0.3), pytest.raises(MaxRetryError):
        retry.increment("GET", "/Observation", response=unavailable)
