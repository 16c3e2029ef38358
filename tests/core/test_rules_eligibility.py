"""Eligibility summary and assessment status."""

from __future__ import annotations

from rules_builders import episode, patient, run, salt, start_order, with_lab, without

from clinical_core.findings import Severity


def test_fully_screened_severe_adult_is_eligible() -> None:
    assessment = run(patient())
    assert assessment.status == "eligible"
    finding = assessment.by_id("eligibility.eligible")
    assert finding is not None and finding.severity == Severity.INFO


def test_missing_cbc_makes_eligibility_undetermined_and_lists_it() -> None:
    assessment = run(without(patient(), "alc", "anc", "hemoglobin", "platelets"))
    assert assessment.status == "undetermined"
    finding = assessment.by_id("eligibility.undetermined")
    assert finding is not None and any("ALC" in m for m in finding.missing)


def test_not_eligible_names_each_drugs_failure() -> None:
    assessment = run(patient(salt_scores=(salt(30),)))
    finding = assessment.by_id("eligibility.not_eligible")
    assert finding is not None and "Baricitinib" in finding.detail and "Ritlecitinib" in finding.detail


def test_proposed_order_evaluates_only_that_drug() -> None:
    assessment = run(with_lab(patient(), "platelets", 80_000), (start_order("ritlecitinib", 50),))
    assert assessment.status == "not-eligible" and assessment.drug == "ritlecitinib"
    assert (
        run(with_lab(patient(), "platelets", 80_000), (start_order("baricitinib", 2),)).status == "eligible"
    )


def test_on_therapy_status_and_no_eligibility_finding() -> None:
    assessment = run(patient(therapies=(episode("ritlecitinib", 50, 50),)))
    assert assessment.status == "on-therapy" and assessment.drug == "ritlecitinib"
    assert not any(i.startswith("eligibility.") for i in assessment.ids)
    assert assessment.eligibility == ()


def test_checklist_splits_per_drug_where_drugs_differ() -> None:
    items = {i.key: i for i in run(with_lab(patient(), "platelets", 80_000)).eligibility}
    assert items["platelets.ritlecitinib"].status == "not-met"
    assert items["alc"].status == "met"


def test_deuruxolitinib_cyp2c9_missing_does_not_block_other_candidates() -> None:
    assessment = run(without(patient(), "cyp2c9_phenotype"))
    assert assessment.status == "eligible" and "agent.cyp2c9.missing" not in assessment.ids


def test_uninterpretable_data_is_reported() -> None:
    from clinical_core.record import Uninterpretable

    record = patient(
        uninterpretable=(Uninterpretable("Observation/x", "Observation 731-0 value", "unit cells/hpf"),)
    )
    finding = run(record).by_id("data.uninterpretable")
    assert finding is not None and finding.missing
