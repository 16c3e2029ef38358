"""A FHIR Bundle (or resource, or list of resources) as the rules receive it: record and draft orders.

Parsing only: the caller reads the file. Used by `aa-jak assess` and the scenario tests, so that
a synthetic patient is split the same way in both.
"""

from __future__ import annotations

from typing import Any

__all__ = ["split_drafts"]


def _as_stored(bundle: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(fullUrl, resource) pairs; `urn:uuid` fullUrls become ids and references become `Type/id`,
    as a FHIR server does when it processes a transaction."""
    entries = [e for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]
    by_url = {
        e["fullUrl"]: f"{e['resource'].get('resourceType')}/{e['fullUrl'].rsplit(':', 1)[-1]}"
        for e in entries
        if str(e.get("fullUrl", "")).startswith("urn:uuid:")
    }

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (by_url.get(v, v) if k == "reference" and isinstance(v, str) else fix(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [fix(item) for item in node]
        return node

    pairs: list[tuple[str | None, dict[str, Any]]] = []
    for entry in entries:
        resource = fix(entry["resource"])
        full_url = entry.get("fullUrl")
        if full_url in by_url and "id" not in resource:
            resource["id"] = full_url.rsplit(":", 1)[-1]
        pairs.append((full_url, resource))
    return pairs


def split_drafts(
    document: Any, draft_urls: list[str] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(record resources, draft orders). Drafts are the entries a sidecar names, else status `draft`."""
    if isinstance(document, list):
        pairs: list[tuple[str | None, dict[str, Any]]] = [(None, r) for r in document if isinstance(r, dict)]
    elif isinstance(document, dict) and document.get("resourceType") == "Bundle":
        pairs = _as_stored(document)
    elif isinstance(document, dict) and "resourceType" in document:
        pairs = [(None, document)]
    else:
        raise ValueError("expected a FHIR Bundle, a resource, or a JSON list of resources")
    record: list[dict[str, Any]] = []
    drafts: list[dict[str, Any]] = []
    for full_url, resource in pairs:
        is_draft = full_url in draft_urls if draft_urls is not None else resource.get("status") == "draft"
        (drafts if is_draft else record).append(resource)
    return record, drafts
