"""Step 4: baseline tests and the chosen drug's own start thresholds (boundary pairs)."""

from __future__ import annotations

import pytest
from rules_builders import (
    condition,
    episode,
    lab,
    patient,
    run,
    start_order,
    vaccination,
    with_lab,
    with_qual,
    without,
)

from clinical_core.findings import ActionKind, ChecklistItem, Severity


def test_baricitinib_start_blocked_when_alc_below_500() -> None:
    finding = run(with_lab(patient(), "alc", 499), (start_order("baricitinib", 2),)).by_id(
        "baseline.alc.below_start"
    )
    assert finding is not None and finding.hard_stop and finding.severity == Severity.CRITICAL


def test_baricitinib_start_allowed_when_alc_is_500() -> None:
    assert (
        "baseline.alc.below_start"
        not in run(with_lab(patient(), "alc", 500), (start_order("baricitinib", 2),)).ids
    )


def test_baricitinib_anc_999_blocks_1000_allows() -> None:
    order = (start_order("baricitinib", 2),)
    assert "baseline.anc.below_start" in run(with_lab(patient(), "anc", 999), order).ids
    assert "baseline.anc.below_start" not in run(with_lab(patient(), "anc", 1000), order).ids


def test_baricitinib_hemoglobin_7_9_blocks_8_allows() -> None:
    order = (start_order("baricitinib", 2),)
    assert "baseline.hemoglobin.below_start" in run(with_lab(patient(), "hemoglobin", 7.9), order).ids
    assert "baseline.hemoglobin.below_start" not in run(with_lab(patient(), "hemoglobin", 8), order).ids


def test_tofacitinib_uses_its_own_hemoglobin_threshold_of_9() -> None:
    order = (start_order("tofacitinib", 5, 2),)
    assert "baseline.hemoglobin.below_start" in run(with_lab(patient(), "hemoglobin", 8.9), order).ids
    assert "baseline.hemoglobin.below_start" not in run(with_lab(patient(), "hemoglobin", 9), order).ids


def test_ritlecitinib_platelets_99k_blocks_100k_allows() -> None:
    order = (start_order("ritlecitinib", 50),)
    assert "baseline.platelets.below_start" in run(with_lab(patient(), "platelets", 99_999), order).ids
    assert "baseline.platelets.below_start" not in run(with_lab(patient(), "platelets", 100_000), order).ids


def test_abrocitinib_platelets_149k_blocks_150k_allows() -> None:
    order = (start_order("abrocitinib", 100),)
    assert "baseline.platelets.below_start" in run(with_lab(patient(), "platelets", 149_999), order).ids
    assert "baseline.platelets.below_start" not in run(with_lab(patient(), "platelets", 150_000), order).ids


def test_baricitinib_has_no_platelet_threshold() -> None:
    assert (
        "baseline.platelets.below_start"
        not in run(with_lab(patient(), "platelets", 60_000), (start_order("baricitinib", 2),)).ids
    )


def test_ritlecitinib_ignores_anc_it_has_no_threshold_for() -> None:
    assert (
        "baseline.anc.below_start"
        not in run(with_lab(patient(), "anc", 500), (start_order("ritlecitinib", 50),)).ids
    )


def test_candidate_thresholds_name_the_failing_drug_only() -> None:
    assessment = run(with_lab(patient(), "platelets", 80_000))
    finding = assessment.by_id("baseline.platelets.below_start")
    assert finding is not None and finding.drug == "ritlecitinib" and not finding.hard_stop
    assert assessment.status == "eligible"  # baricitinib and deuruxolitinib still pass


def test_alc_below_500_fails_every_candidate() -> None:
    assessment = run(with_lab(patient(), "alc", 400))
    assert assessment.status == "not-eligible"
    finding = assessment.by_id("baseline.alc.below_start")
    assert finding is not None and finding.drug is None
    assert "baricitinib" in finding.summary and "ritlecitinib" in finding.summary


@pytest.mark.parametrize(
    ("key", "tests", "code"),
    [
        ("cbc", ("alc", "anc", "hemoglobin", "platelets"), "57021-8"),
        ("liver_enzymes", ("alt", "ast"), "1742-6"),
        ("lipids", ("ldl",), "57698-3"),
        ("renal_function", ("egfr",), "2160-0"),
        ("tb_screening", ("tb_igra",), "71773-6"),
        ("hepatitis_b", ("hbsag", "anti_hbc"), "5196-1"),
        ("hepatitis_c", ("hcv_ab",), "13955-0"),
    ],
)
def test_missing_baseline_test_orders_its_loinc(key: str, tests: tuple[str, ...], code: str) -> None:
    finding = run(without(patient(), *tests)).by_id(f"baseline.{key}.missing")
    assert finding is not None and finding.severity == Severity.WARNING
    assert finding.actions[0].kind == ActionKind.ORDER_TEST and finding.actions[0].code is not None
    assert finding.actions[0].code.code == code


def test_cbc_at_90_days_is_in_window_at_91_it_is_not() -> None:
    old = patient(
        labs=tuple(
            lab(t, v, 91) if t in ("alc", "anc", "hemoglobin", "platelets") else lab(t, v)
            for t, v in (
                ("alc", 1500),
                ("anc", 3000),
                ("hemoglobin", 13),
                ("platelets", 2e5),
                ("alt", 20),
                ("ast", 20),
                ("ldl", 100),
                ("egfr", 90),
            )
        )
    )
    assert "baseline.cbc.missing" in run(old).ids
    assert run(old).status == "undetermined"
    fresh = patient(labs=tuple(lab(x.test, x.value, 90) for x in patient().labs))
    assert "baseline.cbc.missing" not in run(fresh).ids


def test_pregnancy_test_missing_for_female_in_age_band_only() -> None:
    assert "baseline.pregnancy_test.missing" in run(patient(sex="female", age=30)).ids
    assert "baseline.pregnancy_test.missing" not in run(patient(sex="female", age=51)).ids
    assert "baseline.pregnancy_test.missing" not in run(patient(sex="male", age=30)).ids


def test_pregnancy_test_missing_is_info_and_does_not_block() -> None:
    assessment = run(patient(sex="female", age=30))
    finding = assessment.by_id("baseline.pregnancy_test.missing")
    assert finding is not None and finding.severity == Severity.INFO
    assert assessment.status == "eligible"


def test_positive_pregnancy_test_is_a_hard_stop() -> None:
    record = with_qual(patient(sex="female", age=30), "pregnancy_test", "positive")
    finding = run(record, (start_order("baricitinib", 2),)).by_id("baseline.pregnancy.positive")
    assert finding is not None and finding.hard_stop


def test_quantitative_hcg_at_cutoff_is_positive_below_is_not() -> None:
    female = patient(sex="female", age=30)
    assert "baseline.pregnancy.positive" in run(with_lab(female, "hcg_quantitative", 25)).ids
    assert "baseline.pregnancy.positive" not in run(with_lab(female, "hcg_quantitative", 24)).ids


def test_positive_igra_is_a_hard_stop() -> None:
    finding = run(with_qual(patient(), "tb_igra", "positive"), (start_order("baricitinib", 2),)).by_id(
        "baseline.tb.positive"
    )
    assert finding is not None and finding.hard_stop


def test_latent_tb_condition_blocks_start() -> None:
    assert "baseline.tb.positive" in run(patient(conditions=(condition("latent_tb"),))).ids


def test_indeterminate_igra_asks_for_repeat() -> None:
    assessment = run(with_qual(patient(), "tb_igra", "indeterminate"))
    assert "baseline.tb.indeterminate" in assessment.ids
    assert assessment.status == "undetermined"


def test_hbsag_positive_holds_baricitinib_start() -> None:
    finding = run(with_qual(patient(), "hbsag", "positive"), (start_order("baricitinib", 2),)).by_id(
        "baseline.hepatitis_b.positive"
    )
    assert finding is not None and finding.hard_stop


def test_core_antibody_only_asks_for_hbv_dna_monitoring_on_baricitinib() -> None:
    record = with_qual(patient(), "anti_hbc", "positive")
    finding = run(record, (start_order("baricitinib", 2),)).by_id("baseline.hepatitis_b.monitor_dna")
    assert finding is not None and finding.severity == Severity.WARNING
    assert "baseline.hepatitis_b.monitor_dna" not in run(record, (start_order("deuruxolitinib", 8, 2),)).ids


def test_hcv_antibody_positive_blocks() -> None:
    assert (
        "baseline.hepatitis_c.positive"
        in run(with_qual(patient(), "hcv_ab", "positive"), (start_order("baricitinib", 2),)).ids
    )


def test_active_infection_blocks_start() -> None:
    finding = run(patient(conditions=(condition("herpes_zoster"),)), (start_order("baricitinib", 2),)).by_id(
        "baseline.infection.active"
    )
    assert finding is not None and finding.hard_stop


def test_live_vaccine_28_days_ago_warns_29_does_not() -> None:
    assert "baseline.live_vaccine.recent" in run(patient(vaccinations=(vaccination("03", "MMR", 28),))).ids
    assert (
        "baseline.live_vaccine.recent" not in run(patient(vaccinations=(vaccination("03", "MMR", 29),))).ids
    )


def test_non_live_zoster_vaccine_does_not_warn() -> None:
    record = patient(vaccinations=(vaccination("187", "zoster recombinant", 5, live=False),))
    assert "baseline.live_vaccine.recent" not in run(record).ids


def test_vaccines_update_reminder_before_start_not_on_therapy() -> None:
    assert "baseline.vaccines.update" in run(patient()).ids
    assert "baseline.vaccines.update" not in run(patient(therapies=(episode("baricitinib", 100, 2),))).ids


def test_baseline_checklist_shows_value_window_and_drug_threshold() -> None:
    items = {i.key: i for i in run(patient(), (start_order("tofacitinib", 5, 2),)).baseline}
    cbc = items["cbc"]
    assert cbc.status == "met" and cbc.when is not None and "90 days" in cbc.label
    assert cbc.threshold is not None and "Hemoglobin < 9" in cbc.threshold


def tb_screening_line(drug: str, dose_mg: float, per_day: int) -> ChecklistItem:
    record = with_qual(patient(), "tb_igra", "positive")
    items = {i.key: i for i in run(record, (start_order(drug, dose_mg, per_day),)).baseline}
    return items["tb_screening"]


def test_baseline_tb_line_failing_on_an_unverified_tb_rule_is_unverified() -> None:
    line = tb_screening_line("deuruxolitinib", 8, 2)  # deuruxolitinib's TB rule is unverified policy
    assert (line.status, line.verified) == ("not-met", False)


def test_baseline_tb_line_failing_on_a_verified_tb_rule_is_verified() -> None:
    line = tb_screening_line("baricitinib", 2, 1)
    assert (line.status, line.verified) == ("not-met", True)


def test_baseline_cbc_line_showing_an_unverified_threshold_is_unverified() -> None:
    items = {i.key: i for i in run(patient(), (start_order("abrocitinib", 100),)).baseline}
    assert items["cbc"].status == "met" and items["cbc"].verified is False
    assert items["liver_enzymes"].verified is True
