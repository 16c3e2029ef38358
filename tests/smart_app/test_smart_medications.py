"""Medications named by reference (smart-app-launch.md §1.7 APP): read from `iss`, once each, in parallel."""

from __future__ import annotations

from typing import Any

import pytest
from smart_fakes import ISS, FakeEhr, Launcher, fake_build_record, make_app, make_settings

from smart_app.data import medication_references

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
AA_CONDITION = {
    "resourceType": "Condition",
    "id": "cond-aa",
    "subject": {"reference": "Patient/pat-a"},
    "clinicalStatus": {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
    },
    "verificationStatus": {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
        ]
    },
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "68225006"}]},
    "onsetDateTime": "2024-01-01",
}


def _medication(mid: str, code: str = "2047247") -> dict[str, Any]:
    """baricitinib 2 MG Oral Tablet [Olumiant] by default; no text that would name the drug otherwise."""
    return {"resourceType": "Medication", "id": mid, "code": {"coding": [{"system": RXNORM, "code": code}]}}


def _order(oid: str, reference: str, rtype: str = "MedicationRequest") -> dict[str, Any]:
    order: dict[str, Any] = {
        "resourceType": rtype,
        "id": oid,
        "status": "active",
        "subject": {"reference": "Patient/pat-a"},
        "medicationReference": {"reference": reference},  # no display: only the Medication names the drug
    }
    if rtype == "MedicationRequest":
        order |= {
            "intent": "order",
            "authoredOn": "2026-01-20",
            "dosageInstruction": [{"text": "2 mg daily"}],
        }
    else:
        order |= {"effectivePeriod": {"start": "2026-01-20"}}
    return order


def _medication_reads(ehr: FakeEhr) -> list[str]:
    return [r.url for r in ehr.fhir_requests if "/Medication/" in r.url]


@pytest.fixture
def seen_by_core(monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    """What `build_record` was given, per call (stub core otherwise)."""
    import smart_app.data as data

    calls: list[list[dict[str, Any]]] = []

    def spy(resources: list[dict[str, Any]]) -> Any:
        calls.append(list(resources))
        return fake_build_record(resources)

    monkeypatch.setattr(data, "build_record", spy)
    return calls


def test_patient_on_baricitinib_ordered_by_reference_shows_on_therapy(tmp_path, rsps):
    """The real clinical core: without the Medication it could not tell the drug; with it, on therapy."""
    from smart_servers import integration_knowledge

    app = make_app(make_settings(tmp_path))
    app.extensions["smart_app"].knowledge_loader = integration_knowledge
    ehr = FakeEhr(rsps, ISS)
    ehr.stored = [AA_CONDITION, _order("mr-1", "Medication/med-bari"), _medication("med-bari")]
    client = app.test_client()
    body = client.get(Launcher(client, ehr).launch()).get_data(as_text=True)
    assert "On therapy" in body
    assert "Baricitinib" in body
    assert _medication_reads(ehr) == [f"{ISS}/Medication/med-bari"]


def test_medication_references_are_read_once_each_in_parallel_and_passed_to_the_core(
    launcher: Launcher, client, ehr: FakeEhr, seen_by_core, monkeypatch
):
    from fhir_access import FhirClient

    batches: list[dict[str, str]] = []
    real_search_many = FhirClient.search_many

    def spy(self: FhirClient, queries: dict[str, str]) -> Any:
        batches.append(dict(queries))
        return real_search_many(self, queries)

    monkeypatch.setattr(FhirClient, "search_many", spy)
    ehr.stored = [
        _order("mr-1", "Medication/m1"),
        _order("mr-2", f"{ISS}/Medication/m1"),  # absolute, under iss: the same Medication
        _order("ms-1", "Medication/m2/_history/3", rtype="MedicationStatement"),
        _order("mr-3", "#contained"),  # the core resolves contained ones
        _medication("m1"),
        _medication("m2", code="2047232"),
    ]
    assert client.get(launcher.launch()).status_code == 200
    assert sorted(_medication_reads(ehr)) == [f"{ISS}/Medication/m1", f"{ISS}/Medication/m2"]
    medication_batches = [b for b in batches if any(q.startswith("Medication/") for q in b.values())]
    assert len(medication_batches) == 1  # both reads in one parallel search_many
    assert sorted(medication_batches[0].values()) == ["Medication/m1", "Medication/m2"]
    given = seen_by_core[-1]
    assert sorted(r["id"] for r in given if r["resourceType"] == "Medication") == ["m1", "m2"]
    assert {r["id"] for r in given if r["resourceType"] in ("MedicationRequest", "MedicationStatement")} == {
        "mr-1",
        "mr-2",
        "ms-1",
        "mr-3",
    }


def test_medication_references_outside_iss_are_never_read(launcher: Launcher, client, ehr: FakeEhr, rsps):
    ehr.stored = [_order("mr-1", "https://elsewhere.example.net/fhir/Medication/x")]
    assert client.get(launcher.launch()).status_code == 200
    assert not any("elsewhere.example.net" in c.request.url for c in rsps.calls)
    assert _medication_reads(ehr) == []


def test_missing_medication_is_left_out_and_the_others_still_reach_the_core(
    launcher: Launcher, client, ehr: FakeEhr, seen_by_core
):
    ehr.stored = [_order("mr-1", "Medication/gone"), _order("mr-2", "Medication/m1"), _medication("m1")]
    assert client.get(launcher.launch()).status_code == 200
    given = seen_by_core[-1]
    assert [r["id"] for r in given if r["resourceType"] == "Medication"] == ["m1"]


def test_medications_are_not_read_without_medication_read_scope(launcher: Launcher, client, ehr: FakeEhr):
    ehr.grant_scope = (
        "launch patient/Patient.r patient/MedicationRequest.rs patient/Observation.rs patient/Observation.c"
    )
    ehr.stored = [_order("mr-1", "Medication/m1"), _medication("m1")]
    body = client.get(launcher.launch()).get_data(as_text=True)
    assert _medication_reads(ehr) == []
    assert "Medication (not permitted by the granted scopes)" in body


def test_medication_read_scope_is_requested(launcher: Launcher):
    assert "patient/Medication.r" in launcher.authorize_params(launcher.start())["scope"].split()


def test_medication_reference_parsing_unit():
    resources = [
        _order("a", "Medication/m1"),
        _order("b", "Medication/m1"),
        _order("c", f"{ISS}/Medication/m2/_history/1"),
        _order("d", "https://other.example/fhir/Medication/m3"),
        _order("e", "#c1"),
        _order("f", "Medication/bad id!"),
        _order("g", "Medication/m4"),
        _medication("m4"),  # already in the data (e.g. _include)
    ]
    assert medication_references(resources, ISS + "/") == ["m1", "m2"]
