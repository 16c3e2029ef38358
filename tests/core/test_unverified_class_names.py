"""A medication in an interaction class only through a class member name marked `verified: false`
makes what rests on that class unverified, as an unverified code does.

Each test extracts the medication (or draft order) from FHIR and puts it in the rules' baseline
patient (who meets every criterion), evaluated on the frozen day `AS_OF`. Ritlecitinib's strong
CYP3A inducer rule, tofacitinib's CYP3A4/CYP2C19 rule and baricitinib's combination rule are
verified facts, so the only unverified thing behind those findings is the class membership.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fhir_builders import medication_request
from fhir_builders import patient as fhir_patient
from rules_builders import KNOWLEDGE, ago, patient, run, start_order

from clinical_core import build_record, proposed_orders
from clinical_core.findings import Assessment, Finding
from clinical_core.record import OtherMedication

UNVERIFIED = "Recognised by a code or name not yet verified"
RIFAMPIN_IN = "9384"  # verified
CARBAMAZEPINE = 'name "carbamazepine" as medication_class.strong_cyp3a_inducer'


def in_markdown(text: str) -> str:
    """`text` as a finding's markdown detail shows it (underscores escaped)."""
    return text.replace("_", "\\_")


def taking(text: str, rxnorm: str | None = None) -> OtherMedication:
    """The medication the extraction makes of an active MedicationRequest started 30 days ago."""
    request = medication_request(rxnorm, text=text, id="other", authored_on=ago(30).isoformat())
    [medication] = build_record([fhir_patient(), request], KNOWLEDGE).medications
    return medication


def assess(drug: str, dose_mg: float, per_day: int, medication: OtherMedication) -> Assessment:
    return run(replace(patient(), medications=(medication,)), (start_order(drug, dose_mg, per_day),))


def finding(assessment: Assessment, finding_id: str) -> Finding:
    found = assessment.by_id(finding_id)
    assert found is not None, f"{finding_id} not in {sorted(assessment.ids)}"
    return found


def inducer_finding(medication: OtherMedication) -> Finding:
    return finding(assess("ritlecitinib", 50, 1, medication), "agent.interaction.cyp3a_inducer")


def test_interaction_by_unverified_class_member_name_says_verify() -> None:
    inducer = inducer_finding(taking("carbamazepine 200 mg tablet"))
    assert inducer.verified is False
    [evidence] = inducer.evidence
    assert (evidence.verified, evidence.unverified_code) == (False, CARBAMAZEPINE)
    assert f"{UNVERIFIED}: {in_markdown(CARBAMAZEPINE)}" in inducer.detail


def test_interaction_by_label_example_name_is_verified() -> None:
    inducer = inducer_finding(taking("rifampin 300 mg capsule"))
    assert inducer.verified is True
    assert UNVERIFIED not in inducer.detail


def test_interaction_by_verified_rxnorm_code_is_verified_even_if_name_unverified() -> None:
    rifampicin = taking("rifampicin 300 mg capsule", RIFAMPIN_IN)
    assert rifampicin.unverified_classes == ()
    assert inducer_finding(rifampicin).verified is True


def test_eligibility_verdict_failing_on_an_unverified_class_member_name_names_it() -> None:
    assessment = assess("ritlecitinib", 50, 1, taking("carbamazepine 200 mg tablet"))
    [row] = [i for i in assessment.eligibility if i.key == "interaction.strong_cyp3a_inducer"]
    assert (row.status, row.verified) == ("not-met", False)
    verdict = finding(assessment, "eligibility.not_eligible")
    assert verdict.verified is False
    assert f"{UNVERIFIED}: {in_markdown(CARBAMAZEPINE)} (Interacting medication)." in verdict.detail


def test_class_member_name_in_a_case_the_pattern_folds_but_lower_does_not_stays_unverified() -> None:
    # Turkish upper case dots the capital I: the name pattern (re.IGNORECASE) still finds
    # azathioprine, but "İ".lower() is "i" plus a combining dot, so a lookup by the lower-cased text
    # misses. Not finding the member must not make it a verified one.
    azathioprine = taking("AZATH\u0130OPR\u0130NE 50 MG TABLET")
    named = 'name "azathioprine" as medication_class.potent_immunosuppressant'
    assert azathioprine.unverified_classes == (("potent_immunosuppressant", named),)


def test_text_naming_two_unverified_members_of_one_class_names_both() -> None:
    # Either could be what puts the medication in the class: checking one alone is not enough.
    both = taking("amiodarone + fluconazole")
    cls = "medication_class.cyp2c9_inhibitor"
    named = f'name "amiodarone" as {cls}, name "fluconazole" as {cls}'
    assert both.class_unverified("cyp2c9_inhibitor") == named


def test_text_naming_a_verified_and_an_unverified_member_of_one_class_is_verified() -> None:
    both = taking("cyclosporine / tacrolimus")
    assert both.class_unverified("potent_immunosuppressant") is None


def test_class_member_name_is_verified_class_by_class() -> None:
    fluconazole = taking("Fluconazole 150mg")
    assert fluconazole.classes == {"cyp2c9_inhibitor", "cyp3a4_moderate_cyp2c19_strong_inhibitor"}
    named = 'name "fluconazole" as medication_class.cyp2c9_inhibitor'
    assert fluconazole.unverified_classes == (("cyp2c9_inhibitor", named),)


def test_name_unverified_for_another_class_leaves_a_verified_class_rule_verified() -> None:
    assessment = assess("tofacitinib", 5, 2, taking("Fluconazole 150mg"))
    assert finding(assessment, "agent.interaction.cyp3a_inhibitor").verified is True


def test_fluconazole_by_name_is_an_unverified_cyp2c9_inhibitor() -> None:
    assessment = assess("deuruxolitinib", 8, 2, taking("Fluconazole 150mg"))
    [evidence] = finding(assessment, "agent.interaction.cyp2c9_inhibitor").evidence
    assert evidence.unverified_code == 'name "fluconazole" as medication_class.cyp2c9_inhibitor'


def test_fluconazole_code_names_its_unverified_class_not_just_the_code() -> None:
    # RxNorm 4450 is fluconazole (verified); its place among CYP2C9 inhibitors is what is not.
    assessment = assess("deuruxolitinib", 8, 2, taking("Diflucan", "4450"))
    [evidence] = finding(assessment, "agent.interaction.cyp2c9_inhibitor").evidence
    assert evidence.unverified_code == "RxNorm 4450 as medication_class.cyp2c9_inhibitor"


def test_fluconazole_code_is_a_verified_cyp3a4_cyp2c19_inhibitor() -> None:
    assert taking("Diflucan", "4450").class_unverified("cyp3a4_moderate_cyp2c19_strong_inhibitor") is None


def draft(text: str) -> dict[str, Any]:
    return medication_request(None, text=text, status="draft", id="draft-2")


def test_draft_order_matched_by_unverified_class_member_name_makes_the_combination_say_verify() -> None:
    [order] = proposed_orders([draft("tacrolimus 1 mg capsule")], KNOWLEDGE)
    named = 'name "tacrolimus" as medication_class.potent_immunosuppressant'
    assert order.interaction_classes == {"potent_immunosuppressant"}
    assert order.class_unverified("potent_immunosuppressant") == named
    assessment = run(patient(), (start_order("baricitinib", 2), order))
    combination = finding(assessment, "agent.combination.not_recommended")
    assert combination.verified is False
    [partner] = combination.evidence
    assert (partner.value, partner.unverified_code) == ("tacrolimus 1 mg capsule", named)
