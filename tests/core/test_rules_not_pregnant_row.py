"""The "Not pregnant" checklist row: which facts it rests on, and so whether it is verified.

The hCG cut-off (`hcg_positive_miu_ml`) is unverified policy; baricitinib's pregnancy fact is
verified, deuruxolitinib's is not (protocol.yaml).
"""

from __future__ import annotations

from rules_builders import patient, run, start_order, with_lab, with_qual

from clinical_core.findings import ChecklistItem
from clinical_core.record import PatientRecord

WOMAN_OF_CHILDBEARING_POTENTIAL = {"sex": "female", "age": 30}


def not_pregnant_row(record: PatientRecord, drug: str, dose_mg: float) -> ChecklistItem:
    assessment = run(record, (start_order(drug, dose_mg),))
    return next(i for i in assessment.eligibility if i.key == "pregnancy")


def test_negative_hcg_makes_the_not_pregnant_row_rest_on_the_unverified_cut_off() -> None:
    woman = patient(**WOMAN_OF_CHILDBEARING_POTENTIAL)
    row = not_pregnant_row(with_lab(woman, "hcg_quantitative", 3), "baricitinib", 2)
    assert (row.status, row.verified) == ("met", False)
    # Without an hCG result the cut-off is not read: the row rests on baricitinib's verified fact only.
    assert not_pregnant_row(woman, "baricitinib", 2).verified is True


def test_positive_hcg_hard_stop_is_unverified_because_the_cut_off_is() -> None:
    record = with_lab(patient(**WOMAN_OF_CHILDBEARING_POTENTIAL), "hcg_quantitative", 30)
    finding = run(record, (start_order("baricitinib", 2),)).by_id("baseline.pregnancy.positive")
    assert finding is not None and finding.hard_stop and finding.verified is False


def test_positive_urine_test_hard_stop_stays_verified_without_an_hcg_result() -> None:
    record = with_qual(patient(**WOMAN_OF_CHILDBEARING_POTENTIAL), "pregnancy_test", "positive")
    finding = run(record, (start_order("baricitinib", 2),)).by_id("baseline.pregnancy.positive")
    assert finding is not None and finding.verified is True


def test_woman_of_childbearing_potential_row_carries_the_drugs_unverified_pregnancy_fact() -> None:
    row = not_pregnant_row(patient(**WOMAN_OF_CHILDBEARING_POTENTIAL), "deuruxolitinib", 8)
    assert (row.status, row.verified) == ("met", False)


def test_man_row_does_not_carry_the_drugs_pregnancy_fact() -> None:
    row = not_pregnant_row(patient(sex="male", age=30), "deuruxolitinib", 8)
    assert (row.status, row.verified) == ("met", True)


def test_woman_past_the_age_band_row_does_not_carry_the_drugs_pregnancy_fact() -> None:
    row = not_pregnant_row(patient(sex="female", age=55), "deuruxolitinib", 8)
    assert (row.status, row.verified) == ("met", True)


def test_documented_pregnancy_past_the_age_band_still_rests_on_the_drugs_pregnancy_fact() -> None:
    record = with_qual(patient(sex="female", age=55), "pregnancy_test", "positive")
    row = not_pregnant_row(record, "deuruxolitinib", 8)
    assert (row.status, row.verified) == ("not-met", False)
