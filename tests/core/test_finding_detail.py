"""A finding's markdown detail is the one explanation both front ends show."""

from __future__ import annotations

from dataclasses import replace

from rules_builders import condition, episode, medication, patient, run, start_order, with_qual

from clinical_core.findings import Finding
from smart_app.markdown import render_markdown


def test_detail_lists_the_evidence_used_with_dates_and_references() -> None:
    record = with_qual(patient(), "anti_hbc", "positive")
    finding = run(record, (start_order("baricitinib", 2),)).by_id("baseline.hepatitis_b.monitor_dna")
    assert finding is not None
    assert "**Evidence**" in finding.detail
    assert "Anti-HBc: positive" in finding.detail and "Observation/anti_hbc-5" in finding.detail


def test_detail_links_each_source_by_its_id() -> None:
    record = with_qual(patient(), "anti_hbc", "positive")
    finding = run(record, (start_order("baricitinib", 2),)).by_id("baseline.hepatitis_b.monitor_dna")
    assert finding is not None
    assert "[S5: Olumiant HCP treatment considerations](https://www.olumiant.com/" in finding.detail


# --- Patient text in the detail is literal text, the knowledge file's sources stay links ------------

MALICIOUS_DISPLAY = "[click](javascript:alert(1))\n# Big"


def zoster_finding(display: str, reference: str = "Condition/herpes_zoster") -> Finding:
    """Active herpes zoster whose Condition display the EHR user typed, before a baricitinib start."""
    zoster = replace(condition("herpes_zoster", days_ago=5), display=display, reference=reference)
    finding = run(patient(conditions=(zoster,)), (start_order("baricitinib", 2),)).by_id(
        "baseline.infection.active"
    )
    assert finding is not None
    return finding


def test_condition_display_with_a_link_and_a_heading_renders_as_literal_text_in_the_app() -> None:
    html = str(render_markdown(zoster_finding(MALICIOUS_DISPLAY).detail))
    assert '<a href="javascript' not in html and "<h1>" not in html
    assert "<li>[click](javascript:alert(1)) # Big: herpes zoster (" in html


def test_condition_display_newlines_collapse_into_one_evidence_line() -> None:
    detail = zoster_finding("Herpes zoster\r\n\r\n  left flank\nT10").detail
    assert "- Herpes zoster left flank T10: herpes zoster (" in detail


def test_emphasis_code_html_autolinks_images_and_tables_from_patient_text_stay_literal() -> None:
    display = (
        "**bold** _it_ `code` <b>x</b> <https://evil.example> ![img](https://evil.example/i.png) a|b ~~s~~"
    )
    html = str(render_markdown(zoster_finding(display).detail))
    assert (
        "<li>**bold** _it_ `code` &lt;b&gt;x&lt;/b&gt; &lt;https://evil.example&gt; "
        "![img](https://evil.example/i.png) a|b ~~s~~: herpes zoster ("
    ) in html
    assert 'evil.example"' not in html  # neither a link nor an image source


def test_list_marker_at_the_start_of_patient_text_does_not_nest_a_list() -> None:
    html = str(render_markdown(zoster_finding("- 1. > zoster").detail))
    assert "<li>- 1. &gt; zoster: herpes zoster (" in html and "<ol>" not in html


def test_reference_with_backticks_stays_one_code_span() -> None:
    html = str(render_markdown(zoster_finding("Zoster", reference="Condition/a`b **c**").detail))
    assert "<code>Condition/a`b **c**</code>" in html


def test_source_citations_from_the_knowledge_file_stay_links_beside_malicious_patient_text() -> None:
    html = str(render_markdown(zoster_finding(MALICIOUS_DISPLAY).detail))
    assert '<a href="https://www.olumiant.com/hcp/dosing/treatment-considerations">' in html


def test_medication_name_quoted_in_the_eligibility_verdict_renders_as_literal_text() -> None:
    record = patient(medications=(medication(MALICIOUS_DISPLAY, "cyp2c9_inhibitor"),))
    verdict = next(f for f in run(record).findings if f.id.startswith("eligibility."))
    html = str(render_markdown(verdict.detail))
    assert "Interacting medication: [click](javascript:alert(1)) # Big" in html
    assert '<a href="javascript' not in html and "<h1>" not in html


def test_order_reference_quoted_in_monitoring_start_unknown_is_a_code_span() -> None:
    therapy = replace(
        episode("baricitinib", 100, 2), start=None, reference="MedicationRequest/[x](https://evil.example)"
    )
    finding = run(patient(therapies=(therapy,))).by_id("monitoring.start_unknown")
    assert finding is not None
    html = str(render_markdown(finding.detail))
    assert "<code>MedicationRequest/[x](https://evil.example)</code>" in html and "<a " not in html
