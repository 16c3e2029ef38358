"""Shared helpers of the CDS Hooks tests: fakes, constants and request-body builders."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from clinical_core.findings import Assessment

PUBLIC = "https://cds.example.org"
ISS = "https://ehr.example.org"
FHIR = "https://fhir.example.org/r4"
PATIENT = "pat-1"
LOINC = "http://loinc.org"


# ---------------------------------------------------------------- storage


@dataclass
class MemoryStorage:
    jtis: dict[tuple[str, str], datetime] = field(default_factory=dict)
    cards: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    feedback: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    audits: list[Any] = field(default_factory=list)

    def remember_jti(self, iss: str, jti: str, expires_at: datetime, now: datetime) -> bool:
        if (iss, jti) in self.jtis:
            return False
        self.jtis[(iss, jti)] = expires_at
        return True

    def record_cards(
        self, service_id: str, hook_instance: str, pairs: list[tuple[str, str]], now: Any
    ) -> None:
        for card_uuid, finding_id in pairs:
            self.cards.setdefault(card_uuid, []).append((service_id, hook_instance, finding_id))

    def record_feedback(self, service_id: str, items: list[Any], now: Any) -> int:
        new = 0
        for item in items:
            key = (item.card_uuid, item.outcome, item.outcome_timestamp.isoformat())
            if key not in self.feedback:
                new += 1
            self.feedback[key] = item
        return new

    def feedback_report(self) -> list[Any]:
        return []

    def record_audit(self, record: Any) -> None:
        self.audits.append(record)

    def record_invocation(self, record: Any, cards: Any = (), issued_at: Any = None) -> None:
        self.record_cards(record.service_id, record.hook_instance, list(cards), issued_at)
        self.record_audit(record)

    def ping(self) -> None:
        return None


# ---------------------------------------------------------------- engine


class FakeEngine:
    """Returns `self.assessment`; records what the service handed to the core."""

    def __init__(self) -> None:
        self.assessment = Assessment(as_of=date(2026, 11, 1))
        self.orders: tuple[Any, ...] = ()
        self.calls: list[tuple[list[dict[str, Any]], list[dict[str, Any]], date]] = []

    def observation_codes(self) -> list[tuple[str, str]]:
        return [(LOINC, "731-0"), (LOINC, "751-8"), (LOINC, "718-7"), (LOINC, "777-3")]

    def salt_codes(self) -> list[tuple[str, str]]:
        return [("urn:aa-jak:fhir:CodeSystem:aa-severity", "SALT")]

    def assess(self, resources: list[dict[str, Any]], drafts: list[dict[str, Any]], as_of: date) -> Any:
        self.calls.append((resources, drafts, as_of))
        return self.assessment, self.orders


# ---------------------------------------------------------------- keys and JWTs


@dataclass
class Keys:
    es384: ec.EllipticCurvePrivateKey
    rs384: rsa.RSAPrivateKey
    jwks: dict[str, Any]
    jwks_file: Path


def _public_jwk(key: Any, kid: str, alg: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    return jwk


# ---------------------------------------------------------------- request bodies


def searchset(resources: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


def full_prefetch(patient_id: str = PATIENT) -> dict[str, Any]:
    return {
        "patient": {
            "resourceType": "Patient",
            "id": patient_id,
            "gender": "female",
            "birthDate": "1990-01-01",
        },
        "conditions": searchset([{"resourceType": "Condition", "id": "c1"}]),
        "medicationRequests": searchset([]),
        "medicationStatements": searchset([]),
        "immunizations": searchset([]),
        "procedures": searchset([]),
        "labs": searchset([{"resourceType": "Observation", "id": "o1"}]),
        "salt": searchset([{"resourceType": "Observation", "id": "s1"}]),
    }


def hook_body(hook: str = "patient-view", **overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/doc-1", "patientId": PATIENT}
    if hook != "patient-view":
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": draft_medication_request()}],
        }
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/draft-1"]
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": full_prefetch(),
    }
    body.update(overrides)
    return body


def draft_medication_request(rid: str = "draft-1", dose_mg: float = 4) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "2047232"}],
            "text": "baricitinib 4 MG Oral Tablet",
        },
        "dosageInstruction": [
            {
                "text": f"{dose_mg:g} mg once daily",
                "route": {"text": "oral"},
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
            }
        ],
    }


# ---------------------------------------------------------------- synthetic patients

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "synthetic_patients"
PREFETCH_KEYS = {
    "Patient": "patient",
    "Condition": "conditions",
    "MedicationRequest": "medicationRequests",
    "MedicationStatement": "medicationStatements",
    "Immunization": "immunizations",
    "Procedure": "procedures",
}


def scenario_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".json")
        for p in SCENARIO_DIR.glob("*.json")
        if not p.name.endswith(".expected.json")
    )


def _rewrite(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _rewrite(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, refs) for v in value]
    if isinstance(value, str) and value in refs:
        return refs[value]
    return value


def scenario_request(
    name: str, hook: str, observation_codes: set[tuple[str, str]], salt_codes: set[tuple[str, str]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A CDS Hooks request whose prefetch is what a FHIR server holding the scenario would return.

    Transaction `urn:uuid` entries get ids and references as `Type/id`; draft orders
    (sidecar `draft_orders`) go to `context.draftOrders`, not to prefetch; Observations
    are split by the templates' codes, as the server's code search would.
    """
    bundle = json.loads((SCENARIO_DIR / f"{name}.json").read_text())
    expected = json.loads((SCENARIO_DIR / f"{name}.expected.json").read_text())
    refs: dict[str, str] = {}
    for entry in bundle["entry"]:
        full_url = entry.get("fullUrl", "")
        if full_url.startswith("urn:uuid:"):
            refs[full_url] = f"{entry['resource']['resourceType']}/{full_url.removeprefix('urn:uuid:')}"
    drafts_wanted = {refs.get(u, u) for u in expected.get("draft_orders", [])}
    resources, drafts = [], []
    for entry in bundle["entry"]:
        resource = _rewrite(entry["resource"], refs)
        ref = refs.get(entry.get("fullUrl", ""))
        if ref:
            resource["id"] = ref.split("/", 1)[1]
        (drafts if ref in drafts_wanted else resources).append(resource)
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    grouped: dict[str, list[dict[str, Any]]] = {key: [] for key in [*PREFETCH_KEYS.values(), "labs", "salt"]}
    for resource in resources:
        kind = resource["resourceType"]
        if kind == "Observation":
            codes = {(c.get("system"), c.get("code")) for c in resource.get("code", {}).get("coding", [])}
            if codes & salt_codes:
                grouped["salt"].append(resource)
            elif codes & observation_codes:
                grouped["labs"].append(resource)
        elif kind in PREFETCH_KEYS:
            grouped[PREFETCH_KEYS[kind]].append(resource)
    prefetch: dict[str, Any] = {key: searchset(items) for key, items in grouped.items() if key != "patient"}
    prefetch["patient"] = patient
    context: dict[str, Any] = {"userId": "Practitioner/doc-1", "patientId": patient["id"]}
    if hook != "patient-view":
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": d} for d in drafts],
        }
    if hook == "order-select":
        context["selections"] = [f"{d['resourceType']}/{d['id']}" for d in drafts]
    body = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, "prefetch": prefetch}
    return body, expected
