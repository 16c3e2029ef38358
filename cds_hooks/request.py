"""Reading a CDS Hooks request body (spec §HTTP Request; checklist B1-B4, A7, A8).

Checks are explicit and cheap: the prefetched resources are not validated
against FHIR models (that costs ~40x `json.loads`, performance.md); the core
reads only the fields it needs. Unknown members and unknown context fields are
accepted (A8); `extension` must be an object (A7).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from urllib.parse import urlsplit

from cds_hooks.errors import BadRequest
from fhir_access import FHIR_ID, RESOURCE_TYPE
from fhir_access.bundles import bundle_problem

# Used with fullmatch, as FHIR_ID and RESOURCE_TYPE: `$` would also match before a trailing newline.
REFERENCE = re.compile(rf"{RESOURCE_TYPE.pattern}/{FHIR_ID.pattern}")
# Request resource types that exist in DSTU2/STU3 or R5 but not in R4 (B4: accept R4 only).
NON_R4_TYPES = frozenset(
    {
        "MedicationOrder",
        "ProcedureRequest",
        "ReferralRequest",
        "DiagnosticOrder",
        "DiagnosticRequest",
        "DeviceUseRequest",
        "ProcessRequest",
        "MedicationUsage",
        "DeviceUsage",
    }
)
REQUIRED_CONTEXT: dict[str, tuple[str, ...]] = {
    "patient-view": ("userId", "patientId"),
    "order-select": ("userId", "patientId", "selections", "draftOrders"),
    "order-sign": ("userId", "patientId", "draftOrders"),
}


@dataclass(frozen=True)
class FhirAuthorization:
    """spec §Passing the Access Token (B3). Transient: never stored or logged (C7)."""

    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


@dataclass(frozen=True)
class HookRequest:
    hook: str
    hook_instance: str
    context: dict[str, Any]
    prefetch: dict[str, Any] | None
    fhir_server: str | None
    fhir_authorization: FhirAuthorization | None = field(repr=False)

    @property
    def patient_id(self) -> str:
        return str(self.context["patientId"])

    def draft_orders(self) -> list[dict[str, Any]]:
        """Resources of `context.draftOrders`; at order-select only the `selections` (H)."""
        bundle = self.context.get("draftOrders") or {}
        resources = [e["resource"] for e in bundle.get("entry", ()) if isinstance(e.get("resource"), dict)]
        if self.hook != "order-select":
            return resources
        selected = set(self.context.get("selections") or ())
        return [r for r in resources if f"{r.get('resourceType')}/{r.get('id')}" in selected]

    def all_draft_orders(self) -> list[dict[str, Any]]:
        bundle = self.context.get("draftOrders") or {}
        return [e["resource"] for e in bundle.get("entry", ()) if isinstance(e.get("resource"), dict)]


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body is not valid JSON") from None
    except RecursionError:
        # Nesting deeper than the interpreter's stack: no FHIR payload looks like this.
        raise BadRequest("request body is nested too deeply") from None


def _check_extension(obj: dict[str, Any], where: str) -> None:
    if "extension" in obj and not isinstance(obj["extension"], dict):
        raise BadRequest(f"{where}.extension must be a JSON object")


def _string(body: dict[str, Any], name: str, where: str = "") -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{where}{name} is required and must be a non-empty string")
    return value


def parse_hook_request(body: Any, expected_hook: str) -> HookRequest:
    """Validate the request for a service registered on `expected_hook`; raise BadRequest."""
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    _check_extension(body, "request")
    hook = _string(body, "hook")
    if hook != expected_hook:
        raise BadRequest(f"hook '{hook}' is not the hook of this service ({expected_hook})")
    hook_instance = _hook_instance(body.get("hookInstance"))
    context = body.get("context")
    if not isinstance(context, dict):
        raise BadRequest("context is required and must be an object")
    _check_extension(context, "context")
    _check_context(hook, context)

    prefetch = body.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, dict):
        raise BadRequest("prefetch must be an object")
    for key, value in (prefetch or {}).items():
        _check_prefetch_value(key, value)

    fhir_server = body.get("fhirServer")
    if fhir_server is not None:
        if not isinstance(fhir_server, str):
            raise BadRequest("fhirServer must be a string")
        try:
            parts = urlsplit(fhir_server)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise BadRequest("fhirServer is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise BadRequest("fhirServer must be an absolute http(s) base URL")
    authorization = _fhir_authorization(body.get("fhirAuthorization"))
    if authorization is not None and fhir_server is None:
        raise BadRequest("fhirAuthorization requires fhirServer")
    return HookRequest(hook, hook_instance, context, prefetch, fhir_server, authorization)


def _hook_instance(value: Any) -> str:
    """B1: a UUID, in its canonical 8-4-4-4-12 form (any case). Stored in the audit trail and
    with each card issued, so free text (possibly PHI) or an unbounded value never gets there."""
    if not isinstance(value, str) or not value:
        raise BadRequest("hookInstance is required and must be a non-empty string")
    try:
        canonical = str(uuid.UUID(value))
    except ValueError:
        canonical = ""
    if canonical != value.lower():
        raise BadRequest("hookInstance must be a UUID (8-4-4-4-12 hexadecimal digits)")
    return value


def _check_prefetch_value(key: str, value: Any) -> None:
    """A FHIR resource or null (C3); a Bundle must be readable whole (C4): a malformed one is
    refused like any other malformed member, never read in part."""
    if value is None:
        return
    if not (isinstance(value, dict) and isinstance(value.get("resourceType"), str)):
        raise BadRequest(f"prefetch.{key} must be a FHIR resource or null")
    if value["resourceType"] == "Bundle" and (problem := bundle_problem(value)):
        raise BadRequest(f"prefetch.{key} is a malformed Bundle: {problem}")


def is_finite_number(value: Any) -> TypeGuard[int | float]:
    """A JSON number that is finite: not a boolean (an int in Python), not the non-finite float
    json.loads makes of 1e400, Infinity or NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def _check_context(hook: str, context: dict[str, Any]) -> None:
    for name in REQUIRED_CONTEXT[hook]:
        if name not in context:
            raise BadRequest(f"context.{name} is required for {hook}")
    if not isinstance(context["patientId"], str) or not FHIR_ID.fullmatch(context["patientId"]):
        raise BadRequest("context.patientId must be a FHIR id")
    if not isinstance(context["userId"], str) or not REFERENCE.fullmatch(context["userId"]):
        raise BadRequest("context.userId must be a relative reference such as Practitioner/123")
    encounter = context.get("encounterId")
    if encounter is not None and (not isinstance(encounter, str) or not FHIR_ID.fullmatch(encounter)):
        raise BadRequest("context.encounterId must be a FHIR id")
    if "draftOrders" in context:
        _check_draft_orders(context["draftOrders"])
    if "selections" in context:
        selections = context["selections"]
        if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
            raise BadRequest("context.selections must be an array of references")


def _check_draft_orders(bundle: Any) -> None:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest("context.draftOrders must be a FHIR Bundle")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise BadRequest("context.draftOrders.entry must be an array")
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BadRequest("each draftOrders entry needs a resource")
        if not RESOURCE_TYPE.fullmatch(resource["resourceType"]):
            raise BadRequest("a draftOrders resourceType is not a FHIR resource type")
        if resource["resourceType"] in NON_R4_TYPES:
            raise BadRequest(f"{resource['resourceType']} is not FHIR R4; this service accepts R4 only")
        # Cards name a draft by Type/id (a delete's resourceId, an update's resource): an id that
        # is not a FHIR id could only give an invalid action, so the request is refused instead.
        rid = resource.get("id")
        if rid is not None and not (isinstance(rid, str) and FHIR_ID.fullmatch(rid)):
            raise BadRequest("a draftOrders resource id is not a FHIR id (1-64 letters, digits, '-', '.')")


def _fhir_authorization(value: Any) -> FhirAuthorization | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("fhirAuthorization must be an object")
    for name in ("access_token", "token_type", "scope", "subject"):
        if not isinstance(value.get(name), str) or not value[name]:
            raise BadRequest(f"fhirAuthorization.{name} is required")
    if value["token_type"].lower() != "bearer":
        raise BadRequest("fhirAuthorization.token_type must be Bearer")
    expires_in = value.get("expires_in")
    if not is_finite_number(expires_in):
        raise BadRequest("fhirAuthorization.expires_in is required and must be a finite number")
    patient = value.get("patient")
    return FhirAuthorization(
        access_token=value["access_token"],
        token_type=value["token_type"],
        expires_in=int(expires_in),
        scope=value["scope"],
        subject=value["subject"],
        patient=patient if isinstance(patient, str) else None,
    )
