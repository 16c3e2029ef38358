"""Property tests: odd but possible input never makes the extraction raise.

Valid resources from the builders are mutated at random places: fields removed,
set to null, replaced by other JSON (wrong types, huge numbers, NaN, odd units,
invalid or partial dates, empty codings, extra fields). `build_record` and
`proposed_orders` must return, and must not need their last-resort
"extraction error" net (that net exists for production; a test hitting it is a bug).
"""

from __future__ import annotations

import copy
import random
from typing import Any

from fhir_builders import (
    AA_SEVERITY,
    ICD10,
    LOINC,
    concept,
    condition,
    dosage,
    immunization,
    medication,
    medication_request,
    medication_statement,
    observation,
    patient,
    procedure,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinical_core import build_record, load_knowledge, proposed_orders
from clinical_core.record import PatientRecord

KNOWLEDGE = load_knowledge()


def templates() -> list[dict[str, Any]]:
    panel = observation("58410-2", None, None, "2026-02-01", id="cbc")
    panel["component"] = [
        {"code": concept(LOINC, "731-0"), "valueQuantity": {"value": 0.45, "code": "10*3/uL"}},
        {"code": concept(LOINC, "71773-6"), "valueCodeableConcept": {"text": "Negative"}},
    ]
    salt = observation("SALT", 55, "%", "2026-01-10", system=AA_SEVERITY, id="salt")
    salt["component"] = [{"code": concept(AA_SEVERITY, "SALT-vertex"), "valueQuantity": {"value": 80}}]
    referenced = medication_request(id="ref", dosage_instruction=dosage(1, "{tablet}", frequency=2))
    del referenced["medicationCodeableConcept"]
    referenced["medicationReference"] = {"reference": "#m"}
    referenced["contained"] = [medication("m", "2047247")]
    bounded = dosage(text="2 mg twice daily")
    bounded["timing"] = {
        "repeat": {"boundsPeriod": {"start": "2025-01-01", "end": "2025-06"}},
        "code": {"text": "BID"},
    }
    return [
        patient(name=[{"use": "official", "given": ["A"], "family": "B"}], identifier=[{"value": "1"}]),
        observation("731-0", 0.4, "10*9/L", "2026-01-02", id="alc"),
        observation("718-7", 135, "g/L", "2026-01-02T10:00:00+02:00", id="hb"),
        observation("79716-7", concept(LOINC, "LA9657-3", "Poor metabolizer"), None, "2025-05-05", id="cyp"),
        observation("84413-4", {"text": "CYP2C9 *2/*3"}, None, "2025-05-05", id="geno"),
        observation("2106-3", True, None, "2025-05-05", id="preg"),
        observation("72166-2", {"text": "Former smoker"}, None, "2025-05-05", id="smoke"),
        panel,
        salt,
        condition("L63.1", ICD10, id="aa"),
        condition("Z87.891", ICD10, id="smoker", abatementDateTime="2020"),
        medication_request("2047241", id="bari", dosage_instruction=dosage(2, frequency=1)),
        medication_request(None, text="Fluconazole 150 mg", id="fluc", dosage_instruction=bounded),
        referenced,
        medication_statement("6851", id="mtx", status="completed", dosage_=dosage(text="once weekly")),
        procedure("Intralesional triamcinolone", id="ilk"),
        immunization("03", id="mmr"),
        {"resourceType": "ServiceRequest", "id": "sr", "status": "draft", "code": {"text": "CBC"}},
    ]


ODD_STRINGS = [
    "", " ", "1980", "1980-05", "2020-13-45", "0000-01-01", "2026-02-30T99:99", "T10:00", "9999-12-31",
    "10*3/uL", "cells/hpf", "µmol/L", "mL/min/{1.73_m2}", "{tbl}", "g", "wk", "h", "BID", "QOD",
    "final", "active", "stopped", "entered-in-error", "draft", "unknown", "#m", "#missing",
    "Medication/nowhere", "Patient/p2", "Patient/p1", "urn:uuid:1", "<", ">=", "*3/*3", "poor metabolizer",
    "http://loinc.org", "http://hl7.org/fhir/sid/cvx", "731-0", "03", "positive", "negative",
]  # fmt: skip
KEYS = [
    "value", "unit", "code", "system", "coding", "text", "display", "start", "end", "status", "reference",
    "valueQuantity", "valueString", "valueCodeableConcept", "component", "dosageInstruction", "timing",
    "repeat", "frequency", "period", "periodUnit", "doseAndRate", "doseQuantity", "comparator", "when",
    "effectiveDateTime", "resourceType", "id", "contained", "medicationReference", "entry", "resource",
]  # fmt: skip

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=10**300, max_value=10**310),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(ODD_STRINGS),
)
json_values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _mutate(resource: dict[str, Any], rng: random.Random, replacements: list[Any]) -> dict[str, Any]:
    mutated = copy.deepcopy(resource)
    for shared in replacements:
        replacement = copy.deepcopy(shared)  # never the same object twice: no cycles
        paths = _paths(mutated)
        if not paths:
            break
        path = rng.choice(paths)
        parent: Any = mutated
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        action = rng.randrange(4)
        if action == 0 and isinstance(parent, dict):
            del parent[last]
        elif action == 1:
            parent[last] = None
        elif action == 2 and isinstance(parent, dict):
            parent[rng.choice(KEYS)] = replacement  # an extra or clobbered field
        else:
            parent[last] = replacement
    return mutated


def _assert_no_crash_net(record: PatientRecord) -> None:
    assert not [u for u in record.uninterpretable if "extraction error" in u.why], record.uninterpretable


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), replacements=st.lists(json_values, min_size=1, max_size=6))
def test_odd_but_valid_records_never_raise(seed: int, replacements: list[Any]) -> None:
    rng = random.Random(seed)
    resources = [_mutate(r, rng, replacements) if rng.random() < 0.6 else r for r in templates()]
    rng.shuffle(resources)
    record = build_record(resources, KNOWLEDGE)
    _assert_no_crash_net(record)
    orders = proposed_orders(resources, KNOWLEDGE, context_resources=resources)
    assert isinstance(orders, tuple)


@settings(max_examples=100, deadline=None)
@given(resources=st.lists(json_values, max_size=5))
def test_arbitrary_json_never_raises(resources: list[Any]) -> None:
    _assert_no_crash_net(build_record(resources, KNOWLEDGE))
    proposed_orders(resources, KNOWLEDGE)


@settings(max_examples=60, deadline=None)
@given(
    resource_type=st.sampled_from(
        [
            "Observation",
            "Condition",
            "MedicationRequest",
            "MedicationStatement",
            "Procedure",
            "Immunization",
            "Patient",
        ]
    ),
    fields=st.dictionaries(st.sampled_from([*KEYS, "subject", "patient", "birthDate", "name"]), json_values),
)
def test_resource_of_random_fields_never_raises(resource_type: str, fields: dict[str, Any]) -> None:
    resource = {**fields, "resourceType": resource_type}
    _assert_no_crash_net(build_record([resource], KNOWLEDGE))
    proposed_orders([resource], KNOWLEDGE)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_record_does_not_depend_on_input_order(seed: int) -> None:
    resources = templates()
    shuffled = list(resources)
    random.Random(seed).shuffle(shuffled)
    assert build_record(shuffled, KNOWLEDGE) == build_record(resources, KNOWLEDGE)
