"""Step 2: prior conventional therapy, per step_therapy_mode (advisory | required | off)."""

from __future__ import annotations

from rules_builders import KNOWLEDGE, patient, run
from tests_core_modes import knowledge_with_mode

from clinical_core import evaluate
from clinical_core.findings import Severity


def test_prior_therapy_documented_lists_the_therapy() -> None:
    finding = run(patient()).by_id("prior_therapy.documented")
    assert finding is not None and "intralesional corticosteroid" in finding.summary


def test_advisory_mode_none_documented_is_info_and_does_not_block() -> None:
    assessment = run(patient(prior_therapies=()))
    finding = assessment.by_id("prior_therapy.none_documented")
    assert finding is not None and finding.severity == Severity.INFO
    assert assessment.status == "eligible"


def test_required_mode_none_documented_is_a_warning_and_fails_eligibility() -> None:
    from rules_builders import AS_OF

    assessment = evaluate(patient(prior_therapies=()), AS_OF, knowledge_with_mode("required"))
    finding = assessment.by_id("prior_therapy.none_documented")
    assert finding is not None and finding.severity == Severity.WARNING
    assert assessment.status == "not-eligible"


def test_step_therapy_off_mode_is_silent() -> None:
    from rules_builders import AS_OF

    k = knowledge_with_mode("off")
    for record in (patient(prior_therapies=()), patient()):
        ids = evaluate(record, AS_OF, k).ids
        assert not any(i.startswith("prior_therapy.") for i in ids)
    assert KNOWLEDGE.parameters.step_therapy_mode.value == "advisory"
