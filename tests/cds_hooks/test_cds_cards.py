"""Checklist D2-D7, A6 on rendered cards; every emitted FHIR resource validates (fhir.resources R4B)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import cds_builders
import pytest
from cds_support import PATIENT, PUBLIC, draft_medication_request, hook_body, searchset
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from cds_hooks.codes import OVERRIDE_REASON_SYSTEM, override_reason_codesystem
from cds_hooks.models import SUMMARY_MAX, Action, Card, Link, Source, Suggestion, require_r4
from clinical_core.findings import Citation

PV = "/cds-services/aa-jak-patient-view"
SIGN = "/cds-services/aa-jak-order-sign"
SELECT = "/cds-services/aa-jak-order-select"


def check_card_invariants(card: dict[str, Any]) -> None:
    """D2-D7 on one wire card (also used by the scenario tests)."""
    uuid.UUID(card["uuid"])
    assert 0 < len(card["summary"]) <= SUMMARY_MAX
    assert card["indicator"] in ("info", "warning", "critical")
    # The project asks for all three on every card, and an absolute link to the source (D3, D7).
    assert card["source"]["label"] and card["source"]["topic"]["code"]
    assert card["source"]["url"].startswith(("https://", "http://"))
    assert any(link["type"] == "absolute" for link in card["links"])
    if "detail" in card:
        assert card["detail"].strip()
    if "suggestions" in card:
        assert card["selectionBehavior"] in ("at-most-one", "any")
        seen = set()
        for suggestion in card["suggestions"]:
            assert suggestion["label"]
            uuid.UUID(suggestion["uuid"])
            assert suggestion["uuid"] not in seen
            seen.add(suggestion["uuid"])
            for action in suggestion["actions"]:
                assert action["type"] in ("create", "update", "delete") and action["description"]
                if action["type"] == "delete":
                    assert "/" in action["resourceId"] and "resource" not in action
                else:
                    validate_fhir(action["resource"])
    else:
        assert "selectionBehavior" not in card
    for reason in card.get("overrideReasons", ()):
        assert reason["code"] and reason["system"] and reason["display"]
    for link in card.get("links", ()):
        assert link["label"] and link["url"].startswith(("https://", "http://"))
        assert link["type"] in ("absolute", "smart")
        if "appContext" in link:
            assert link["type"] == "smart"
            json.loads(link["appContext"])


def validate_fhir(resource: dict[str, Any]) -> None:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def all_cards(call, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = call(path, body)
    assert response.status_code == 200, response.get_json()
    cards = response.get_json()["cards"]
    for card in cards:
        check_card_invariants(card)
    return cards


# ---------------------------------------------------------------- patient-view


def test_D2_patient_view_one_card_per_concern_critical_first_info_grouped(call, engine):
    engine.assessment = cds_builders.eligible_with_gaps()
    cards = all_cards(call, PV, hook_body())
    indicators = [c["indicator"] for c in cards]
    assert indicators == sorted(indicators, key=["critical", "warning", "info"].index)
    summaries = [c["summary"] for c in cards]
    assert summaries[0].startswith("No TB") and summaries[1].startswith("No CBC")
    assert summaries[2].startswith("Eligible")  # the eligibility card stands alone
    assert len(cards) == 4
    group = cards[3]
    assert group["summary"].startswith("3 further notes")
    assert "Prior therapy" in group["detail"] and "Latest SALT" in group["detail"]


def test_D2_uuid_on_every_card_and_suggestion(call, engine):
    engine.assessment = cds_builders.eligible_with_gaps()
    cards = all_cards(call, PV, hook_body())
    uuids = [c["uuid"] for c in cards] + [s["uuid"] for c in cards for s in c.get("suggestions", ())]
    assert len(uuids) == len(set(uuids))


def test_D2_summary_longer_than_139_is_refused_by_the_model():
    with pytest.raises(ValidationError):
        Card(summary="x" * 140, indicator="info", source=Source(label="a"))


def test_D2_detail_is_the_core_markdown_and_unverified_findings_say_so(call, engine):
    engine.assessment = cds_builders.eligible_with_gaps()
    cards = all_cards(call, PV, hook_body())
    findings = {f.summary: f for f in engine.assessment.findings}
    eligibility = next(c for c in cards if c["summary"].startswith("Eligible"))
    assert eligibility["detail"] == findings[eligibility["summary"]].detail
    group = cards[-1]
    assert "Verify against current prescribing information" in group["detail"]
    tb = cards[0]
    assert "Verify against current" not in tb["detail"]


def test_D2_patient_data_cannot_inject_html_into_detail(call, engine):
    from dataclasses import replace

    from clinical_core.findings import Evidence

    assessment = cds_builders.eligible_with_gaps()
    injected = "**Evidence**\n- <script>alert(1)</script>: <b>x</b>"
    first = replace(
        assessment.findings[1],
        detail=injected,
        evidence=(Evidence("<script>alert(1)</script>", "<b>x</b>"),),
    )
    engine.assessment = replace(assessment, findings=(first,))
    (card,) = all_cards(call, PV, hook_body())
    assert "<script>" not in card["detail"] and "<b>" not in card["detail"]
    assert "&lt;script>alert(1)&lt;/script>" in card["detail"]


def test_D2_text_the_core_escaped_is_not_escaped_twice(call, engine):
    """The core writes patient `<b>` as `\\<b>`: a card must show `<b>`, not `&lt;b>`."""
    from dataclasses import replace

    from smart_app.markdown import render_markdown

    assessment = cds_builders.eligible_with_gaps()
    first = replace(assessment.findings[1], detail="- Medication: \\<b>x\\</b>; unescaped \\\\<i>")
    engine.assessment = replace(assessment, findings=(first,))
    (card,) = all_cards(call, PV, hook_body())
    assert card["detail"] == "- Medication: \\<b>x\\</b>; unescaped \\\\&lt;i>"
    assert "Medication: &lt;b&gt;x&lt;/b&gt;; unescaped \\&lt;i&gt;" in str(render_markdown(card["detail"]))


def test_D2_summaries_in_a_group_card_heading_are_literal_text(call, engine):
    from dataclasses import replace

    from smart_app.markdown import render_markdown

    assessment = cds_builders.eligible_with_gaps()
    minor = [f for f in assessment.findings if f.severity.value == "info"][-1]
    quoted = replace(minor, summary="On [x](https://evil.example) *now*")
    engine.assessment = replace(
        assessment, findings=tuple(quoted if f is minor else f for f in assessment.findings)
    )
    group = all_cards(call, PV, hook_body())[-1]
    html = str(render_markdown(group["detail"]))
    assert "<h3>On [x](https://evil.example) *now*</h3>" in html


def test_D2_comparisons_in_detail_stay_readable_as_plain_text(call, engine):
    from dataclasses import replace

    assessment = cds_builders.eligible_with_gaps()
    first = replace(
        assessment.findings[1], detail="Threshold: SALT >= 50; eGFR < 30; A & B; &amp; stays text"
    )
    engine.assessment = replace(assessment, findings=(first,))
    (card,) = all_cards(call, PV, hook_body())
    assert card["detail"].startswith("Threshold: SALT >= 50; eGFR < 30; A & B; &amp;amp; stays text")


def test_D3_source_label_absolute_url_and_topic_coding(call, engine):
    engine.assessment = cds_builders.eligible_with_gaps()
    card = all_cards(call, PV, hook_body())[0]
    assert card["source"]["url"] == "https://example.org/olumiant-pi"
    assert card["source"]["topic"]["code"] == "baseline.tb_screening.missing"
    for url in ("/relative", "https://example.org/a b", "https://example.org/pi\n"):
        with pytest.raises(ValidationError):
            Source(label="x", url=url)


def test_D3_D7_finding_without_a_cited_url_links_to_its_catalogue_entry(call, engine):
    from dataclasses import replace

    assessment = cds_builders.eligible_with_gaps()
    unlinked = replace(assessment.findings[1], citations=(Citation("S9", "Local protocol"),))
    engine.assessment = replace(assessment, findings=(unlinked,))
    (card,) = all_cards(call, PV, hook_body())
    catalogue = f"{PUBLIC}/docs/findings#baseline.tb_screening.missing"
    assert card["source"] == {
        "label": "AA-JAK clinical decision support",
        "url": catalogue,
        "topic": {
            "system": "urn:aa-jak:fhir:CodeSystem:finding",
            "code": "baseline.tb_screening.missing",
            "display": "baseline: baseline.tb_screening.missing",
        },
    }
    assert [link["url"] for link in card["links"] if link["type"] == "absolute"] == [catalogue]


def test_D3_group_card_has_a_topic_of_its_own(call, engine):
    engine.assessment = cds_builders.eligible_with_gaps()
    group = all_cards(call, PV, hook_body())[-1]
    assert group["summary"].startswith("3 further notes")
    assert group["source"]["topic"] == {
        "system": "urn:aa-jak:fhir:CodeSystem:card-topic",
        "code": "minor-findings",
        "display": "Several minor findings on one card",
    }
    assert group["source"]["url"] == "https://example.org/olumiant-pi"


def test_D3_group_card_without_cited_urls_links_to_the_whole_catalogue(call, engine):
    from dataclasses import replace

    assessment = cds_builders.eligible_with_gaps()
    uncited = tuple(replace(f, citations=()) for f in assessment.findings)
    engine.assessment = replace(assessment, findings=uncited)
    group = all_cards(call, PV, hook_body())[-1]
    assert group["source"]["url"] == f"{PUBLIC}/docs/findings"


def test_D3_finding_catalogue_is_a_public_page_with_a_row_per_finding_id(client):
    response = client.get("/docs/findings")  # no JWT: documentation, without patient data
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<tr id="baseline.tb_screening.missing">' in page
    assert 'id="monitoring.<item>.due"' not in page  # a pattern names no one finding


def test_D4_suggestions_need_selection_behavior():
    with pytest.raises(ValidationError):
        Card(summary="s", indicator="info", source=Source(label="a"), suggestions=(Suggestion(label="l"),))
    with pytest.raises(ValidationError):
        Card(
            summary="s",
            indicator="info",
            source=Source(label="a"),
            selectionBehavior="at-most-one",
            suggestions=(
                Suggestion(label="a", isRecommended=True),
                Suggestion(label="b", isRecommended=True),
            ),
        )


def test_D5_order_test_suggestion_creates_a_loinc_coded_draft_service_request(call, engine):
    engine.assessment = cds_builders.eligible_with_gaps()
    body = hook_body()
    body["context"]["encounterId"] = "enc-1"
    tb = all_cards(call, PV, body)[0]
    assert tb["selectionBehavior"] == "any"
    (action,) = tb["suggestions"][0]["actions"]
    resource = action["resource"]
    assert action["type"] == "create"
    assert resource["resourceType"] == "ServiceRequest"
    assert (resource["status"], resource["intent"]) == ("draft", "order")
    assert resource["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "71773-6",
        "display": "M. tuberculosis IGRA",
    }
    assert resource["subject"] == {"reference": f"Patient/{PATIENT}"}
    assert resource["encounter"] == {"reference": "Encounter/enc-1"}
    assert resource["requester"] == {"reference": "Practitioner/doc-1"}


def test_D5_change_dose_on_active_order_creates_a_replacement_draft(call, engine):
    engine.assessment = cds_builders.on_therapy()
    body = hook_body()
    active = draft_medication_request("mr-1", dose_mg=2) | {"status": "active"}
    body["prefetch"]["medicationRequests"] = searchset([active])
    cards = all_cards(call, PV, body)
    assert [c["indicator"] for c in cards] == ["critical", "warning", "warning"]
    dose = next(c for c in cards if "consider 4 mg" in c["summary"])
    (action,) = dose["suggestions"][0]["actions"]
    assert action["type"] == "create"
    new = action["resource"]
    assert new["status"] == "draft" and new["priorPrescription"] == {"reference": "MedicationRequest/mr-1"}
    assert new["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 4
    assert new["dosageInstruction"][0]["route"] == {"text": "oral"}
    assert new["medicationCodeableConcept"] == active["medicationCodeableConcept"]


def test_D5_change_dose_on_a_draft_updates_the_whole_draft(call, engine):
    engine.assessment, engine.orders = cds_builders.hard_stop_at_sign()
    body = hook_body("order-sign")
    cards = all_cards(call, SIGN, body)
    dose_card = next(c for c in cards if "label starts at 2 mg" in c["summary"])
    (action,) = dose_card["suggestions"][0]["actions"]
    assert action["type"] == "update"
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    updated = action["resource"]
    assert {k: v for k, v in updated.items() if k != "dosageInstruction"} == {
        k: v for k, v in draft.items() if k != "dosageInstruction"
    }
    dosage = updated["dosageInstruction"][0]
    assert dosage["text"] == "2 mg once daily"
    assert dosage["timing"]["repeat"] == {"frequency": 1, "period": 1, "periodUnit": "d"}


INVALID_DRAFTS = {
    "null value": {"authoredOn": None},
    "null required value": {"subject": None},
    "empty array": {"note": []},
    "invalid R4": {"medicationCodeableConcept": {"coding": [{"code": 1}]}},
}


@pytest.mark.parametrize("change", INVALID_DRAFTS.values(), ids=INVALID_DRAFTS)
def test_D5_change_dose_on_a_draft_that_is_not_valid_r4_keeps_the_card_without_the_update(
    call, engine, change
):
    engine.assessment, engine.orders = cds_builders.hard_stop_at_sign()
    body = hook_body("order-sign")
    body["context"]["draftOrders"]["entry"][0]["resource"].update(change)
    cards = all_cards(call, SIGN, body)
    dose_card = next(c for c in cards if "label starts at 2 mg" in c["summary"])
    assert "suggestions" not in dose_card and "selectionBehavior" not in dose_card


def test_D5_replacement_draft_from_a_current_order_that_is_not_valid_r4_is_not_offered(call, engine):
    engine.assessment = cds_builders.on_therapy()
    body = hook_body()
    active = draft_medication_request("mr-1", dose_mg=2) | {"status": "active"}
    active["dosageInstruction"][0]["route"] = {"text": 1}  # copied into the new dosage
    body["prefetch"]["medicationRequests"] = searchset([active])
    cards = all_cards(call, PV, body)
    dose = next(c for c in cards if "consider 4 mg" in c["summary"])
    assert "suggestions" not in dose


def test_D5_hard_stop_at_order_sign_is_critical_with_remove_suggestion(call, engine):
    engine.assessment, engine.orders = cds_builders.hard_stop_at_sign()
    cards = all_cards(call, SIGN, hook_body("order-sign"))
    first = cards[0]
    assert first["indicator"] == "critical" and first["summary"].startswith("Positive IGRA")
    assert first["selectionBehavior"] == "at-most-one"
    (action,) = first["suggestions"][0]["actions"]
    assert action == {
        "type": "delete",
        "description": "Remove this draft order (MedicationRequest/draft-1)",
        "resourceId": "MedicationRequest/draft-1",
    }
    # order hooks leave monitoring reminders to patient-view
    assert not any("CBC due" in c["summary"] for c in cards)


def test_D5_live_vaccine_order_during_therapy_suggests_removal(call, engine):
    engine.assessment, engine.orders = cds_builders.live_vaccine_during_therapy()
    body = hook_body("order-sign")
    vaccine = {
        "resourceType": "MedicationRequest",
        "id": "vax-1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "medicationCodeableConcept": {"text": "MMRV vaccine"},
    }
    body["context"]["draftOrders"]["entry"] = [{"resource": vaccine}]
    (card,) = all_cards(call, SIGN, body)
    assert card["indicator"] == "critical"
    assert card["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/vax-1"


def test_D5_order_select_without_relevant_orders_gives_no_cards(call, engine):
    engine.assessment = cds_builders.eligible_with_gaps()
    engine.orders = ()
    assert call(SELECT, hook_body("order-select")).get_json() == {"cards": []}


def test_D5_action_shapes_are_enforced():
    with pytest.raises(ValidationError):
        Action(type="delete", description="d")
    with pytest.raises(ValidationError):
        Action(type="create", description="d", resource={"id": "x"})


@pytest.mark.parametrize("resource_id", ["draft-1", "MedicationRequest/ü é", "MedicationRequest/d\n", "a/b"])
def test_D5_delete_names_its_resource_as_type_and_fhir_id(resource_id):
    with pytest.raises(ValidationError):
        Action(type="delete", description="d", resourceId=resource_id)


EMPTY_VALUES = {k: v for k, v in INVALID_DRAFTS.items() if k != "invalid R4"}


@pytest.mark.parametrize("change", EMPTY_VALUES.values(), ids=EMPTY_VALUES)
def test_D5_action_resources_have_no_null_or_empty_values(change):
    with pytest.raises(ValidationError):
        Action(type="update", description="d", resource=draft_medication_request() | change)


@pytest.mark.parametrize(
    "change", [INVALID_DRAFTS["invalid R4"], {"resourceType": "NoSuchResource"}], ids=["invalid", "unknown"]
)
def test_D5_a_resource_built_from_request_data_must_be_valid_r4(change):
    with pytest.raises(ValueError):
        require_r4(draft_medication_request() | change)


def test_D6_override_reasons_are_coded_with_display(call, engine):
    engine.assessment, engine.orders = cds_builders.hard_stop_at_sign()
    cards = all_cards(call, SIGN, hook_body("order-sign"))
    reasons = cards[0]["overrideReasons"]
    assert {r["system"] for r in reasons} == {OVERRIDE_REASON_SYSTEM}
    assert all(r["display"] for r in reasons)


def test_D6_override_reason_code_system_is_valid_fhir():
    codesystem = override_reason_codesystem()
    validate_fhir(codesystem)
    assert codesystem["url"] == OVERRIDE_REASON_SYSTEM


def test_D6_info_cards_carry_no_override_reasons(call, engine):
    engine.assessment = cds_builders.eligible_with_gaps()
    cards = all_cards(call, PV, hook_body())
    assert all("overrideReasons" not in c for c in cards if c["indicator"] == "info")


def test_D7_smart_link_launches_the_app_focused_on_the_finding(call, engine):
    engine.assessment = cds_builders.eligible_with_gaps()
    cards = all_cards(call, PV, hook_body())
    smart = next(link for link in cards[0]["links"] if link["type"] == "smart")
    assert smart["url"] == f"{PUBLIC}/app/launch"
    assert json.loads(smart["appContext"]) == {"focus": "baseline.tb_screening.missing"}
    absolute = next(link for link in cards[0]["links"] if link["type"] == "absolute")
    assert absolute["url"] == "https://example.org/olumiant-pi"
    group_context = json.loads(next(lk for lk in cards[-1]["links"] if lk["type"] == "smart")["appContext"])
    assert group_context["action"] == "record-salt" and len(group_context["findings"]) == 3


def test_D7_app_context_only_on_smart_links():
    with pytest.raises(ValidationError):
        Link(label="x", url="https://x.example", type="absolute", appContext="{}")


def test_A6_empty_optional_values_are_refused_by_the_models():
    with pytest.raises(ValidationError):
        Card(summary="s", indicator="info", source=Source(label="a"), links=())
    with pytest.raises(ValidationError):
        Source(label="")
