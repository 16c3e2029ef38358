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
import logging
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, TypedDict
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from smart_app import context as C
from smart_app import oauth, page
from smart_app.errors import SmartError
from smart_app.registry import RegisteredClient
from smart_app.salt import (
    REGION_LABELS,
    build_observation,
    outcome_text,
    parse_form,
    region_losses,
    salt_value,
    valid_form_id,
    validate_r4,
)
from smart_app.scopes import ScopeSet, requested_scopes

logger = logging.getLogger(__name__)
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
    return C.set_cookies(response)


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
    return _authorize(client, launch_id, aud=iss, standalone=False)


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
    return _authorize(client, None, aud=client.configured_iss, standalone=True)


def _authorize(client: RegisteredClient, launch_id: str | None, *, aud: str, standalone: bool) -> Response:
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
    params = oauth.authorization_params(
        client,
        aud=aud,
        redirect_uri=state.redirect_uri,
        scope=scope,
        state=st,
        code_verifier=verifier,
        launch=launch_id,
        nonce=_nonce(st, scope),
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


def _nonce(st: str, scope: list[str]) -> str | None:
    """The OIDC `nonce` of the authorization `st`: one is sent, and then required, only with `openid`."""
    return oauth.nonce_for(C.app_state().nonce_secret, st) if "openid" in scope else None


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
    if not oauth.is_fhir_id(tok.patient):
        raise SmartError.invalid_patient()  # every read and the SALT write would fail on it
    granted_text = tok.scope if tok.scope is not None else launch_state.scope
    claims = None
    if tok.id_token and ScopeSet.from_string(granted_text).identity:
        claims = oauth.validate_id_token(
            tok.id_token,
            config,
            client,
            timeout_s=state.settings.fhir_request_timeout_s,
            nonce=_nonce(st, launch_state.scope.split()),
        )
    now = state.now()
    session_end = now + timedelta(seconds=state.settings.smart_session_ttl_s)
    context_id = secrets.token_urlsafe(24)
    ctx = state.new_context(
        context_id=context_id,
        browser_key=C.new_context_key(url_for(".dashboard", context_id=context_id)),
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
    _delete_expired(now)
    return redirect(url_for(".dashboard", context_id=ctx.context_id), 303)


def _delete_expired(now: datetime) -> None:
    """Delete expired launch states and contexts, with their tokens: at each sign-in, cheap (indexed).

    Housekeeping must not fail a sign-in that has succeeded (two replicas purging at once may
    collide), so a failure is only logged; the next sign-in purges again.
    """
    try:
        C.app_state().storage().delete_expired(now)
    except Exception as error:
        logger.warning("expired launch data not deleted: %s", type(error).__name__)


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
    """Why the score was not saved, shown above the form with the values kept, and what to do next."""

    status: int
    title: str
    lines: list[str]
    next_step: str
    can_retry: bool  # whether saving this form again can work in this session


@bp.route("/c/<context_id>/salt", methods=["GET", "POST"])
def salt(context_id: str) -> Response | str | tuple[str, int]:
    state = C.app_state()
    try:
        ctx = C.load_context(context_id)
    except SmartError as error:
        if request.method == "POST":
            return _not_saved_without_session(error)
        raise
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
        return _salt_form(page.banner_only(ctx), ctx, model, form_id=str(uuid.uuid4()), values={})
    C.check_csrf(ctx, request.form.get("csrf_token"))
    form_id = valid_form_id(request.form.get("form_id"))
    losses, problems = parse_form(request.form)
    values = _entered(request.form)
    if form_id is None or problems:
        if form_id is None:
            problems.append("The form is incomplete; open it again from the dashboard.")
        form = _salt_form(
            _banner_view(ctx, read=True),
            ctx,
            model,
            form_id=form_id or str(uuid.uuid4()),
            values=values,
            problems=problems,
        )
        return form, 400
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
        problems = ["The Observation is not valid FHIR R4:", *invalid]
        form = _salt_form(
            _banner_view(ctx, read=True), ctx, model, form_id=form_id, values=values, problems=problems
        )
        return form, 500
    return _save(ctx, model, obs, form_id=form_id, losses=losses, values=values)


def _entered(form: Any) -> dict[str, str]:
    """What the clinician typed in each region, as typed, to put back in the form."""
    return {region: str(form.get(f"loss_{region}", ""))[:20] for region in REGION_LABELS}


def _save(
    ctx: Any,
    model: Any,
    obs: dict[str, Any],
    *,
    form_id: str,
    losses: dict[str, float],
    values: dict[str, str],
) -> Response | tuple[str, int]:
    """Conditional create (identifier = form id), so a retried form is never saved twice.

    Whatever goes wrong, the form comes back with the values entered and says the score was
    NOT saved, and why: never an error page that loses the entry.
    """
    from fhir_access import FhirError, FhirForbidden

    system = C.app_state().settings.smart_salt_identifier_system

    def create(fhir: Any) -> Any:
        return fhir.create(obs, if_none_exist=f"identifier={system}|{form_id}")

    try:
        result, ctx = C.with_fhir(ctx, create, translate=False)
    except SmartError as error:  # the session ended: the token was refused, even after renewing it
        return _not_saved(ctx, model, form_id, values, _session_ended(error), read_banner=False)
    except FhirForbidden as exc:
        answer: SaveAnswer = {
            "status": 403,
            "title": "The SALT score was NOT saved: the EHR refused it (403 Forbidden).",
            "lines": outcome_text(exc.operation_outcome),
            "next_step": "Your values are kept below. Ask your EHR administrator about the app's "
            "permission to save scores.",
            "can_retry": True,
        }
        return _not_saved(ctx, model, form_id, values, answer, read_banner=True)
    except FhirError as exc:
        answer = _ehr_did_not_save(exc.status, outcome_text(exc.operation_outcome))
        # An EHR that answered with a refusal can still show the banner; one failing or silent
        # would only keep the clinician waiting again.
        answered = exc.status is not None and exc.status < 500
        return _not_saved(ctx, model, form_id, values, answer, read_banner=answered)
    if result.status == 200:
        return _form_already_saved(ctx, model, result.resource, form_id=form_id, losses=losses, values=values)
    saved = "created" if result.status == 201 else "accepted"
    return redirect(url_for(".dashboard", context_id=ctx.context_id, saved=saved), 303)


# 4xx answers that say nothing about the content: the session (401), permission (403), a conflict
# over the form's identifier (409, 412) or load (429). Any other 4xx rejected the Observation itself.
_NOT_ABOUT_THE_CONTENT = frozenset({401, 403, 409, 412, 429})


def _ehr_did_not_save(status: int | None, lines: list[str]) -> SaveAnswer:
    """The EHR failed (5xx, timeout, 429): try again. It rejected the content (400, 422 ...): the
    same form would be rejected again, so the clinician reports it instead."""
    why = f"HTTP {status}" if status else "no answer"
    rejected = status is not None and 400 <= status < 500 and status not in _NOT_ABOUT_THE_CONTENT
    next_step = (
        "Your values are kept below; note them in the chart by hand. The EHR rejected this "
        "Observation, so saving it again would fail the same way: report this to the team that "
        "maintains this app, with the answer above."
        if rejected
        else "Your values are kept below. You can try again; the score will not be saved twice."
    )
    return {
        "status": 502,
        "title": f"The SALT score was NOT saved: the EHR did not save it ({why}).",
        "lines": lines,
        "next_step": next_step,
        "can_retry": not rejected,
    }


def _session_ended(error: SmartError) -> SaveAnswer:
    return {
        "status": error.status,
        "title": f"The SALT score was NOT saved: {error.title[0].lower()}{error.title[1:]}.",
        "lines": [error.message],
        "next_step": "Note the values below, then close this window, open the app again from the "
        "patient's chart and enter them again.",
        "can_retry": False,
    }


def _form_already_saved(
    ctx: Any,
    model: Any,
    stored: dict[str, Any] | None,
    *,
    form_id: str,
    losses: dict[str, float],
    values: dict[str, str],
) -> Response | tuple[str, int]:
    """The EHR already holds this form's Observation: "already saved" only when it holds these values.

    A corrected resubmission was NOT saved: say so, and offer the values in a new form, since this
    form's identifier belongs to the first score. A stored score the EHR did not send back cannot
    be compared (often it is this very entry, its first answer lost): ask to check the chart.
    """
    if stored is None:
        return _not_saved(ctx, model, form_id, values, _maybe_saved(model, losses), read_banner=True)
    if region_losses(model, stored) == losses:
        return redirect(url_for(".dashboard", context_id=ctx.context_id, saved="exists"), 303)
    first = salt_value(stored)
    answer: SaveAnswer = {
        "status": 409,
        "title": "These values were NOT saved: a score from this form was already saved.",
        "lines": [
            f"The record holds the first score saved from this form: SALT {first:g}."
            if first is not None
            else "The EHR did not send back the score it holds for this form, so the app cannot "
            "tell whether it matches these values.",
            f"The values below (SALT {model.score(losses):g}) were not saved.",
        ],
        "next_step": "To record the values below as well, check them and save them as a new score. "
        "The first score stays in the record; if it is wrong, correct it in the EHR.",
        "can_retry": True,
    }
    return _not_saved(ctx, model, str(uuid.uuid4()), values, answer, read_banner=True)


def _maybe_saved(model: Any, losses: dict[str, float]) -> SaveAnswer:
    """The form's identifier is taken, by a score the EHR did not return. A new form would save these
    values a second time if they are the score already held, so the form keeps its identifier."""
    return {
        "status": 409,
        "title": "A SALT score from this form may already be saved.",
        "lines": [
            "The EHR answered that it already holds a score saved from this form, but did not send "
            "it back, so the app cannot compare it with the values below "
            f"(SALT {model.score(losses):g}).",
        ],
        "next_step": "Check the patient's chart for this score before recording it again. Saving "
        "this form again will never create a second score.",
        "can_retry": True,
    }


def _not_saved(
    ctx: Any,
    model: Any,
    form_id: str,
    values: dict[str, str],
    answer: SaveAnswer,
    *,
    read_banner: bool,
) -> tuple[str, int]:
    view = _banner_view(ctx, read=read_banner)
    return _salt_form(view, ctx, model, form_id=form_id, values=values, answer=answer), answer["status"]


def _not_saved_without_session(error: SmartError) -> tuple[str, int]:
    """A score posted after its session ended: the error page, listing the values so they survive."""
    values = _entered(request.form)
    entered = [(label, values[region]) for region, label in REGION_LABELS.items()]
    return render_template("smart_app/error.html", error=error, unsaved=entered), error.status


def _banner_view(ctx: Any, *, read: bool) -> page.PageView:
    """The banner above a form holding the clinician's entry: read from the EHR when `read`, else,
    or when that read fails, the patient id from the launch. Never an error page instead of the form.
    """
    if read:
        try:
            return page.banner_only(ctx)
        except SmartError:
            logger.info("SALT form: patient banner not read; showing the id from the launch")
    return page.banner_unread(ctx)


def _salt_form(
    view: page.PageView,
    ctx: Any,
    model: Any,
    *,
    form_id: str,
    values: dict[str, str],
    problems: list[str] | None = None,
    answer: SaveAnswer | None = None,
) -> str:
    return render_template(
        "smart_app/salt.html",
        v=view,
        model=model,
        model_json=model.as_json(),
        form_id=form_id,
        csrf_token=C.csrf_token(ctx),
        values=values,
        problems=problems or [],
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
