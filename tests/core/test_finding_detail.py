"""A finding's markdown detail is the one explanation both front ends show."""

from __future__ import annotations

from rules_builders import patient, run, start_order, with_qual


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
