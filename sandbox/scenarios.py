"""The synthetic patients as the sandbox lists them: by name, scenario and what each shows.

Many synthetic patients share a name, so every list names the scenario too. Shared by the
EHR simulator's patient list and the development SMART server's patient picker.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sandbox.loader import PATIENTS_DIR

SCENARIO_SYSTEM = "urn:aa-jak:synthetic-patient"  # the identifier make_scenarios.py gives each patient
_SCENARIO_NAME = re.compile(r"[a-z0-9_]{1,80}")


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


def _sidecar(name: str) -> dict[str, Any]:
    """The scenario's `<name>.expected.json`; {} when there is none (only plain names are read)."""
    path = PATIENTS_DIR / f"{name}.expected.json"
    if not name or not _SCENARIO_NAME.fullmatch(name) or not path.is_file():
        return {}
    try:
        sidecar = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return sidecar if isinstance(sidecar, dict) else {}


def scenario_description(name: str) -> str:
    """What the scenario shows, from its sidecar."""
    return str(_sidecar(name).get("description", ""))


def patient_rows(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """A Patient searchset as list rows: scenarios first, by scenario name, then the others by name.

    `at_order_sign`: the scenario's point is a draft order, which only order-sign sends to the rules.
    """
    rows = []
    for patient in (e.get("resource", {}) for e in bundle.get("entry", [])):
        if not patient.get("id"):
            continue
        scenario = scenario_of(patient)
        sidecar = _sidecar(scenario)
        rows.append(
            {
                "id": patient["id"],
                "name": patient_name(patient),
                "gender": patient.get("gender", ""),
                "birthDate": patient.get("birthDate", ""),
                "scenario": scenario,
                "description": str(sidecar.get("description", "")),
                "at_order_sign": bool(sidecar.get("draft_orders")),
            }
        )
    return sorted(rows, key=lambda r: (r["scenario"] == "", r["scenario"], r["name"]))
