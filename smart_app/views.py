"""Routes of the SMART app under `/app` (SMART App Launch 2.2, app-launch.html).

Launch:     GET /app/launch?iss&launch (EHR), GET /app/standalone[?iss=] (standalone); they answer
            with a redirect to the authorize endpoint, or with an auto-submitting form when the
            server advertises `authorize-post`
Callback:   GET /app/callback?code&state[&iss] or ?error&state
Pages:      GET /app/c/<context_id>/ (dashboard), /print, GET+POST /salt
Keys:       GET /app/.well-known/jwks.json
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import timedelta
from typing import Any, TypedDict
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from smart_app import context as C
from smart_app import oauth, page
from smart_app.errors import SmartError
from smart_app.registry import RegisteredClient
from smart_app.salt import build_observation, outcome_text, parse_form, valid_form_id, validate_r4
from smart_app.scopes import ScopeSet, requested_scopes

bp = Blueprint("smart_app", __name__, url_prefix="/app", template_folder="templates", static_folder="static")


@bp.errorhandler(SmartError)
def handle_smart_error(error: SmartError) -> tuple[str, int]:
    return render_template("smart_app/error.html", error=error), error.status


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["Referrer-Policy"] = "no-referrer"  # context ids and codes stay out of Referer
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; object-src 'none'",
    )
    return C.set_browser_cookie(response)


# --- launch ---------------------------------------------------------------------------------


@bp.get("/launch")
def launch() -> Response:
    """EHR launch (AL#step-2-launch-ehr): both `iss` and `launch` are required; `iss` must be allow-listed."""
    iss = request.args.get("iss", "")
    launch_id = request.args.get("launch", "")
    missing = [name for name, value in (("iss", iss), ("launch", launch_id)) if not value]
    if missing:
        raise SmartError.missing_launch_params(missing)
    client = C.app_state().registry.get(iss)
    if client is None:
        raise SmartError.unknown_iss(iss)  # before any network call
    if len(launch_id) > 2000:
        raise SmartError.missing_launch_params(["a usable launch value"])
    return _authorize(client, launch_id, standalone=False)


@bp.get("/standalone")
def standalone() -> Response | str:
    """Standalone launch: choose among allow-listed servers with `standalone: true`; `aud` from settings."""
    state = C.app_state()
    servers = state.registry.standalone()
    iss = request.args.get("iss")
    if not iss:
        return render_template("smart_app/standalone.html", servers=servers)
    client = state.registry.get(iss)
    if client is None or not client.standalone:
        raise SmartError.unknown_iss(iss)
    return _authorize(client, None, standalone=True)


def _authorize(client: RegisteredClient, launch_id: str | None, *, standalone: bool) -> Response:
    state = C.app_state()
    config = state.discovery.get(client.iss)
    oauth.check_client_authentication(config, client, state.keys)
    scope = requested_scopes(client.scopes, list(config.capabilities), standalone=standalone)
    st, verifier = oauth.new_state(), oauth.new_code_verifier()
    now = state.now()
    state.storage().put_launch_state(
        state.new_launch_state(
            state=st,
            browser_key=C.ensure_browser_key(),
            iss=client.iss,
            launch=launch_id,
            code_verifier=verifier,
            redirect_uri=state.redirect_uri,
            scope=" ".join(scope),
            standalone=standalone,
            created_at=now,
            expires_at=now + timedelta(seconds=state.settings.smart_state_ttl_s),
        )
    )
    nonce = oauth.nonce_for(state.nonce_secret, st) if "openid" in scope else None
    params = oauth.authorization_params(
        client,
        redirect_uri=state.redirect_uri,
        scope=scope,
        state=st,
        code_verifier=verifier,
        launch=launch_id,
        nonce=nonce,
    )
    if config.has("authorize-post"):
        return _authorize_post(config.authorization_endpoint, params)
    return redirect(oauth.authorization_url(config, params), 302)


def _authorize_post(endpoint: str, params: dict[str, str]) -> Response:
    """AL#request-4 "authorize-post": an HTML form POSTed to the authorization endpoint.

    Submitted on load by our own static script; the visible button covers
    browsers without JavaScript. Jinja escapes every value. The CSP lets this
    one page's form go to the authorization endpoint's origin (and back to us,
    for the redirect to our callback).
    """
    origin = _csp_origin(endpoint)
    html = render_template("smart_app/authorize_post.html", endpoint=endpoint, params=params)
    response = Response(html, status=200, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
        f"form-action 'self' {origin}; base-uri 'none'; object-src 'none'"
    )
    return response


def _csp_origin(url: str) -> str:
    """`scheme://host[:port]` of a discovered endpoint, safe to put in a CSP header."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port, host = None, ""
    if parts.scheme not in ("http", "https") or not re.fullmatch(r"[A-Za-z0-9.\-]+|[0-9A-Fa-f:.]+", host):
        raise SmartError.discovery(url, "the authorization endpoint is not a usable http(s) URL")
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


# --- callback -------------------------------------------------------------------------------


@bp.get("/callback")
def callback() -> Response:
    """AL#response-4: state checked against server-side storage AND this browser, used once."""
    state = C.app_state()
    key = C.browser_key()
    if key is None:
        raise SmartError.no_browser_cookie()
    st = request.args.get("state", "")
    if not st or len(st) > 200:
        raise SmartError.bad_state()
    now = state.now()
    launch_state = state.storage().take_launch_state(st, key, now)
    if launch_state is None:
        raise SmartError.bad_state()
    if request.args.get("error"):
        raise SmartError.authorization_denied(
            request.args["error"][:100], request.args.get("error_description", "")[:300]
        )
    client = state.registry.get(launch_state.iss)
    if client is None:
        raise SmartError.bad_state()
    config = state.discovery.get(client.iss)
    callback_iss = request.args.get("iss")
    if callback_iss and config.issuer and callback_iss != config.issuer:  # RFC 9207
        raise SmartError.issuer_mismatch()
    code = request.args.get("code")
    if not code:
        raise SmartError.token_failed("the sign-in response carried no authorization code")
    tok = oauth.exchange_code(
        config,
        client,
        state.keys,
        code=code,
        redirect_uri=launch_state.redirect_uri,
        code_verifier=launch_state.code_verifier,
        timeout_s=state.settings.fhir_request_timeout_s,
    )
    if not tok.patient:
        raise SmartError.no_patient()
    granted_text = tok.scope if tok.scope is not None else launch_state.scope
    claims = None
    if tok.id_token and ScopeSet.from_string(granted_text).identity:
        claims = oauth.validate_id_token(
            tok.id_token,
            config,
            client,
            timeout_s=state.settings.fhir_request_timeout_s,
            nonce=oauth.nonce_for(state.nonce_secret, st),
        )
    now = state.now()
    session_end = now + timedelta(seconds=state.settings.smart_session_ttl_s)
    ctx = state.new_context(
        context_id=secrets.token_urlsafe(24),
        browser_key=key,
        iss=client.iss,
        patient_id=tok.patient,
        encounter_id=tok.encounter,
        fhir_user=oauth.resolve_fhir_user((claims or {}).get("fhirUser"), client.iss),
        access_token=tok.access_token,
        refresh_token=tok.refresh_token,
        scope=granted_text,
        expires_at=C.token_expiry(now, tok.expires_in),
        need_patient_banner=tok.need_patient_banner,
        smart_style_url=tok.smart_style_url,
        id_token_claims_json=json.dumps(claims) if claims else None,
        created_at=now,
        session_expires_at=session_end,
    )
    state.storage().put_context(ctx)
    return redirect(url_for(".dashboard", context_id=ctx.context_id), 303)


# --- pages ----------------------------------------------------------------------------------


@bp.get("/c/<context_id>/")
def dashboard(context_id: str) -> str:
    ctx = C.load_context(context_id)
    view = page.build(ctx)
    saved = request.args.get("saved")
    return render_template(
        "smart_app/dashboard.html",
        v=view,
        saved=saved if saved in page.SAVE_MESSAGES else None,
        save_messages=page.SAVE_MESSAGES,
    )


@bp.get("/c/<context_id>/print")
def print_view(context_id: str) -> str:
    ctx = C.load_context(context_id)
    return render_template("smart_app/print.html", v=page.build(ctx, with_charts=False))


class SaveAnswer(TypedDict):
    """Why the EHR did not save the score, shown above the form."""

    status: int
    title: str
    lines: list[str]


@bp.route("/c/<context_id>/salt", methods=["GET", "POST"])
def salt(context_id: str) -> Response | str | tuple[str, int]:
    state = C.app_state()
    ctx = C.load_context(context_id)
    model = page.salt_model()
    if not ScopeSet.from_string(ctx.scope).can_write_observation():
        raise SmartError(
            403,
            "no_write_scope",
            "Saving is not allowed",
            "The EHR did not grant this app permission to create Observations for this patient.",
            "You can still use the calculator on paper; ask your EHR administrator about write access.",
        )
    if model is None:
        raise SmartError(
            503,
            "salt_unavailable",
            "The SALT calculator is not available",
            "The knowledge file does not define the SALT codes, region weights and AA-IGA bands.",
            "Tell the team that maintains this app.",
        )
    if request.method == "GET":
        return _salt_form(ctx, model, form_id=str(uuid.uuid4()), values={}, problems=[])
    C.check_csrf(ctx, request.form.get("csrf_token"))
    form_id = valid_form_id(request.form.get("form_id"))
    losses, problems = parse_form(request.form)
    values = {k: request.form.get(f"loss_{k}", "") for k in ("vertex", "posterior", "right", "left")}
    if form_id is None or problems:
        if form_id is None:
            problems.append("The form is incomplete; open it again from the dashboard.")
        return _salt_form(
            ctx, model, form_id=form_id or str(uuid.uuid4()), values=values, problems=problems
        ), 400
    obs = build_observation(
        model,
        losses,
        patient_id=ctx.patient_id,
        encounter_id=ctx.encounter_id,
        performer=ctx.fhir_user,
        effective=state.now(),
        identifier_system=state.settings.smart_salt_identifier_system,
        identifier_value=form_id,
    )
    invalid = validate_r4(obs)
    if invalid:
        return _salt_form(
            ctx,
            model,
            form_id=form_id,
            values=values,
            problems=["The Observation is not valid FHIR R4:", *invalid],
        ), 500
    from fhir_access import FhirError, FhirForbidden

    if_none_exist = f"identifier={state.settings.smart_salt_identifier_system}|{form_id}"
    try:
        result, ctx = C.with_fhir(
            ctx, lambda fhir: fhir.create(obs, if_none_exist=if_none_exist), translate=False
        )
    except FhirForbidden as exc:
        answer: SaveAnswer = {
            "status": 403,
            "title": "The EHR refused to save the score (403 Forbidden).",
            "lines": outcome_text(exc.operation_outcome),
        }
        return _salt_form(ctx, model, form_id=form_id, values=values, problems=[], answer=answer), 403
    except FhirError as exc:
        why = f"HTTP {exc.status}" if exc.status else "no answer"
        answer = {
            "status": exc.status or 502,
            "title": f"The EHR did not save the score ({why}).",
            "lines": outcome_text(exc.operation_outcome),
        }
        return _salt_form(ctx, model, form_id=form_id, values=values, problems=[], answer=answer), 502
    saved = "created" if result.status == 201 else "exists" if result.status == 200 else "accepted"
    return redirect(url_for(".dashboard", context_id=ctx.context_id, saved=saved), 303)


def _salt_form(
    ctx: Any,
    model: Any,
    *,
    form_id: str,
    values: dict[str, str],
    problems: list[str],
    answer: SaveAnswer | None = None,
) -> str:
    return render_template(
        "smart_app/salt.html",
        v=page.banner_only(ctx),
        model=model,
        model_json=model.as_json(),
        form_id=form_id,
        csrf_token=C.csrf_token(ctx),
        values=values,
        problems=problems,
        answer=answer,
    )


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    """Our public keys for private_key_jwt (ASYM, R299-R303): no auth, with Cache-Control."""
    state = C.app_state()
    if state.keys is None:
        abort(404)
    response = Response(json.dumps(state.keys.public_jwks()), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
