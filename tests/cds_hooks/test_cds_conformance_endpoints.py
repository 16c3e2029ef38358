"""Checklist A (endpoints, JSON), B (request body), D (response) and G (errors).

Ids refer to /work/shared/reference/cds-hooks.md.
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import cds_builders as builders
import pytest
from cds_support import FHIR, PATIENT, draft_medication_request, hook_body, searchset
from werkzeug.exceptions import BadRequest as WerkzeugBadRequest
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

import cds_hooks.views
from cds_hooks.registry import Registry

PV = "/cds-services/aa-jak-patient-view"
SIGN = "/cds-services/aa-jak-order-sign"
SELECT = "/cds-services/aa-jak-order-select"


HTTP_SERVER_AUTH = {
    "access_token": "token-for-a-plain-http-server",
    "token_type": "Bearer",
    "expires_in": 30,
    "scope": "patient/*.read",
    "subject": "cds",
}


def walk_no_empty(value: Any, path: str = "$") -> None:
    """A6: no null, "", [] or {} anywhere (the caller allows top-level `cards: []`)."""
    if value is None or value == "" or value == [] or value == {}:
        raise AssertionError(f"empty value at {path}")
    if isinstance(value, dict):
        for key, item in value.items():
            walk_no_empty(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            walk_no_empty(item, f"{path}[{i}]")


# ---------------------------------------------------------------- A


def test_A1_discovery_at_cds_services_returns_services(call):
    response = call("/cds-services", method="GET")
    assert response.status_code == 200
    ids = [s["id"] for s in response.get_json()["services"]]
    assert ids == ["aa-jak-patient-view", "aa-jak-order-select", "aa-jak-order-sign"]


def test_A2_each_service_has_hook_description_id_title_prefetch(call):
    services = call("/cds-services", method="GET").get_json()["services"]
    hooks = {s["id"]: s["hook"] for s in services}
    assert hooks == {
        "aa-jak-patient-view": "patient-view",
        "aa-jak-order-select": "order-select",
        "aa-jak-order-sign": "order-sign",
    }
    for service in services:
        assert service["description"] and service["title"]
        assert set(service["prefetch"]) >= {
            "patient",
            "conditions",
            "medicationRequests",
            "medicationStatements",
            "immunizations",
            "procedures",
            "labs",
            "salt",
        }
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert service["prefetch"]["labs"].endswith("&_sort=-date")
        assert "http://loinc.org|731-0" in service["prefetch"]["labs"]


def test_A3_no_services_gives_empty_list(app, call):
    app.extensions["cds_hooks"].registry = Registry([])
    response = call("/cds-services", method="GET")
    assert response.status_code == 200
    assert response.get_json() == {"services": []}


def test_A4_hook_not_registered_for_id_is_400(call):
    response = call(PV, hook_body("order-sign"))
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_A4_unknown_service_id_is_404(call):
    response = call("/cds-services/no-such-service", hook_body())
    assert response.status_code == 404
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_A5_service_is_called_by_post_of_json(call):
    assert call(PV, hook_body()).status_code == 200
    assert call(PV, method="GET").status_code == 404  # peers: GET on a service URL is 404 (G3)
    assert (
        call(PV, data="hook=patient-view", content_type="application/x-www-form-urlencoded").status_code
        == 415
    )


def test_A6_no_empty_values_in_response(call, engine):
    engine.assessment = builders.eligible_with_gaps()
    body = call(PV, hook_body()).get_json()
    assert body["cards"]
    walk_no_empty(body)
    discovery = call("/cds-services", method="GET").get_json()
    walk_no_empty(discovery)


def test_A6_no_guidance_is_exactly_empty_cards(call):
    response = call(PV, hook_body())
    assert response.get_json() == {"cards": []}


def test_A7_unknown_extensions_are_accepted(call):
    body = hook_body(extension={"org.example.ehr.thing": {"x": 1}})
    body["context"]["extension"] = {"org.example.more": True}
    assert call(PV, body).status_code == 200


def test_A7_extension_must_be_an_object(call):
    assert call(PV, hook_body(extension=["not", "an", "object"])).status_code == 400


def test_A8_unknown_members_and_context_fields_are_accepted(call):
    body = hook_body(someFutureMember={"a": 1})
    body["context"]["someNewContextField"] = "value"
    assert call(PV, body).status_code == 200


# ---------------------------------------------------------------- B


@pytest.mark.parametrize("member", ["hook", "hookInstance", "context"])
def test_B1_missing_required_member_is_400(call, member):
    body = hook_body()
    del body[member]
    response = call(PV, body)
    assert response.status_code == 400
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert member in outcome["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("hook", "field"),
    [
        ("patient-view", "patientId"),
        ("patient-view", "userId"),
        ("order-select", "selections"),
        ("order-select", "draftOrders"),
        ("order-sign", "draftOrders"),
    ],
)
def test_B1_missing_required_context_field_is_400(call, hook, field):
    body = hook_body(hook)
    del body["context"][field]
    path = {"patient-view": PV, "order-select": SELECT, "order-sign": SIGN}[hook]
    assert call(path, body).status_code == 400


def test_B1_fhir_authorization_requires_fhir_server(call):
    body = hook_body(
        fhirAuthorization={
            "access_token": "t",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds",
        }
    )
    assert call(PV, body).status_code == 400


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'"text"', b"null", json.dumps({"hook": 5}).encode()],
)
def test_B1_malformed_json_is_400_with_operation_outcome(call, body):
    response = call(PV, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_B1_patient_id_must_be_a_fhir_id(call):
    body = hook_body()
    body["context"]["patientId"] = "1&_include=*"
    assert call(PV, body).status_code == 400


@pytest.mark.parametrize(
    ("field", "value"),
    [("patientId", f"{PATIENT}\n"), ("userId", "Practitioner/doc-1\n"), ("encounterId", "enc-1\n")],
)
def test_B1_context_ids_with_a_trailing_newline_are_400(call, field, value):
    body = hook_body()
    body["context"][field] = value
    response = call(PV, body)
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["diagnostics"].startswith(f"context.{field} must be")


@pytest.mark.parametrize(
    "hook_instance",
    [
        "Jane Doe DOB 1980-01-01 MRN 12345",
        "d1577c69dfbe44adba6d3e05e953b2ea",
        "{d1577c69-dfbe-44ad-ba6d-3e05e953b2ea}",
        "urn:uuid:d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea\n",
        "a" * 300,
    ],
)
def test_B1_hook_instance_must_be_a_uuid(call, memory_storage, hook_instance):
    response = call(PV, hook_body(hookInstance=hook_instance))
    assert response.status_code == 400
    assert "hookInstance must be a UUID" in response.get_json()["issue"][0]["diagnostics"]
    (audit,) = memory_storage.audits
    assert audit.hook_instance == ""  # what was sent never reaches the audit trail


def test_B1_hook_instance_in_upper_case_is_accepted(call):
    assert call(PV, hook_body(hookInstance=str(uuid.uuid4()).upper())).status_code == 200


def test_B2_C7_http_fhir_server_is_never_contacted_and_a_complete_prefetch_is_answered(call, fhir_mock):
    """Outside dev mode a plain-http fhirServer is ignored, not refused: the token is not sent to it
    (B2, C7), and a complete prefetch needs no FHIR call, so the answer is the usual 200."""
    body = hook_body(fhirServer="http://fhir.example.org/r4", fhirAuthorization=HTTP_SERVER_AUTH)
    assert call(PV, body).status_code == 200
    assert len(fhir_mock.calls) == 0


def test_B2_C6_http_fhir_server_and_incomplete_prefetch_is_412_naming_https(call, fhir_mock):
    """Missing data and no usable server: 412 (C6), with an OperationOutcome that says why."""
    body = hook_body(fhirServer="http://fhir.example.org/r4", fhirAuthorization=HTTP_SERVER_AUTH)
    del body["prefetch"]["labs"]
    response = call(PV, body)
    assert response.status_code == 412
    diagnostics = response.get_json()["issue"][0]["diagnostics"]
    assert "labs" in diagnostics and "does not use https" in diagnostics
    assert len(fhir_mock.calls) == 0


def test_B2_http_fhir_server_allowed_in_dev_mode(make_app, fhir_mock):
    client = make_app(dev_mode=True).test_client()
    body = hook_body(fhirServer="http://127.0.0.1:9/fhir")
    assert client.post(PV, json=body).status_code == 200  # full prefetch: no call needed


@pytest.mark.parametrize("missing", ["access_token", "token_type", "expires_in", "scope", "subject"])
def test_B3_fhir_authorization_fields_are_required(call, missing):
    auth = {
        "access_token": "t",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds",
    }
    del auth[missing]
    assert call(PV, hook_body(fhirServer=FHIR, fhirAuthorization=auth)).status_code == 400


def test_B3_token_type_other_than_bearer_is_400(call):
    auth = {
        "access_token": "t",
        "token_type": "MAC",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds",
    }
    response = call(PV, hook_body(fhirServer=FHIR, fhirAuthorization=auth))
    assert response.status_code == 400
    assert "Bearer" in response.get_json()["issue"][0]["diagnostics"]


def test_B3_smart_v2_scopes_are_not_parsed_strictly(call):
    auth = {
        "access_token": "t",
        "token_type": "Bearer",
        "expires_in": 30,
        "scope": "patient/Observation.rs patient/Patient.r",
        "subject": "cds",
        "patient": PATIENT,
    }
    assert call(PV, hook_body(fhirServer=FHIR, fhirAuthorization=auth)).status_code == 200


@pytest.mark.parametrize(
    ("member", "value"),
    [("id", "ü é"), ("id", "draft-1\n"), ("id", 5), ("id", "a" * 65), ("resourceType", "ü é")],
)
def test_B1_draft_order_that_cannot_be_named_by_type_and_id_is_400(call, member, value):
    """Cards name a draft order by Type/id (a delete's resourceId, an update's resource): a draft
    whose type or id is not a FHIR one could only give an invalid action, so the call is refused."""
    body = hook_body("order-sign")
    body["context"]["draftOrders"]["entry"][0]["resource"][member] = value
    response = call(SIGN, body)
    assert response.status_code == 400
    assert "draftOrders" in response.get_json()["issue"][0]["diagnostics"]


def test_B4_non_r4_draft_order_is_400(call):
    body = hook_body("order-sign")
    body["context"]["draftOrders"]["entry"] = [{"resource": {"resourceType": "MedicationOrder", "id": "x"}}]
    assert call(SIGN, body).status_code == 400


# ---------------------------------------------------------------- D (HTTP level; card shapes in test_cards)


def test_D1_success_is_200_with_cards(call, engine):
    engine.assessment = builders.eligible_with_gaps()
    response = call(PV, hook_body())
    assert response.status_code == 200
    assert response.is_json
    assert isinstance(response.get_json()["cards"], list)


def test_D1_patient_without_aa_gets_no_cards(call, engine):
    engine.assessment = builders.eligible_with_gaps().__class__(as_of=builders.AS_OF, status="not-applicable")
    assert call(PV, hook_body()).get_json() == {"cards": []}


# ---------------------------------------------------------------- G


def test_G1_defined_statuses_200_and_412(call):
    assert call(PV, hook_body()).status_code == 200
    body = hook_body()
    del body["prefetch"]["labs"]
    assert call(PV, body).status_code == 412


@pytest.mark.parametrize(
    ("path", "kwargs", "status"),
    [
        (PV, {"data": b"{", "content_type": "application/json"}, 400),
        ("/cds-services/nope", {"data": b"{}", "content_type": "application/json"}, 404),
        (PV, {"data": b"{}", "content_type": "text/plain"}, 415),
    ],
)
def test_G2_errors_carry_an_operation_outcome(call, path, kwargs, status):
    response = call(path, **kwargs)
    assert response.status_code == status
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["severity"] == "error"


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("TRACE", PV, 405, "POST, OPTIONS"),
        ("PUT", PV, 405, "POST, OPTIONS"),
        ("BREW", PV + "/feedback", 405, "POST, OPTIONS"),
        ("GET", PV + "/feedback", 405, "POST, OPTIONS"),
        ("PUT", "/cds-services", 405, "GET, HEAD, OPTIONS"),
        ("POST", "/cds-services", 405, "GET, HEAD, OPTIONS"),
        ("DELETE", "/cds-services/openapi.json", 405, "GET, HEAD, OPTIONS"),
        ("GET", "/cds-services/", 404, None),
        ("POST", "/cds-services//feedback", 404, None),  # not a redirect to /cds-services/feedback
        ("POST", PV + "/", 404, None),
        ("GET", "/cds-services/x/y/z", 404, None),
    ],
)
def test_G2_errors_raised_while_routing_are_operation_outcomes(call, method, path, status, allow):
    response = call(path, method=method)
    assert response.status_code == status
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert response.headers.get("Allow") == allow


def test_G2_paths_outside_the_cds_api_keep_flask_errors(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_G2_operation_outcomes_validate_as_fhir(call):
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    for response in (
        call(PV, data=b"{", content_type="application/json"),
        call(PV, hook_body(), token="nonsense"),
    ):
        OperationOutcome.model_validate(response.get_json())


def test_G3_unexpected_error_is_500_without_stack_trace(call, engine):
    def boom(*args: Any) -> Any:
        raise RuntimeError("secret patient detail Jane Doe")

    engine.assess = boom
    response = call(PV, hook_body())
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "Jane Doe" not in text
    assert response.get_json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(prefetch=[1, 2]),
        lambda b: b.update(prefetch={"labs": "text"}),
        lambda b: b.update(prefetch={"labs": {"noResourceType": 1}}),
        lambda b: b.update(fhirServer=12),
        lambda b: b.update(fhirServer="ftp://x"),
        lambda b: b["context"].update(userId=None),
        lambda b: b["context"].update(encounterId=["x"]),
        lambda b: b.update(hookInstance=""),
        lambda b: b.update(context="patient"),
    ],
)
def test_G3_bad_input_is_4xx_never_500(call, mutate):
    body = hook_body()
    mutate(body)
    assert 400 <= call(PV, body).status_code < 500


MALFORMED_PREFETCH_BUNDLES = {
    "entry not an array": lambda labs: labs.update(entry=1),
    "entry item not an object": lambda labs: labs["entry"].append("x"),
    "entry search not an object": lambda labs: labs["entry"][0].update(search=1),
    "link not an array": lambda labs: labs.update(link=1),
    "next link that is no URL": lambda labs: labs.update(link=[{"relation": "next", "url": "https://[::1"}]),
}


@pytest.mark.parametrize("mutate", MALFORMED_PREFETCH_BUNDLES.values(), ids=MALFORMED_PREFETCH_BUNDLES)
def test_G3_malformed_prefetch_bundle_is_400_naming_the_key(call, fhir_mock, mutate):
    """Refused like any malformed member, never read in part; even with a fhirServer to fetch from."""
    body = hook_body(fhirServer=FHIR)
    mutate(body["prefetch"]["labs"])
    response = call(PV, body)
    assert response.status_code == 400
    assert "prefetch.labs is a malformed Bundle" in response.get_json()["issue"][0]["diagnostics"]
    assert len(fhir_mock.calls) == 0


def test_G3_a_badly_typed_field_inside_a_prefetched_resource_is_no_500(make_real_app):
    """The service does not validate prefetched resources (request.py); reading them must not fail."""
    body = hook_body()
    order = draft_medication_request("mr-1") | {"status": []}
    body["prefetch"]["medicationRequests"] = searchset([order])
    response = make_real_app().test_client().post(PV, json=body)
    assert response.status_code == 200


@pytest.mark.parametrize("expires_in", ["1e400", "Infinity", "-Infinity", "NaN"])
def test_G3_non_finite_expires_in_is_400(call, expires_in):
    auth = {"access_token": "t", "token_type": "Bearer", "expires_in": 300, "scope": "s", "subject": "s"}
    raw = json.dumps(hook_body(fhirServer=FHIR, fhirAuthorization=auth))
    raw = raw.replace('"expires_in": 300', f'"expires_in": {expires_in}')
    response = call(PV, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert "expires_in" in response.get_json()["issue"][0]["diagnostics"]


def test_G3_prefetch_patient_must_match_context(call):
    body = hook_body()
    body["prefetch"]["patient"]["id"] = "someone-else"
    assert call(PV, body).status_code == 400


def test_G3_413_body_over_limit(make_app, jwt_for):
    client = make_app(cds_max_body_bytes=1000).test_client()
    body = hook_body()
    body["padding"] = "x" * 2000
    response = client.post(PV, json=body, headers={"Authorization": f"Bearer {jwt_for(PV)}"})
    assert response.status_code == 413
    assert response.get_json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("error", "status"),
    [(RequestEntityTooLarge(), 413), (ClientDisconnected(), 400), (WerkzeugBadRequest(), 400)],
    ids=["RequestEntityTooLarge", "ClientDisconnected", "BadRequest"],
)
def test_G2_G3_http_error_raised_in_a_view_keeps_its_status_with_an_operation_outcome(
    call, monkeypatch, error, status
):
    """Werkzeug raises these while a view reads the body; the blueprint's catch-all must not answer 500."""

    def fail(raw: bytes) -> Any:
        raise error

    monkeypatch.setattr(cds_hooks.views, "parse_json", fail)
    response = call(PV, hook_body())
    assert response.status_code == status
    assert response.get_json()["resourceType"] == "OperationOutcome"


def json_of_size(body: dict[str, Any], size: int) -> bytes:
    body = body | {"padding": ""}
    body["padding"] = "x" * (size - len(json.dumps(body)))
    raw = json.dumps(body).encode()
    assert len(raw) == size
    return raw


def post_chunked(client: Any, data: bytes, token: str) -> Any:
    """POST `data` as a WSGI server passes a chunked body: no Content-Length, the stream terminated."""
    return client.post(
        PV,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": io.BytesIO(data), "wsgi.input_terminated": True},
    )


def test_G3_413_chunked_body_over_limit(make_app, jwt_for):
    client = make_app(cds_max_body_bytes=2000).test_client()
    response = post_chunked(client, json_of_size(hook_body(), 2001), jwt_for(PV))
    assert response.status_code == 413
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_G3_chunked_body_of_exactly_the_limit_is_read(make_app, jwt_for):
    client = make_app(cds_max_body_bytes=2000).test_client()
    assert post_chunked(client, json_of_size(hook_body(), 2000), jwt_for(PV)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PUT", PV, 405),
        ("DELETE", PV, 405),
        ("POST", "/cds-services", 405),
        ("DELETE", "/cds-services", 405),
        ("GET", PV + "/feedback", 405),
        ("GET", PV, 404),
        ("GET", "/cds-services/x/y/z", 404),
    ],
)
def test_G3_wrong_method_or_path(call, method, path, status):
    response = call(path, method=method)
    assert response.status_code == status
    assert response.get_json()["resourceType"] == "OperationOutcome"
    if status == 405:
        assert "Allow" in response.headers


# ---------------------------------------------------------------- audit and logs


def test_audit_record_per_invocation_without_phi(call, engine, memory_storage):
    engine.assessment = builders.eligible_with_gaps()
    body = hook_body()
    call(PV, body)
    call(PV, {"hook": "patient-view"})  # a 400 is audited too
    ok, bad = memory_storage.audits
    assert (ok.service_id, ok.hook, ok.status) == ("aa-jak-patient-view", "patient-view", 200)
    assert ok.hook_instance == body["hookInstance"] and ok.issuer == "https://ehr.example.org"
    assert "baseline.tb_screening.missing" in ok.finding_ids and ok.latency_ms >= 0
    assert bad.status == 400 and bad.finding_ids == []
    assert PATIENT not in repr(ok) and PATIENT not in repr(bad)


def test_audit_record_for_a_call_refused_with_401(call, memory_storage):
    call(PV, hook_body(), token="not-a-jwt")
    (audit,) = memory_storage.audits
    assert (audit.service_id, audit.hook, audit.status) == ("aa-jak-patient-view", "patient-view", 401)
    assert audit.issuer is None and audit.hook_instance == ""


def test_no_audit_record_for_a_401_at_an_unknown_service(call, memory_storage):
    call("/cds-services/no-such-service", hook_body(), token="not-a-jwt")
    assert memory_storage.audits == []


def test_cards_are_mapped_to_findings_after_the_answer_is_sent(client, jwt_for, engine, memory_storage):
    engine.assessment = builders.eligible_with_gaps()
    response = client.post(PV, json=hook_body(), headers={"Authorization": f"Bearer {jwt_for(PV)}"})
    assert memory_storage.cards == {}  # not yet: the EHR does not wait for this write
    response.close()
    card_uuid = response.get_json()["cards"][0]["uuid"]
    assert memory_storage.cards[card_uuid][0][2] == "baseline.tb_screening.missing"


def test_patient_data_and_tokens_never_reach_the_logs(call, engine, caplog):
    caplog.set_level("DEBUG")
    engine.assessment = builders.eligible_with_gaps()
    body = hook_body(fhirServer=FHIR)
    body["context"]["patientId"] = "unique-patient-id-42"
    body["prefetch"]["patient"]["id"] = "unique-patient-id-42"
    call(PV, body)
    assert "unique-patient-id-42" not in caplog.text
