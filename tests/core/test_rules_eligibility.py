"""Eligibility summary and assessment status."""

from __future__ import annotations

from rules_builders import (
    AS_OF,
    KNOWLEDGE,
    episode,
    medication,
    patient,
    run,
    salt,
    start_order,
    with_lab,
    without,
)

from clinical_core import evaluate
from clinical_core.findings import Assessment, Severity
from clinical_core.knowledge import Knowledge


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


# --- Verification: the verdict rests on every line that decides it, met ones included ------------


def knowledge_with_baricitinib_verified() -> Knowledge:
    """The knowledge file as if someone had verified baricitinib's renal bands and hepatic rule."""
    drug = KNOWLEDGE.drug("baricitinib")
    assert drug.renal is not None and drug.hepatic is not None
    bands = tuple(b.model_copy(update={"verified": True}) for b in drug.renal.bands)
    verified = drug.model_copy(
        update={
            "renal": drug.renal.model_copy(update={"bands": bands}),
            "hepatic": drug.hepatic.model_copy(update={"verified": True}),
        }
    )
    return KNOWLEDGE.model_copy(update={"drugs": {**KNOWLEDGE.drugs, "baricitinib": verified}})


def baricitinib_start(knowledge: Knowledge = KNOWLEDGE) -> Assessment:
    return evaluate(patient(), AS_OF, knowledge, proposed=(start_order("baricitinib", 2),))


def test_eligible_verdict_resting_on_met_lines_with_unverified_facts_is_unverified_and_names_them() -> None:
    assessment = baricitinib_start()
    assert [i.key for i in assessment.eligibility if not i.verified] == ["renal", "hepatic"]
    verdict = assessment.by_id("eligibility.eligible")
    assert verdict is not None and verdict.verified is False
    assert (
        "Checklist lines resting on unverified facts: Renal function (eGFR) (Baricitinib); "
        "No severe hepatic impairment (Baricitinib)."
    ) in verdict.detail


def test_eligible_verdict_is_verified_when_every_line_it_rests_on_is_verified() -> None:
    assessment = baricitinib_start(knowledge_with_baricitinib_verified())
    assert all(i.verified for i in assessment.eligibility)
    verdict = assessment.by_id("eligibility.eligible")
    assert verdict is not None and verdict.verified is True
    assert "unverified" not in verdict.detail


def test_not_eligible_verdict_rests_on_the_failing_line_only() -> None:
    assessment = run(with_lab(patient(), "alc", 400), (start_order("baricitinib", 2),))
    renal = next(i for i in assessment.eligibility if i.key == "renal")
    assert renal.status == "met" and renal.verified is False
    verdict = assessment.by_id("eligibility.not_eligible")
    assert verdict is not None and verdict.verified is True


def test_met_not_pregnant_line_is_unverified_when_the_drugs_pregnancy_fact_is() -> None:
    woman = patient(sex="female", age=30)  # for a man the row does not rest on the drug's pregnancy fact
    assessment = evaluate(woman, AS_OF, KNOWLEDGE, proposed=(start_order("deuruxolitinib", 8),))
    pregnancy = next(i for i in assessment.eligibility if i.key == "pregnancy")
    assert pregnancy.status == "met" and pregnancy.verified is False


def test_met_not_pregnant_line_is_verified_when_the_drugs_pregnancy_fact_is() -> None:
    pregnancy = next(i for i in baricitinib_start().eligibility if i.key == "pregnancy")
    assert pregnancy.status == "met" and pregnancy.verified is True


def baricitinib_left_eligible(knowledge: Knowledge) -> Assessment:
    """No order: ritlecitinib ruled out on a verified line (platelets 80,000), deuruxolitinib on an
    unverified one (fluconazole, CYP2C9 inhibitor: contraindication unverified); baricitinib eligible."""
    fluconazole = medication("fluconazole", "cyp2c9_inhibitor")
    record = with_lab(patient(medications=(fluconazole,)), "platelets", 80_000)
    return evaluate(record, AS_OF, knowledge)


def test_ruled_out_agents_unverified_line_does_not_make_the_eligible_verdict_unverified() -> None:
    assessment = baricitinib_left_eligible(knowledge_with_baricitinib_verified())
    interaction = next(i for i in assessment.eligibility if i.key.startswith("interaction."))
    assert (interaction.status, interaction.verified) == ("not-met", False)
    verdict = assessment.by_id("eligibility.eligible")
    assert verdict is not None and verdict.summary == "Eligible for a JAK inhibitor: baricitinib"
    assert verdict.verified is True and "Checklist lines resting on unverified facts" not in verdict.detail
    # The exclusion still shows, cited and named as resting on an unverified fact.
    assert "Other agents' lines resting on unverified facts: Interacting medication (Deuruxolitinib)." in (
        verdict.detail
    )
    assert "S13" in {c.id for c in verdict.citations}


def test_eligible_agents_unverified_line_still_makes_the_verdict_unverified_beside_a_ruled_out_agent() -> (
    None
):
    verdict = baricitinib_left_eligible(KNOWLEDGE).by_id("eligibility.eligible")
    assert verdict is not None and verdict.verified is False
    assert (
        "Checklist lines resting on unverified facts: Renal function (eGFR) (Baricitinib); "
        "No severe hepatic impairment (Baricitinib)."
    ) in verdict.detail
