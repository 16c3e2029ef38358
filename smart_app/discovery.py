"""SMART discovery: `GET {iss}/.well-known/smart-configuration` (conformance.html#using-well-known).

No fallback to the deprecated CapabilityStatement `oauth-uris` extension.
Relative endpoint URLs are resolved against the FHIR base (R379). Documents are
cached per `iss` for `settings.smart_discovery_cache_s`. Outside dev mode the
FHIR base and the discovered endpoints must be https: every exchange of the
launch SHALL use TLS (app-launch.html#app-protection; R318), and the client
secret, assertion, code and tokens travel to them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin

import requests

from smart_app.errors import SmartError


@dataclass(frozen=True)
class SmartConfiguration:
    iss: str
    authorization_endpoint: str
    token_endpoint: str
    capabilities: tuple[str, ...] = ()
    code_challenge_methods: tuple[str, ...] = ()
    token_endpoint_auth_methods: tuple[str, ...] = ()
    signing_algs: tuple[str, ...] = ()
    issuer: str | None = None
    jwks_uri: str | None = None
    scopes_supported: tuple[str, ...] = field(default=())

    def has(self, capability: str) -> bool:
        return capability in self.capabilities


def _resolve(iss: str, url: object) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    resolved = urljoin(iss.rstrip("/") + "/", url)
    return resolved if resolved.startswith(("https://", "http://")) else None


def _strings(doc: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = doc.get(key) or ()
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def parse_configuration(iss: str, doc: object) -> SmartConfiguration:
    if not isinstance(doc, dict):
        raise SmartError.discovery(iss, "the SMART configuration is not a JSON object")
    auth = _resolve(iss, doc.get("authorization_endpoint"))
    token = _resolve(iss, doc.get("token_endpoint"))
    if not auth or not token:
        raise SmartError.discovery(iss, "authorization_endpoint or token_endpoint is missing")
    return SmartConfiguration(
        iss=iss,
        authorization_endpoint=auth,
        token_endpoint=token,
        capabilities=_strings(doc, "capabilities"),
        code_challenge_methods=_strings(doc, "code_challenge_methods_supported"),
        token_endpoint_auth_methods=_strings(doc, "token_endpoint_auth_methods_supported"),
        signing_algs=_strings(doc, "token_endpoint_auth_signing_alg_values_supported"),
        issuer=doc.get("issuer") if isinstance(doc.get("issuer"), str) else None,
        jwks_uri=_resolve(iss, doc.get("jwks_uri")),
        scopes_supported=_strings(doc, "scopes_supported"),
    )


def _check_https(config: SmartConfiguration) -> None:
    endpoints = {
        "authorization_endpoint": config.authorization_endpoint,
        "token_endpoint": config.token_endpoint,
        "jwks_uri": config.jwks_uri,
    }
    for name, url in endpoints.items():
        if url is not None and not url.startswith("https://"):
            raise SmartError.discovery(config.iss, f"{name} does not use https, which is required")


class DiscoveryCache:
    """Per-`iss` cache of parsed SMART configurations. `iss` must already be allow-listed."""

    def __init__(
        self,
        ttl_s: float,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        require_https: bool = False,
    ) -> None:
        self._ttl = ttl_s
        self._timeout = timeout_s
        self._require_https = require_https
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, SmartConfiguration]] = {}

    def get(self, iss: str) -> SmartConfiguration:
        now = self._clock()
        with self._lock:
            hit = self._entries.get(iss)
            if hit and now - hit[0] < self._ttl:
                return hit[1]
        if self._require_https and not iss.startswith("https://"):
            raise SmartError.discovery(iss, "the FHIR server does not use https, which is required")
        url = iss.rstrip("/") + "/.well-known/smart-configuration"
        try:
            resp = requests.get(url, headers={"Accept": "application/json"}, timeout=self._timeout)
        except requests.RequestException as exc:
            raise SmartError.discovery(
                iss, f"the server could not be reached ({type(exc).__name__})"
            ) from exc
        if resp.status_code != 200:
            raise SmartError.discovery(iss, f"the server answered HTTP {resp.status_code}")
        try:
            doc = resp.json()
        except ValueError as exc:
            raise SmartError.discovery(iss, "the SMART configuration is not JSON") from exc
        config = parse_configuration(iss, doc)
        if self._require_https:
            _check_https(config)
        with self._lock:
            self._entries[iss] = (now, config)
        return config

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
