"""Full launches over HTTP: app (test client) -> development SMART server -> sekmet-fhir."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from smart_fakes import make_app, make_settings
from smart_servers import core_or_standin, integration_knowledge, serve

pytestmark = pytest.mark.integration

APP_BASE = "http://localhost"


@pytest.fixture
def dev_smart(fhir_base_url: str) -> Any:
    """(base URL, Flask app) of the development SMART server (the app holds SMART_LOG)."""
    with _smart_server(fhir_base_url) as running:
        yield running


@pytest.fixture
def smart_server(dev_smart: tuple[str, Any]) -> str:
    return dev_smart[0]


@contextmanager
def _smart_server(fhir_base_url: str, **options: Any) -> Iterator[tuple[str, Any]]:
    from sandbox.fhir_server import free_port
    from sandbox.smart_server import create_smart_server

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = create_smart_server(
        fhir_base_url,
        base,
        clients=[{"client_id": "aa-jak-test", "redirect_uris": [f"{APP_BASE}/app/callback"]}],
        **options,
    )
    with serve(server, port):
        yield base, server


@pytest.fixture
def patient_id(loaded_patients: dict[str, list[str]]) -> str:
    for ids in loaded_patients.values():
        if ids:
            return ids[0]
    pytest.skip("no synthetic patient loaded")


@pytest.fixture
def product(tmp_path, smart_server, monkeypatch):
    return _product(tmp_path, smart_server, monkeypatch)


def _product(tmp_path: Any, smart_base: str, monkeypatch: Any) -> Any:
    core_or_standin(monkeypatch)
    settings = make_settings(
        tmp_path,
        public_base_url=APP_BASE,
        smart_clients=[{"iss": f"{smart_base}/fhir", "client_id": "aa-jak-test", "standalone": True}],
        frozen_today=None,
    )
    app = make_app(settings)
    app.extensions["smart_app"].knowledge_loader = integration_knowledge
    return app


def _follow_authorize(client, response) -> str:
    """The browser's part: follow the redirect to the SMART server and back to our callback."""
    assert response.status_code == 302, response.get_data(as_text=True)
    auth = requests.get(response.headers["Location"], allow_redirects=False, timeout=10)
    assert auth.status_code == 302, auth.text
    back = urlsplit(auth.headers["Location"])
    assert f"{back.scheme}://{back.netloc}" == APP_BASE
    callback = client.get(f"{back.path}?{back.query}")
    assert callback.status_code == 303, callback.get_data(as_text=True)
    return urlsplit(callback.headers["Location"]).path


def test_full_ehr_launch_over_http_shows_the_patient(product, smart_server, patient_id, fhir_base_url):
    launch = requests.post(f"{smart_server}/auth/launches", json={"patient": patient_id}, timeout=5).json()[
        "launch"
    ]
    client = product.test_client()
    path = _follow_authorize(
        client, client.get("/app/launch", query_string={"iss": f"{smart_server}/fhir", "launch": launch})
    )
    page = client.get(path)
    assert page.status_code == 200
    patient = requests.get(f"{fhir_base_url}/Patient/{patient_id}", timeout=5).json()
    family = patient["name"][0].get("family")
    if family:
        assert family in page.get_data(as_text=True)


def test_full_standalone_launch_over_http(product, smart_server, patient_id):
    client = product.test_client()
    r = client.get("/app/standalone", query_string={"iss": f"{smart_server}/fhir"})
    # Choose the patient at the SMART server (the hint a patient picker would give).
    r.headers["Location"] = r.headers["Location"] + f"&patient={patient_id}"
    path = _follow_authorize(client, r)
    assert client.get(path).status_code == 200


def test_salt_save_lands_in_sekmet(product, smart_server, patient_id, fhir_base_url):
    launch = requests.post(f"{smart_server}/auth/launches", json={"patient": patient_id}, timeout=5).json()[
        "launch"
    ]
    client = product.test_client()
    path = _follow_authorize(
        client, client.get("/app/launch", query_string={"iss": f"{smart_server}/fhir", "launch": launch})
    )
    form_page = client.get(path + "salt").get_data(as_text=True)
    form = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form_page).group(1),
        "form_id": re.search(r'name="form_id" value="([^"]+)"', form_page).group(1),
        "loss_vertex": "80",
        "loss_posterior": "50",
        "loss_right": "40",
        "loss_left": "40",
    }
    r = client.post(path + "salt", data=form)
    assert r.status_code == 303, r.get_data(as_text=True)
    assert "saved=created" in r.headers["Location"]
    again = client.post(path + "salt", data=form)
    assert "saved=exists" in again.headers["Location"]
    system = product.config["SETTINGS"].smart_salt_identifier_system
    found = requests.get(
        f"{fhir_base_url}/Observation", params={"identifier": f"{system}|{form['form_id']}"}, timeout=5
    ).json()
    entries = [e["resource"] for e in found.get("entry", [])]
    assert len(entries) == 1
    assert entries[0]["subject"]["reference"] == f"Patient/{patient_id}"
    assert entries[0]["valueQuantity"]["value"] == 58.4  # 80*.40 + 50*.24 + 40*.18 + 40*.18


def test_dev_server_requires_its_bearer_token(smart_server, patient_id):
    r = requests.get(f"{smart_server}/fhir/Patient/{patient_id}", timeout=5)
    assert r.status_code == 401


# --- medications by reference, online_access, nonce, authorize-post -------------------------------

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _create(fhir_base_url: str, resource: dict[str, Any]) -> str:
    r = requests.post(
        f"{fhir_base_url}/{resource['resourceType']}",
        json=resource,
        headers={"Content-Type": "application/fhir+json"},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture
def patient_on_baricitinib_by_reference(fhir_base_url: str) -> str:
    """A new patient (own identifier; the bundles stay untouched): AA, baricitinib ordered by reference."""
    pid = _create(
        fhir_base_url,
        {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:aa-jak:test:smart-medref", "value": str(uuid.uuid4())}],
            "name": [{"family": "Medref", "given": ["Mia"]}],
            "gender": "female",
            "birthDate": "1988-05-05",
        },
    )
    subject = {"reference": f"Patient/{pid}"}
    _create(
        fhir_base_url,
        {
            "resourceType": "Condition",
            "subject": subject,
            "clinicalStatus": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
                ]
            },
            "verificationStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                        "code": "confirmed",
                    }
                ]
            },
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "68225006"}]},
            "onsetDateTime": "2024-01-01",
        },
    )
    med = _create(
        fhir_base_url,
        {"resourceType": "Medication", "code": {"coding": [{"system": RXNORM, "code": "2047247"}]}},
    )
    _create(
        fhir_base_url,
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": subject,
            "authoredOn": "2025-12-01",
            "medicationReference": {"reference": f"Medication/{med}"},  # no display, not contained
            "dosageInstruction": [{"text": "2 mg once daily"}],
        },
    )
    return pid


def test_medication_by_reference_over_http_shows_on_therapy(
    product, dev_smart, patient_on_baricitinib_by_reference
):
    base, server = dev_smart
    launch = requests.post(
        f"{base}/auth/launches", json={"patient": patient_on_baricitinib_by_reference}, timeout=5
    ).json()["launch"]
    client = product.test_client()
    path = _follow_authorize(
        client, client.get("/app/launch", query_string={"iss": f"{base}/fhir", "launch": launch})
    )
    body = client.get(path).get_data(as_text=True)
    assert "On therapy" in body
    assert "Baricitinib" in body
    asked = server.config["SMART_LOG"]["authorize"][-1]
    assert "online_access" in asked["scope"].split()  # the dev server advertises permission-online
    assert "offline_access" not in asked["scope"].split()
    assert asked["nonce"]  # echoed in the id_token, which the app validated
    assert server.config["SMART_LOG"]["authorize_method"][-1] == "GET"  # no authorize-post advertised


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action") or ""
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a.get("name") or ""] = a.get("value") or ""


def test_authorize_post_over_http(fhir_base_url, patient_id, tmp_path, monkeypatch):
    with _smart_server(fhir_base_url, authorize_post=True) as (base, server):
        product = _product(tmp_path, base, monkeypatch)
        launch = requests.post(f"{base}/auth/launches", json={"patient": patient_id}, timeout=5).json()[
            "launch"
        ]
        client = product.test_client()
        r = client.get("/app/launch", query_string={"iss": f"{base}/fhir", "launch": launch})
        assert r.status_code == 200, r.get_data(as_text=True)
        form = _Form()
        form.feed(r.get_data(as_text=True))
        assert form.action == f"{base}/auth/authorize"
        auth = requests.post(form.action, data=form.fields, allow_redirects=False, timeout=10)
        assert auth.status_code == 302, auth.text
        back = urlsplit(auth.headers["Location"])
        callback = client.get(f"{back.path}?{back.query}")
        assert callback.status_code == 303, callback.get_data(as_text=True)
        assert client.get(urlsplit(callback.headers["Location"]).path).status_code == 200
        assert server.config["SMART_LOG"]["authorize"][-1]["launch"] == launch
        assert server.config["SMART_LOG"]["authorize_method"][-1] == "POST"
