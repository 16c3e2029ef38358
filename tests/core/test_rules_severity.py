"""Step 1: severity (SALT >= 50 or AT/AU), stale and missing SALT."""

from __future__ import annotations

from dataclasses import replace

from rules_builders import AS_OF, KNOWLEDGE, ago, episode, patient, run, salt, start_order

from clinical_core.evaluate import build_context
from clinical_core.findings import ActionKind, Assessment, Severity
from clinical_core.record import Diagnosis
from clinical_core.rules.common import has_totalis_or_universalis

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


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


# --- AT/AU documented before a JAK inhibitor describes the disease before treatment ------------------


def universalis(active: bool, onset_days_ago: int | None, recorded_days_ago: int) -> Diagnosis:
    onset = ago(onset_days_ago) if onset_days_ago is not None else None
    return Diagnosis("universalis", "L63.1", ICD10CM, onset, ago(recorded_days_ago), active, "Condition/au")


def switching_to_baricitinib_4mg(diagnosis: Diagnosis) -> Assessment:
    """On ritlecitinib for 200 days with regrowth to SALT 10; a switch to baricitinib 4 mg is proposed."""
    record = patient(
        diagnoses=(diagnosis,),
        salt_scores=(salt(30, days_ago=210), salt(10, days_ago=5)),
        therapies=(episode("ritlecitinib", 200, 50),),
    )
    return run(record, (start_order("baricitinib", 4),))


def test_resolved_universalis_before_the_jak_start_still_counts_on_a_switch() -> None:
    assessment = switching_to_baricitinib_4mg(
        universalis(active=False, onset_days_ago=400, recorded_days_ago=400)
    )
    assert {"severity.severe", "severity.near_total_loss"} <= assessment.ids
    assert "agent.dose.baricitinib_start" not in assessment.ids  # near-total loss supports 4 mg
    severity = next(i for i in assessment.eligibility if i.key == "severity")
    assert severity.status == "met"


def test_severe_on_a_switch_cites_the_resolved_universalis_diagnosis_as_evidence() -> None:
    assessment = switching_to_baricitinib_4mg(
        universalis(active=False, onset_days_ago=400, recorded_days_ago=400)
    )
    finding = assessment.by_id("severity.severe")
    assert finding is not None
    assert [e.reference for e in finding.evidence if e.label == "Diagnosis"] == ["Condition/au"]


def test_universalis_recorded_after_as_of_is_not_evidence_below_the_threshold() -> None:
    later = universalis(active=True, onset_days_ago=None, recorded_days_ago=-10)
    finding = run(patient(diagnoses=(later,), salt_scores=(salt(30),))).by_id("severity.below_threshold")
    assert finding is not None and all(e.label != "Diagnosis" for e in finding.evidence)


def test_universalis_resolved_but_first_documented_after_the_jak_start_does_not_count() -> None:
    assessment = switching_to_baricitinib_4mg(
        universalis(active=False, onset_days_ago=100, recorded_days_ago=100)
    )
    assert "severity.below_threshold" in assessment.ids
    assert not {"severity.severe", "severity.near_total_loss"} & assessment.ids
    assert "agent.dose.baricitinib_start" in assessment.ids


def test_resolved_universalis_before_the_start_counts_while_on_therapy() -> None:
    record = patient(
        diagnoses=(universalis(active=False, onset_days_ago=None, recorded_days_ago=400),),
        therapies=(episode("ritlecitinib", 200, 50),),
    )
    assert has_totalis_or_universalis(build_context(record, AS_OF, KNOWLEDGE, ()))


def test_universalis_recorded_after_as_of_without_onset_does_not_count() -> None:
    later = universalis(active=True, onset_days_ago=None, recorded_days_ago=-10)
    ids = run(patient(diagnoses=(later,), salt_scores=(salt(30),))).ids
    assert "severity.below_threshold" in ids and "severity.severe" not in ids
    # The same diagnosis recorded before as_of counts.
    earlier = replace(later, recorded=AS_OF)
    assert "severity.severe" in run(patient(diagnoses=(earlier,), salt_scores=(salt(30),))).ids


def test_near_total_loss_not_suggested_for_a_ritlecitinib_order() -> None:
    record = patient(age=40, salt_scores=(salt(98),))
    assert "severity.near_total_loss" not in run(record, (start_order("ritlecitinib", 50),)).ids


def test_near_total_loss_not_suggested_to_a_child_of_12() -> None:
    assert "severity.near_total_loss" not in run(patient(age=12, salt_scores=(salt(98),))).ids


def test_near_total_loss_not_suggested_when_age_unknown() -> None:
    assert "severity.near_total_loss" not in run(patient(age=None, salt_scores=(salt(98),))).ids


def test_near_total_loss_names_baricitinib_for_an_adult_candidate() -> None:
    finding = run(patient(age=40, salt_scores=(salt(98),))).by_id("severity.near_total_loss")
    assert finding is not None and finding.drug == "baricitinib"
    assert "baricitinib 4 mg start may be considered" in finding.summary
