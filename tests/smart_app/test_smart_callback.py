"""Callback, token request, client authentication and id_token (smart-app-launch.md §1.4-§1.6, §1.9)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from smart_fakes import ASYM_ISS, ISS, SYM_ISS, FakeEhr, Launcher, error_code, make_app, make_settings


def test_full_ehr_launch_lands_on_the_context_dashboard(launcher: Launcher, client):
    path = launcher.launch(patient="pat-a")
    assert path.startswith("/app/c/") and path.endswith("/")
    page = client.get(path)
    assert page.status_code == 200
    assert "Alice Alpha" in page.get_data(as_text=True)


def test_token_request_public_client_sends_client_id_code_verifier_and_redirect_uri(launcher, ehr):
    launcher.launch()
    form = ehr.token_requests[0].form
    assert form["grant_type"] == "authorization_code"
    assert form["client_id"] == "app-public"
    assert form["redirect_uri"] == "http://localhost/app/callback"
    assert 43 <= len(form["code_verifier"]) <= 128
    assert "Authorization" not in ehr.token_requests[0].headers


def test_state_replay_is_rejected(launcher: Launcher, ehr: FakeEhr, client):
    start = launcher.start()
    first = launcher.finish(start)
    assert first.status_code == 303
    again = launcher.finish(start)  # same state, fresh code
    assert again.status_code == 400
    assert error_code(again) == "invalid_state"
    assert len(ehr.token_requests) == 1


def test_unknown_state_is_rejected(launcher: Launcher, client, ehr):
    launcher.start()
    r = client.get("/app/callback", query_string={"code": "c", "state": "made-up-state-value"})
    assert r.status_code == 400 and error_code(r) == "invalid_state"
    assert ehr.token_requests == []


def test_state_from_another_browser_is_rejected(launcher: Launcher, app, ehr):
    start = launcher.start()
    other_browser = app.test_client()
    other_browser.set_cookie("aa_jak_browser", "another-browser-key-0123456789", path="/app")
    code = ehr.approve(start.headers["Location"])
    state = launcher.authorize_params(start)["state"]
    r = other_browser.get("/app/callback", query_string={"code": code, "state": state})
    assert r.status_code == 400 and error_code(r) == "invalid_state"
    assert ehr.token_requests == []


def test_callback_without_the_browser_cookie_fails_closed(launcher: Launcher, app, ehr):
    start = launcher.start()
    code = ehr.approve(start.headers["Location"])
    state = launcher.authorize_params(start)["state"]
    r = app.test_client().get("/app/callback", query_string={"code": code, "state": state})
    assert r.status_code == 400 and error_code(r) == "missing_browser_cookie"


def test_expired_state_is_rejected(launcher: Launcher, app, ehr):
    start = launcher.start()
    state = app.extensions["smart_app"]
    real_now = state.now
    state.now = lambda: real_now() + timedelta(seconds=601)
    r = launcher.finish(start)
    assert r.status_code == 400 and error_code(r) == "invalid_state"
    assert ehr.token_requests == []


def test_access_denied_page_is_escaped_and_consumes_state(launcher: Launcher, client, ehr):
    start = launcher.start()
    state = launcher.authorize_params(start)["state"]
    r = client.get(
        "/app/callback",
        query_string={
            "error": "access_denied",
            "error_description": "<img src=x onerror=alert(1)>",
            "state": state,
        },
    )
    body = r.get_data(as_text=True)
    assert r.status_code == 403 and error_code(r) == "authorization_denied"
    assert "<img src=x" not in body and "&lt;img src=x" in body
    assert "relaunch" in body.lower() or "open the app again" in body.lower()
    assert "Location" not in r.headers
    assert ehr.token_requests == []


def test_error_with_unknown_state_shows_state_page_not_the_error(client, ehr):
    client.get("/app/launch", query_string={"iss": ISS, "launch": "x"})
    r = client.get("/app/callback", query_string={"error": "access_denied", "state": "nope"})
    assert error_code(r) == "invalid_state"


def test_rfc9207_iss_on_callback_must_match_discovered_issuer(launcher: Launcher, ehr):
    r = launcher.finish(launcher.start(), iss="https://attacker.example/")
    assert r.status_code == 400 and error_code(r) == "issuer_mismatch"
    ok = launcher.finish(launcher.start(), iss=ehr.issuer)
    assert ok.status_code == 303


def test_token_response_without_patient_gets_a_page(launcher: Launcher, ehr):
    ehr.token_extra = {"patient": None}
    r = launcher.finish(launcher.start())
    assert r.status_code == 400 and error_code(r) == "no_patient_in_context"


@pytest.mark.parametrize("patient", ["pat_a", "p" * 65, "pat/a", "pat a"])
def test_token_response_patient_that_is_not_a_fhir_id_gets_a_page(launcher: Launcher, ehr, patient):
    ehr.token_extra = {"patient": patient}
    r = launcher.finish(launcher.start())
    assert r.status_code == 502 and error_code(r) == "invalid_patient_id"


@pytest.mark.parametrize("patient", ["Pat-1.b", "p" * 64])
def test_token_response_patient_that_is_a_fhir_id_is_accepted(launcher: Launcher, ehr, patient):
    ehr.token_extra = {"patient": patient}
    assert launcher.finish(launcher.start()).status_code == 303


def test_token_response_with_a_scope_that_is_not_a_string_is_rejected_as_malformed(launcher: Launcher, ehr):
    ehr.token_extra = {"scope": ["launch", "patient/Observation.rs"]}
    r = launcher.finish(launcher.start())
    assert r.status_code == 502 and error_code(r) == "token_request_failed"
    assert "scope is not a string" in r.get_data(as_text=True)


def test_expired_launch_context_is_deleted_when_a_new_launch_completes(launcher: Launcher, app):
    old = launcher.launch()
    old_key = launcher.context_key(old)
    state = app.extensions["smart_app"]
    real_now = state.now
    state.now = lambda: real_now() + timedelta(hours=9)  # past the 8-hour session
    launcher.launch()
    with app.app_context():
        from storage import get_storage

        assert get_storage().get_context(old.split("/")[3], old_key, real_now()) is None


def test_a_key_cookie_planted_before_the_launch_cannot_open_its_context(launcher: Launcher, app, client):
    planted = "planted-by-someone-else-0123456789"
    client.set_cookie("aa_jak_browser", planted, path="/app")
    path = launcher.launch()
    assert launcher.context_key(path) != planted  # a fresh key, issued at the callback
    holder = app.test_client()
    holder.set_cookie("aa_jak_browser", planted, path="/app")
    holder.set_cookie("aa_jak_context", planted, path=path)
    assert holder.get(path).status_code == 401
    assert client.get(path).status_code == 200


def test_redirects_after_callback_go_only_to_own_routes(launcher: Launcher):
    r = launcher.finish(launcher.start())
    assert r.headers["Location"].startswith("/app/c/") or r.headers["Location"].startswith(
        "http://localhost/app/c/"
    )


def test_tokens_are_never_in_cookies_or_pages(launcher: Launcher, client, ehr):
    path = launcher.launch()
    token_body = ehr.token_requests[0]
    page = client.get(path).get_data(as_text=True)
    for token in list(ehr.access) + list(ehr.refresh):
        assert token not in page
        for cookie in client._cookies.values():
            assert token not in cookie.value
    assert token_body.form["code_verifier"] not in page


def test_id_token_with_kid_is_validated_and_fhir_user_becomes_performer(launcher: Launcher, app):
    path = launcher.launch()
    with app.app_context():
        from storage import get_storage

        ctx = get_storage().get_context(
            path.split("/")[3],
            launcher.context_key(path),
            app.extensions["smart_app"].now(),
        )
    assert ctx.fhir_user == "Practitioner/prac-1"
    assert '"aud": "app-public"' in ctx.id_token_claims_json


def test_id_token_without_kid_is_validated_by_trying_each_key(launcher: Launcher, ehr):
    ehr.id_token_kid = False
    assert launcher.finish(launcher.start()).status_code == 303


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": "someone-else"}, "aud"),
        ({"iss": "https://other.example"}, "iss"),
        ({"exp": 1000, "iat": 900}, "exp"),
    ],
)
def test_invalid_id_token_is_rejected(launcher: Launcher, ehr, claims, why):
    ehr.token_extra = {"id_token": ehr.id_token("app-public", **claims)}
    r = launcher.finish(launcher.start())
    assert r.status_code == 502 and error_code(r) == "id_token_invalid", why


def test_id_token_signed_by_another_key_is_rejected(launcher: Launcher, ehr):
    from cryptography.hazmat.primitives.asymmetric import rsa

    forged = jwt.encode(
        {"iss": ehr.issuer, "aud": "app-public", "sub": "x", "iat": 1, "exp": 4102444800},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
    )
    ehr.token_extra = {"id_token": forged}
    assert error_code(launcher.finish(launcher.start())) == "id_token_invalid"


def test_confidential_symmetric_client_uses_basic_auth_and_omits_client_id(client, rsps):
    sym = FakeEhr(rsps, SYM_ISS)
    Launcher(client, sym).launch()
    request = sym.token_requests[0]
    expected = "Basic " + base64.b64encode(b"app-sym:s3cret").decode()
    assert request.headers["Authorization"] == expected
    assert "client_id" not in request.form
    assert "client_secret" not in request.form


def test_private_key_jwt_assertion_follows_smart_rules(client, rsps, app):
    asym = FakeEhr(rsps, ASYM_ISS)
    Launcher(client, asym).launch()
    Launcher(client, asym).launch()
    forms = [r.form for r in asym.token_requests]
    jwks = client.get("/app/.well-known/jwks.json").get_json()
    jtis = set()
    for form in forms:
        assert "client_id" not in form
        assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        header = jwt.get_unverified_header(form["client_assertion"])
        assert header["alg"] in ("RS384", "ES384") and header["kid"] and header["typ"] == "JWT"
        key = next(k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == header["kid"])
        claims = jwt.decode(
            form["client_assertion"], key.key, algorithms=[header["alg"]], audience=asym.token_url
        )
        assert claims["iss"] == claims["sub"] == "app-asym"
        assert 0 < claims["exp"] - claims["iat"] <= 300
        jtis.add(claims["jti"])
    assert len(jtis) == 2


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
def test_private_key_jwt_uses_the_algorithm_the_server_supports(client, rsps, alg):
    asym = FakeEhr(rsps, ASYM_ISS)
    asym.discovery["token_endpoint_auth_signing_alg_values_supported"] = [alg]
    Launcher(client, asym).launch()
    assert jwt.get_unverified_header(asym.token_requests[0].form["client_assertion"])["alg"] == alg


def test_jwks_endpoint_serves_public_keys_with_cache_control(client):
    r = client.get("/app/.well-known/jwks.json")
    assert r.status_code == 200
    assert "max-age" in r.headers["Cache-Control"]
    keys = r.get_json()["keys"]
    assert {k["kty"] for k in keys} == {"RSA", "EC"}
    for k in keys:
        assert k["kid"] and "d" not in k  # public halves only
        assert ("n" in k and "e" in k) or ("crv" in k and "x" in k and "y" in k)


def test_asymmetric_client_without_key_file_refuses_to_start_outside_dev(tmp_path):
    with pytest.raises(ValueError, match="smart_private_jwks_file"):
        make_app(make_settings(tmp_path, dev_mode=False))


def test_private_jwks_file_is_used_when_configured(tmp_path):
    from smart_app.keys import ClientKeys, write_private_jwks

    keys = ClientKeys.ephemeral()
    write_private_jwks(tmp_path / "jwks.json", keys)
    app = make_app(make_settings(tmp_path, smart_private_jwks_file=tmp_path / "jwks.json"))
    served = app.test_client().get("/app/.well-known/jwks.json").get_json()
    assert {k["kid"] for k in served["keys"]} == {k.kid for k in keys.keys}


# --- OIDC nonce (SC#steps-for-using-an-id-token, R218) -------------------------------------------


def test_id_token_with_matching_nonce_is_accepted(launcher: Launcher, ehr: FakeEhr, rsps):
    start = launcher.start()
    sent = launcher.authorize_params(start)["nonce"]
    assert launcher.finish(start).status_code == 303
    token_response = next(c.response for c in rsps.calls if c.request.url == ehr.token_url)
    issued = jwt.decode(token_response.json()["id_token"], options={"verify_signature": False})
    assert issued["nonce"] == sent  # the id_token the app accepted carried our nonce


def test_id_token_with_mismatching_nonce_is_rejected(launcher: Launcher, ehr: FakeEhr):
    ehr.nonce_override = "a-nonce-from-another-sign-in"
    r = launcher.finish(launcher.start())
    assert r.status_code == 502 and error_code(r) == "id_token_invalid"
    assert "nonce" in r.get_data(as_text=True)


def test_id_token_without_nonce_is_rejected_when_the_sign_in_sent_one(launcher: Launcher, ehr: FakeEhr):
    ehr.echo_nonce = False  # a token without a nonce could be replayed from another sign-in
    r = launcher.finish(launcher.start())
    assert r.status_code == 502 and error_code(r) == "id_token_invalid"
    assert "no nonce" in r.get_data(as_text=True)


def test_nonce_is_bound_to_the_state_of_its_own_sign_in(launcher: Launcher, ehr: FakeEhr):
    """A nonce replayed from sign-in A inside sign-in B's id_token is rejected."""
    nonce_a = launcher.authorize_params(launcher.start())["nonce"]
    ehr.nonce_override = nonce_a
    r = launcher.finish(launcher.start())
    assert error_code(r) == "id_token_invalid"


# --- token request shape and token endpoint errors (AL#request-5, R62-R70; §1.11) -------------------


def test_token_request_is_a_form_encoded_post_with_the_code(launcher: Launcher, ehr: FakeEhr, rsps):
    start = launcher.start()
    code = ehr.approve(start.headers["Location"])
    state = launcher.authorize_params(start)["state"]
    launcher.client.get("/app/callback", query_string={"code": code, "state": state})
    call = next(c for c in rsps.calls if c.request.url == ehr.token_url)
    assert call.request.method == "POST"
    assert call.request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert ehr.token_requests[0].form["code"] == code


def test_token_endpoint_error_shows_an_escaped_sign_in_failed_page(launcher: Launcher, ehr: FakeEhr, rsps):
    rsps.replace(
        responses.POST,
        ehr.token_url,
        status=400,
        json={"error": "invalid_grant", "error_description": "<script>alert(1)</script>"},
    )
    r = launcher.finish(launcher.start())
    body = r.get_data(as_text=True)
    assert r.status_code == 502 and error_code(r) == "token_request_failed"
    assert "invalid_grant" in body and "<script>alert(1)</script>" not in body
    assert "Location" not in r.headers


def test_token_response_that_is_not_bearer_is_rejected(launcher: Launcher, ehr: FakeEhr):
    ehr.token_extra = {"token_type": "mac"}
    r = launcher.finish(launcher.start())
    assert r.status_code == 502 and error_code(r) == "token_request_failed"


def test_id_token_with_an_algorithm_other_than_rs256_is_rejected(launcher: Launcher, ehr: FakeEhr):
    public_pem = ehr.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = jwt.decode(ehr.id_token("app-public"), options={"verify_signature": False})
    # Algorithm confusion: HMAC keyed with the server's public key.
    ehr.token_extra = {"id_token": _hs256(claims, public_pem)}
    r = launcher.finish(launcher.start())
    assert r.status_code == 502 and error_code(r) == "id_token_invalid"
    assert "algorithm" in r.get_data(as_text=True)


def _hs256(claims: dict, key: bytes) -> str:
    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = (
        b64(b'{"alg":"HS256","typ":"JWT","kid":"ehr-key"}') + b"." + b64(json.dumps(claims).encode())
    )
    signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


def test_fhir_user_on_another_server_is_kept_absolute_and_never_read(launcher: Launcher, ehr: FakeEhr, app):
    foreign = "https://directory.example.com/fhir/Practitioner/p9"
    start = launcher.start()
    nonce = launcher.authorize_params(start)["nonce"]
    ehr.token_extra = {"id_token": ehr.id_token("app-public", fhirUser=foreign, nonce=nonce)}
    path = urlsplit(launcher.finish(start).headers["Location"]).path
    launcher.client.get(path)
    with app.app_context():
        from storage import get_storage

        ctx = get_storage().get_context(
            path.split("/")[3],
            launcher.context_key(path),
            app.extensions["smart_app"].now(),
        )
    assert ctx.fhir_user == foreign
    assert not any("directory.example.com" in r.url for r in ehr.fhir_requests)


# --- refresh uses the same client authentication as the code exchange (AL#request-7, R105-R108) -----


def _refresh_once(app, client, ehr: FakeEhr) -> Any:
    """Launch, then let the access token near expiry so the next page refreshes it."""
    ehr.expires_in = 90
    path = Launcher(client, ehr).launch()
    state = app.extensions["smart_app"]
    real_now = state.now
    state.now = lambda: real_now() + timedelta(seconds=45)
    assert client.get(path).status_code == 200
    (request,) = [r for r in ehr.token_requests if r.form["grant_type"] == "refresh_token"]
    return request


def test_refresh_of_a_symmetric_client_uses_basic_auth_and_omits_client_id(app, client, rsps):
    request = _refresh_once(app, client, FakeEhr(rsps, SYM_ISS))
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"app-sym:s3cret").decode()
    assert "client_id" not in request.form and "client_secret" not in request.form
    assert "scope" not in request.form


def test_refresh_of_an_asymmetric_client_sends_a_fresh_client_assertion(app, client, rsps):
    asym = FakeEhr(rsps, ASYM_ISS)
    request = _refresh_once(app, client, asym)
    code_exchange = asym.token_requests[0].form
    assert "client_id" not in request.form and "Authorization" not in request.headers
    assert request.form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    jwks = jwt.PyJWKSet.from_dict(client.get("/app/.well-known/jwks.json").get_json())
    header = jwt.get_unverified_header(request.form["client_assertion"])
    key = next(k for k in jwks.keys if k.key_id == header["kid"])
    claims = jwt.decode(
        request.form["client_assertion"], key.key, algorithms=[header["alg"]], audience=asym.token_url
    )
    assert claims["iss"] == claims["sub"] == "app-asym"
    assert request.form["client_assertion"] != code_exchange["client_assertion"]  # a new jti each time
