"""Test doubles for the SMART app tests: a fake EHR (discovery, authorize, token, JWKS, FHIR) on `responses`,
a small app factory (storage + smart_app only), a hand-made knowledge file and a stub clinical core.

`launcher.launch(patient=...)` runs a whole EHR launch through the Flask test client and returns
the dashboard URL, in the style of flaskr's `AuthActions`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from jwt.algorithms import RSAAlgorithm

ISS = "https://ehr.example.org/fhir"
SYM_ISS = "https://sym.example.org/r4"
ASYM_ISS = "https://asym.example.org/fhir"
V1_ISS = "https://old.example.org/fhir"
SALT_SYSTEM = "urn:test:aa-severity"
FULL_CAPS = [
    "launch-ehr",
    "launch-standalone",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-ehr-patient",
    "context-banner",
    "permission-v2",
    "permission-v1",
    "sso-openid-connect",
]
PATIENTS = {
    "pat-a": {
        "resourceType": "Patient",
        "id": "pat-a",
        "name": [{"text": "Alice Alpha"}],
        "gender": "female",
        "birthDate": "1990-02-03",
        "identifier": [{"value": "MRN-A"}],
    },
    "pat-b": {
        "resourceType": "Patient",
        "id": "pat-b",
        "name": [{"text": "Bob Beta"}],
        "gender": "male",
        "birthDate": "1985-06-07",
        "identifier": [{"value": "MRN-B"}],
    },
}


def s256(verifier: str) -> str:
    """Computed here, independently of the app's code."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@functools.cache
def _ehr_keys() -> tuple[Any, Any]:
    """Two RSA keys shared by every FakeEhr (generating keys is the slow part of these tests)."""
    return tuple(rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))


def error_code(response: Any) -> str | None:
    """The `data-error-code` of an error page (the stable code of `SmartError`), None on other pages."""
    body = response.get_data(as_text=True)
    marker = 'data-error-code="'
    return body.split(marker, 1)[1].split('"', 1)[0] if marker in body else None


# --- the fake EHR ------------------------------------------------------------------------------


@dataclass
class FakeEhr:
    """An EHR at `iss` on `responses`: SMART discovery, token endpoint, JWKS and a FHIR API."""

    rsps: responses.RequestsMock
    iss: str
    capabilities: list[str] = field(default_factory=lambda: list(FULL_CAPS))
    issuer: str | None = None
    id_token_kid: bool = True
    grant_scope: str | None = None  # grant this instead of what was asked
    token_extra: dict[str, Any] = field(default_factory=dict)  # merged into token responses
    expires_in: int = 3600
    fhir_status: int | None = None  # force this status on every FHIR request
    create_status: int | None = None  # force this status on create
    create_body: str | None = None  # answer creates (and matches) with this body instead of the resource
    search_next: str | None = None  # a `next` link added to every search Bundle
    echo_nonce: bool = True  # put the authorize request's `nonce` into the id_token
    nonce_override: str | None = None  # ... or this value instead
    stored: list[dict[str, Any]] = field(default_factory=list)  # searchable (by subject) and readable
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, str] = field(default_factory=dict)  # access token -> patient
    refresh: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[Any] = field(default_factory=list)
    fhir_requests: list[Any] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        root = self.iss.rsplit("/", 1)[0]
        self.authorize_url = f"{root}/auth/authorize"
        self.token_url = f"{root}/auth/token"
        self.jwks_url = f"{root}/auth/jwks"
        self.issuer = self.issuer or root
        self.key, self.other_key = _ehr_keys()
        self.discovery = {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorize_url,
            "token_endpoint": self.token_url,
            "jwks_uri": self.jwks_url,
            "capabilities": self.capabilities,
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        }
        self.rsps.add_callback(
            responses.GET,
            f"{self.iss}/.well-known/smart-configuration",
            callback=lambda req: (200, {}, json.dumps(self.discovery)),
        )
        self.rsps.add_callback(responses.POST, self.token_url, callback=self._token)
        self.rsps.add_callback(responses.GET, self.jwks_url, callback=self._jwks)
        fhir = re.compile(re.escape(self.iss) + r"/(?!\.well-known).*")
        self.rsps.add_callback(responses.GET, fhir, callback=self._fhir)
        self.rsps.add_callback(responses.POST, fhir, callback=self._fhir)

    # authorize (the browser would go there; tests call this with the redirect's query)
    def approve(self, location: str, *, patient: str = "pat-a", encounter: str | None = None) -> str:
        params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        return self.approve_params(params, patient=patient, encounter=encounter)

    def approve_params(
        self, params: dict[str, str], *, patient: str = "pat-a", encounter: str | None = None
    ) -> str:
        """Approve an authorize request given as parameters (a GET query or an authorize-post form)."""
        code = secrets.token_urlsafe(12)
        self.codes[code] = {"params": params, "patient": patient, "encounter": encounter}
        return code

    def _jwks(self, request: Any) -> tuple[int, dict, str]:
        jwk = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update({"kid": "ehr-key", "alg": "RS256", "use": "sig"})
        other = RSAAlgorithm.to_jwk(self.other_key.public_key(), as_dict=True)
        other.update({"kid": "other-key", "alg": "RS256", "use": "sig"})
        return 200, {}, json.dumps({"keys": [other, jwk]})

    def id_token(self, client_id: str, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "u1",
            "aud": client_id,
            "iat": now,
            "exp": now + 300,
            "fhirUser": f"{self.iss}/Practitioner/prac-1",
            **overrides,
        }
        headers = {"kid": "ehr-key"} if self.id_token_kid else {}
        return jwt.encode(claims, self.key, algorithm="RS256", headers=headers)

    def _token(self, request: Any) -> tuple[int, dict, str]:
        form = {k: v[0] for k, v in parse_qs(request.body or "").items()}
        self.token_requests.append(SimpleNamespace(form=form, headers=dict(request.headers)))
        if form.get("grant_type") == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            if grant is None or s256(form.get("code_verifier", "")) != grant["params"].get("code_challenge"):
                return 400, {}, json.dumps({"error": "invalid_grant"})
            client_id = grant["params"]["client_id"]
            scope = self.grant_scope if self.grant_scope is not None else grant["params"]["scope"]
            body = {"patient": grant["patient"], "scope": scope, "need_patient_banner": True}
            if grant["encounter"]:
                body["encounter"] = grant["encounter"]
            if "openid" in scope.split():
                nonce = self.nonce_override or (grant["params"].get("nonce") if self.echo_nonce else None)
                body["id_token"] = self.id_token(client_id, **({"nonce": nonce} if nonce else {}))
            ctx = {"patient": grant["patient"], "scope": scope}
        elif form.get("grant_type") == "refresh_token":
            ctx = self.refresh.pop(form.get("refresh_token", ""), None)
            if ctx is None:
                return 400, {}, json.dumps({"error": "invalid_grant"})
            body = {"scope": ctx["scope"], "patient": ctx["patient"]}
        else:
            return 400, {}, json.dumps({"error": "unsupported_grant_type"})
        access, refresh_token = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        self.access[access] = ctx["patient"]
        self.refresh[refresh_token] = ctx
        body.update(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "refresh_token": refresh_token,
            }
        )
        body.update(self.token_extra)
        return (
            200,
            {"Cache-Control": "no-store"},
            json.dumps({k: v for k, v in body.items() if v is not None}),
        )

    def revoke_access_tokens(self) -> None:
        self.access.clear()

    def _fhir(self, request: Any) -> tuple[int, dict, str]:
        self.fhir_requests.append(request)
        auth = request.headers.get("Authorization", "")
        patient = self.access.get(auth.removeprefix("Bearer "))
        if patient is None:
            return 401, {}, json.dumps({"resourceType": "OperationOutcome", "issue": []})
        if self.fhir_status:
            return (
                self.fhir_status,
                {},
                json.dumps(
                    {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "x", "diagnostics": "<b>forced</b>"}],
                    }
                ),
            )
        parts = urlsplit(request.url)
        path = parts.path[len(urlsplit(self.iss).path) :].strip("/").split("/")
        query = parse_qs(parts.query)
        if request.method == "POST":
            return self._create(request, patient)
        if len(path) == 2:
            if path[0] == "Patient" and path[1] == patient:
                return 200, {}, json.dumps(PATIENTS[patient])
            for r in self.stored:
                if [r["resourceType"], r.get("id")] == path:
                    return 200, {}, json.dumps(r)
            return 404, {}, json.dumps({"resourceType": "OperationOutcome", "issue": []})
        assert query.get("patient") == [patient], "searches must be for the token's patient"
        entries = [
            r
            for r in self.created + self.stored
            if path[0] == r["resourceType"] and r.get("subject", {}).get("reference") == f"Patient/{patient}"
        ]
        bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in entries]}
        if self.search_next:
            bundle["link"] = [{"relation": "next", "url": self.search_next}]
        return 200, {}, json.dumps(bundle)

    def _create(self, request: Any, patient: str) -> tuple[int, dict, str]:
        if self.create_status:
            return (
                self.create_status,
                {},
                json.dumps(
                    {
                        "resourceType": "OperationOutcome",
                        "issue": [
                            {
                                "severity": "error",
                                "code": "forbidden",
                                "diagnostics": "<script>x</script> not allowed",
                            }
                        ],
                    }
                ),
            )
        body = json.loads(request.body)
        cond = request.headers.get("If-None-Exist", "")
        for r in self.created:
            ident = r.get("identifier", [{}])[0]
            if cond == f"identifier={ident.get('system')}|{ident.get('value')}":
                return 200, {}, self.create_body if self.create_body is not None else json.dumps(r)
        body["id"] = f"obs-{len(self.created) + 1}"
        self.created.append(body)
        return (
            201,
            {"Location": f"https://elsewhere.example.net/fhir/Observation/{body['id']}/_history/1"},
            self.create_body if self.create_body is not None else json.dumps(body),
        )


# --- knowledge and core stubs ------------------------------------------------------------------


def _entry(code: str, display: str, meaning: str | None = None, system: str = SALT_SYSTEM) -> Any:
    return SimpleNamespace(system=system, code=code, display=display, meaning=meaning, match="exact")


def make_knowledge() -> Any:
    """A hand-made knowledge file with just what the app reads (values as in clinical.md §5)."""
    salt_codes = [
        _entry("SALT", "SALT score", "total"),
        _entry("SALT-vertex", "Vertex", "vertex"),
        _entry("SALT-posterior", "Posterior", "posterior"),
        _entry("SALT-right", "Right side", "right"),
        _entry("SALT-left", "Left side", "left"),
        _entry("AA-IGA", "AA-IGA", "iga"),
    ]
    value_sets = {
        "observation.salt": SimpleNamespace(codes=salt_codes),
        "lab.alc": SimpleNamespace(codes=[_entry("731-0", "Lymphocytes", system="http://loinc.org")]),
    }
    return SimpleNamespace(
        value_sets=value_sets,
        salt={
            "unit": "%",
            "regions": {
                "items": [
                    {"key": "vertex", "label": "Vertex", "weight": 40, "code": "SALT-vertex"},
                    {"key": "posterior", "label": "Posterior", "weight": 24, "code": "SALT-posterior"},
                    {"key": "right", "label": "Right side", "weight": 18, "code": "SALT-right"},
                    {"key": "left", "label": "Left side", "weight": 18, "code": "SALT-left"},
                ]
            },
            "aa_iga": {
                "code": "AA-IGA",
                "bands": [
                    {"grade": 0, "label": "None", "salt_min": 0, "salt_max": 0},
                    {"grade": 1, "label": "Limited", "salt_min": 1, "salt_max": 20},
                    {"grade": 2, "label": "Moderate", "salt_min": 21, "salt_max": 49},
                    {"grade": 3, "label": "Severe", "salt_min": 50, "salt_max": 94},
                    {"grade": 4, "label": "Very severe", "salt_min": 95, "salt_max": 100},
                ],
            },
        },
        parameters={"response_target_salt": {"value": 20}},
        drugs={
            "baricitinib": {
                "display": "Baricitinib",
                "brand": "Olumiant",
                "mechanism": "JAK1/JAK2 inhibitor",
                "off_label": False,
                "fda_aa_approval": {"sources": ["S1"]},
                "thresholds": {
                    "alc": {"unit": "cells/mm3", "do_not_start_below": 500, "interrupt_below": 500}
                },
                "trials": [{"name": "BRAVE-AA1", "text": "SALT <= 20 at week 36.", "sources": ["S7"]}],
            }
        },
        education={
            "durability": {
                "title": "Response is not durable",
                "text": "Relapse after stopping.",
                "sources": ["S7"],
                "verified": False,
            },
            "conventional_comparison": [{"title": "Methotrexate", "text": "Third line.", "sources": ["S7"]}],
            "guidance": [],
        },
        sources={
            "S1": {"label": "Olumiant label", "url": "https://example.org/label"},
            "S7": {"label": "BRAVE-AA", "url": None},
        },
    )


def fake_build_record(resources: list[dict[str, Any]]) -> Any:
    """Enough of `build_record` for the app: demographics from Patient, SALT from Observations."""
    from clinical_core.record import Demographics, LabResult, PatientRecord, SaltScore, TherapyEpisode

    patient = next((r for r in resources if r["resourceType"] == "Patient"), None)
    pid = patient["id"] if patient else "?"
    demo = Demographics(
        patient_id=pid,
        birth_date=date.fromisoformat(patient["birthDate"]) if patient else None,
        sex=patient.get("gender") if patient else None,
        name=patient["name"][0]["text"] if patient else None,
        identifier=patient["identifier"][0]["value"] if patient else None,
    )
    salts = [SaltScore(60.0, date(2026, 1, 10), "Observation/s0")]
    for r in resources:
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "SALT":
            salts.append(
                SaltScore(
                    r["valueQuantity"]["value"],
                    date.fromisoformat(r["effectiveDateTime"][:10]),
                    f"Observation/{r['id']}",
                )
            )
    labs = (
        LabResult("alc", 1200.0, date(2026, 1, 5), "Observation/l1", "1.2 10*3/uL"),
        LabResult("alc", 900.0, date(2026, 3, 5), "Observation/l2", "0.9 10*3/uL"),
    )
    therapies = (
        TherapyEpisode("baricitinib", date(2026, 1, 20), None, "active", "MedicationRequest/m1", 2.0, 1),
    )
    return PatientRecord(demographics=demo, salt_scores=tuple(salts), labs=labs, therapies=therapies)


def fake_evaluate(record: Any, as_of: date, knowledge: Any) -> Any:
    from clinical_core.findings import (
        Assessment,
        Category,
        ChecklistItem,
        Citation,
        Evidence,
        Finding,
        Severity,
        TimelineEntry,
    )

    findings = (
        Finding(
            "monitoring.cbc_week12.overdue",
            Category.MONITORING,
            Severity.WARNING,
            f"CBC at week 12 is overdue for {record.demographics.name}",
            "Order a CBC <now>.",
            evidence=(Evidence("last CBC", "2026-03-05"),),
            citations=(Citation("S1", "Olumiant label"),),
        ),
        Finding(
            "baseline.tb_screening.missing",
            Category.BASELINE,
            Severity.WARNING,
            "No TB screening on record",
            "detail",
            missing=("TB screening (IGRA or TST)",),
        ),
        Finding("response.salt.due", Category.RESPONSE, Severity.INFO, "SALT review due", "detail"),
    )
    return Assessment(
        as_of=as_of,
        findings=findings,
        status="on-therapy",
        drug="baricitinib",
        therapy_week=10,
        therapy_start=date(2026, 1, 20),
        eligibility=(
            ChecklistItem(
                "severity", "Severe AA (SALT >= 50)", "met", "SALT 60", date(2026, 1, 10), verified=True
            ),
        ),
        baseline=(ChecklistItem("tb_screening", "TB screening", "missing", verified=True),),
        timeline=(
            TimelineEntry("cbc_week4", "CBC", 4, date(2026, 2, 17), "done", date(2026, 2, 18)),
            TimelineEntry("cbc_week12", "CBC", 12, date(2026, 4, 14), "overdue"),
        ),
    )


# --- the app -----------------------------------------------------------------------------------


def make_settings(tmp_path: Any, **overrides: Any) -> Any:
    from aa_jak.settings import Settings

    values: dict[str, Any] = {
        "dev_mode": True,
        "secret_key": "test-secret-key-not-for-production",
        "database_url": f"sqlite:///{tmp_path / 'smart.db'}",
        "public_base_url": "http://localhost",
        "frozen_today": "2026-04-20",
        "smart_clients": [
            {"iss": ISS, "client_id": "app-public", "client_type": "public", "standalone": True},
            {
                "iss": SYM_ISS,
                "client_id": "app-sym",
                "client_type": "confidential-symmetric",
                "client_secret": "s3cret",
            },
            {"iss": ASYM_ISS, "client_id": "app-asym", "client_type": "confidential-asymmetric"},
            {"iss": V1_ISS, "client_id": "app-v1", "client_type": "public"},
        ],
    }
    values.update(overrides)
    return Settings(**values)


def make_app(settings: Any) -> Flask:
    """storage + smart_app, as the product factory wires them (without the CDS service)."""
    import smart_app
    import storage

    app = Flask("smart_app_test")
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key.get_secret_value()
    app.config["TESTING"] = True
    storage.init_app(app)
    smart_app.init_app(app)
    state = app.extensions["smart_app"]
    state.knowledge_loader = make_knowledge
    return app


class Launcher:
    """Runs launches through the test client against a FakeEhr."""

    def __init__(self, client: Any, ehr: FakeEhr) -> None:
        self.client = client
        self.ehr = ehr

    def start(self, iss: str | None = None, launch: str = "launch-123") -> Any:
        return self.client.get("/app/launch", query_string={"iss": iss or self.ehr.iss, "launch": launch})

    def authorize_params(self, response: Any) -> dict[str, str]:
        assert response.status_code == 302, response.get_data(as_text=True)
        return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}

    def finish(self, start_response: Any, patient: str = "pat-a", **callback_extra: str) -> Any:
        location = start_response.headers["Location"]
        code = self.ehr.approve(location, patient=patient)
        state = self.authorize_params(start_response)["state"]
        return self.client.get("/app/callback", query_string={"code": code, "state": state, **callback_extra})

    def context_key(self, path: str) -> str:
        """The key cookie the callback issued for the launch whose pages are at `path`."""
        return self.client.get_cookie("aa_jak_context", path=path).value

    def launch(self, patient: str = "pat-a") -> str:
        response = self.finish(self.start(), patient=patient)
        assert response.status_code == 303, response.get_data(as_text=True)
        return urlsplit(response.headers["Location"]).path
