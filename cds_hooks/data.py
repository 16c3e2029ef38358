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
from clinical_core.extract import medication_key
from clinical_core.rules.common import ACTIVE_ORDER_STATUSES
from fhir_access import FHIR_ID
from fhir_access.bundles import bundle_resources, next_link

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


def _bundle_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """A prefetched Bundle's data (`parse_hook_request` checked its shape): an OperationOutcome
    entry reports on the search whatever its `search.mode`, so it is left out too."""
    return [r for r in bundle_resources(bundle) if r["resourceType"] != "OperationOutcome"]


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
            if next_link(value) is not None:
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


_NOT_IN_REQUEST = "not contained, prefetched or in draftOrders"
_PAST = "past medication"
# Past medications whose reads fail on their own, after which every past read still pending is
# left out too: at most this many rounds plus one, however long the history.
_MAX_PAST_FAILURES = 2
_MAX_NAMED = 5


@dataclass(frozen=True)
class _Wanted:
    """A Medication reference the core cannot resolve from the request alone."""

    label: str  # shown in the 412: "Medication/x", "#x" or "the medicationReference of Type/id"
    role: str  # "draft order", "current medication" or "past medication"
    medication: str | None  # "Medication/x" to fetch; None when no FHIR server could resolve it
    problem: str = ""  # why it cannot be fetched, when `medication` is None


def resolve_medications(
    resources: list[dict[str, Any]],
    drafts: list[dict[str, Any]],
    source: FhirSource | None,
    client_factory: ClientFactory,
    no_source_reason: str,
) -> list[dict[str, Any]]:
    """Medications referenced by MedicationRequest/Statement but not contained, prefetched or drafted.

    `_include` is outside the prefetch query subset (C2), so the service reads them itself when
    it can. A reference the rules need (a draft order's, or a current medication's) that cannot
    be resolved gives 412 naming it and saying why (C6): the core cannot identify such an order,
    so answering would be a silent all-clear at order-sign. A past medication's reference is
    fetched when possible and otherwise (no fhirServer, or its fetch fails) left to the core,
    which lists it as uninterpretable.
    `no_source_reason` says why `source` is None.
    """
    known = {
        f"Medication/{r['id']}"
        for r in (*resources, *drafts)
        if r.get("resourceType") == "Medication" and isinstance(r.get("id"), str)
    }
    base = source.base_url if source else None
    wanted = [w for d in drafts if (w := _wanted(d, "draft order", known, base))]
    wanted += [w for r in resources if (w := _wanted(r, _role(r), known, base))]
    needed = [w for w in wanted if w.role != _PAST]
    unfetchable = [w for w in needed if w.medication is None]
    if unfetchable:
        raise _unresolved(unfetchable, "", "not fetchable")
    to_fetch = list(dict.fromkeys(w.medication for w in wanted if w.medication))
    if not to_fetch:
        return []
    if source is None:
        if needed:
            raise _unresolved(needed, f"{_NOT_IN_REQUEST}, and {no_source_reason}", "no usable fhirServer")
        return []
    fetched = _fetch_medications(client_factory(source), to_fetch, wanted)
    found = {f"Medication/{r.get('id')}" for r in fetched}
    if missing := [w for w in needed if w.medication not in found]:
        raise _unresolved(missing, "the FHIR server did not return it", "not returned")
    return fetched


def _role(resource: dict[str, Any]) -> str:
    # An active or on-hold order (as the core reads it) is what the patient takes now: the rules must
    # know its medication (interactions, current dose). Other statuses are history; an unresolved one
    # is fetched when possible and otherwise listed by the core as uninterpretable.
    status = resource.get("status")
    return "current medication" if isinstance(status, str) and status in ACTIVE_ORDER_STATUSES else _PAST


def _wanted(resource: dict[str, Any], role: str, known: set[str], base: str | None) -> _Wanted | None:
    """What `resource`'s medicationReference still needs, or None if nothing (resolved, or not a
    literal reference: a display or identifier alone is read by the core as it is)."""
    if resource.get("resourceType") not in ("MedicationRequest", "MedicationStatement"):
        return None
    if isinstance(resource.get("medicationCodeableConcept"), dict):
        return None  # the core reads the concept and ignores any reference
    medication = resource.get("medicationReference")
    reference = medication.get("reference") if isinstance(medication, dict) else None
    if not isinstance(reference, str) or not reference:
        return None
    from fhir_access import ReferenceKind, parse_medication_reference

    if not reference.startswith("#") and medication_key(reference) in known:
        return None  # resolved as the core resolves it, whichever server or path the URL names
    parsed = parse_medication_reference(reference, base)
    if parsed.kind is ReferenceKind.CONTAINED:
        contained = resource.get("contained")
        medications = contained if isinstance(contained, list) else []
        if parsed.id is not None and any(
            isinstance(c, dict) and c.get("resourceType") == "Medication" and c.get("id") == parsed.id
            for c in medications
        ):
            return None
        label = reference if parsed.id is not None else f"the medicationReference of {_name(resource)}"
        return _Wanted(label, role, None, "no contained Medication has that id")
    if parsed.id is None:
        return _Wanted(
            f"the medicationReference of {_name(resource)}",
            role,
            None,
            f"{_NOT_IN_REQUEST}, and only Medication/[id] references can be fetched",
        )
    target = f"Medication/{parsed.id}"
    if parsed.kind is ReferenceKind.OTHER_SERVER and base is not None:
        return _Wanted(target, role, None, f"{_NOT_IN_REQUEST}, and it is not on the fhirServer")
    return _Wanted(target, role, target)


def _name(resource: dict[str, Any]) -> str:
    rid = resource.get("id")
    kind = str(resource.get("resourceType"))
    return f"{kind}/{rid}" if isinstance(rid, str) and FHIR_ID.fullmatch(rid) else f"a {kind}"


def _unresolved(items: list[_Wanted], why: str, kind: str) -> PreconditionFailed:
    """412 naming the references (ids only) and why; the log gets the count and the kind only."""
    groups: dict[str, list[str]] = {}
    for item in items:
        groups.setdefault(why or item.problem, []).append(f"{item.label} ({item.role})")
    parts = []
    for reason, names in groups.items():
        unique = list(dict.fromkeys(names))
        shown = ", ".join(unique[:_MAX_NAMED])
        if len(unique) > _MAX_NAMED:
            shown += f" and {len(unique) - _MAX_NAMED} more"
        parts.append(f"{shown} could not be resolved: {reason}")
    log.info("cds_hooks: 412, %d medication reference(s) unresolved (%s)", len(items), kind)
    return PreconditionFailed("; ".join(parts))


def _fetch_medications(client: Any, to_fetch: list[str], wanted: list[_Wanted]) -> list[dict[str, Any]]:
    """The Medications `to_fetch` ("Medication/x") that the FHIR server returns, read in parallel.

    A past medication's Medication whose read fails on its own (404, an OperationOutcome, another
    4xx) is left out and the rest read again; at the `_MAX_PAST_FAILURES`th such failure every past
    one still unread is left out too, so the rounds stay few however long the history. A failure of
    every read (timeout, 401, 403, 5xx, 429, no connection) leaves out every past one at once. The
    core then lists those medications as uninterpretable, as when there is no fhirServer at all.
    A draft order's or current medication's whose read fails gives 412 naming it (C6).
    """
    from fhir_access import FhirError, FhirForbidden, FhirTimeout, FhirUnauthorized, FhirUnavailable

    needed = {w.medication for w in wanted if w.role != _PAST}
    pending = {f"medication:{i}": reference for i, reference in enumerate(to_fetch)}
    past_failures = 0
    while pending:
        try:
            fetched = client.search_many(pending)
        except FhirError as error:  # OffOriginUrl included
            key = str(error.key)
            # Not about one Medication: every read is a Medication read with the same token from the
            # same server. A timeout's key is just one read running when the shared deadline passed;
            # a refused token (401), scopes without Medication (403) and an unavailable server (5xx,
            # 429, no connection) fail every read alike. Reading again, once per past medication and
            # each round under a fresh deadline, would only repeat it.
            server_wide = FhirTimeout | FhirUnauthorized | FhirForbidden | FhirUnavailable
            every_read = isinstance(error, server_wide) or key not in pending
            if not every_read and pending[key] not in needed:
                past_failures += 1
                if past_failures < _MAX_PAST_FAILURES:
                    del pending[key]
                else:
                    pending = {k: r for k, r in pending.items() if r in needed}
                continue
            failed = set(pending.values()) if every_read else {pending[key]}
            unresolved = [w for w in wanted if w.role != _PAST and w.medication in failed]
            if not unresolved:
                return []  # every read left was a past medication's: the core lists them
            # Type only: URLs and messages may carry patient identifiers.
            raise _unresolved(
                unresolved,
                f"could not obtain it from the FHIR server ({type(error).__name__})",
                type(error).__name__,
            ) from None
        return [r for key in pending for r in fetched.get(key) or [] if r.get("resourceType") == "Medication"]
    return []


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
