"""Per-launch contexts, refresh, FHIR errors and the token guard (smart-app-launch.md §1.7, §1.8, §1.10)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import responses
from smart_fakes import ISS, FakeEhr, Launcher, error_code

from smart_app import context as C
from smart_app.errors import SmartError
from smart_app.oauth import TokenResponse


def test_two_concurrent_launches_in_one_browser_show_their_own_patients(launcher: Launcher, client):
    tab_a = launcher.launch(patient="pat-a")
    tab_b = launcher.launch(patient="pat-b")
    assert tab_a != tab_b
    # Cerner "Session Bleed" check: A, then B, then refresh A -> still A.
    page_a = client.get(tab_a).get_data(as_text=True)
    page_b = client.get(tab_b).get_data(as_text=True)
    assert "Alice Alpha" in page_a and "Bob Beta" not in page_a
    assert "Bob Beta" in page_b and "Alice Alpha" not in page_b
    again_a = client.get(tab_a).get_data(as_text=True)
    assert "Alice Alpha" in again_a and "Bob Beta" not in again_a


def test_fhir_queries_use_the_token_patient_never_a_url_parameter(launcher: Launcher, client, ehr: FakeEhr):
    path = launcher.launch(patient="pat-a")
    client.get(path, query_string={"patient": "pat-b"})
    for request in ehr.fhir_requests:
        assert "pat-b" not in request.url


def test_context_is_bound_to_the_browser(launcher: Launcher, app):
    path = launcher.launch()
    stranger = app.test_client()
    stranger.set_cookie("aa_jak_context", "another-browser-key-0123456789", path=path)
    r = stranger.get(path)
    assert r.status_code == 401 and error_code(r) == "session_expired"
    assert app.test_client().get(path).status_code == 401  # no cookie at all


def test_expired_session_shows_relaunch_page(launcher: Launcher, app, client):
    path = launcher.launch()
    state = app.extensions["smart_app"]
    real_now = state.now
    state.now = lambda: real_now() + timedelta(hours=9)
    r = client.get(path)
    assert r.status_code == 401 and error_code(r) == "session_expired"
    assert "chart" in r.get_data(as_text=True)


def test_refresh_about_a_minute_before_expiry_replaces_rotated_refresh_token(
    launcher: Launcher, app, client, ehr
):
    ehr.expires_in = 90
    path = launcher.launch()
    first_refresh = next(iter(ehr.refresh))
    state = app.extensions["smart_app"]
    real_now = state.now
    state.now = lambda: real_now() + timedelta(seconds=45)  # inside the 60 s leeway
    assert client.get(path).status_code == 200
    refresh_requests = [r for r in ehr.token_requests if r.form["grant_type"] == "refresh_token"]
    assert len(refresh_requests) == 1
    assert refresh_requests[0].form["refresh_token"] == first_refresh
    assert refresh_requests[0].form["client_id"] == "app-public"  # same client authentication
    assert "scope" not in refresh_requests[0].form
    # The rotated token is used next time, the old one never again.
    ehr.revoke_access_tokens()
    assert client.get(path).status_code == 200
    refresh_requests = [r for r in ehr.token_requests if r.form["grant_type"] == "refresh_token"]
    assert len(refresh_requests) == 2
    assert refresh_requests[1].form["refresh_token"] != first_refresh


def test_fhir_401_refreshes_once_then_succeeds(launcher: Launcher, client, ehr):
    path = launcher.launch()
    ehr.revoke_access_tokens()
    r = client.get(path)
    assert r.status_code == 200
    assert [t.form["grant_type"] for t in ehr.token_requests] == ["authorization_code", "refresh_token"]


def test_fhir_401_after_refresh_asks_to_relaunch(launcher: Launcher, client, ehr, rsps):
    path = launcher.launch()
    ehr.fhir_status = 401
    r = client.get(path)
    assert r.status_code == 401 and error_code(r) == "fhir_unauthorized"
    assert sum(t.form["grant_type"] == "refresh_token" for t in ehr.token_requests) == 1


def _grants(ehr: FakeEhr) -> list[str]:
    return [t.form["grant_type"] for t in ehr.token_requests]


def test_token_without_expires_in_is_renewed_on_the_first_fhir_401(launcher: Launcher, client, ehr):
    ehr.token_extra = {"expires_in": None}  # it is only RECOMMENDED
    path = launcher.launch()
    ehr.revoke_access_tokens()
    r = client.get(path)
    assert r.status_code == 200 and "Alice Alpha" in r.get_data(as_text=True)
    assert _grants(ehr) == ["authorization_code", "refresh_token"]


def test_renewed_token_without_expires_in_is_renewed_again_on_a_later_401(launcher: Launcher, client, ehr):
    ehr.token_extra = {"expires_in": None}
    path = launcher.launch()
    ehr.revoke_access_tokens()
    client.get(path)
    ehr.revoke_access_tokens()
    assert client.get(path).status_code == 200
    assert _grants(ehr) == ["authorization_code", "refresh_token", "refresh_token"]


def test_token_without_expires_in_asks_to_relaunch_when_the_renewed_token_is_refused_too(
    launcher: Launcher, client, ehr
):
    ehr.token_extra = {"expires_in": None}
    path = launcher.launch()
    ehr.fhir_status = 401
    r = client.get(path)
    assert r.status_code == 401 and error_code(r) == "fhir_unauthorized"
    assert "chart" in r.get_data(as_text=True)
    assert _grants(ehr) == ["authorization_code", "refresh_token"]


def test_token_without_expires_in_is_not_renewed_while_the_server_accepts_it(
    launcher: Launcher, app, client, ehr
):
    """No expiry is guessed: renewing needlessly would spend (rotate) the refresh token for nothing."""
    ehr.token_extra = {"expires_in": None}
    path = launcher.launch()
    state = app.extensions["smart_app"]
    real_now = state.now
    state.now = lambda: (
        real_now() + timedelta(hours=7, minutes=59, seconds=30)
    )  # 30 s before the session ends
    assert client.get(path).status_code == 200
    assert _grants(ehr) == ["authorization_code"]


def test_401_without_a_refresh_token_asks_to_relaunch(launcher: Launcher, client, ehr):
    ehr.token_extra = {"expires_in": None, "refresh_token": None}
    path = launcher.launch()
    ehr.revoke_access_tokens()
    r = client.get(path)
    assert r.status_code == 401 and error_code(r) == "fhir_unauthorized"
    assert _grants(ehr) == ["authorization_code"]


@pytest.mark.parametrize("expires_in", ["90", 90.0, 90.7, " 90 "])
def test_expires_in_as_a_string_or_a_float_still_renews_a_minute_early(
    launcher: Launcher, app, client, ehr, expires_in
):
    ehr.token_extra = {"expires_in": expires_in}
    path = launcher.launch()
    state = app.extensions["smart_app"]
    real_now = state.now
    state.now = lambda: real_now() + timedelta(seconds=45)  # inside the 60 s leeway; no 401 happens
    assert client.get(path).status_code == 200
    assert _grants(ehr) == ["authorization_code", "refresh_token"]


@pytest.mark.parametrize("expires_in", [True, 0, -60, "soon", "nan", "inf", float("nan"), [3600]])
def test_unusable_expires_in_counts_as_absent(expires_in):
    parsed = TokenResponse.parse({"access_token": "a", "token_type": "Bearer", "expires_in": expires_in})
    assert parsed.expires_in is None


def test_huge_expires_in_is_capped_rather_than_breaking_the_launch(launcher: Launcher, client, ehr):
    ehr.token_extra = {"expires_in": "9" * 40}
    assert client.get(launcher.launch()).status_code == 200


def test_fhir_403_shows_a_page(launcher: Launcher, client, ehr):
    path = launcher.launch()
    ehr.fhir_status = 403
    r = client.get(path)
    assert r.status_code == 403 and error_code(r) == "fhir_forbidden"


def test_fhir_5xx_shows_a_page_with_escaped_text(launcher: Launcher, client, ehr):
    path = launcher.launch()
    ehr.fhir_status = 503
    r = client.get(path)
    body = r.get_data(as_text=True)
    assert r.status_code == 502 and error_code(r) == "fhir_unavailable"
    assert "<b>forced</b>" not in body
    assert "Refresh" in body


def test_token_never_sent_off_origin(launcher: Launcher, client, ehr, rsps):
    """A `next` link pointing at another host is never requested, with or without the token (R97, R98)."""
    path = launcher.launch()
    rsps.add(responses.GET, "https://elsewhere.example.net/fhir/Observation", json={})
    ehr.search_next = "https://elsewhere.example.net/fhir/Observation?page=2"
    r = client.get(path)
    assert r.status_code == 502 and error_code(r) == "fhir_unavailable"
    assert not any("elsewhere.example.net" in c.request.url for c in rsps.calls)


def test_all_bearer_requests_go_to_iss_only(launcher: Launcher, client, rsps):
    path = launcher.launch()
    client.get(path)
    client.get(path + "print")
    bearer_hosts = {
        urlsplit(c.request.url).hostname
        for c in rsps.calls
        if c.request.headers.get("Authorization", "").startswith("Bearer ")
    }
    assert bearer_hosts == {"ehr.example.org"}
    assert all(
        c.request.url.startswith(ISS)
        for c in rsps.calls
        if c.request.headers.get("Authorization", "").startswith("Bearer ")
    )


def _stored_context(app, launcher: Launcher, path: str):
    from storage import get_storage

    state = app.extensions["smart_app"]
    return get_storage().get_context(path.split("/")[3], launcher.context_key(path), state.now())


def test_refresh_race_second_request_uses_the_tokens_the_first_stored(launcher: Launcher, app, client, ehr):
    """Two requests read the context, both see the token about to expire, both refresh with the same
    (rotated) refresh token: the slower one gets invalid_grant and must use its partner's tokens."""
    ehr.expires_in = 90
    path = launcher.launch()
    state = app.extensions["smart_app"]
    real_now = state.now
    state.now = lambda: real_now() + timedelta(seconds=45)  # inside the refresh leeway
    with app.app_context():
        stale_a = _stored_context(app, launcher, path)
        stale_b = _stored_context(app, launcher, path)
        first = C.fresh_context(stale_a)
        second = C.fresh_context(stale_b)  # the server answers invalid_grant: R1 was rotated away
    refreshes = [r for r in ehr.token_requests if r.form["grant_type"] == "refresh_token"]
    assert [r.form["refresh_token"] for r in refreshes] == [stale_a.refresh_token] * 2
    assert second.access_token == first.access_token != stale_b.access_token
    assert second.refresh_token == first.refresh_token
    assert client.get(path).status_code == 200  # and the page works on those tokens


def test_refresh_failure_without_newer_stored_tokens_ends_the_session(launcher: Launcher, app, ehr):
    ehr.expires_in = 90
    path = launcher.launch()
    ehr.refresh.clear()  # the server forgot every refresh token
    state = app.extensions["smart_app"]
    real_now = state.now
    state.now = lambda: real_now() + timedelta(seconds=45)
    with app.app_context():
        ctx = _stored_context(app, launcher, path)
        with pytest.raises(SmartError) as raised:
            C.fresh_context(ctx)
    assert raised.value.code == "session_expired"
