"""Tiny builders of FHIR R4 resource dicts for the core tests.

Each returns a plain dict (what the hot path reads); `**extra` fields are merged
in last, so a test can override or add anything. Ids are unique unless given.
"""

from __future__ import annotations

import itertools
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
AA_SEVERITY = "urn:aa-jak:fhir:CodeSystem:aa-severity"

Resource = dict[str, Any]
_ids = itertools.count(1)


def _id(kind: str, given: str | None) -> str:
    return given if given is not None else f"{kind.lower()}-{next(_ids)}"


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    found = {"system": system, "code": code}
    if display is not None:
        found["display"] = display
    return found


def concept(
    system: str | None, code: str | None, display: str | None = None, text: str | None = None
) -> Resource:
    found: Resource = {}
    if system is not None and code is not None:
        found["coding"] = [coding(system, code, display)]
    if text is not None:
        found["text"] = text
    return found


def patient(
    id: str = "p1", birth_date: str | None = "1980-05-17", gender: str = "female", **extra: Any
) -> Resource:
    found: Resource = {"resourceType": "Patient", "id": id, "gender": gender}
    if birth_date is not None:
        found["birthDate"] = birth_date
    return {**found, **extra}


def observation(
    loinc: str | None,
    value: Any,
    unit: str | None,
    when: str | None,
    status: str | None = "final",
    *,
    id: str | None = None,
    system: str = LOINC,
    **extra: Any,
) -> Resource:
    """A number gives valueQuantity (unit as both `unit` and UCUM `code`); a str valueString;
    a bool valueBoolean; a dict valueCodeableConcept; None no value."""
    found: Resource = {"resourceType": "Observation", "id": _id("Observation", id)}
    if status is not None:
        found["status"] = status
    found["code"] = concept(system, loinc) if loinc else {"text": "unknown"}
    found["subject"] = {"reference": "Patient/p1"}
    if when is not None:
        found["effectiveDateTime"] = when
    if isinstance(value, bool):
        found["valueBoolean"] = value
    elif isinstance(value, int | float):
        quantity: Resource = {"value": value}
        if unit is not None:
            quantity.update(unit=unit, system=UCUM, code=unit)
        found["valueQuantity"] = quantity
    elif isinstance(value, str):
        found["valueString"] = value
    elif isinstance(value, dict):
        found["valueCodeableConcept"] = value
    return {**found, **extra}


def condition(
    code: str,
    system: str = SNOMED,
    *,
    id: str | None = None,
    clinical_status: str | None = "active",
    verification_status: str | None = "confirmed",
    onset: str | None = "2024-01-10",
    display: str | None = None,
    **extra: Any,
) -> Resource:
    found: Resource = {
        "resourceType": "Condition",
        "id": _id("Condition", id),
        "code": concept(system, code, display),
        "subject": {"reference": "Patient/p1"},
    }
    if clinical_status is not None:
        found["clinicalStatus"] = concept(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", clinical_status
        )
    if verification_status is not None:
        found["verificationStatus"] = concept(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", verification_status
        )
    if onset is not None:
        found["onsetDateTime"] = onset
    return {**found, **extra}


def dosage(
    dose: float | None = None,
    unit: str = "mg",
    *,
    frequency: int | None = None,
    period: float = 1,
    period_unit: str = "d",
    text: str | None = None,
    **extra: Any,
) -> Resource:
    found: Resource = {}
    if text is not None:
        found["text"] = text
    if frequency is not None:
        found["timing"] = {"repeat": {"frequency": frequency, "period": period, "periodUnit": period_unit}}
    if dose is not None:
        found["doseAndRate"] = [{"doseQuantity": {"value": dose, "unit": unit, "system": UCUM, "code": unit}}]
    return {**found, **extra}


def medication_request(
    rxnorm: str | None = None,
    *,
    text: str | None = None,
    status: str = "active",
    intent: str = "order",
    id: str | None = None,
    authored_on: str | None = "2025-03-01",
    dosage_instruction: Resource | None = None,
    **extra: Any,
) -> Resource:
    found: Resource = {
        "resourceType": "MedicationRequest",
        "id": _id("MedicationRequest", id),
        "status": status,
        "intent": intent,
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": concept(RXNORM, rxnorm, text=text),
    }
    if authored_on is not None:
        found["authoredOn"] = authored_on
    if dosage_instruction is not None:
        found["dosageInstruction"] = [dosage_instruction]
    return {**found, **extra}


def medication_statement(
    rxnorm: str | None = None,
    *,
    text: str | None = None,
    status: str = "active",
    id: str | None = None,
    start: str | None = "2025-03-01",
    end: str | None = None,
    dosage_: Resource | None = None,
    **extra: Any,
) -> Resource:
    found: Resource = {
        "resourceType": "MedicationStatement",
        "id": _id("MedicationStatement", id),
        "status": status,
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": concept(RXNORM, rxnorm, text=text),
    }
    if start is not None or end is not None:
        found["effectivePeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    if dosage_ is not None:
        found["dosage"] = [dosage_]
    return {**found, **extra}


def medication(id: str, rxnorm: str | None = None, text: str | None = None, **extra: Any) -> Resource:
    return {"resourceType": "Medication", "id": id, "code": concept(RXNORM, rxnorm, text=text), **extra}


def immunization(
    cvx: str | None,
    when: str | None = "2025-01-05",
    status: str = "completed",
    *,
    id: str | None = None,
    **extra: Any,
) -> Resource:
    found: Resource = {
        "resourceType": "Immunization",
        "id": _id("Immunization", id),
        "status": status,
        "vaccineCode": concept(CVX, cvx) if cvx else {"text": "a vaccine"},
        "patient": {"reference": "Patient/p1"},
    }
    if when is not None:
        found["occurrenceDateTime"] = when
    return {**found, **extra}


def procedure(
    text: str,
    when: str | None = "2023-06-01",
    status: str = "completed",
    *,
    id: str | None = None,
    **extra: Any,
) -> Resource:
    found: Resource = {
        "resourceType": "Procedure",
        "id": _id("Procedure", id),
        "status": status,
        "code": {"text": text},
        "subject": {"reference": "Patient/p1"},
    }
    if when is not None:
        found["performedDateTime"] = when
    return {**found, **extra}


def bundle(*resources: Resource, full_urls: bool = False) -> Resource:
    entries = []
    for resource in resources:
        entry: Resource = {"resource": resource}
        if full_urls:
            entry["fullUrl"] = f"urn:uuid:{resource.get('id', next(_ids))}"
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}
