"""Development SMART authorization server in front of sekmet-fhir (sandbox and tests only).

sekmet-fhir has no authorization-code flow, so this small Flask app adds one:

- `/fhir/...`: a proxy to the upstream FHIR server that REQUIRES a bearer token issued
  here and keeps patient-scoped requests to the token's patient;
- `/fhir/.well-known/smart-configuration`, `/auth/authorize` (GET, or POST when created with
  `authorize_post=True`; auto-approves; at a standalone launch (`launch/patient`) shows a
  patient picker unless a `patient` is given; echoes an OIDC `nonce` into the id_token),
  `/auth/token` (authorization_code with PKCE S256, refresh_token with rotation; client
  authentication public / client_secret_basic / private_key_jwt), `/auth/jwks`;
- `POST /auth/launches` {patient, encounter?, user?} -> {launch} for the EHR simulator.

Everything is in memory. No production code depends on this module.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict
from urllib.parse import quote, urlencode

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, render_template, request
from jwt.algorithms import RSAAlgorithm

from sandbox.scenarios import patient_rows

CAPABILITIES = [
    "launch-ehr",
    "launch-standalone",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "context-ehr-patient",
    "context-standalone-patient",
    "context-banner",
    "permission-v2",
    "permission-v1",
    "permission-patient",
    "permission-online",
    "sso-openid-connect",
]
# Opt-in (`create_smart_server(authorize_post=True)`): the app then POSTs the authorize form.
AUTHORIZE_POST = "authorize-post"
# Patient-compartment resource types and the search parameter that names the patient.
COMPARTMENT = {
    "Observation": "subject",
    "Condition": "subject",
    "MedicationRequest": "subject",
    "MedicationStatement": "subject",
    "Immunization": "patient",
    "Procedure": "subject",
    "Encounter": "subject",
    "AllergyIntolerance": "patient",
    "DiagnosticReport": "subject",
}
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length"}


@dataclass
class Client:
    """A registered app. `auth`: none | client_secret_basic | private_key_jwt (then `jwks`, public keys)."""

    client_id: str
    redirect_uris: list[str]
    auth: str = "none"
    secret: str | None = None
    jwks: dict[str, Any] | None = None


@dataclass
class Grant:
    client_id: str
    scope: str
    patient: str
    encounter: str | None
    user: str | None
    redirect_uri: str = ""
    code_challenge: str = ""
    expires: float = 0.0
    refresh_token: str | None = None
    nonce: str | None = None
    seen: dict[str, Any] = field(default_factory=dict)


class TokenRequest(TypedDict):
    form: dict[str, str]
    authorization: str | None


class SmartLog(TypedDict):
    """What the server was asked, for test assertions (`app.config["SMART_LOG"]`)."""

    authorize: list[dict[str, str]]  # the parameters of each authorize request
    authorize_method: list[str]  # its HTTP method
    token: list[TokenRequest]


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def create_smart_server(
    fhir_upstream: str,
    public_base: str,
    *,
    auto_approve: bool = True,
    clients: list[Client | dict[str, Any]] | None = None,
    id_token_kid: bool = True,
    token_lifetime_s: int = 3600,
    upstream_token: str | None = None,
    grant_scopes: Any = None,  # optional callable(list[str]) -> list[str] to grant less than asked
    authorize_post: bool = False,  # advertise `authorize-post` (GET is accepted either way)
) -> Flask:
    """The server. `public_base` is where it is reachable (its FHIR base is `{public_base}/fhir`)."""
    app = Flask(__name__)
    upstream = fhir_upstream.rstrip("/")
    base = public_base.rstrip("/")
    fhir_base = f"{base}/fhir"
    token_url = f"{base}/auth/token"
    registry = {c.client_id: c for c in (Client(**c) if isinstance(c, dict) else c for c in clients or [])}
    signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = "sandbox-rs256"
    lock = threading.Lock()
    launches: dict[str, dict[str, Any]] = {}
    codes: dict[str, Grant] = {}
    access: dict[str, Grant] = {}
    refresh: dict[str, Grant] = {}
    used_jti: set[str] = set()
    # For test assertions: authorize parameters, the HTTP method of each authorize request, token forms.
    log: SmartLog = {"authorize": [], "authorize_method": [], "token": []}
    app.config["SMART_LOG"] = log

    def oauth_error(error: str, description: str, status: int = 400) -> tuple[Response, int]:
        return jsonify(error=error, error_description=description), status

    # --- discovery and keys -------------------------------------------------------------

    @app.get("/fhir/.well-known/smart-configuration")
    def smart_configuration() -> Response:
        return jsonify(
            issuer=base,
            authorization_endpoint=f"{base}/auth/authorize",
            token_endpoint=token_url,
            jwks_uri=f"{base}/auth/jwks",
            capabilities=CAPABILITIES + ([AUTHORIZE_POST] if authorize_post else []),
            code_challenge_methods_supported=["S256"],
            grant_types_supported=["authorization_code", "refresh_token"],
            token_endpoint_auth_methods_supported=["private_key_jwt", "client_secret_basic", "none"],
            token_endpoint_auth_signing_alg_values_supported=["RS384", "ES384"],
            scopes_supported=[
                "openid",
                "fhirUser",
                "launch",
                "launch/patient",
                "online_access",
                "offline_access",
            ],
            response_types_supported=["code"],
        )

    @app.get("/auth/jwks")
    def jwks() -> Response:
        jwk = RSAAlgorithm.to_jwk(signing_key.public_key(), as_dict=True)
        jwk.update({"alg": "RS256", "use": "sig", "kid": kid})
        return jsonify(keys=[jwk])

    # --- EHR simulator hook ---------------------------------------------------------------

    @app.post("/auth/launches")
    def new_launch() -> Response:
        body = request.get_json(force=True, silent=True) or {}
        if not body.get("patient"):
            return oauth_error("invalid_request", "patient is required")[0]
        launch = secrets.token_urlsafe(16)
        with lock:
            launches[launch] = {k: body.get(k) for k in ("patient", "encounter", "user")}
        return jsonify(launch=launch)

    # --- authorize ------------------------------------------------------------------------

    @app.route("/auth/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        # authorize-post (AL#request-4): the same parameters as a form body; never mixed with the query.
        args = request.form if request.method == "POST" else request.args
        log["authorize"].append(dict(args))
        log["authorize_method"].append(request.method)
        client = registry.get(args.get("client_id", ""))
        redirect_uri = args.get("redirect_uri", "")
        if client is None or redirect_uri not in client.redirect_uris:
            return Response("unknown client or redirect_uri", status=400, mimetype="text/plain")

        def back(**params: str) -> Response:
            if args.get("state"):
                params["state"] = args["state"]
            return Response(status=302, headers={"Location": f"{redirect_uri}?{urlencode(params)}"})

        scopes = args.get("scope", "").split()
        if args.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if not args.get("state"):
            return back(error="invalid_request", error_description="state is required")
        if args.get("code_challenge_method") != "S256" or len(args.get("code_challenge", "")) < 43:
            return back(error="invalid_request", error_description="PKCE S256 is required")
        if args.get("aud", "").rstrip("/") != fhir_base:
            return back(error="invalid_request", error_description="aud is not this server's FHIR base")
        if not auto_approve:
            return back(error="access_denied", error_description="the user declined")
        if "launch" in scopes:
            with lock:
                ctx = launches.get(args.get("launch", ""))
            if ctx is None:
                return back(error="invalid_request", error_description="unknown launch")
        elif "launch/patient" in scopes:
            if not args.get("patient"):
                picker = pick_patient(client, args)
                if picker is None:
                    return back(error="invalid_request", error_description="no patient to choose")
                return picker
            if not patient_exists(args["patient"]):
                return back(error="invalid_request", error_description="unknown patient")
            ctx = {"patient": args["patient"], "encounter": None, "user": None}
        else:
            return back(error="invalid_scope", error_description="launch or launch/patient is required")
        granted = grant_scopes(scopes) if grant_scopes else scopes
        code = secrets.token_urlsafe(24)
        with lock:
            codes[code] = Grant(
                client.client_id,
                " ".join(granted),
                ctx["patient"],
                ctx.get("encounter"),
                ctx.get("user") or "Practitioner/sandbox-practitioner",
                redirect_uri,
                args["code_challenge"],
                time.time() + 60,
                nonce=args.get("nonce") or None,
            )
        return back(code=code)

    def upstream_get(path: str, **params: str) -> requests.Response:
        headers = {"Accept": "application/fhir+json"}
        if upstream_token:
            headers["Authorization"] = f"Bearer {upstream_token}"
        return requests.get(f"{upstream}/{path}", params=params, headers=headers, timeout=5)

    def pick_patient(client: Client, args: Mapping[str, str]) -> str | None:
        """The patient picker of a standalone launch (None when there is no patient to pick).

        A real EHR asks the user which patient to open; choosing one sends the same authorize
        request again with `patient` added, so every check above runs on it too.
        """
        patients = patient_rows(upstream_get("Patient", _count="200").json())
        if not patients:
            return None
        return render_template(
            "smart/pick_patient.html",
            client_id=client.client_id,
            patients=patients,
            method=request.method,
            fields={k: v for k, v in args.items() if k != "patient"},
        )

    def patient_exists(patient_id: str) -> bool:
        return upstream_get(f"Patient/{quote(patient_id, safe='')}").status_code == 200

    # --- token ------------------------------------------------------------------------------

    def authenticate() -> Client | tuple[Response, int]:
        form = request.form
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return oauth_error("invalid_client", "bad basic credentials", 401)
            client = registry.get(cid)
            if (
                not client
                or client.auth != "client_secret_basic"
                or not secrets.compare_digest(secret, client.secret or "")
            ):
                return oauth_error("invalid_client", "client authentication failed", 401)
            return client
        if form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            assertion = form.get("client_assertion", "")
            try:
                cid = jwt.decode(assertion, options={"verify_signature": False}).get("iss", "")
                header_kid = jwt.get_unverified_header(assertion).get("kid")
            except jwt.PyJWTError:
                return oauth_error("invalid_client", "malformed client assertion", 401)
            client = registry.get(cid)
            if not client or client.auth != "private_key_jwt" or not client.jwks:
                return oauth_error("invalid_client", "unknown asymmetric client", 401)
            keys = [k for k in jwt.PyJWKSet.from_dict(client.jwks).keys if k.key_id == header_kid]
            if not keys:
                return oauth_error("invalid_client", "no key with this kid", 401)
            try:
                claims = jwt.decode(
                    assertion,
                    keys[0].key,
                    algorithms=["RS384", "ES384"],
                    audience=token_url,
                    options={"require": ["exp", "iss", "sub", "jti", "aud"]},
                )
            except jwt.PyJWTError as exc:
                return oauth_error("invalid_client", f"assertion rejected: {type(exc).__name__}", 401)
            if claims["sub"] != cid or claims["exp"] > time.time() + 300 + 5:
                return oauth_error("invalid_client", "sub must equal iss; exp at most 5 minutes ahead", 401)
            with lock:
                if claims["jti"] in used_jti:
                    return oauth_error("invalid_client", "jti replayed", 401)
                used_jti.add(claims["jti"])
            return client
        client = registry.get(form.get("client_id", ""))
        if not client or client.auth != "none":
            return oauth_error("invalid_client", "client authentication required", 401)
        return client

    def issue(grant: Grant, client: Client) -> Response:
        token = secrets.token_urlsafe(32)
        new_refresh = secrets.token_urlsafe(32)
        grant.expires = time.time() + token_lifetime_s
        with lock:
            access[token] = grant
            if grant.refresh_token:
                refresh.pop(grant.refresh_token, None)  # rotation: the old one is dead
            grant.refresh_token = new_refresh
            refresh[new_refresh] = grant
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": token_lifetime_s,
            "scope": grant.scope,
            "patient": grant.patient,
            "need_patient_banner": True,
            "refresh_token": new_refresh,
        }
        if grant.encounter:
            body["encounter"] = grant.encounter
        scopes = grant.scope.split()
        if "openid" in scopes and "fhirUser" in scopes:
            now = int(time.time())
            claims = {
                "iss": base,
                "sub": grant.user,
                "aud": client.client_id,
                "iat": now,
                "exp": now + 600,
                "fhirUser": f"{fhir_base}/{grant.user}",
            }
            if grant.nonce:
                claims["nonce"] = grant.nonce
            headers = {"kid": kid} if id_token_kid else {}
            body["id_token"] = jwt.encode(claims, signing_key, algorithm="RS256", headers=headers)
        response = jsonify(body)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.post("/auth/token")
    def token() -> Any:
        form = request.form
        log["token"].append({"form": dict(form), "authorization": request.headers.get("Authorization")})
        client = authenticate()
        if not isinstance(client, Client):
            return client
        if form.get("grant_type") == "authorization_code":
            with lock:
                grant = codes.pop(form.get("code", ""), None)
            if grant is None or grant.expires < time.time() or grant.client_id != client.client_id:
                return oauth_error("invalid_grant", "unknown, used or expired code")
            if form.get("redirect_uri") != grant.redirect_uri:
                return oauth_error("invalid_grant", "redirect_uri does not match")
            if _s256(form.get("code_verifier", "")) != grant.code_challenge:
                return oauth_error("invalid_grant", "code_verifier does not match the code_challenge")
            return issue(grant, client)
        if form.get("grant_type") == "refresh_token":
            with lock:
                grant = refresh.get(form.get("refresh_token", ""))
            if grant is None or grant.client_id != client.client_id:
                return oauth_error("invalid_grant", "unknown or used refresh token")
            return issue(grant, client)
        return oauth_error("unsupported_grant_type", "authorization_code or refresh_token")

    # --- FHIR proxy ---------------------------------------------------------------------------

    def allowed(grant: Grant, rtype: str, rid: str | None, method: str) -> bool:
        scopes = grant.scope.split()
        op = {"GET": "rs", "POST": "c"}.get(method, "u")

        def has(letter: str) -> bool:
            for s in scopes:
                ctx_res, _, perm = s.partition(".")
                if ctx_res in (f"patient/{rtype}", "patient/*", f"user/{rtype}", "user/*"):
                    perm = {"read": "rs", "write": "cud", "*": "cruds"}.get(perm, perm)
                    if letter in perm:
                        return True
            return False

        if method == "GET":
            return has("r") if rid else has("s")
        return all(has(letter) for letter in op)

    def refers_to_patient(value: str, patient: str) -> bool:
        return value in (patient, f"Patient/{patient}", f"{fhir_base}/Patient/{patient}")

    @app.route("/fhir/metadata", methods=["GET"])
    def metadata() -> Response:
        return proxy("metadata")

    @app.route("/fhir/<path:path>", methods=["GET", "POST"])
    def fhir(path: str) -> Any:
        header = request.headers.get("Authorization", "")
        with lock:
            grant = access.get(header[7:]) if header.startswith("Bearer ") else None
        if grant is None or grant.expires < time.time():
            return _outcome(401, "login", "a valid bearer token issued by this server is required")
        parts = [p for p in path.split("/") if p]
        rtype, rid = parts[0], (parts[1] if len(parts) > 1 else None)
        if not allowed(grant, rtype, rid, request.method):
            return _outcome(403, "forbidden", f"scope does not allow this {rtype} request")
        if rtype == "Patient" and rid and rid != grant.patient:
            return _outcome(403, "forbidden", "another patient")
        if rtype in COMPARTMENT and request.method == "GET" and rid is None:
            named = request.args.getlist("patient") + request.args.getlist(COMPARTMENT[rtype])
            if not named or not all(refers_to_patient(v, grant.patient) for v in named):
                return _outcome(403, "forbidden", "searches must name the token's patient")
        if rtype in COMPARTMENT and request.method == "POST":
            body = request.get_json(force=True, silent=True) or {}
            ref = (body.get(COMPARTMENT[rtype]) or {}).get("reference", "")
            if not refers_to_patient(ref, grant.patient):
                return _outcome(403, "forbidden", "resources must be about the token's patient")
        response = proxy(path)
        if rtype in COMPARTMENT and rid and request.method == "GET" and response.status_code == 200:
            body = json.loads(response.get_data())
            ref = (body.get(COMPARTMENT[rtype]) or {}).get("reference", "")
            if not refers_to_patient(ref, grant.patient):
                return _outcome(403, "forbidden", "another patient's resource")
        return response

    def proxy(path: str) -> Response:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("accept", "content-type", "if-none-exist", "prefer")
        }
        if upstream_token:
            headers["Authorization"] = f"Bearer {upstream_token}"
        resp = requests.request(
            request.method,
            f"{upstream}/{path}",
            params=request.args.to_dict(flat=False),
            data=request.get_data() if request.method == "POST" else None,
            headers=headers,
            timeout=10,
            allow_redirects=False,
        )
        content = resp.content.replace(upstream.encode(), fhir_base.encode())  # next links, fullUrls
        out = Response(content, status=resp.status_code)
        for k, v in resp.headers.items():
            if k.lower() not in HOP_HEADERS:
                out.headers[k] = v.replace(upstream, fhir_base)
        return out

    def _outcome(status: int, code: str, text: str) -> Response:
        body = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        }
        return Response(json.dumps(body), status=status, mimetype="application/fhir+json")

    return app
