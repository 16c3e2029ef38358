"""build_record: JAK inhibitor episodes, conventional therapies and interacting medications."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir_builders import (
    RXNORM,
    concept,
    dosage,
    medication,
    medication_request,
    medication_statement,
    patient,
    procedure,
)

from clinical_core import build_record, load_knowledge
from clinical_core.record import PatientRecord

KNOWLEDGE = load_knowledge()
BARICITINIB_2MG_SCD = "2047241"
OLUMIANT_4MG_SBD = "2601725"
RITLECITINIB_IN = "2641595"
OPZELURA_SCD = "2570752"


def record(*resources: dict[str, Any]) -> PatientRecord:
    return build_record([patient(), *resources], KNOWLEDGE)


# --- recognition ----------------------------------------------------------------------


def test_jak_inhibitor_request_becomes_a_therapy_episode() -> None:
    request = medication_request(BARICITINIB_2MG_SCD, id="bari", dosage_instruction=dosage(2, frequency=1))
    [episode] = record(request).therapies
    assert (episode.drug, episode.dose_mg, episode.doses_per_day) == ("baricitinib", 2.0, 1)
    assert (episode.start, episode.end, episode.status) == (date(2025, 3, 1), None, "active")
    assert episode.reference == "MedicationRequest/bari"


def test_jak_inhibitor_is_recognised_by_brand_name_without_a_code() -> None:
    request = medication_request(
        None, text="Litfulo 50 mg capsule", dosage_instruction=dosage(50, frequency=1)
    )
    assert record(request).therapies[0].drug == "ritlecitinib"


def test_jak_inhibitor_is_recognised_by_coding_display() -> None:
    request = medication_request(dosage_instruction=dosage(8, frequency=2))
    request["medicationCodeableConcept"] = concept("urn:local", "X1", display="LEQSELVI 8 MG TABLET")
    [episode] = record(request).therapies
    assert (episode.drug, episode.doses_per_day) == ("deuruxolitinib", 2)


def test_opzelura_is_not_jak_therapy() -> None:
    by_code = medication_request(OPZELURA_SCD, text="Opzelura 1.5% cream")
    by_name = medication_request(None, text="ruxolitinib 1.5 % topical cream")
    rec = record(by_code, by_name)
    assert rec.therapies == () and rec.medications == () and rec.uninterpretable == ()


def test_ruxolitinib_ingredient_code_with_a_topical_route_is_not_jak_therapy() -> None:
    request = medication_request(
        "1193326", dosage_instruction={"route": {"text": "Topical"}, "text": "apply twice daily"}
    )
    assert record(request).therapies == ()


def test_medication_reference_to_contained_medication_is_recognised() -> None:
    request = medication_request(dosage_instruction=dosage(2, frequency=1), id="mr1")
    del request["medicationCodeableConcept"]
    request["contained"] = [medication("med1", BARICITINIB_2MG_SCD)]
    request["medicationReference"] = {"reference": "#med1"}
    [episode] = record(request).therapies
    assert (episode.drug, episode.reference) == ("baricitinib", "MedicationRequest/mr1")


def test_medication_reference_to_a_medication_resource_is_recognised() -> None:
    request = medication_request(dosage_instruction=dosage(1, "{tablet}", frequency=1))
    del request["medicationCodeableConcept"]
    request["medicationReference"] = {"reference": "Medication/olu4"}
    [episode] = record(request, medication("olu4", OLUMIANT_4MG_SBD)).therapies
    assert (episode.drug, episode.dose_mg) == ("baricitinib", 4.0)


def test_unresolvable_medication_reference_becomes_uninterpretable() -> None:
    request = medication_request(id="lost")
    del request["medicationCodeableConcept"]
    request["medicationReference"] = {"reference": "Medication/missing"}
    rec = record(request)
    assert rec.therapies == ()
    assert rec.uninterpretable[0].reference == "MedicationRequest/lost"
    assert "Medication/missing" in rec.uninterpretable[0].why


# --- statuses and dates -------------------------------------------------------------------


@pytest.mark.parametrize("status", ["draft", "cancelled", "entered-in-error", "unknown"])
def test_request_with_excluded_status_is_not_an_episode(status: str) -> None:
    rec = record(medication_request(BARICITINIB_2MG_SCD, status=status))
    assert rec.therapies == () and rec.uninterpretable == ()


@pytest.mark.parametrize("intent", ["proposal", "plan"])
def test_proposal_and_plan_requests_are_not_episodes(intent: str) -> None:
    assert record(medication_request(BARICITINIB_2MG_SCD, intent=intent)).therapies == ()


def test_stopped_request_ends_at_its_validity_period_end() -> None:
    request = medication_request(
        RITLECITINIB_IN,
        status="stopped",
        dispenseRequest={"validityPeriod": {"start": "2025-01-01", "end": "2025-04-01"}},
        dosage_instruction=dosage(50, frequency=1),
    )
    [episode] = record(request).therapies
    assert (episode.start, episode.end, episode.status) == (date(2025, 1, 1), date(2025, 4, 1), "stopped")


def test_stopped_request_without_an_end_date_keeps_end_none_and_says_stopped() -> None:
    [episode] = record(medication_request(RITLECITINIB_IN, status="stopped")).therapies
    assert (episode.end, episode.status) == (None, "stopped")


def test_episode_start_prefers_the_dosage_bounds_to_authored_on() -> None:
    instruction = dosage(50, frequency=1)
    instruction["timing"]["repeat"]["boundsPeriod"] = {"start": "2025-02-15", "end": "2025-08-15"}
    [episode] = record(medication_request(RITLECITINIB_IN, dosage_instruction=instruction)).therapies
    assert (episode.start, episode.end) == (date(2025, 2, 15), date(2025, 8, 15))


def test_medication_statement_becomes_an_episode_with_its_effective_period() -> None:
    statement = medication_statement(
        BARICITINIB_2MG_SCD,
        status="completed",
        start="2024-01",
        end="2024-09-30",
        dosage_=dosage(2, frequency=1),
    )
    [episode] = record(statement).therapies
    assert (episode.start, episode.end, episode.status) == (date(2024, 1, 1), date(2024, 9, 30), "completed")


@pytest.mark.parametrize("status", ["intended", "not-taken", "entered-in-error", "unknown"])
def test_statement_with_excluded_status_is_not_an_episode(status: str) -> None:
    assert record(medication_statement(BARICITINIB_2MG_SCD, status=status)).therapies == ()


# --- dose and frequency -------------------------------------------------------------------


def test_dose_from_scd_strength_and_tablet_count() -> None:
    request = medication_request(BARICITINIB_2MG_SCD, dosage_instruction=dosage(2, "{tbl}", frequency=1))
    assert record(request).therapies[0].dose_mg == 4.0


@pytest.mark.parametrize(("value", "unit", "mg"), [(0.004, "g", 4.0), (4000, "ug", 4.0), (4000, "mcg", 4.0)])
def test_dose_in_grams_or_micrograms_is_converted_to_mg(value: float, unit: str, mg: float) -> None:
    request = medication_request(BARICITINIB_2MG_SCD, dosage_instruction=dosage(value, unit, frequency=1))
    assert record(request).therapies[0].dose_mg == pytest.approx(mg)


@pytest.mark.parametrize(
    ("text", "mg", "per_day"),
    [
        ("4 mg once daily", 4.0, 1),
        ("Take 1 tablet by mouth twice daily", 2.0, 2),
        ("2 tablets daily", 4.0, 1),
        ("2 mg PO BID", 2.0, 2),
        ("1 tab q.d.", 2.0, 1),
    ],
)
def test_dose_and_frequency_are_parsed_from_the_dosage_text(text: str, mg: float, per_day: int) -> None:
    request = medication_request(BARICITINIB_2MG_SCD, dosage_instruction={"text": text})
    [episode] = record(request).therapies
    assert (episode.dose_mg, episode.doses_per_day, episode.dose_text) == (mg, per_day, text)


@pytest.mark.parametrize(
    ("timing", "per_day"),
    [
        ({"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}, 2),
        ({"repeat": {"frequency": 1, "period": 12, "periodUnit": "h"}}, 2),
        ({"repeat": {"period": 1, "periodUnit": "d"}}, 1),
        ({"repeat": {"when": ["MORN", "EVE"]}}, 2),
        ({"code": {"coding": [{"code": "BID"}]}}, 2),
        ({"code": {"text": "once daily"}}, 1),
    ],
)
def test_doses_per_day_from_timing(timing: dict[str, Any], per_day: int) -> None:
    instruction = dosage(8)
    instruction["timing"] = timing
    request = medication_request("2716563", dosage_instruction=instruction)
    assert record(request).therapies[0].doses_per_day == per_day


def test_unknown_dose_keeps_the_episode_and_reports_why() -> None:
    request = medication_request(RITLECITINIB_IN, id="nodose", dosage_instruction={"text": "as directed"})
    rec = record(request)
    [episode] = rec.therapies
    assert episode.dose_mg is None and episode.doses_per_day is None
    [problem] = rec.uninterpretable
    assert problem.reference == "MedicationRequest/nodose" and "dose" in problem.what


def test_tablet_count_without_a_known_strength_is_not_guessed() -> None:
    request = medication_request(RITLECITINIB_IN, dosage_instruction=dosage(1, "{capsule}", frequency=1))
    rec = record(request)
    assert rec.therapies[0].dose_mg is None
    assert "strength" in rec.uninterpretable[0].why


def test_weekly_schedule_is_not_a_daily_dose_count() -> None:
    instruction = dosage(2, frequency=1, period=1, period_unit="wk")
    rec = record(medication_request(BARICITINIB_2MG_SCD, dosage_instruction=instruction))
    assert rec.therapies[0].doses_per_day is None and rec.uninterpretable


# --- conventional therapies and other medications -------------------------------------------


def test_methotrexate_is_a_prior_therapy_and_not_an_other_medication() -> None:
    rec = record(
        medication_statement("6851", text="methotrexate 2.5 mg tablet", status="completed", end="2024-01")
    )
    [therapy] = rec.prior_therapies
    assert (therapy.therapy, therapy.status, therapy.end) == ("methotrexate", "completed", date(2024, 1, 1))
    assert rec.medications == ()


def test_cyclosporine_is_both_a_prior_therapy_and_an_interacting_medication() -> None:
    rec = record(medication_request("3008", text="cyclosporine 100 mg capsule"))
    assert [t.therapy for t in rec.prior_therapies] == ["cyclosporine"]
    assert rec.medications[0].classes == frozenset({"potent_immunosuppressant"})


def test_intralesional_triamcinolone_procedure_is_a_prior_therapy() -> None:
    rec = record(procedure("Intralesional triamcinolone injection", "2023-06-01", id="ilk"))
    [therapy] = rec.prior_therapies
    assert (therapy.therapy, therapy.start, therapy.reference) == (
        "intralesional_corticosteroid",
        date(2023, 6, 1),
        "Procedure/ilk",
    )


def test_dpcp_procedure_is_contact_immunotherapy() -> None:
    assert record(procedure("DPCP sensitisation")).prior_therapies[0].therapy == "contact_immunotherapy"


@pytest.mark.parametrize("status", ["not-done", "entered-in-error"])
def test_procedure_not_done_is_not_a_prior_therapy(status: str) -> None:
    assert record(procedure("DPCP", status=status)).prior_therapies == ()


def test_interacting_medication_gets_its_classes() -> None:
    rec = record(medication_request("8698", text="probenecid 500 mg tablet", id="prob"))
    [other] = rec.medications
    assert (other.name, other.classes, other.reference) == (
        "probenecid 500 mg tablet",
        frozenset({"strong_oat3_inhibitor"}),
        "MedicationRequest/prob",
    )


def test_interacting_medication_is_recognised_by_name() -> None:
    request = medication_request(None, text="Fluconazole 150mg")
    assert record(request).medications[0].classes == frozenset(
        {"cyp2c9_inhibitor", "cyp3a4_moderate_cyp2c19_strong_inhibitor"}
    )


def test_medication_in_no_class_is_not_kept() -> None:
    request = medication_request("197361", text="amlodipine 5 MG Oral Tablet")
    rec = record(request)
    assert rec.medications == () and rec.uninterpretable == ()


def test_jak_inhibitor_is_not_an_other_medication() -> None:
    request = medication_request(BARICITINIB_2MG_SCD, dosage_instruction=dosage(2, frequency=1))
    assert record(request).medications == ()


def test_a_concept_naming_two_jak_inhibitors_is_uninterpretable_not_guessed() -> None:
    request = medication_request(None, text="baricitinib or tofacitinib")
    rec = record(request)
    assert rec.therapies == () and "baricitinib" in rec.uninterpretable[0].why


def test_episodes_are_sorted_oldest_first() -> None:
    rec = record(
        medication_request(
            RITLECITINIB_IN, authored_on="2025-05-01", dosage_instruction=dosage(50, frequency=1)
        ),
        medication_request(
            BARICITINIB_2MG_SCD, authored_on="2024-05-01", dosage_instruction=dosage(2, frequency=1)
        ),
    )
    assert [e.drug for e in rec.therapies] == ["baricitinib", "ritlecitinib"]


def test_rxnorm_system_must_match_for_a_code_match() -> None:
    request = medication_request(None)
    request["medicationCodeableConcept"] = {"coding": [{"system": "urn:other", "code": BARICITINIB_2MG_SCD}]}
    assert record(request).therapies == ()
    assert RXNORM  # the builders' RxNorm URI is the knowledge file's
