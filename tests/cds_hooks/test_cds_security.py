"""Checklist F (client JWT, CORS) and K1/K2/K5 (the CDS Hooks Sandbox as a client)."""

from __future__ import annotations

import base64
import json
import logging
import time

import jwt
import pytest
from cds_support import FHIR, ISS, PUBLIC, hook_body
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PV = "/cds-services/aa-jak-patient-view"
FEEDBACK = PV + "/feedback"
SANDBOX = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_401(response) -> None:
    assert response.status_code == 401
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "diagnostics" not in outcome["issue"][0]  # no detail (F7)
    assert response.headers["WWW-Authenticate"] == "Bearer"


# ---------------------------------------------------------------- F1


def test_F1_plain_http_public_base_url_warns_outside_dev_mode(make_app, caplog):
    caplog.set_level(logging.WARNING, logger="cds_hooks")
    make_app(public_base_url="http://cds.example.org")
    assert any("public_base_url is not https" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- F2


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/cds-services", None), ("POST", PV, hook_body()), ("POST", FEEDBACK, {"feedback": []})],
)
def test_F2_every_endpoint_requires_the_client_jwt(call, method, path, body):
    assert_401(call(path, body, method=method, token=None))


def test_F2_discovery_service_and_feedback_accept_a_valid_jwt(call):
    assert call("/cds-services", method="GET").status_code == 200
    assert call(PV, hook_body()).status_code == 200


def test_F2_dev_mode_allows_unauthenticated_calls_and_warns(make_app, caplog):
    caplog.set_level(logging.WARNING)
    client = make_app(dev_mode=True).test_client()
    assert client.get("/cds-services").status_code == 200
    assert "DEV MODE" in caplog.text or "dev" in caplog.text.lower()


def test_F2_dev_mode_rejects_a_jwt_that_does_not_verify(make_app, jwt_for):
    client = make_app(dev_mode=True).test_client()
    forged = jwt_for(PV, key=ec.generate_private_key(ec.SECP384R1()))
    assert_401(client.post(PV, json=hook_body(), headers={"Authorization": f"Bearer {forged}"}))


def test_F2_dev_mode_accepts_a_jwt_that_verifies(make_app, jwt_for):
    client = make_app(dev_mode=True).test_client()
    valid = jwt_for(PV)
    assert client.post(PV, json=hook_body(), headers={"Authorization": f"Bearer {valid}"}).status_code == 200


def test_F2_dev_mode_refuses_an_authorization_header_that_is_not_a_bearer_jwt(make_app):
    """Only a call without any Authorization header is anonymous in dev mode; other credentials fail."""
    client = make_app(dev_mode=True).test_client()
    assert_401(client.get("/cds-services", headers={"Authorization": "Basic Zm9vOmJhcg=="}))


def test_F2_C8_dev_mode_holds_a_verified_client_to_its_fhir_server_allow_list(make_app, jwt_for, fhir_mock):
    client = make_app(dev_mode=True).test_client()
    body = hook_body(fhirServer="http://127.0.0.1:9/fhir")
    del body["prefetch"]["labs"]
    response = client.post(PV, json=body, headers={"Authorization": f"Bearer {jwt_for(PV)}"})
    assert response.status_code == 412
    assert "not allow-listed" in response.get_json()["issue"][0]["diagnostics"]
    assert len(fhir_mock.calls) == 0


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "bEaReR"])
def test_F2_auth_scheme_is_case_insensitive(client, jwt_for, scheme):
    """RFC 7235 §2.1: the scheme is a case-insensitive token."""
    response = client.post(PV, json=hook_body(), headers={"Authorization": f"{scheme} {jwt_for(PV)}"})
    assert response.status_code == 200


def test_F2_openapi_document_is_public(call):
    assert call("/cds-services/openapi.json", method="GET", token=None).status_code == 200


# ---------------------------------------------------------------- F3


def test_F3_es384_accepted(call, jwt_for):
    assert call(PV, hook_body(), token=jwt_for(PV, alg="ES384")).status_code == 200


def test_F3_rs384_accepted(call, jwt_for):
    assert call(PV, hook_body(), token=jwt_for(PV, alg="RS384")).status_code == 200


def test_F3_kid_required(call, keys):
    token = jwt.encode(
        {"iss": ISS, "aud": PUBLIC + PV, "exp": int(time.time()) + 60, "iat": int(time.time()), "jti": "a"},
        keys.es384,
        algorithm="ES384",
        headers={"typ": "JWT"},
    )
    assert_401(call(PV, hook_body(), token=token))


def test_F3_typ_required(call, jwt_for):
    token = jwt_for(PV, headers={"typ": None})
    assert_401(call(PV, hook_body(), token=token))


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "jti"])
def test_F3_required_claims(call, jwt_for, claim):
    assert_401(call(PV, hook_body(), token=jwt_for(PV, drop=(claim,))))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("exp", "now+300 as a string"),
        ("iat", "now as a string"),
        ("exp", float("inf")),
        ("iat", float("nan")),
        ("exp", True),
    ],
)
def test_F3_exp_and_iat_must_be_json_numbers(call, jwt_for, claim, value):
    """RFC 7519 NumericDate; a correctly signed token with another type is refused, not a 500."""
    # The clock is read here, not in the ids: pytest-xdist workers must collect the same ids.
    strings = {"now+300 as a string": str(int(time.time()) + 300), "now as a string": str(int(time.time()))}
    value = strings.get(value, value) if isinstance(value, str) else value
    assert_401(call(PV, hook_body(), token=jwt_for(PV, **{claim: value})))


def test_F3_extra_sub_and_nbf_are_accepted(call, jwt_for):
    token = jwt_for(PV, sub="epic-client", nbf=int(time.time()) - 5)
    assert call(PV, hook_body(), token=token).status_code == 200


def test_F3_unknown_kid_rejected(call, jwt_for):
    assert_401(call(PV, hook_body(), token=jwt_for(PV, kid="other-kid")))


# ---------------------------------------------------------------- F4


def test_F4_wrong_aud_rejected(call, jwt_for):
    token = jwt_for(PV, aud=PUBLIC + "/cds-services/aa-jak-order-sign")
    assert_401(call(PV, hook_body(), token=token))


def test_F4_aud_is_built_from_public_base_url_not_the_host_header(call, jwt_for):
    token = jwt_for(PV, aud="http://localhost" + PV)  # what the Host header would give
    assert_401(call(PV, hook_body(), token=token))
    token = jwt_for(PV)
    assert call(PV, hook_body(), token=token, headers={"Host": "attacker.example"}).status_code == 200


def test_F4_aud_may_be_an_array(call, jwt_for):
    assert call(PV, hook_body(), token=jwt_for(PV, aud=[PUBLIC + PV, "other"])).status_code == 200


def test_F4_feedback_aud_is_the_feedback_url(call, jwt_for):
    body = {
        "feedback": [
            {
                "card": "00000000-0000-0000-0000-000000000001",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-01T10:00:00Z",
            }
        ]
    }
    assert_401(call(FEEDBACK, body, token=jwt_for(PV)))
    assert call(FEEDBACK, body, token=jwt_for(FEEDBACK)).status_code == 200


# ---------------------------------------------------------------- F5


def test_F5_alg_none_rejected(call):
    now = int(time.time())
    header = _b64({"alg": "none", "typ": "JWT", "kid": "es-1"})
    payload = _b64({"iss": ISS, "aud": PUBLIC + PV, "exp": now + 60, "iat": now, "jti": "n1"})
    assert_401(call(PV, hook_body(), token=f"{header}.{payload}."))


def test_F5_hs256_rejected(call, jwt_for):
    token = jwt_for(PV, alg="HS256", key="a-shared-secret-that-is-long-enough-for-hs256")
    assert_401(call(PV, hook_body(), token=token))


def test_F5_hs384_with_public_key_as_secret_rejected(call, keys):
    """Algorithm confusion: an HMAC signed with the (public) JWKS text must not verify."""
    now = int(time.time())
    secret = json.dumps(keys.jwks["keys"][0]).encode()
    header = _b64({"alg": "HS384", "typ": "JWT", "kid": "es-1"})
    payload = _b64({"iss": ISS, "aud": PUBLIC + PV, "exp": now + 60, "iat": now, "jti": "c1"})
    import hashlib
    import hmac

    sig = base64.urlsafe_b64encode(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha384).digest())
    token = f"{header}.{payload}.{sig.rstrip(b'=').decode()}"
    assert_401(call(PV, hook_body(), token=token))


def test_F5_es256_rejected(call):
    key = ec.generate_private_key(ec.SECP256R1())
    now = int(time.time())
    token = jwt.encode(
        {"iss": ISS, "aud": PUBLIC + PV, "exp": now + 60, "iat": now, "jti": "e"},
        key,
        algorithm="ES256",
        headers={"kid": "es-1", "typ": "JWT"},
    )
    assert_401(call(PV, hook_body(), token=token))


def test_F5_rs384_header_with_the_ec_key_id_rejected(call, jwt_for, keys):
    assert_401(call(PV, hook_body(), token=jwt_for(PV, alg="RS384", kid="es-1")))


def test_F5_bad_signature_rejected(call, jwt_for):
    other = ec.generate_private_key(ec.SECP384R1())
    assert_401(call(PV, hook_body(), token=jwt_for(PV, key=other)))


def test_F5_tampered_payload_rejected(call, jwt_for):
    header, _, signature = jwt_for(PV).split(".")
    now = int(time.time())
    forged = _b64({"iss": ISS, "aud": PUBLIC + PV, "exp": now + 60, "iat": now, "jti": "forged"})
    assert_401(call(PV, hook_body(), token=f"{header}.{forged}.{signature}"))


# ---------------------------------------------------------------- F6


def test_F6_unknown_issuer_rejected(call, jwt_for):
    assert_401(call(PV, hook_body(), token=jwt_for(PV, iss="https://other-ehr.example.org")))


def test_F6_untrusted_jku_rejected_and_never_fetched(call, jwt_for, fhir_mock):
    token = jwt_for(PV, headers={"jku": "https://evil.example.com/jwks.json"})
    assert_401(call(PV, hook_body(), token=token))
    assert len(fhir_mock.calls) == 0


def test_F6_jwks_url_fetched_cached_and_refetched_on_unknown_kid(make_app, jwt_for, keys, fhir_mock):
    jwks_url = "https://ehr.example.org/.well-known/jwks.json"
    fhir_mock.get(jwks_url, json=keys.jwks)
    app = make_app(
        cds_trusted_issuers=[{"iss": ISS, "jwks_url": jwks_url, "fhir_servers": [FHIR]}],
        cds_jwks_min_refetch_s=0,
    )
    client = app.test_client()

    def post(token: str) -> int:
        return client.post(PV, json=hook_body(), headers={"Authorization": f"Bearer {token}"}).status_code

    assert post(jwt_for(PV)) == 200
    assert post(jwt_for(PV, alg="RS384")) == 200
    assert len(fhir_mock.calls) == 1  # cached
    assert post(jwt_for(PV, kid="rotated")) == 401
    assert len(fhir_mock.calls) == 2  # unknown kid: one refetch


def test_F6_jwks_refetch_is_rate_limited(make_app, jwt_for, keys, fhir_mock):
    jwks_url = "https://ehr.example.org/.well-known/jwks.json"
    fhir_mock.get(jwks_url, json=keys.jwks)
    client = make_app(cds_trusted_issuers=[{"iss": ISS, "jwks_url": jwks_url}]).test_client()
    for _ in range(5):
        token = jwt_for(PV, kid="unknown")
        client.post(PV, json=hook_body(), headers={"Authorization": f"Bearer {token}"})
    assert len(fhir_mock.calls) == 1


def test_F6_unreachable_jwks_gives_401_not_500(make_app, jwt_for, fhir_mock):
    import requests

    jwks_url = "https://ehr.example.org/.well-known/jwks.json"
    fhir_mock.get(jwks_url, body=requests.ConnectTimeout())
    client = make_app(cds_trusted_issuers=[{"iss": ISS, "jwks_url": jwks_url}]).test_client()
    response = client.post(PV, json=hook_body(), headers={"Authorization": f"Bearer {jwt_for(PV)}"})
    assert_401(response)


# ---------------------------------------------------------------- F7


def test_F7_expired_token_rejected(call, jwt_for):
    now = int(time.time())
    assert_401(call(PV, hook_body(), token=jwt_for(PV, iat=now - 600, exp=now - 120)))


def test_F7_expiry_within_leeway_accepted(call, jwt_for):
    now = int(time.time())
    assert call(PV, hook_body(), token=jwt_for(PV, iat=now - 300, exp=now - 10)).status_code == 200


def test_F7_iat_in_the_future_rejected(call, jwt_for):
    now = int(time.time())
    assert_401(call(PV, hook_body(), token=jwt_for(PV, iat=now + 600, exp=now + 900)))


def test_F7_lifetime_over_the_maximum_rejected(call, jwt_for):
    now = int(time.time())
    assert_401(call(PV, hook_body(), token=jwt_for(PV, iat=now, exp=now + 7200)))


def test_F7_replayed_jti_rejected(call, jwt_for):
    token = jwt_for(PV)
    assert call(PV, hook_body(), token=token).status_code == 200
    assert_401(call(PV, hook_body(), token=token))


def test_F7_jti_is_stored_in_shared_storage_until_expiry(call, jwt_for, memory_storage):
    call(PV, hook_body(), token=jwt_for(PV, jti="jti-123"))
    assert (ISS, "jti-123") in memory_storage.jtis


def test_F7_rejected_token_does_not_burn_its_jti(call, jwt_for, memory_storage):
    call(PV, hook_body(), token=jwt_for(PV, jti="jti-x", aud="https://wrong"))
    assert (ISS, "jti-x") not in memory_storage.jtis


def test_F7_tenant_checked_when_configured(make_app, jwt_for, keys):
    client = make_app(
        cds_trusted_issuers=[{"iss": ISS, "jwks_file": str(keys.jwks_file), "tenant": "t1"}]
    ).test_client()

    def post(token: str) -> int:
        return client.post(PV, json=hook_body(), headers={"Authorization": f"Bearer {token}"}).status_code

    assert post(jwt_for(PV, tenant="t1")) == 200
    assert post(jwt_for(PV, tenant="t2")) == 401
    assert post(jwt_for(PV)) == 401


def test_F7_the_jwt_is_never_logged(call, jwt_for, caplog):
    caplog.set_level(logging.DEBUG)
    token = jwt_for(PV, aud="https://wrong")
    call(PV, hook_body(), token=token)
    assert token not in caplog.text
    assert token.split(".")[1] not in caplog.text


# ---------------------------------------------------------------- F8 / K2


@pytest.mark.parametrize("path", ["/cds-services", PV, FEEDBACK])
def test_F8_cors_preflight_allows_authorization_and_content_type(client, path):
    response = client.options(
        path,
        headers={
            "Origin": SANDBOX,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code in (200, 204)
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_F8_cors_origin_not_in_allow_list_gets_no_cors_headers(client):
    response = client.options(
        PV, headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_K2_actual_request_from_allowed_origin_carries_cors_header(call):
    response = call(PV, hook_body(), headers={"Origin": SANDBOX})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX


def test_K2_error_response_to_allowed_origin_carries_cors_header(call):
    body = hook_body()
    del body["prefetch"]
    response = call(PV, body, headers={"Origin": SANDBOX})
    assert response.status_code == 412
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX


def test_K2_401_to_allowed_origin_carries_cors_header(call):
    response = call(PV, hook_body(), token=None, headers={"Origin": SANDBOX})
    assert_401(response)
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX


# ---------------------------------------------------------------- F9 / F10 / K1


def test_F9_jku_listed_for_the_issuer_is_accepted(make_app, jwt_for, keys, fhir_mock):
    jwks_url = "https://authorization.ehr.example.org/jwk"
    fhir_mock.get(jwks_url, json=keys.jwks)
    client = make_app(
        cds_trusted_issuers=[{"iss": ISS, "jwks_url": jwks_url, "allowed_jku": [jwks_url]}]
    ).test_client()
    token = jwt_for(PV, headers={"jku": jwks_url})
    assert client.post(PV, json=hook_body(), headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_F10_K1_sandbox_style_token_with_allowed_jku_and_local_jwks(make_app, jwt_for, keys):
    """The sandbox signs ES384 with a `jku`; its key is public, so it is trusted via a local JWKS file."""
    client = make_app(
        cds_trusted_issuers=[{"iss": SANDBOX, "jwks_file": str(keys.jwks_file), "allowed_jku": [SANDBOX_JKU]}]
    ).test_client()
    now = int(time.time())
    token = jwt_for(PV, iss=SANDBOX, iat=now, exp=now + 300, headers={"jku": SANDBOX_JKU})
    assert client.post(PV, json=hook_body(), headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_K5_sandbox_feedback_with_feedback_aud(call, jwt_for):
    body = {
        "feedback": [
            {
                "card": "00000000-0000-0000-0000-000000000009",
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "00000000-0000-0000-0000-00000000000a"}],
                "outcomeTimestamp": "2026-11-01T10:00:00Z",
            }
        ]
    }
    assert call(FEEDBACK, body, token=jwt_for(FEEDBACK)).status_code == 200


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_rsa_keys_below_2048_bits_are_not_trusted(make_app, jwt_for, tmp_path):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (deliberately weak)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(small.public_key()))
    jwk.update({"kid": "small", "alg": "RS384"})
    path = tmp_path / "small.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    client = make_app(cds_trusted_issuers=[{"iss": ISS, "jwks_file": str(path)}]).test_client()
    token = jwt_for(PV, alg="RS384", kid="small", key=small)
    assert client.post(PV, json=hook_body(), headers={"Authorization": f"Bearer {token}"}).status_code == 401
