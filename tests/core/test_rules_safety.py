"""Safety: boxed-warning risk factors, live vaccines, pregnancy and infection during therapy."""

from __future__ import annotations

from rules_builders import (
    condition,
    episode,
    live_vaccine_order,
    patient,
    run,
    salt,
    smoker,
    start_order,
    vaccination,
    with_qual,
)

from clinical_core.findings import ActionKind, Severity
from clinical_core.record import PatientRecord


def _on_baricitinib(**fields: object) -> PatientRecord:
    return patient(
        therapies=(episode("baricitinib", 100, 2),), salt_scores=(salt(60, 110), salt(30, 3)), **fields
    )


def test_boxed_warning_at_65_not_at_64() -> None:
    assert "safety.boxed_warning.risk_factors" in run(patient(age=65)).ids
    assert "safety.boxed_warning.risk_factors" not in run(patient(age=64)).ids


def test_boxed_warning_for_former_smoker_and_vte_history() -> None:
    record = patient(smoking=(smoker(),), conditions=(condition("vte", active=False),))
    finding = run(record).by_id("safety.boxed_warning.risk_factors")
    assert finding is not None and finding.severity == Severity.WARNING
    assert {e.label for e in finding.evidence} >= {"Smoking"}


def test_live_vaccine_proposed_on_therapy_is_a_hard_stop_with_remove_action() -> None:
    finding = run(_on_baricitinib(), (live_vaccine_order(),)).by_id("safety.live_vaccine.during_therapy")
    assert finding is not None and finding.hard_stop and finding.severity == Severity.CRITICAL
    assert finding.actions[0].kind == ActionKind.STOP_ORDER
    assert finding.actions[0].target == "ImmunizationRecommendation/draft-v"


def test_live_vaccine_proposed_without_jak_is_fine() -> None:
    assert "safety.live_vaccine.during_therapy" not in run(patient(), (live_vaccine_order(),)).ids


def test_live_vaccine_given_during_therapy_is_critical() -> None:
    record = _on_baricitinib(vaccinations=(vaccination("21", "varicella", 10),))
    finding = run(record).by_id("safety.live_vaccine.during_therapy")
    assert finding is not None and not finding.hard_stop


def test_pregnancy_during_therapy_is_critical() -> None:
    record = with_qual(_on_baricitinib(), "pregnancy_test", "positive", days_ago=3)
    assert "safety.pregnancy.during_therapy" in run(record).ids


def test_serious_infection_during_therapy_interrupts() -> None:
    finding = run(_on_baricitinib(conditions=(condition("serious_infection", 5),))).by_id(
        "safety.infection.during_therapy"
    )
    assert finding is not None and finding.actions[0].kind == ActionKind.STOP_ORDER


def test_findings_are_sorted_critical_first() -> None:
    record = _on_baricitinib(conditions=(condition("serious_infection", 5),), smoking=(smoker(),))
    ranks = [f.severity.rank for f in run(record).findings]
    assert ranks == sorted(ranks)


def test_summaries_are_under_140_characters() -> None:
    record = patient(
        age=70,
        smoking=(smoker(),),
        conditions=(condition("vte"), condition("malignancy"), condition("cardiovascular")),
    )
    for finding in run(record, (start_order("baricitinib", 4),)).findings:
        assert len(finding.summary) < 140


def test_age_65_risk_factor_cites_the_ema_advice_not_the_us_boxed_warning() -> None:
    finding = run(patient(age=70)).by_id("safety.boxed_warning.risk_factors")
    assert finding is not None
    assert "Age >= 65: EMA 2023 advice" in finding.detail
    assert {"S21a", "S21b"} <= {c.id for c in finding.citations}


def test_boxed_warning_card_without_old_age_has_no_ema_age_line() -> None:
    finding = run(patient(age=40, smoking=(smoker(),))).by_id("safety.boxed_warning.risk_factors")
    assert finding is not None and "EMA 2023 advice" not in finding.detail
