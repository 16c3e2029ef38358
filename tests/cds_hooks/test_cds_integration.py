"""Over real HTTP against sekmet-fhir (fixture `fhir_base_url` in tests/conftest.py).

For every synthetic patient on the server: patient-view (and order-sign where the
patient has draft MedicationRequests) gives the same cards by prefetch, filled the
way a CDS client fills it (the sandbox's way: the templates run against the FHIR
server), and by fallback (no prefetch; the service queries `fhirServer`).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from test_cds_cards import check_card_invariants

from cds_hooks.data import render_template

pytestmark = pytest.mark.integration
PV = "/cds-services/aa-jak-patient-view"
SIGN = "/cds-services/aa-jak-order-sign"


def client_prefetch(fhir_base_url: str, templates: dict[str, str], context: dict[str, Any]) -> dict[str, Any]:
    """What a CDS client would send: each template's result; searches as Bundles."""
    import requests

    prefetch: dict[str, Any] = {}
    with requests.Session() as session:
        for key, template in templates.items():
            query = render_template(template, context)
            response = session.get(f"{fhir_base_url}/{query}", timeout=10)
            response.raise_for_status()
            prefetch[key] = response.json()
    return prefetch


def cases(loaded_patients: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(name, pid) for name, ids in sorted(loaded_patients.items()) for pid in ids]


def test_integration_prefetch_and_fallback_give_the_same_cards(make_real_app, fhir_base_url, loaded_patients):
    from fhir_access import FhirClient

    assert loaded_patients, "no synthetic patients on the server"
    app = make_real_app()
    state = app.extensions["cds_hooks"]
    client = app.test_client()
    templates = dict(state.registry.get("aa-jak-patient-view").prefetch)
    checked = 0
    for name, patient_id in cases(loaded_patients):
        context: dict[str, Any] = {"userId": "Practitioner/doc-1", "patientId": patient_id}
        prefetch = client_prefetch(fhir_base_url, templates, context)
        with FhirClient(fhir_base_url) as fhir:
            requests_ = fhir.search_url(f"MedicationRequest?patient={patient_id}")
        drafts = [r for r in requests_ if r.get("status") == "draft"]
        hooks = [("patient-view", PV, dict(context))]
        if drafts:
            sign_context = dict(context)
            sign_context["draftOrders"] = {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": d} for d in drafts],
            }
            hooks.append(("order-sign", SIGN, sign_context))
        for hook, path, hook_context in hooks:
            answers = []
            for with_prefetch in (True, False):
                counter = iter(range(1, 10_000))  # the same uuid sequence for both answers
                state.new_uuid = lambda counter=counter: str(uuid.UUID(int=next(counter)))
                body: dict[str, Any] = {
                    "hook": hook,
                    "hookInstance": str(uuid.uuid4()),
                    "context": hook_context,
                    "fhirServer": fhir_base_url,
                }
                if with_prefetch:
                    body["prefetch"] = prefetch
                response = client.post(path, json=body)
                assert response.status_code == 200, (name, hook, with_prefetch, response.get_json())
                answers.append(response.get_json())
            assert answers[0] == answers[1], (name, hook)
            for card in answers[0]["cards"]:
                check_card_invariants(card)
            checked += 1
    assert checked >= len(loaded_patients)
