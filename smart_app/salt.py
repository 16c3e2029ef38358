"""SALT calculator: four regions' % hair loss -> SALT and AA-IGA, and the Observation written back.

The codes, region weights and AA-IGA bands come from the knowledge file
(`knowledge_view.salt_model`); the browser previews with the same numbers
(static/salt.js), and the server always recomputes.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from smart_app.knowledge_view import REGIONS, SaltModel

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
REGION_LABELS = {
    "vertex": "Vertex (top)",
    "posterior": "Posterior (back)",
    "right": "Right side",
    "left": "Left side",
}


def parse_form(form: Any) -> tuple[dict[str, float], list[str]]:
    """Region losses 0-100 from the form; problems as sentences (never echoing raw input)."""
    losses: dict[str, float] = {}
    problems: list[str] = []
    for region in REGIONS:
        raw = (form.get(f"loss_{region}") or "").strip()
        try:
            value = float(raw)
        except ValueError:
            problems.append(f"{REGION_LABELS[region]}: enter a number from 0 to 100.")
            continue
        if not 0 <= value <= 100 or value != value:
            problems.append(f"{REGION_LABELS[region]}: the percentage must be between 0 and 100.")
            continue
        losses[region] = round(value, 1)
    return losses, problems


def valid_form_id(value: str | None) -> str | None:
    try:
        return str(uuid.UUID(value or ""))
    except ValueError:
        return None


def _concept(code: Any) -> dict[str, Any]:
    return {
        "coding": [{"system": code.system, "code": code.code, "display": code.display}],
        "text": code.display,
    }


def _quantity(model: SaltModel, value: float) -> dict[str, Any]:
    return {"value": value, **model.unit}


def build_observation(
    model: SaltModel,
    losses: dict[str, float],
    *,
    patient_id: str,
    encounter_id: str | None,
    performer: str | None,
    effective: datetime,
    identifier_system: str,
    identifier_value: str,
) -> dict[str, Any]:
    """An R4 Observation: final, category exam, the SALT code, one component per region (and AA-IGA)."""
    salt = model.score(losses)
    components: list[dict[str, Any]] = [
        {"code": _concept(code), "valueQuantity": _quantity(model, losses[meaning])}
        for meaning, code, _ in model.regions
    ]
    iga = model.iga(salt)
    if iga is not None and model.iga_code is not None:
        components.append({"code": _concept(model.iga_code), "valueInteger": iga[0]})
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": identifier_system, "value": identifier_value}],
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "exam", "display": "Exam"}]}],
        "code": _concept(model.total),
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": effective.isoformat(timespec="seconds"),
        "valueQuantity": _quantity(model, salt),
        "component": components,
    }
    if encounter_id:
        obs["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    if performer:
        obs["performer"] = [{"reference": performer}]
    return obs


def region_losses(model: SaltModel, observation: dict[str, Any]) -> dict[str, float]:
    """The region losses a SALT Observation records, by region; regions it lacks are left out.

    Read from what the EHR returns, so every level is checked for its type.
    """
    regions: dict[tuple[object, object], str] = {
        (code.system, code.code): meaning for meaning, code, _ in model.regions
    }
    losses: dict[str, float] = {}
    for component in _dicts(observation.get("component")):
        quantity = component.get("valueQuantity")
        value = quantity.get("value") if isinstance(quantity, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        concept = component.get("code")
        for coding in _dicts(concept.get("coding") if isinstance(concept, dict) else None):
            meaning = regions.get((coding.get("system"), coding.get("code")))
            if meaning is not None:
                losses[meaning] = float(value)
    return losses


def salt_value(observation: dict[str, Any]) -> float | None:
    """The SALT score a SALT Observation records (from the EHR, so its type is checked)."""
    quantity = observation.get("valueQuantity")
    value = quantity.get("value") if isinstance(quantity, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def validate_r4(resource: dict[str, Any]) -> list[str]:
    """Problems found by fhir.resources' R4B Observation model (R4B = R4 for Observation)."""
    from fhir.resources.R4B.observation import Observation
    from pydantic import ValidationError

    try:
        Observation.model_validate(resource)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return []


def outcome_text(outcome: dict[str, Any] | None) -> list[str]:
    """Human-readable lines of an OperationOutcome (rendered escaped)."""
    if not outcome:
        return []
    lines = []
    for issue in outcome.get("issue") or []:
        text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code")
        if text:
            lines.append(f"{issue.get('severity', 'error')}: {str(text)[:300]}")
    return lines
