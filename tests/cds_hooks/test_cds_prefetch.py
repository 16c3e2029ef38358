"""Checklist C (prefetch and FHIR access), H (hook contexts), K3/K4, I5: the prefetch matrix.

The FHIR server is mocked with `responses`; every outbound request is checked
for the token and the base URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses
from cds_support import FHIR, PATIENT, full_prefetch, hook_body, searchset

from cds_hooks.data import FhirSource, resolve_medications
from cds_hooks.errors import PreconditionFailed
from cds_hooks.registry import check_template, prefetch_templates
from clinical_core import build_record
from fhir_access import FhirError, FhirForbidden, FhirNotFound, FhirUnavailable

PV = "/cds-services/aa-jak-patient-view"
SIGN = "/cds-services/aa-jak-order-sign"
SELECT = "/cds-services/aa-jak-order-select"
AUTH = {
    "access_token": "secret-access-token",
    "token_type": "Bearer",
    "expires_in": 30,
    "scope": "patient/*.read",
    "subject": "cds-service",
    "patient": PATIENT,
}
FAILED = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}
OBS = [{"resourceType": "Observation", "id": f"o{i}"} for i in range(3)]


def resources_given_to_core(engine: Any) -> list[dict[str, Any]]:
    return engine.calls[-1][0]


def ids(resources: list[dict[str, Any]], kind: str) -> list[str]:
    return sorted(r["id"] for r in resources if r["resourceType"] == kind)


def mock_search(fhir_mock: Any, kind: str, resources: list[dict[str, Any]], **kw: Any) -> None:
    fhir_mock.get(re.compile(rf"{re.escape(FHIR)}/{kind}\?.*"), json=searchset(resources), **kw)


def mock_all(fhir_mock: Any) -> None:
    fhir_mock.get(f"{FHIR}/Patient/{PATIENT}", json={"resourceType": "Patient", "id": PATIENT})
    for kind in ("Condition", "MedicationRequest", "MedicationStatement", "Immunization", "Procedure"):
        mock_search(fhir_mock, kind, [])
    mock_search(fhir_mock, "Observation", OBS)


# ---------------------------------------------------------------- C1 / C2


def test_C1_templates_use_only_legal_tokens(call):
    services = call("/cds-services", method="GET").get_json()["services"]
    for service in services:
        for template in service["prefetch"].values():
            tokens = re.findall(r"\{\{(.*?)\}\}", template)
            assert tokens and set(tokens) <= {"context.patientId"}


@pytest.mark.parametrize(
    "template",
    ["Bundle?x={{context.draftOrders}}", "Patient/{{context.selections}}", "Patient/{{Patient.id}}"],
)
def test_C1_illegal_tokens_fail_at_load_time(template):
    with pytest.raises(ValueError, match="not a prefetch token"):
        check_template("bad", template, "order-sign")


@pytest.mark.parametrize(
    "template",
    [
        "MedicationRequest?patient={{context.patientId}}&_include=MedicationRequest:medication",
        "Observation?patient={{context.patientId}}&code:text=cbc",
        "Patient/{{context.patientId}}?_elements=id",
    ],
)
def test_C2_queries_outside_the_subset_fail_at_load_time(template):
    with pytest.raises(ValueError):
        check_template("bad", template, "patient-view")


def test_C2_templates_stay_in_the_query_subset_and_carry_no_dates():
    templates = prefetch_templates([("http://loinc.org", "718-7")], [("urn:x", "SALT")])
    for template in templates.values():
        assert "_include" not in template and "date=" not in template
        check_template("k", template, "patient-view")


# ---------------------------------------------------------------- C3


def test_C3_null_prefetch_means_no_data(call, engine):
    body = hook_body()
    body["prefetch"]["labs"] = None
    body["prefetch"]["procedures"] = None
    response = call(PV, body)  # no fhirServer: a null must not be treated as missing
    assert response.status_code == 200
    assert ids(resources_given_to_core(engine), "Observation") == ["s1"]


def test_C3_null_prefetch_is_not_fetched_even_with_a_fhir_server(call, engine, fhir_mock):
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    body["prefetch"]["labs"] = None
    assert call(PV, body).status_code == 200
    assert len(fhir_mock.calls) == 0
    assert ids(resources_given_to_core(engine), "Observation") == ["s1"]


def test_C3_operation_outcome_prefetch_is_fetched_again(call, engine, fhir_mock):
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    body["prefetch"]["labs"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "x"}],
    }
    mock_search(fhir_mock, "Observation", OBS)
    assert call(PV, body).status_code == 200
    assert ids(resources_given_to_core(engine), "Observation") == ["o0", "o1", "o2", "s1"]
    assert len(fhir_mock.calls) == 1


def test_C3_operation_outcome_prefetch_without_fhir_server_is_412(call):
    body = hook_body()
    body["prefetch"]["labs"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "x"}],
    }
    response = call(PV, body)
    assert response.status_code == 412
    assert "labs" in response.get_json()["issue"][0]["diagnostics"]


def test_C3_outcome_entries_in_a_prefetch_bundle_are_not_data(call, engine):
    body = hook_body()
    body["prefetch"]["labs"]["entry"].append(
        {"resource": {"resourceType": "OperationOutcome", "issue": []}, "search": {"mode": "outcome"}}
    )
    assert call(PV, body).status_code == 200
    assert "OperationOutcome" not in {r["resourceType"] for r in resources_given_to_core(engine)}


# ---------------------------------------------------------------- C4


def test_C4_paginated_prefetch_is_followed_with_the_token(call, engine, fhir_mock):
    next_url = f"{FHIR}/Observation?patient={PATIENT}&_offset=1"
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    body["prefetch"]["labs"] = searchset(OBS[:1], next_url=next_url)
    fhir_mock.get(next_url, json=searchset(OBS[1:]))
    assert call(PV, body).status_code == 200
    assert ids(resources_given_to_core(engine), "Observation") == ["o0", "o1", "o2", "s1"]
    assert fhir_mock.calls[0].request.headers["Authorization"] == "Bearer secret-access-token"


def test_C4_paginated_prefetch_without_fhir_server_is_412(call):
    body = hook_body()
    body["prefetch"]["labs"] = searchset(OBS[:1], next_url=f"{FHIR}/Observation?page=2")
    assert call(PV, body).status_code == 412


def test_C4_next_link_off_the_fhir_server_is_not_followed(call, fhir_mock):
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    body["prefetch"]["labs"] = searchset(OBS[:1], next_url="https://evil.example.com/steal")
    assert call(PV, body).status_code == 412
    assert len(fhir_mock.calls) == 0


def test_C4_fallback_search_follows_next_pages(call, engine, fhir_mock):
    page_2 = f"{FHIR}/Observation?patient={PATIENT}&_page=2"
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]["labs"]
    fhir_mock.get(page_2, json=searchset(OBS[1:]))
    fhir_mock.get(re.compile(rf"{re.escape(FHIR)}/Observation\?.*code=.*"), json=searchset(OBS[:1], page_2))
    assert call(PV, body).status_code == 200
    assert ids(resources_given_to_core(engine), "Observation") == ["o0", "o1", "o2", "s1"]
    assert [c.request.headers["Authorization"] for c in fhir_mock.calls] == ["Bearer secret-access-token"] * 2


# ---------------------------------------------------------------- C5


def test_C5_partial_prefetch_fetches_only_the_missing_keys(call, engine, fhir_mock):
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]["labs"]
    del body["prefetch"]["conditions"]
    mock_search(fhir_mock, "Observation", OBS)
    mock_search(fhir_mock, "Condition", [{"resourceType": "Condition", "id": "c9"}])
    assert call(PV, body).status_code == 200
    fetched = sorted(c.request.url.split("?")[0].rsplit("/", 1)[1] for c in fhir_mock.calls)
    assert fetched == ["Condition", "Observation"]
    resources = resources_given_to_core(engine)
    assert ids(resources, "Condition") == ["c9"]
    assert ids(resources, "Observation") == ["o0", "o1", "o2", "s1"]
    lab_call = next(c for c in fhir_mock.calls if "code=" in c.request.url)
    assert f"patient={PATIENT}" in lab_call.request.url and "_sort=-date" in lab_call.request.url


def test_C5_absent_prefetch_is_fetched_in_full_with_the_same_result(call, engine, fhir_mock):
    mock_all(fhir_mock)
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]
    assert call(PV, body).status_code == 200
    assert len(fhir_mock.calls) == 8  # one per template, none duplicated
    assert ids(resources_given_to_core(engine), "Patient") == [PATIENT]


def test_C5_same_cards_by_prefetch_and_by_fallback(make_app, jwt_for, engine, fhir_mock):
    import cds_builders

    engine.assessment = cds_builders.eligible_with_gaps()
    prefetch = full_prefetch()
    fhir_mock.get(f"{FHIR}/Patient/{PATIENT}", json=prefetch["patient"])
    for key, kind in [
        ("conditions", "Condition"),
        ("medicationRequests", "MedicationRequest"),
        ("medicationStatements", "MedicationStatement"),
        ("immunizations", "Immunization"),
        ("procedures", "Procedure"),
    ]:
        fhir_mock.get(re.compile(rf"{re.escape(FHIR)}/{kind}\?.*"), json=prefetch[key])
    fhir_mock.get(re.compile(rf"{re.escape(FHIR)}/Observation\?.*SALT.*"), json=prefetch["salt"])
    fhir_mock.get(re.compile(rf"{re.escape(FHIR)}/Observation\?.*731-0.*"), json=prefetch["labs"])

    answers = []
    for with_prefetch in (True, False):
        client = make_app().test_client()  # fresh uuid counter: the two answers must be equal
        body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
        if not with_prefetch:
            del body["prefetch"]
        headers = {"Authorization": f"Bearer {jwt_for(PV)}"}
        answers.append(client.post(PV, json=body, headers=headers).get_json())
    assert answers[0] == answers[1]
    assert answers[0]["cards"]
    by_prefetch, by_fallback = engine.calls[0][0], engine.calls[1][0]
    key = lambda r: (r["resourceType"], r["id"])  # noqa: E731
    assert sorted(by_prefetch, key=key) == sorted(by_fallback, key=key)


# ---------------------------------------------------------------- C6


def test_C6_missing_prefetch_without_fhir_server_is_412(call):
    body = hook_body()
    del body["prefetch"]
    response = call(PV, body)
    assert response.status_code == 412
    assert response.get_json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
def test_C6_fhir_server_error_is_412(call, fhir_mock, status):
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]["labs"]
    mock_search(fhir_mock, "Observation", [], status=status)
    response = call(PV, body)
    assert response.status_code == 412
    text = response.get_data(as_text=True)
    assert "labs" in text and PATIENT not in text and "secret-access-token" not in text


MALFORMED_ANSWERS = {
    "entry not an array": {"json": {"resourceType": "Bundle", "type": "searchset", "entry": 1}},
    "entry search not an object": {
        "json": {"resourceType": "Bundle", "entry": [{"resource": OBS[0], "search": 1}]}
    },
    "link not an array": {"json": {"resourceType": "Bundle", "type": "searchset", "link": 1}},
    "next link that is no URL": {
        "json": {"resourceType": "Bundle", "link": [{"relation": "next", "url": "https://[::1"}]}
    },
    "nested too deeply to parse": {"body": "[" * 100_000 + "]" * 100_000},
}


@pytest.mark.parametrize("answer", MALFORMED_ANSWERS.values(), ids=MALFORMED_ANSWERS)
def test_C6_malformed_fhir_server_answer_is_412(call, fhir_mock, answer):
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]["labs"]
    fhir_mock.get(re.compile(rf"{re.escape(FHIR)}/Observation\?.*"), **answer)
    response = call(PV, body)
    assert response.status_code == 412
    assert "could not obtain labs" in response.get_json()["issue"][0]["diagnostics"]


def test_C6_patient_the_fhir_server_returns_for_another_id_is_412(call, fhir_mock):
    """Not the client's error (that would be 400): the service is left without the patient's data."""
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]["patient"]
    fhir_mock.get(f"{FHIR}/Patient/{PATIENT}", json={"resourceType": "Patient", "id": "someone-else"})
    response = call(PV, body)
    assert response.status_code == 412
    assert "Patient does not match" in response.get_json()["issue"][0]["diagnostics"]


def test_I5_fhir_timeout_is_412_not_a_hang(call, fhir_mock):
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]["labs"]
    fhir_mock.get(re.compile(rf"{re.escape(FHIR)}/Observation\?.*"), body=requests.ReadTimeout())
    response = call(PV, body)
    assert response.status_code == 412
    assert "FhirTimeout" in response.get_json()["issue"][0]["diagnostics"]


# ---------------------------------------------------------------- C7 / C8 / K3


def test_C7_token_goes_only_to_fhir_server_and_never_to_logs(call, fhir_mock, caplog):
    caplog.set_level("DEBUG")
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]
    mock_all(fhir_mock)
    assert call(PV, body).status_code == 200
    for recorded in fhir_mock.calls:
        assert recorded.request.url.startswith(FHIR + "/")
        assert recorded.request.headers["Authorization"] == "Bearer secret-access-token"
    assert "secret-access-token" not in caplog.text
    assert PATIENT not in caplog.text


def test_C7_fhir_client_is_closed_when_the_request_ends(app, call):
    made: list[Any] = []

    class OneShotClient:
        closed = False

        def search_many(self, queries: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
            return {key: [] for key in queries}

        def close(self) -> None:
            self.closed = True

    def factory(source: Any) -> OneShotClient:
        made.append(OneShotClient())
        return made[-1]

    app.extensions["cds_hooks"].client_factory = factory
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]["labs"]
    assert call(PV, body).status_code == 200
    assert len(made) == 1 and made[0].closed


def test_C7_access_token_is_not_kept_in_storage(call, fhir_mock, memory_storage):
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    del body["prefetch"]["labs"]
    mock_search(fhir_mock, "Observation", OBS)
    assert call(PV, body).status_code == 200
    assert memory_storage.audits
    kept = repr((memory_storage.audits, memory_storage.cards, memory_storage.feedback))
    assert "secret-access-token" not in kept


def test_C8_fhir_server_without_authorization_is_queried_without_a_token(call, fhir_mock):
    body = hook_body(fhirServer=FHIR)
    del body["prefetch"]["labs"]
    mock_search(fhir_mock, "Observation", OBS)
    assert call(PV, body).status_code == 200
    assert "Authorization" not in fhir_mock.calls[0].request.headers


UNLISTED = "https://attacker.example.com/fhir"


@pytest.mark.parametrize(
    "server",
    ["HTTPS://FHIR.example.org/r4", "https://fhir.example.org:443/r4", "https://fhir.example.org/r4/"],
)
def test_C8_allow_list_matches_scheme_and_host_in_any_case_and_the_default_port(call, fhir_mock, server):
    body = hook_body(fhirServer=server, fhirAuthorization=AUTH)
    del body["prefetch"]["labs"]
    mock_search(fhir_mock, "Observation", OBS)
    assert call(PV, body).status_code == 200
    assert len(fhir_mock.calls) == 1


def test_C8_allow_list_compares_the_path_exactly(call, fhir_mock):
    body = hook_body(fhirServer="https://fhir.example.org/R4", fhirAuthorization=AUTH)
    del body["prefetch"]["labs"]
    response = call(PV, body)
    assert response.status_code == 412
    assert "not allow-listed" in response.get_json()["issue"][0]["diagnostics"]
    assert len(fhir_mock.calls) == 0


def test_C8_fhir_server_not_allow_listed_is_never_contacted_and_a_complete_prefetch_is_answered(
    call, fhir_mock
):
    """The public CDS Hooks Sandbox names its own FHIR server: with everything prefetched it gets
    cards even if the operator did not allow-list that server (C8), and the token stays home (C7)."""
    body = hook_body(fhirServer=UNLISTED, fhirAuthorization=AUTH)
    assert call(PV, body).status_code == 200
    assert len(fhir_mock.calls) == 0


def test_C6_C8_fhir_server_not_allow_listed_and_incomplete_prefetch_is_412_saying_so(call, fhir_mock):
    body = hook_body(fhirServer=UNLISTED, fhirAuthorization=AUTH)
    del body["prefetch"]["labs"]
    response = call(PV, body)
    assert response.status_code == 412
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "labs" in outcome["issue"][0]["diagnostics"]
    assert "not allow-listed" in outcome["issue"][0]["diagnostics"]
    assert len(fhir_mock.calls) == 0


def test_C7_C8_ignored_fhir_server_is_logged_without_token_or_patient_data(call, caplog):
    caplog.set_level("DEBUG")
    body = hook_body(fhirServer="https://user:password@attacker.example.com/fhir", fhirAuthorization=AUTH)
    assert call(PV, body).status_code == 200
    (line,) = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert f"{UNLISTED} ignored: it is not allow-listed" in line
    assert "password" not in caplog.text
    assert "secret-access-token" not in caplog.text
    assert PATIENT not in caplog.text


def test_C8_unusable_fhir_server_in_dev_mode_is_named_so_and_not_credentials(make_app, fhir_mock):
    """A fhirServer without a host passes the request checks but is no base URL the client can call."""
    client = make_app(dev_mode=True).test_client()
    body = hook_body(fhirServer="https://:443/fhir")
    del body["prefetch"]["labs"]
    response = client.post(PV, json=body)
    assert response.status_code == 412
    diagnostics = response.get_json()["issue"][0]["diagnostics"]
    assert "the fhirServer is not a usable base URL" in diagnostics
    assert "credentials" not in diagnostics
    assert len(fhir_mock.calls) == 0


def test_K3_sandbox_request_shape_is_accepted(make_app, fhir_mock):
    """The sandbox sends fhirServer without fhirAuthorization and userId Practitioner/COREPRACTITIONER1."""
    client = make_app(dev_mode=True).test_client()
    body = hook_body(fhirServer="http://127.0.0.1:8080/fhir")
    body["context"]["userId"] = "Practitioner/COREPRACTITIONER1"
    assert client.post(PV, json=body).status_code == 200


# ---------------------------------------------------------------- H


def test_H_order_select_passes_only_selected_draft_orders(call, engine):
    body = hook_body("order-select")
    other = dict(body["context"]["draftOrders"]["entry"][0]["resource"], id="draft-2")
    body["context"]["draftOrders"]["entry"].append({"resource": other})
    assert call(SELECT, body).status_code == 200
    drafts = engine.calls[-1][1]
    assert [d["id"] for d in drafts] == ["draft-1"]


def test_H_order_sign_passes_every_draft_order(call, engine):
    body = hook_body("order-sign")
    other = dict(body["context"]["draftOrders"]["entry"][0]["resource"], id="draft-2")
    body["context"]["draftOrders"]["entry"].append({"resource": other})
    assert call(SIGN, body).status_code == 200
    assert [d["id"] for d in engine.calls[-1][1]] == ["draft-1", "draft-2"]


@pytest.mark.parametrize("user", ["Patient/pat-1", "RelatedPerson/rp-1", "PractitionerRole/role-1"])
def test_H_patient_view_accepts_every_user_type(call, user):
    body = hook_body()
    body["context"]["userId"] = user
    assert call(PV, body).status_code == 200


def test_H_medication_references_are_fetched_since_include_is_not_in_the_subset(call, engine, fhir_mock):
    body = hook_body("order-sign", fhirServer=FHIR, fhirAuthorization=AUTH)
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    del draft["medicationCodeableConcept"]
    draft["medicationReference"] = {"reference": "Medication/med-9"}
    active = {
        "resourceType": "MedicationRequest",
        "id": "mr-1",
        "medicationReference": {"reference": "Medication/m1"},
    }
    body["prefetch"]["medicationRequests"] = searchset([active])
    fhir_mock.get(f"{FHIR}/Medication/med-9", json={"resourceType": "Medication", "id": "med-9"})
    fhir_mock.get(f"{FHIR}/Medication/m1", json={"resourceType": "Medication", "id": "m1"})
    assert call(SIGN, body).status_code == 200
    assert ids(resources_given_to_core(engine), "Medication") == ["m1", "med-9"]


def test_H_contained_medications_need_no_fetch(call, engine, fhir_mock):
    body = hook_body("order-sign", fhirServer=FHIR, fhirAuthorization=AUTH)
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    del draft["medicationCodeableConcept"]
    draft["contained"] = [{"resourceType": "Medication", "id": "m"}]
    draft["medicationReference"] = {"reference": "#m"}
    assert call(SIGN, body).status_code == 200
    assert len(fhir_mock.calls) == 0


def _draft_by_reference(body: dict[str, Any], reference: str) -> dict[str, Any]:
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    del draft["medicationCodeableConcept"]
    draft["medicationReference"] = {"reference": reference, "display": "baricitinib 2 mg"}
    return draft


def _diagnostics(response: Any) -> str:
    assert response.status_code == 412
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    return str(outcome["issue"][0]["diagnostics"])


def test_H_C6_draft_order_medication_unresolvable_without_fhir_server_is_412_naming_it(call, engine):
    """Answering would be a silent all-clear at order-sign: the core cannot tell what is ordered."""
    body = hook_body("order-sign")
    _draft_by_reference(body, "Medication/med-9")
    text = _diagnostics(call(SIGN, body))
    assert "Medication/med-9 (draft order)" in text and "no fhirServer" in text
    assert engine.calls == []


def test_H_C6_C8_draft_order_medication_on_a_server_not_allow_listed_is_412_saying_so(
    call, engine, fhir_mock
):
    body = hook_body("order-sign", fhirServer=UNLISTED, fhirAuthorization=AUTH)
    _draft_by_reference(body, "Medication/med-9")
    text = _diagnostics(call(SIGN, body))
    assert "Medication/med-9" in text and "not allow-listed" in text
    assert len(fhir_mock.calls) == 0


def test_H_C6_draft_order_contained_reference_without_the_contained_medication_is_412(call):
    body = hook_body("order-sign", fhirServer=FHIR, fhirAuthorization=AUTH)
    _draft_by_reference(body, "#gone")
    assert "#gone (draft order) could not be resolved: no contained Medication" in _diagnostics(
        call(SIGN, body)
    )


def test_H_C6_draft_order_medication_the_server_does_not_have_is_412(call, fhir_mock):
    body = hook_body("order-sign", fhirServer=FHIR, fhirAuthorization=AUTH)
    _draft_by_reference(body, "Medication/med-9")
    fhir_mock.get(f"{FHIR}/Medication/med-9", status=404)
    assert "Medication/med-9" in _diagnostics(call(SIGN, body))


def test_H_C6_draft_order_medication_on_another_server_is_412(call, fhir_mock):
    body = hook_body("order-sign", fhirServer=FHIR, fhirAuthorization=AUTH)
    _draft_by_reference(body, "https://elsewhere.example.org/fhir/Medication/med-9")
    assert "not on the fhirServer" in _diagnostics(call(SIGN, body))
    assert len(fhir_mock.calls) == 0


def test_H_draft_order_medication_sent_in_draft_orders_needs_no_fetch(call, engine, fhir_mock):
    """At order-select the Medication may come as an unselected entry of draftOrders."""
    body = hook_body("order-select", fhirServer=FHIR, fhirAuthorization=AUTH)
    _draft_by_reference(body, "Medication/med-9")
    body["context"]["draftOrders"]["entry"].append(
        {"resource": {"resourceType": "Medication", "id": "med-9"}}
    )
    assert call(SELECT, body).status_code == 200
    assert ids(resources_given_to_core(engine), "Medication") == ["med-9"]
    assert len(fhir_mock.calls) == 0


def _order_by_reference(rid: str, status: str, medication: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "medicationReference": {"reference": medication},
    }


def _patient_view_with_order_by_reference(status: str) -> dict[str, Any]:
    body = hook_body()
    body["prefetch"]["medicationRequests"] = searchset([_order_by_reference("mr-1", status, "Medication/m1")])
    return body


def _patient_view_fetching_medications(*orders: dict[str, Any]) -> dict[str, Any]:
    body = hook_body(fhirServer=FHIR, fhirAuthorization=AUTH)
    body["prefetch"]["medicationRequests"] = searchset(list(orders))
    return body


# How a FHIR server may refuse one Medication: it does not have it, or it answers with an OperationOutcome.
MEDICATION_READ_FAILURES = {
    "404": {"status": 404, "json": FAILED},
    "operation-outcome": {"status": 200, "json": FAILED},
}


def test_H_C6_current_medication_unresolvable_at_patient_view_is_412(call):
    """An active order the core cannot identify could hide an interaction or the current dose."""
    body = _patient_view_with_order_by_reference("active")
    assert "Medication/m1 (current medication)" in _diagnostics(call(PV, body))


def test_H_past_medication_unresolvable_is_left_to_the_core(call, engine):
    """History only: the core lists it as uninterpretable rather than refusing the whole chart."""
    body = _patient_view_with_order_by_reference("completed")
    assert call(PV, body).status_code == 200
    assert ids(resources_given_to_core(engine), "MedicationRequest") == ["mr-1"]


@pytest.mark.parametrize("failure", MEDICATION_READ_FAILURES.values(), ids=MEDICATION_READ_FAILURES)
def test_past_medication_whose_medication_fetch_fails_is_listed_not_412(call, engine, fhir_mock, failure):
    """As for a reference not fetched at all: history the core lists, not a reason to refuse the chart."""
    body = _patient_view_fetching_medications(_order_by_reference("mr-1", "completed", "Medication/m1"))
    fhir_mock.get(f"{FHIR}/Medication/m1", **failure)
    assert call(PV, body).status_code == 200
    given = resources_given_to_core(engine)
    assert ids(given, "MedicationRequest") == ["mr-1"] and ids(given, "Medication") == []
    listed = [u.reference for u in build_record(given).uninterpretable]
    assert listed == ["MedicationRequest/mr-1"]


@pytest.mark.parametrize("failure", MEDICATION_READ_FAILURES.values(), ids=MEDICATION_READ_FAILURES)
def test_current_medication_whose_medication_fetch_fails_gets_412(call, engine, fhir_mock, failure):
    body = _patient_view_fetching_medications(_order_by_reference("mr-1", "active", "Medication/m1"))
    fhir_mock.get(f"{FHIR}/Medication/m1", **failure)
    assert "Medication/m1 (current medication) could not be resolved" in _diagnostics(call(PV, body))
    assert engine.calls == []


def test_past_medication_whose_medication_fetch_fails_leaves_the_others_read(call, engine, fhir_mock):
    body = _patient_view_fetching_medications(
        _order_by_reference("mr-old", "stopped", "Medication/gone"),
        _order_by_reference("mr-now", "active", "Medication/m2"),
    )
    fhir_mock.get(f"{FHIR}/Medication/gone", status=404, json=FAILED)
    fhir_mock.get(f"{FHIR}/Medication/m2", json={"resourceType": "Medication", "id": "m2"})
    assert call(PV, body).status_code == 200
    assert ids(resources_given_to_core(engine), "Medication") == ["m2"]


def test_past_medications_unread_for_a_refused_token_are_listed_not_412(call, engine, fhir_mock):
    body = _patient_view_fetching_medications(_order_by_reference("mr-1", "completed", "Medication/m1"))
    fhir_mock.get(f"{FHIR}/Medication/m1", status=401)
    assert call(PV, body).status_code == 200
    assert ids(resources_given_to_core(engine), "Medication") == []


def test_refused_token_gives_412_naming_the_current_medication_not_the_past_one(call, engine, fhir_mock):
    """Whichever read fails first, the current medication's cannot succeed with that token either."""
    body = _patient_view_fetching_medications(
        _order_by_reference("mr-old", "completed", "Medication/m1"),
        _order_by_reference("mr-now", "active", "Medication/m2"),
    )
    fhir_mock.get(f"{FHIR}/Medication/m1", status=401)
    fhir_mock.get(f"{FHIR}/Medication/m2", status=401)
    text = _diagnostics(call(PV, body))
    assert "Medication/m2 (current medication)" in text and "past medication" not in text
    assert engine.calls == []


class _RoundCountingClient:
    """`search_many` as `FhirClient` has it: the first failing read, in query order, raises with its
    key; every other read returns its Medication. `rounds` counts the calls."""

    def __init__(self, failures: dict[str, Callable[[], FhirError]]) -> None:
        self.failures = failures
        self.rounds = 0

    def search_many(self, queries: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
        self.rounds += 1
        for key, reference in queries.items():
            if reference in self.failures:
                error = self.failures[reference]()
                error.key = key
                raise error
        return {k: [{"resourceType": "Medication", "id": r.split("/")[1]}] for k, r in queries.items()}


def _resolve(client: _RoundCountingClient, *orders: dict[str, Any]) -> list[dict[str, Any]]:
    source = FhirSource(FHIR, "token")
    return resolve_medications(list(orders), [], source, lambda _: client, "no fhirServer")


SERVER_WIDE_REFUSALS = {
    "403-scopes": lambda: FhirForbidden("FHIR read Medication: 403", status=403),
    "429": lambda: FhirUnavailable("FHIR read Medication: 429", status=429),
    "503": lambda: FhirUnavailable("FHIR read Medication: 503", status=503),
    "connection-refused": lambda: FhirUnavailable("FHIR read Medication: connection failed"),
}


@pytest.mark.parametrize("refusal", SERVER_WIDE_REFUSALS.values(), ids=SERVER_WIDE_REFUSALS)
def test_server_wide_refusal_of_past_medications_is_one_round_not_one_per_medication(refusal):
    """Every read is a Medication read with the same token: scopes, a rate limit or an overloaded
    server refuse them all. Reading the rest again, once per past medication, each round under a
    fresh deadline, would only repeat it (N rounds of up to the deadline each)."""
    past = [_order_by_reference(f"mr-{i}", "completed", f"Medication/m{i}") for i in range(6)]
    client = _RoundCountingClient({f"Medication/m{i}": refusal for i in range(6)})
    assert _resolve(client, *past) == []
    assert client.rounds == 1


@pytest.mark.parametrize("refusal", SERVER_WIDE_REFUSALS.values(), ids=SERVER_WIDE_REFUSALS)
def test_server_wide_refusal_names_the_current_medication_after_one_round(refusal):
    past = [_order_by_reference(f"mr-{i}", "completed", f"Medication/m{i}") for i in range(3)]
    current = _order_by_reference("mr-now", "active", "Medication/now")
    failing = {f"Medication/{m}": refusal for m in ("m0", "m1", "m2", "now")}
    client = _RoundCountingClient(failing)
    with pytest.raises(PreconditionFailed, match=r"Medication/now \(current medication\)") as raised:
        _resolve(client, *past, current)
    assert "past medication" not in str(raised.value)
    assert client.rounds == 1


def test_many_past_medications_not_found_take_a_bounded_number_of_rounds():
    """Each 404 is that Medication's, but a server without Medications (or a long history of deleted
    ones) must not cost one round per past medication: past reads still failing are left to the core
    and the current medication is read on its own."""
    past = [_order_by_reference(f"mr-{i}", "stopped", f"Medication/gone{i}") for i in range(7)]
    current = _order_by_reference("mr-now", "active", "Medication/now")

    def not_found() -> FhirError:
        return FhirNotFound("FHIR read Medication: 404", status=404)

    client = _RoundCountingClient({f"Medication/gone{i}": not_found for i in range(7)})
    assert [m["id"] for m in _resolve(client, *past, current)] == ["now"]
    assert client.rounds <= 3


def test_responses_library_blocks_unmocked_calls(fhir_mock):
    """Guard for this module: an unregistered FHIR URL fails instead of reaching a network."""
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{FHIR}/Patient/x", timeout=1)
    assert isinstance(fhir_mock, responses.RequestsMock)


def test_H_draft_order_medication_fetched_from_the_fhir_server_gives_the_hard_stop(make_real_app, fhir_mock):
    """The real core: baricitinib ordered by reference with ALC 450 is still a critical card at sign."""
    from cds_support import scenario_request

    app = make_real_app()
    engine = app.extensions["cds_hooks"].engine
    body, _ = scenario_request(
        "alc_450_below_start", "order-sign", set(engine.observation_codes()), set(engine.salt_codes())
    )
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    medication = {
        "resourceType": "Medication",
        "id": "bari-2mg",
        "code": draft.pop("medicationCodeableConcept"),
    }
    draft["medicationReference"] = {"reference": "Medication/bari-2mg"}
    body.update(fhirServer=FHIR, fhirAuthorization=AUTH)
    fhir_mock.get(f"{FHIR}/Medication/bari-2mg", json=medication)
    response = app.test_client().post(SIGN, json=body)
    response.close()
    assert response.status_code == 200
    assert "critical" in [card["indicator"] for card in response.get_json()["cards"]]


@pytest.mark.parametrize("reference", ["r4/Medication/m1", "Medication/m1/_history/"])
def test_current_medication_prefetched_under_a_reference_the_core_resolves_is_answered(
    call, engine, reference
):
    """The service holds back only what the core cannot identify: a prefetched Medication that the
    core matches to an odd but literal reference resolves it, as it does in the record."""
    body = hook_body()
    medication = {"resourceType": "Medication", "id": "m1"}
    order = _order_by_reference("mr-1", "active", reference)
    body["prefetch"]["medicationRequests"] = searchset([order, medication])
    assert call(PV, body).status_code == 200
    given = resources_given_to_core(engine)
    assert ids(given, "MedicationRequest") == ["mr-1"] and ids(given, "Medication") == ["m1"]
