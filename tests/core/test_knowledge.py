"""The knowledge file loads, every cited source exists, and each drug's numbers are its own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from clinical_core.knowledge import KnowledgeError, load_knowledge
from clinical_core.knowledge.model import DEFAULT_PATH

K = load_knowledge()


def _write(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_bundled_knowledge_file_loads_with_every_section() -> None:
    assert set(K.drugs) == {
        "baricitinib",
        "ritlecitinib",
        "deuruxolitinib",
        "ruxolitinib",
        "tofacitinib",
        "upadacitinib",
        "abrocitinib",
    }
    assert K.parameters.severity_threshold_salt.value == 50
    assert K.parameters.step_therapy_mode.value == "advisory"
    assert sum(r.weight for r in K.salt.regions.items) == 100


def test_unknown_source_id_is_an_error_naming_the_key(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        raw["drugs"]["ritlecitinib"]["thresholds"]["platelets"]["sources"] = ["S99"]

    with pytest.raises(KnowledgeError, match=r"drugs\.ritlecitinib\.thresholds\.platelets\.sources.*'S99'"):
        load_knowledge(_write(tmp_path, mutate))


def test_unknown_source_in_a_value_set_is_an_error(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        raw["value_sets"]["lab.alc"]["codes"][0]["sources"] = ["NOPE"]

    with pytest.raises(KnowledgeError, match=r"value_sets\.lab\.alc.*'NOPE'"):
        load_knowledge(_write(tmp_path, mutate))


def test_unknown_key_is_an_error_naming_the_key(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        raw["drugs"]["baricitinib"]["colour"] = "blue"

    with pytest.raises(KnowledgeError, match=r"drugs\.baricitinib\.colour"):
        load_knowledge(_write(tmp_path, mutate))


def test_missing_parameter_is_an_error_naming_it(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        del raw["parameters"]["response_target_salt"]

    with pytest.raises(KnowledgeError, match=r"parameters\.response_target_salt"):
        load_knowledge(_write(tmp_path, mutate))


def test_a_gene_agnostic_code_must_name_a_gene_value_set(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        genotype = next(c for c in raw["value_sets"]["lab.cyp2c9"]["codes"] if c["code"] == "84413-4")
        genotype["gene"] = "lab.alc"

    with pytest.raises(KnowledgeError, match=r"84413-4: unknown gene value set 'lab.alc'"):
        load_knowledge(_write(tmp_path, mutate))


def test_unknown_schedule_test_is_an_error(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        raw["schedules"]["ritlecitinib"][0]["tests"] = ["alc", "cpk"]

    with pytest.raises(
        KnowledgeError, match=r"schedules\.ritlecitinib\.alc_platelets_week4: unknown test 'cpk'"
    ):
        load_knowledge(_write(tmp_path, mutate))


@pytest.mark.parametrize("name", ["escalation_review_week", "no_benefit_review_week"])
def test_review_week_outside_the_salt_review_weeks_is_an_error(tmp_path: Path, name: str) -> None:
    # response.salt.due would never ask for the SALT the rule waits for at week 16.
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        raw["parameters"][name]["value"] = 16

    with pytest.raises(
        KnowledgeError,
        match=rf"parameters\.{name}: week 16 is not among parameters\.salt_review_weeks \(\[12, 24, 36\]\)",
    ):
        load_knowledge(_write(tmp_path, mutate))


def test_shipped_review_weeks_are_among_the_salt_review_weeks() -> None:
    weeks = K.parameters.salt_review_weeks.value
    assert K.parameters.escalation_review_week.value in weeks
    assert K.parameters.no_benefit_review_week.value in weeks


def test_escalation_review_week_among_the_salt_review_weeks_loads(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        raw["parameters"]["escalation_review_week"]["value"] = 24

    assert load_knowledge(_write(tmp_path, mutate)).parameters.escalation_review_week.value == 24


def test_every_source_cited_anywhere_is_listed() -> None:
    cited = {s for vs in K.value_sets.values() for c in vs.codes for s in c.sources}
    cited |= {s for d in K.drugs.values() for t in d.thresholds.values() for s in t.sources}
    assert cited <= set(K.sources)


def test_each_drug_has_its_own_thresholds() -> None:
    t = {key: drug.thresholds for key, drug in K.drugs.items()}
    assert t["tofacitinib"]["hemoglobin"].do_not_start_below == 9
    assert t["baricitinib"]["hemoglobin"].do_not_start_below == 8
    assert t["ritlecitinib"]["platelets"].do_not_start_below == 100000
    assert t["ritlecitinib"]["platelets"].discontinue_below == 50000
    assert t["abrocitinib"]["platelets"].do_not_start_below == 150000
    assert t["abrocitinib"]["platelets"].discontinue_below == 50000
    assert "platelets" not in t["baricitinib"]
    assert "anc" not in t["ritlecitinib"]
    assert t["upadacitinib"] == {} and t["ruxolitinib"] == {}


def test_unverified_facts_stay_unverified() -> None:
    assert K.drug("deuruxolitinib").interactions[0].verified is False  # CYP2C9 contraindication
    assert all(not b.verified for b in K.drug("baricitinib").renal.bands)  # type: ignore[union-attr]
    assert K.parameters.hcg_positive_miu_ml.verified is False


def test_lab_codes_cover_the_tests_the_rules_read() -> None:
    codes = K.lab_codes()
    assert ("http://loinc.org", "731-0") in codes
    assert ("http://loinc.org", "79716-7") in codes
    assert len(codes) == len(set(codes))


def test_citations_resolve_labels_in_order_without_duplicates() -> None:
    cites = K.citations(["S8a", "S1", "S8a"])
    assert [c.id for c in cites] == ["S8a", "S1"]
    assert cites[0].url and "litfulo" in cites[0].url


def test_accessors_raise_knowledge_error_for_unknown_names() -> None:
    with pytest.raises(KnowledgeError):
        K.drug("aspirin")
    with pytest.raises(KnowledgeError):
        K.parameter("nope")
    assert K.parameter("salt_review_weeks").policy is True


def test_order_coding_is_the_first_verified_code() -> None:
    assert K.order_coding("lab.cbc_panel").code == "57021-8"
    assert K.order_coding("lab.hbv_dna").code == "29615-2"  # no verified code: the first one


def test_cyp2c9_activity_value_above_2_is_an_error_naming_the_allele(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        raw["pharmacogenomics"]["cyp2c9"]["allele_activity"]["*3"] = 3

    with pytest.raises(KnowledgeError, match=r"pharmacogenomics\.cyp2c9\.allele_activity\.\*3: .*equal to 2"):
        load_knowledge(_write(tmp_path, mutate))


def test_cyp2c9_score_between_phenotype_bands_is_an_error_naming_the_bands(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        raw["pharmacogenomics"]["cyp2c9"]["allele_activity"]["*9"] = 0.25

    with pytest.raises(
        KnowledgeError, match=r"pharmacogenomics\.cyp2c9: .*activity score 0\.75 \(\*2/\*9\) is in no band"
    ):
        load_knowledge(_write(tmp_path, mutate))


def test_overlapping_cyp2c9_phenotype_bands_are_an_error(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        raw["pharmacogenomics"]["cyp2c9"]["phenotype_bands"][1]["score_min"] = 0.5

    with pytest.raises(KnowledgeError, match=r"phenotype_bands\.1: starts at 0\.5, not after"):
        load_knowledge(_write(tmp_path, mutate))


def test_cyp2c9_mapping_is_cited_and_unverified() -> None:
    mapping = K.pharmacogenomics.cyp2c9
    assert mapping.verified is False and mapping.note and "CPIC" in mapping.note
    assert K.source("CPIC2C9").url == "https://cpicpgx.org/genes-drugs/"


# --- interaction class member names ------------------------------------------------------------


def _class_names(raw: dict, key: str) -> list:  # type: ignore[type-arg]
    return raw["value_sets"][f"medication_class.{key}"]["names"]  # type: ignore[no-any-return]


def test_only_the_confirmed_label_examples_are_verified_class_members() -> None:
    verified = {
        (key, entry.name): entry.sources
        for key, value_set in K.value_sets.items()
        if key.startswith("medication_class.")
        for entry in value_set.names
        if not isinstance(entry, str) and entry.verified
    }
    assert verified == {
        ("medication_class.strong_oat3_inhibitor", "probenecid"): ("S3", "S20"),
        ("medication_class.strong_cyp3a_inducer", "rifampin"): ("S8c",),
        ("medication_class.cyp3a4_moderate_cyp2c19_strong_inhibitor", "fluconazole"): ("S17b",),
        ("medication_class.potent_immunosuppressant", "cyclosporine"): ("S7", "S8b", "S11"),
    }


def test_class_member_name_without_its_own_verification_is_an_error(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        _class_names(raw, "cyp2c9_inhibitor")[1] = "amiodarone"

    with pytest.raises(
        KnowledgeError,
        match=r"value_sets\.medication_class\.cyp2c9_inhibitor\.names\[1\]: class member 'amiodarone' "
        r"needs its own verification",
    ):
        load_knowledge(_write(tmp_path, mutate))


def test_class_member_name_entry_without_a_verified_flag_is_an_error(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        _class_names(raw, "cyp2c9_inhibitor")[1] = {"name": "amiodarone"}

    with pytest.raises(
        KnowledgeError, match=r"medication_class\.cyp2c9_inhibitor\.names\.1\.entry\.verified: Field required"
    ):
        load_knowledge(_write(tmp_path, mutate))


def test_verified_class_member_name_without_sources_is_an_error(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        _class_names(raw, "cyp2c9_inhibitor")[1] = {"name": "amiodarone", "verified": True}

    with pytest.raises(KnowledgeError, match=r"name 'amiodarone' is verified but cites no sources"):
        load_knowledge(_write(tmp_path, mutate))


def test_unknown_source_of_a_class_member_name_is_an_error(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        _class_names(raw, "strong_oat3_inhibitor")[0]["sources"] = ["S99"]

    with pytest.raises(KnowledgeError, match=r"strong_oat3_inhibitor\.names\[0\]\.sources: .*'S99'"):
        load_knowledge(_write(tmp_path, mutate))


def test_class_member_listed_twice_is_an_error(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        _class_names(raw, "cyp2c9_inhibitor").append({"name": "Amiodarone", "verified": False})

    with pytest.raises(KnowledgeError, match=r"cyp2c9_inhibitor\.names: 'amiodarone' is listed more than"):
        load_knowledge(_write(tmp_path, mutate))


def test_product_names_outside_interaction_classes_stay_bare(tmp_path: Path) -> None:
    def mutate(raw: dict) -> None:  # type: ignore[type-arg]
        raw["value_sets"]["therapy.methotrexate"]["names"][0] = {"name": "methotrexate", "verified": False}

    with pytest.raises(KnowledgeError, match=r"therapy\.methotrexate\.names\[0\]: only medication_class"):
        load_knowledge(_write(tmp_path, mutate))
