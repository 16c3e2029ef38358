"""Launch intake, discovery and the authorize request (smart-app-launch.md §1.1-§1.3)."""

from __future__ import annotations

from datetime import timedelta

import responses
from smart_fakes import ASYM_ISS, ISS, V1_ISS, FakeEhr, Launcher, s256

REQUIRED_AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "aud",
    "code_challenge",
    "code_challenge_method",
    "launch",
)


def test_unknown_iss_gets_400_page_without_any_network_call(client, rsps: responses.RequestsMock):
    r = client.get("/app/launch", query_string={"iss": "https://evil.example.com/fhir", "launch": "x"})
    assert r.status_code == 400
    assert "Location" not in r.headers
    assert "not registered" in r.get_data(as_text=True)
    assert len(rsps.calls) == 0


def test_xss_in_iss_is_escaped(client, rsps):
    evil = 'https://x.example/"><script>alert(1)</script>'
    r = client.get("/app/launch", query_string={"iss": evil, "launch": "x"})
    body = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body
    assert len(rsps.calls) == 0


def test_iss_allow_list_comparison_is_normalised(launcher: Launcher, ehr: FakeEhr):
    r = launcher.start(iss="HTTPS://EHR.example.org:443/fhir/")
    params = launcher.authorize_params(r)
    assert params["aud"] == ISS  # the configured value, never the caller's spelling


def test_iss_lookalikes_are_rejected(client, rsps):
    for iss in (
        ISS + "x",
        ISS + "/../admin",
        "http://ehr.example.org/fhir",
        ISS + "?a=b",
        "https://u@ehr.example.org/fhir",
    ):
        r = client.get("/app/launch", query_string={"iss": iss, "launch": "x"})
        assert r.status_code == 400, iss
    assert len(rsps.calls) == 0


def test_missing_launch_parameter_gets_400_page(client, rsps):
    r = client.get("/app/launch", query_string={"iss": ISS})
    assert r.status_code == 400
    assert "launch" in r.get_data(as_text=True)
    r = client.get("/app/launch", query_string={"launch": "abc"})
    assert r.status_code == 400
    assert len(rsps.calls) == 0


def test_authorize_request_has_every_required_parameter_R32_R45(launcher: Launcher, ehr: FakeEhr):
    params = launcher.authorize_params(launcher.start(launch="L-42"))
    for name in REQUIRED_AUTHORIZE_PARAMS:
        assert params.get(name), name
    assert params["response_type"] == "code"
    assert params["client_id"] == "app-public"
    assert params["redirect_uri"] == "http://localhost/app/callback"
    assert params["aud"] == ISS
    assert params["launch"] == "L-42"
    assert params["code_challenge_method"] == "S256"
    assert "launch" in params["scope"].split()
    assert launcher.start().headers["Location"].startswith(ehr.authorize_url + "?")


def test_state_has_at_least_122_bits_and_is_new_each_time(launcher: Launcher, ehr: FakeEhr):
    a = launcher.authorize_params(launcher.start())["state"]
    b = launcher.authorize_params(launcher.start())["state"]
    assert a != b
    assert len(a) * 6 >= 122  # base64url characters carry 6 bits each


def test_pkce_challenge_is_s256_of_the_stored_verifier(launcher: Launcher, app):
    params = launcher.authorize_params(launcher.start())
    with app.app_context():
        from smart_app.context import app_state
        from storage import get_storage

        browser = launcher.client.get_cookie("aa_jak_browser", path="/app").value
        stored = get_storage().take_launch_state(params["state"], browser, app_state().now())
    assert 43 <= len(stored.code_verifier) <= 128
    assert params["code_challenge"] == s256(stored.code_verifier)  # recomputed independently


def test_pkce_is_sent_even_when_the_server_does_not_advertise_it(launcher: Launcher, ehr: FakeEhr):
    ehr.discovery.pop("code_challenge_methods_supported")
    params = launcher.authorize_params(launcher.start())
    assert params["code_challenge_method"] == "S256"


def test_v2_scopes_are_minimal_and_patient_level(launcher: Launcher):
    scope = launcher.authorize_params(launcher.start())["scope"].split()
    assert "patient/Observation.rs" in scope and "patient/Observation.c" in scope
    assert not any("*" in s for s in scope)
    assert not any(s.startswith("user/") for s in scope)


def test_v1_fallback_scopes_when_permission_v2_is_absent(client, rsps):
    old = FakeEhr(rsps, V1_ISS, capabilities=["launch-ehr", "client-public", "permission-v1"])
    launcher = Launcher(client, old)
    scope = launcher.authorize_params(launcher.start())["scope"].split()
    assert "patient/Observation.read" in scope
    assert "patient/Observation.write" in scope
    assert not any(s.endswith((".rs", ".r", ".c")) for s in scope)


def test_discovery_is_cached(launcher: Launcher, ehr: FakeEhr, rsps):
    launcher.start()
    launcher.start()
    discovery_calls = [c for c in rsps.calls if c.request.url.endswith("/.well-known/smart-configuration")]
    assert len(discovery_calls) == 1


def test_discovery_relative_urls_are_resolved_against_iss(launcher: Launcher, ehr: FakeEhr):
    ehr.discovery["authorization_endpoint"] = "auth/authorize-rel"
    r = launcher.start()
    assert r.headers["Location"].startswith(ISS + "/auth/authorize-rel?")


def test_no_metadata_fallback_when_well_known_fails(client, rsps):
    rsps.add(responses.GET, f"{ASYM_ISS}/.well-known/smart-configuration", status=404)
    r = client.get("/app/launch", query_string={"iss": ASYM_ISS, "launch": "x"})
    assert r.status_code == 502
    assert not any("/metadata" in c.request.url for c in rsps.calls)


def test_browser_cookie_is_samesite_none_secure_partitioned_httponly(launcher: Launcher):
    r = launcher.start()
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith("aa_jak_browser="))
    for attribute in ("SameSite=None", "Secure", "Partitioned", "HttpOnly", "Path=/app"):
        assert attribute in cookie


def test_launch_state_is_stored_server_side_with_expiry(launcher: Launcher, app):
    params = launcher.authorize_params(launcher.start())
    with app.app_context():
        from smart_app.context import app_state
        from storage import get_storage

        browser = launcher.client.get_cookie("aa_jak_browser", path="/app").value
        stored = get_storage().take_launch_state(params["state"], browser, app_state().now())
    assert stored.iss == ISS and stored.launch == "launch-123"
    assert stored.expires_at - stored.created_at == timedelta(seconds=600)


def test_standalone_page_lists_only_standalone_servers(client, rsps):
    body = client.get("/app/standalone").get_data(as_text=True)
    assert ISS in body
    assert "sym.example.org" not in body
    assert len(rsps.calls) == 0


def test_standalone_launch_requests_launch_patient_and_no_launch_param(client, ehr: FakeEhr):
    r = client.get("/app/standalone", query_string={"iss": ISS})
    params = Launcher(client, ehr).authorize_params(r)
    assert "launch/patient" in params["scope"].split()
    assert "launch" not in params["scope"].split()
    assert "launch" not in params
    assert params["aud"] == ISS


def test_standalone_refuses_servers_not_marked_standalone(client, rsps):
    r = client.get("/app/standalone", query_string={"iss": ASYM_ISS})
    assert r.status_code == 400
    assert len(rsps.calls) == 0
