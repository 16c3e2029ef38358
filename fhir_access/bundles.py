"""Reading searchset Bundles: their resources and their `next` link.

`bundle_problem` is the one definition of a Bundle well-formed enough to read: the client
refuses a server's page that fails it (`FhirBadResponse`), and the CDS service a prefetched
Bundle. `bundle_resources` and `next_link` then read it without further checks.
"""

from __future__ import annotations

from typing import Any

from fhir_access.errors import FhirBadResponse
from fhir_access.urls import parses_as_url


def require_bundle(body: object, resource_type: str, interaction: str) -> dict[str, Any]:
    """`body` if it is a well-formed Bundle; else `FhirBadResponse`, carrying the OperationOutcome
    if that came back."""
    if isinstance(body, dict) and body.get("resourceType") == "Bundle":
        problem = bundle_problem(body)
        if problem is None:
            return body
        # The problem names a member, never a value: values may be patient data.
        raise FhirBadResponse(
            f"FHIR {interaction} {resource_type}: malformed Bundle ({problem})", resource_type=resource_type
        )
    outcome = body if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" else None
    found = "an OperationOutcome" if outcome else "something else"
    raise FhirBadResponse(
        f"FHIR {interaction} {resource_type}: expected a Bundle, got {found}",
        resource_type=resource_type,
        operation_outcome=outcome,
    )


def bundle_problem(bundle: dict[str, Any]) -> str | None:
    """What makes `bundle` unreadable, or None.

    Readable: `entry` an array of objects, each with an optional `resource` (an object with a
    string `resourceType`) and an optional `search` object; `link` an array of objects, a `next`
    one with a URL. A member given as `null` counts as absent. An unreadable next link is a
    problem, not a last page: reading on would silently drop the pages after it.
    """
    entries = bundle.get("entry")
    if entries is not None and not isinstance(entries, list):
        return "entry is not an array"
    for entry in entries or ():
        if not isinstance(entry, dict):
            return "an entry is not an object"
        resource = entry.get("resource")
        if resource is not None and not (
            isinstance(resource, dict) and isinstance(resource.get("resourceType"), str)
        ):
            return "an entry's resource is not a FHIR resource"
        if entry.get("search") is not None and not isinstance(entry["search"], dict):
            return "an entry's search is not an object"
    links = bundle.get("link")
    if links is not None and not isinstance(links, list):
        return "link is not an array"
    for link in links or ():
        if not isinstance(link, dict):
            return "a link is not an object"
        url = link.get("url")
        if link.get("relation") == "next" and not (isinstance(url, str) and parses_as_url(url)):
            return "the next link has no valid URL"
    return None


def bundle_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The entry resources of a well-formed Bundle, without `search.mode = outcome` entries
    (warnings about the search, not data)."""
    return [
        entry["resource"]
        for entry in bundle.get("entry") or ()
        if entry.get("resource") is not None and (entry.get("search") or {}).get("mode") != "outcome"
    ]


def next_link(bundle: dict[str, Any]) -> str | None:
    """The `next` URL of a well-formed Bundle, if it has one."""
    for link in bundle.get("link") or ():
        if link.get("relation") == "next":
            return str(link["url"])
    return None
