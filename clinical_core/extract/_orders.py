"""Draft orders (CDS Hooks `draftOrders`, or the app) -> ProposedOrder."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clinical_core.extract._build import Resources, medication_concepts
from clinical_core.extract._fields import (
    CVX,
    Json,
    codings,
    concept_label,
    obj,
    objs,
    status_of,
    text,
)
from clinical_core.extract._medications import classify, dose_of, live_cvx, normalise_cvx, route_texts
from clinical_core.knowledge import Knowledge, load_knowledge
from clinical_core.record import ProposedOrder

_ORDER_TYPES = frozenset({"MedicationRequest", "Immunization", "ServiceRequest"})
_STOP_STATUSES = frozenset({"stopped", "cancelled", "revoked", "not-done"})


def _flatten(resources: Iterable[object], depth: int = 0) -> list[Json]:
    found: list[Json] = []
    for resource in resources:
        if not isinstance(resource, dict):
            continue
        if resource.get("resourceType") == "Bundle":
            if depth < 4:
                found.extend(_flatten([e.get("resource") for e in objs(resource, "entry")], depth + 1))
        else:
            found.append(resource)
    return found


def _reference(resource: Json, position: int) -> str:
    rid = resource.get("id")
    rtype = resource["resourceType"]
    return f"{rtype}/{rid}" if isinstance(rid, str) and rid else f"{rtype}/(no id, draft {position})"


def _intent(resource: Json) -> str:
    stopping = status_of(resource) in _STOP_STATUSES or resource.get("doNotPerform") is True
    return "stop" if stopping else "start"


def proposed_orders(
    draft_resources: Iterable[dict[str, Any]],
    knowledge: Knowledge | None = None,
    *,
    context_resources: Iterable[dict[str, Any]] = (),
) -> tuple[ProposedOrder, ...]:
    """The orders a clinician is about to place, as the rules read them.

    Reads MedicationRequest (kind `medication`, or `vaccine` when it carries a
    CVX code), Immunization (kind `vaccine`) and ServiceRequest (kind `other`);
    Bundles are unwrapped. Medication resources in the drafts or in
    `context_resources` resolve `medicationReference`s, as do contained ones.
    Intent is `stop` when the status is stopped, cancelled, revoked or not-done,
    or when `doNotPerform` is true (an order *not* to give the product);
    entered-in-error drafts are left out. Never raises on odd data.
    """
    chosen = knowledge if knowledge is not None else load_knowledge()
    drafts = _flatten(draft_resources)
    context = Resources([*context_resources, *(d for d in drafts if d.get("resourceType") == "Medication")])
    orders: list[ProposedOrder] = []
    for position, draft in enumerate(drafts, start=1):
        rtype = text(draft, "resourceType")
        if rtype not in _ORDER_TYPES or status_of(draft) == "entered-in-error":
            continue
        reference = _reference(draft, position)
        try:
            if rtype == "MedicationRequest":
                orders.append(_medication_order(draft, reference, chosen, context))
            elif rtype == "Immunization":
                orders.append(_immunization_order(draft, reference, chosen))
            else:
                orders.append(
                    ProposedOrder(
                        kind="other",
                        reference=reference,
                        intent=_intent(draft),
                        medication_name=concept_label(obj(draft, "code")),
                    )
                )
        except Exception:  # keep the order visible rather than lose it
            orders.append(ProposedOrder(kind="other", reference=reference, intent=_intent(draft)))
    return tuple(orders)


def _medication_order(draft: Json, reference: str, knowledge: Knowledge, context: Resources) -> ProposedOrder:
    dosages = objs(draft, "dosageInstruction")
    concepts, forms, _problem = medication_concepts(draft, context)
    concept = classify(concepts, knowledge, forms + route_texts(dosages))
    intent = _intent(draft)
    if concept.cvx is not None:
        live_code = concept.unverified_code("vaccine.live") if concept.live_vaccine else None
        return ProposedOrder(
            kind="vaccine",
            reference=reference,
            intent=intent,
            medication_name=concept.name,
            cvx=concept.cvx,
            live_vaccine=concept.live_vaccine,
            unverified_code=live_code,
        )
    dose = dose_of(dosages, concept) if concept.drug else None
    if concept.drug is not None:
        code = concept.unverified_code(f"medication.{concept.drug}")
    else:
        therapies = [f"therapy.{t}" for t in concept.therapies]
        code = concept.unverified_code(*therapies, *(f"medication_class.{c}" for c in concept.classes))
    return ProposedOrder(
        kind="medication",
        reference=reference,
        intent=intent,
        drug=concept.drug,
        dose_mg=dose.mg if dose else None,
        doses_per_day=dose.per_day if dose else None,
        medication_name=concept.name or text(obj(draft, "medicationReference"), "display"),
        interaction_classes=concept.classes if concept.drug is None else frozenset(),
        therapy=min(concept.therapies) if concept.therapies else None,
        unverified_code=code,
        unverified_classes=concept.unverified_classes() if concept.drug is None else (),
    )


def _immunization_order(draft: Json, reference: str, knowledge: Knowledge) -> ProposedOrder:
    vaccine = obj(draft, "vaccineCode")
    cvx = next((normalise_cvx(c) for s, c, _ in codings(vaccine) if s == CVX and c), None)
    live, unverified = live_cvx(cvx, knowledge) if cvx else (False, None)
    return ProposedOrder(
        kind="vaccine",
        reference=reference,
        intent=_intent(draft),
        medication_name=concept_label(vaccine),
        cvx=cvx,
        live_vaccine=live,
        unverified_code=unverified,
    )
