"""The EHR simulator: the page a newcomer opens at `/` of the sandbox app.

It plays the EHR's part against the product, the way the public CDS Hooks Sandbox does
(cds-hooks.md §K): it reads discovery, fills the prefetch templates itself from the FHIR
server, calls the service with an ES384 JWT whose `aud` is the exact URL called, renders
the cards, and sends feedback on accept/dismiss. Its public key is served at
`/.well-known/jwks.json`. "Launch app" creates a launch on the development SMART server
and opens `{product}/app/launch?iss={sandbox}/fhir&launch=...`.

All calls to the product are made server-side (no CORS involved). The FHIR server named in
`fhirServer` is the open sekmet server, so no `fhirAuthorization` is sent (K3).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests
from flask import Blueprint, Flask, abort, current_app, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as WerkzeugResponse

from sandbox.keys import SigningKey
from sandbox.loader import PATIENTS_DIR
from smart_app.markdown import render_markdown as _render_markdown

logger = logging.getLogger("sandbox.ehr")

bp = Blueprint("ehr", __name__, template_folder="templates")

PRACTITIONER = "Practitioner/sandbox-practitioner"
FREQUENCIES = {"1": "once daily", "2": "twice daily"}
SCENARIO_SYSTEM = "urn:aa-jak:synthetic-patient"  # the identifier make_scenarios.py gives each patient
_SCENARIO_NAME = re.compile(r"[a-z0-9_]{1,80}")
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


def patient_name(patient: dict[str, Any]) -> str:
    for name in patient.get("name", []):
        if name.get("text"):
            return str(name["text"])
        parts = [*name.get("given", []), name.get("family", "")]
        if any(parts):
            return " ".join(p for p in parts if p)
    return f"Patient/{patient.get('id')}"


def scenario_of(patient: dict[str, Any]) -> str:
    """The synthetic scenario a loaded patient came from ("" for any other patient)."""
    for identifier in patient.get("identifier", []):
        if identifier.get("system") == SCENARIO_SYSTEM and isinstance(identifier.get("value"), str):
            return str(identifier["value"])
    return ""


def scenario_description(name: str) -> str:
    """What the scenario shows, from its sidecar: many patients share a name, so the list needs it."""
    sidecar = PATIENTS_DIR / f"{name}.expected.json"
    if not name or not _SCENARIO_NAME.fullmatch(name) or not sidecar.is_file():
        return ""
    try:
        return str(json.loads(sidecar.read_text()).get("description", ""))
    except (OSError, ValueError):
        return ""


def list_patients() -> list[dict[str, Any]]:
    bundle = _fhir_get("Patient", _count=200)
    patients = [
        {
            "id": p["id"],
            "name": patient_name(p),
            "gender": p.get("gender", ""),
            "birthDate": p.get("birthDate", ""),
            "scenario": (scenario := scenario_of(p)),
            "description": scenario_description(scenario),
        }
        for p in (e.get("resource", {}) for e in bundle.get("entry", []))
        if p.get("id")
    ]
    return sorted(patients, key=lambda p: (p["scenario"] == "", p["scenario"], p["name"]))


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
    choices = {c["code"]: c for c in order_choices()}
    choice = choices.get(request.form.get("code", ""))
    per_day = request.form.get("per_day", "1")
    if choice is None or per_day not in FREQUENCIES:
        abort(400, "Pick a product and a frequency")
    draft = draft_medication_request(patient_id, choice, per_day)
    context = {
        "userId": PRACTITIONER,
        "patientId": patient_id,
        "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": draft}]},
    }
    return _render_patient(resource, "order-sign", run_hook("order-sign", context), draft=draft)


def _render_patient(
    resource: dict[str, Any],
    hook: str | None = None,
    results: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> str:
    return render_template(
        "ehr/patient.html",
        patient=resource,
        name=patient_name(resource),
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
    reason = request.form.get("override_reason")
    if outcome == "overridden" and reason:
        item["overrideReason"] = {"reason": json.loads(reason)}
        if request.form.get("override_comment"):
            item["overrideReason"]["userComment"] = request.form["override_comment"]
    status = send_feedback(service_id, item)
    back = request.form.get("patient_id")
    if request.accept_mimetypes.best == "application/json" or not back:
        return jsonify(status=status, feedback=item), 200
    return redirect(url_for("ehr.patient", patient_id=back, feedback=status))


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
