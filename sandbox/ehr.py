"""The EHR simulator: the page a newcomer opens at `/` of the sandbox app.

It plays the EHR's part against the product, the way the public CDS Hooks Sandbox does
(cds-hooks.md §K): it reads discovery, fills the prefetch templates itself from the FHIR
server, calls the service with an ES384 JWT whose `aud` is the exact URL called, renders
the cards, and sends feedback on accept/dismiss (with no override reason unless one is chosen).
Its public key is served at `/.well-known/jwks.json`. "Launch app" creates a launch on the
development SMART server and opens `{product}/app/launch?iss={sandbox}/fhir&launch=...`.

A scenario whose point is a draft order shows its result only at order-sign (patient-view
sends no drafts), so its chart offers to sign that draft, as loaded on the FHIR server, in
one click.

All calls to the product are made server-side (no CORS involved). The FHIR server named in
`fhirServer` is the open sekmet server, so no `fhirAuthorization` is sent (K3).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests
from flask import Blueprint, Flask, abort, current_app, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from sandbox.keys import SigningKey
from sandbox.scenarios import patient_name, patient_rows, scenario_description, scenario_of
from smart_app.markdown import render_markdown as _render_markdown

logger = logging.getLogger("sandbox.ehr")

bp = Blueprint("ehr", __name__, template_folder="templates")

PRACTITIONER = "Practitioner/sandbox-practitioner"
FREQUENCIES = {"1": "once daily", "2": "twice daily"}
_TEMPLATE_TOKEN = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")


@dataclass(frozen=True)
class EhrConfig:
    """Where things are. `fhir_upstream` is sekmet itself; `public_base` is this sandbox app."""

    fhir_upstream: str
    public_base: str
    product_base: str
    signing_key: SigningKey
    timeout_s: float = 10.0

    @property
    def iss(self) -> str:
        return self.public_base.rstrip("/")

    @property
    def jku(self) -> str:
        return f"{self.iss}/.well-known/jwks.json"

    @property
    def smart_iss(self) -> str:
        return f"{self.iss}/fhir"


def init_app(app: Flask, config: EhrConfig) -> None:
    app.extensions["sandbox_ehr"] = config
    app.register_blueprint(bp)


def _config() -> EhrConfig:
    config: EhrConfig = current_app.extensions["sandbox_ehr"]
    return config


# --- talking to the product -------------------------------------------------------------


def _cds_headers(url: str) -> dict[str, str]:
    config = _config()
    token = config.signing_key.cds_jwt(iss=config.iss, aud=url, jku=config.jku)
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def discover_services() -> list[dict[str, Any]]:
    config = _config()
    url = f"{config.product_base.rstrip('/')}/cds-services"
    response = requests.get(url, headers=_cds_headers(url), timeout=config.timeout_s)
    response.raise_for_status()
    services: list[dict[str, Any]] = response.json().get("services", [])
    return services


def _fill_template(template: str, context: dict[str, Any]) -> str | None:
    """Replace `{{context.x}}` (and the 1.0 `{{userPractitionerId}}`) tokens; None if one is unknown."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        legacy = name == "userPractitionerId"  # CDS Hooks 1.0: the bare id of the user
        raw = context.get("userId" if legacy else name.removeprefix("context."))
        if not isinstance(raw, str):
            missing = True
            return ""
        return raw.split("/")[-1] if legacy else raw

    filled = _TEMPLATE_TOKEN.sub(value, template)
    return None if missing else filled


def fill_prefetch(templates: dict[str, str], context: dict[str, Any]) -> dict[str, Any]:
    """Fetch each prefetch template from the FHIR server; a failed fetch leaves the key out."""
    config = _config()
    prefetch: dict[str, Any] = {}
    for key, template in templates.items():
        query = _fill_template(template, context)
        if query is None:
            continue
        try:
            response = requests.get(
                f"{config.fhir_upstream.rstrip('/')}/{query}",
                headers={"Accept": "application/fhir+json"},
                timeout=config.timeout_s,
            )
        except requests.RequestException:
            logger.warning("prefetch failed", extra={"prefetch_key": key})
            continue
        if response.status_code == 404:
            prefetch[key] = None
        elif response.ok:
            prefetch[key] = response.json()
        else:
            logger.warning("prefetch failed", extra={"prefetch_key": key, "status": response.status_code})
    return prefetch


def call_service(service: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Call one CDS service; returns {service, status, cards|error}."""
    config = _config()
    url = f"{config.product_base.rstrip('/')}/cds-services/{quote(service['id'], safe='')}"
    body = {
        "hookInstance": str(uuid.uuid4()),
        "hook": service["hook"],
        "fhirServer": config.fhir_upstream,
        "context": context,
        "prefetch": fill_prefetch(service.get("prefetch") or {}, context),
    }
    try:
        response = requests.post(url, json=body, headers=_cds_headers(url), timeout=config.timeout_s)
    except requests.RequestException as exc:
        return {"service": service, "status": None, "cards": [], "error": str(exc)}
    result: dict[str, Any] = {"service": service, "status": response.status_code, "cards": []}
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.ok and isinstance(payload, dict):
        result["cards"] = payload.get("cards", [])
        result["system_actions"] = payload.get("systemActions", [])
    else:
        result["error"] = json.dumps(payload, indent=2) if payload is not None else response.text[:2000]
    return result


def run_hook(hook: str, context: dict[str, Any]) -> list[dict[str, Any]]:
    return [call_service(s, context) for s in discover_services() if s.get("hook") == hook]


def send_feedback(service_id: str, feedback: dict[str, Any]) -> int:
    config = _config()
    url = f"{config.product_base.rstrip('/')}/cds-services/{quote(service_id, safe='')}/feedback"
    response = requests.post(
        url, json={"feedback": [feedback]}, headers=_cds_headers(url), timeout=config.timeout_s
    )
    return response.status_code


# --- FHIR data for the pages ------------------------------------------------------------


def _fhir_get(path: str, **params: Any) -> dict[str, Any]:
    config = _config()
    response = requests.get(
        f"{config.fhir_upstream.rstrip('/')}/{path}",
        params=params,
        headers={"Accept": "application/fhir+json"},
        timeout=config.timeout_s,
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def list_patients() -> list[dict[str, Any]]:
    return patient_rows(_fhir_get("Patient", _count=200))


def draft_orders_on_file(patient_id: str) -> list[dict[str, Any]]:
    """The patient's draft MedicationRequests on the FHIR server (a scenario's proposed order).

    A scenario whose point is a draft order is loaded with it, re-anchored like the rest of the
    scenario; patient-view never sends drafts to the rules, so the chart offers to sign them.
    """
    try:
        bundle = _fhir_get("MedicationRequest", patient=patient_id, status="draft")
    except requests.RequestException:
        logger.warning("draft order search failed")
        return []
    resources = (e.get("resource", {}) for e in bundle.get("entry", []))
    # A server that ignores the status parameter returns every order: keep only the drafts.
    return [
        r for r in resources if r.get("resourceType") == "MedicationRequest" and r.get("status") == "draft"
    ]


def order_choices() -> list[dict[str, Any]]:
    """Oral JAK inhibitor products (SCDs with a strength) from the product's knowledge file."""
    from clinical_core import load_knowledge

    knowledge = load_knowledge()
    choices = []
    for key, value_set in knowledge.value_sets.items():
        if not key.startswith("medication.") or key.endswith("_topical"):
            continue
        for entry in value_set.codes:
            if entry.strength_mg is not None and "[" not in entry.display:
                choices.append(
                    {
                        "code": entry.code,
                        "system": entry.system,
                        "display": entry.display,
                        "mg": entry.strength_mg,
                    }
                )
    return choices


def draft_medication_request(patient_id: str, choice: dict[str, Any], per_day: str) -> dict[str, Any]:
    frequency = int(per_day)
    mg = choice["mg"]
    mg_value = int(mg) if float(mg).is_integer() else mg
    return {
        "resourceType": "MedicationRequest",
        "id": f"draft-{uuid.uuid4().hex[:12]}",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": choice["system"], "code": choice["code"], "display": choice["display"]}],
            "text": choice["display"],
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": date.today().isoformat(),  # the sandbox is an edge: it may ask for today
        "requester": {"reference": PRACTITIONER},
        "dosageInstruction": [
            {
                "text": f"{mg_value} mg by mouth {FREQUENCIES[per_day]}",
                "timing": {"repeat": {"frequency": frequency, "period": 1, "periodUnit": "d"}},
                "route": {
                    "coding": [{"system": "http://snomed.info/sct", "code": "26643006", "display": "Oral"}]
                },
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": mg_value,
                            "unit": "mg",
                            "system": "http://unitsofmeasure.org",
                            "code": "mg",
                        }
                    }
                ],
            }
        ],
    }


# --- rendering helpers ------------------------------------------------------------------


def render_markdown(text: str | None) -> Markup:
    """Card markdown as an EHR shows it: CommonMark, with raw HTML escaped, never passed through."""
    return _render_markdown(text) if text else Markup("")


@bp.app_template_filter("markdown")
def _markdown_filter(text: str | None) -> Markup:
    return render_markdown(text)


# --- views ------------------------------------------------------------------------------


@bp.get("/")
def index() -> str:
    error = None
    try:
        patients = list_patients()
    except requests.RequestException as exc:
        patients, error = [], f"The FHIR server did not answer: {exc}"
    return render_template("ehr/index.html", patients=patients, error=error, config=_config())


def _patient_or_404(patient_id: str) -> dict[str, Any]:
    try:
        return _fhir_get(f"Patient/{quote(patient_id, safe='')}")
    except requests.HTTPError:
        abort(404)


@bp.get("/patients/<patient_id>")
def patient(patient_id: str) -> str:
    return _render_patient(_patient_or_404(patient_id))


@bp.post("/patients/<patient_id>/patient-view")
def patient_view(patient_id: str) -> str:
    resource = _patient_or_404(patient_id)
    context = {"userId": PRACTITIONER, "patientId": patient_id}
    return _render_patient(resource, "patient-view", run_hook("patient-view", context))


@bp.post("/patients/<patient_id>/order-sign")
def order_sign(patient_id: str) -> str:
    resource = _patient_or_404(patient_id)
    drafts = _drafts_to_sign(patient_id)
    context = {
        "userId": PRACTITIONER,
        "patientId": patient_id,
        "draftOrders": {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": draft} for draft in drafts],
        },
    }
    return _render_patient(resource, "order-sign", run_hook("order-sign", context), drafts=drafts)


def _drafts_to_sign(patient_id: str) -> list[dict[str, Any]]:
    """The draft orders on file (the scenario's one click), else one for the product picked by hand."""
    if request.form.get("drafts") == "on-file":
        drafts = draft_orders_on_file(patient_id)
        if not drafts:
            abort(400, "This patient has no draft order on file")
        return drafts
    choice = {c["code"]: c for c in order_choices()}.get(request.form.get("code", ""))
    per_day = request.form.get("per_day", "1")
    if choice is None or per_day not in FREQUENCIES:
        abort(400, "Pick a product and a frequency")
    return [draft_medication_request(patient_id, choice, per_day)]


def _render_patient(
    resource: dict[str, Any],
    hook: str | None = None,
    results: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> str:
    scenario = scenario_of(resource)
    return render_template(
        "ehr/patient.html",
        patient=resource,
        name=patient_name(resource),
        scenario=scenario,
        description=scenario_description(scenario),
        drafts_on_file=draft_orders_on_file(str(resource["id"])),
        choices=order_choices(),
        frequencies=FREQUENCIES,
        config=_config(),
        results=results,
        hook=hook,
        **extra,
    )


@bp.post("/feedback")
def feedback() -> tuple[WerkzeugResponse, int] | WerkzeugResponse:
    """Accept or dismiss a card: CDS Hooks 2.0 feedback (`accepted` / `overridden`)."""
    service_id = request.form.get("service_id", "")
    card_uuid = request.form.get("card_uuid", "")
    outcome = request.form.get("outcome", "")
    if not service_id or not card_uuid or outcome not in ("accepted", "overridden"):
        abort(400, "service_id, card_uuid and outcome (accepted|overridden) are required")
    item: dict[str, Any] = {
        "card": card_uuid,
        "outcome": outcome,
        "outcomeTimestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    if outcome == "accepted" and request.form.get("suggestion_uuid"):
        item["acceptedSuggestions"] = [{"id": request.form["suggestion_uuid"]}]
    override = override_reason(request.form)
    if outcome == "overridden" and override:
        item["overrideReason"] = override
    status = send_feedback(service_id, item)
    back = request.form.get("patient_id")
    if request.accept_mimetypes.best == "application/json" or not back:
        return jsonify(status=status, feedback=item), 200
    return redirect(url_for("ehr.patient", patient_id=back, feedback=status))


def override_reason(form: Mapping[str, str]) -> dict[str, Any]:
    """`overrideReason` from the dismiss form: the reason the user chose and their comment, if any.

    The form preselects no reason: a preselected one would be recorded as the user's choice.
    """
    override: dict[str, Any] = {}
    if form.get("override_reason"):
        override["reason"] = json.loads(form["override_reason"])
    if form.get("override_comment"):
        override["userComment"] = form["override_comment"]
    return override


@bp.post("/patients/<patient_id>/launch")
def launch(patient_id: str) -> WerkzeugResponse:
    """Create a launch on the development SMART server and open the app with it (EHR launch)."""
    _patient_or_404(patient_id)
    config = _config()
    target = request.form.get("url") or f"{config.product_base.rstrip('/')}/app/launch"
    if not target.startswith(config.product_base.rstrip("/") + "/"):
        abort(400, "Only the product's own launch URL can be opened from here")
    created = current_app.test_client().post(
        "/auth/launches", json={"patient": patient_id, "user": PRACTITIONER}
    )
    if created.status_code >= 400 or not isinstance(created.json, dict) or "launch" not in created.json:
        abort(502, f"The SMART server did not create a launch ({created.status_code})")
    query = urlencode({"iss": config.smart_iss, "launch": created.json["launch"]})
    return redirect(f"{target}{'&' if '?' in target else '?'}{query}")


@bp.get("/.well-known/jwks.json")
def jwks() -> WerkzeugResponse:
    """The public key the product uses to verify this EHR's CDS Hooks JWTs."""
    response = jsonify(_config().signing_key.public_jwks())
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
