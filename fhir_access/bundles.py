"""Reading searchset Bundles: their resources and their `next` link."""

from __future__ import annotations

from typing import Any

from fhir_access.errors import FhirBadResponse


def require_bundle(body: object, resource_type: str, interaction: str) -> dict[str, Any]:
    """`body` if it is a Bundle; else `FhirBadResponse`, carrying the OperationOutcome if that came back."""
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        return body
    outcome = body if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" else None
    found = "an OperationOutcome" if outcome else "something else"
    raise FhirBadResponse(
        f"FHIR {interaction} {resource_type}: expected a Bundle, got {found}",
        resource_type=resource_type,
        operation_outcome=outcome,
    )


def bundle_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The entry resources, without `search.mode = outcome` entries (warnings about the search, not data)."""
    resources = []
    for entry in bundle.get("entry") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            continue
        if (entry.get("search") or {}).get("mode") == "outcome":
            continue
        resources.append(entry["resource"])
    return resources


def next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None
