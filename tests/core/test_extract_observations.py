"""build_record: lab Observations, qualitative results, CYP2C9, SALT and smoking status."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir_builders import AA_SEVERITY, LOINC, SNOMED, UCUM, concept, observation, patient

from clinical_core import build_record, load_knowledge
from clinical_core.record import PatientRecord

KNOWLEDGE = load_knowledge()
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def record(*resources: dict[str, Any]) -> PatientRecord:
    return build_record([patient(), *resources], KNOWLEDGE)


# --- quantitative labs ------------------------------------------------------------------


def test_alc_in_10e9_per_litre_is_converted_to_cells_per_mm3() -> None:
    rec = record(observation("731-0", 0.4, "10*9/L", "2026-01-02T08:30:00-05:00", id="alc"))
    [lab] = rec.labs
    assert (lab.test, lab.value, lab.when, lab.reference) == (
        "alc",
        400.0,
        date(2026, 1, 2),
        "Observation/alc",
    )
    assert lab.original == "0.4 10*9/L"


def test_ucum_code_is_preferred_to_the_printed_unit() -> None:
    obs = observation("777-3", 150, None, "2026-01-02")
    obs["valueQuantity"] = {
        "value": 150,
        "unit": "thousand per microlitre",
        "system": UCUM,
        "code": "10*3/uL",
    }
    assert record(obs).labs[0].value == 150000.0


def test_printed_unit_is_used_when_the_ucum_code_is_absent() -> None:
    obs = observation("718-7", 135, None, "2026-01-02")
    obs["valueQuantity"] = {"value": 135, "unit": "g/L"}
    assert record(obs).labs[0].value == 13.5


def test_unknown_unit_becomes_uninterpretable_not_dropped() -> None:
    rec = record(observation("731-0", 1.2, "cells/hpf", "2026-01-02", id="odd"))
    assert rec.labs == ()
    [problem] = rec.uninterpretable
    assert problem.reference == "Observation/odd"
    assert "731-0" in problem.what
    assert "cells/hpf" in problem.why and "cells/mm3" in problem.why


def test_missing_unit_becomes_uninterpretable() -> None:
    rec = record(observation("751-8", 1.5, None, "2026-01-02"))
    assert rec.labs == ()
    assert rec.uninterpretable[0].why == "no unit"


def test_non_numeric_value_becomes_uninterpretable() -> None:
    obs = observation("777-3", None, None, "2026-01-02", valueQuantity={"value": "lots", "unit": "10*3/uL"})
    rec = record(obs)
    assert rec.labs == () and "not a finite number" in rec.uninterpretable[0].why


def test_egfr_reported_as_greater_than_60_is_read_as_its_lower_bound() -> None:
    obs = observation("98979-8", 60, "mL/min/{1.73_m2}", "2026-01-02")
    obs["valueQuantity"]["comparator"] = ">"
    rec = record(obs)
    found = [(lab.test, lab.value, lab.original) for lab in rec.labs]
    assert found == [("egfr", 60.0, ">60 mL/min/{1.73_m2}")]
    assert rec.uninterpretable == ()


def test_value_with_an_upper_bound_comparator_becomes_uninterpretable() -> None:
    obs = observation("731-0", 0.5, "10*3/uL", "2026-01-02")
    obs["valueQuantity"]["comparator"] = "<"
    rec = record(obs)
    assert rec.labs == ()
    assert "bound" in rec.uninterpretable[0].why


def test_lab_without_value_names_the_data_absent_reason() -> None:
    obs = observation("731-0", None, None, "2026-01-02", dataAbsentReason={"text": "Sample hemolysed"})
    assert "Sample hemolysed" in record(obs).uninterpretable[0].why


def test_interpretation_code_is_kept_on_the_lab_result() -> None:
    obs = observation("1742-6", 150, "U/L", "2026-01-02", interpretation=[concept(V3, "H")])
    assert record(obs).labs[0].interpretation == "H"


def test_quantitative_hcg_is_a_lab_result_in_miu_per_ml() -> None:
    [lab] = record(observation("21198-7", 12, "IU/L", "2026-01-02")).labs
    assert (lab.test, lab.value) == ("hcg_quantitative", 12.0)


def test_unrelated_observation_is_ignored_silently() -> None:
    rec = record(observation("8302-2", 170, "cm", "2026-01-02"), observation(None, 1, "x", None, status=None))
    assert rec.labs == () and rec.uninterpretable == ()


# --- statuses and dates -------------------------------------------------------------------


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled", "preliminary", "registered"])
def test_entered_in_error_observation_is_excluded(status: str) -> None:
    rec = record(observation("731-0", 0.4, "10*3/uL", "2026-01-02", status=status))
    assert rec.labs == () and rec.uninterpretable == ()


@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_final_amended_and_corrected_observations_are_read(status: str) -> None:
    assert len(record(observation("731-0", 0.4, "10*3/uL", "2026-01-02", status=status)).labs) == 1


def test_observation_with_unknown_status_is_reported() -> None:
    rec = record(observation("731-0", 0.4, "10*3/uL", "2026-01-02", status="unknown"))
    assert rec.labs == () and "status" in rec.uninterpretable[0].what


def test_observation_date_falls_back_to_period_start_then_issued() -> None:
    by_period = observation("731-0", 0.4, "10*3/uL", None, effectivePeriod={"start": "2025-11-03"})
    by_issued = observation("751-8", 2.0, "10*3/uL", None, issued="2025-11-04T10:00:00Z")
    rec = record(by_period, by_issued)
    assert [lab.when for lab in rec.labs] == [date(2025, 11, 3), date(2025, 11, 4)]


def test_observation_without_any_date_becomes_uninterpretable() -> None:
    rec = record(observation("731-0", 0.4, "10*3/uL", None))
    assert rec.labs == () and "date" in rec.uninterpretable[0].what


def test_labs_are_sorted_oldest_first_whatever_the_input_order() -> None:
    rec = record(
        observation("731-0", 1.0, "10*3/uL", "2026-03-01"),
        observation("731-0", 2.0, "10*3/uL", "2024-03-01"),
        observation("731-0", 3.0, "10*3/uL", "2025-03-01"),
    )
    assert [lab.value for lab in rec.lab_series("alc")] == [2000.0, 3000.0, 1000.0]


# --- panels and components -----------------------------------------------------------


def test_cbc_panel_components_become_lab_results() -> None:
    panel = observation("58410-2", None, None, "2026-02-01", id="cbc")
    panel["component"] = [
        {"code": concept(LOINC, "731-0"), "valueQuantity": {"value": 0.45, "code": "10*3/uL"}},
        {"code": concept(LOINC, "777-3"), "valueQuantity": {"value": 210, "code": "10*3/uL"}},
        {
            "code": concept(LOINC, "789-8"),
            "valueQuantity": {"value": 4.5, "code": "10*6/uL"},
        },  # RBC, not read
    ]
    rec = record(panel)
    assert {(lab.test, lab.value, lab.reference) for lab in rec.labs} == {
        ("alc", 450.0, "Observation/cbc"),
        ("platelets", 210000.0, "Observation/cbc"),
    }
    assert rec.uninterpretable == ()


def test_component_with_unknown_unit_becomes_uninterpretable() -> None:
    panel = observation("58410-2", None, None, "2026-02-01")
    panel["component"] = [{"code": concept(LOINC, "751-8"), "valueQuantity": {"value": 3, "unit": "per hpf"}}]
    rec = record(panel)
    assert rec.labs == () and "component" in rec.uninterpretable[0].what


# --- qualitative results ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (concept(SNOMED, "10828004", "Positive"), "positive"),
        (concept(SNOMED, "260385009", "Negative"), "negative"),
        (concept(LOINC, "LA11884-6", "Indeterminate"), "indeterminate"),
        ({"text": "Not detected"}, "negative"),
        ({"text": "Non-reactive"}, "negative"),
        ({"text": "REACTIVE"}, "positive"),
        ({"text": "Equivocal"}, "indeterminate"),
        ("Negative", "negative"),
        ("detected", "positive"),
        (True, "positive"),
        (False, "negative"),
    ],
)
def test_qualitative_result_is_read_from_code_text_string_or_boolean(value: Any, expected: str) -> None:
    [result] = record(observation("71773-6", value, None, "2026-01-05")).qualitative
    assert (result.test, result.result) == ("tb_igra", expected)


def test_qualitative_result_falls_back_to_the_interpretation() -> None:
    obs = observation("5196-1", None, None, "2026-01-05", interpretation=[concept(V3, "NEG")])
    [result] = record(obs).qualitative
    assert (result.test, result.result) == ("hbsag", "negative")


def test_unrecognised_qualitative_text_becomes_uninterpretable() -> None:
    rec = record(observation("13955-0", "see scanned report", None, "2026-01-05"))
    assert rec.qualitative == () and "see scanned report" in rec.uninterpretable[0].why


def test_contradictory_qualitative_text_becomes_uninterpretable() -> None:
    rec = record(observation("13955-0", "positive control ok, sample negative", None, "2026-01-05"))
    assert rec.qualitative == () and "contradictory" in rec.uninterpretable[0].why


def test_igra_panel_reads_its_interpretation_component() -> None:
    panel = observation("71775-1", None, None, "2026-01-05")
    panel["component"] = [
        {"code": concept(LOINC, "71776-9"), "valueQuantity": {"value": 0.05, "unit": "IU/mL"}},
        {"code": concept(LOINC, "71773-6"), "valueCodeableConcept": concept(SNOMED, "10828004", "Positive")},
    ]
    [result] = record(panel).qualitative
    assert (result.test, result.result) == ("tb_igra", "positive")


def test_pregnancy_test_is_a_qualitative_result() -> None:
    [result] = record(observation("2106-3", {"text": "Negative"}, None, "2026-01-05")).qualitative
    assert (result.test, result.result) == ("pregnancy_test", "negative")


def test_quantified_hbv_dna_counts_as_detected() -> None:
    [result] = record(observation("29615-2", 250, "[IU]/mL", "2026-01-05")).qualitative
    assert (result.test, result.result) == ("hbv_dna", "positive")


def test_hbv_dna_below_the_limit_of_quantification_is_indeterminate_not_unreadable() -> None:
    obs = observation(
        "29615-2", None, None, "2026-01-05", valueQuantity={"value": 10, "comparator": "<", "unit": "IU/mL"}
    )
    rec = record(obs)
    assert [(r.result, r.original) for r in rec.qualitative] == [("indeterminate", "<10 IU/mL")]
    assert rec.uninterpretable == ()


# --- CYP2C9 ------------------------------------------------------------------------------


def test_cyp2c9_phenotype_from_the_metabolizer_answer_code() -> None:
    obs = observation("79716-7", concept(LOINC, "LA9657-3", "Poor metabolizer"), None, "2025-05-05")
    [result] = record(obs).qualitative
    assert (result.test, result.result, result.original) == ("cyp2c9_phenotype", "poor", "Poor metabolizer")


def test_cyp2c9_phenotype_from_text() -> None:
    [result] = record(
        observation("53040-2", "CYP2C9 intermediate metabolizer", None, "2025-05-05")
    ).qualitative
    assert result.result == "intermediate"


@pytest.mark.parametrize(
    ("diplotype", "expected"),
    [
        ("CYP2C9 *3/*3", "poor"),
        ("CYP2C9 *2/*3", "poor"),
        ("CYP2C9 *1/*3", "intermediate"),
        ("CYP2C9 *1/*1", "normal"),
    ],
)
def test_cyp2c9_genotype_maps_known_diplotypes(diplotype: str, expected: str) -> None:
    [result] = record(observation("84413-4", {"text": diplotype}, None, "2025-05-05")).qualitative
    assert (result.test, result.result) == ("cyp2c9_phenotype", expected)


def test_cyp2c9_status_inferred_from_a_genotype_says_from_what() -> None:
    [result] = record(observation("84413-4", {"text": "CYP2C9 *2 / *3"}, None, "2025-05-05")).qualitative
    assert result.inferred_from == "CYP2C9 *2/*3, activity score 0.5"


def test_reported_cyp2c9_phenotype_is_not_marked_inferred() -> None:
    obs = observation("79716-7", concept(LOINC, "LA9657-3", "Poor metabolizer"), None, "2025-05-05")
    assert record(obs).qualitative[0].inferred_from is None


HGNC = "http://www.genenames.org/geneId"
GENE_STUDIED = "48018-6"


def gene_studied(hgnc_id: str, symbol: str) -> dict[str, Any]:
    return {"code": concept(LOINC, GENE_STUDIED), "valueCodeableConcept": concept(HGNC, hgnc_id, symbol)}


def test_cyp2c9_genotype_read_when_a_gene_studied_component_says_cyp2c9() -> None:
    obs = observation(
        "84413-4", {"text": "*1/*1"}, None, "2025-05-05", component=[gene_studied("HGNC:2623", "CYP2C9")]
    )
    [result] = record(obs).qualitative
    assert (result.test, result.result) == ("cyp2c9_phenotype", "normal")


def test_genotype_that_names_no_gene_is_not_read_as_cyp2c9() -> None:
    rec = record(observation("84413-4", {"text": "*1/*1"}, None, "2025-05-05"))
    assert rec.qualitative == ()
    assert "the code names no gene" in rec.uninterpretable[0].why


def test_drug_metabolism_result_for_cyp2d6_is_not_a_cyp2c9_status() -> None:
    obs = observation(
        "53040-2",
        concept(LOINC, "LA25391-6", "Normal metabolizer"),
        None,
        "2025-05-05",
        component=[gene_studied("HGNC:2625", "CYP2D6")],
    )
    rec = record(obs)
    assert rec.qualitative == () and rec.uninterpretable == ()


def test_genotype_naming_another_gene_is_not_a_cyp2c9_status() -> None:
    rec = record(observation("84413-4", {"text": "CYP2D6 *1/*4"}, None, "2025-05-05"))
    assert rec.qualitative == () and rec.uninterpretable == ()


@pytest.mark.parametrize("text", ["TPMT *1/*3A", "HLA-B*57:01"])
def test_genotype_of_a_gene_named_before_its_star_allele_is_not_a_cyp2c9_status(text: str) -> None:
    rec = record(observation("84413-4", {"text": text}, None, "2025-05-05"))
    assert rec.qualitative == () and rec.uninterpretable == ()


def test_genotype_naming_two_genes_cannot_be_read() -> None:
    obs = observation(
        "84413-4",
        {"text": "CYP2C9 *1/*1"},
        None,
        "2025-05-05",
        component=[gene_studied("HGNC:2625", "CYP2D6")],
    )
    rec = record(obs)
    assert rec.qualitative == () and "names another gene as well" in rec.uninterpretable[0].why


def test_cyp2c9_phenotype_code_needs_no_gene_statement() -> None:
    obs = observation("79716-7", concept(LOINC, "LA9657-3", "Poor metabolizer"), None, "2025-05-05")
    assert record(obs).qualitative[0].result == "poor"


def test_unmapped_cyp2c9_diplotype_becomes_uninterpretable() -> None:
    rec = record(observation("84413-4", {"text": "CYP2C9 *1/*8"}, None, "2025-05-05"))
    assert rec.qualitative == () and "*1/*8" in rec.uninterpretable[0].why


# --- SALT and smoking ------------------------------------------------------------------------


def salt(value: Any, when: str = "2026-01-10", **extra: Any) -> dict[str, Any]:
    return observation("SALT", value, "%", when, system=AA_SEVERITY, **extra)


def test_salt_score_with_regions() -> None:
    obs = salt(
        62.5,
        id="salt1",
        component=[
            {"code": concept(AA_SEVERITY, "SALT-vertex"), "valueQuantity": {"value": 80, "unit": "%"}},
            {"code": concept(AA_SEVERITY, "SALT-left"), "valueQuantity": {"value": 50, "unit": "%"}},
        ],
    )
    [score] = record(obs).salt_scores
    assert (score.value, score.when, score.reference) == (62.5, date(2026, 1, 10), "Observation/salt1")
    assert score.regions == (("vertex", 80.0), ("left", 50.0))


@pytest.mark.parametrize("value", [-1, 100.5, 250])
def test_salt_score_out_of_range_becomes_uninterpretable(value: float) -> None:
    rec = record(salt(value))
    assert rec.salt_scores == () and "0 to 100" in rec.uninterpretable[0].why


def test_aa_iga_is_ignored_for_now() -> None:
    rec = record(observation("AA-IGA", 3, "{score}", "2026-01-10", system=AA_SEVERITY))
    assert rec.salt_scores == () and rec.uninterpretable == ()


@pytest.mark.parametrize(
    ("answer", "smoker"),
    [
        (concept(SNOMED, "8517006", "Ex-smoker"), True),
        (concept(SNOMED, "449868002", "Smokes tobacco daily"), True),
        (concept(SNOMED, "266919005", "Never smoked tobacco"), False),
        ({"text": "Former smoker"}, True),
        ({"text": "Never smoker"}, False),
    ],
)
def test_smoking_status_observation(answer: dict[str, Any], smoker: bool) -> None:
    [status] = record(observation("72166-2", answer, None, "2025-01-01")).smoking
    assert status.current_or_former is smoker


def test_unknown_smoking_status_becomes_uninterpretable() -> None:
    answer = concept(SNOMED, "266927001", "Unknown if ever smoked")
    rec = record(observation("72166-2", answer, None, "2025-01-01"))
    assert rec.smoking == () and rec.uninterpretable
