"""Prefetch, or fetch: collect the FHIR resources a service needs (checklist C3-C8).

Per prefetch key:
- present and complete: used as is;
- `null`: no data (C3; not "missing");
- an OperationOutcome: a failed retrieval, fetched again from `fhirServer` if possible (C3);
- a Bundle with a `next` link: the remaining pages are followed on `fhirServer` with the token (C4);
- absent: searched on `fhirServer` (C5), all absent keys in parallel, within the settings' timeouts.
Data that cannot be obtained (no usable `fhirServer`, or the FHIR call fails) gives 412 (C6).
The token goes only to `fhirServer` (the FHIR client refuses other origins) and is never kept
beyond the request (C7).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from cds_hooks.errors import BadRequest, PreconditionFailed
from cds_hooks.request import HookRequest

log = logging.getLogger(__name__)
_TOKEN = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


@dataclass(frozen=True)
class FhirSource:
    """Where missing data may be fetched from: None when the request gave no usable server."""

    base_url: str
    token: str | None


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """Fill `{{context.x}}` and `{{userPractitionerId}}`-style tokens (C1)."""

    def fill(match: re.Match[str]) -> str:
        token = match.group(1)
        if token.startswith("context."):
            value = context.get(token.removeprefix("context."))
            if not isinstance(value, str):
                raise BadRequest(f"prefetch token {token} has no value in context")
            return value
        resource_type = _USER_TOKENS.get(token)
        user = str(context.get("userId", ""))
        if resource_type and user.startswith(f"{resource_type}/"):
            return user.split("/", 1)[1]
        raise BadRequest(f"prefetch token {token} has no value in context")

    return _TOKEN.sub(fill, template)


def _bundle_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for entry in bundle.get("entry") or ():
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict) or resource.get("resourceType") == "OperationOutcome":
            continue
        if (entry.get("search") or {}).get("mode") == "outcome":
            continue
        out.append(resource)
    return out


def _has_next(bundle: Mapping[str, Any]) -> bool:
    return any(isinstance(link, dict) and link.get("relation") == "next" for link in bundle.get("link") or ())


def _dedupe(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for resource in resources:
        rid = resource.get("id")
        if isinstance(rid, str):
            key = (str(resource.get("resourceType")), rid)
            if key in seen:
                continue
            seen.add(key)
        out.append(resource)
    return out


ClientFactory = Callable[[FhirSource], Any]


def collect(
    request: HookRequest,
    templates: Mapping[str, str],
    source: FhirSource | None,
    client_factory: ClientFactory,
    no_source_reason: str,
) -> dict[str, list[dict[str, Any]]]:
    """Resources per prefetch key, from prefetch where usable and from `source` otherwise.

    `no_source_reason` says why `source` is None; it ends the 412 message when data is missing.
    """
    prefetch = request.prefetch or {}
    results: dict[str, list[dict[str, Any]]] = {}
    to_search: dict[str, str] = {}
    to_continue: dict[str, dict[str, Any]] = {}
    for key, template in templates.items():
        if key not in prefetch:
            to_search[key] = render_template(template, request.context)
            continue
        value = prefetch[key]
        if value is None:
            results[key] = []
        elif value["resourceType"] == "OperationOutcome":
            to_search[key] = render_template(template, request.context)
        elif value["resourceType"] == "Bundle":
            results[key] = _bundle_resources(value)
            if _has_next(value):
                to_continue[key] = value
        else:
            results[key] = [value]

    if not to_search and not to_continue:
        return results
    missing = sorted({*to_search, *to_continue})
    if source is None:
        raise PreconditionFailed(f"prefetch incomplete ({', '.join(missing)}) and {no_source_reason}")
    client = client_factory(source)
    fetched = _run(lambda: client.search_many(to_search) if to_search else {}, missing)
    results.update({key: list(fetched.get(key) or []) for key in to_search})
    for key, bundle in to_continue.items():
        more = _run(partial(client.continue_bundle, bundle), [key])
        results[key] = _dedupe(results[key] + list(more))
    return results


def resolve_medications(
    resources: list[dict[str, Any]], source: FhirSource | None, client_factory: ClientFactory
) -> list[dict[str, Any]]:
    """Medications referenced by MedicationRequest/Statement but not contained or prefetched.

    `_include` is outside the prefetch query subset (C2), so the service reads
    them itself when it can. Without a FHIR server they stay unresolved and the
    core reports the order as uninterpretable rather than guessing.
    """
    have = {f"Medication/{r.get('id')}" for r in resources if r.get("resourceType") == "Medication"}
    wanted: list[str] = []
    for resource in resources:
        if resource.get("resourceType") not in ("MedicationRequest", "MedicationStatement"):
            continue
        reference = (resource.get("medicationReference") or {}).get("reference")
        if (
            isinstance(reference, str)
            and re.fullmatch(r"Medication/[A-Za-z0-9\-.]{1,64}", reference)
            and reference not in have
            and reference not in wanted
        ):
            wanted.append(reference)
    if not wanted or source is None:
        return []
    client = client_factory(source)
    queries = {f"medication:{i}": reference for i, reference in enumerate(wanted)}
    fetched = _run(lambda: client.search_many(queries), ["medications"])
    return [r for key in queries for r in fetched.get(key) or [] if r.get("resourceType") == "Medication"]


def _run(call: Callable[[], Any], keys: list[str]) -> Any:
    from fhir_access import FhirError, OffOriginUrl

    try:
        return call()
    except (FhirError, OffOriginUrl) as error:
        key = getattr(error, "key", None) or ", ".join(keys)
        # Type and key only: URLs and messages may carry patient identifiers.
        raise PreconditionFailed(
            f"could not obtain {key} from the FHIR server ({type(error).__name__})"
        ) from None
