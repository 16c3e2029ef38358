"""Per-launch state: the key cookies, the launch context, CSRF tokens and token refresh.

Each launch gets its own server-side `LaunchContext` (storage), addressed by an
id in the URL path (`/app/c/<context_id>/`) and bound to its own opaque key
cookie, scoped to that path, so two charts open in two tabs never see each
other's patient (smart-app-launch.md §1.10, Cerner "Session Bleed"). Sign-ins
in flight are bound to a browser-key cookie. Tokens live only in storage: never
in cookies, pages or logs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import current_app, g, request
from werkzeug.wrappers import Response

from smart_app.errors import SmartError

BROWSER_COOKIE = "aa_jak_browser"  # binds sign-ins in flight (launch states) to this browser
CONTEXT_COOKIE = "aa_jak_context"  # binds one launch context; its path is that context's pages
T = TypeVar("T")


def app_state() -> Any:
    return current_app.extensions["smart_app"]


# --- browser key ---------------------------------------------------------------------


def browser_key() -> str | None:
    return _key_cookie(BROWSER_COOKIE)


def context_key() -> str | None:
    return _key_cookie(CONTEXT_COOKIE)


def _key_cookie(name: str) -> str | None:
    value = request.cookies.get(name)
    return value if value and 20 <= len(value) <= 100 else None


def ensure_browser_key() -> str:
    """The browser's key, creating one (set on the response by `set_cookies`) if absent."""
    key = browser_key()
    if key is None:
        key = secrets.token_urlsafe(32)
        g.new_browser_key = key
    return key


def new_context_key(context_path: str) -> str:
    """A fresh random key for a new launch context, set as a cookie for the context's pages only.

    Never the key the browser sent: a browser key planted by someone else (session fixation)
    must not open the context. Scoped to `context_path`, so each tab's launch keeps its own.
    """
    key = secrets.token_urlsafe(32)
    g.new_context_cookie = (key, context_path)
    return key


def set_cookies(response: Response) -> Response:
    """Any key cookie this request issued."""
    browser = g.pop("new_browser_key", None)
    if browser:
        _set_key_cookie(response, BROWSER_COOKIE, browser, "/app")
    context = g.pop("new_context_cookie", None)
    if context:
        _set_key_cookie(response, CONTEXT_COOKIE, *context)
    return response


def _set_key_cookie(response: Response, name: str, key: str, path: str) -> None:
    """`SameSite=None; Secure; Partitioned; HttpOnly`: survives the EHR iframe (smart-launcher#34)."""
    response.set_cookie(
        name,
        key,
        max_age=app_state().settings.smart_session_ttl_s,
        path=path,
        secure=app_state().settings.smart_cookie_secure,
        httponly=True,
        samesite="None",
        partitioned=True,
    )


# --- launch context --------------------------------------------------------------------


def load_context(context_id: str) -> Any:
    """The launch context for this URL and its key cookie, or the "session ended" page."""
    key = context_key()
    if key is None or len(context_id) > 100:
        raise SmartError.session_expired()
    state = app_state()
    ctx = state.storage().get_context(context_id, key, state.now())
    if ctx is None:
        raise SmartError.session_expired()
    return ctx


def csrf_token(ctx: Any) -> str:
    """Bound to the launch context and the browser; nothing to store."""
    msg = f"csrf:{ctx.context_id}:{ctx.browser_key}".encode()
    return hmac.new(app_state().csrf_secret, msg, hashlib.sha256).hexdigest()


def check_csrf(ctx: Any, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(submitted, csrf_token(ctx)):
        raise SmartError(
            400,
            "csrf",
            "The form could not be accepted",
            "The form was not sent from this app session (or the page was open too long).",
            "Go back to the dashboard and enter the score again.",
        )


# --- tokens and FHIR -------------------------------------------------------------------


def token_expiry(now: Any, expires_in: int | None) -> Any:
    """When the access token expires; None when the server did not say (`expires_in` is optional).

    Without an expiry there is nothing to renew early: the first FHIR 401 renews the token instead
    (`with_fhir`).
    """
    return now + timedelta(seconds=expires_in) if expires_in else None


def refresh_tokens(ctx: Any) -> Any:
    """Use the refresh token once; store the new access token and any rotated refresh token (R117)."""
    from smart_app.oauth import refresh

    state = app_state()
    if not ctx.refresh_token:
        raise SmartError.session_expired()
    client = state.registry.get(ctx.iss)
    if client is None:
        raise SmartError.session_expired()
    config = state.discovery.get(client.iss)
    try:
        tok = refresh(
            config,
            client,
            state.keys,
            refresh_token=ctx.refresh_token,
            timeout_s=state.settings.fhir_request_timeout_s,
        )
    except SmartError as exc:
        newer = _tokens_stored_since(ctx)
        if newer is not None:
            return newer
        raise SmartError.session_expired() from exc
    refresh_token = tok.refresh_token or ctx.refresh_token
    scope = tok.scope or ctx.scope
    expires_at = token_expiry(state.now(), tok.expires_in)
    state.storage().update_context_tokens(ctx.context_id, tok.access_token, refresh_token, scope, expires_at)
    return dataclasses.replace(
        ctx, access_token=tok.access_token, refresh_token=refresh_token, scope=scope, expires_at=expires_at
    )


def _tokens_stored_since(ctx: Any) -> Any | None:
    """The context as stored now, if another request has stored newer tokens since `ctx` was read.

    Two requests on one launch can both see the token about to expire and both
    refresh with the same refresh token; with rotation the slower one gets
    `invalid_grant`. Its partner's tokens are then in storage: use them.
    """
    state = app_state()
    stored = state.storage().get_context(ctx.context_id, ctx.browser_key, state.now())
    if stored is None:
        return None
    if stored.refresh_token == ctx.refresh_token and stored.access_token == ctx.access_token:
        return None  # nothing newer: the refresh really failed
    if stored.expires_at is not None and state.now() >= stored.expires_at:
        return None
    return stored


def fresh_context(ctx: Any) -> Any:
    """Refresh about a minute before the access token expires (smart-app-launch.md §1.8)."""
    state = app_state()
    if ctx.expires_at is None:
        return ctx
    leeway = timedelta(seconds=state.settings.smart_refresh_leeway_s)
    if state.now() + leeway < ctx.expires_at:
        return ctx
    if ctx.refresh_token:
        return refresh_tokens(ctx)
    if state.now() >= ctx.expires_at:
        raise SmartError.session_expired()
    return ctx


def with_fhir(ctx: Any, call: Callable[[Any], T], *, translate: bool = True) -> tuple[T, Any]:
    """Run `call(fhir_client)`; on a 401 refresh once and retry, then give up (R105-R117).

    Returns the result and the (possibly refreshed) context. With `translate`,
    403 and other FHIR errors become error pages; without, they propagate (the
    SALT save shows the server's answer itself).
    """
    from fhir_access import FhirError, FhirForbidden, FhirUnauthorized

    ctx = fresh_context(ctx)
    try:
        try:
            return _run(ctx, call), ctx
        except FhirUnauthorized:
            if not ctx.refresh_token:
                raise SmartError.fhir_unauthorized() from None
            ctx = refresh_tokens(ctx)
            try:
                return _run(ctx, call), ctx
            except FhirUnauthorized:
                raise SmartError.fhir_unauthorized() from None
    except FhirForbidden:
        if not translate:
            raise
        raise SmartError.fhir_forbidden() from None
    except FhirError as exc:
        if not translate:
            raise
        raise SmartError.fhir_unavailable(str(exc)) from None


def _run(ctx: Any, call: Callable[[Any], T]) -> T:
    client = app_state().fhir_client(ctx)
    try:
        return call(client)
    finally:
        close = getattr(client, "close", None)
        if close:
            close()
