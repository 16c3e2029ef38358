"""Step 1: severity (SALT >= 50 or AT/AU), stale and missing SALT."""

from __future__ import annotations

from dataclasses import replace

from rules_builders import AS_OF, episode, patient, run, salt

from clinical_core.findings import ActionKind, Severity


def test_no_findings_without_alopecia_areata() -> None:
    assessment = run(patient(diagnoses=()))
    assert assessment.findings == ()
    assert assessment.status == "not-applicable"


def test_salt_missing_asks_to_record_salt() -> None:
    finding = run(patient(salt_scores=())).by_id("severity.salt.missing")
    assert finding is not None and finding.severity == Severity.WARNING
    assert finding.actions[0].kind == ActionKind.RECORD_SALT


def test_severe_when_salt_at_threshold_50() -> None:
    ids = run(patient(salt_scores=(salt(50),))).ids
    assert "severity.severe" in ids and "severity.below_threshold" not in ids


def test_below_threshold_when_salt_49() -> None:
    assessment = run(patient(salt_scores=(salt(49),)))
    assert "severity.below_threshold" in assessment.ids
    assert assessment.status == "not-eligible"


def test_brief_40_percent_is_not_severe() -> None:
    assert "severity.below_threshold" in run(patient(salt_scores=(salt(41),))).ids


def test_totalis_is_severe_and_near_total_without_salt_threshold() -> None:
    ids = run(patient(subtype="totalis", salt_scores=(salt(30),))).ids
    assert {"severity.severe", "severity.near_total_loss"} <= ids
    assert "severity.below_threshold" not in ids


def test_near_total_loss_at_95_not_at_94() -> None:
    assert "severity.near_total_loss" in run(patient(salt_scores=(salt(95),))).ids
    assert "severity.near_total_loss" not in run(patient(salt_scores=(salt(94),))).ids


def test_stale_salt_after_90_days_not_at_90() -> None:
    assert "severity.salt.stale" in run(patient(salt_scores=(salt(60, days_ago=91),))).ids
    assert "severity.salt.stale" not in run(patient(salt_scores=(salt(60, days_ago=90),))).ids


def test_stale_salt_makes_eligibility_undetermined() -> None:
    assert run(patient(salt_scores=(salt(60, days_ago=200),))).status == "undetermined"


def test_no_stale_or_severity_findings_on_therapy() -> None:
    record = patient(salt_scores=(salt(60, days_ago=300),), therapies=(episode("ritlecitinib", 200, 50),))
    ids = run(record).ids
    assert not ids & {"severity.salt.stale", "severity.severe", "severity.below_threshold"}


def test_as_of_is_the_only_clock() -> None:
    assert run(patient()).as_of == AS_OF


def test_resolved_universalis_diagnosis_does_not_make_current_disease_severe() -> None:
    # A universalis condition in remission (regrowth) and a current SALT of 30: not severe, no 4 mg start.
    record = patient(subtype="universalis", salt_scores=(salt(30),))
    resolved = replace(record, diagnoses=tuple(replace(d, active=False) for d in record.diagnoses))
    ids = run(resolved).ids
    assert "severity.below_threshold" in ids
    assert "severity.severe" not in ids and "severity.near_total_loss" not in ids
    assert "severity.severe" in run(record).ids  # the active diagnosis still counts
