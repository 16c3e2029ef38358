"""Step 5: monitoring on therapy - the drug's own schedule and its own stop thresholds."""

from __future__ import annotations

from rules_builders import episode, lab, patient, run, salt, with_lab, with_qual

from clinical_core.findings import ActionKind, Severity
from clinical_core.record import LabResult, PatientRecord


def _on(
    drug: str, start_days_ago: int, dose: float, per_day: int = 1, labs: tuple[LabResult, ...] = ()
) -> PatientRecord:
    return patient(
        therapies=(episode(drug, start_days_ago, dose, per_day),),
        labs=labs,
        salt_scores=(salt(60, start_days_ago + 5), salt(40, 3)),
    )


def test_ritlecitinib_discontinue_when_platelets_below_50k() -> None:
    record = with_lab(_on("ritlecitinib", 60, 50), "platelets", 49_999)
    finding = run(record).by_id("monitoring.platelets.discontinue")
    assert finding is not None and finding.severity == Severity.CRITICAL
    assert finding.actions[0].kind == ActionKind.STOP_ORDER


def test_ritlecitinib_continues_at_platelets_50k() -> None:
    record = with_lab(_on("ritlecitinib", 60, 50), "platelets", 50_000)
    assert "monitoring.platelets.discontinue" not in run(record).ids


def test_ritlecitinib_interrupt_when_alc_below_500_not_at_500() -> None:
    assert "monitoring.alc.interrupt" in run(with_lab(_on("ritlecitinib", 60, 50), "alc", 499)).ids
    assert "monitoring.alc.interrupt" not in run(with_lab(_on("ritlecitinib", 60, 50), "alc", 500)).ids


def test_baricitinib_interrupt_anc_below_1000_and_hb_below_8() -> None:
    record = with_lab(with_lab(_on("baricitinib", 60, 2), "anc", 999), "hemoglobin", 7.9)
    assert {"monitoring.anc.interrupt", "monitoring.hemoglobin.interrupt"} <= run(record).ids


def test_abrocitinib_discontinue_when_platelets_below_50k() -> None:
    record = with_lab(_on("abrocitinib", 60, 100), "platelets", 40_000)
    assert "monitoring.platelets.discontinue" in run(record).ids


def test_baricitinib_has_no_platelet_stop() -> None:
    record = with_lab(_on("baricitinib", 60, 2), "platelets", 40_000)
    assert "monitoring.platelets.discontinue" not in run(record).ids


def test_ritlecitinib_week4_alc_platelets_due_in_window() -> None:
    assessment = run(_on("ritlecitinib", 28, 50))
    finding = assessment.by_id("monitoring.alc_platelets_week4.due")
    assert finding is not None and finding.severity == Severity.INFO
    assert finding.actions[0].code is not None and finding.actions[0].code.code == "57021-8"


def test_ritlecitinib_week4_upcoming_before_window() -> None:
    assessment = run(_on("ritlecitinib", 20, 50))
    assert not any(i.startswith("monitoring.alc_platelets_week4") for i in assessment.ids)
    entry = next(e for e in assessment.timeline if e.key == "alc_platelets_week4")
    assert entry.status == "upcoming"


def test_ritlecitinib_week4_overdue_after_window() -> None:
    finding = run(_on("ritlecitinib", 28 + 15, 50)).by_id("monitoring.alc_platelets_week4.overdue")
    assert finding is not None and finding.severity == Severity.WARNING


def test_ritlecitinib_week4_done_when_both_results_after_start() -> None:
    record = _on("ritlecitinib", 40, 50, labs=(lab("alc", 1200, 12), lab("platelets", 2e5, 12)))
    assessment = run(record)
    assert not any(i.startswith("monitoring.alc_platelets_week4") for i in assessment.ids)
    entry = next(e for e in assessment.timeline if e.key == "alc_platelets_week4")
    assert entry.status == "done" and entry.done_on is not None


def test_baricitinib_schedule_has_lipids_at_week12_and_policy_week4() -> None:
    timeline = run(_on("baricitinib", 30, 2)).timeline
    keys = {(e.key, e.week) for e in timeline}
    assert ("lipids_week12", 12) in keys and ("cbc_week4", 4) in keys
    assert "alc_platelets_week4" not in {k for k, _ in keys}


def test_baricitinib_lipids_week12_overdue_finding() -> None:
    record = _on(
        "baricitinib",
        12 * 7 + 15,
        2,
        labs=(
            lab("alc", 1500, 60),
            lab("anc", 3000, 60),
            lab("hemoglobin", 13, 60),
            lab("alt", 20, 60),
            lab("ast", 20, 60),
        ),
    )
    assert "monitoring.lipids_week12.overdue" in run(record).ids


def test_periodic_recheck_follows_the_fixed_draws() -> None:
    timeline = run(_on("baricitinib", 200, 2)).timeline
    weeks = [e.week for e in timeline if e.key == "cbc_periodic"]
    assert weeks[:3] == [16, 28, 40]


def test_deuruxolitinib_schedule_is_policy_and_unverified() -> None:
    finding = run(_on("deuruxolitinib", 28, 8, 2)).by_id("monitoring.cbc_week4.due")
    assert finding is not None and finding.verified is False


def test_no_monitoring_before_therapy() -> None:
    assessment = run(patient())
    assert assessment.timeline == () and not any(i.startswith("monitoring.") for i in assessment.ids)


def test_therapy_start_spans_dose_changes() -> None:
    record = patient(
        therapies=(
            episode("baricitinib", 200, 2, end_days_ago=100, status="completed"),
            episode("baricitinib", 99, 4),
        )
    )
    assessment = run(record)
    assert assessment.status == "on-therapy"
    assert assessment.therapy_start is not None and (assessment.as_of - assessment.therapy_start).days == 200
    assert assessment.therapy_week == 28


def test_active_jak_order_without_start_date_is_on_therapy_and_asks_for_the_start() -> None:
    from dataclasses import replace

    undated = replace(episode("baricitinib", 60, 2), start=None)
    assessment = run(patient(therapies=(undated,)))
    assert assessment.status == "on-therapy" and assessment.therapy_week is None
    assert "monitoring.start_unknown" in assessment.ids
    assert "eligibility.undetermined" not in assessment.ids and assessment.timeline == ()


def _anti_hbc_positive_on(drug: str, dose: float, *hbv_dna: tuple[str, int]) -> PatientRecord:
    record = with_qual(_on(drug, 200, dose), "anti_hbc", "positive", days_ago=210)
    for result, days_ago in hbv_dna:
        record = with_qual(record, "hbv_dna", result, days_ago=days_ago)
    return record


def test_hbv_dna_detected_on_baricitinib_after_anti_hbc_asks_for_a_hepatologist() -> None:
    finding = run(_anti_hbc_positive_on("baricitinib", 2, ("positive", 5))).by_id(
        "monitoring.hbv_dna.detected"
    )
    assert finding is not None and finding.severity == Severity.WARNING
    assert "consult a hepatologist" in finding.summary
    assert [e.label for e in finding.evidence][:1] == ["HBV DNA"]


def test_hbv_dna_due_on_baricitinib_when_none_measured_in_12_weeks() -> None:
    assessment = run(_anti_hbc_positive_on("baricitinib", 2, ("negative", 12 * 7)))
    finding = assessment.by_id("monitoring.hbv_dna.due")
    assert finding is not None and finding.actions[0].kind == ActionKind.ORDER_TEST
    assert "monitoring.hbv_dna.detected" not in assessment.ids


def test_hbv_dna_not_due_when_undetected_within_12_weeks() -> None:
    assessment = run(_anti_hbc_positive_on("baricitinib", 2, ("negative", 12 * 7 - 1)))
    assert not {"monitoring.hbv_dna.due", "monitoring.hbv_dna.detected"} & assessment.ids


def test_hbv_dna_due_when_never_measured_on_baricitinib() -> None:
    assert "monitoring.hbv_dna.due" in run(_anti_hbc_positive_on("baricitinib", 2)).ids


def test_no_hbv_dna_monitoring_on_ritlecitinib_whose_label_has_no_such_rule() -> None:
    assessment = run(_anti_hbc_positive_on("ritlecitinib", 50, ("positive", 5)))
    assert not {"monitoring.hbv_dna.due", "monitoring.hbv_dna.detected"} & assessment.ids


def test_no_hbv_dna_monitoring_when_anti_hbc_is_negative() -> None:
    assert "monitoring.hbv_dna.due" not in run(_on("baricitinib", 200, 2)).ids


def test_hbv_dna_below_the_limit_of_quantification_counts_as_measured() -> None:
    assessment = run(_anti_hbc_positive_on("baricitinib", 2, ("indeterminate", 10)))
    assert not {"monitoring.hbv_dna.due", "monitoring.hbv_dna.detected"} & assessment.ids
