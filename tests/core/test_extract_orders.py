"""proposed_orders: draft orders from CDS Hooks draftOrders or the app."""

from __future__ import annotations

from typing import Any

import pytest
from fhir_builders import bundle, concept, dosage, immunization, medication, medication_request

from clinical_core import load_knowledge, proposed_orders

KNOWLEDGE = load_knowledge()
CVX = "http://hl7.org/fhir/sid/cvx"


def draft(*args: Any, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("status", "draft")
    return medication_request(*args, **kwargs)


def test_draft_jak_order_gives_drug_dose_and_frequency() -> None:
    [order] = proposed_orders(
        [draft("2047241", id="d1", dosage_instruction=dosage(4, frequency=1))], KNOWLEDGE
    )
    assert (order.kind, order.reference, order.intent) == ("medication", "MedicationRequest/d1", "start")
    assert (order.drug, order.dose_mg, order.doses_per_day) == ("baricitinib", 4.0, 1)


def test_draft_orders_bundle_is_unwrapped() -> None:
    orders = proposed_orders([bundle(draft("2641595"), draft(None, text="probenecid 500 mg"))], KNOWLEDGE)
    assert [o.drug for o in orders] == ["ritlecitinib", None]
    assert orders[1].interaction_classes == frozenset({"strong_oat3_inhibitor"})


@pytest.mark.parametrize(
    ("status", "extra"), [("stopped", {}), ("cancelled", {}), ("draft", {"doNotPerform": True})]
)
def test_stopped_cancelled_or_do_not_perform_draft_has_stop_intent(
    status: str, extra: dict[str, Any]
) -> None:
    [order] = proposed_orders([draft("2641595", status=status, **extra)], KNOWLEDGE)
    assert order.intent == "stop"


def test_entered_in_error_draft_is_left_out() -> None:
    assert proposed_orders([draft("2641595", status="entered-in-error")], KNOWLEDGE) == ()


def test_medication_reference_resolves_through_context_resources() -> None:
    order_ = draft(dosage_instruction=dosage(1, "{tablet}", frequency=1))
    del order_["medicationCodeableConcept"]
    order_["medicationReference"] = {"reference": "Medication/olu2"}
    [order] = proposed_orders([order_], KNOWLEDGE, context_resources=[medication("olu2", "2047247")])
    assert (order.drug, order.dose_mg) == ("baricitinib", 2.0)


def test_medication_in_the_drafts_resolves_a_reference_and_is_not_an_order() -> None:
    order_ = draft()
    del order_["medicationCodeableConcept"]
    order_["medicationReference"] = {"reference": "Medication/rux"}
    orders = proposed_orders([order_, medication("rux", "1193331")], KNOWLEDGE)
    assert [o.drug for o in orders] == ["ruxolitinib"]


def test_contained_medication_resolves_a_reference() -> None:
    order_ = draft(contained=[medication("m", "2716569")], medicationReference={"reference": "#m"})
    del order_["medicationCodeableConcept"]
    assert proposed_orders([order_], KNOWLEDGE)[0].drug == "deuruxolitinib"


def test_conventional_therapy_order_names_its_therapy() -> None:
    [order] = proposed_orders([draft("6851", text="methotrexate 2.5 MG Oral Tablet")], KNOWLEDGE)
    assert (order.drug, order.therapy) == (None, "methotrexate")


def test_live_vaccine_medication_request_is_a_vaccine_order() -> None:
    order_ = draft()
    order_["medicationCodeableConcept"] = concept(CVX, "21", "varicella")
    [order] = proposed_orders([order_], KNOWLEDGE)
    assert (order.kind, order.cvx, order.live_vaccine) == ("vaccine", "21", True)


def test_immunization_draft_is_a_vaccine_order() -> None:
    [live, recombinant] = proposed_orders([immunization("03"), immunization("187")], KNOWLEDGE)
    assert (live.kind, live.live_vaccine, recombinant.live_vaccine) == ("vaccine", True, False)


def test_service_request_is_an_other_order() -> None:
    service = {"resourceType": "ServiceRequest", "id": "s1", "status": "draft", "code": {"text": "CBC"}}
    [order] = proposed_orders([service], KNOWLEDGE)
    assert (order.kind, order.medication_name, order.reference) == ("other", "CBC", "ServiceRequest/s1")


def test_opzelura_draft_is_not_a_jak_order() -> None:
    [order] = proposed_orders([draft("2570752", text="Opzelura 1.5% cream")], KNOWLEDGE)
    assert order.drug is None and order.kind == "medication"


def test_draft_without_id_gets_a_positional_reference() -> None:
    order_ = draft("2641595")
    del order_["id"]
    assert proposed_orders([order_], KNOWLEDGE)[0].reference == "MedicationRequest/(no id, draft 1)"
