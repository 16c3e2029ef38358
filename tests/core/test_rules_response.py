"""Step 6: response - SALT reviews, target, baricitinib escalation/step-down, no-benefit, stopping."""

from __future__ import annotations

from rules_builders import condition, episode, medication, patient, run, salt, stop_order, with_lab

from clinical_core.findings import ActionKind, Severity
from clinical_core.record import PatientRecord


def _bari(dose: float, start_days_ago: int, *scores: tuple[float, int], **fields: object) -> PatientRecord:
    return patient(
        therapies=(episode("baricitinib", start_days_ago, dose),),
        salt_scores=tuple(salt(v, d) for v, d in scores),
        **fields,
    )


def test_salt_due_after_week12_without_a_new_score() -> None:
    finding = run(_bari(2, 13 * 7, (60, 13 * 7 + 2))).by_id("response.salt.due")
    assert finding is not None and finding.actions[0].kind == ActionKind.RECORD_SALT


def test_salt_not_due_before_week12() -> None:
    assert "response.salt.due" not in run(_bari(2, 11 * 7, (60, 11 * 7 + 2))).ids


def test_target_met_at_salt_20_not_at_21() -> None:
    assert "response.target_met" in run(_bari(2, 100, (60, 110), (20, 3))).ids
    assert "response.target_met" not in run(_bari(2, 100, (60, 110), (21, 3))).ids


def test_baricitinib_2mg_consider_4mg_at_week12_above_target() -> None:
    finding = run(_bari(2, 12 * 7, (60, 90), (45, 2))).by_id("response.baricitinib.consider_4mg")
    assert finding is not None and finding.severity == Severity.WARNING
    assert finding.actions[0].dose_mg == 4 and finding.actions[0].target == "MedicationRequest/baricitinib-84"


def test_baricitinib_no_escalation_before_review_week() -> None:
    assert "response.baricitinib.consider_4mg" not in run(_bari(2, 11 * 7, (60, 80), (45, 2))).ids


def test_baricitinib_no_escalation_on_a_salt_from_the_first_weeks_of_therapy() -> None:
    # Week 13 on 2 mg; the only on-therapy SALT (55) is from week 1: ask for a SALT, do not escalate.
    assessment = run(_bari(2, 13 * 7, (60, 13 * 7 + 2), (55, 12 * 7)))
    assert "response.baricitinib.consider_4mg" not in assessment.ids
    assert "response.salt.due" in assessment.ids


def test_baricitinib_escalation_on_a_salt_from_the_review_window() -> None:
    # Week 13 on 2 mg; SALT 55 recorded 5 days before week 12 (inside the 7-day window): escalate.
    record = _bari(2, 13 * 7, (60, 13 * 7 + 2), (55, 7 + 5))
    assert "response.baricitinib.consider_4mg" in run(record).ids


def test_baricitinib_4mg_not_an_option_when_egfr_in_reduction_band() -> None:
    assessment = run(with_lab(_bari(2, 12 * 7, (60, 90), (45, 2)), "egfr", 45))
    finding = assessment.by_id("response.baricitinib.above_target_dose_limited")
    assert finding is not None and finding.actions == ()
    assert "baricitinib 4 mg is not an option (renal function limits the dose)" in finding.summary
    assert "does not apply: renal function limits the dose." in finding.detail
    assert "response.baricitinib.consider_4mg" not in assessment.ids


def test_baricitinib_4mg_not_an_option_with_probenecid() -> None:
    record = _bari(
        2, 12 * 7, (60, 90), (45, 2), medications=(medication("probenecid", "strong_oat3_inhibitor"),)
    )
    finding = run(record).by_id("response.baricitinib.above_target_dose_limited")
    assert finding is not None and finding.actions == ()
    assert "interacting medication" in finding.summary


def test_baricitinib_no_escalation_while_alc_below_500_holds_the_drug() -> None:
    assessment = run(with_lab(_bari(2, 12 * 7, (60, 90), (45, 2)), "alc", 400))
    assert "monitoring.alc.interrupt" in assessment.ids
    assert not {"response.baricitinib.consider_4mg", "response.baricitinib.above_target_dose_limited"} & (
        assessment.ids
    )


def test_baricitinib_no_escalation_during_an_active_serious_infection() -> None:
    record = _bari(2, 12 * 7, (60, 90), (45, 2), conditions=(condition("serious_infection", 5),))
    assessment = run(record)
    assert "safety.infection.during_therapy" in assessment.ids
    assert "response.baricitinib.consider_4mg" not in assessment.ids


def test_baricitinib_4mg_at_target_consider_2mg() -> None:
    finding = run(_bari(4, 200, (90, 210), (15, 2))).by_id("response.baricitinib.consider_2mg")
    assert finding is not None and finding.actions[0].dose_mg == 2


def test_baricitinib_step_down_not_suggested_on_a_salt_from_before_the_switch_to_4mg() -> None:
    # SALT 15 on 2 mg, then 4 mg since 20 days ago with no score yet: nothing says 4 mg worked.
    record = patient(
        therapies=(episode("baricitinib", 200, 2, end_days_ago=20), episode("baricitinib", 20, 4)),
        salt_scores=(salt(90, 210), salt(15, 30)),
    )
    assert "response.baricitinib.consider_2mg" not in run(record).ids


def test_no_benefit_review_at_week36_not_at_week35() -> None:
    at = run(_bari(4, 36 * 7, (60, 260), (55, 2)))
    before = run(_bari(4, 35 * 7, (60, 250), (55, 2)))
    assert "response.no_benefit.review" in at.ids and "response.no_benefit.review" not in before.ids


WEEK36_AT_WEEK40 = 4 * 7  # days ago: week 36 of a run started 40 weeks ago


def test_no_benefit_not_raised_on_a_salt_from_before_the_week36_window() -> None:
    # Week 40 on 4 mg, pre-treatment SALT 60, SALT 55 (no benefit) recorded at week 10, or 8 days
    # before week 36, one day before its 7-day window opens: neither says anything about week 36.
    for days_ago in (30 * 7, WEEK36_AT_WEEK40 + 8):
        record = _bari(4, 40 * 7, (60, 290), (55, days_ago))
        assert "response.no_benefit.review" not in run(record).ids


def test_salt_due_at_the_week36_no_benefit_review_when_the_last_score_is_from_week24() -> None:
    # Without a request for a week-36 SALT the no-benefit review would wait for a score nobody asks for.
    record = _bari(4, 40 * 7, (60, 290), (55, 16 * 7))
    finding = run(record).by_id("response.salt.due")
    assert finding is not None and finding.summary.startswith("Week 36 response review")
    assert "response.no_benefit.review" not in run(record).ids


def test_no_benefit_raised_on_a_salt_from_the_week36_window() -> None:
    # As above, SALT 55 recorded 7 days before week 36: the window's first day.
    record = _bari(4, 40 * 7, (60, 290), (55, WEEK36_AT_WEEK40 + 7))
    finding = run(record).by_id("response.no_benefit.review")
    assert finding is not None and finding.evidence[0].value == "55"


def test_no_benefit_not_raised_when_improved_by_10_points() -> None:
    assert "response.no_benefit.review" not in run(_bari(4, 40 * 7, (60, 290), (50, 2))).ids
    assert "response.no_benefit.review" in run(_bari(4, 40 * 7, (60, 290), (51, 2))).ids


def test_no_benefit_applies_to_ritlecitinib_as_policy() -> None:
    record = patient(
        therapies=(episode("ritlecitinib", 40 * 7, 50),), salt_scores=(salt(80, 290), salt(78, 2))
    )
    assert "response.no_benefit.review" in run(record).ids


def test_stopping_a_jak_warns_about_relapse() -> None:
    record = _bari(2, 300, (60, 310), (10, 2))
    finding = run(record, (stop_order("baricitinib"),)).by_id("response.stop.relapse_warning")
    assert finding is not None and finding.severity == Severity.WARNING and not finding.verified
