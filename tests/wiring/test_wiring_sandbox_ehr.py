"""The EHR simulator page (sandbox/ehr.py) against a mocked product and FHIR server."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses
from flask import Flask, jsonify

from sandbox import ehr, scenarios
from sandbox.keys import SigningKey
from sandbox.loader import PATIENTS_DIR
from sandbox.runner import SandboxPorts, create_sandbox_app, product_settings

FHIR = "http://fhir.test/fhir"
PRODUCT = "http://product.test"
SANDBOX = "http://sandbox.test"

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "name": [{"given": ["Ada"], "family": "Lovelace"}],
    "gender": "female",
    "birthDate": "1990-02-03",
}
SERVICE = {
    "id": "jak-aa-patient-view",
    "hook": "patient-view",
    "title": "JAK inhibitors for alopecia areata",
    "description": "x",
    "prefetch": {
        "patient": "Patient/{{context.patientId}}",
        "platelets": "Observation?patient={{context.patientId}}&code=http://loinc.org|777-3",
    },
}
CARD = {
    "uuid": "0f8c7e44-4b7d-4c19-9a0c-2d9d9c1f6a11",
    "summary": "Platelets below 50 x10^9/L",
    "indicator": "critical",
    "source": {"label": "Litfulo label", "url": "https://example.org/litfulo"},
    "detail": "**Interrupt** ritlecitinib.\n\n- repeat CBC\n\n`Observation/o1`\n\n<script>alert(1)</script>",
    "suggestions": [{"label": "Order CBC", "uuid": "5d3c1d1a-1a7e-4c55-9b37-7a8a4c4f2b22"}],
    "overrideReasons": [
        {"code": "patient-declined", "system": "http://example.org/reasons", "display": "Declined"}
    ],
    "links": [{"label": "Open the monitoring app", "url": f"{PRODUCT}/app/launch", "type": "smart"}],
}


@pytest.fixture
def key():
    return SigningKey.generate()


@pytest.fixture
def client(key):
    app = Flask(__name__)
    launches = []

    @app.post("/auth/launches")
    def create_launch():  # stands in for sandbox/smart_server.py
        from flask import request

        launches.append(request.get_json())
        return jsonify(launch="L-123"), 201

    ehr.init_app(
        app, ehr.EhrConfig(fhir_upstream=FHIR, public_base=SANDBOX, product_base=PRODUCT, signing_key=key)
    )
    app.launches = launches
    return app.test_client()


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{FHIR}/Patient/p1", json=PATIENT)
        mock.get(
            f"{FHIR}/Patient",
            json={"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": PATIENT}]},
        )
        mock.get(f"{FHIR}/Observation", json={"resourceType": "Bundle", "type": "searchset", "total": 0})
        mock.get(
            f"{FHIR}/MedicationRequest", json={"resourceType": "Bundle", "type": "searchset", "total": 0}
        )
        mock.get(f"{PRODUCT}/cds-services", json={"services": [SERVICE]})
        mock.post(f"{PRODUCT}/cds-services/{SERVICE['id']}", json={"cards": [CARD]})
        mock.post(f"{PRODUCT}/cds-services/{SERVICE['id']}/feedback", body="")
        yield mock


def verified_claims(key: SigningKey, authorization: str, aud: str) -> dict:
    token = authorization.removeprefix("Bearer ")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES384"
    assert header["typ"] == "JWT"
    assert header["kid"] == key.kid
    assert header["jku"] == f"{SANDBOX}/.well-known/jwks.json"
    public = jwt.PyJWK(key.public_jwks()["keys"][0]).key
    return jwt.decode(token, public, algorithms=["ES384"], audience=aud)


def test_index_lists_the_patients_from_the_fhir_server(client, mocked):
    page = client.get("/").get_data(as_text=True)
    assert "Ada Lovelace" in page
    assert "/patients/p1" in page


def test_index_names_each_synthetic_patient_by_its_scenario_and_description(client, mocked):
    """Many synthetic patients share a name: the scenario and its sidecar description tell them apart."""
    scenario = {
        **PATIENT,
        "id": "p2",
        "identifier": [{"system": scenarios.SCENARIO_SYSTEM, "value": "hbsag_positive"}],
    }
    entries = [{"resource": PATIENT}, {"resource": scenario}]
    mocked.replace(responses.GET, f"{FHIR}/Patient", json={"resourceType": "Bundle", "entry": entries})
    page = client.get("/").get_data(as_text=True)
    description = json.loads((PATIENTS_DIR / "hbsag_positive.expected.json").read_text())["description"]
    assert "<code>hbsag_positive</code>" in page
    assert html.escape(description) in page
    assert page.index("/patients/p2") < page.index("/patients/p1")  # scenarios first, by name


def test_scenario_description_is_read_only_for_plain_scenario_names():
    assert scenarios.scenario_description("../../etc/passwd") == ""
    assert scenarios.scenario_description("no_such_scenario") == ""


def test_jwks_serves_the_public_key_only(client, key):
    jwks = client.get("/.well-known/jwks.json").json
    assert jwks["keys"][0]["kid"] == key.kid
    assert jwks["keys"][0]["crv"] == "P-384"
    assert "d" not in jwks["keys"][0]


def test_patient_view_calls_the_service_with_a_signed_jwt_and_filled_prefetch(client, mocked, key):
    page = client.post("/patients/p1/patient-view").get_data(as_text=True)
    service_call = next(c for c in mocked.calls if c.request.url.endswith(f"/cds-services/{SERVICE['id']}"))
    url = f"{PRODUCT}/cds-services/{SERVICE['id']}"
    claims = verified_claims(key, service_call.request.headers["Authorization"], url)
    assert claims["iss"] == SANDBOX
    assert claims["exp"] - claims["iat"] == 300
    body = json.loads(service_call.request.body)
    assert body["hook"] == "patient-view"
    assert body["context"] == {"userId": ehr.PRACTITIONER, "patientId": "p1"}
    assert body["fhirServer"] == FHIR
    assert "fhirAuthorization" not in body
    assert body["prefetch"]["patient"] == PATIENT
    assert body["prefetch"]["platelets"]["resourceType"] == "Bundle"
    discovery = next(c for c in mocked.calls if c.request.url == f"{PRODUCT}/cds-services")
    verified_claims(key, discovery.request.headers["Authorization"], f"{PRODUCT}/cds-services")
    # the card is rendered, its markdown rendered simply and its HTML escaped
    assert "Platelets below 50 x10^9/L" in page
    assert "<strong>Interrupt</strong>" in page
    assert "<li>repeat CBC</li>" in page
    assert "<code>Observation/o1</code>" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert "Order CBC" in page
    assert 'href="https://example.org/litfulo"' in page


def test_prefetch_template_with_unknown_token_is_left_out(client, mocked):
    with client.application.test_request_context():
        assert ehr._fill_template("Encounter/{{context.encounterId}}", {"patientId": "p1"}) is None
        assert (
            ehr._fill_template("Practitioner/{{userPractitionerId}}", {"userId": "Practitioner/x"})
            == "Practitioner/x"
        )
        assert ehr._fill_template("Patient/{{context.patientId}}", {"patientId": "p1"}) == "Patient/p1"


def test_accepting_a_suggestion_sends_feedback_with_aud_of_the_feedback_url(client, mocked, key):
    response = client.post(
        "/feedback",
        data={
            "service_id": SERVICE["id"],
            "card_uuid": CARD["uuid"],
            "outcome": "accepted",
            "suggestion_uuid": CARD["suggestions"][0]["uuid"],
            "patient_id": "p1",
        },
    )
    assert response.status_code == 302
    call = mocked.calls[-1]
    url = f"{PRODUCT}/cds-services/{SERVICE['id']}/feedback"
    assert call.request.url == url
    verified_claims(key, call.request.headers["Authorization"], url)
    (item,) = json.loads(call.request.body)["feedback"]
    assert item["card"] == CARD["uuid"]
    assert item["outcome"] == "accepted"
    assert item["acceptedSuggestions"] == [{"id": CARD["suggestions"][0]["uuid"]}]
    assert item["outcomeTimestamp"].endswith("Z")


def test_dismissing_with_an_override_reason_sends_it(client, mocked):
    reason = CARD["overrideReasons"][0]
    client.post(
        "/feedback",
        data={
            "service_id": SERVICE["id"],
            "card_uuid": CARD["uuid"],
            "outcome": "overridden",
            "override_reason": json.dumps(reason),
            "override_comment": "discussed",
            "patient_id": "p1",
        },
    )
    (item,) = json.loads(mocked.calls[-1].request.body)["feedback"]
    assert item["outcome"] == "overridden"
    assert item["overrideReason"] == {"reason": reason, "userComment": "discussed"}


def test_dismiss_form_preselects_no_override_reason(client, mocked):
    """A preselected reason would be sent as the clinician's choice when they just click Dismiss."""
    page = client.post("/patients/p1/patient-view").get_data(as_text=True)
    start = page.index('<select name="override_reason">')
    select = page[start : page.index("</select>", start)]
    options = re.findall(r"<option[^>]*>[^<]*</option>", select)
    assert options[0] == '<option value="" selected>No reason given</option>'
    assert [o for o in options if "selected" in o] == [options[0]]
    assert len(options) == 1 + len(CARD["overrideReasons"])


def _dismissed(client, mocked, comment: str) -> dict:
    """The feedback item the simulator sends for a dismissal with no reason chosen."""
    form = {
        "service_id": SERVICE["id"],
        "card_uuid": CARD["uuid"],
        "outcome": "overridden",
        "override_reason": "",
        "override_comment": comment,
        "patient_id": "p1",
    }
    client.post("/feedback", data=form)
    (item,) = json.loads(mocked.calls[-1].request.body)["feedback"]
    return item


def test_dismissing_without_choosing_a_reason_sends_no_override_reason(client, mocked):
    item = _dismissed(client, mocked, "")
    assert item["outcome"] == "overridden"
    assert "overrideReason" not in item


def test_dismissing_with_only_a_comment_sends_the_comment_without_a_reason(client, mocked):
    item = _dismissed(client, mocked, "seen by dermatology")
    assert item["overrideReason"] == {"userComment": "seen by dermatology"}


def test_feedback_rejects_an_unknown_outcome(client, mocked):
    assert (
        client.post("/feedback", data={"service_id": "x", "card_uuid": "y", "outcome": "maybe"}).status_code
        == 400
    )


def test_order_sign_sends_a_draft_medication_request_for_the_chosen_product(client, mocked):
    mocked.replace(
        responses.GET,
        f"{PRODUCT}/cds-services",
        json={"services": [dict(SERVICE, id="jak-order", hook="order-sign")]},
    )
    mocked.post(f"{PRODUCT}/cds-services/jak-order", json={"cards": []})
    choice = next(c for c in ehr.order_choices() if c["display"].startswith("ritlecitinib"))
    page = client.post("/patients/p1/order-sign", data={"code": choice["code"], "per_day": "1"}).get_data(
        as_text=True
    )
    call = next(c for c in mocked.calls if c.request.url.endswith("/cds-services/jak-order"))
    body = json.loads(call.request.body)
    (entry,) = body["context"]["draftOrders"]["entry"]
    order = entry["resource"]
    assert order["status"] == "draft"
    assert order["subject"] == {"reference": "Patient/p1"}
    assert order["medicationCodeableConcept"]["coding"][0]["code"] == choice["code"]
    assert order["dosageInstruction"][0]["timing"]["repeat"]["frequency"] == 1
    assert "No cards." in page


# --- a scenario whose point is a draft order ---------------------------------------------------

SCENARIO_WITH_DRAFT = "adolescent_14y_baricitinib_proposed"
DRAFT_ON_FILE = {
    "resourceType": "MedicationRequest",
    "id": "mr-draft",
    "status": "draft",
    "intent": "order",
    "subject": {"reference": "Patient/p1"},
    "medicationCodeableConcept": {
        "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "2047241"}],
        "text": "baricitinib 2 MG Oral Tablet",
    },
    "dosageInstruction": [{"text": "2 mg by mouth once daily"}],
}


def scenario_patient(mocked, scenario: str) -> None:
    """Patient/p1 is the synthetic patient of `scenario`."""
    identifier = [{"system": scenarios.SCENARIO_SYSTEM, "value": scenario}]
    patient = {**PATIENT, "identifier": identifier}
    mocked.replace(responses.GET, f"{FHIR}/Patient/p1", json=patient)
    mocked.replace(
        responses.GET, f"{FHIR}/Patient", json={"resourceType": "Bundle", "entry": [{"resource": patient}]}
    )


def orders_on_file(mocked, *orders: dict) -> None:
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": o} for o in orders]}
    mocked.replace(responses.GET, f"{FHIR}/MedicationRequest", json=bundle)


def test_index_says_which_scenarios_show_their_result_at_order_sign(client, mocked):
    scenario_patient(mocked, SCENARIO_WITH_DRAFT)
    assert "Shown at order-sign" in client.get("/").get_data(as_text=True)
    scenario_patient(mocked, "hbsag_positive")  # no draft order: its result is in patient-view
    assert "Shown at order-sign" not in client.get("/").get_data(as_text=True)


def test_chart_of_a_scenario_with_a_draft_order_says_its_result_appears_at_order_sign(client, mocked):
    scenario_patient(mocked, SCENARIO_WITH_DRAFT)
    orders_on_file(mocked, DRAFT_ON_FILE)
    page = client.get("/patients/p1").get_data(as_text=True)
    assert html.escape(scenarios.scenario_description(SCENARIO_WITH_DRAFT)) in page
    assert "This scenario's result appears at <strong>order-sign</strong>" in page
    assert "baricitinib 2 MG Oral Tablet, 2 mg by mouth once daily" in page
    assert """name="drafts" value="on-file">Sign this scenario's draft order""" in page
    search = next(c for c in mocked.calls if "/MedicationRequest?" in c.request.url)
    assert parse_qs(urlsplit(search.request.url).query) == {"patient": ["p1"], "status": ["draft"]}


def test_chart_without_a_draft_order_on_file_offers_no_one_click_signing(client, mocked):
    scenario_patient(mocked, "hbsag_positive")
    page = client.get("/patients/p1").get_data(as_text=True)
    assert 'value="on-file"' not in page
    assert "result appears at" not in page


def test_an_active_order_is_never_offered_as_the_draft_to_sign(client, mocked):
    """A server that ignores `status=draft` returns every order; only drafts are signed."""
    orders_on_file(mocked, {**DRAFT_ON_FILE, "status": "active"})
    assert 'value="on-file"' not in client.get("/patients/p1").get_data(as_text=True)


def test_signing_the_draft_order_on_file_sends_it_as_is_at_order_sign(client, mocked):
    orders_on_file(mocked, DRAFT_ON_FILE)
    mocked.replace(
        responses.GET,
        f"{PRODUCT}/cds-services",
        json={"services": [dict(SERVICE, id="jak-order", hook="order-sign")]},
    )
    mocked.post(f"{PRODUCT}/cds-services/jak-order", json={"cards": [CARD]})
    page = client.post("/patients/p1/order-sign", data={"drafts": "on-file"}).get_data(as_text=True)
    call = next(c for c in mocked.calls if c.request.url.endswith("/cds-services/jak-order"))
    body = json.loads(call.request.body)
    assert body["hook"] == "order-sign"
    assert body["context"]["draftOrders"]["entry"] == [{"resource": DRAFT_ON_FILE}]
    assert CARD["summary"] in page


def test_signing_draft_orders_on_file_when_there_are_none_is_refused(client, mocked):
    assert client.post("/patients/p1/order-sign", data={"drafts": "on-file"}).status_code == 400


def test_order_choices_come_from_the_knowledge_file_and_exclude_topicals_and_brands():
    displays = [c["display"] for c in ehr.order_choices()]
    assert any(d.startswith("baricitinib") for d in displays)
    assert not any("Topical" in d or "[" in d for d in displays)


def test_launch_creates_a_launch_and_opens_the_product_with_iss_and_launch(client, mocked):
    response = client.post("/patients/p1/launch")
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{PRODUCT}/app/launch"
    assert parse_qs(target.query) == {"iss": [f"{SANDBOX}/fhir"], "launch": ["L-123"]}
    assert client.application.launches == [{"patient": "p1", "user": ehr.PRACTITIONER}]


def test_launch_refuses_urls_outside_the_product(client, mocked):
    assert client.post("/patients/p1/launch", data={"url": "https://evil.example/app"}).status_code == 400


def test_markdown_rendering_escapes_html():
    html = str(ehr.render_markdown("a <b>x</b> [site](https://example.org) [bad](javascript:alert(1))"))
    assert "<b>" not in html
    assert '<a href="https://example.org"' in html
    assert 'href="javascript' not in html


def test_product_settings_trust_the_sandbox(tmp_path, key):
    ports = SandboxPorts(fhir=18090, sandbox=18091, product=18000)
    jwks_file = key.write_jwks(tmp_path / "jwks.json")
    values = product_settings(ports, tmp_path, jwks_file)
    from aa_jak.settings import Settings

    settings = Settings(**values)
    assert settings.dev_mode
    (issuer,) = settings.cds_trusted_issuers
    assert issuer.iss == "http://127.0.0.1:18091"
    assert json.loads(issuer.jwks_file.read_text()) == key.public_jwks()
    (smart,) = settings.smart_clients
    assert smart.iss == "http://127.0.0.1:18091/fhir"
    assert settings.public_base_url == "http://127.0.0.1:18000"


def test_sandbox_app_mounts_the_ehr_on_the_development_smart_server(key):
    from sandbox.runner import create_sandbox_app

    ports = SandboxPorts(fhir=18090, sandbox=18091, product=18000)
    client = create_sandbox_app(ports, key).test_client()
    config = client.get("/fhir/.well-known/smart-configuration")
    assert config.status_code == 200
    assert config.json["authorization_endpoint"] == f"{ports.sandbox_base}/auth/authorize"
    assert client.get("/.well-known/jwks.json").json == key.public_jwks()
    with responses.RequestsMock() as mock:
        mock.get(f"{ports.fhir_base}/Patient/p1", json=PATIENT)
        launched = client.post("/patients/p1/launch")
    assert launched.status_code == 302
    query = parse_qs(urlsplit(launched.headers["Location"]).query)
    assert query["iss"] == [f"{ports.sandbox_base}/fhir"]
    assert query["launch"][0]


# --- the product as `aa-jak sandbox` configures it (dev mode) ------------------------------------

SANDBOX_PORTS = SandboxPorts(fhir=18090, sandbox=18091, product=18000)


@pytest.fixture
def sandbox_product(tmp_path, key, clean_env):
    """The product app with the settings `aa-jak sandbox` writes: dev mode, trusting `key`."""
    from aa_jak.app import create_app
    from aa_jak.settings import Settings

    jwks_file = key.write_jwks(tmp_path / "ehr-jwks.json")
    return create_app(Settings(**product_settings(SANDBOX_PORTS, tmp_path, jwks_file))).test_client()


def _serve_product(mock, product):
    """Answer the simulator's calls to the product with the product app, in process."""

    def handle(request):
        headers = {
            k: v for k, v in request.headers.items() if k in ("Authorization", "Content-Type", "Accept")
        }
        answer = product.open(request.path_url, method=request.method, data=request.body, headers=headers)
        return answer.status_code, {"Content-Type": answer.content_type}, answer.get_data()

    pattern = re.compile(re.escape(SANDBOX_PORTS.product_base) + "/.*")
    for method in (responses.GET, responses.POST):
        mock.add_callback(method, pattern, callback=handle)


@pytest.fixture
def sandbox_fhir():
    """The sandbox's sekmet, mocked: Patient/p1, and every search finds nothing."""
    fhir = SANDBOX_PORTS.fhir_base
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{fhir}/Patient/p1", json=PATIENT)
        mock.get(
            re.compile(re.escape(fhir) + r"/[A-Za-z]+(\?.*)?$"),
            json={"resourceType": "Bundle", "type": "searchset"},
        )
        yield mock


def test_sandbox_product_accepts_the_simulators_signed_calls_in_dev_mode(sandbox_product, sandbox_fhir, key):
    """The simulator signs every call; in dev mode the product verifies that JWT (cds-hooks.md F2, K1)."""
    _serve_product(sandbox_fhir, sandbox_product)
    page = create_sandbox_app(SANDBOX_PORTS, key).test_client().post("/patients/p1/patient-view")
    product_calls = [c for c in sandbox_fhir.calls if c.request.url.startswith(SANDBOX_PORTS.product_base)]
    assert page.status_code == 200
    assert [c.request.headers["Authorization"].startswith("Bearer ") for c in product_calls] == [True, True]
    assert [c.response.status_code for c in product_calls] == [200, 200]  # discovery, patient-view
    assert 'class="error"' not in page.get_data(as_text=True)


def test_sandbox_product_rejects_a_wrongly_signed_token_in_dev_mode(sandbox_product, key):
    """Same issuer, same kid, another private key: the signature does not verify (F5), so 401."""
    forger = SigningKey(private_key=SigningKey.generate().private_key, kid=key.kid)
    url = f"{SANDBOX_PORTS.product_base}/cds-services"
    token = forger.cds_jwt(
        iss=SANDBOX_PORTS.sandbox_base, aud=url, jku=f"{SANDBOX_PORTS.sandbox_base}/.well-known/jwks.json"
    )
    response = sandbox_product.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_sandbox_product_queries_the_sandbox_fhir_server_for_data_the_simulator_did_not_send(
    sandbox_product, sandbox_fhir, key
):
    """The verified simulator is held to its `fhir_servers`, which list the sandbox's sekmet (C5, C8)."""
    path = "/cds-services/aa-jak-patient-view"
    body = {
        "hook": "patient-view",
        "hookInstance": "3f1c2a51-8a4e-4b0e-9a55-0d6f5e1d2c3b",
        "fhirServer": SANDBOX_PORTS.fhir_base,
        "context": {"userId": ehr.PRACTITIONER, "patientId": "p1"},
    }
    token = key.cds_jwt(iss=SANDBOX_PORTS.sandbox_base, aud=SANDBOX_PORTS.product_base + path)
    response = sandbox_product.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert f"{SANDBOX_PORTS.fhir_base}/Patient/p1" in [c.request.url for c in sandbox_fhir.calls]
