"""build_record: input handling, demographics, diagnoses, safety conditions, immunizations."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir_builders import (
    ICD10,
    SNOMED,
    bundle,
    condition,
    immunization,
    observation,
    patient,
)

from clinical_core import build_record, load_knowledge
from clinical_core.record import PatientRecord

KNOWLEDGE = load_knowledge()


def record(*resources: dict[str, Any]) -> PatientRecord:
    return build_record([patient(), *resources], KNOWLEDGE)


# --- input ---------------------------------------------------------------------------------


def test_bundles_in_the_input_are_unwrapped() -> None:
    rec = build_record([bundle(patient(), observation("731-0", 0.4, "10*3/uL", "2026-01-02"))], KNOWLEDGE)
    assert rec.demographics.patient_id == "p1" and len(rec.labs) == 1


def test_same_resource_in_prefetch_and_search_results_is_read_once() -> None:
    lab = observation("731-0", 0.4, "10*3/uL", "2026-01-02", id="same")
    rec = build_record([patient(), lab, bundle(dict(lab))], KNOWLEDGE)
    assert len(rec.labs) == 1


def test_newer_version_of_a_duplicated_resource_wins() -> None:
    old = observation(
        "731-0", 0.4, "10*3/uL", "2026-01-02", id="v", meta={"lastUpdated": "2026-01-02T10:00:00Z"}
    )
    new = observation(
        "731-0", 0.6, "10*3/uL", "2026-01-02", id="v", meta={"lastUpdated": "2026-01-03T10:00:00Z"}
    )
    assert [lab.value for lab in record(new, old).labs] == [600.0]


def test_bundle_entry_without_id_is_referred_to_by_its_full_url() -> None:
    lab = observation("731-0", 1.2, "cells/hpf", "2026-01-02")
    del lab["id"]
    rec = build_record(
        [{"resourceType": "Bundle", "entry": [{"fullUrl": "urn:uuid:abc", "resource": lab}]}], KNOWLEDGE
    )
    assert rec.uninterpretable[0].reference == "urn:uuid:abc"


def test_non_dict_entries_and_unknown_resource_types_are_ignored() -> None:
    rec = build_record([None, 3, "x", {"resourceType": "Encounter", "id": "e"}, patient()], KNOWLEDGE)  # type: ignore[list-item]
    assert rec.demographics.patient_id == "p1" and rec.uninterpretable == ()


def test_resource_of_another_patient_is_reported_not_read() -> None:
    other = observation("731-0", 0.4, "10*3/uL", "2026-01-02", id="x", subject={"reference": "Patient/p2"})
    rec = record(other)
    assert rec.labs == ()
    assert "Patient/p2" in rec.uninterpretable[0].why


def test_empty_input_gives_an_empty_record() -> None:
    rec = build_record([], KNOWLEDGE)
    assert rec.demographics.patient_id == "" and rec.labs == () and rec.uninterpretable == ()


def test_knowledge_defaults_to_the_bundled_file() -> None:
    assert build_record([patient()]).demographics.patient_id == "p1"


# --- demographics ----------------------------------------------------------------------------


def test_demographics_name_gender_and_medical_record_number() -> None:
    rec = build_record(
        [
            patient(
                birth_date="1980-05-17",
                gender="female",
                name=[
                    {"use": "nickname", "given": ["Annie"]},
                    {"use": "official", "given": ["Ann", "B"], "family": "Lee"},
                ],
                identifier=[
                    {"system": "urn:ssn", "value": "123"},
                    {"type": {"coding": [{"code": "MR"}]}, "value": "MRN-9"},
                ],
            )
        ],
        KNOWLEDGE,
    )
    demo = rec.demographics
    assert (demo.birth_date, demo.sex, demo.name, demo.identifier) == (
        date(1980, 5, 17),
        "female",
        "Ann B Lee",
        "MRN-9",
    )


@pytest.mark.parametrize(("written", "read"), [("1980", date(1980, 1, 1)), ("1980-05", date(1980, 5, 1))])
def test_partial_birth_date_takes_the_first_day_of_its_period(written: str, read: date) -> None:
    assert build_record([patient(birth_date=written)], KNOWLEDGE).demographics.birth_date == read


def test_invalid_birth_date_is_none() -> None:
    assert build_record([patient(birth_date="1980-02-30")], KNOWLEDGE).demographics.birth_date is None


# --- diagnoses and conditions -----------------------------------------------------------------


def test_alopecia_areata_diagnosis_with_subtype() -> None:
    rec = record(condition("L63.1", ICD10, id="aa", onset="2021-03", recordedDate="2021-04-02"))
    [diagnosis] = rec.diagnoses
    assert (diagnosis.subtype, diagnosis.code, diagnosis.system) == ("universalis", "L63.1", ICD10)
    assert (diagnosis.onset, diagnosis.recorded, diagnosis.active) == (
        date(2021, 3, 1),
        date(2021, 4, 2),
        True,
    )


def test_most_specific_subtype_wins_when_codings_differ() -> None:
    aa = condition("68225006")
    aa["code"]["coding"].append({"system": ICD10, "code": "L63.2"})
    assert record(aa).diagnoses[0].subtype == "ophiasis"


def test_diagnosis_keeps_every_code_of_its_condition() -> None:
    aa = condition("68225006")
    aa["code"]["coding"].append({"system": ICD10, "code": "L63.9"})
    assert record(aa).diagnoses[0].codes == (("http://snomed.info/sct", "68225006"), (ICD10, "L63.9"))


@pytest.mark.parametrize("verification", ["entered-in-error", "refuted"])
def test_refuted_or_entered_in_error_condition_is_excluded(verification: str) -> None:
    rec = record(
        condition("68225006", verification_status=verification),
        condition("56717001", verification_status=verification),
    )
    assert rec.diagnoses == () and rec.conditions == ()


@pytest.mark.parametrize(
    ("clinical_status", "active"),
    [
        ("active", True),
        ("recurrence", True),
        ("relapse", True),
        ("resolved", False),
        ("inactive", False),
        ("remission", False),
        (None, True),
    ],
)
def test_condition_activity_follows_clinical_status(clinical_status: str | None, active: bool) -> None:
    assert record(condition("19754005", clinical_status=clinical_status)).diagnoses[0].active is active


def test_absent_clinical_status_with_an_abatement_is_inactive() -> None:
    assert (
        record(condition("4740000", clinical_status=None, abatementDateTime="2024-05-01"))
        .conditions[0]
        .active
        is False
    )


@pytest.mark.parametrize(
    ("code", "system", "concept"),
    [
        ("56717001", SNOMED, "active_tb"),
        ("Z22.7", ICD10, "latent_tb"),
        ("B18.1", ICD10, "hepatitis_b"),
        ("B02.9", ICD10, "herpes_zoster"),
        ("C50.911", ICD10, "malignancy"),
        ("I26.99", ICD10, "vte"),
        ("I21.4", ICD10, "cardiovascular"),
        ("N18.6", ICD10, "end_stage_renal_disease"),
        ("77386006", SNOMED, "pregnancy"),
    ],
)
def test_safety_condition_becomes_a_condition_fact(code: str, system: str, concept: str) -> None:
    [fact] = record(condition(code, system, display="a display", abatementDateTime="2024-12-01")).conditions
    assert (fact.concept, fact.onset, fact.abatement, fact.display) == (
        concept,
        date(2024, 1, 10),
        date(2024, 12, 1),
        "a display",
    )


def test_smoker_condition_becomes_a_smoking_status() -> None:
    [status] = record(condition("Z87.891", ICD10, onset="2019-01-01")).smoking
    assert status.current_or_former is True and status.when == date(2019, 1, 1)


def test_androgenic_alopecia_is_not_alopecia_areata() -> None:
    assert record(condition("L64.9", ICD10)).diagnoses == ()


# --- immunizations ------------------------------------------------------------------------------


def test_live_vaccine_is_flagged_live() -> None:
    [vaccination] = record(immunization("03", "2025-02-01", id="mmr")).vaccinations
    assert (vaccination.cvx, vaccination.live, vaccination.when, vaccination.reference) == (
        "03",
        True,
        date(2025, 2, 1),
        "Immunization/mmr",
    )


def test_recombinant_zoster_vaccine_is_not_live() -> None:
    assert record(immunization("187")).vaccinations[0].live is False


def test_single_digit_cvx_code_is_read_as_two_digits() -> None:
    assert record(immunization("3")).vaccinations[0].cvx == "03"


@pytest.mark.parametrize("status", ["not-done", "entered-in-error"])
def test_immunization_not_done_is_excluded(status: str) -> None:
    rec = record(immunization("03", status=status))
    assert rec.vaccinations == () and rec.uninterpretable == ()


def test_immunization_without_cvx_code_is_uninterpretable() -> None:
    rec = record(immunization(None))
    assert rec.vaccinations == () and "CVX" in rec.uninterpretable[0].why
