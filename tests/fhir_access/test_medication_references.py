"""`parse_medication_reference`: which Medication a reference names, and whether it is on our server."""

from __future__ import annotations

from fhir_access import MedicationReference, ReferenceKind, parse_medication_reference

BASE = "https://fhir.example.org/r4"


def _ours(mid: str) -> MedicationReference:
    return MedicationReference(ReferenceKind.SAME_SERVER, mid)


def _theirs(mid: str) -> MedicationReference:
    return MedicationReference(ReferenceKind.OTHER_SERVER, mid)


MALFORMED = MedicationReference(ReferenceKind.MALFORMED, None)


def test_relative_medication_reference_reads_the_id() -> None:
    assert parse_medication_reference("Medication/med-1.a", BASE) == _ours("med-1.a")


def test_medication_reference_with_history_version_reads_the_id() -> None:
    assert parse_medication_reference("Medication/m1/_history/3", BASE) == _ours("m1")


def test_absolute_reference_under_the_base_is_ours() -> None:
    assert parse_medication_reference(f"{BASE}/Medication/m1/_history/2", BASE) == _ours("m1")


def test_absolute_reference_is_compared_with_the_base_as_a_url_not_as_text() -> None:
    reference = "https://FHIR.example.org:443/r4/Medication/m1"
    assert parse_medication_reference(reference, f"{BASE}/") == _ours("m1")


def test_absolute_reference_on_a_server_at_the_root_is_ours() -> None:
    base = "https://fhir.example.org"
    assert parse_medication_reference(f"{base}/Medication/m1", base) == _ours("m1")


def test_absolute_reference_to_another_server_is_not_ours() -> None:
    reference = "https://elsewhere.example.net/fhir/Medication/m1"
    assert parse_medication_reference(reference, BASE) == _theirs("m1")


def test_absolute_reference_to_another_path_on_the_same_host_is_not_ours() -> None:
    reference = "https://fhir.example.org/r4-archive/Medication/m1"
    assert parse_medication_reference(reference, BASE) == _theirs("m1")


def test_absolute_reference_that_climbs_out_of_the_base_is_not_ours() -> None:
    reference = f"{BASE}/../admin/Medication/m1"
    assert parse_medication_reference(reference, BASE) == _theirs("m1")


def test_absolute_reference_without_a_base_is_not_ours() -> None:
    assert parse_medication_reference(f"{BASE}/Medication/m1", None) == _theirs("m1")


def test_relative_reference_without_a_base_is_still_ours() -> None:
    assert parse_medication_reference("Medication/m1", None) == _ours("m1")


def test_a_base_url_that_is_refused_makes_no_absolute_reference_ours() -> None:
    base = "https://user:secret@fhir.example.org/r4"
    assert parse_medication_reference(f"{base}/Medication/m1", base) == _theirs("m1")


def test_contained_reference_gives_the_local_id() -> None:
    assert parse_medication_reference("#med", BASE) == MedicationReference(ReferenceKind.CONTAINED, "med")


def test_contained_reference_without_a_valid_id_has_no_id() -> None:
    assert parse_medication_reference("#bad id!", BASE) == MedicationReference(ReferenceKind.CONTAINED, None)


def test_invalid_medication_id_is_malformed() -> None:
    assert parse_medication_reference("Medication/bad id!", BASE) == MALFORMED


def test_reference_to_another_resource_type_is_malformed() -> None:
    assert parse_medication_reference("Substance/s1", BASE) == MALFORMED


def test_relative_reference_with_a_path_before_it_is_malformed() -> None:
    assert parse_medication_reference("r4/Medication/m1", BASE) == MALFORMED


def test_absolute_reference_under_the_base_below_another_path_is_malformed() -> None:
    assert parse_medication_reference(f"{BASE}/x/Medication/m1", BASE) == MALFORMED


def test_history_without_a_version_is_malformed() -> None:
    assert parse_medication_reference("Medication/m1/_history/", BASE) == MALFORMED


def test_conditional_reference_is_malformed() -> None:
    assert parse_medication_reference("Medication?code=http://rxnorm|2047247", BASE) == MALFORMED


def test_absolute_reference_with_a_query_is_malformed() -> None:
    assert parse_medication_reference(f"{BASE}/Medication/m1?_format=json", BASE) == MALFORMED


def test_bundle_full_url_reference_is_malformed() -> None:
    reference = "urn:uuid:9a1f4c1e-7b0c-4f7e-8d55-3f3c1a0b2e11"
    assert parse_medication_reference(reference, BASE) == MALFORMED


def test_empty_reference_is_malformed() -> None:
    assert parse_medication_reference("", BASE) == MALFORMED
