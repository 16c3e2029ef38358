"""`reanchor` moves every FHIR date of a synthetic patient by the same number of days."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinical_core.anchoring import ANCHOR_DATE, reanchor

LATER = ANCHOR_DATE + timedelta(days=10)


def _bundle() -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "timestamp": "2026-01-15T08:00:00Z",
        "entry": [
            {
                "fullUrl": "urn:uuid:11111111-1111-4111-8111-111111111111",
                "resource": {
                    "resourceType": "Patient",
                    "birthDate": "1990-03-04",
                    "identifier": [{"system": "urn:aa-jak:synthetic-patient", "value": "2026-01-15"}],
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:22222222-2222-4222-8222-222222222222",
                "resource": {
                    "resourceType": "MedicationRequest",
                    "status": "active",
                    "intent": "order",
                    "authoredOn": "2025-10-14",
                    "dispenseRequest": {"validityPeriod": {"start": "2025-10-14", "end": "2026-10-14"}},
                    "dosageInstruction": [
                        {
                            "timing": {
                                "event": ["2025-10-15T09:00:00+01:00"],
                                "repeat": {"boundsPeriod": {"start": "2025-10-14"}, "frequency": 1},
                            }
                        }
                    ],
                    "note": [{"text": "started 2025-10-14", "time": "2025-10-14T10:00:00Z"}],
                    "contained": [
                        {"resourceType": "Medication", "id": "m", "meta": {"lastUpdated": "2025-10-01"}}
                    ],
                },
                "request": {"method": "POST", "url": "MedicationRequest"},
            },
        ],
    }


def test_anchor_date_is_the_frozen_today() -> None:
    assert date(2026, 1, 15) == ANCHOR_DATE


def test_reanchor_to_the_anchor_changes_nothing() -> None:
    bundle = _bundle()
    assert reanchor(bundle, ANCHOR_DATE) == bundle


def test_reanchor_shifts_every_date_element_by_the_same_days() -> None:
    moved = reanchor(_bundle(), LATER)
    patient = moved["entry"][0]["resource"]
    order = moved["entry"][1]["resource"]
    assert moved["timestamp"] == "2026-01-25T08:00:00Z"
    assert patient["birthDate"] == "1990-03-14"
    assert order["authoredOn"] == "2025-10-24"
    assert order["dispenseRequest"]["validityPeriod"] == {"start": "2025-10-24", "end": "2026-10-24"}
    timing = order["dosageInstruction"][0]["timing"]
    assert timing["repeat"]["boundsPeriod"] == {"start": "2025-10-24"}
    assert timing["event"] == ["2025-10-25T09:00:00+01:00"]
    assert order["note"][0]["time"] == "2025-10-24T10:00:00Z"
    assert order["contained"][0]["meta"]["lastUpdated"] == "2025-10-11"


def test_reanchor_leaves_strings_that_are_not_date_elements_alone() -> None:
    moved = reanchor(_bundle(), LATER)
    assert moved["entry"][0]["resource"]["identifier"][0]["value"] == "2026-01-15"
    assert moved["entry"][1]["resource"]["note"][0]["text"] == "started 2025-10-14"
    assert moved["entry"][1]["resource"]["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 1


def test_reanchor_returns_a_deep_copy() -> None:
    bundle = _bundle()
    before = copy.deepcopy(bundle)
    moved = reanchor(bundle, LATER)
    moved["entry"][1]["resource"]["dispenseRequest"]["validityPeriod"]["start"] = "x"
    assert bundle == before


@pytest.mark.parametrize(
    ("element", "value", "days", "expected"),
    [
        ("effectiveDateTime", "2025-12-31", 1, "2026-01-01"),
        ("effectiveDateTime", "2024-02-28T23:59:59.123-05:00", 1, "2024-02-29T23:59:59.123-05:00"),
        ("issued", "2025-12-01T10:00:00.000Z", -1, "2025-11-30T10:00:00.000Z"),
        ("occurrenceDateTime", "2025-12-31T10:00:00+14:00", 1, "2026-01-01T10:00:00+14:00"),
        ("onsetDateTime", "2025-06", 10, "2025-06"),  # 06-01 + 10 days is still June
        ("onsetDateTime", "2025-06", -1, "2025-05"),
        ("onsetDateTime", "2025-12", 31, "2026-01"),
        ("recordedDate", "2025", 364, "2025"),
        ("recordedDate", "2025", 365, "2026"),
        ("birthDate", "2012-02-29", 365, "2013-02-28"),
        ("valueDateTime", "2025-13-01", 5, "2025-13-01"),  # malformed: left for the extraction to report
        ("valueDateTime", "2025-02-30", 5, "2025-02-30"),
        ("effectiveInstant", "2025-01-01T00:00:00Z", 0, "2025-01-01T00:00:00Z"),
    ],
)
def test_reanchor_keeps_precision_and_time_zone(element: str, value: str, days: int, expected: str) -> None:
    moved = reanchor({"resourceType": "Observation", element: value}, ANCHOR_DATE + timedelta(days=days))
    assert moved[element] == expected


@pytest.mark.parametrize(
    "element", ["effectivePeriod", "validityPeriod", "boundsPeriod", "onsetPeriod", "period"]
)
def test_reanchor_shifts_period_bounds(element: str) -> None:
    moved = reanchor({element: {"start": "2025-01-01", "end": "2025-02-01T00:00:00Z"}}, LATER)
    assert moved[element] == {"start": "2025-01-11", "end": "2025-02-11T00:00:00Z"}


def test_reanchor_does_not_shift_numbers_or_value_strings() -> None:
    resource = {"start": 3, "end": 9, "valueString": "2025-01-01", "code": {"text": "2025"}}
    assert reanchor(resource, LATER) == resource


@given(
    day=st.dates(min_value=date(1920, 1, 1), max_value=date(2090, 12, 31)),
    offset=st.integers(min_value=-3650, max_value=3650),
)
def test_reanchor_round_trips(day: date, offset: int) -> None:
    resource = {"effectiveDateTime": day.isoformat() + "T12:30:00+02:00", "birthDate": day.isoformat()}
    there = ANCHOR_DATE + timedelta(days=offset)
    moved = reanchor(resource, there)
    assert moved["birthDate"] == (day + timedelta(days=offset)).isoformat()
    back = reanchor(moved, ANCHOR_DATE - timedelta(days=offset))
    assert back == resource
