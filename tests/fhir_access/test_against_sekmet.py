"""The client against a real FHIR server: sekmet-fhir 0.1.1, started by the `fhir_base_url` fixture."""

from __future__ import annotations

import uuid

import pytest

from fhir_access import FhirClient

pytestmark = pytest.mark.integration


def test_search_with_a_small_page_size_returns_every_observation(fhir_base_url: str) -> None:
    client = FhirClient(fhir_base_url)
    patient = client.create({"resourceType": "Patient", "name": [{"family": "Paging"}]}).resource
    assert patient is not None
    for day in range(1, 8):
        client.create(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
                "subject": {"reference": f"Patient/{patient['id']}"},
                "effectiveDateTime": f"2025-01-0{day}",
                "valueQuantity": {"value": 13 + day / 10, "unit": "g/dL"},
            }
        )

    found = client.search("Observation", {"patient": patient["id"], "_count": "3", "_sort": "-date"})

    assert [resource["effectiveDateTime"][:10] for resource in found] == [
        f"2025-01-0{d}" for d in range(7, 0, -1)
    ]


def test_conditional_create_twice_with_one_identifier_makes_one_resource(fhir_base_url: str) -> None:
    client = FhirClient(fhir_base_url)
    mrn = f"mrn-{uuid.uuid4().hex}"
    patient = {"resourceType": "Patient", "identifier": [{"system": "urn:aa-jak:test", "value": mrn}]}

    first = client.create(patient, if_none_exist=f"identifier=urn:aa-jak:test|{mrn}")
    second = client.create(patient, if_none_exist=f"identifier=urn:aa-jak:test|{mrn}")

    assert (first.status, second.status) == (201, 200)
    assert first.resource is not None and second.resource is not None
    assert second.resource["id"] == first.resource["id"]
    assert len(client.search("Patient", {"identifier": f"urn:aa-jak:test|{mrn}"})) == 1
