"""The scenario matrix: every synthetic patient gives the findings its sidecar expects.

Each `synthetic_patients/<name>.json` is a transaction Bundle written against
`ANCHOR_DATE`; `<name>.expected.json` says which finding ids must and must not
appear on that day, the assessment status, the drug, and which entries are draft
orders (passed as proposed orders, not as record data). A failure here is a rule
bug or a wrong expectation: settle it against docs/reference/clinical.md,
never by editing the sidecar to match the output.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from clinical_core import Assessment, build_record, evaluate, load_knowledge, proposed_orders
from clinical_core.anchoring import ANCHOR_DATE, reanchor
from clinical_core.bundles import split_drafts

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = ROOT / "synthetic_patients"
CATALOGUE = ROOT / "clinical_core" / "findings.md"
SCENARIO_DOCS = ROOT / "docs" / "scenarios.md"
PATIENT_ID_SYSTEM = "urn:aa-jak:synthetic-patient"
SIDECAR_KEYS = {"description", "must", "must_not", "status", "drug", "draft_orders"}
STATUSES = {"not-applicable", "not-eligible", "eligible", "undetermined", "on-therapy"}
MONITORING_ID = re.compile(r"monitoring\.[a-z0-9_]+\.(due|overdue)")

SCENARIOS = sorted(
    p.name.removesuffix(".json") for p in PATIENTS.glob("*.json") if not p.name.endswith(".expected.json")
)


def _bundle(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PATIENTS / f"{name}.json").read_text(encoding="utf-8"))
    return data


@cache
def _expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PATIENTS / f"{name}.expected.json").read_text(encoding="utf-8"))
    return data


def assess(name: str, as_of: date, bundle: dict[str, Any] | None = None) -> Assessment:
    expected = _expected(name)
    record_resources, draft_resources = split_drafts(
        bundle or _bundle(name), expected.get("draft_orders", [])
    )
    record = build_record(record_resources)
    orders = proposed_orders(draft_resources, context_resources=record_resources)
    return evaluate(record, as_of, load_knowledge(), proposed=orders)


def _describe(assessment: Assessment) -> str:
    return f"status={assessment.status} drug={assessment.drug} ids={sorted(assessment.ids)}"


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_gives_the_expected_findings(name: str) -> None:
    expected = _expected(name)
    assessment = assess(name, ANCHOR_DATE)
    ids = set(assessment.ids)
    missing = sorted(set(expected["must"]) - ids)
    unexpected = sorted(set(expected["must_not"]) & ids)
    problems = []
    if missing:
        problems.append(f"missing {missing}")
    if unexpected:
        problems.append(f"unexpected {unexpected}")
    if assessment.status != expected["status"]:
        problems.append(f"status {assessment.status!r} != {expected['status']!r}")
    if "drug" in expected and assessment.drug != expected["drug"]:
        problems.append(f"drug {assessment.drug!r} != {expected['drug']!r}")
    assert not problems, (
        f"{name}: {'; '.join(problems)}\n  got {_describe(assessment)}\n  {expected['description']}"
    )


@pytest.mark.parametrize("name", SCENARIOS)
# Shifting by days keeps ages exact unless a 29 February falls in one of the two spans and
# not the other (then a birthday moves by one day): -400 would turn the 65th birthday of
# boxed_warning_age_65_today into a 64-year-old. These offsets keep every scenario exact.
@pytest.mark.parametrize("offset", [137, -300], ids=["later", "earlier"])
def test_reanchored_scenario_gives_the_same_findings_on_its_new_day(name: str, offset: int) -> None:
    there = ANCHOR_DATE + timedelta(days=offset)
    at_anchor = assess(name, ANCHOR_DATE)
    moved = assess(name, there, reanchor(_bundle(name), there))
    assert (sorted(moved.ids), moved.status, moved.drug) == (
        sorted(at_anchor.ids),
        at_anchor.status,
        at_anchor.drug,
    )


# --- The files themselves -----------------------------------------------------------------------


@cache
def _catalogue_ids() -> frozenset[str]:
    text = CATALOGUE.read_text(encoding="utf-8")
    return frozenset(re.findall(r"^\| `([a-z0-9_.]+)` \|", text, flags=re.MULTILINE))


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 24


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_resource_validates_as_fhir_r4b(name: str) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    bundle = _bundle(name)
    get_fhir_model_class("Bundle").model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


@pytest.mark.parametrize("name", SCENARIOS)
def test_bundle_is_a_self_contained_transaction(name: str) -> None:
    bundle = _bundle(name)
    assert bundle["type"] == "transaction"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))
    for entry in bundle["entry"]:
        assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", entry["fullUrl"])
        assert entry["request"] == {"method": "POST", "url": entry["resource"]["resourceType"]}
        assert "id" not in entry["resource"]
    references = re.findall(r'"reference": "(urn:uuid:[^"]+)"', json.dumps(bundle))
    assert references and set(references) <= set(urls)
    patients = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert len(patients) == 1
    assert {"system": PATIENT_ID_SYSTEM, "value": name} in patients[0]["identifier"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_sidecar_uses_catalogue_ids_and_names_real_draft_orders(name: str) -> None:
    expected = _expected(name)
    assert set(expected) <= SIDECAR_KEYS
    assert {"description", "must", "must_not", "status"} <= set(expected)
    assert expected["status"] in STATUSES
    assert not set(expected["must"]) & set(expected["must_not"])
    for finding_id in [*expected["must"], *expected["must_not"]]:
        assert finding_id in _catalogue_ids() or MONITORING_ID.fullmatch(finding_id), finding_id
    urls = {e["fullUrl"] for e in _bundle(name)["entry"]}
    assert set(expected.get("draft_orders", [])) <= urls


def test_every_catalogue_finding_has_a_positive_and_a_negative_scenario() -> None:
    """Each rule is shown firing somewhere and shown not firing where it nearly could."""
    must: set[str] = set()
    must_not: set[str] = set()
    for name in SCENARIOS:
        if _expected(name)["status"] == "not-applicable":
            continue  # "nothing at all" is not a meaningful negative for any one rule
        must.update(_expected(name)["must"])
        must_not.update(_expected(name)["must_not"])
    assert sorted(_catalogue_ids() - must) == []
    assert sorted(_catalogue_ids() - must_not) == []


def test_every_scenario_is_in_the_scenario_docs() -> None:
    text = SCENARIO_DOCS.read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.MULTILINE))
    assert listed == set(SCENARIOS)


def test_generated_files_are_in_sync_with_the_generator() -> None:
    spec = importlib.util.spec_from_file_location("make_scenarios", PATIENTS / "make_scenarios.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    assert module.ANCHOR == ANCHOR_DATE
    assert module.main(["--check"]) == 0, (
        "run .venv/bin/python synthetic_patients/make_scenarios.py and review the diff"
    )
