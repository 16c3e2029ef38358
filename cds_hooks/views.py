"""HTTP endpoints of the CDS Hooks service (spec https://cds-hooks.hl7.org/2.0/).

- `GET  /cds-services`                 discovery (§Discovery; A1-A3)
- `POST /cds-services/{id}`            call a service (§Calling a CDS Service; A4-A8, B, C, D)
- `POST /cds-services/{id}/feedback`   feedback (§Feedback; E1-E4)
- `GET  /cds-services/openapi.json`    this API's OpenAPI 3.1 document
Every endpoint except the OpenAPI document requires the client JWT (F2). In
`settings.dev_mode` a call without an Authorization header is let through, but a
JWT that is sent is verified all the same. Errors are typed exceptions mapped in `errors`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, Response, current_app, g, jsonify, request

from cds_hooks import metrics
from cds_hooks.data import FhirSource, collect, resolve_medications
from cds_hooks.errors import (
    BadRequest,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
    register_error_handlers,
)
from cds_hooks.feedback import parse_feedback
from cds_hooks.models import CdsResponse, DiscoveryResponse
from cds_hooks.render import RenderContext, as_of_today, render
from cds_hooks.request import HookRequest, parse_hook_request, parse_json
from cds_hooks.state import CdsHooksState
from fhir_access import FHIR_ID
from fhir_access.urls import BaseUrl

log = logging.getLogger(__name__)
bp = Blueprint("cds_hooks", __name__)
# Werkzeug would answer "//" in a path with a redirect to the merged path: an HTML body, not an
# OperationOutcome (G2), and a client does not resend its POST body to it. Such a path is a 404.
_RULE: dict[str, Any] = {"merge_slashes": False}


def allowed_methods(path: str) -> str:
    """The Allow header of a 405 at a CDS URL (RFC 9110 §15.5.6): the methods it answers.

    Only the four URL shapes routed below can get a 405; a GET on a service URL is answered,
    with 404 as peers do (G3), but is not listed.
    """
    if path in ("/cds-services", "/cds-services/openapi.json"):
        return "GET, HEAD, OPTIONS"
    return "POST, OPTIONS"  # a service, or its feedback


register_error_handlers(bp, allowed_methods)


def _state() -> CdsHooksState:
    state: CdsHooksState = current_app.extensions["cds_hooks"]
    return state


# ---------------------------------------------------------------- request lifecycle


@bp.before_request
def _authenticate() -> None:
    g.cds_started = time.perf_counter()
    g.cds_client = None
    if request.method == "OPTIONS" or request.endpoint == "cds_hooks.openapi":
        return  # CORS preflight carries no credentials (F8); the API description is public
    state = _state()
    # Before the JWT check, so a call it refuses (401) is audited under its service too.
    service = state.registry.get((request.view_args or {}).get("service_id", ""))
    if service is not None:
        g.cds_service_id = service.id
        g.cds_hook = service.hook
    authorization = request.headers.get("Authorization")
    if state.settings.dev_mode and authorization is None:
        # Dev mode lets anonymous callers (curl, tests) in; a client that signs its calls, such
        # as the sandbox's EHR simulator, is verified so the JWT path runs in development too.
        return
    audience = state.settings.public_base_url.rstrip("/") + request.path
    g.cds_client = state.authenticator.authenticate(authorization, audience)


@bp.after_request
def _record(response: Response) -> Response:
    started = g.get("cds_started")
    if started is None or request.method == "OPTIONS":
        return response
    seconds = time.perf_counter() - started
    service_id = g.get("cds_service_id")
    endpoint = request.endpoint.rsplit(".", 1)[-1] if request.endpoint else "unknown"
    metrics.observe(service_id or "none", endpoint, response.status_code, seconds)
    if response.status_code == 401:
        log.info("cds_hooks: 401 (%s)", g.get("cds_status_reason", ""))
    if endpoint == "invoke" and service_id:
        write = _invocation_write(service_id, response.status_code, seconds)
        # Storage writes (card -> finding map and audit, one transaction) run once the answer is
        # sent: the EHR does not wait for them. Under WSGI the server calls close() after the last byte.
        response.call_on_close(lambda: _run_write(write))
    return response


def _run_write(write: Callable[[], None]) -> None:
    try:
        write()
    except Exception as error:  # a failed write must not break the next request
        log.warning("cds_hooks: storage write failed (%s)", type(error).__name__)


def _invocation_write(service_id: str, status: int, seconds: float) -> Callable[[], None]:
    """One audit record per invocation, without PHI (ids, status, latency, finding ids), with the
    card -> finding pairs of the cards returned."""
    from storage import AuditRecord

    client = g.get("cds_client")
    record = AuditRecord(
        time=datetime.now(UTC),
        service_id=service_id,
        hook=g.get("cds_hook") or "unknown",
        hook_instance=g.get("cds_hook_instance") or "",
        issuer=client.issuer.iss if client else None,
        status=status,
        latency_ms=round(seconds * 1000, 1),
        finding_ids=list(g.get("cds_finding_ids", ())),
    )
    cards: list[tuple[str, str]] = g.get("cds_card_findings", [])
    issued_at: datetime | None = g.get("cds_cards_issued_at")
    storage = _state().storage()
    return lambda: storage.record_invocation(record, cards, issued_at)


def _read_json() -> Any:
    limit = _state().settings.cds_max_body_bytes
    too_large = PayloadTooLarge(f"request body over {limit} bytes")
    length = request.content_length
    if length is not None and length > limit:
        raise too_large
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType("send the body as application/json")
    # A body sent without Content-Length (chunked) is read up to the limit by Werkzeug, which
    # stops there silently: one byte more tells a body that is too large from one that fits.
    request.max_content_length = limit + 1
    body = request.get_data(cache=False)
    if len(body) > limit:
        raise too_large
    return parse_json(body)


# ---------------------------------------------------------------- discovery


@bp.get("/cds-services", **_RULE)
def discovery() -> Response:
    services = tuple(s.describe() for s in _state().registry.services)
    return jsonify(DiscoveryResponse(services=services).to_json())


@bp.get("/cds-services/openapi.json", **_RULE)
def openapi() -> Response:
    return jsonify(_state().openapi)


# ---------------------------------------------------------------- services


@bp.post("/cds-services/<service_id>", **_RULE)
def invoke(service_id: str) -> Response:
    state = _state()
    service = state.registry.get(service_id)
    if service is None:
        raise NotFound(f"no CDS service '{service_id}'")
    hook_request = parse_hook_request(_read_json(), service.hook)
    g.cds_hook_instance = hook_request.hook_instance
    source, no_source_reason = _fhir_source(hook_request)

    clients: dict[str, Any] = {}

    def client_for(src: FhirSource) -> Any:
        if "client" not in clients:
            clients["client"] = state.client_factory(src)
        return clients["client"]

    try:
        by_key = collect(hook_request, service.prefetch, source, client_for, no_source_reason)
        _check_patient(hook_request, by_key.get("patient", []))
        resources = [r for key in service.prefetch for r in by_key.get(key, [])]
        drafts: list[dict[str, Any]] = []
        if service.hook != "patient-view":
            drafts = hook_request.draft_orders()
            # A Medication sent with the draft orders resolves their references, selected or not.
            resources += [
                r
                for r in hook_request.all_draft_orders()
                if r.get("resourceType") == "Medication" and not any(r is d for d in drafts)
            ]
        resources += resolve_medications(resources, drafts, source, client_for, no_source_reason)
    finally:
        close = getattr(clients.get("client"), "close", None)
        if callable(close):
            close()

    assessment, orders = state.engine.assess(resources, drafts, as_of_today(state.settings.frozen_today))
    all_drafts = hook_request.all_draft_orders()
    ctx = RenderContext(
        hook=service.hook,
        public_base_url=state.settings.public_base_url,
        patient_id=hook_request.patient_id,
        new_uuid=state.new_uuid,
        user_id=hook_request.context.get("userId"),
        encounter_id=hook_request.context.get("encounterId"),
        drafts={ref: r for r in all_drafts if (ref := _ref(r))},
        known={ref: r for r in resources if (ref := _ref(r))},
        proposed=tuple(orders),
    )
    rendered = render(assessment, ctx)
    response = CdsResponse(cards=tuple(r.card for r in rendered))
    g.cds_finding_ids = [fid for r in rendered for fid in r.finding_ids]
    if rendered:
        g.cds_card_findings = [(r.card.uuid, fid) for r in rendered for fid in r.finding_ids]
        g.cds_cards_issued_at = datetime.now(UTC)
        for r in rendered:
            metrics.CARDS.labels(service.id, r.card.indicator).inc()
    return jsonify(response.to_json())


def _ref(resource: dict[str, Any]) -> str:
    """`Type/id`, or "" when the id is not a FHIR id: cards never name a resource by an invalid one."""
    rid = resource.get("id")
    return f"{resource.get('resourceType')}/{rid}" if isinstance(rid, str) and FHIR_ID.fullmatch(rid) else ""


def _check_patient(hook_request: HookRequest, patients: list[dict[str, Any]]) -> None:
    """The patient resources must be the context's patient: a client's mismatch is its error
    (400); one the FHIR server returned leaves the service without the patient's data (412, C6)."""
    prefetched = (hook_request.prefetch or {}).get("patient")
    from_client = prefetched is not None and prefetched["resourceType"] != "OperationOutcome"
    for patient in patients:
        if patient.get("resourceType") != "Patient" or patient.get("id") != hook_request.patient_id:
            if from_client:
                raise BadRequest("prefetch.patient does not match context.patientId")
            raise PreconditionFailed("the FHIR server's Patient does not match context.patientId")


def _fhir_source(hook_request: HookRequest) -> tuple[FhirSource | None, str]:
    """The FHIR server the service may query for missing data (B2, C7, C8), or None and why not.

    A `fhirServer` the service must not use (plain http outside dev mode, or not allow-listed for
    the verified client) is ignored, not refused: it is never contacted, so the token never
    leaves, and a complete prefetch is still answered. Only missing data then gives 412 (C6).
    """
    if hook_request.fhir_server is None:
        return None, "no fhirServer to query"
    settings = _state().settings
    server = hook_request.fhir_server.rstrip("/")
    base = _base_url(server)
    client = g.get("cds_client")
    problem = ""
    if not settings.dev_mode and not server.lower().startswith("https://"):
        problem = "does not use https"
    # A verified client is held to its list even in dev mode; only anonymous dev calls are not.
    elif (client is not None or not settings.dev_mode) and not _allow_listed(
        base, client.issuer.fhir_servers if client else ()
    ):
        problem = "is not allow-listed for this CDS client"
    elif base is None:
        # Credentials or no host: what BaseUrl refuses that parse_hook_request lets through.
        problem = "is not a usable base URL"
    if problem:
        # The base URL without any user:password@, so the operator can allow-list it.
        parts = urlsplit(server)
        shown = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
        log.info("cds_hooks: fhirServer %s ignored: it %s", shown, problem)
        return None, f"the fhirServer {problem}, so it was not queried"
    token = hook_request.fhir_authorization.access_token if hook_request.fhir_authorization else None
    return FhirSource(base_url=server, token=token), ""


def _base_url(url: str) -> BaseUrl | None:
    try:
        return BaseUrl.parse(url)
    except ValueError:
        return None


def _allow_listed(base: BaseUrl | None, allowed: Iterable[str]) -> bool:
    """Compared as the FHIR client will call them: scheme and host in any case, a default port
    written or not (RFC 3986 §6.2.3), the path exactly but for a trailing slash."""
    return base is not None and any(_base_url(entry) == base for entry in allowed)


@bp.get("/cds-services/<service_id>", **_RULE)
def service_get(service_id: str) -> Response:
    # Peers (sandbox-cds-services, checklist G3) answer a GET on a service URL with 404.
    raise NotFound("CDS services are called with POST")


# ---------------------------------------------------------------- feedback


@bp.post("/cds-services/<service_id>/feedback", **_RULE)
def feedback(service_id: str) -> Response:
    state = _state()
    service = state.registry.get(service_id)
    if service is None:
        raise NotFound(f"no CDS service '{service_id}'")
    items = parse_feedback(_read_json())
    state.storage().record_feedback(service.id, items, datetime.now(UTC))
    return Response(status=200)
