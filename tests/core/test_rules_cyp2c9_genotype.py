"""CYP2C9 status from FHIR to findings: a genotype is read by the knowledge file's unverified mapping.

Each test extracts one CYP2C9 Observation and evaluates it in the rules' baseline patient (who
meets every other criterion) on the frozen day `AS_OF`, with a deuruxolitinib order proposed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fhir_builders import LOINC, concept, observation
from fhir_builders import patient as fhir_patient
from rules_builders import KNOWLEDGE, ago, patient, run, start_order, without

from clinical_core import build_record
from clinical_core.findings import Assessment, ChecklistItem, Finding

GENOTYPE = "84413-4"
PHENOTYPE = "79716-7"
DRUG_METABOLISM_EFFECT = "53040-2"
NOTE = "current CPIC CYP2C9 allele functionality and diplotype-phenotype tables"


def assess_deuruxolitinib(loinc: str, value: Any, **extra: Any) -> Assessment:
    cyp2c9 = observation(loinc, value, None, ago(20).isoformat(), id="cyp2c9", **extra)
    extracted = build_record([fhir_patient(), cyp2c9], KNOWLEDGE)
    base = without(patient(), "cyp2c9_phenotype")
    record = replace(
        base,
        qualitative=(*base.qualitative, *extracted.qualitative),
        uninterpretable=extracted.uninterpretable,
    )
    return run(record, (start_order("deuruxolitinib", 8, 2),))


def poor_metabolizer(assessment: Assessment) -> Finding:
    finding = assessment.by_id("agent.cyp2c9.poor_metabolizer")
    assert finding is not None and finding.hard_stop
    return finding


def test_poor_metabolizer_inferred_from_star3_star3_is_unverified_with_the_note_and_the_diplotype() -> None:
    finding = poor_metabolizer(assess_deuruxolitinib(GENOTYPE, concept(None, None, text="CYP2C9 *3/*3")))
    assert finding.verified is False
    assert NOTE in finding.detail
    assert "_Uses facts marked unverified" in finding.detail
    assert "CPIC2C9" in {c.id for c in finding.citations}
    [evidence] = finding.evidence
    assert evidence.value == "poor metabolizer (inferred from CYP2C9 *3/*3, activity score 0)"
    assert evidence.reference == "Observation/cyp2c9"


def test_eligibility_verdict_on_an_inferred_poor_metabolizer_is_unverified() -> None:
    assessment = assess_deuruxolitinib(GENOTYPE, concept(None, None, text="CYP2C9 *3/*3"))
    verdict = assessment.by_id("eligibility.not_eligible")
    assert verdict is not None and verdict.verified is False and NOTE in verdict.detail
    [item] = [i for i in assessment.eligibility if i.key == "cyp2c9"]
    assert item.status == "not-met"
    assert item.value == "poor metabolizer (inferred from CYP2C9 *3/*3, activity score 0)"


def test_coded_poor_metabolizer_answer_stays_verified() -> None:
    coded = concept(LOINC, "LA9657-3", "Poor metabolizer")
    finding = poor_metabolizer(assess_deuruxolitinib(PHENOTYPE, coded))
    assert finding.verified is True
    assert NOTE not in finding.detail and "CPIC2C9" not in {c.id for c in finding.citations}
    assert [e.value for e in finding.evidence] == ["poor metabolizer"]


def test_poor_metabolizer_phenotype_text_stays_verified() -> None:
    finding = poor_metabolizer(assess_deuruxolitinib(DRUG_METABOLISM_EFFECT, "CYP2C9 poor metabolizer"))
    assert finding.verified is True and NOTE not in finding.detail


def test_star1_star2_is_an_intermediate_metabolizer_and_raises_no_cyp2c9_finding() -> None:
    assessment = assess_deuruxolitinib(GENOTYPE, concept(None, None, text="CYP2C9 *1/*2"))
    assert not {i for i in assessment.ids if i.startswith("agent.cyp2c9.")}
    assert "data.uninterpretable" not in assessment.ids
    [item] = [i for i in assessment.eligibility if i.key == "cyp2c9"]
    assert item.status == "met"
    assert item.value == "intermediate metabolizer (inferred from CYP2C9 *1/*2, activity score 1.5)"


def test_star1_star5_is_not_mapped_so_it_cannot_be_interpreted_rather_than_guessed() -> None:
    assessment = assess_deuruxolitinib(GENOTYPE, concept(None, None, text="CYP2C9 *1/*5"))
    problem = assessment.by_id("data.uninterpretable")
    # The diplotype is patient text: its stars are escaped so that markdown shows them, not emphasis.
    assert problem is not None and "'\\*1/\\*5' is not mapped to a phenotype" in problem.detail
    assert "agent.cyp2c9.missing" in assessment.ids
    assert "agent.cyp2c9.poor_metabolizer" not in assessment.ids


# --- Checklist lines: a line is verified only when every fact behind it is -----------------------


def cyp2c9_line(assessment: Assessment) -> ChecklistItem:
    [item] = [i for i in assessment.eligibility if i.key == "cyp2c9"]
    return item


def test_eligibility_line_on_a_cyp2c9_status_inferred_from_a_genotype_is_unverified() -> None:
    item = cyp2c9_line(assess_deuruxolitinib(GENOTYPE, concept(None, None, text="CYP2C9 *1/*1")))
    assert (item.status, item.verified) == ("met", False)
    assert item.value == "normal metabolizer (inferred from CYP2C9 *1/*1, activity score 2)"


def test_eligibility_line_on_a_coded_normal_metabolizer_phenotype_is_verified() -> None:
    coded = concept(LOINC, "LA25391-6", "Normal metabolizer")
    item = cyp2c9_line(assess_deuruxolitinib(PHENOTYPE, coded))
    assert (item.status, item.verified, item.value) == ("met", True, "normal metabolizer")


def test_eligible_verdict_on_an_inferred_normal_metabolizer_is_unverified_and_names_the_line() -> None:
    assessment = assess_deuruxolitinib(GENOTYPE, concept(None, None, text="CYP2C9 *1/*1"))
    verdict = assessment.by_id("eligibility.eligible")
    assert verdict is not None and verdict.verified is False
    assert "CYP2C9 metabolizer status (Deuruxolitinib)" in verdict.detail
    assert NOTE in verdict.detail and "CPIC2C9" in {c.id for c in verdict.citations}


def test_a_normal_metabolizer_result_for_cyp2d6_does_not_clear_deuruxolitinib() -> None:
    cyp2d6 = {
        "code": concept(LOINC, "48018-6"),
        "valueCodeableConcept": concept("http://www.genenames.org/geneId", "HGNC:2625", "CYP2D6"),
    }
    normal = concept(LOINC, "LA25391-6", "Normal metabolizer")
    assessment = assess_deuruxolitinib(DRUG_METABOLISM_EFFECT, normal, component=[cyp2d6])
    assert "agent.cyp2c9.missing" in assessment.ids and "eligibility.eligible" not in assessment.ids
