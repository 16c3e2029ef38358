"""The development SMART server's patient picker (standalone launch), with a mocked FHIR server.

A real EHR asks the user which patient to open when an app is launched standalone
(`launch/patient`); the development server does too, then continues the authorization
with the chosen patient, who is the `patient` of the token response.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from sandbox.scenarios import SCENARIO_SYSTEM, scenario_description
from sandbox.smart_server import create_smart_server

FHIR = "http://fhir.test/fhir"
SMART = "http://smart.test"
REDIRECT = "http://app.test/app/callback"
VERIFIER = "v" * 50
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()  # S256
SCENARIO = "hbsag_positive"
PATIENTS = [
    {"resourceType": "Patient", "id": "p1", "name": [{"given": ["Ada"], "family": "Lovelace"}]},
    {
        "resourceType": "Patient",
        "id": "p2",
        "name": [{"given": ["Kai"], "family": "Synthetic"}],
        "identifier": [{"system": SCENARIO_SYSTEM, "value": SCENARIO}],
    },
]
STANDALONE = {
    "response_type": "code",
    "client_id": "app",
    "redirect_uri": REDIRECT,
    "scope": "launch/patient openid fhirUser patient/Patient.r",
    "state": "state-1",
    "aud": f"{SMART}/fhir",
    "code_challenge": CHALLENGE,
    "code_challenge_method": "S256",
}


@pytest.fixture
def fhir():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(
            f"{FHIR}/Patient", json={"resourceType": "Bundle", "entry": [{"resource": p} for p in PATIENTS]}
        )
        for patient in PATIENTS:
            mock.get(f"{FHIR}/Patient/{patient['id']}", json=patient)
        mock.get(f"{FHIR}/Patient/nobody", status=404, json={"resourceType": "OperationOutcome"})
        yield mock


def smart_client(**options):
    app = create_smart_server(
        FHIR, SMART, clients=[{"client_id": "app", "redirect_uris": [REDIRECT]}], **options
    )
    return app.test_client()


def hidden_fields(page: str) -> dict[str, str]:
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    return {name: html.unescape(value) for name, value in fields}


def redirected_query(response) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_standalone_launch_asks_which_patient_to_open_listing_names_and_scenarios(fhir):
    response = smart_client().get("/auth/authorize", query_string=STANDALONE)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Choose a patient" in page
    assert "Ada Lovelace" in page
    assert "Kai Synthetic" in page
    assert f"<code>{SCENARIO}</code>" in page
    assert html.escape(scenario_description(SCENARIO)) in page
    assert re.findall(r'<button type="submit" name="patient" value="([^"]+)">', page) == ["p2", "p1"]
    assert '<form method="get" action="/auth/authorize">' in page
    assert hidden_fields(page) == STANDALONE  # the request, asked again with the chosen patient


def test_choosing_a_patient_continues_the_authorization_with_that_patient_in_the_token(fhir):
    client = smart_client()
    picker = client.get("/auth/authorize", query_string=STANDALONE).get_data(as_text=True)
    chosen = client.get("/auth/authorize", query_string={**hidden_fields(picker), "patient": "p2"})
    back = redirected_query(chosen)
    assert back["state"] == STANDALONE["state"]
    token = client.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": VERIFIER,
            "client_id": "app",
        },
    )
    assert token.status_code == 200, token.get_data(as_text=True)
    assert token.json["patient"] == "p2"


def test_the_picker_of_a_posted_authorize_request_posts_the_choice(fhir):
    client = smart_client(authorize_post=True)
    picker = client.post("/auth/authorize", data=STANDALONE).get_data(as_text=True)
    assert '<form method="post" action="/auth/authorize">' in picker
    chosen = client.post("/auth/authorize", data={**hidden_fields(picker), "patient": "p1"})
    assert "code" in redirected_query(chosen)


def test_a_patient_the_fhir_server_does_not_have_is_refused(fhir):
    response = smart_client().get("/auth/authorize", query_string={**STANDALONE, "patient": "nobody"})
    assert redirected_query(response)["error"] == "invalid_request"


def test_a_standalone_launch_with_no_patient_on_the_fhir_server_is_refused(fhir):
    fhir.replace(responses.GET, f"{FHIR}/Patient", json={"resourceType": "Bundle", "type": "searchset"})
    back = redirected_query(smart_client().get("/auth/authorize", query_string=STANDALONE))
    assert back["error"] == "invalid_request"
    assert back["error_description"] == "no patient to choose"
