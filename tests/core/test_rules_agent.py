"""Step 3: agent and dose - age, off-label, combinations, interactions, PGx, renal, hepatic, dose."""

from __future__ import annotations

from dataclasses import replace

from rules_builders import (
    KNOWLEDGE,
    condition,
    episode,
    lab,
    medication,
    patient,
    qual,
    run,
    salt,
    start_order,
    with_lab,
)
from rules_builders import with_qual as with_result

from clinical_core.findings import ActionKind, Severity


def test_off_label_tofacitinib_order_is_flagged() -> None:
    finding = run(patient(), (start_order("tofacitinib", 5, 2),)).by_id("agent.off_label")
    assert finding is not None and finding.severity == Severity.WARNING and finding.drug == "tofacitinib"


def test_approved_drug_is_not_off_label() -> None:
    assert "agent.off_label" not in run(patient(), (start_order("ritlecitinib", 50),)).ids


def test_baricitinib_order_for_17_year_old_is_a_hard_stop() -> None:
    finding = run(patient(age=17), (start_order("baricitinib", 2),)).by_id("agent.age.below_minimum")
    assert finding is not None and finding.hard_stop and finding.severity == Severity.CRITICAL


def test_baricitinib_order_at_18_passes_age() -> None:
    assert "agent.age.below_minimum" not in run(patient(age=18), (start_order("baricitinib", 2),)).ids


def test_ritlecitinib_allowed_at_12_not_at_11() -> None:
    assert "agent.age.below_minimum" not in run(patient(age=12), (start_order("ritlecitinib", 50),)).ids
    assert "agent.age.below_minimum" in run(patient(age=11), (start_order("ritlecitinib", 50),)).ids


def test_adolescent_candidates_are_ritlecitinib_only() -> None:
    assessment = run(patient(age=15))
    assert assessment.status == "eligible"
    finding = assessment.by_id("eligibility.eligible")
    assert finding is not None and "ritlecitinib" in finding.summary and "baricitinib" not in finding.summary


def test_child_below_every_candidate_age_is_not_eligible() -> None:
    assessment = run(patient(age=10))
    assert assessment.status == "not-eligible"
    assert "agent.age.below_minimum" in assessment.ids


def test_age_unknown_without_birth_date() -> None:
    assessment = run(patient(age=None))
    assert "agent.age.unknown" in assessment.ids
    assert assessment.status == "undetermined"


def test_combination_with_biologic_is_a_hard_stop() -> None:
    record = patient(medications=(medication("adalimumab", "biologic_immunomodulator"),))
    finding = run(record, (start_order("baricitinib", 2),)).by_id("agent.combination.not_recommended")
    assert finding is not None and finding.hard_stop and "adalimumab" in finding.summary


def test_second_jak_while_on_another_is_a_combination() -> None:
    record = patient(therapies=(episode("tofacitinib", 100, 5, 2),))
    assert "agent.combination.not_recommended" in run(record, (start_order("baricitinib", 2),)).ids


def test_baricitinib_with_probenecid_suggests_dose_reduction() -> None:
    record = patient(medications=(medication("probenecid", "strong_oat3_inhibitor"),))
    finding = run(record, (start_order("baricitinib", 2),)).by_id("agent.interaction.oat3_inhibitor")
    assert finding is not None and finding.severity == Severity.WARNING and not finding.verified
    change = finding.actions[0]
    assert (
        change.kind == ActionKind.CHANGE_DOSE
        and change.dose_mg == 1
        and change.target == "MedicationRequest/draft-1"
    )


def test_deuruxolitinib_with_fluconazole_is_contraindicated_hard_stop_unverified() -> None:
    record = patient(medications=(medication("fluconazole", "cyp2c9_inhibitor"),))
    finding = run(record, (start_order("deuruxolitinib", 8, 2),)).by_id("agent.interaction.cyp2c9_inhibitor")
    assert finding is not None and finding.hard_stop and finding.severity == Severity.CRITICAL
    assert finding.verified is False


def test_ritlecitinib_with_rifampin_is_a_hard_stop_because_the_label_says_not_recommended() -> None:
    record = patient(medications=(medication("rifampin", "strong_cyp3a_inducer"),))
    finding = run(record, (start_order("ritlecitinib", 50),)).by_id("agent.interaction.cyp3a_inducer")
    assert finding is not None and finding.severity == Severity.CRITICAL and finding.hard_stop


def test_tofacitinib_with_strong_cyp3a4_inhibitor() -> None:
    record = patient(medications=(medication("ketoconazole", "strong_cyp3a4_inhibitor"),))
    assert "agent.interaction.cyp3a_inhibitor" in run(record, (start_order("tofacitinib", 5, 2),)).ids


def test_tofacitinib_with_fluconazole_needs_a_dose_adjustment() -> None:
    # Xeljanz: moderate CYP3A4 + strong CYP2C19 inhibitor (fluconazole) -> dose adjustment [S17b].
    classes = {k for k, _ in KNOWLEDGE.lookup("http://www.nlm.nih.gov/research/umls/rxnorm", "4450")}
    assert "medication_class.cyp3a4_moderate_cyp2c19_strong_inhibitor" in classes
    record = patient(
        medications=(
            medication("fluconazole", "cyp2c9_inhibitor", "cyp3a4_moderate_cyp2c19_strong_inhibitor"),
        )
    )
    finding = run(record, (start_order("tofacitinib", 5, 2),)).by_id("agent.interaction.cyp3a_inhibitor")
    assert finding is not None and finding.severity == Severity.WARNING and not finding.hard_stop
    # Baricitinib has no CYP3A4/CYP2C19 interaction fact: fluconazole says nothing for it.
    assert "agent.interaction.cyp3a_inhibitor" not in run(record, (start_order("baricitinib", 2),)).ids


def test_tofacitinib_with_ketoconazole_and_fluconazole_gives_one_interaction_finding_naming_both() -> None:
    record = patient(
        medications=(
            medication("ketoconazole", "strong_cyp3a4_inhibitor"),
            medication("fluconazole", "cyp3a4_moderate_cyp2c19_strong_inhibitor"),
        )
    )
    found = [
        f
        for f in run(record, (start_order("tofacitinib", 5, 2),)).findings
        if f.id == "agent.interaction.cyp3a_inhibitor"
    ]
    assert len(found) == 1
    assert "ketoconazole, fluconazole" in found[0].summary and len(found[0].evidence) == 2


def test_deuruxolitinib_without_cyp2c9_status_orders_the_test() -> None:
    record = patient(qualitative=tuple(q for q in patient().qualitative if q.test != "cyp2c9_phenotype"))
    finding = run(record, (start_order("deuruxolitinib", 8, 2),)).by_id("agent.cyp2c9.missing")
    assert finding is not None and finding.actions[0].code is not None
    assert finding.actions[0].code.code == "79716-7"


def test_deuruxolitinib_poor_metabolizer_is_a_hard_stop() -> None:
    record = with_result(patient(), "cyp2c9_phenotype", "poor")
    finding = run(record, (start_order("deuruxolitinib", 8, 2),)).by_id("agent.cyp2c9.poor_metabolizer")
    assert finding is not None and finding.hard_stop


def test_ritlecitinib_with_hepatitis_b_is_not_recommended() -> None:
    record = with_result(patient(), "hbsag", "positive")
    assessment = run(record, (start_order("ritlecitinib", 50),))
    finding = assessment.by_id("agent.hepatitis.not_recommended")
    assert finding is not None and finding.hard_stop
    assert finding.summary.startswith("Hepatitis B on record")
    assert "baseline.hepatitis_b.positive" not in assessment.ids


def test_ritlecitinib_with_hepatitis_c_condition_is_not_recommended() -> None:
    record = patient(conditions=(condition("hepatitis_c"),))
    assert "agent.hepatitis.not_recommended" in run(record, (start_order("ritlecitinib", 50),)).ids


def test_baricitinib_egfr_59_reduces_dose_unverified() -> None:
    record = with_lab(patient(), "egfr", 59)
    finding = run(record, (start_order("baricitinib", 2),)).by_id("agent.renal.dose_reduction")
    assert finding is not None and not finding.verified
    assert finding.actions[0].dose_mg == 1


def test_baricitinib_egfr_45_order_already_at_1mg_gets_no_reduction_warning() -> None:
    record = with_lab(patient(), "egfr", 45)
    assert "agent.renal.dose_reduction" not in run(record, (start_order("baricitinib", 1),)).ids


def test_baricitinib_egfr_45_on_1mg_therapy_gets_no_reduction_warning() -> None:
    record = with_lab(patient(therapies=(episode("baricitinib", 140, 1),)), "egfr", 45)
    assert "agent.renal.dose_reduction" not in run(record).ids


def test_baricitinib_egfr_45_order_for_1mg_twice_daily_is_told_to_reduce() -> None:
    # 1 mg twice daily is 2 mg a day: not the reduced dose, which the label gives once daily.
    record = with_lab(patient(), "egfr", 45)
    finding = run(record, (start_order("baricitinib", 1, per_day=2),)).by_id("agent.renal.dose_reduction")
    assert finding is not None and finding.severity == Severity.WARNING


def test_baricitinib_egfr_45_on_1mg_twice_daily_therapy_is_told_to_reduce() -> None:
    record = with_lab(patient(therapies=(episode("baricitinib", 140, 1, per_day=2),)), "egfr", 45)
    assert "agent.renal.dose_reduction" in run(record).ids


def test_baricitinib_egfr_45_order_at_1mg_of_unknown_frequency_gets_no_reduction_warning() -> None:
    # An order without a frequency is read as the labelled once daily, as the other dose rules read it.
    order = replace(start_order("baricitinib", 1), doses_per_day=None)
    assert "agent.renal.dose_reduction" not in run(with_lab(patient(), "egfr", 45), (order,)).ids


def test_baricitinib_egfr_45_on_4mg_therapy_is_told_to_reduce_to_2mg() -> None:
    record = with_lab(patient(therapies=(episode("baricitinib", 140, 4),)), "egfr", 45)
    finding = run(record).by_id("agent.renal.dose_reduction")
    assert finding is not None and finding.actions[0].dose_mg == 2


def test_baricitinib_egfr_45_on_2mg_twice_daily_is_told_to_reduce_to_the_labelled_1mg_once_daily() -> None:
    record = with_lab(patient(therapies=(episode("baricitinib", 140, 2, per_day=2),)), "egfr", 45)
    finding = run(record).by_id("agent.renal.dose_reduction")
    assert finding is not None
    assert (finding.actions[0].dose_mg, finding.actions[0].doses_per_day) == (1, 1)


def test_baricitinib_egfr_60_needs_no_reduction() -> None:
    assert (
        "agent.renal.dose_reduction"
        not in run(with_lab(patient(), "egfr", 60), (start_order("baricitinib", 2),)).ids
    )


def test_baricitinib_egfr_29_not_recommended_at_30_reduced() -> None:
    below = run(with_lab(patient(), "egfr", 29), (start_order("baricitinib", 2),))
    at = run(with_lab(patient(), "egfr", 30), (start_order("baricitinib", 2),))
    finding = below.by_id("agent.renal.not_recommended")
    assert finding is not None and finding.hard_stop
    assert "agent.renal.not_recommended" not in at.ids and "agent.renal.dose_reduction" in at.ids


def test_deuruxolitinib_egfr_29_not_recommended_egfr_30_fine() -> None:
    order = (start_order("deuruxolitinib", 8, 2),)
    assert "agent.renal.not_recommended" in run(with_lab(patient(), "egfr", 29), order).ids
    ids = run(with_lab(patient(), "egfr", 30), order).ids
    assert not ids & {"agent.renal.not_recommended", "agent.renal.dose_reduction"}


def test_ritlecitinib_not_recommended_in_esrd() -> None:
    record = patient(conditions=(condition("end_stage_renal_disease"),))
    assert "agent.renal.not_recommended" in run(record, (start_order("ritlecitinib", 50),)).ids


def test_severe_hepatic_impairment_blocks_ritlecitinib() -> None:
    record = patient(conditions=(condition("severe_hepatic_impairment"),))
    finding = run(record, (start_order("ritlecitinib", 50),)).by_id("agent.hepatic.not_recommended")
    assert finding is not None and finding.hard_stop


def test_baricitinib_4mg_start_without_near_total_loss_suggests_2mg() -> None:
    finding = run(patient(), (start_order("baricitinib", 4),)).by_id("agent.dose.baricitinib_start")
    assert finding is not None and finding.actions[0].dose_mg == 2


def test_baricitinib_4mg_start_with_near_total_loss_is_fine() -> None:
    record = patient(salt_scores=(salt(97),))
    assert "agent.dose.baricitinib_start" not in run(record, (start_order("baricitinib", 4),)).ids


def test_ritlecitinib_100mg_is_not_a_labelled_dose() -> None:
    finding = run(patient(), (start_order("ritlecitinib", 100),)).by_id("agent.dose.not_labelled")
    assert finding is not None and finding.actions[0].dose_mg == 50


def test_deuruxolitinib_once_daily_is_not_labelled() -> None:
    assert "agent.dose.not_labelled" in run(patient(), (start_order("deuruxolitinib", 8, 1),)).ids
    assert "agent.dose.not_labelled" not in run(patient(), (start_order("deuruxolitinib", 8, 2),)).ids


def test_unused_helpers_are_importable() -> None:
    assert lab("alc", 1).test == "alc" and qual("tb_igra", "negative").result == "negative"


def test_unknown_age_names_and_cites_each_candidate_minimum_age() -> None:
    finding = run(patient(age=None)).by_id("agent.age.unknown")
    assert finding is not None
    assert "Ritlecitinib: age >= 12 years." in finding.detail
    assert {"S1", "S8a"} <= {c.id for c in finding.citations}
