"""A fact the record knows only through a code marked `verified: false` makes what rests on it unverified.

Each rule test extracts the resources under test from FHIR and puts them in the rules' baseline
patient (who meets every criterion), evaluated on the frozen day `AS_OF` with a baricitinib 2 mg
order proposed: baricitinib's ALC threshold, TB and infection rules are verified facts, so the only
unverified thing behind these findings is the code. The timeline tests put them in the same patient
on ritlecitinib instead, whose week-4 draw (ALC and platelets) is a verified schedule item.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fhir_builders import (
    ICD10,
    LOINC,
    RXNORM,
    SNOMED,
    coding,
    concept,
    condition,
    medication_request,
    observation,
)
from fhir_builders import patient as fhir_patient
from rules_builders import KNOWLEDGE, ago, episode, medication, patient, run, start_order, without

from clinical_core import build_record
from clinical_core.findings import Assessment, ChecklistItem, Finding, TimelineEntry
from clinical_core.record import PatientRecord

UNVERIFIED = "Recognised by a code or name not yet verified"
ALC_AUTOMATED = "731-0"  # verified
ALC_UNSPECIFIED = "26474-7"  # verified: false
IGRA = "71773-6"  # verified
IGRA_PANEL = "71775-1"  # verified: false
PLATELETS_AUTOMATED = "777-3"  # verified
PLATELETS_UNSPECIFIED = "26515-7"  # verified: false
POSITIVE = "LA6576-8"  # answer.positive, verified: false
ABROCITINIB_IN = "2591476"  # verified: false


def extracted(*resources: dict[str, Any]) -> PatientRecord:
    return build_record([fhir_patient(), *resources], KNOWLEDGE)


def with_extracted(base: PatientRecord, *resources: dict[str, Any]) -> PatientRecord:
    """`base` with the extracted results replacing its results of the same tests."""
    found = extracted(*resources)
    tests = {lab.test for lab in found.labs} | {q.test for q in found.qualitative}
    rest = without(base, *tests)
    return replace(
        rest,
        labs=(*rest.labs, *found.labs),
        qualitative=(*rest.qualitative, *found.qualitative),
        conditions=found.conditions,
        uninterpretable=found.uninterpretable,
        _lab_index={},
    )


def assess(*resources: dict[str, Any]) -> Assessment:
    """The baseline patient with the extracted results replacing hers, baricitinib 2 mg proposed."""
    return run(with_extracted(patient(), *resources), (start_order("baricitinib", 2),))


def week4_entry(*resources: dict[str, Any]) -> TimelineEntry:
    """The week-4 ALC and platelets entry of the baseline patient on ritlecitinib 50 mg for 40 days
    (due 12 days before `AS_OF`), with the extracted results replacing hers."""
    on_therapy = patient(therapies=(episode("ritlecitinib", 40, 50),))
    timeline = run(with_extracted(on_therapy, *resources)).timeline
    [entry] = [e for e in timeline if e.key == "alc_platelets_week4"]
    return entry


def alc(*codes: str, value: float = 0.4, days_ago: int = 5) -> dict[str, Any]:
    obs = observation(codes[0], value, "10*3/uL", ago(days_ago).isoformat(), id="alc")
    obs["code"]["coding"] += [coding(LOINC, code) for code in codes[1:]]
    return obs


def platelets(code: str, days_ago: int) -> dict[str, Any]:
    return observation(code, 250, "10*3/uL", ago(days_ago).isoformat(), id="platelets")


def igra(code: str, answer: dict[str, Any]) -> dict[str, Any]:
    return observation(code, answer, None, ago(5).isoformat(), id="igra")


def finding(assessment: Assessment, finding_id: str) -> Finding:
    found = assessment.by_id(finding_id)
    assert found is not None, f"{finding_id} not in {sorted(assessment.ids)}"
    return found


def row(items: tuple[ChecklistItem, ...], key: str) -> ChecklistItem:
    [item] = [i for i in items if i.key == key]
    return item


# --- quantitative results -----------------------------------------------------------------------


def test_alc_below_threshold_coded_26474_7_gives_an_unverified_finding_that_names_the_code() -> None:
    below = finding(assess(alc(ALC_UNSPECIFIED)), "baseline.alc.below_start")
    assert below.verified is False
    [evidence] = below.evidence
    assert (evidence.verified, evidence.unverified_code) == (False, "LOINC 26474-7")
    assert f"{UNVERIFIED}: LOINC 26474-7" in below.detail
    assert "_Uses facts marked unverified: verify against current prescribing information._" in below.detail


def test_alc_below_threshold_coded_731_0_gives_a_verified_finding() -> None:
    below = finding(assess(alc(ALC_AUTOMATED)), "baseline.alc.below_start")
    assert below.verified is True
    assert UNVERIFIED not in below.detail and "_Uses facts marked unverified" not in below.detail


def test_alc_coded_with_a_verified_and_an_unverified_code_is_verified() -> None:
    for codes in ((ALC_UNSPECIFIED, ALC_AUTOMATED), (ALC_AUTOMATED, ALC_UNSPECIFIED)):
        [lab] = extracted(alc(*codes)).labs
        assert (lab.test, lab.verified, lab.unverified_code) == ("alc", True, None)
        assert finding(assess(alc(*codes)), "baseline.alc.below_start").verified is True


def test_eligibility_row_and_verdict_resting_on_an_alc_coded_26474_7_are_unverified() -> None:
    assessment = assess(alc(ALC_UNSPECIFIED))
    assert row(assessment.eligibility, "alc").status == "not-met"
    assert row(assessment.eligibility, "alc").verified is False
    verdict = finding(assessment, "eligibility.not_eligible")
    assert verdict.verified is False
    assert f"{UNVERIFIED}: LOINC 26474-7 (ALC)." in verdict.detail


def test_eligibility_row_and_verdict_on_an_alc_coded_731_0_stay_verified() -> None:
    assessment = assess(alc(ALC_AUTOMATED))
    assert row(assessment.eligibility, "alc").verified is True
    assert finding(assessment, "eligibility.not_eligible").verified is True


def test_a_met_eligibility_row_resting_on_an_unverified_code_is_unverified_too() -> None:
    assessment = assess(alc(ALC_UNSPECIFIED, value=1.5))
    alc_row = row(assessment.eligibility, "alc")
    assert (alc_row.status, alc_row.verified) == ("met", False)
    assert row(assessment.eligibility, "anc").verified is True


def test_baseline_checklist_row_showing_a_result_coded_26474_7_is_unverified() -> None:
    assert row(assess(alc(ALC_UNSPECIFIED, value=1.5)).baseline, "cbc").verified is False
    assert row(assess(alc(ALC_AUTOMATED, value=1.5)).baseline, "cbc").verified is True


# --- qualitative results --------------------------------------------------------------------------


def test_positive_igra_whose_answer_is_la6576_8_is_unverified() -> None:
    answer = concept(LOINC, POSITIVE, "Positive")
    [result] = extracted(igra(IGRA, answer)).qualitative
    assert (result.result, result.verified, result.unverified_code) == ("positive", False, "LOINC LA6576-8")
    assessment = assess(igra(IGRA, answer))
    positive = finding(assessment, "baseline.tb.positive")
    assert positive.verified is False and f"{UNVERIFIED}: LOINC LA6576-8" in positive.detail
    assert row(assessment.eligibility, "tb").verified is False
    assert row(assessment.baseline, "tb_screening").verified is False


def test_positive_igra_as_text_is_verified() -> None:
    positive = finding(assess(igra(IGRA, "Positive")), "baseline.tb.positive")
    assert positive.verified is True


def test_answer_code_is_corroborated_by_the_concepts_own_text_but_not_by_its_display() -> None:
    with_text = concept(LOINC, POSITIVE, "Positive", text="Positive")
    assert extracted(igra(IGRA, with_text)).qualitative[0].verified is True
    contradicting_text = concept(LOINC, POSITIVE, "Positive", text="see report")
    assert extracted(igra(IGRA, contradicting_text)).qualitative[0].verified is False


def test_igra_panel_code_71775_1_makes_its_own_result_unverified() -> None:
    [result] = extracted(igra(IGRA_PANEL, "Positive")).qualitative
    assert (result.verified, result.unverified_code) == (False, "LOINC 71775-1")


def test_unverified_test_code_and_unverified_answer_code_are_both_named() -> None:
    [result] = extracted(igra(IGRA_PANEL, concept(LOINC, POSITIVE))).qualitative
    assert result.unverified_code == "LOINC 71775-1, LOINC LA6576-8"


def test_interpretation_coded_only_by_an_unverified_code_is_unverified() -> None:
    v3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
    obs = observation(IGRA, None, None, ago(5).isoformat(), interpretation=[concept(v3, "POS")])
    [result] = extracted(obs).qualitative
    assert (result.result, result.unverified_code) == ("positive", "HL7 interpretation POS")
    assert result.verified is False


# --- monitoring timeline -------------------------------------------------------------------------


def test_timeline_entry_done_by_unverified_code_names_the_code() -> None:
    entry = week4_entry(alc(ALC_UNSPECIFIED, value=1.2, days_ago=12), platelets(PLATELETS_AUTOMATED, 12))
    assert (entry.status, entry.done_on) == ("done", ago(12))
    assert entry.unverified_code == "LOINC 26474-7"


def test_timeline_entry_done_by_verified_code_has_no_unverified_code() -> None:
    entry = week4_entry(alc(ALC_AUTOMATED, value=1.2, days_ago=12), platelets(PLATELETS_AUTOMATED, 12))
    assert (entry.status, entry.done_on, entry.unverified_code) == ("done", ago(12), None)


def test_timeline_entry_done_by_two_unverified_codes_names_both() -> None:
    entry = week4_entry(alc(ALC_UNSPECIFIED, value=1.2, days_ago=12), platelets(PLATELETS_UNSPECIFIED, 12))
    assert entry.unverified_code == "LOINC 26474-7, LOINC 26515-7"


def test_timeline_entry_reference_is_the_latest_result_that_made_it_done() -> None:
    entry = week4_entry(alc(ALC_AUTOMATED, value=1.2, days_ago=14), platelets(PLATELETS_UNSPECIFIED, 11))
    assert (entry.done_on, entry.reference) == (ago(11), "Observation/platelets")
    assert entry.unverified_code == "LOINC 26515-7"


def test_timeline_entry_not_done_carries_no_result_even_with_an_unverified_code_outside_its_window() -> None:
    entry = week4_entry(alc(ALC_UNSPECIFIED, value=1.2, days_ago=45), platelets(PLATELETS_AUTOMATED, 12))
    assert (entry.status, entry.done_on, entry.reference) == ("due", None, None)
    assert entry.unverified_code is None


# --- conditions -----------------------------------------------------------------------------------


def test_condition_matched_only_by_an_unverified_code_gives_an_unverified_finding() -> None:
    zoster = condition("B02.9", ICD10, id="zoster", onset=ago(5).isoformat(), display="Zoster")
    [fact] = extracted(zoster).conditions
    assert (fact.concept, fact.verified, fact.unverified_code) == ("herpes_zoster", False, "ICD-10-CM B02.9")
    assessment = assess(zoster)
    active = finding(assessment, "baseline.infection.active")
    assert active.verified is False and f"{UNVERIFIED}: ICD-10-CM B02.9" in active.detail
    assert row(assessment.eligibility, "infection").verified is False


def test_verified_alopecia_areata_code_gives_a_verified_diagnosis() -> None:
    [diagnosis] = extracted(condition("86166000", SNOMED)).diagnoses
    assert (diagnosis.subtype, diagnosis.verified) == ("universalis", True)


def test_coded_smoking_status_rests_on_its_unverified_answer_code() -> None:
    ex_smoker = observation("72166-2", concept(SNOMED, "8517006", "Ex-smoker"), None, "2025-01-01")
    [status] = extracted(ex_smoker).smoking
    assert (status.current_or_former, status.unverified_code) == (True, "SNOMED CT 8517006")
    assert status.verified is False
    as_text = observation("72166-2", concept(None, None, text="Former smoker"), None, "2025-01-01")
    assert extracted(as_text).smoking[0].verified is True


# --- medications ----------------------------------------------------------------------------------


def test_jak_inhibitor_recognised_only_by_an_unverified_rxnorm_code_is_an_unverified_episode() -> None:
    request = medication_request(ABROCITINIB_IN)
    [episode] = extracted(request).therapies
    assert (episode.drug, episode.unverified_code) == ("abrocitinib", "RxNorm 2591476")
    assert episode.verified is False


def test_jak_inhibitor_named_in_its_text_is_verified_whatever_its_code() -> None:
    request = medication_request(ABROCITINIB_IN, text="Cibinqo 100 mg tablet")
    assert extracted(request).therapies[0].verified is True
    by_display = medication_request()
    by_display["medicationCodeableConcept"] = concept(RXNORM, ABROCITINIB_IN, display="abrocitinib")
    assert extracted(by_display).therapies[0].verified is True


def test_finding_about_a_drug_known_only_through_an_unverified_code_names_the_order() -> None:
    request = medication_request(ABROCITINIB_IN, id="abro", authored_on=ago(20).isoformat())
    record = replace(patient(), therapies=extracted(request).therapies)
    off_label = finding(run(record), "agent.off_label")
    assert off_label.verified is False
    assert "Current order: Abrocitinib" in off_label.detail
    assert f"{UNVERIFIED}: RxNorm 2591476" in off_label.detail


def test_concomitant_medication_known_only_through_an_unverified_code_makes_the_combination_unverified() -> (
    None
):
    tacrolimus = medication("Tacrolimus", "potent_immunosuppressant")
    unverified = replace(tacrolimus, unverified_classes=(("potent_immunosuppressant", "RxNorm 42316"),))
    for given, verified in ((tacrolimus, True), (unverified, False)):
        assessment = run(patient(medications=(given,)), (start_order("baricitinib", 2),))
        combination = finding(assessment, "agent.combination.not_recommended")
        assert combination.verified is verified
        assert (f"{UNVERIFIED}: RxNorm 42316" in combination.detail) is not verified
        assert row(assessment.eligibility, "combination").verified is verified
