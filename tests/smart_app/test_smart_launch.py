"""Launch intake, discovery and the authorize request (smart-app-launch.md §1.1-§1.3)."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import responses
from smart_fakes import (
    ASYM_ISS,
    ISS,
    SYM_ISS,
    V1_ISS,
    FakeEhr,
    Launcher,
    error_code,
    make_app,
    make_settings,
    s256,
)

from aa_jak.logs import redact

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
    assert r.status_code == 302 and r.headers["Location"].startswith(ehr.authorize_url)


def test_aud_is_the_launch_iss_as_given_not_the_allow_list_key(launcher: Launcher, ehr: FakeEhr):
    iss = "https://EHR.example.org/fhir/"  # allowed by the lower-case entry without the slash
    params = launcher.authorize_params(launcher.start(iss=iss))
    assert params["aud"] == iss  # R41: on an EHR launch, aud equals iss


def test_standalone_aud_is_the_iss_as_configured(tmp_path, rsps):
    configured = "https://EHR.example.org/fhir/"
    settings = make_settings(
        tmp_path,
        smart_clients=[
            {"iss": configured, "client_id": "app-public", "client_type": "public", "standalone": True}
        ],
    )
    client = make_app(settings).test_client()
    ehr = FakeEhr(rsps, ISS)
    params = Launcher(client, ehr).authorize_params(client.get("/app/standalone", query_string={"iss": ISS}))
    assert params["aud"] == configured


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


def test_context_cookie_is_issued_at_the_callback_for_its_own_pages_only(launcher: Launcher):
    r = launcher.finish(launcher.start())
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith("aa_jak_context="))
    for attribute in ("SameSite=None", "Secure", "Partitioned", "HttpOnly", f"Path={r.headers['Location']}"):
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


# --- client authentication against discovery (CF: token_endpoint_auth_methods_supported) ----------


def _start_with(client, rsps, iss: str, **discovery: list[str]):
    """Start an EHR launch at `iss`, whose discovery document carries `discovery` as well."""
    ehr = FakeEhr(rsps, iss)
    ehr.discovery.update(discovery)
    return Launcher(client, ehr).start()


def _stopped_before_authorize(response) -> str:
    """The page of a launch stopped for its client authentication (never a redirect to sign in)."""
    assert response.status_code == 502 and "Location" not in response.headers
    assert error_code(response) == "client_auth_unsupported"
    return response.get_data(as_text=True)


def test_symmetric_client_is_stopped_when_the_server_does_not_accept_client_secret_basic(client, rsps):
    r = _start_with(client, rsps, SYM_ISS, token_endpoint_auth_methods_supported=["private_key_jwt"])
    body = _stopped_before_authorize(r)
    assert "client_secret_basic" in body and "client authentication methods: private_key_jwt." in body
    assert "client_type" in body and "administrator" in body


def test_asymmetric_client_is_stopped_when_the_server_does_not_accept_private_key_jwt(client, rsps):
    symmetric_only = ["client_secret_basic", "client_secret_post"]
    r = _start_with(client, rsps, ASYM_ISS, token_endpoint_auth_methods_supported=symmetric_only)
    body = _stopped_before_authorize(r)
    assert "with private_key_jwt" in body and "methods: client_secret_basic, client_secret_post." in body


def test_asymmetric_client_is_stopped_when_the_server_accepts_none_of_our_signing_algorithms(client, rsps):
    r = _start_with(client, rsps, ASYM_ISS, token_endpoint_auth_signing_alg_values_supported=["RS256"])
    body = _stopped_before_authorize(r)
    assert "signed with ES384 or RS384" in body and "signing algorithms: RS256." in body
    assert "smart_private_jwks_file" in body


def test_asymmetric_client_with_only_an_rsa_key_is_stopped_when_the_server_accepts_only_es384(tmp_path, rsps):
    from smart_app.keys import ClientKeys, write_private_jwks

    rsa_only = ClientKeys([k for k in ClientKeys.ephemeral().keys if k.alg == "RS384"])
    write_private_jwks(tmp_path / "jwks.json", rsa_only)
    app = make_app(make_settings(tmp_path, smart_private_jwks_file=tmp_path / "jwks.json"))
    r = _start_with(
        app.test_client(), rsps, ASYM_ISS, token_endpoint_auth_signing_alg_values_supported=["ES384"]
    )
    assert "signed with RS384, but" in _stopped_before_authorize(r)


def test_confidential_client_launches_when_the_server_lists_its_method(client, rsps):
    ehr = FakeEhr(rsps, ASYM_ISS)
    ehr.discovery["token_endpoint_auth_methods_supported"] = ["client_secret_basic", "private_key_jwt"]
    ehr.discovery["token_endpoint_auth_signing_alg_values_supported"] = ["ES384"]
    assert Launcher(client, ehr).start().status_code == 302


def test_confidential_client_launches_when_the_server_publishes_no_method_list(client, rsps):
    """Both lists are optional in discovery: without them the token request is the test."""
    ehr = FakeEhr(rsps, SYM_ISS)
    del ehr.discovery["token_endpoint_auth_signing_alg_values_supported"]
    assert "token_endpoint_auth_methods_supported" not in ehr.discovery
    assert Launcher(client, ehr).start().status_code == 302


def test_public_client_is_not_checked_against_the_method_list(client, rsps):
    """Servers rarely list "none" even when they accept public clients."""
    r = _start_with(client, rsps, ISS, token_endpoint_auth_methods_supported=["private_key_jwt"])
    assert r.status_code == 302


def test_client_auth_mismatch_is_logged_as_a_warning_without_the_secret(client, rsps, caplog):
    with caplog.at_level("WARNING", logger="smart_app"):
        _start_with(client, rsps, SYM_ISS, token_endpoint_auth_methods_supported=["private_key_jwt"])
    (record,) = [r for r in caplog.records if r.name.startswith("smart_app")]
    message = record.getMessage()
    assert record.levelname == "WARNING"
    assert SYM_ISS in message and "client_secret_basic" in message and "private_key_jwt" in message
    assert "s3cret" not in message
    # The server stays named after the log redaction that every handler applies.
    assert SYM_ISS in redact(message)


def test_server_values_on_the_client_auth_page_are_escaped(client, rsps):
    r = _start_with(client, rsps, SYM_ISS, token_endpoint_auth_methods_supported=["<script>x</script>"])
    body = _stopped_before_authorize(r)
    assert "<script>x</script>" not in body and "&lt;script&gt;" in body


# --- refresh scopes (SC#scopes-for-requesting-a-refresh-token) ----------------------------------


def test_ehr_launch_requests_online_access_when_server_advertises_permission_online(
    launcher: Launcher, ehr: FakeEhr
):
    ehr.capabilities.append("permission-online")
    scope = launcher.authorize_params(launcher.start())["scope"].split()
    assert "online_access" in scope
    assert "offline_access" not in scope


def test_ehr_launch_requests_no_refresh_scope_without_permission_online(launcher: Launcher, ehr: FakeEhr):
    ehr.capabilities.append("permission-offline")  # offline is never asked for on an EHR launch
    scope = launcher.authorize_params(launcher.start())["scope"].split()
    assert "online_access" not in scope and "offline_access" not in scope


def test_ehr_launch_never_requests_offline_access_even_if_configured():
    from smart_app.scopes import requested_scopes

    configured = "launch openid fhirUser patient/Patient.r offline_access online_access"
    caps = ["permission-v2", "permission-offline", "permission-online"]
    assert requested_scopes(configured, caps, standalone=False) == [
        "launch",
        "openid",
        "fhirUser",
        "patient/Patient.r",
        "online_access",
    ]
    assert "online_access" not in requested_scopes(configured, caps, standalone=True)


# --- OIDC nonce -----------------------------------------------------------------------------------


def test_nonce_is_sent_with_openid_and_differs_per_authorization(launcher: Launcher):
    a = launcher.authorize_params(launcher.start())
    b = launcher.authorize_params(launcher.start())
    assert "openid" in a["scope"].split()
    assert a["nonce"] and b["nonce"] and a["nonce"] != b["nonce"]
    assert a["nonce"] != a["state"] and len(a["nonce"]) * 6 >= 128


def test_no_nonce_without_openid(tmp_path, rsps):
    app = make_app(
        make_settings(
            tmp_path,
            smart_clients=[
                {
                    "iss": ISS,
                    "client_id": "app-public",
                    "client_type": "public",
                    "scopes": "launch patient/Patient.r",
                }
            ],
        )
    )
    launcher = Launcher(app.test_client(), FakeEhr(rsps, ISS))
    assert "nonce" not in launcher.authorize_params(launcher.start())


# --- authorize-post (AL#request-4, SC#scope-size-over-the-wire R133) ---------------------------------


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form: dict[str, str] = {}
        self.fields: dict[str, str] = {}
        self.buttons: list[dict[str, str | None]] = []
        self.scripts: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.form = {k: v or "" for k, v in a.items()}
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"] or ""] = a.get("value") or ""
        elif tag == "button":
            self.buttons.append(a)
        elif tag == "script":
            self.scripts.append(a.get("src"))


def _post_form(response) -> _FormParser:
    parser = _FormParser()
    parser.feed(response.get_data(as_text=True))
    return parser


def test_authorize_post_when_advertised_sends_an_auto_submitting_form_with_every_parameter(
    launcher: Launcher, ehr: FakeEhr, client
):
    ehr.capabilities.append("authorize-post")
    evil_launch = 'L-1"><script>alert(1)</script>&x=y'
    r = launcher.start(launch=evil_launch)
    assert r.status_code == 200 and "Location" not in r.headers
    body = r.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body  # values are escaped
    form = _post_form(r)
    assert form.form["method"].lower() == "post"
    assert form.form["action"] == ehr.authorize_url
    for name in REQUIRED_AUTHORIZE_PARAMS:
        assert form.fields.get(name), name
    assert form.fields["launch"] == evil_launch  # escaped in HTML, intact after parsing
    assert form.fields["response_type"] == "code" and form.fields["code_challenge_method"] == "S256"
    assert form.fields["aud"] == ISS and form.fields["client_id"] == "app-public"
    assert form.fields["nonce"]
    assert [b.get("type") for b in form.buttons] == ["submit"]  # works without JavaScript
    assert form.scripts == ["/app/static/authorize_post.js"]  # our own script, no inline code
    assert client.get("/app/static/authorize_post.js").status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert "form-action 'self' https://ehr.example.org;" in csp and "script-src 'self';" in csp
    assert r.headers["Cache-Control"] == "no-store"
    # The EHR accepts the POSTed parameters; the sign-in completes as with GET.
    code = ehr.approve_params(form.fields)
    done = launcher.client.get("/app/callback", query_string={"code": code, "state": form.fields["state"]})
    assert done.status_code == 303


def test_authorize_get_when_authorize_post_is_not_advertised(launcher: Launcher, ehr: FakeEhr):
    assert "authorize-post" not in ehr.capabilities
    r = launcher.start()
    assert r.status_code == 302 and r.headers["Location"].startswith(ehr.authorize_url + "?")
    params = launcher.authorize_params(r)
    for name in REQUIRED_AUTHORIZE_PARAMS:
        assert params.get(name), name


def test_authorize_request_carries_no_max_age_or_auth_time_R211(launcher: Launcher):
    params = launcher.authorize_params(launcher.start())
    assert set(params) == {*REQUIRED_AUTHORIZE_PARAMS, "nonce"}


# --- TLS outside dev mode (AL#app-protection, R318) -----------------------------------------------


def _secure_launcher(tmp_path, rsps, iss: str) -> Launcher:
    clients = [
        {"iss": iss, "client_id": "app-sym", "client_type": "confidential-symmetric", "client_secret": "s"}
    ]
    app = make_app(make_settings(tmp_path, dev_mode=False, smart_clients=clients))
    return Launcher(app.test_client(), FakeEhr(rsps, iss))


def test_plain_http_iss_is_refused_outside_dev_mode_before_any_network_call(tmp_path, rsps):
    launcher = _secure_launcher(tmp_path, rsps, "http://plain.example.org/fhir")
    r = launcher.start()
    assert r.status_code == 502 and "Location" not in r.headers
    assert "https" in r.get_data(as_text=True)
    assert len(rsps.calls) == 0


def test_plain_http_token_endpoint_is_refused_outside_dev_mode(tmp_path, rsps):
    launcher = _secure_launcher(tmp_path, rsps, ISS)
    launcher.ehr.discovery["token_endpoint"] = "http://ehr.example.org/auth/token"
    r = launcher.start()
    assert r.status_code == 502 and "Location" not in r.headers
    assert "token_endpoint" in r.get_data(as_text=True)


def test_https_server_launches_outside_dev_mode(tmp_path, rsps):
    launcher = _secure_launcher(tmp_path, rsps, ISS)
    assert launcher.authorize_params(launcher.start())["aud"] == ISS
