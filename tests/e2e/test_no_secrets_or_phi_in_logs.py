"""No secret and no patient data in the product's log output, at DEBUG, across the real flows.

The product is built with `log_level="DEBUG"` (what an operator gets with AA_JAK_LOG_LEVEL=DEBUG),
so `configure_logging` sets the root logger and any library loggers as it does in production.
Everything the app's JSON handler writes (root logger: our loggers, urllib3, werkzeug, authlib,
sqlalchemy, ...) goes to a buffer, and every line is searched for:

- the `fhirAuthorization.access_token` of a CDS call, the CDS client JWTs;
- the SMART authorization code, PKCE code_verifier, access, refresh and id tokens;
- a feedback `userComment`;
- the patient's family name, birth date and server id (in paths and queries).

The flows run against the real sekmet-fhir (`fhir_base_url`) and the development SMART server
over HTTP. The patient is a synthetic bundle loaded with a random family name and birth date,
so a hit is never a coincidence.
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = "baricitinib_alc_400_interrupt"
APP_BASE = "http://localhost"
PV = "/cds-services/aa-jak-patient-view"
ISS = "https://ehr.e2e.test"


@dataclass
class Capture:
    stream: io.StringIO
    raw: list[logging.LogRecord] = field(default_factory=list)

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()


class _RawHandler(logging.Handler):
    """Sees each record before the JSON handler's filter rewrites it (for diagnostics only)."""

    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(logging.makeLogRecord({**vars(record), "msg": record.getMessage(), "args": None}))


@pytest.fixture
def capture() -> Iterator[Capture]:
    from aa_jak.logs import _HANDLER_MARK, configure_logging

    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "werkzeug", "urllib3")}
    configure_logging("DEBUG")  # installs the JSON handler if no app did yet
    handler = next(h for h in root.handlers if getattr(h, _HANDLER_MARK, False))
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    result = Capture(stream)
    raw = _RawHandler(result.raw)
    root.handlers.insert(0, raw)
    try:
        yield result
    finally:
        root.removeHandler(raw)
        handler.setStream(previous)  # type: ignore[attr-defined]
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@dataclass
class E2EPatient:
    id: str
    family: str
    given: str
    birth_date: str


@pytest.fixture(scope="module")
def patient(fhir_base_url: str) -> E2EPatient:
    """A synthetic AA patient loaded again, under a random name and birth date."""
    from sandbox.loader import _patient_ids, anchored, post_bundle, read_bundle

    try:
        from clinical_core.anchoring import ANCHOR_DATE
    except ImportError:
        ANCHOR_DATE = None
    bundle = anchored(read_bundle(ROOT / "synthetic_patients" / f"{BUNDLE}.json"), ANCHOR_DATE)
    family = "Fam" + secrets.token_hex(5).capitalize()
    given = "Giv" + secrets.token_hex(4)
    birth = date(1961 + secrets.randbelow(30), 1 + secrets.randbelow(12), 1 + secrets.randbelow(28))
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            resource["name"] = [{"use": "official", "family": family, "given": [given]}]
            resource["birthDate"] = birth.isoformat()
            resource["identifier"] = [{"system": "urn:aa-jak:e2e", "value": secrets.token_hex(6)}]
    (patient_id,) = _patient_ids(post_bundle(fhir_base_url, bundle))
    return E2EPatient(patient_id, family, given, birth.isoformat())


def _assert_clean(capture: Capture, secrets_: dict[str, str]) -> None:
    lines = capture.lines()
    assert lines, "nothing was logged: the capture is not wired to the JSON handler"
    leaks = [
        (what, line[:400]) for line in lines for what, value in secrets_.items() if value and value in line
    ]
    assert not leaks, "secret or patient data in the log output:\n" + "\n".join(
        f"  {what}: {line}" for what, line in leaks
    )
    for line in lines:
        json.loads(line)  # one JSON object per line, nothing else on the handler


def _patient_secrets(patient: E2EPatient) -> dict[str, str]:
    return {
        "family name": patient.family,
        "given name": patient.given,
        "birth date": patient.birth_date,
        "patient id": patient.id,
    }


def _hook_body(patient: E2EPatient, fhir_base_url: str | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/e2e-doc", "patientId": patient.id},
        **extra,
    }
    if fhir_base_url:
        body["fhirServer"] = fhir_base_url
    return body


@pytest.fixture
def cds_key(tmp_path: Path) -> Any:
    from sandbox.keys import SigningKey

    key = SigningKey.generate()
    return key, key.write_jwks(tmp_path / "jwks.json")


def _cds_app(
    app_factory: Callable[..., Any], fhir_servers: list[str], jwks_file: Path, **settings: Any
) -> Any:
    return app_factory(
        log_level="DEBUG",
        cds_trusted_issuers=[{"iss": ISS, "jwks_file": str(jwks_file), "fhir_servers": fhir_servers}],
        **settings,
    )


def _client_prefetch(app: Any, fhir_base_url: str, patient: E2EPatient) -> dict[str, Any]:
    """What a CDS client sends: each prefetch template run against the FHIR server."""
    from cds_hooks.data import render_template

    templates = app.extensions["cds_hooks"].registry.get(PV.rsplit("/", 1)[1]).prefetch
    context = {"userId": "Practitioner/e2e-doc", "patientId": patient.id}
    prefetch = {}
    for key, template in templates.items():
        url: str | None = f"{fhir_base_url}/{render_template(template, context)}"
        result: dict[str, Any] | None = None
        while url:  # a complete answer: every page, merged (the service refuses a `next` link)
            response = requests.get(url, timeout=10)
            response.raise_for_status()
            page = response.json()
            links = {link.get("relation"): link.get("url") for link in page.pop("link", [])}
            if result is None:
                result = page
            else:
                result.setdefault("entry", []).extend(page.get("entry", []))
            url = links.get("next") if page.get("resourceType") == "Bundle" else None
        prefetch[key] = result
    return prefetch


def test_cds_fallback_jwt_and_feedback_log_no_secret_or_patient_data(
    capture: Capture, app_factory: Callable[..., Any], fhir_base_url: str, patient: E2EPatient, cds_key: Any
) -> None:
    cds_key, jwks_file = cds_key
    app = _cds_app(app_factory, [fhir_base_url], jwks_file)
    client = app.test_client()
    access_token = "AT-" + secrets.token_urlsafe(24)
    comment = "Comment-" + secrets.token_hex(8)
    jwts: list[str] = []

    # (a) patient-view by FHIR fallback, dev mode, with fhirAuthorization
    body = _hook_body(
        patient,
        fhir_base_url,
        fhirAuthorization={
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "e2e-cds",
        },
    )
    answer = client.post(PV, json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    cards = answer.get_json()["cards"]
    assert cards, "the AA patient has cards"

    # (b) a secure (not dev mode) service, called with signed client JWTs and the prefetch filled
    # by the client from sekmet: accepted, replayed (jti), and for another audience
    # No fhir_servers: sekmet is plain http, which only dev mode may list; this client prefetches.
    secure = _cds_app(app_factory, [], jwks_file, dev_mode=False).test_client()
    prefetch = _client_prefetch(secure.application, fhir_base_url, patient)
    signed_body = {**_hook_body(patient, None), "prefetch": prefetch}
    token = cds_key.cds_jwt(iss=ISS, aud=f"{APP_BASE}{PV}")
    jwts.append(token)
    signed = secure.post(PV, json=signed_body, headers={"Authorization": f"Bearer {token}"})
    assert signed.status_code == 200, signed.get_data(as_text=True)
    assert signed.get_json()["cards"]
    replay = secure.post(PV, json=signed_body, headers={"Authorization": f"Bearer {token}"})
    assert replay.status_code == 401
    wrong = cds_key.cds_jwt(iss=ISS, aud="https://elsewhere.example/cds-services/x")
    jwts.append(wrong)
    refused = secure.post(PV, json=signed_body, headers={"Authorization": f"Bearer {wrong}"})
    assert refused.status_code == 401
    feedback_token = cds_key.cds_jwt(iss=ISS, aud=f"{APP_BASE}{PV}/feedback")
    jwts.append(feedback_token)

    # (c) feedback with a free-text comment (it may name the patient)
    card = cards[0]
    reasons = card.get("overrideReasons") or [{"code": "other", "system": "urn:e2e", "display": "Other"}]
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": reasons[0], "userComment": comment},
                "outcomeTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        ]
    }
    posted = client.post(f"{PV}/feedback", json=feedback)
    assert posted.status_code == 200, posted.get_data(as_text=True)
    posted = secure.post(
        f"{PV}/feedback", json=feedback, headers={"Authorization": f"Bearer {feedback_token}"}
    )
    assert posted.status_code == 200, posted.get_data(as_text=True)

    _assert_clean(
        capture,
        {
            "fhirAuthorization.access_token": access_token,
            **{f"CDS JWT {i}": t for i, t in enumerate(jwts)},
            **{f"CDS JWT {i} signature": t.rsplit(".", 1)[1] for i, t in enumerate(jwts)},
            "feedback userComment": comment,
            **_patient_secrets(patient),
        },
    )


# --- SMART ------------------------------------------------------------------------------------


@pytest.fixture
def smart_server(fhir_base_url: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The development SMART server over HTTP; records what its token endpoint saw and said."""
    import threading

    from flask import request
    from werkzeug.serving import make_server

    from sandbox.fhir_server import free_port
    from sandbox.smart_server import create_smart_server

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_smart_server(
        fhir_base_url,
        base,
        clients=[{"client_id": "aa-jak-e2e", "redirect_uris": [f"{APP_BASE}/app/callback"]}],
    )
    exchanges: list[dict[str, Any]] = []

    @app.after_request
    def record(response: Any) -> Any:
        if request.path.endswith("/token"):
            exchanges.append({"form": request.form.to_dict(), "answer": response.get_json(silent=True) or {}})
        return response

    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, exchanges
    finally:
        server.shutdown()
        thread.join(5)


def test_smart_launch_and_salt_save_log_no_secret_or_patient_data(
    capture: Capture,
    app_factory: Callable[..., Any],
    smart_server: tuple[str, list[dict[str, Any]]],
    patient: E2EPatient,
    fhir_base_url: str,
) -> None:
    smart, exchanges = smart_server
    app = app_factory(
        log_level="DEBUG",
        smart_clients=[{"iss": f"{smart}/fhir", "client_id": "aa-jak-e2e", "standalone": True}],
    )
    launch = requests.post(f"{smart}/auth/launches", json={"patient": patient.id}, timeout=5).json()["launch"]
    client = app.test_client()
    started = client.get("/app/launch", query_string={"iss": f"{smart}/fhir", "launch": launch})
    assert started.status_code == 302, started.get_data(as_text=True)
    authorize = requests.get(started.headers["Location"], allow_redirects=False, timeout=10)
    assert authorize.status_code == 302, authorize.text
    back = urlsplit(authorize.headers["Location"])
    code = parse_qs(back.query)["code"][0]
    callback = client.get(f"{back.path}?{back.query}")
    assert callback.status_code == 303, callback.get_data(as_text=True)
    dashboard_path = urlsplit(callback.headers["Location"]).path
    page = client.get(dashboard_path)
    assert page.status_code == 200
    assert patient.family in page.get_data(as_text=True)

    form_page = client.get(dashboard_path + "salt").get_data(as_text=True)
    form = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form_page).group(1),  # type: ignore[union-attr]
        "form_id": re.search(r'name="form_id" value="([^"]+)"', form_page).group(1),  # type: ignore[union-attr]
        "loss_vertex": "80",
        "loss_posterior": "50",
        "loss_right": "40",
        "loss_left": "40",
    }
    saved = client.post(dashboard_path + "salt", data=form)
    assert saved.status_code == 303, saved.get_data(as_text=True)
    assert "saved=created" in saved.headers["Location"]

    assert exchanges, "the app never called the token endpoint"
    found: dict[str, str] = {"authorization code": code}
    for i, exchange in enumerate(exchanges):
        for name in ("code", "code_verifier", "refresh_token", "client_assertion"):
            if exchange["form"].get(name):
                found[f"token request {i} {name}"] = exchange["form"][name]
        for name in ("access_token", "refresh_token", "id_token"):
            if exchange["answer"].get(name):
                found[f"token answer {i} {name}"] = exchange["answer"][name]
    assert any("code_verifier" in k for k in found), found.keys()
    assert any("access_token" in k for k in found), found.keys()
    found["csrf token"] = form["csrf_token"]
    found["state"] = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    _assert_clean(capture, {**found, **_patient_secrets(patient)})
