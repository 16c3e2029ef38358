"""Load one patient's data over FHIR (within the granted scopes) and run the clinical core on it.

Searches run in parallel through the one `FhirClient` (`search_many`), always
for the launch context's patient, with code sets from the knowledge file
(smart-app-launch.md §1.7). Resource types the granted scopes do not cover are
not queried; the page then says the data may be incomplete. Medications that
orders name by `medicationReference` (not contained) are then read, once each,
in parallel, from `iss` only (`patient/Medication.r`), so the core can classify them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from smart_app.knowledge_view import lab_codes
from smart_app.scopes import ScopeSet

SEARCHED_TYPES = (
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "Immunization",
    "Procedure",
)
CODES_PER_QUERY = 40  # keeps URLs well under common 8 KB limits
MEDICATION_USERS = ("MedicationRequest", "MedicationStatement")
MAX_MEDICATION_READS = 100  # a sanity bound; a patient's distinct Medications are far fewer


@dataclass
class PatientData:
    resources: list[dict[str, Any]]
    patient: dict[str, Any] | None
    fetched_at: datetime
    skipped: list[str] = field(default_factory=list)  # resource types not queried for want of scope


def queries(patient_id: str, granted: ScopeSet, knowledge: Any) -> tuple[dict[str, str], list[str]]:
    """The search_many queries for this patient, and the resource types left out for want of scope."""
    pid = quote(patient_id, safe="")
    out: dict[str, str] = {}
    skipped: list[str] = []
    if granted.allows("Patient", "r"):
        out["patient"] = f"Patient/{pid}"
    else:
        skipped.append("Patient")
    for rtype in SEARCHED_TYPES:
        if granted.allows(rtype, "s") and granted.allows(rtype, "r"):
            out[rtype] = f"{rtype}?patient={pid}&_count=100"
        else:
            skipped.append(rtype)
    if granted.allows("Observation", "s") and granted.allows("Observation", "r"):
        codes = [f"{s}|{c}" for s, c in lab_codes(knowledge)]
        for i in range(0, len(codes), CODES_PER_QUERY):
            chunk = ",".join(quote(c, safe="|:/") for c in codes[i : i + CODES_PER_QUERY])
            out[f"Observation-{i // CODES_PER_QUERY}"] = f"Observation?patient={pid}&code={chunk}&_count=100"
    else:
        skipped.append("Observation")
    return out, skipped


def medication_references(resources: list[dict[str, Any]], base_url: str) -> list[str]:
    """Ids of the `Medication/<id>` that MedicationRequests/Statements reference and the data lacks.

    Contained (`#id`) references are resolved by the core. Absolute references
    count only when they are under our FHIR base (`iss`): the token is never
    sent anywhere else (R97, R98). Version-specific references read the
    current version. Order of first appearance, no duplicates.
    """
    from fhir_access import ReferenceKind, parse_medication_reference

    have = {str(r.get("id")) for r in resources if r.get("resourceType") == "Medication" and r.get("id")}
    ids: list[str] = []
    for r in resources:
        if r.get("resourceType") not in MEDICATION_USERS:
            continue
        ref = r.get("medicationReference")
        target = ref.get("reference") if isinstance(ref, dict) else None
        if not isinstance(target, str):
            continue
        parsed = parse_medication_reference(target, base_url)
        mid = parsed.id if parsed.kind is ReferenceKind.SAME_SERVER else None
        if mid is not None and mid not in have and mid not in ids:
            ids.append(mid)
    return ids


def read_medications(client: Any, ids: list[str]) -> list[dict[str, Any]]:
    """Read the Medications in parallel (one `search_many`); ones the server no longer has are left out.

    A missing Medication is not an error of the page: the core then reports the
    order's medication as not in the data, which the "cannot determine" list shows.
    """
    from fhir_access import FhirNotFound

    pending = {f"Medication-{i}": f"Medication/{mid}" for i, mid in enumerate(ids[:MAX_MEDICATION_READS])}
    while pending:
        try:
            results = client.search_many(pending)
        except FhirNotFound as exc:
            if exc.key is None or exc.key not in pending:
                raise
            del pending[exc.key]  # and read the rest again: rare, and never more than len(ids) rounds
            continue
        return [r for items in results.values() for r in items if r.get("resourceType") == "Medication"]
    return []


def fetch(client: Any, patient_id: str, granted: ScopeSet, knowledge: Any, now: datetime) -> PatientData:
    qs, skipped = queries(patient_id, granted, knowledge)
    results = client.search_many(qs) if qs else {}
    patient = (results.get("patient") or [None])[0]
    resources: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for items in results.values():
        for r in items:
            key = (str(r.get("resourceType")), str(r.get("id")))
            if r.get("id") and key in seen:
                continue
            seen.add(key)
            resources.append(r)
    wanted = medication_references(resources, client.base_url)
    if wanted:
        if granted.allows("Medication", "r"):
            resources.extend(read_medications(client, wanted))
        else:
            skipped.append("Medication")
    return PatientData(resources=resources, patient=patient, fetched_at=now, skipped=skipped)


def build_record(resources: list[dict[str, Any]]) -> Any:
    from clinical_core import build_record as core_build_record

    return core_build_record(resources)


def evaluate(record: Any, as_of: date, knowledge: Any) -> Any:
    from clinical_core import evaluate as core_evaluate

    return core_evaluate(record, as_of=as_of, knowledge=knowledge)


def assess(data: PatientData, as_of: date, knowledge: Any) -> tuple[Any, Any]:
    """(PatientRecord, Assessment) from the clinical core."""
    record = build_record(data.resources)
    return record, evaluate(record, as_of, knowledge)
