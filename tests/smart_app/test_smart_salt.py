"""SALT calculator and write-back (conditional create, CSRF, server answers)."""

from __future__ import annotations

import json
import re
import uuid

from smart_fakes import SALT_SYSTEM, Launcher, make_knowledge

from smart_app.knowledge_view import salt_model
from smart_app.salt import build_observation, validate_r4


def _form(client, path):
    body = client.get(path + "salt").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)
    form_id = re.search(r'name="form_id" value="([^"]+)"', body).group(1)
    return {
        "csrf_token": csrf,
        "form_id": form_id,
        "loss_vertex": "50",
        "loss_posterior": "25",
        "loss_right": "100",
        "loss_left": "0",
    }


def test_salt_score_uses_knowledge_weights_and_iga_bands():
    model = salt_model(make_knowledge())
    assert model.score({"vertex": 50, "posterior": 25, "right": 100, "left": 0}) == 44.0
    assert model.iga(44.0) == (2, "Moderate")
    assert model.iga(0) == (0, "None") and model.iga(100) == (4, "Very severe")


def test_salt_model_reads_the_project_knowledge_file():
    from clinical_core import load_knowledge

    model = salt_model(load_knowledge())
    assert model is not None, "knowledge file lacks salt: weights/bands or codes"
    assert {m: round(w, 2) for m, _, w in model.regions} == {
        "vertex": 0.4,
        "posterior": 0.24,
        "right": 0.18,
        "left": 0.18,
    }
    assert len(model.iga_bands) == 5 and model.iga_code is not None


def test_salt_observation_is_valid_r4_with_components_identifier_and_performer():
    from datetime import UTC, datetime

    model = salt_model(make_knowledge())
    obs = build_observation(
        model,
        {"vertex": 100, "posterior": 100, "right": 100, "left": 100},
        patient_id="p1",
        encounter_id="e1",
        performer="Practitioner/x",
        effective=datetime(2026, 4, 20, tzinfo=UTC),
        identifier_system="urn:test:id",
        identifier_value=str(uuid.uuid4()),
    )
    assert validate_r4(obs) == []
    assert obs["status"] == "final" and obs["category"][0]["coding"][0]["code"] == "exam"
    assert obs["code"]["coding"][0] == {"system": SALT_SYSTEM, "code": "SALT", "display": "SALT score"}
    assert obs["valueQuantity"]["value"] == 100.0
    assert [c["code"]["coding"][0]["code"] for c in obs["component"]] == [
        "SALT-vertex",
        "SALT-posterior",
        "SALT-right",
        "SALT-left",
        "AA-IGA",
    ]
    assert obs["encounter"] == {"reference": "Encounter/e1"}
    assert obs["performer"] == [{"reference": "Practitioner/x"}]


def test_salt_form_has_csrf_and_a_fresh_identifier(launcher: Launcher, client):
    path = launcher.launch()
    a, b = _form(client, path), _form(client, path)
    assert a["form_id"] != b["form_id"]
    uuid.UUID(a["form_id"])
    body = client.get(path + "salt").get_data(as_text=True)
    assert '"weights"' in body.replace("&#34;", '"') and "salt.js" in body


def test_salt_save_is_a_conditional_create_and_dashboard_shows_the_new_point(launcher: Launcher, client, ehr):
    path = launcher.launch()
    form = _form(client, path)
    r = client.post(path + "salt", data=form)
    assert r.status_code == 303 and "saved=created" in r.headers["Location"]
    post = next(req for req in ehr.fhir_requests if req.method == "POST")
    assert (
        post.headers["If-None-Exist"]
        == f"identifier=urn:aa-jak:fhir:identifier:salt-observation|{form['form_id']}"
    )
    sent = json.loads(post.body)
    assert sent["subject"] == {"reference": "Patient/pat-a"}
    assert sent["performer"] == [{"reference": "Practitioner/prac-1"}]
    assert sent["valueQuantity"]["value"] == 44.0
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "201 Created" in page
    assert 'id="chart-salt" data-point-count="2"' in page
    assert not any(
        req.url.startswith("https://elsewhere") for req in ehr.fhir_requests
    )  # Location not followed


def test_salt_retry_does_not_duplicate(launcher: Launcher, client, ehr):
    path = launcher.launch()
    form = _form(client, path)
    client.post(path + "salt", data=form)
    r = client.post(path + "salt", data=form)
    assert "saved=exists" in r.headers["Location"]
    assert len(ehr.created) == 1


def test_salt_save_without_csrf_token_is_refused(launcher: Launcher, client, ehr):
    path = launcher.launch()
    form = _form(client, path)
    form["csrf_token"] = "forged"
    assert client.post(path + "salt", data=form).status_code == 400
    assert ehr.created == []


def test_csrf_token_of_one_context_does_not_work_in_another(launcher: Launcher, client, ehr):
    path_a = launcher.launch(patient="pat-a")
    path_b = launcher.launch(patient="pat-b")
    form = _form(client, path_a)
    assert client.post(path_b + "salt", data=form).status_code == 400


def test_salt_save_403_shows_the_server_answer_escaped(launcher: Launcher, client, ehr):
    path = launcher.launch()
    ehr.create_status = 403
    r = client.post(path + "salt", data=_form(client, path))
    body = r.get_data(as_text=True)
    assert r.status_code == 403 and 'data-status="403"' in body
    assert "&lt;script&gt;x&lt;/script&gt; not allowed" in body


def test_salt_save_server_error_shows_the_answer(launcher: Launcher, client, ehr):
    path = launcher.launch()
    ehr.create_status = 422
    r = client.post(path + "salt", data=_form(client, path))
    assert r.status_code == 502 and "HTTP 422" in r.get_data(as_text=True)


def test_salt_form_rejects_out_of_range_values(launcher: Launcher, client, ehr):
    path = launcher.launch()
    form = _form(client, path) | {"loss_vertex": "140", "loss_left": "<b>x</b>"}
    r = client.post(path + "salt", data=form)
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and "between 0 and 100" in body and "enter a number" in body
    assert "<b>x</b>" not in body
    assert ehr.created == []


def test_encounter_from_the_token_reaches_the_salt_observation(launcher: Launcher, client, ehr):
    ehr.token_extra = {"encounter": "enc-77"}
    path = launcher.launch()
    assert client.post(path + "salt", data=_form(client, path)).status_code == 303
    sent = json.loads(next(req for req in ehr.fhir_requests if req.method == "POST").body)
    assert sent["encounter"] == {"reference": "Encounter/enc-77"}


def test_salt_observation_has_no_encounter_when_the_token_has_none(launcher: Launcher, client, ehr):
    path = launcher.launch()
    client.post(path + "salt", data=_form(client, path))
    sent = json.loads(next(req for req in ehr.fhir_requests if req.method == "POST").body)
    assert "encounter" not in sent
