"""Findings -> CDS Hooks cards (checklist D1-D7, A6).

Rendering only: which findings exist, their severity and their actions all come
from the clinical core. This module decides presentation:
- one card per finding (one concern), critical first; minor (info) findings
  grouped into one card; the eligibility finding always stands alone;
- at order-sign a hard stop is `critical` with a suggestion to remove (or
  change) the draft order, and every warning/critical card offers coded
  override reasons;
- suggestions carry FHIR resources: a draft ServiceRequest (LOINC-coded) to
  order a test, the whole draft MedicationRequest with a new dosage to change
  a dose, a `delete` of the draft to stop it. A resource built from the
  request's data that is not valid R4 (or holds a null or empty value) gives
  no suggestion; the card stays;
- source and links: every card has a `source` with label, absolute URL and
  topic, a SMART launch of the app focused on the finding, and an absolute link
  to the source: the first cited source with a URL, else the finding's entry in
  the product's finding catalogue (`cds_hooks.docs`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds_hooks.codes import MINOR_FINDINGS_TOPIC, finding_topic, override_reasons
from cds_hooks.docs import findings_url
from cds_hooks.models import (
    SUMMARY_MAX,
    Action,
    ActionType,
    Card,
    Coding,
    Indicator,
    Link,
    LinkType,
    SelectionBehavior,
    Source,
    Suggestion,
    require_r4,
)
from clinical_core.findings import Action as CoreAction
from clinical_core.findings import ActionKind, Assessment, Category, Finding, Severity
from clinical_core.record import ProposedOrder
from clinical_core.rules.common import md_text

PRODUCT_LABEL = "AA-JAK clinical decision support"
VERIFY_NOTE = "Verify against current prescribing information."
UCUM = "http://unitsofmeasure.org"
# Findings shown at order hooks only when a JAK inhibitor is being started.
_START_CATEGORIES = {Category.SEVERITY, Category.PRIOR_THERAPY, Category.BASELINE}
_PATIENT_VIEW_ONLY = {Category.MONITORING, Category.RESPONSE}


@dataclass
class RenderContext:
    hook: str
    public_base_url: str
    patient_id: str
    new_uuid: Callable[[], str]
    user_id: str | None = None
    encounter_id: str | None = None
    drafts: dict[str, dict[str, Any]] = field(default_factory=dict)  # "MedicationRequest/x" -> resource
    known: dict[str, dict[str, Any]] = field(default_factory=dict)  # record resources by reference
    proposed: tuple[ProposedOrder, ...] = ()


@dataclass(frozen=True)
class RenderedCard:
    card: Card
    finding_ids: tuple[str, ...]


def render(assessment: Assessment, ctx: RenderContext) -> list[RenderedCard]:
    findings = select_findings(assessment, ctx)
    if not findings:
        return []
    ordered = sorted(
        enumerate(findings),
        key=lambda item: (_indicator(item[1], ctx).rank, not item[1].hard_stop, item[0]),
    )
    singles: list[Finding] = []
    minor: list[Finding] = []
    for _, finding in ordered:
        is_minor = _indicator(finding, ctx) is Severity.INFO and not finding.id.startswith("eligibility.")
        (minor if is_minor else singles).append(finding)
    cards = [RenderedCard(_card(f, ctx), (f.id,)) for f in singles]
    if len(minor) == 1:
        cards.append(RenderedCard(_card(minor[0], ctx), (minor[0].id,)))
    elif minor:
        cards.append(RenderedCard(_group_card(minor, ctx), tuple(f.id for f in minor)))
    return cards


def select_findings(assessment: Assessment, ctx: RenderContext) -> list[Finding]:
    """Which findings this hook shows. Presentation only: no clinical thresholds."""
    if ctx.hook == "patient-view":
        return [] if assessment.status == "not-applicable" else list(assessment.findings)
    relevant = [o for o in ctx.proposed if _is_relevant(o)]
    if not relevant:
        return []
    starting_jak = any(o.drug and o.intent == "start" for o in relevant)
    chosen = []
    for finding in assessment.findings:
        if finding.category in _PATIENT_VIEW_ONLY and not finding.id.startswith("response.stop"):
            continue
        if not starting_jak and (
            finding.category in _START_CATEGORIES or finding.id.startswith("eligibility.")
        ):
            continue
        chosen.append(finding)
    return chosen


def _is_relevant(order: ProposedOrder) -> bool:
    return bool(order.drug or order.live_vaccine or order.interaction_classes or order.therapy)


def _indicator(finding: Finding, ctx: RenderContext) -> Severity:
    if finding.hard_stop and ctx.hook == "order-sign":
        return Severity.CRITICAL
    return finding.severity


# ---------------------------------------------------------------- cards


def _card(finding: Finding, ctx: RenderContext) -> Card:
    indicator = _indicator(finding, ctx)
    suggestions, exclusive = _suggestions(finding, ctx)
    return Card(
        uuid=ctx.new_uuid(),
        summary=finding.summary,
        detail=_detail(finding),
        indicator=Indicator(indicator.value),
        source=_source([finding], ctx, finding_topic(finding.id, _value(finding.category))),
        suggestions=tuple(suggestions) or None,
        selectionBehavior=_behaviour(suggestions, exclusive),
        overrideReasons=override_reasons() if indicator is not Severity.INFO else None,
        links=tuple(_links([finding], ctx)),
    )


def _group_card(findings: list[Finding], ctx: RenderContext) -> Card:
    suggestions: list[Suggestion] = []
    for finding in findings:
        found, _ = _suggestions(finding, ctx)
        suggestions.extend(s for s in found if s.label not in {x.label for x in suggestions})
    # A summary may quote the record (medication names): literal text in the heading.
    parts = "\n\n".join(f"### {_md(md_text(f.summary))}\n\n{_detail(f)}" for f in findings)
    summary = _truncate(
        f"{len(findings)} further notes: " + "; ".join(f.summary.rstrip(".") for f in findings)
    )
    return Card(
        uuid=ctx.new_uuid(),
        summary=summary,
        detail=parts,
        indicator=Indicator.INFO,
        source=_source(findings, ctx, MINOR_FINDINGS_TOPIC),
        suggestions=tuple(suggestions) or None,
        selectionBehavior=SelectionBehavior.ANY if suggestions else None,
        links=tuple(_links(findings, ctx)),
    )


def _behaviour(suggestions: list[Suggestion], exclusive: bool) -> SelectionBehavior | None:
    if not suggestions:
        return None
    return SelectionBehavior.AT_MOST_ONE if exclusive else SelectionBehavior.ANY


def _truncate(text: str) -> str:
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def _source(findings: list[Finding], ctx: RenderContext, topic: Coding) -> Source:
    label, url = _source_link(findings, ctx)
    return Source(label=label, url=url, topic=topic)


def _source_link(findings: list[Finding], ctx: RenderContext) -> tuple[str, str]:
    """(label, absolute URL) of the first cited source with a URL; else the product's catalogue,
    at the finding's entry for a one-finding card (D3, D7)."""
    for finding in findings:
        for citation in finding.citations:
            if citation.url and _absolute(citation.url):
                return citation.label, citation.url
    return PRODUCT_LABEL, findings_url(ctx.public_base_url, findings[0].id if len(findings) == 1 else None)


def _absolute(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def _value(enum_or_str: Any) -> str:
    return str(getattr(enum_or_str, "value", enum_or_str))


# What GFM would read as raw HTML (a tag, comment or declaration) or as a character reference.
# A `<` the core already escaped (`\<`, after an even run of backslashes) is literal text already.
_HTML_START = re.compile(r"(?<!\\)((?:\\\\)*)<(?=[A-Za-z/!?])")
_REFERENCE = re.compile(r"&(?=#?\w+;)")


def _md(text: str) -> str:
    """Neutralise HTML in text that may come from patient data (GFM allows raw HTML).

    Only what GFM would read as markup is escaped: comparisons such as "SALT >= 50" or
    "eGFR < 30" stay as written, since some EHRs show the detail as plain text.
    """
    return _HTML_START.sub(r"\1&lt;", _REFERENCE.sub("&amp;", text))


def _detail(finding: Finding) -> str:
    """The core's markdown detail (evidence, missing data, sources), with HTML neutralised.

    The core writes the whole explanation once so that card and app say the same; the only
    addition here is the safety net that an unverified finding always says so.
    """
    detail = _md(finding.detail.strip()) or _md(md_text(finding.summary))
    if not finding.verified and VERIFY_NOTE.lower().rstrip(".") not in detail.lower():
        detail += f"\n\n> **{VERIFY_NOTE}** Some facts behind this advice are not yet verified."
    return detail


# ---------------------------------------------------------------- links


def _links(findings: list[Finding], ctx: RenderContext) -> list[Link]:
    """A SMART launch of the app focused on the (first) finding, and the source as an absolute link."""
    first = findings[0]
    app_context: dict[str, Any] = {"focus": first.id}
    if len(findings) > 1:
        app_context["findings"] = [f.id for f in findings]
    if any(a.kind is ActionKind.RECORD_SALT for f in findings for a in f.actions):
        app_context["action"] = ActionKind.RECORD_SALT.value
    links = [
        Link(
            label="Open the AA-JAK app",
            url=f"{ctx.public_base_url.rstrip('/')}/app/launch",
            type=LinkType.SMART,
            appContext=json.dumps(app_context, separators=(",", ":")),
        )
    ]
    label, url = _source_link(findings, ctx)
    links.append(Link(label=_truncate_label(label), url=url, type=LinkType.ABSOLUTE))
    return links


def _truncate_label(label: str) -> str:
    return label if len(label) <= 80 else label[:79] + "…"


# ---------------------------------------------------------------- suggestions


def _suggestions(finding: Finding, ctx: RenderContext) -> tuple[list[Suggestion], bool]:
    """Suggestions, and whether they are alternatives (at-most-one) rather than a menu (any)."""
    out: list[Suggestion] = []
    exclusive = False
    for action in finding.actions:
        built = _suggestion(action, finding, ctx)
        if built is not None:
            out.append(built)
            exclusive = exclusive or action.kind in (ActionKind.STOP_ORDER, ActionKind.CHANGE_DOSE)
    if (
        finding.hard_stop
        and ctx.hook == "order-sign"
        and not any(a.kind is ActionKind.STOP_ORDER for a in finding.actions)
    ):
        for reference in _hard_stop_targets(finding, ctx):
            out.insert(0, _remove_suggestion(reference, ctx))
            exclusive = True
    return out, exclusive


def _hard_stop_targets(finding: Finding, ctx: RenderContext) -> list[str]:
    targets = [a.target for a in finding.actions if a.target and a.target in ctx.drafts]
    if targets:
        return list(dict.fromkeys(targets))
    return [
        o.reference
        for o in ctx.proposed
        if o.reference in ctx.drafts
        and o.intent == "start"
        and (
            (finding.drug is not None and o.drug == finding.drug)
            or (finding.drug is None and o.drug)
            or (finding.category is Category.SAFETY and o.live_vaccine)
        )
    ]


def _suggestion(action: CoreAction, finding: Finding, ctx: RenderContext) -> Suggestion | None:
    if action.kind is ActionKind.ORDER_TEST and action.code is not None:
        return Suggestion(
            label=action.label,
            uuid=ctx.new_uuid(),
            actions=(
                Action(
                    type=ActionType.CREATE,
                    description=action.label,
                    resource=_service_request(action, finding, ctx),
                ),
            ),
        )
    if action.kind is ActionKind.STOP_ORDER:
        target = action.target or next(iter(_hard_stop_targets(finding, ctx)), None)
        if target and target in ctx.drafts:
            return Suggestion(
                label=action.label,
                uuid=ctx.new_uuid(),
                actions=(Action(type=ActionType.DELETE, description=action.label, resourceId=target),),
            )
        return None
    if action.kind is ActionKind.CHANGE_DOSE and action.dose_mg is not None:
        return _change_dose(action, finding, ctx)
    return None  # RECORD_SALT: the smart link carries it


def _remove_suggestion(reference: str, ctx: RenderContext) -> Suggestion:
    label = "Remove this draft order"
    return Suggestion(
        label=label,
        uuid=ctx.new_uuid(),
        actions=(Action(type=ActionType.DELETE, description=f"{label} ({reference})", resourceId=reference),),
    )


def _service_request(action: CoreAction, finding: Finding, ctx: RenderContext) -> dict[str, Any]:
    code = action.code
    if code is None:  # pragma: no cover - guarded by the caller
        raise ValueError("ORDER_TEST action without a code")
    coding = {"system": code.system, "code": code.code, "display": code.display}
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [coding], "text": code.display},
        "subject": {"reference": f"Patient/{ctx.patient_id}"},
        "note": [{"text": f"Suggested by {PRODUCT_LABEL}: {finding.summary}"}],
    }
    if ctx.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{ctx.encounter_id}"}
    if ctx.user_id and ctx.user_id.startswith(("Practitioner/", "PractitionerRole/")):
        resource["requester"] = {"reference": ctx.user_id}
    return resource


def _dosage(action: CoreAction, previous: list[dict[str, Any]] | None) -> dict[str, Any]:
    per_day = action.doses_per_day or 1
    frequency = {1: "once daily", 2: "twice daily"}.get(per_day, f"{per_day} times daily")
    dose = f"{action.dose_mg:g} mg"
    dosage: dict[str, Any] = {
        "text": f"{dose} {frequency}",
        "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [
            {"doseQuantity": {"value": action.dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}
        ],
    }
    if previous and isinstance(previous[0], dict) and isinstance(previous[0].get("route"), dict):
        dosage["route"] = previous[0]["route"]
    return dosage


def _change_dose(action: CoreAction, finding: Finding, ctx: RenderContext) -> Suggestion | None:
    target = action.target
    if target is None:
        target = next(
            (
                o.reference
                for o in ctx.proposed
                if o.reference in ctx.drafts and o.drug == (action.drug or finding.drug)
            ),
            None,
        )
    if target in ctx.drafts:
        draft = copy.deepcopy(ctx.drafts[target])
        draft["dosageInstruction"] = [_dosage(action, draft.get("dosageInstruction"))]
        return _resource_suggestion(action.label, ActionType.UPDATE, draft, ctx)
    active = ctx.known.get(target or "")
    if active is None or active.get("resourceType") != "MedicationRequest":
        return None
    # An active order is not edited in place: propose a new draft that replaces it.
    new: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{ctx.patient_id}"},
        "priorPrescription": {"reference": target},
        "dosageInstruction": [_dosage(action, active.get("dosageInstruction"))],
    }
    for name in ("medicationCodeableConcept", "medicationReference"):
        if name in active:
            new[name] = copy.deepcopy(active[name])
    if str((new.get("medicationReference") or {}).get("reference", "")).startswith("#"):
        new["contained"] = copy.deepcopy(active.get("contained") or [])
        if not new["contained"]:
            return None
    if "medicationCodeableConcept" not in new and "medicationReference" not in new:
        return None
    if ctx.user_id and ctx.user_id.startswith(("Practitioner/", "PractitionerRole/")):
        new["requester"] = {"reference": ctx.user_id}
    return _resource_suggestion(action.label, ActionType.CREATE, new, ctx)


def _resource_suggestion(
    label: str, kind: ActionType, resource: dict[str, Any], ctx: RenderContext
) -> Suggestion | None:
    """A suggestion to create or update `resource`, which holds the request's data (the draft as
    sent, a current order's medication and route); None when the action model refuses it (not
    valid R4, or a null or empty value): the clinician gets no action rather than a broken one."""
    try:
        require_r4(resource)
        change = Action(type=kind, description=label, resource=resource)
    except ValueError:  # pydantic's ValidationError is one
        return None
    return Suggestion(label=label, uuid=ctx.new_uuid(), actions=(change,))


def as_of_today(frozen: str | None) -> date:
    """The date rules evaluate against: the settings' frozen date (demos/tests) or today."""
    return date.fromisoformat(frozen) if frozen else date.today()
