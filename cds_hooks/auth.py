"""Client authentication: the CDS client's JWT (spec §Trusting CDS Clients; checklist F2-F7, F10).

- Issuers are allow-listed (`settings.cds_trusted_issuers`); each names where its
  keys are: `jwks_file`, or `jwks_url` (fetched with a timeout, cached, refetched
  on an unknown `kid` at most once per `cds_jwks_min_refetch_s`). A `jku` header
  is accepted only if the issuer lists it in `allowed_jku`, and is fetched only
  then (never an arbitrary URL).
- `alg` is one of `settings.cds_algorithms`, and never `none` or an HMAC alg.
- `kid` and `typ` (JWT) are required; `iss`, `aud`, `exp`, `iat`, `jti` too, `exp` and
  `iat` as JSON numbers (RFC 7519 NumericDate). The auth scheme is case-insensitive
  (`bearer` too, RFC 7235).
- `aud` must equal the URL called, built from `settings.public_base_url`
  (never from the Host header).
- `jti` is remembered in shared storage until `exp` (replay protection across replicas).
Failures raise `Unauthorized`; the reason goes to the log, never to the client.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
import requests

from aa_jak.settings import CdsTrustedIssuer, Settings
from cds_hooks.errors import Unauthorized
from cds_hooks.request import is_finite_number

log = logging.getLogger(__name__)
SUPPORTED_ALGORITHMS = frozenset({"ES384", "RS384"})  # spec §Trusting CDS Clients (F5)


@dataclass(frozen=True)
class Client:
    """An authenticated CDS client."""

    issuer: CdsTrustedIssuer
    jti: str


class JwksCache:
    """JWKS documents by URL, cached; an unknown `kid` triggers a rate-limited refetch."""

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self._settings = settings
        self._session = session or requests.Session()
        self._lock = threading.Lock()
        self._keys: dict[str, dict[str, jwt.PyJWK]] = {}
        self._fetched_at: dict[str, float] = {}
        self._files: dict[str, dict[str, jwt.PyJWK]] = {}

    def key_from_file(self, path: str, kid: str) -> jwt.PyJWK | None:
        if path not in self._files:
            with open(path, encoding="utf-8") as handle:
                self._files[path] = _parse_jwks(json.load(handle))
        return self._files[path].get(kid)

    def key_from_url(self, url: str, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        with self._lock:
            keys = self._keys.get(url)
            fetched_at = self._fetched_at.get(url, float("-inf"))
            fresh = now - fetched_at < self._settings.cds_jwks_cache_s
            if keys is not None and fresh and kid in keys:
                return keys[kid]
            may_refetch = now - fetched_at >= self._settings.cds_jwks_min_refetch_s
            if not may_refetch:
                return keys.get(kid) if keys else None
            self._fetched_at[url] = now  # even on failure: the rate limit holds
        try:
            response = self._session.get(
                url, timeout=self._settings.cds_jwks_timeout_s, headers={"Accept": "application/json"}
            )
            response.raise_for_status()
            parsed = _parse_jwks(response.json())
        except (requests.RequestException, ValueError, jwt.PyJWTError) as error:
            log.warning("cds_hooks: JWKS fetch failed (%s)", type(error).__name__)
            return keys.get(kid) if keys else None
        with self._lock:
            self._keys[url] = parsed
        return parsed.get(kid)


def _key_fits(key: jwt.PyJWK, alg: str) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    material = key.key
    if alg == "ES384":
        return isinstance(material, ec.EllipticCurvePublicKey) and material.curve.name == "secp384r1"
    if alg == "RS384":
        return isinstance(material, rsa.RSAPublicKey) and material.key_size >= 2048
    return False


def _parse_jwks(document: Any) -> dict[str, jwt.PyJWK]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS")
    keys: dict[str, jwt.PyJWK] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or "kid" not in jwk or jwk.get("kty") == "oct":
            continue  # symmetric keys are never trusted
        try:
            keys[str(jwk["kid"])] = jwt.PyJWK(jwk)
        except jwt.PyJWTError:
            continue
    return keys


class Authenticator:
    def __init__(self, settings: Settings, jwks: JwksCache, remember_jti: Any) -> None:
        self._settings = settings
        self._jwks = jwks
        self._remember_jti = remember_jti  # (iss, jti, expires_at, now) -> bool
        self._issuers = {i.iss: i for i in settings.cds_trusted_issuers}
        self._algorithms = [
            a for a in settings.cds_algorithms if a in SUPPORTED_ALGORITHMS and not a.upper().startswith("HS")
        ]

    def authenticate(self, authorization: str | None, audience: str, now: datetime | None = None) -> Client:
        now = now or datetime.now(UTC)
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("no bearer token")
        token = token.strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthorized("malformed JWT") from None
        if not all(is_finite_number(unverified.get(claim)) for claim in ("exp", "iat")):  # NumericDate
            # PyJWT takes "123" (int() of it) and fails on 1e400; the lifetime checks need numbers.
            raise Unauthorized("exp or iat missing or not a number")
        alg, kid, typ = header.get("alg"), header.get("kid"), header.get("typ")
        if alg not in self._algorithms:
            raise Unauthorized(f"algorithm {alg!r} not accepted")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("kid missing")
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise Unauthorized("typ missing or not JWT")
        iss = unverified.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise Unauthorized("issuer not trusted")
        key = self._key(issuer, kid, header.get("jku"))
        if key is None:
            raise Unauthorized("no key for kid")
        if not _key_fits(key, alg):
            raise Unauthorized("key type does not match alg")
        claims = self._verify(token, key, alg, issuer, audience, now)
        return Client(issuer=issuer, jti=claims["jti"])

    def _key(self, issuer: CdsTrustedIssuer, kid: str, jku: Any) -> jwt.PyJWK | None:
        if jku is not None and jku not in issuer.allowed_jku:
            raise Unauthorized("jku not allowed for issuer")
        if issuer.jwks_file is not None:
            return self._jwks.key_from_file(str(issuer.jwks_file), kid)
        url = issuer.jwks_url or (jku if isinstance(jku, str) else None)
        return self._jwks.key_from_url(url, kid) if url else None

    def _verify(
        self, token: str, key: jwt.PyJWK, alg: str, issuer: CdsTrustedIssuer, audience: str, now: datetime
    ) -> dict[str, Any]:
        leeway = self._settings.cds_jwt_leeway_s
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer.iss,
                leeway=leeway,
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "strict_aud": False},
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(f"JWT rejected ({type(error).__name__})") from None
        aud = claims["aud"]
        if aud != audience and not (isinstance(aud, list) and audience in aud):
            raise Unauthorized("aud mismatch")
        iat, exp = claims["iat"], claims["exp"]
        stamp = now.timestamp()
        if iat > stamp + leeway:
            raise Unauthorized("iat in the future")
        if exp - iat > self._settings.cds_jwt_max_lifetime_s:
            raise Unauthorized("token lifetime too long")
        if issuer.tenant is not None and claims.get("tenant") != issuer.tenant:
            raise Unauthorized("tenant mismatch")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise Unauthorized("jti missing")
        expires_at = datetime.fromtimestamp(exp + leeway, tz=UTC)
        if not self._remember_jti(issuer.iss, jti, expires_at, now):
            raise Unauthorized("jti replayed")
        return claims
