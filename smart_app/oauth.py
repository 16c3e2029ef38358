"""OAuth 2.0 for SMART App Launch 2.2 on Authlib's requests-level `OAuth2Session`.

- authorize request: app-launch.html#request-4 (R32-R45), PKCE S256 always (R13), an OIDC
  `nonce` derived from `state` when `openid` is requested (`nonce_for`);
- code exchange and refresh: #request-5, #request-7 (R62-R72, R105-R117);
- client authentication: public (`client_id` in the body), `client_secret_basic`
  (client-confidential-symmetric.html) or `private_key_jwt` (client-confidential-asymmetric.html),
  checked against the methods and algorithms the server advertises before the authorize redirect;
- `id_token`: scopes-and-launch-context.html#steps-for-using-an-id-token (R201, R218), with
  the `nonce` required whenever we sent one.

Token values never appear in exceptions or logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import jwt
import requests
from authlib.common.urls import add_params_to_qs, add_params_to_uri
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.auth import ClientAuth

from fhir_access import FHIR_ID
from smart_app.discovery import SmartConfiguration
from smart_app.errors import SmartError
from smart_app.keys import ClientKeys
from smart_app.registry import RegisteredClient, normalise_iss

logger = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# How each confidential client type authenticates, in the names of `token_endpoint_auth_methods_supported`.
AUTH_METHODS = {"confidential-symmetric": "client_secret_basic", "confidential-asymmetric": "private_key_jwt"}
CLIENT_TYPES = (
    "public, confidential-symmetric for client_secret_basic, or confidential-asymmetric for private_key_jwt"
)
ID_TOKEN_ALGORITHMS = ["RS256"]  # servers must support RS256 (SC#scopes-for-requesting-identity-data)
MAX_EXPIRES_IN_S = 366 * 24 * 3600


def new_state() -> str:
    """256 bits from the OS CSPRNG (the spec asks for at least 122)."""
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    """86 characters from the unreserved set (RFC 7636 allows 43-128)."""
    return secrets.token_urlsafe(64)


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
        .rstrip(b"=")
        .decode("ascii")
    )


def nonce_for(secret: bytes, state: str) -> str:
    """The OIDC `nonce` of one authorization: HMAC-SHA256(secret, state), base64url.

    Derived rather than stored (the launch state has no field for it): only the
    holder of the app's secret key can compute it, and it differs for every
    `state` (so for every authorization), which is what a nonce must do.
    """
    mac = hmac.new(secret, b"nonce:" + state.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def authorization_params(
    client: RegisteredClient,
    *,
    aud: str,
    redirect_uri: str,
    scope: list[str],
    state: str,
    code_verifier: str,
    launch: str | None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Every parameter of the authorize request (AL#request-4, R32-R45); `aud` is the FHIR base (R41).

    `aud` is passed as the server spells it (see `RegisteredClient`): a server may compare it
    with its own base URL character for character. PKCE is always S256 (R13), whatever the
    server advertises. `nonce` is sent only when given (the caller gives one when `openid` is
    requested).
    """
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scope),
        "state": state,
        "aud": aud,
        "code_challenge": s256(code_verifier),
        "code_challenge_method": "S256",
    }
    if launch is not None:
        params["launch"] = launch
    if nonce is not None:
        params["nonce"] = nonce
    return params


def authorization_url(config: SmartConfiguration, params: dict[str, str]) -> str:
    """The GET form of the authorize request: the endpoint with `params` added to its query."""
    return str(add_params_to_uri(config.authorization_endpoint, list(params.items())))


def _token_session(
    config: SmartConfiguration, client: RegisteredClient, keys: ClientKeys | None
) -> OAuth2Session:
    if client.client_type == "public":
        return OAuth2Session(client.client_id, token_endpoint_auth_method="none")  # noqa: S106 - a method name
    if client.client_type == "confidential-symmetric":
        return OAuth2Session(
            client.client_id,
            client.client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106
        )
    if keys is None:
        raise SmartError.token_failed("no signing key is configured for private_key_jwt")

    def private_key_jwt(
        auth: ClientAuth, method: str, uri: str, headers: MutableMapping[str, str], body: str | None
    ) -> tuple[str, MutableMapping[str, str], str]:
        assertion = keys.client_assertion(client.client_id, uri, config.signing_algs)
        body = add_params_to_qs(
            body or "", [("client_assertion_type", ASSERTION_TYPE), ("client_assertion", assertion)]
        )
        return uri, headers, body

    session = OAuth2Session(client.client_id, token_endpoint_auth_method="smart_private_key_jwt")  # noqa: S106
    session.register_client_auth_method(("smart_private_key_jwt", private_key_jwt))
    return session


def check_client_authentication(
    config: SmartConfiguration, client: RegisteredClient, keys: ClientKeys | None
) -> None:
    """Stop the launch when the server's discovery says it will refuse our client authentication.

    Checked before the authorize redirect: otherwise the clinician signs in and only then
    does the token request fail. Only lists the server publishes count (both are optional),
    and public clients are not checked, since servers rarely list "none" even when they
    accept public clients.
    """
    method = AUTH_METHODS.get(client.client_type)
    if method is None:
        return
    methods = config.token_endpoint_auth_methods
    if methods and method not in methods:
        _refuse(
            client,
            ours=method,
            what="client authentication methods",
            theirs=methods,
            change="register the app with the EHR for one of the methods it accepts, and set client_type "
            f"for this server in the app's settings to match: {CLIENT_TYPES}.",
        )
    if method != "private_key_jwt" or keys is None:
        return
    try:
        keys.choose(config.signing_algs)
    except ValueError:
        _refuse(
            client,
            ours="private_key_jwt signed with " + " or ".join(sorted({k.alg for k in keys.keys})),
            what="signing algorithms",
            theirs=config.signing_algs,
            change="add a key for an algorithm the EHR accepts and this app supports (RS384 or ES384) to "
            "smart_private_jwks_file and register its public key with the EHR, or register the app for "
            "another method and set client_type for this server in the app's settings to match: "
            f"{CLIENT_TYPES}.",
        )


def _refuse(
    client: RegisteredClient, *, ours: str, what: str, theirs: tuple[str, ...], change: str
) -> NoReturn:
    shown = ", ".join(value[:60] for value in theirs[:10])  # the server's values, bounded for page and log
    logger.warning(
        "SMART launch stopped before sign-in: %s is configured for %s, but its discovery lists only "
        "these %s: %r",
        client.iss,
        ours,
        what,
        shown,
    )
    raise SmartError.client_auth_unsupported(client.iss, ours, f"{what}: {shown}", change)


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    refresh_token: str | None
    scope: str | None
    expires_in: int | None
    patient: str | None
    encounter: str | None
    need_patient_banner: bool
    smart_style_url: str | None
    id_token: str | None
    # `intent` is not read: the app has one view, and every intent, known or not, gets it
    # (SC#launch-intent, R193).

    @classmethod
    def parse(cls, data: dict[str, Any]) -> TokenResponse:
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise SmartError.token_failed("the response has no access_token")
        token_type = str(data.get("token_type", "")).lower()
        if token_type != "bearer":  # noqa: S105 - the token type name
            raise SmartError.token_failed("the token type is not Bearer")
        scope = data.get("scope")
        if scope is not None and not isinstance(scope, str):
            # Read as absent, it would mean "everything requested was granted" (RFC 6749 §5.1).
            raise SmartError.token_failed("the response is malformed: its scope is not a string")
        return cls(
            access_token=access,
            refresh_token=data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else None,
            scope=scope,
            expires_in=_seconds(data.get("expires_in")),
            patient=data.get("patient")
            if isinstance(data.get("patient"), str) and data.get("patient")
            else None,
            encounter=data.get("encounter") if isinstance(data.get("encounter"), str) else None,
            need_patient_banner=_banner_needed(data.get("need_patient_banner")),
            smart_style_url=data.get("smart_style_url")
            if isinstance(data.get("smart_style_url"), str)
            else None,
            id_token=data.get("id_token") if isinstance(data.get("id_token"), str) else None,
        )


def is_fhir_id(value: str) -> bool:
    """A valid FHIR R4 `id`: 1-64 letters, digits, '-' or '.'."""
    return FHIR_ID.fullmatch(value) is not None


def _seconds(value: object) -> int | None:
    """`expires_in` as whole seconds; None when absent or unusable (it is only RECOMMENDED).

    Some servers send a string or a float: both still schedule the early refresh.
    Capped, since no launch outlives a year and a larger value would overflow the date arithmetic.
    """
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
        return None
    return min(int(value), MAX_EXPIRES_IN_S)


def _banner_needed(value: object) -> bool:
    """Hide the banner only on an explicit false (SC: show it when true OR absent).

    Some EHRs send the string "false"; any other value, however odd, shows the
    banner, since wrongly hiding which patient is on screen is the worse mistake.
    """
    if isinstance(value, str):
        return value.strip().lower() != "false"
    return value is not False


def _describe(exc: Exception) -> str:
    error = getattr(exc, "error", None)
    if error:
        return f"the server answered {error!r}"
    return f"the request failed ({type(exc).__name__})"


@contextmanager
def _token_call(
    config: SmartConfiguration, client: RegisteredClient, keys: ClientKeys | None
) -> Iterator[OAuth2Session]:
    """A token-endpoint session, closed after; any failure but our own becomes `token_failed`.

    `_describe` and `from None` keep the library's exception, and any token text in it, out of
    our errors and logs.
    """
    session = _token_session(config, client, keys)
    try:
        yield session
    except SmartError:
        raise
    except Exception as exc:
        raise SmartError.token_failed(_describe(exc)) from None
    finally:
        session.close()


def exchange_code(
    config: SmartConfiguration,
    client: RegisteredClient,
    keys: ClientKeys | None,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    timeout_s: float,
) -> TokenResponse:
    """`grant_type=authorization_code` with the same redirect_uri and the PKCE verifier (R62-R72)."""
    with _token_call(config, client, keys) as session:
        token = session.fetch_token(
            config.token_endpoint,
            grant_type="authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
            timeout=timeout_s,
        )
    return TokenResponse.parse(dict(token))


def refresh(
    config: SmartConfiguration,
    client: RegisteredClient,
    keys: ClientKeys | None,
    *,
    refresh_token: str,
    timeout_s: float,
) -> TokenResponse:
    """`grant_type=refresh_token`, same client authentication, no `scope` (so never wider) (R105-R108)."""
    with _token_call(config, client, keys) as session:
        token = session.refresh_token(config.token_endpoint, refresh_token=refresh_token, timeout=timeout_s)
    # Authlib keeps the old refresh token when the response has none; a rotated one replaces it (R117).
    return TokenResponse.parse(dict(token))


def validate_id_token(
    id_token: str,
    config: SmartConfiguration,
    client: RegisteredClient,
    *,
    timeout_s: float,
    nonce: str | None = None,
) -> dict[str, Any]:
    """Verify signature (RS256, keys from the server's `jwks_uri`), `iss`, `aud`, `exp`, `iat`, `nonce`.

    When the header has no `kid` (smart-launcher-v2 does this), every RSA key in
    the set is tried. When we sent a `nonce`, the token must carry it (OIDC Core
    3.1.3.7, R218): a token without one could be replayed from another sign-in.
    """
    if not config.jwks_uri:
        raise SmartError.id_token_invalid("the server publishes no jwks_uri")
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.PyJWTError:
        raise SmartError.id_token_invalid("it is not a JWT") from None
    if header.get("alg") not in ID_TOKEN_ALGORITHMS:
        raise SmartError.id_token_invalid(f"algorithm {header.get('alg')!r} is not accepted")
    try:
        resp = requests.get(config.jwks_uri, headers={"Accept": "application/json"}, timeout=timeout_s)
        resp.raise_for_status()
        jwks = jwt.PyJWKSet.from_dict(resp.json())
    except (requests.RequestException, ValueError, jwt.PyJWTError):
        raise SmartError.id_token_invalid("the server's signing keys could not be read") from None
    candidates = [k for k in jwks.keys if k.key_type == "RSA" and (k.public_key_use in (None, "sig"))]
    kid = header.get("kid")
    if kid:
        candidates = [k for k in candidates if k.key_id == kid]
    if not candidates:
        raise SmartError.id_token_invalid("no matching signing key")
    last_error = "bad signature"
    for key in candidates:
        try:
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=ID_TOKEN_ALGORITHMS,
                audience=client.client_id,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
                leeway=30,
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            last_error = type(exc).__name__
            break
        expected = config.issuer or client.iss
        if normalise_iss(str(claims.get("iss", ""))) != normalise_iss(expected):
            raise SmartError.id_token_invalid("the issuer does not match")
        _check_nonce(claims, nonce)
        return dict(claims)
    raise SmartError.id_token_invalid(last_error)


def _check_nonce(claims: dict[str, Any], sent: str | None) -> None:
    """The id_token's `nonce` must be the one we sent; a token without one is refused when we sent one.

    With no nonce sent, a token carrying one is refused too: it was issued for another sign-in.
    """
    if "nonce" not in claims:
        if sent is not None:
            raise SmartError.id_token_invalid("it carries no nonce, but this sign-in sent one")
        return
    received = claims["nonce"]
    if (
        sent is None
        or not isinstance(received, str)
        or not hmac.compare_digest(received.encode("utf-8"), sent.encode("utf-8"))
    ):
        raise SmartError.id_token_invalid("the nonce does not match this sign-in")


def resolve_fhir_user(fhir_user: object, iss: str) -> str | None:
    """A `fhirUser` as a reference usable in resources: relative when under `iss` (R202).

    An absolute URL on another server is kept as is (a valid absolute reference)
    and is never read with our token.
    """
    if not isinstance(fhir_user, str) or not fhir_user:
        return None
    if "://" not in fhir_user:
        return fhir_user.lstrip("/")
    base = iss.rstrip("/") + "/"
    if fhir_user.startswith(base):
        return fhir_user[len(base) :]
    return fhir_user
